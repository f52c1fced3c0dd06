//! When `spaire-sdk` cannot be added to a `requirements.txt` because of the file's pins, the
//! generated Python code does without it instead of moving a pin.
//!
//! The SDK needs `httpx>=0.28.1`, `httpcore>=1.0.9` and `pydantic>=2.11.2`; 4 of the 18 real
//! Python projects measured pin older ones (openai-quickstart-python `httpx==0.26.0`,
//! iqsheets `httpx==0.25.1`, djangox and flask-microblog a `typing_extensions` pydantic 2.11
//! cannot take). Raising those is the user's call, not ours, and the SDK is needed for two
//! things only: reading balances (one GET the standard library does as well as the recorder's
//! POST) and verifying webhooks (`standardwebhooks`, the verifier the SDK itself calls, which
//! depends on nothing). So [`check`] asks pip first (Poetry, uv and Pipenv manifests are read:
//! their installers resolve only when run), and a conflict makes the generators write that
//! variant ([`billing_generate::Target::without_sdk`]); the plan says so and names each pin to
//! raise for the SDK's typed models, by file:line.
use std::path::Path;

use billing_apply::Project;
use billing_changeset::ChangeSet;
use billing_detect::profile::CallSiteKind;
use billing_detect::{Language, Package, PackageManager};

use crate::pip_requirement::{Resolution, resolve};
use crate::produce::{ProduceContext, hinted_apply, join, requirements_dir};
use crate::py_version::{Version, upper_bound};
use billing_detect::manifest::python::{normalize, parse_requirements};

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

/// An exactly pinned requirement (`name==1.2.3`, `name[extra]===1.2.3`) of a requirements
/// file: where it is, its normalized name and its version.
struct ExactPin {
    line: u32,
    text: String,
    /// Normalized, for comparisons.
    name: String,
    /// As the file spells it, for messages (`typing_extensions`).
    written: String,
    version: String,
}

/// The exact pins of the requirements text `current`, read by detect's parser.
fn exact_pins(current: &str) -> Vec<ExactPin> {
    parse_requirements("", current)
        .dependencies
        .into_iter()
        .filter_map(|dependency| {
            let spec = dependency.spec.trim();
            let version = spec
                .strip_prefix("===")
                .or_else(|| spec.strip_prefix("=="))?;
            let version = version.trim_start().split([',', ' ']).next().unwrap_or("");
            let text = dependency.text.trim();
            let written = text
                .split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
                .next()
                .filter(|w| normalize(w) == dependency.name)
                .unwrap_or(&dependency.name)
                .to_owned();
            (!version.is_empty() && !version.ends_with('*')).then(|| ExactPin {
                line: dependency.line,
                text: text.to_owned(),
                name: dependency.name.clone(),
                written,
                version: version.to_owned(),
            })
        })
        .collect()
}

/// The exact pins of `current` below what `spaire-sdk` itself requires ([`SDK_REQUIRES`]):
/// (`name==version` as written, `name>=minimum`). Each makes the file conflict with the SDK
/// whatever else it pins, so this needs no resolver.
fn pins_below_sdk(current: &str) -> Vec<(String, String)> {
    exact_pins(current)
        .into_iter()
        .filter_map(|pin| {
            let (_, min) = SDK_REQUIRES.iter().find(|(n, _)| *n == pin.name)?;
            Version::parse(&pin.version)?
                .below(&Version::parse(min)?)
                .then(|| {
                    (
                        format!("{}=={}", pin.written, pin.version),
                        format!("{}>={min}", pin.written),
                    )
                })
        })
        .collect()
}

/// `spaire-sdk 0.28.4 depends on httpcore>=1.0.9` → (`httpcore`, `1.0.9`).
fn sdk_needs_from_pip(lines: &[String], sdk: &str) -> Vec<(String, String)> {
    lines
        .iter()
        .filter_map(|l| {
            let (who, need) = l.split_once(" depends on ")?;
            let who = who.split_whitespace().next()?;
            (normalize(who) == normalize(sdk)).then_some(())?;
            let (name, version) = need.split_once(">=")?;
            let version = version.split([',', ';', ' ']).next()?.trim();
            Some((normalize(name), version.to_owned()))
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
            out.push((normalize(name), who.trim().to_owned(), min.to_owned()));
        }
    }
    out
}

