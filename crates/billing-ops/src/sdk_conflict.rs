//! When `spaire-sdk` cannot be added to a `requirements.txt` because of the file's pins, the
//! generated Python code does without it instead of moving a pin.
//!
//! The SDK needs `httpx>=0.28.1`, `httpcore>=1.0.9` and `pydantic>=2.11.2`; 4 of the 18 real
//! Python projects measured pin older ones (openai-quickstart-python `httpx==0.26.0`,
//! iqsheets `httpx==0.25.1`, djangox and flask-microblog a `typing_extensions` pydantic 2.11
//! cannot take). Raising those is the user's call, not ours, and the SDK is needed for two
//! things only: reading balances (one GET the standard library does as well as the recorder's
//! POST) and verifying webhooks (`standardwebhooks`, the verifier the SDK itself calls, which
//! depends on nothing). So [`check`] asks pip first, and a conflict makes the generators write
//! that variant ([`billing_generate::Target::without_sdk`]); the plan says so and names each
//! pin to raise for the SDK's typed models, by file:line.
use std::path::Path;

use billing_apply::Project;
use billing_changeset::ChangeSet;
use billing_detect::profile::CallSiteKind;
use billing_detect::{Language, Package, PackageManager};

use crate::pip_requirement::{Resolution, normalized, resolve};
use crate::produce::{ProduceContext, hinted_apply, join, requirements_dir};
use crate::py_httpx::Version;

/// What `spaire-sdk` 0.28.4 requires (its `Requires-Dist`, docs/sdk-ground-truth): a file pin
/// below one of these cannot install beside it. pip stops at the first conflict it meets, so
/// these are checked too, to name every pin in one go.
const SDK_REQUIRES: &[(&str, &str)] = &[
    ("httpcore", "1.0.9"),
    ("httpx", "0.28.1"),
    ("jsonpath-python", "1.0.6"),
    ("pydantic", "2.11.2"),
];
const SDK_VERSION: &str = "0.28.4";
/// pip repeats its cause for every candidate version it tried; this many lines say it.
const PIP_LINES: usize = 8;

/// A requirement line's name and its exact pin (`name==1.2.3` / `name===1.2.3`).
fn exact_pin(line: &str) -> Option<(String, String)> {
    let line = line.split('#').next().unwrap_or("").trim();
    if line.is_empty() || line.starts_with('-') {
        return None;
    }
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
        .unwrap_or(line.len());
    let (name, rest) = line.split_at(name_end);
    let rest = rest.trim_start();
    // `name[extra]==x`
    let rest = match rest.strip_prefix('[') {
        Some(r) => r
            .split_once(']')
            .map_or("", |(_, after)| after.trim_start()),
        None => rest,
    };
    let version = rest
        .strip_prefix("===")
        .or_else(|| rest.strip_prefix("=="))?;
    let version = version.split([',', ';', ' ']).next().unwrap_or("").trim();
    (!name.is_empty() && !version.is_empty() && !version.ends_with('*'))
        .then(|| (name.to_owned(), version.to_owned()))
}

/// `spaire-sdk 0.28.4 depends on httpcore>=1.0.9` → (`httpcore`, `1.0.9`).
fn sdk_needs_from_pip(lines: &[String], sdk: &str) -> Vec<(String, String)> {
    lines
        .iter()
        .filter_map(|l| {
            let (who, need) = l.split_once(" depends on ")?;
            let who = who.split_whitespace().next()?;
            (normalized(who) == normalized(sdk)).then_some(())?;
            let (name, version) = need.split_once(">=")?;
            let version = version.split([',', ';', ' ']).next()?.trim();
            Some((normalized(name), version.to_owned()))
        })
        .collect()
}

/// A pin pip names ("The user requested typing_extensions==4.9.0") that a package of the
/// SDK's tree needs higher ("pydantic 2.11.2 depends on typing-extensions>=4.12.2"): (name,
/// `who version`, its minimum), one per line pip printed.
fn transitive_needs(lines: &[String]) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    for line in lines {
        let Some((who, need)) = line.split_once(" depends on ") else {
            continue;
        };
        let Some((name, min)) = need.split_once(">=") else {
            continue;
        };
        let min = min.split([',', ';', ' ']).next().unwrap_or("").trim();
        if Version::parse(min).is_some() {
            out.push((normalized(name), who.trim().to_owned(), min.to_owned()));
        }
    }
    out
}

/// `spaire-sdk` does not install beside the pins of the package's `requirements.txt`.
#[derive(Debug, Clone)]
pub struct SdkBlocked {
    /// The requirements file, relative to the project root.
    pub file: String,
    /// One line per pin to raise for the SDK: `file:line \`pin\`: why`.
    pub pins: Vec<String>,
    /// pip's own explanation (the conflict lines).
    pub pip: Vec<String>,
}

