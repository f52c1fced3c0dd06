//! LLM client pins that stop working once the Python SDK is installed.
//!
//! `spaire-sdk` needs `httpx>=0.28.1`. httpx 0.28 removed the `proxies=` argument, and the
//! `openai` SDK before 1.55.3 and the `anthropic` SDK before 0.40.0 still pass it, so creating
//! their client raises `TypeError: Client.__init__() got an unexpected keyword argument
//! 'proxies'` (measured with each boundary version and httpx 0.28.1). pip's resolver cannot
//! see this (those SDKs declare no upper bound on httpx), so a project that pins such a version
//! and deploys with the SDK added stops serving its LLM routes. The plan says so, with the
//! pin's file and line, for as long as the pin stays.
//!
//! A lock file pins the same way when the manifest does not: isorry-host's Pipfile says
//! `openai = "*"` and its Pipfile.lock `==1.12.0`. The listed `pipenv install spaire-sdk` moves
//! only the SDK's tree (measured with pipenv 2026.10.3: httpx 0.27.0 -> 0.29.0, openai stays
//! 1.12.0), and `poetry add` / `uv add` keep the other locked versions the same way, so the
//! locked client crashes just as a pinned one ([`lock_steps`]).

use billing_changeset::ManualStep;
use billing_detect::PackageManager;
use billing_detect::profile::{Integration, IntegrationKind, Package};

use crate::py_version::{Version, upper_bound};

/// Per client: the first release built on httpx (older ones use `requests` and are not
/// affected) and the first that works with httpx 0.28.
const AFFECTED: &[(&str, &str, &str)] = &[
    ("openai", "1.0.0", "1.55.3"),
    ("anthropic", "0.3.0", "0.40.0"),
];

/// One step per LLM client whose declared requirement allows only versions that crash.
pub(crate) fn steps(package: &Package) -> Vec<ManualStep> {
    package
        .integrations
        .iter()
        .filter(|i| i.kind == IntegrationKind::LlmClient)
        .filter_map(step)
        .collect()
}

fn step(integration: &Integration) -> Option<ManualStep> {
    let name = billing_detect::manifest::python::normalize(&integration.package);
    let (_, first_on_httpx, fixed) = AFFECTED.iter().find(|(client, ..)| *client == name)?;
    let spec = integration.version.as_deref()?;
    let bound = upper_bound(spec)?;
    if !bound.all_below(&Version::parse(fixed)?)
        || bound.all_below(&Version::parse(first_on_httpx)?)
    {
        return None;
    }
    Some(ManualStep {
        file: integration.evidence.file.clone(),
        line: integration.evidence.line,
        instructions: format!(
            "`{name}{spec}` crashes once `spaire-sdk` is installed: the SDK needs httpx 0.28, \
             which removed the `proxies=` argument this `{name}` version passes, so creating \
             its client raises `TypeError: ... unexpected keyword argument 'proxies'` and every \
             LLM route fails. Raise the pin to `{name}>={fixed}` (the first release that works \
             with httpx 0.28) and reinstall"
        ),
        snippet: Some(format!("{name}>={fixed}")),
    })
}

/// One step per LLM client whose declared requirement allows a working release but whose lock
/// file (Pipfile.lock, poetry.lock, uv.lock of the package's manager) holds one that crashes:
/// adding the SDK keeps that locked version. `read` gives a project file's text.
pub(crate) fn lock_steps(
    package: &Package,
    dir: &str,
    read: impl Fn(&str) -> Option<String>,
) -> Vec<ManualStep> {
    let (lock, add) = match package.package_manager.as_ref().map(|m| m.id) {
        Some(PackageManager::Pipenv) => ("Pipfile.lock", "pipenv install"),
        Some(PackageManager::Poetry) => ("poetry.lock", "poetry add"),
        Some(PackageManager::Uv) => ("uv.lock", "uv add"),
        _ => return Vec::new(),
    };
    let file = if dir.is_empty() || dir == "." {
        lock.to_owned()
    } else {
        format!("{}/{lock}", dir.trim_end_matches('/'))
    };
    let Some(text) = read(&file) else {
        return Vec::new();
    };
    let sdk = billing_vocab::PYTHON_SDK.name;
    let mut steps = Vec::new();
    for integration in package
        .integrations
        .iter()
        .filter(|i| i.kind == IntegrationKind::LlmClient)
    {
        if step(integration).is_some() {
            continue; // the manifest's own pin already has its step
        }
        let name = billing_detect::manifest::python::normalize(&integration.package);
        let Some((_, first_on_httpx, fixed)) = AFFECTED.iter().find(|(client, ..)| *client == name)
        else {
            continue;
        };
        let Some((line, locked)) = locked_version(&text, &name, lock == "Pipfile.lock") else {
            continue;
        };
        let (Some(have), Some(first), Some(good)) = (
            Version::parse(&locked),
            Version::parse(first_on_httpx),
            Version::parse(fixed),
        ) else {
            continue;
        };
        if !have.below(&good) || have.below(&first) {
            continue;
        }
        steps.push(ManualStep {
            file: file.clone(),
            line: Some(line),
            instructions: format!(
                "{lock} locks `{name}` {locked}, which crashes once `{sdk}` is installed: \
                 `{add} {sdk}` keeps that locked version and moves httpx to 0.28 (the SDK needs \
                 it), which removed the `proxies=` argument this `{name}` version passes, so \
                 creating its client raises `TypeError: ... unexpected keyword argument \
                 'proxies'` and every LLM route fails. Install both together: `{add} {sdk} \
                 \"{name}>={fixed}\"` ({fixed} is the first release that works with httpx 0.28)"
            ),
            snippet: Some(format!("{add} {sdk} \"{name}>={fixed}\"")),
        });
    }
    steps
}