/// `spaire-sdk` does not install beside the pins of the package's `requirements.txt` (pip's
/// answer) or the constraints of its `pyproject.toml` / `Pipfile` (read, see
/// [`check_constraints`]).
#[derive(Debug, Clone)]
pub struct SdkBlocked {
    /// The requirements file, relative to the project root.
    pub file: String,
    /// One line per pin to raise for the SDK: `file:line \`pin\`: why`.
    pub pins: Vec<String>,
    /// pip's own explanation (the conflict lines); empty when the manifest was read instead.
    pub pip: Vec<String>,
}

/// Whether the package's pins block the SDK (not asked when it is installed). A pip
/// `requirements.txt` is asked only when the SDK would be written there (not listed yet), and
/// answered by pip's resolver through its cache ([`crate::pip_cache`]); Poetry, uv and Pipenv
/// manifests are read ([`check_constraints`]).
pub(crate) fn check(
    root: &Path,
    project: &Project,
    package: &Package,
) -> anyhow::Result<Option<SdkBlocked>> {
    let sdk = billing_vocab::PYTHON_SDK;
    let manager = package.package_manager.as_ref().map(|m| m.id);
    if package.language != Language::Python
        || billing_generate::imports::is_installed(package, &sdk)
    {
        return Ok(None);
    }
    match manager {
        None | Some(PackageManager::Pip) => {}
        Some(PackageManager::Pipenv) => return check_constraints(project, package, "Pipfile"),
        Some(_) => return check_constraints(project, package, "pyproject.toml"),
    }
    let dir = requirements_dir(package);
    let file = join(&dir, "requirements.txt");
    let Some(current) = project.read_text(&file).map_err(hinted_apply)? else {
        return Ok(None);
    };
    if crate::pip_requirement::lists(&current, sdk.name) {
        return Ok(None);
    }
    let lines = match resolve(root, &root.join(&dir), "requirements.txt", sdk.name) {
        Resolution::Conflict(lines) => lines,
        // pip gave no answer (its 90 s ran out on a loaded machine, no index, ...): a pin
        // below what the SDK itself requires is a conflict whatever pip would say, so it is
        // not written beside it unchecked (gpt-tools: `pydantic==1.10.9`, and once pip timed
        // out, an unpinned `spaire-sdk` made the file unresolvable).
        Resolution::Unchecked(why) => {
            let below = pins_below_sdk(&current);
            if below.is_empty() {
                return Ok(None);
            }
            below
                .into_iter()
                .map(|(pin, need)| {
                    format!(
                        "The user requested {pin}; {} {SDK_VERSION} depends on {need} (pip did not \
                         answer: {why})",
                        sdk.name
                    )
                })
                .collect()
        }
        Resolution::Resolved(_) => return Ok(None),
    };
    let steps = crate::py_httpx::steps(package);
    Ok(Some(SdkBlocked {
        pins: pins_to_raise(&file, &current, sdk.name, &lines, &steps),
        file,
        pip: lines,
    }))
}