/// Whether the package's pip `requirements.txt` blocks the SDK: only asked when the SDK would
/// be written there (a pip package with that file, the SDK neither installed nor listed), and
/// answered by pip's resolver through its cache ([`crate::pip_cache`]).
pub(crate) fn check(
    root: &Path,
    project: &Project,
    package: &Package,
) -> anyhow::Result<Option<SdkBlocked>> {
    let sdk = billing_vocab::PYTHON_SDK;
    let pip = matches!(
        package.package_manager.as_ref().map(|m| m.id),
        None | Some(PackageManager::Pip)
    );
    if package.language != Language::Python
        || billing_generate::imports::is_installed(package, &sdk)
    {
        return Ok(None);
    }
    if !pip {
        return manifest_blocks(project, package);
    }
    let dir = requirements_dir(package);
    let file = join(&dir, "requirements.txt");
    let Some(current) = project.read_text(&file).map_err(hinted_apply)? else {
        return Ok(None);
    };
    if crate::pip_requirement::lists(&current, sdk.name) {
        return Ok(None);
    }
    let Resolution::Conflict(lines) = resolve(root, &root.join(&dir), "requirements.txt", sdk.name)
    else {
        return Ok(None);
    };
    let steps = crate::py_httpx::steps(package);
    Ok(Some(SdkBlocked {
        pins: pins_to_raise(&file, &current, sdk.name, &lines, &steps),
        file,
        pip: lines,
    }))
}

/// A poetry, uv or pipenv package whose manifest (pyproject.toml, Pipfile) constrains a
/// package the SDK needs below the SDK's minimum: thenewboston-backend's `pydantic =
/// "^1.10.9"` against the SDK's `pydantic>=2.11.2`. The listed `poetry add spaire-sdk` cannot
/// resolve there, and code importing the SDK would then stop the app at its first request
/// (`ModuleNotFoundError`), so the code does without it, as for a blocking requirements.txt.
/// Read from the manifest's own constraints (no resolver of these managers is run).
fn manifest_blocks(project: &Project, package: &Package) -> anyhow::Result<Option<SdkBlocked>> {
    let name = match package.package_manager.as_ref().map(|m| m.id) {
        Some(PackageManager::Poetry | PackageManager::Uv) => "pyproject.toml",
        Some(PackageManager::Pipenv) => "Pipfile",
        _ => return Ok(None),
    };
    let file = join(&requirements_dir(package), name);
    let Some(text) = project.read_text(&file).map_err(hinted_apply)? else {
        return Ok(None);
    };
    let deps = if name == "Pipfile" {
        billing_detect::manifest::python::parse_pipfile(&file, &text).0
    } else {
        billing_detect::manifest::python::parse_pyproject(&file, &text)
            .0
            .map(|p| p.dependencies)
            .unwrap_or_default()
    };
    let sdk = billing_vocab::PYTHON_SDK.name;
    if deps.iter().any(|d| normalized(&d.name) == normalized(sdk)) {
        return Ok(None);
    }
    let pins: Vec<String> = deps
        .iter()
        .filter(|d| !d.dev)
        .filter_map(|d| {
            let (_, min) = SDK_REQUIRES
                .iter()
                .find(|(n, _)| *n == normalized(&d.name))?;
            let bound = crate::py_httpx::upper_bound(&d.spec)?;
            bound.all_below(&Version::parse(min)?).then(|| {
                format!(
                    "{file}:{} `{}`: {sdk} {SDK_VERSION} needs `{}>={min}`",
                    d.line,
                    d.text.trim(),
                    normalized(&d.name)
                )
            })
        })
        .collect();
    Ok((!pins.is_empty()).then(|| SdkBlocked {
        file,
        pins,
        pip: Vec::new(),
    }))
}

impl SdkBlocked {
    /// The plan's note: what the generated code uses instead, and what to raise for the SDK.
    pub fn note(&self) -> String {
        let sdk = billing_vocab::PYTHON_SDK.name;
        let why = if self.file.ends_with("requirements.txt") {
            "pip finds no version of it that installs together with the versions this file \
             pins, and no pin of yours is moved"
        } else {
            "this file allows only versions older than it needs of a package it depends on, \
             so installing it cannot resolve, and no constraint of yours is moved"
        };
        let mut message = format!(
            "`{sdk}` cannot be added to {file}: {why}. The \
             generated Python code does without it: Spaire's API through the standard library \
             (as the usage recorder always does), webhooks (when planned) verified by \
             `standardwebhooks` (the verifier {sdk} uses; no dependencies of its own), each \
             event handed to your `on_*` functions as its JSON `data` instead of a {sdk} model. \
             To use {sdk}'s typed models instead, raise ",
            file = self.file
        );
        if self.pins.is_empty() {
            // pip named no pin this reads; its own words say which.
            message.push_str("the pins pip names and run `spaire-billing setup` again. pip says:");
            for line in self.pip.iter().take(PIP_LINES) {
                message.push_str("\n  ");
                message.push_str(line);
            }
        } else {
            message.push_str("these pins and run `spaire-billing setup` again:");
            for pin in &self.pins {
                message.push_str("\n  - ");
                message.push_str(pin);
            }
        }
        message
    }
}

