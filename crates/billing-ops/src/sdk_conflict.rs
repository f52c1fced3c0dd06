//! When `spaire-sdk` cannot be added to a `requirements.txt` because of the file's pins, the
//! plan stops instead of writing anything.
//!
//! The generated Python code imports the SDK (`client.py`, which `usage.py` imports), and
//! registration makes the app import the generated code. Written anyway, the app no longer
//! starts from its own requirements (`ModuleNotFoundError: No module named 'spaire_sdk'`):
//! openai-quickstart-python pins `httpx==0.26.0` and `openai==1.11.1`, and a setup of its
//! `examples/chat-basic` used to add `install_billing(app)` to `app.py` and exit 0. The error
//! names each pin to change (file:line, what the SDK needs), pip's own explanation, and the
//! billable calls that stay unbilled until then, so nothing is left unsaid.

use billing_changeset::ChangeSet;
use billing_detect::profile::CallSiteKind;

use crate::pip_requirement::normalized;
use crate::produce::ProduceContext;
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
    let mut needs: Vec<(String, String)> = SDK_REQUIRES
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
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
    for step in out.manual_steps.iter().filter(|s| s.file == rel) {
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
    const PIP_LINES: usize = 8;
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
