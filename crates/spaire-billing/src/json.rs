//! `--json` output: every command's JSON object starts with `schema_version`, so scripts can
//! tell which shape they read (docs/json.md). `detect` keeps the project profile's own
//! version (`billing_detect::SCHEMA_VERSION`); every other command uses [`SCHEMA_VERSION`].

use anyhow::Context as _;
use serde::Serialize;

/// Version of the JSON shapes of `plan`, `apply`, `undo`, `verify`, `status` and `setup`.
/// Raise it when a field is removed, renamed or changes meaning (adding one does not).
pub const SCHEMA_VERSION: u32 = 1;

#[derive(Serialize)]
struct Versioned<'a, T: Serialize> {
    schema_version: u32,
    #[serde(flatten)]
    body: &'a T,
}

/// `body` (a struct or map) as pretty JSON with `schema_version` as its first key.
pub fn versioned<T: Serialize>(body: &T) -> anyhow::Result<String> {
    serde_json::to_string_pretty(&Versioned {
        schema_version: SCHEMA_VERSION,
        body,
    })
    .context("failed to serialise the JSON output")
}

#[cfg(test)]
mod tests {
    #[derive(serde::Serialize)]
    struct Report {
        passed: bool,
    }

    #[test]
    fn schema_version_comes_first() {
        let json = super::versioned(&Report { passed: true }).unwrap();
        assert_eq!(json, "{\n  \"schema_version\": 1,\n  \"passed\": true\n}");
    }
}
