#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let (Some(ws), _) = billing_detect::manifest::yaml::parse_pnpm_workspace("pnpm-workspace.yaml", text) {
        let _ = ws.resolve("ai", "catalog:");
    }
});
