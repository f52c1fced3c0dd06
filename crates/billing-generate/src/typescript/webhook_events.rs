//! Webhook event types that `validateEvent` from `@spaire/sdk/webhooks` (0.45.1) returns as a
//! typed payload. A `case` for any other type would not compile (TS2678), so events outside
//! this list are answered with 202 by the generated default branch instead.

const TYPED: &[&str] = &[
    "benefit.created",
    "benefit.updated",
    "benefit_grant.created",
    "benefit_grant.cycled",
    "benefit_grant.revoked",
    "benefit_grant.updated",
    "checkout.created",
    "checkout.updated",
    "customer.created",
    "customer.deleted",
    "customer.state_changed",
    "customer.updated",
    "customer_seat.assigned",
    "customer_seat.claimed",
    "customer_seat.revoked",
    "order.created",
    "order.paid",
    "order.refunded",
    "order.updated",
    "organization.updated",
    "product.created",
    "product.updated",
    "refund.created",
    "refund.updated",
    "subscription.active",
    "subscription.canceled",
    "subscription.created",
    "subscription.revoked",
    "subscription.uncanceled",
    "subscription.updated",
];

pub fn is_typed(event: &str) -> bool {
    TYPED.contains(&event)
}
