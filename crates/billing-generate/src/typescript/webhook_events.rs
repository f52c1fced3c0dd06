//! Webhook event types that `validateEvent` from `@spaire/sdk/webhooks` (0.45.1) returns as a
//! typed payload. A `case` for any other type would not compile (TS2678), so events outside
//! this list are answered with 202 by the generated default branch instead. The list is the
//! `typescript_sdk` column of `billing_vocab::WEBHOOK_EVENT_TYPES`.

pub fn is_typed(event: &str) -> bool {
    billing_vocab::webhook::event_type(event).is_some_and(|e| e.typescript_sdk)
}
