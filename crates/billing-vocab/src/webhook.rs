//! Webhook event types: the one list of what Spaire sends, what each SDK can parse, and the
//! subscription the generated handler starts with.
//!
//! Source: `WebhookEventType` in the Spaire OpenAPI document and §7 of the API reference
//! (35 types). The SDK columns are what `validate_event` (spaire-sdk 0.28.4) and
//! `validateEvent` (`@spaire/sdk` 0.45.1) return as a typed payload; any other type raises a
//! validation error in the SDK, which the generated handlers answer with 202.

/// The path the generated webhook route listens on, in every language.
pub const WEBHOOK_PATH: &str = "/api/webhooks/spaire";

/// One event type Spaire sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebhookEventType {
    /// Wire type, e.g. `order.paid`.
    pub name: &'static str,
    /// The Python SDK parses it into a typed payload class.
    pub python_sdk: bool,
    /// The TypeScript SDK parses it into a typed payload (a `case` for any other type does
    /// not compile, TS2678).
    pub typescript_sdk: bool,
    /// One line for the generated handler's comment.
    pub doc: &'static str,
}

const fn both(name: &'static str) -> WebhookEventType {
    WebhookEventType {
        name,
        python_sdk: true,
        typescript_sdk: true,
        doc: "handle it here.",
    }
}

const fn doc(name: &'static str, doc: &'static str) -> WebhookEventType {
    WebhookEventType {
        name,
        python_sdk: true,
        typescript_sdk: true,
        doc,
    }
}

/// Known to the API but to neither SDK's typed union.
const fn api_only(name: &'static str) -> WebhookEventType {
    WebhookEventType {
        name,
        python_sdk: false,
        typescript_sdk: false,
        doc: "handle it here.",
    }
}

/// Every type in `WebhookEventType`, in the API reference's order.
pub const WEBHOOK_EVENT_TYPES: &[WebhookEventType] = &[
    both("checkout.created"),
    both("checkout.updated"),
    api_only("checkout.expired"),
    both("customer.created"),
    both("customer.updated"),
    both("customer.deleted"),
    doc(
        "customer.state_changed",
        "the customer's subscriptions, benefits or meter balances changed.",
    ),
    both("customer_seat.assigned"),
    both("customer_seat.claimed"),
    both("customer_seat.revoked"),
    api_only("member.created"),
    api_only("member.updated"),
    api_only("member.deleted"),
    both("order.created"),
    both("order.updated"),
    doc(
        "order.paid",
        "an order was paid; grant access or provision what was bought here.",
    ),
    both("order.refunded"),
    both("subscription.created"),
    both("subscription.updated"),
    doc(
        "subscription.active",
        "a subscription became active; enable the plan's features.",
    ),
    doc(
        "subscription.canceled",
        "a subscription was canceled (it may run until the period ends).",
    ),
    both("subscription.uncanceled"),
    doc(
        "subscription.revoked",
        "a subscription ended; remove the plan's features.",
    ),
    WebhookEventType {
        name: "subscription.past_due",
        python_sdk: true,
        typescript_sdk: false,
        doc: "a renewal payment failed; the subscription is past due.",
    },
    both("refund.created"),
    both("refund.updated"),
    both("product.created"),
    both("product.updated"),
    both("benefit.created"),
    both("benefit.updated"),
    both("benefit_grant.created"),
    both("benefit_grant.updated"),
    both("benefit_grant.cycled"),
    both("benefit_grant.revoked"),
    both("organization.updated"),
];

/// The index of each default event in [`WEBHOOK_EVENT_TYPES`]: the types the generated
/// handler has cases for when `[webhooks]` gives no `events` list.
const DEFAULT_INDEXES: [usize; 4] = [15, 19, 20, 6];

/// Event types the generated handler has cases for when `[webhooks]` gives no `events` list.
pub const DEFAULT_WEBHOOK_EVENTS: [&str; 4] = [
    WEBHOOK_EVENT_TYPES[DEFAULT_INDEXES[0]].name,
    WEBHOOK_EVENT_TYPES[DEFAULT_INDEXES[1]].name,
    WEBHOOK_EVENT_TYPES[DEFAULT_INDEXES[2]].name,
    WEBHOOK_EVENT_TYPES[DEFAULT_INDEXES[3]].name,
];

/// Every type's wire name, in the same order (for code that compares plain strings, such
/// as the emulator's request validation).
pub const WEBHOOK_EVENT_NAMES: &[&str] = &{
    let mut names = [""; WEBHOOK_EVENT_TYPES.len()];
    let mut i = 0;
    while i < names.len() {
        names[i] = WEBHOOK_EVENT_TYPES[i].name;
        i += 1;
    }
    names
};

impl WebhookEventType {
    /// The resource the payload's `data` is (`order` for every `order.*` type), except the
    /// customer-state type, whose `data` is a customer state (see [`Self::is_customer_state`]).
    pub fn resource(&self) -> &'static str {
        self.name.split('.').next().unwrap_or(self.name)
    }

    /// `data` is a `CustomerState` (subscriptions, benefits and meter balances).
    pub fn is_customer_state(&self) -> bool {
        self.name.ends_with(".state_changed")
    }
}

/// The event type spelled `name`.
pub fn event_type(name: &str) -> Option<&'static WebhookEventType> {
    WEBHOOK_EVENT_TYPES.iter().find(|e| e.name == name)
}

/// Every type's wire name, for "expected one of" messages and schema enums.
pub fn event_type_names() -> impl Iterator<Item = &'static str> {
    WEBHOOK_EVENT_TYPES.iter().map(|e| e.name)
}

