#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if billing_detect::callsites::typescript::worth_parsing(text) {
        let _ = billing_detect::callsites::typescript::analyze("route.ts", text);
        let _ = billing_detect::callsites::typescript::analyze("page.tsx", text);
    }
});
