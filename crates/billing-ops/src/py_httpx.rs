//! LLM client pins that stop working once the Python SDK is installed.
//!
//! `spaire-sdk` needs `httpx>=0.28.1`. httpx 0.28 removed the `proxies=` argument, and the
//! `openai` SDK before 1.55.3 and the `anthropic` SDK before 0.40.0 still pass it, so creating
//! their client raises `TypeError: Client.__init__() got an unexpected keyword argument
//! 'proxies'` (measured with each boundary version and httpx 0.28.1). pip's resolver cannot
//! see this (those SDKs declare no upper bound on httpx), so a project that pins such a version
//! and deploys with the SDK added stops serving its LLM routes. The plan says so, with the
//! pin's file and line, for as long as the pin stays.

use billing_changeset::ManualStep;
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
