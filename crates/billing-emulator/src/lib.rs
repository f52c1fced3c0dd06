//! A faithful local Spaire API (axum + SQLite) for offline setup, verify, tests and users' own CI.
