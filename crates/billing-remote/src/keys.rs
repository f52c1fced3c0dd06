//! Step keys: stable across runs so the preview hash, the lock file and the journal agree.

pub fn meter(name: &str) -> String {
    format!("meter:{name}")
}

pub fn price(product: &str, meter: &str) -> String {
    format!("price:{product}:{meter}")
}

pub fn credit(product: &str, meter: &str) -> String {
    format!("credit:{product}:{meter}")
}

pub fn product_benefits(product: &str) -> String {
    format!("product-benefits:{product}")
}

pub fn webhook(url: &str) -> String {
    format!("webhook:{url}")
}

/// `RemoteStep::object` values.
pub mod object {
    pub const METER: &str = "meter";
    pub const METERED_PRICE: &str = "metered-price";
    pub const CREDIT_BENEFIT: &str = "meter-credit-benefit";
    pub const PRODUCT_BENEFITS: &str = "product-benefits";
    pub const WEBHOOK: &str = "webhook-endpoint";
}