/// Each exact pin of `current` below what the SDK (or a package of its tree, as pip names it)
/// needs, and the LLM client pins that crash beside it (`httpx_steps`), by file:line.
fn pins_to_raise(
    rel: &str,
    current: &str,
    sdk: &str,
    pip: &[String],
    httpx_steps: &[billing_changeset::ManualStep],
) -> Vec<String> {
    let mut needs: Vec<(String, String)> = if billing_vocab::PYTHON_SDK.is_named(sdk) {
        SDK_REQUIRES
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    } else {
        Vec::new()
    };
    for (name, version) in sdk_needs_from_pip(pip, sdk) {
        match needs.iter_mut().find(|(n, _)| *n == name) {
            Some(known) => known.1 = version,
            None => needs.push((name, version)),
        }
    }
    let mut pins = Vec::new();
    let transitive = transitive_needs(pip);
    for (index, line) in current.lines().enumerate() {
        if let Some((name, version)) = exact_pin(line)
            && !needs.iter().any(|(n, _)| *n == normalized(&name))
            && let Some(have) = Version::parse(&version)
            // The smallest raise that satisfies a dependent the pin is too old for (pip
            // prints one line per candidate version of that dependent).
            && let Some((who, min)) = transitive
                .iter()
                .filter(|(n, ..)| *n == normalized(&name))
                .filter_map(|(_, who, min)| Some((who, min, Version::parse(min)?)))
                .filter(|(.., want)| have.below(want))
                .reduce(|a, b| if b.2.below(&a.2) { b } else { a })
                .map(|(who, min, _)| (who, min))
        {
            pins.push(format!(
                "{rel}:{} `{}`: {who} (which {sdk} needs) needs `{name}>={min}`",
                index + 1,
                line.trim()
            ));
        }
    }
    for (index, line) in current.lines().enumerate() {
        let Some((name, version)) = exact_pin(line) else {
            continue;
        };
        let Some((_, min)) = needs.iter().find(|(n, _)| *n == normalized(&name)) else {
            continue;
        };
        let (Some(have), Some(want)) = (Version::parse(&version), Version::parse(min)) else {
            continue;
        };
        if have.below(&want) {
            pins.push(format!(
                "{rel}:{} `{}`: {sdk} {SDK_VERSION} needs `{name}>={min}`",
                index + 1,
                line.trim()
            ));
        }
    }
    for step in httpx_steps.iter().filter(|s| s.file == rel) {
        if let (Some(line), Some(fix)) = (step.line, step.snippet.as_deref()) {
            let pinned = current
                .lines()
                .nth(line.saturating_sub(1) as usize)
                .unwrap_or("")
                .trim();
            pins.push(format!(
                "{rel}:{line} `{pinned}`: crashes beside {sdk} (it needs httpx 0.28, which removed \
                 the `proxies=` argument this version passes); raise it to `{fix}`"
            ));
        }
    }
    pins
}