/// Poetry, uv and Pipenv resolve when the SDK is added (`poetry add spaire-sdk`), which fails
/// on a conflict after the generated code importing it is written, and no dry run of theirs
/// is on every machine. So their manifest is read instead: a constraint on one of the SDK's
/// requirements that allows none of the versions it needs (`httpx = "^0.26"`, `==0.26.0`,
/// `<0.28`) blocks the SDK, as pip's answer does for `requirements.txt`. A range this cannot
/// bound (Poetry's `||`) is left to the installer.
fn check_constraints(
    project: &Project,
    package: &Package,
    manifest: &str,
) -> anyhow::Result<Option<SdkBlocked>> {
    let sdk = billing_vocab::PYTHON_SDK.name;
    let file = join(&package.path, manifest);
    let Some(text) = project.read_text(&file).map_err(hinted_apply)? else {
        return Ok(None);
    };
    let dependencies = if manifest == "Pipfile" {
        billing_detect::manifest::python::parse_pipfile(&file, &text).0
    } else {
        match billing_detect::manifest::python::parse_pyproject(&file, &text).0 {
            Some(pyproject) => pyproject.dependencies,
            None => return Ok(None),
        }
    };
    if dependencies.iter().any(|d| d.name == normalize(sdk)) {
        return Ok(None);
    }
    let mut pins: Vec<String> = dependencies
        .iter()
        .filter_map(|dependency| {
            let (_, min) = SDK_REQUIRES.iter().find(|(n, _)| *n == dependency.name)?;
            upper_bound(&dependency.spec)?
                .all_below(&Version::parse(min)?)
                .then(|| {
                    format!(
                        "{file}:{} `{}`: {sdk} {SDK_VERSION} needs `{}>={min}`",
                        dependency.line, dependency.text, dependency.name
                    )
                })
        })
        .collect();
    if pins.is_empty() {
        return Ok(None);
    }
    pins.extend(
        crate::py_httpx::steps(package)
            .iter()
            .filter(|step| step.file == file)
            .filter_map(|step| {
                Some(format!(
                    "{file}:{}: crashes beside {sdk} (it needs httpx 0.28, which removed the \
                     `proxies=` argument this version passes); raise it to `{}`",
                    step.line?,
                    step.snippet.as_deref()?
                ))
            }),
    );
    Ok(Some(SdkBlocked {
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
    let file_pins = exact_pins(current);
    for pin in &file_pins {
        let (name, line, written) = (&pin.name, pin.line, &pin.written);
        if !needs.iter().any(|(n, _)| n == name)
            && let Some(have) = Version::parse(&pin.version)
            // The smallest raise that satisfies a dependent the pin is too old for (pip
            // prints one line per candidate version of that dependent).
            && let Some((who, min)) = transitive
                .iter()
                .filter(|(n, ..)| n == name)
                .filter_map(|(_, who, min)| Some((who, min, Version::parse(min)?)))
                .filter(|(.., want)| have.below(want))
                .reduce(|a, b| if b.2.below(&a.2) { b } else { a })
                .map(|(who, min, _)| (who, min))
        {
            pins.push(format!(
                "{rel}:{line} `{}`: {who} (which {sdk} needs) needs `{written}>={min}`",
                pin.text
            ));
        }
    }
    for pin in &file_pins {
        let Some((_, min)) = needs.iter().find(|(n, _)| *n == pin.name) else {
            continue;
        };
        let (Some(have), Some(want)) = (Version::parse(&pin.version), Version::parse(min)) else {
            continue;
        };
        if have.below(&want) {
            pins.push(format!(
                "{rel}:{} `{}`: {sdk} {SDK_VERSION} needs `{}>={min}`",
                pin.line, pin.text, pin.written
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

    /// gpt-tools pins `pydantic==1.10.9`: a conflict with the SDK known without pip, so a
    /// resolver that times out does not let an unpinned `spaire-sdk` into the file.
    #[test]
    fn a_pin_below_the_sdks_own_requirements_is_a_conflict_without_pip() {
        let gpt_tools = "fastapi==0.97.0\nhttpx==0.28.1\npydantic==1.10.9\nuvicorn==0.22.0\n";
        assert_eq!(
            pins_below_sdk(gpt_tools),
            vec![("pydantic==1.10.9".to_owned(), "pydantic>=2.11.2".to_owned())]
        );
        assert!(pins_below_sdk("Flask==1.1.1\nurllib3==1.25.7\npydantic>=1.0\n").is_empty());
        assert!(pins_below_sdk("httpx==0.28.1\npydantic==2.11.2\n").is_empty());
    }

    #[test]
    fn exact_pins_and_sdk_needs_are_read_the_way_pip_writes_them() {
        let pins = exact_pins(
            "-r base.txt\nhttpx==0.26.0  # pinned\nPydantic[email]===2.6.1 ; python_version > \"3.8\"\n\
             httpx>=0.26\nanyio==4.*\nrequests==\\\n    2.31.0\n",
        );
        let found: Vec<(u32, &str, &str)> = pins
            .iter()
            .map(|p| (p.line, p.name.as_str(), p.version.as_str()))
            .collect();
        assert_eq!(
            found,
            vec![
                (2, "httpx", "0.26.0"),
                (3, "pydantic", "2.6.1"),
                (6, "requests", "2.31.0")
            ]
        );
        assert_eq!(pins[0].text, "httpx==0.26.0  # pinned");
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
