#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = billing_detect::manifest::json::parse(text, billing_detect::manifest::json::Dialect::Jsonc);
    let _ = billing_detect::manifest::json::parse(text, billing_detect::manifest::json::Dialect::Json);
});