/// The error that stops the plan: the pins to change and why, pip's explanation, the LLM
/// client pins that crash beside the SDK (already in `out` as steps for `rel`), and the
/// billable calls of this package and of the sample apps it holds.
pub(crate) fn stop(
    cx: &ProduceContext<'_>,
    out: &ChangeSet,
    rel: &str,
    current: &str,
    sdk: &str,
    pip: &[String],
) -> billing_errors::Hinted {
    let pins = pins_to_raise(rel, current, sdk, pip, &out.manual_steps);
    let package = cx.package.path.as_str();
    let sites: Vec<String> = cx
        .profile
        .packages
        .iter()
        .filter(|p| p.path == package || p.sample_of.as_deref() == Some(package))
        .flat_map(|p| p.call_sites.iter())
        .filter(|c| c.kind != CallSiteKind::RouteHandler)
        .map(|c| format!("{}:{}", c.file, c.line))
        .collect();
    let mut message = format!(
        "setup stopped before changing anything: `{sdk}` cannot be added to {rel}. pip finds no \
         version of it that installs together with the versions this file pins, and the \
         generated billing code imports it, so the app would no longer start from its own \
         requirements (`ModuleNotFoundError: No module named '{}'`). Nothing was set up: no \
         meter, no webhook route, no usage recording, no file written.",
        sdk.replace('-', "_")
    );
    if !pins.is_empty() {
        message.push_str("\nPins to raise:");
        for pin in &pins {
            message.push_str("\n  - ");
            message.push_str(pin);
        }
    }
    message.push_str("\npip says:");
    // pip repeats its cause for every candidate version it tried; the first lines say it.
    for line in pip.iter().take(PIP_LINES) {
        message.push_str("\n  ");
        message.push_str(line);
    }
    if pip.len() > PIP_LINES {
        message.push_str(&format!("\n  ({} more lines)", pip.len() - PIP_LINES));
    }
    let meters: Vec<String> = cx
        .plan
        .meters
        .iter()
        .map(|m| format!("`{}`", m.name))
        .collect();
    if !meters.is_empty() {
        message.push_str(&format!(
            "\nNo usage reaches the planned meters ({}) until then: no API-call middleware, no \
             recorded LLM, storage or other usage",
            meters.join(", ")
        ));
    }
    if !sites.is_empty() {
        message.push_str(&format!(
            "\nNot billed until then ({} billable call site{}): {}",
            sites.len(),
            if sites.len() == 1 { "" } else { "s" },
            sites.join(", ")
        ));
    }
    let hint = format!(
        "raise those pins in {rel}; the pins of the packages they depend on may have to move \
         with them (pip names them next, e.g. `h11` with `httpcore`, `pydantic_core` with \
         `pydantic`). Once `python -m pip install --dry-run -r {rel} {sdk}` succeeds, run \
         `spaire-billing setup` again"
    );
    billing_errors::Hinted::new(message, hint)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan's warning names the pins to raise, or quotes pip when it named none this reads.
    #[test]
    fn the_note_names_the_pins_or_quotes_pip() {
        let with_pins = SdkBlocked {
            file: "requirements.txt".to_owned(),
            pins: vec![
                "requirements.txt:4 `httpx==0.26.0`: spaire-sdk 0.28.4 needs `httpx>=0.28.1`"
                    .to_owned(),
            ],
            pip: vec!["The user requested httpx==0.26.0".to_owned()],
        };
        let note = with_pins.note();
        assert!(note.contains("no pin of yours is moved"), "{note}");
        assert!(
            note.contains(
                "raise these pins and run `spaire-billing setup` again:\n  - requirements.txt:4"
            ),
            "{note}"
        );
        assert!(!note.contains("pip says"), "{note}");
        let without = SdkBlocked {
            pins: Vec::new(),
            ..with_pins
        };
        let note = without.note();
        assert!(
            note.contains("pip says:\n  The user requested httpx==0.26.0"),
            "{note}"
        );
    }

    #[test]
    fn exact_pins_and_sdk_needs_are_read_the_way_pip_writes_them() {
        assert_eq!(
            exact_pin("httpx==0.26.0  # pinned"),
            Some(("httpx".to_owned(), "0.26.0".to_owned()))
        );
        assert_eq!(
            exact_pin("pydantic[email]===2.6.1"),
            Some(("pydantic".to_owned(), "2.6.1".to_owned()))
        );
        assert_eq!(exact_pin("httpx>=0.26"), None);
        assert_eq!(exact_pin("httpx==0.*"), None);
        assert_eq!(exact_pin("-r base.txt"), None);
        let pip = vec![
            "The user requested httpcore==1.0.2".to_owned(),
            "httpx 0.26.0 depends on httpcore==1.*".to_owned(),
            "spaire-sdk 0.28.4 depends on httpcore>=1.0.9".to_owned(),
        ];
        assert_eq!(
            sdk_needs_from_pip(&pip, "spaire-sdk"),
            vec![("httpcore".to_owned(), "1.0.9".to_owned())]
        );
        let djangox = vec![
            "The user requested typing_extensions==4.9.0".to_owned(),
            "psycopg 3.2.3 depends on typing-extensions>=4.6; python_version < \"3.13\"".to_owned(),
            "pydantic 2.14.4 depends on typing-extensions>=4.16.0".to_owned(),
            "pydantic 2.11.2 depends on typing-extensions>=4.12.2".to_owned(),
        ];
        let needs = transitive_needs(&djangox);
        assert_eq!(needs.len(), 3, "{needs:?}");
        assert!(
            needs.contains(&(
                "typing-extensions".to_owned(),
                "pydantic 2.11.2".to_owned(),
                "4.12.2".to_owned()
            )),
            "{needs:?}"
        );
    }
}
