//! Plans and performs the remote setup (meters, metered prices, credit benefits, webhooks) idempotently, and verifies that usage is counted.
