//! Randomised robustness test that runs in every `cargo test`: each manifest parser and
//! source analyser gets thousands of mutated versions of the fixture files (truncations,
//! byte-level edits at char boundaries, inserted syntax tokens) and must return normally.
//! The cargo-fuzz targets in `fuzz/` explore much further; this keeps the guarantee in CI.
//! Hand-picked edge cases are replayed first, verbatim; a crashing input found by fuzzing
//! belongs in that list too (none so far: 8 targets x 150 s, about 2.4 M executions).

use std::path::PathBuf;

use crate::callsites::{python, typescript};
use crate::manifest::json::{self, Dialect};
use crate::manifest::{gomod, node, php, python as py, ruby, yaml};

/// Edge cases (empty, BOM only, wrong types, dangling options) and any fuzzing crasher.
const REGRESSIONS: &[&str] = &[
    "",
    "\u{feff}",
    "{\"imports\": {\"#a\": {\"node\": {\"node\": {}}}}}",
    "[tool.poetry.group]\nx = 1\n",
    "[project]\ndependencies = [1, \"\", \"[\", \"a[\", \"(\"]\n",
    "-r\n-r \n--requirement=\n-e\n#egg=\n @ \n\\",
    "catalog:\n  - 1\ncatalogs: 3\npackages: {}\n",
    "require (\nrequire\n)\nmodule\ngo",
    "gem\ngem ,\ngroup :x do\nend\nend\n",
    "export async function",
    "import {",
    "from . import (",
];

/// Small deterministic PRNG (xorshift64*), so failures reproduce from the printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    "\"",
    "'",
    ":",
    ",",
    "\n",
    "#",
    "//",
    "/*",
    "*/",
    "=",
    "\\",
    "-r ",
    "é",
    "\u{feff}",
    "\0",
    "(",
    ")",
    "import ",
    "from ",
    "require(",
    "catalog:",
    "[[",
    "]]",
    "\t",
    "---\n",
    "&a ",
    "*a",
    "!!",
    "${",
    "`",
    "def ",
    "async ",
    "@app.get(\"/\")",
];

fn mutate(rng: &mut Rng, seed: &str) -> String {
    let mut s = seed.to_owned();
    for _ in 0..=rng.below(4) {
        let boundaries: Vec<usize> = (0..=s.len()).filter(|i| s.is_char_boundary(*i)).collect();
        let at = boundaries[rng.below(boundaries.len())];
        match rng.below(4) {
            0 => s.truncate(at),
            1 => s.insert_str(at, TOKENS[rng.below(TOKENS.len())]),
            2 => {
                let end = boundaries[rng.below(boundaries.len())].max(at);
                s.replace_range(at..end, "");
            }
            _ => {
                let end = boundaries[rng.below(boundaries.len())].max(at);
                let slice = s[at..end].to_owned();
                s.insert_str(at, &slice);
            }
        }
    }
    s
}

fn run_all_parsers(text: &str) {
    let _ = node::parse("package.json", text);
    let _ = php::parse_composer("composer.json", text);
    let _ = json::parse(text, Dialect::Jsonc);
    let _ = py::parse_pyproject("pyproject.toml", text);
    let _ = py::parse_pipfile("Pipfile", text);
    let _ = py::parse_requirements("requirements.txt", text);
    if let (Some(ws), _) = yaml::parse_pnpm_workspace("pnpm-workspace.yaml", text) {
        let _ = ws.resolve("ai", "catalog:");
    }
    let _ = gomod::parse_go_mod("go.mod", text);
    let _ = gomod::parse_go_work(text);
    let _ = ruby::parse_gemfile("Gemfile", text);
    let _ = ruby::locked_version(text, "rails");
    let _ = crate::text::major_of(text);
    let _ = crate::analyze::route_export(text);
    let _ = crate::text::LineIndex::new(text).line_col(text, text.len() / 2);
}

fn fixture_files(extensions: &[&str], names: &[&str]) -> Vec<(String, String)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/detect");
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let ext = name.rsplit('.').next().unwrap_or("");
            if (extensions.contains(&ext) || names.contains(&name.as_str()))
                && let Ok(text) = std::fs::read_to_string(&path)
            {
                out.push((path.display().to_string(), text));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn known_crashers_stay_fixed() {
    for input in REGRESSIONS {
        run_all_parsers(input);
        let _ = typescript::analyze("x.ts", input);
        let _ = typescript::analyze("x.tsx", input);
        let _ = python::analyze(input);
    }
}

#[test]
fn manifest_parsers_never_panic_on_mutated_manifests() {
    let seeds = fixture_files(
        &["json", "toml", "yaml", "txt", "mod", "lock"],
        &["Gemfile", "Pipfile", "go.work"],
    );
    assert!(seeds.len() > 30, "fixtures missing: {}", seeds.len());
    for (i, (path, seed)) in seeds.iter().enumerate() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (i as u64 + 1));
        for round in 0..100 {
            let input = mutate(&mut rng, seed);
            let result = std::panic::catch_unwind(|| run_all_parsers(&input));
            assert!(
                result.is_ok(),
                "panic on mutation {round} of {path}:\n{input:?}"
            );
        }
    }
}

#[test]
fn source_analysers_never_panic_on_mutated_sources() {
    let seeds = fixture_files(&["ts", "tsx", "js", "py"], &[]);
    for (i, (path, seed)) in seeds.iter().enumerate() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d ^ (i as u64 + 1));
        for round in 0..10 {
            let input = mutate(&mut rng, seed);
            let result = std::panic::catch_unwind(|| {
                if path.ends_with(".py") {
                    let _ = python::analyze(&input);
                } else {
                    let _ = typescript::analyze(path, &input);
                }
            });
            assert!(
                result.is_ok(),
                "panic on mutation {round} of {path}:\n{input:?}"
            );
        }
    }
}
