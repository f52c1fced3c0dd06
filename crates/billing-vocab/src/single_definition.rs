//! Proof that the vocabulary is defined once: every webhook event type, meter preset id,
//! aggregation name and the webhook path appears, as a string literal, in exactly one
//! non-test source file under `crates/` (this crate's), Rust sources and templates alike.
//!
//! Test code is left out: files named `tests.rs` / `*_tests.rs`, `tests/` directories, and
//! everything after a file's `#[cfg(test)]`; so are `//` comments, which explain and define
//! nothing. A few strings are homonyms — the same spelling meaning something else, such as
//! Spaire's benefit type `custom` or the emulator's SQL for each aggregation — and are listed
//! in [`HOMONYMS`] with their reason; the test fails when a listed homonym is gone, so the
//! list cannot go stale.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::meter::{AGGREGATION_NAMES, preset_ids};
use crate::webhook::{WEBHOOK_EVENT_NAMES, WEBHOOK_PATH};

/// (string, file relative to `crates/`, why that file may spell it out).
const HOMONYMS: &[(&str, &str, &str)] = &[
    // Spaire's system events (the `events` table) share names with webhook types.
    (
        "customer.created",
        "billing-emulator/src/routes/customers.rs",
        "system event written on customer creation",
    ),
    (
        "customer.created",
        "billing-emulator/src/system_events.rs",
        "system event name and its label (SYSTEM_EVENT_LABELS)",
    ),
    (
        "customer.updated",
        "billing-emulator/src/system_events.rs",
        "system event name and its label (SYSTEM_EVENT_LABELS)",
    ),
    (
        "customer.deleted",
        "billing-emulator/src/system_events.rs",
        "system event name and its label (SYSTEM_EVENT_LABELS)",
    ),
    (
        "subscription.created",
        "billing-emulator/src/system_events.rs",
        "system event name and its label (SYSTEM_EVENT_LABELS)",
    ),
    (
        "subscription.canceled",
        "billing-emulator/src/system_events.rs",
        "system event name and its label (SYSTEM_EVENT_LABELS)",
    ),
    (
        "subscription.revoked",
        "billing-emulator/src/system_events.rs",
        "system event name and its label (SYSTEM_EVENT_LABELS)",
    ),
    (
        "order.paid",
        "billing-emulator/src/system_events.rs",
        "system event name and its label (SYSTEM_EVENT_LABELS)",
    ),
    (
        "order.refunded",
        "billing-emulator/src/system_events.rs",
        "system event name and its label (SYSTEM_EVENT_LABELS)",
    ),
    (
        "benefit.updated",
        "billing-emulator/src/system_events.rs",
        "system event name and its label (SYSTEM_EVENT_LABELS)",
    ),
    // The emulator implements each aggregation (JSON form and SQL), matched by name.
    (
        "count",
        "billing-emulator/src/filter.rs",
        "emulator's aggregation parser and JSON form",
    ),
    (
        "unique",
        "billing-emulator/src/filter.rs",
        "emulator's aggregation parser and JSON form",
    ),
    (
        "sum",
        "billing-emulator/src/filter.rs",
        "pydantic's union-tag error text, copied verbatim",
    ),
    (
        "max",
        "billing-emulator/src/filter.rs",
        "pydantic's union-tag error text, copied verbatim",
    ),
    (
        "min",
        "billing-emulator/src/filter.rs",
        "pydantic's union-tag error text, copied verbatim",
    ),
    (
        "avg",
        "billing-emulator/src/filter.rs",
        "pydantic's union-tag error text, copied verbatim",
    ),
    (
        "count",
        "billing-emulator/src/quantities.rs",
        "emulator's SQL per aggregation",
    ),
    (
        "sum",
        "billing-emulator/src/quantities.rs",
        "emulator's SQL per aggregation",
    ),
    (
        "max",
        "billing-emulator/src/quantities.rs",
        "emulator's SQL per aggregation",
    ),
    (
        "min",
        "billing-emulator/src/quantities.rs",
        "emulator's SQL per aggregation",
    ),
    (
        "avg",
        "billing-emulator/src/quantities.rs",
        "emulator's SQL per aggregation",
    ),
    (
        "unique",
        "billing-emulator/src/quantities.rs",
        "emulator's SQL per aggregation",
    ),
    // Other meanings of common words.
    (
        "custom",
        "billing-emulator/src/billing.rs",
        "Spaire benefit type `custom`",
    ),
    (
        "custom",
        "billing-emulator/src/routes/benefits.rs",
        "Spaire benefit type `custom`",
    ),
    (
        "custom",
        "billing-emulator/src/routes/products.rs",
        "Spaire benefit / price type `custom`",
    ),
    (
        "custom",
        "billing-mcp/src/server/answers.rs",
        "MCP meter argument kind",
    ),
];

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Non-test sources and templates under `crates/`, relative to it, with test code removed.
fn sources() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![crates_dir()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if !matches!(name.as_str(), "tests" | "target" | "fixtures" | "snapshots") {
                    stack.push(path);
                }
                continue;
            }
            let rel = path
                .strip_prefix(crates_dir())
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            let is_rust = name.ends_with(".rs");
            let is_template = rel.contains("/templates/");
            if !(is_rust || is_template) || name == "tests.rs" || name.ends_with("_tests.rs") {
                continue;
            }
            let Ok(mut text) = std::fs::read_to_string(&path) else {
                continue;
            };
            if is_rust {
                if let Some(at) = text.find("#[cfg(test)]") {
                    text.truncate(at);
                }
                text = text
                    .lines()
                    .filter(|l| !l.trim_start().starts_with("//"))
                    .collect::<Vec<_>>()
                    .join("\n");
            }
            out.insert(rel, text);
        }
    }
    out
}

