//! The customer-id expression inserted at a call site, shared by the language resolvers.

use crate::outcome::ImportNeed;

/// Code that evaluates to the app's own user id (a string) at the call site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CustomerExpr {
    pub expr: String,
    /// The expression contains `await` (the user's async function).
    pub needs_await: bool,
    pub imports: Vec<ImportNeed>,
    /// Edits that make the id available (e.g. `customerId` added to the destructuring of the
    /// parsed body); applied together with the site's own edits.
    pub edits: Vec<crate::edit::Edit>,
}

impl CustomerExpr {
    pub fn plain(expr: String) -> Self {
        Self {
            expr,
            needs_await: false,
            imports: Vec::new(),
            edits: Vec::new(),
        }
    }
}

/// `x-customer-id` → `x_customer_id` (FastAPI's `Header()` parameter naming).
pub(crate) fn header_param_name(header: &str) -> String {
    header.to_ascii_lowercase().replace('-', "_")
}
