#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let _ = billing_detect::manifest::python::parse_pyproject("pyproject.toml", text);
    let _ = billing_detect::manifest::python::parse_pipfile("Pipfile", text);
});