/// The 1-based line naming `name` in a lock file and the version locked there: Pipfile.lock's
/// `"name": {` entry of its `default` section and the `"version": "==X"` after it, or a TOML
/// lock's `[[package]]` `name = "name"` and the `version = "X"` after it.
fn locked_version(text: &str, name: &str, pipfile: bool) -> Option<(u32, String)> {
    let lines: Vec<&str> = text.lines().collect();
    let start = if pipfile {
        // Only the app's own packages (`default`), not `develop`.
        let default = lines
            .iter()
            .position(|l| l.trim_start().starts_with("\"default\""))?;
        let entry = format!("\"{name}\": {{");
        default
            + lines[default..]
                .iter()
                .position(|l| {
                    let l = l.trim_start();
                    l.starts_with(&entry) || l.starts_with("\"develop\"")
                })
                .filter(|&i| lines[default + i].trim_start().starts_with(&entry))?
    } else {
        let entry = format!("name = \"{name}\"");
        lines.iter().position(|l| l.trim() == entry)?
    };
    let version = lines[start + 1..]
        .iter()
        .take_while(|l| !l.trim_start().starts_with(if pipfile { "}" } else { "[[" }))
        .find_map(|l| {
            let l = l.trim().trim_end_matches(',');
            let value = if pipfile {
                l.strip_prefix("\"version\": \"==")?
            } else {
                l.strip_prefix("version = \"")?
            };
            Some(value.trim_end_matches('"').to_owned())
        })?;
    Some((u32::try_from(start + 1).ok()?, version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use billing_detect::profile::Evidence;

    fn client(package: &str, version: &str) -> Integration {
        Integration {
            package: package.to_owned(),
            kind: IntegrationKind::LlmClient,
            version: Some(version.to_owned()),
            major: None,
            evidence: Evidence {
                file: "backend/requirements.txt".to_owned(),
                line: Some(10),
                text: format!("{package}{version}"),
            },
        }
    }

    #[test]
    fn pins_below_the_fixed_release_get_a_step_with_the_pin_line() {
        for spec in [
            "==1.42.0",
            "==1.55.2",
            "<1.55.3",
            "<=1.50",
            "~=1.42.0",
            "==1.42.*",
            ">=1.0,<1.50",
        ] {
            let step = step(&client("openai", spec)).unwrap_or_else(|| panic!("{spec}"));
            assert_eq!(step.file, "backend/requirements.txt");
            assert_eq!(step.line, Some(10));
            assert!(step.instructions.contains("openai>=1.55.3"), "{spec}");
        }
        assert!(step(&client("anthropic", "==0.39.0")).is_some());
    }

    #[test]
    fn locked_versions_are_read_from_pipfile_and_toml_locks() {
        let pipfile = "{\n    \"default\": {\n        \"openai\": {\n            \"hashes\": [\n                \"sha256:ab\"\n            ],\n            \"version\": \"==1.12.0\"\n        }\n    },\n    \"develop\": {\n        \"anthropic\": {\n            \"version\": \"==0.30.0\"\n        }\n    }\n}\n";
        assert_eq!(
            locked_version(pipfile, "openai", true),
            Some((3, "1.12.0".to_owned()))
        );
        // a dev-only package is not the app's
        assert_eq!(locked_version(pipfile, "anthropic", true), None);
        let poetry = "[[package]]\nname = \"httpx\"\nversion = \"0.26.0\"\n\n[[package]]\nname = \"openai\"\nversion = \"1.40.0\"\ndescription = \"x\"\n";
        assert_eq!(
            locked_version(poetry, "openai", false),
            Some((6, "1.40.0".to_owned()))
        );
        assert_eq!(locked_version(poetry, "anthropic", false), None);
    }

    #[test]
    fn pins_that_allow_a_working_release_get_none() {
        for spec in [
            "==1.55.3",
            ">=1.3",
            "~=1.42",
            "",
            "<2",
            "==1.60.0",
            ">=1.0,<1.56",
        ] {
            assert!(step(&client("openai", spec)).is_none(), "{spec}");
        }
        assert!(step(&client("anthropic", "==0.40.0")).is_none());
        // openai 0.x uses `requests`, not httpx.
        assert!(step(&client("openai", "==0.28.1")).is_none());
    }
}
