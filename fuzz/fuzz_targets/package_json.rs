#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = billing_detect::manifest::node::parse("package.json", text);
    let _ = billing_detect::manifest::php::parse_composer("composer.json", text);
});