/// A typed handle for each type the emulator emits, so no crate writes the string again.
pub mod types {
    use super::WEBHOOK_EVENT_TYPES as T;

    pub const CUSTOMER_CREATED: &str = T[3].name;
    pub const CUSTOMER_UPDATED: &str = T[4].name;
    pub const CUSTOMER_DELETED: &str = T[5].name;
    pub const CUSTOMER_STATE_CHANGED: &str = T[6].name;
    pub const ORDER_CREATED: &str = T[13].name;
    pub const ORDER_UPDATED: &str = T[14].name;
    pub const ORDER_PAID: &str = T[15].name;
    pub const ORDER_REFUNDED: &str = T[16].name;
    pub const SUBSCRIPTION_CREATED: &str = T[17].name;
    pub const SUBSCRIPTION_UPDATED: &str = T[18].name;
    pub const SUBSCRIPTION_ACTIVE: &str = T[19].name;
    pub const SUBSCRIPTION_CANCELED: &str = T[20].name;
    pub const SUBSCRIPTION_UNCANCELED: &str = T[21].name;
    pub const SUBSCRIPTION_REVOKED: &str = T[22].name;
    pub const SUBSCRIPTION_PAST_DUE: &str = T[23].name;
    pub const REFUND_CREATED: &str = T[24].name;
    pub const PRODUCT_CREATED: &str = T[26].name;
    pub const PRODUCT_UPDATED: &str = T[27].name;
    pub const BENEFIT_CREATED: &str = T[28].name;
    pub const BENEFIT_UPDATED: &str = T[29].name;
    pub const BENEFIT_GRANT_CREATED: &str = T[30].name;
    pub const BENEFIT_GRANT_UPDATED: &str = T[31].name;
    pub const BENEFIT_GRANT_CYCLED: &str = T[32].name;
    pub const BENEFIT_GRANT_REVOKED: &str = T[33].name;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_the_api_references_35_types_without_duplicates() {
        assert_eq!(WEBHOOK_EVENT_TYPES.len(), 35);
        for e in WEBHOOK_EVENT_TYPES {
            assert_eq!(
                WEBHOOK_EVENT_TYPES
                    .iter()
                    .filter(|x| x.name == e.name)
                    .count(),
                1,
                "{}",
                e.name
            );
            // The TypeScript SDK's typed union is a subset of the Python SDK's.
            assert!(!e.typescript_sdk || e.python_sdk, "{}", e.name);
        }
        assert_eq!(
            WEBHOOK_EVENT_TYPES.iter().filter(|e| e.python_sdk).count(),
            31
        );
        assert_eq!(
            WEBHOOK_EVENT_TYPES
                .iter()
                .filter(|e| e.typescript_sdk)
                .count(),
            30
        );
    }

    #[test]
    fn named_handles_point_at_the_types_their_names_say() {
        use types::*;
        let pairs = [
            (CUSTOMER_CREATED, "CUSTOMER_CREATED"),
            (CUSTOMER_UPDATED, "CUSTOMER_UPDATED"),
            (CUSTOMER_DELETED, "CUSTOMER_DELETED"),
            (CUSTOMER_STATE_CHANGED, "CUSTOMER_STATE_CHANGED"),
            (ORDER_CREATED, "ORDER_CREATED"),
            (ORDER_UPDATED, "ORDER_UPDATED"),
            (ORDER_PAID, "ORDER_PAID"),
            (ORDER_REFUNDED, "ORDER_REFUNDED"),
            (SUBSCRIPTION_CREATED, "SUBSCRIPTION_CREATED"),
            (SUBSCRIPTION_UPDATED, "SUBSCRIPTION_UPDATED"),
            (SUBSCRIPTION_ACTIVE, "SUBSCRIPTION_ACTIVE"),
            (SUBSCRIPTION_CANCELED, "SUBSCRIPTION_CANCELED"),
            (SUBSCRIPTION_UNCANCELED, "SUBSCRIPTION_UNCANCELED"),
            (SUBSCRIPTION_REVOKED, "SUBSCRIPTION_REVOKED"),
            (SUBSCRIPTION_PAST_DUE, "SUBSCRIPTION_PAST_DUE"),
            (REFUND_CREATED, "REFUND_CREATED"),
            (PRODUCT_CREATED, "PRODUCT_CREATED"),
            (PRODUCT_UPDATED, "PRODUCT_UPDATED"),
            (BENEFIT_CREATED, "BENEFIT_CREATED"),
            (BENEFIT_UPDATED, "BENEFIT_UPDATED"),
            (BENEFIT_GRANT_CREATED, "BENEFIT_GRANT_CREATED"),
            (BENEFIT_GRANT_UPDATED, "BENEFIT_GRANT_UPDATED"),
            (BENEFIT_GRANT_CYCLED, "BENEFIT_GRANT_CYCLED"),
            (BENEFIT_GRANT_REVOKED, "BENEFIT_GRANT_REVOKED"),
        ];
        for (value, name) in pairs {
            assert_eq!(value.replace('.', "_").to_ascii_uppercase(), name);
        }
        assert_eq!(
            DEFAULT_WEBHOOK_EVENTS,
            [
                ORDER_PAID,
                SUBSCRIPTION_ACTIVE,
                SUBSCRIPTION_CANCELED,
                CUSTOMER_STATE_CHANGED
            ]
        );
        assert!(event_type("member.created").is_some());
        assert!(event_type("member.joined").is_none());
    }
}