/// Whether `text` holds `word` as a whole string literal: `"word"`, `\"word\"` or `'word'`.
fn has_literal(text: &str, word: &str) -> bool {
    ['"', '\''].iter().any(|q| {
        text.match_indices(&format!("{q}{word}"))
            .any(|(at, m)| text[at + m.len()..].starts_with(['"', '\'', '\\']))
    })
}

#[test]
fn each_vocabulary_string_is_written_in_exactly_one_source_file() {
    let sources = sources();
    assert!(sources.len() > 100, "scanned only {} files", sources.len());
    let mut words: Vec<(&str, bool)> = Vec::new();
    words.extend(WEBHOOK_EVENT_NAMES.iter().map(|w| (*w, true)));
    words.extend(preset_ids().into_iter().map(|w| (w, true)));
    words.extend(AGGREGATION_NAMES.iter().map(|w| (*w, true)));
    words.push((WEBHOOK_PATH, false));
    let mut problems = Vec::new();
    for (word, literal) in words {
        let files: Vec<&String> = sources
            .iter()
            .filter(|(_, text)| {
                if literal {
                    has_literal(text, word)
                } else {
                    text.contains(word)
                }
            })
            .map(|(file, _)| file)
            .filter(|file| !HOMONYMS.iter().any(|(w, f, _)| *w == word && f == file))
            .collect();
        if files.len() != 1 {
            problems.push(format!("`{word}` is written in {files:?}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// `(enum name, variant names)` of every `enum` declared in `text`. Reads declarations as
/// text: enough for this crate's own sources, where every enum is `enum Name { A, B(..), }`.
fn enums(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices("enum ") {
        if at > 0 && text[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let rest = &text[at + "enum ".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let Some(open) = rest.find('{') else { continue };
        if name.is_empty() || rest[name.len()..open].contains([';', '(', '=']) {
            continue;
        }
        let mut depth = 0usize;
        let mut items = vec![String::new()];
        for c in rest[open..].chars() {
            match c {
                '{' | '(' | '[' | '<' => depth += 1,
                '}' | ')' | ']' | '>' => depth = depth.saturating_sub(1),
                ',' if depth == 1 => items.push(String::new()),
                _ if depth == 1 => items.last_mut().expect("starts with one").push(c),
                _ => {}
            }
            if depth == 0 {
                break;
            }
        }
        let variants = items
            .iter()
            .filter_map(|item| {
                let item = item.trim_start().trim_start_matches('{').trim_start();
                let ident: String = item
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                (!ident.is_empty()).then_some(ident)
            })
            .collect();
        out.push((name, variants));
    }
    out
}

/// A second enum with every variant of a vocabulary enum is a copy that can drift (the CLI's
/// and the MCP server's `EnvironmentArg` were): flags and tool arguments take the vocabulary
/// enum itself, with the `clap` / `schemars` features.
#[test]
fn no_vocabulary_enum_is_copied_outside_this_crate() {
    fn names<T: std::fmt::Debug>(all: &[T]) -> Vec<String> {
        all.iter().map(|v| format!("{v:?}")).collect()
    }
    let vocabulary = [
        ("Environment", names(&crate::Environment::ALL)),
        ("Language", names(&crate::Language::ALL)),
        ("AggregationFunc", names(&crate::AggregationFunc::ALL)),
        ("FrameworkId", names(crate::FrameworkId::ALL)),
    ];
    let sources = sources();
    let own = enums(&sources["billing-vocab/src/environment.rs"]);
    assert_eq!(
        own,
        vec![("Environment".to_owned(), vocabulary[0].1.clone())],
        "the enum reader no longer reads this crate's own enum"
    );
    let mut copies = Vec::new();
    for (file, text) in sources
        .iter()
        .filter(|(f, _)| !f.starts_with("billing-vocab/"))
    {
        for (name, variants) in enums(text) {
            for (original, wanted) in &vocabulary {
                if wanted.iter().all(|w| variants.contains(w)) {
                    copies.push(format!(
                        "{file}: `enum {name}` copies billing_vocab::{original}; use it instead"
                    ));
                }
            }
        }
    }
    assert!(copies.is_empty(), "{}", copies.join("\n"));
}

#[test]
fn every_listed_homonym_is_still_there() {
    let sources = sources();
    for (word, file, why) in HOMONYMS {
        let text = sources
            .get(*file)
            .unwrap_or_else(|| panic!("{file} is gone ({why})"));
        assert!(
            has_literal(text, word),
            "{file} no longer spells `{word}` ({why}): remove it from HOMONYMS"
        );
    }
}

#[test]
fn the_plan_file_reference_lists_every_event_type_framework_and_preset() {
    let doc = std::fs::read_to_string(crates_dir().join("../docs/plan-file.md")).unwrap();
    let mut missing: Vec<&str> = WEBHOOK_EVENT_NAMES
        .iter()
        .copied()
        .chain(crate::FrameworkId::ids())
        .chain(preset_ids())
        .filter(|word| !doc.contains(&format!("`{word}`")))
        .collect();
    missing.sort_unstable();
    assert!(
        missing.is_empty(),
        "docs/plan-file.md does not list {missing:?}"
    );
}
