#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = billing_detect::manifest::gomod::parse_go_mod("go.mod", text);
    let _ = billing_detect::manifest::gomod::parse_go_work(text);
    let _ = billing_detect::manifest::ruby::parse_gemfile("Gemfile", text);
    let _ = billing_detect::manifest::ruby::locked_version(text, "rails");
    let _ = billing_detect::text::major_of(text);
});
