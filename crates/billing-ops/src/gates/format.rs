//! Formats the files a change set writes with the project's own formatters, at plan time.
//!
//! Formatting happens on the planned content (stdin → stdout), not on the disk after apply:
//! the preview then shows exactly the bytes apply writes, the plan hash covers them, the
//! lock records their hash (so a re-plan is a no-op and the edited-file check holds), and
//! `undo` restores the originals byte-for-byte like any other change.
//!
//! Only tools installed in the project run (its `node_modules/.bin`, its virtualenv, `gofmt`
//! on PATH): the project's version with the project's config. A user file the tool edits is
//! formatted only when it was already formatted before; otherwise the whole file would be
//! reformatted, burying the real change in noise.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use billing_changeset::{FileChange, FileOrigin};
use billing_detect::gates::{Gate, GateTool, Gates};

use super::format_memo::Memo;

const FORMAT_TIMEOUT: Duration = Duration::from_secs(60);

const JS_EXTENSIONS: &[&str] = &["ts", "tsx", "mts", "cts", "js", "jsx", "mjs", "cjs"];

/// One formatter step for one file type.
struct Step<'g> {
    gate: &'g Gate,
    binary: PathBuf,
    /// The directory of the tool's config file, when it has one.
    config_dir: Option<PathBuf>,
    /// Arguments for this run only (isort's `-p` for generated packages not on disk yet).
    extra_args: Vec<String>,
}

/// The steps that apply to a file with `extension`, in the order they run: lint fixes (which
/// may move code), import sorting, then the formatter that has the last word on layout.
fn steps_for<'g>(root: &Path, gates: &'g Gates, extension: &str) -> Vec<Step<'g>> {
    let order: &[GateTool] = if JS_EXTENSIONS.contains(&extension) {
        &[
            GateTool::EslintFlat,
            GateTool::EslintLegacy,
            GateTool::Biome,
            GateTool::Prettier,
            GateTool::Dprint,
        ]
    } else if extension == "py" {
        &[GateTool::Ruff, GateTool::Isort, GateTool::Black]
    } else if extension == "go" {
        &[GateTool::Gofmt]
    } else {
        &[]
    };
    order
        .iter()
        .filter_map(|tool| gates.get(*tool))
        .filter_map(|gate| {
            Some(Step {
                gate,
                binary: gate.binary.clone()?,
                config_dir: gate
                    .config
                    .as_ref()
                    .and_then(|c| root.join(c).parent().map(Path::to_path_buf)),
                extra_args: Vec::new(),
            })
        })
        .collect()
}

/// What formatting did to a change set: which tools ran on which files, and what could not
/// be done (shown as plan warnings).
#[derive(Debug, Default, Clone)]
pub struct FormatOutcome {
    /// `(file, tools)` for every file a formatter changed.
    pub formatted: Vec<(String, Vec<&'static str>)>,
    pub warnings: Vec<String>,
}

/// Formats every file in `files` that a formatter of `gates` handles. `package_dir` is the
/// absolute directory the tools run in; `root` the project root the paths are relative to.
pub fn format_files(
    root: &Path,
    package_dir: &Path,
    gates: &Gates,
    files: &mut [FileChange],
) -> FormatOutcome {
    let mut outcome = FormatOutcome::default();
    let mut broken = Vec::new();
    let memo = Memo::new(root, package_dir, gates);
    let eslint = eslint_batch(&memo, root, package_dir, gates, files).unwrap_or_else(|reason| {
        broken.extend([GateTool::EslintFlat, GateTool::EslintLegacy]);
        outcome.warnings.push(format!(
            "{reason}, so it did not fix the files this plan writes; after apply, run the \
             project's `eslint --fix` on them (the checks report what is left)"
        ));
        EslintFixed::new()
    });
    let isort_first_party = isort_first_party(&memo, root, package_dir, gates, files);
    let ruff_first_party = ruff_first_party(&memo, package_dir, gates, files, root);
    let python_limit = python_line_limit(root, package_dir, gates);
    for file in files.iter_mut() {
        let extension = Path::new(&file.path)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("");
        // A line the wiring added to a user's file, over the limit the project's linter
        // enforces, is wrapped as black would (never marked `# noqa`: the file is the user's).
        if extension == "py"
            && file.origin == FileOrigin::Wired
            && let (Some(limit), Some(before)) = (python_limit, file.before.as_deref())
        {
            let wrapped = billing_wire::wrap_long_python_lines(before, &file.after, limit);
            if wrapped != file.after {
                file.after = wrapped;
                outcome
                    .formatted
                    .push((file.path.clone(), vec!["line wrap"]));
            }
        }
        let mut steps = steps_for(root, gates, extension);
        for step in &mut steps {
            if step.gate.tool == GateTool::Isort {
                step.extra_args.clone_from(&isort_first_party);
            }
            if step.gate.tool == GateTool::Ruff {
                step.extra_args.clone_from(&ruff_first_party);
            }
        }
        if steps.is_empty() {
            continue;
        }
        let stdin_path = stdin_path(root, package_dir, &file.path);
        let user_file = file.origin != FileOrigin::Generated;
        if user_file && let Some(before) = file.before.as_deref() {
            // Only keep a user's file formatted if it was formatted to begin with.
            let (formatted, _) = pipeline(
                &memo,
                &steps,
                &eslint,
                package_dir,
                &Input {
                    path: &stdin_path,
                    text: before,
                    generated: false,
                },
                &mut outcome.warnings,
                &mut broken,
            );
            if formatted != before {
                outcome.warnings.push(format!(
                    "`{}` was not formatted by the project's formatter before; the change \
                     is written as generated (run your formatter on it if your CI checks \
                     formatting)",
                    file.path
                ));
                continue;
            }
        }
        let (mut formatted, mut tools) = pipeline(
            &memo,
            &steps,
            &eslint,
            package_dir,
            &Input {
                path: &stdin_path,
                text: &file.after,
                generated: !user_file,
            },
            &mut outcome.warnings,
            &mut broken,
        );
        if !user_file
            && let Some(ruff) = steps.iter().find(|s| s.gate.tool == GateTool::Ruff)
            && !broken.contains(&GateTool::Ruff)
        {
            match ruff_noqa(&memo, ruff, package_dir, &stdin_path, &formatted) {
                Ok(Some(marked)) => {
                    formatted = marked;
                    tools.push("ruff --add-noqa");
                }
                Ok(None) => {}
                Err(reason) => outcome
                    .warnings
                    .push(format!("ruff could not check `{}`: {reason}", file.path)),
            }
        }
        if !user_file
            && extension == "py"
            && let Some(gate) = gates.get(GateTool::Flake8)
            && let Some(binary) = gate.binary.clone()
        {
            match flake8_noqa(
                &memo,
                gate,
                &binary,
                root,
                package_dir,
                &file.path,
                &formatted,
            ) {
                Ok(Some(marked)) => {
                    formatted = marked;
                    tools.push("flake8 noqa");
                }
                Ok(None) => {}
                Err(reason) => outcome
                    .warnings
                    .push(format!("flake8 could not check `{}`: {reason}", file.path)),
            }
        }
        if formatted != file.after {
            file.after = formatted;
            outcome.formatted.push((file.path.clone(), tools));
        }
    }
    if !broken.contains(&GateTool::EslintFlat) && !broken.contains(&GateTool::EslintLegacy) {
        disable_waived_rules(&memo, root, package_dir, gates, files, &mut outcome);
    }
    outcome
}

/// The line length the project's Python linter or formatter enforces: flake8's
/// `max-line-length` (79 by default) when flake8 is a gate, ruff's / black's `line-length`
/// (88 by default) when one of them is, the smaller when both are; `None` when no gate checks
/// line length. Read from the package's directory up to the root, nearest first.
fn python_line_limit(root: &Path, package_dir: &Path, gates: &Gates) -> Option<usize> {
    use billing_generate::python::import_block;
    // flake8 reads `.flake8` too, beside the files that set the formatters' line length.
    let configs = import_block::LAYOUT_CONFIGS.iter().chain(&[".flake8"]);
    let mut texts: Vec<(&str, String)> = Vec::new();
    for dir in package_dir.ancestors() {
        for name in configs.clone() {
            if let Ok(text) = std::fs::read_to_string(dir.join(name)) {
                texts.push((name, text));
            }
        }
        if dir == root || !dir.starts_with(root) {
            break;
        }
    }
    let files: Vec<(&str, &str)> = texts.iter().map(|(n, t)| (*n, t.as_str())).collect();
    let flake8 = gates
        .get(GateTool::Flake8)
        .map(|_| import_block::flake8_line_length(&files).unwrap_or(79));
    let formatter = (gates.get(GateTool::Ruff).is_some() || gates.get(GateTool::Black).is_some())
        .then(|| {
            import_block::configured_line_length(&files)
                .unwrap_or(import_block::DEFAULT_LINE_LENGTH)
        });
    flake8.into_iter().chain(formatter).min()
}

/// The tool's own JSON state file `rel` (`.spaire-billing/lock.json`, committed) in the layout
/// of the project's JSON formatters, Biome then Prettier, as installed at the project's root:
/// a project that checks every file (`biome check .`, `prettier --check .`) with its own
/// settings (tabs, another width) passes it too. The text comes already in both tools' default
/// layout ([`billing_apply::state_json`]); a tool's output is kept only when it reads back as
/// the same JSON (an ignored path, an error or a tool that does not format JSON change nothing).
pub fn format_state_file(root: &Path, gates: &Gates, rel: &str, text: &str) -> String {
    let Ok(value) = serde_json::from_str::<serde_json::Value>(text) else {
        return text.to_owned();
    };
    let memo = Memo::new(root, root, gates);
    let mut current = text.to_owned();
    for tool in [GateTool::Biome, GateTool::Prettier] {
        let Some(gate) = gates.get(tool) else {
            continue;
        };
        let Some(binary) = gate.binary.clone() else {
            continue;
        };
        let step = Step {
            gate,
            binary,
            config_dir: None,
            extra_args: Vec::new(),
        };
        let Ok(outputs) = format_one(&memo, &step, root, rel, &current, false) else {
            continue;
        };
        if let Some(out) = outputs.into_iter().last()
            && serde_json::from_str::<serde_json::Value>(&out).is_ok_and(|v| v == value)
        {
            current = out;
        }
    }
    current
}

/// ESLint's fixed text per `(path, text)`, from one run over every planned file.
type EslintFixed = HashMap<(String, String), String>;

/// The script that runs the project's ESLint over many texts in one process.
const ESLINT_BATCH: &str = include_str!("eslint_batch.mjs");

/// Runs ESLint once over every JS file's planned text (and a user file's text before the
/// edit, for the "was it formatted" check): a typed-lint config takes seconds to load, paid
/// once instead of once per file. Empty when ESLint or node is missing or the run fails;
/// the per-file CLI then runs as before. `Err` when ESLint ran out of time (see
/// [`Batch::TimedOut`]).
fn eslint_batch(
    memo: &Memo,
    root: &Path,
    package_dir: &Path,
    gates: &Gates,
    files: &[FileChange],
) -> Result<EslintFixed, String> {
    let has_eslint = [GateTool::EslintFlat, GateTool::EslintLegacy]
        .iter()
        .any(|tool| gates.get(*tool).is_some_and(|g| g.binary.is_some()));
    if !has_eslint {
        return Ok(EslintFixed::new());
    }
    let mut inputs: Vec<(String, String)> = Vec::new();
    for file in files {
        let extension = Path::new(&file.path)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("");
        if !JS_EXTENSIONS.contains(&extension) {
            continue;
        }
        let path = stdin_path(root, package_dir, &file.path);
        if file.origin != FileOrigin::Generated
            && let Some(before) = &file.before
        {
            inputs.push((path.clone(), before.clone()));
        }
        inputs.push((path, file.after.clone()));
    }
    let internal = generated_module_specifiers(files);
    let results = match run_eslint_batch(memo, package_dir, &inputs, &internal) {
        Batch::Ran(results) => results,
        Batch::Unavailable => return Ok(EslintFixed::new()),
        Batch::TimedOut(reason) => return Err(reason),
    };
    Ok(inputs
        .into_iter()
        .zip(results)
        .filter_map(|(key, result)| {
            // A file ESLint failed on goes through the CLI, which reports the failure.
            let fixed = result.get("output")?.as_str()?.to_owned();
            Some((key, fixed))
        })
        .collect())
}

/// The import specifiers by which the edited user files reach a module this tool generates
/// through an alias (`@/lib/spaire/usage`, `$lib/server/spaire/usage`, `~/server/spaire/usage`):
/// new in the file, not relative, and naming a generated file's path without its extension
/// once the alias's first segment is dropped (at least two segments must match). While the
/// plan is made those modules are not on disk, so eslint-plugin-import's resolver cannot
/// place such an import among the project's own (`import/order`, gemini-chatbot).
fn generated_module_specifiers(files: &[FileChange]) -> Vec<String> {
    let stems: Vec<Vec<&str>> = files
        .iter()
        .filter(|f| f.origin == FileOrigin::Generated)
        .filter_map(|f| {
            let (stem, extension) = f.path.rsplit_once('.')?;
            JS_EXTENSIONS
                .contains(&extension)
                .then(|| stem.split('/').collect())
        })
        .collect();
    let mut out: Vec<String> = Vec::new();
    for file in files.iter().filter(|f| f.origin != FileOrigin::Generated) {
        for specifier in quoted_specifiers(&file.after) {
            if specifier.starts_with('.')
                || out.iter().any(|s| s == specifier)
                || file
                    .before
                    .as_deref()
                    .is_some_and(|b| quoted_specifiers(b).contains(&specifier))
            {
                continue;
            }
            let bare = [".js", ".ts", ".mjs", ".cjs", ".jsx", ".tsx"]
                .iter()
                .find_map(|e| specifier.strip_suffix(e))
                .unwrap_or(specifier);
            let segments: Vec<&str> = bare.split('/').collect();
            let ours = (1..segments.len()).any(|drop| {
                let rest = &segments[drop..];
                rest.len() >= 2 && stems.iter().any(|stem| stem.ends_with(rest))
            });
            if ours {
                out.push(specifier.to_owned());
            }
        }
    }
    out
}

/// The module specifiers of `import … from "x"`, `export … from "x"`, `import("x")` and
/// `require("x")` in a JS/TS text (a plain scan: a string elsewhere that looks the same only
/// adds a candidate, which must still name a generated file).
fn quoted_specifiers(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for keyword in ["from", "import", "require("] {
        let mut rest = text;
        while let Some(at) = rest.find(keyword) {
            let after = rest[at + keyword.len()..].trim_start_matches([' ', '(']);
            rest = &rest[at + keyword.len()..];
            let Some(quote) = after.chars().next().filter(|c| matches!(c, '"' | '\'')) else {
                continue;
            };
            let body = &after[1..];
            if let Some(end) = body.find(quote) {
                let specifier = &body[..end];
                if !specifier.is_empty() && !specifier.contains('\n') {
                    out.push(specifier);
                }
            }
        }
    }
    out
}

/// isort's `-p NAME` arguments for the top-level Python packages this tool generates that are
/// not on disk yet, plus the project's own `known_first_party` (a `-p` replaces the setting):
/// isort tells first-party from third-party by looking for the directory, so while the plan
/// is made the wiring's `from spaire_billing.usage import …` in a user file was sorted among
/// the third-party imports (thenewboston-backend), and `isort --check` failed once the package
/// existed. Empty when there is nothing to add or isort cannot say its settings.
fn isort_first_party(
    memo: &Memo,
    root: &Path,
    package_dir: &Path,
    gates: &Gates,
    files: &[FileChange],
) -> Vec<String> {
    let Some(gate) = gates.get(GateTool::Isort) else {
        return Vec::new();
    };
    let Some(binary) = gate.binary.clone() else {
        return Vec::new();
    };
    let names = generated_packages(root, package_dir, files);
    if names.is_empty() {
        return Vec::new();
    }
    let mut argv = vec!["--show-config".to_owned()];
    if let Some(dir) = gate
        .config
        .as_ref()
        .and_then(|c| root.join(c).parent().map(Path::to_path_buf))
    {
        argv.extend(["--settings-path".to_owned(), dir.display().to_string()]);
    }
    let Ok(out) = memo.run(&binary, &argv, package_dir, None, FORMAT_TIMEOUT) else {
        return Vec::new();
    };
    let Ok(config) = serde_json::from_str::<serde_json::Value>(&out.stdout) else {
        return Vec::new();
    };
    let mut known: Vec<String> = config
        .get("known_first_party")
        .and_then(|k| k.as_array())
        .map(|list| {
            list.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    for name in names {
        if !known.contains(&name) {
            known.push(name);
        }
    }
    known
        .into_iter()
        .flat_map(|n| ["-p".to_owned(), n])
        .collect()
}

/// ruff's counterpart of [`isort_first_party`]: `--config lint.isort.known-first-party = [...]`
/// with the generated packages not on disk yet plus the patterns the project already marks
/// first-party (the option replaces the setting; ruff prints them with `--show-settings`).
/// ruff finds first-party modules under its `src` roots, so while the plan is made the
/// wiring's `from spaire_billing.usage import …` went among the third-party imports
/// (django-styleguide: `ruff check` I001 once the package existed). Empty when there is
/// nothing to add or ruff cannot say its settings.
fn ruff_first_party(
    memo: &Memo,
    package_dir: &Path,
    gates: &Gates,
    files: &[FileChange],
    root: &Path,
) -> Vec<String> {
    let Some(binary) = gates.get(GateTool::Ruff).and_then(|g| g.binary.clone()) else {
        return Vec::new();
    };
    let names = generated_packages(root, package_dir, files);
    if names.is_empty() {
        return Vec::new();
    }
    let argv: Vec<String> = ["check", "--show-settings", "--no-cache", "."]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let Ok(out) = memo.run(&binary, &argv, package_dir, None, FORMAT_TIMEOUT) else {
        return Vec::new();
    };
    let Some(mut known) = ruff_known_first_party(&out.stdout) else {
        return Vec::new();
    };
    for name in names {
        if !known.contains(&name) {
            known.push(name);
        }
    }
    let list: Vec<String> = known.iter().map(|n| format!("{n:?}")).collect();
    vec![
        "--config".to_owned(),
        format!("lint.isort.known-first-party = [{}]", list.join(", ")),
    ]
}

/// The first-party patterns of ruff's `--show-settings` (`linter.isort.known_modules = {`,
/// then `\tNAME => Known(FirstParty),` lines); `None` when the block is not there.
fn ruff_known_first_party(settings: &str) -> Option<Vec<String>> {
    let mut lines = settings.lines();
    let start = lines.find(|l| l.starts_with("linter.isort.known_modules = {"))?;
    if start.trim_end().ends_with("{}") {
        return Some(Vec::new());
    }
    Some(
        lines
            .take_while(|l| !l.starts_with('}'))
            .filter_map(|l| l.trim().strip_suffix("=> Known(FirstParty),"))
            .map(|name| name.trim().to_owned())
            .collect(),
    )
}

/// The top-level Python packages (or modules) this tool generates that are not on disk yet.
fn generated_packages(root: &Path, package_dir: &Path, files: &[FileChange]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for file in files.iter().filter(|f| f.origin == FileOrigin::Generated) {
        if !file.path.ends_with(".py") {
            continue;
        }
        let Ok(rel) = root
            .join(&file.path)
            .strip_prefix(package_dir)
            .map(Path::to_path_buf)
        else {
            continue;
        };
        let Some(first) = rel.components().next() else {
            continue;
        };
        let first = first.as_os_str().to_string_lossy().into_owned();
        let name = first.strip_suffix(".py").unwrap_or(&first).to_owned();
        if !package_dir.join(&first).exists() && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// What one ESLint run over many texts gave.
enum Batch {
    /// Per input `{"output", "rules"}` or `{"error"}`, in the inputs' order.
    Ran(Vec<serde_json::Value>),
    /// No node, no inputs, or the run failed: the per-file CLI runs, and its failure is what
    /// the plan's warnings report.
    Unavailable,
    /// ESLint did not finish in time. The per-file CLI would load the same configuration once
    /// per file, slower still, so ESLint is not run on this plan's files at all.
    TimedOut(String),
}

/// The batch's deadline: loading a typed configuration once, then a few seconds a text.
fn batch_timeout(inputs: usize) -> Duration {
    let per_input = u64::try_from(inputs).unwrap_or(u64::MAX).saturating_mul(10);
    Duration::from_secs(60u64.saturating_add(per_input).min(240))
}

/// The project's ESLint over `(path, text)` pairs in one process. `internal` are import
/// specifiers of generated modules, which ESLint is told are the project's own
/// (`import/internal-regex`, added to the project's own setting) because they are not on
/// disk yet.
fn run_eslint_batch(
    memo: &Memo,
    package_dir: &Path,
    inputs: &[(String, String)],
    internal: &[String],
) -> Batch {
    let Some(node) = billing_detect::gates::on_path("node") else {
        return Batch::Unavailable;
    };
    if inputs.is_empty() {
        return Batch::Unavailable;
    }
    let files: Vec<serde_json::Value> = inputs
        .iter()
        .map(|(path, text)| serde_json::json!({ "path": path, "text": text }))
        .collect();
    let request = serde_json::json!({ "files": files, "internal": internal });
    let args = vec![
        "--input-type=module".to_owned(),
        "-e".to_owned(),
        ESLINT_BATCH.to_owned(),
        "--".to_owned(),
        package_dir.display().to_string(),
    ];
    let out = match memo.run(
        &node,
        &args,
        package_dir,
        Some(&request.to_string()),
        batch_timeout(inputs.len()),
    ) {
        Ok(out) => out,
        Err(error) if error.timed_out => {
            return Batch::TimedOut(format!(
                "ESLint did not finish within {} s over the {} texts of this plan",
                batch_timeout(inputs.len()).as_secs(),
                inputs.len()
            ));
        }
        Err(_) => return Batch::Unavailable,
    };
    match serde_json::from_str(&out.stdout) {
        Ok(serde_json::Value::Array(results)) if results.len() == inputs.len() => {
            Batch::Ran(results)
        }
        _ => Batch::Unavailable,
    }
}

/// Rules a file this tool generates breaks knowingly, each group with why, turned off in a
/// generated file (never in the user's own) only when the project's ESLint reports one of
/// them there after the fixes, by one `eslint-disable` comment per group under the header.
/// Every other rule is still reported by the checks.
struct Waiver {
    rules: &'static [&'static str],
    /// Only in TypeScript files (the rule reads JavaScript correctly).
    typescript_only: bool,
    reason: &'static str,
}

const WAIVERS: &[Waiver] = &[
    // Core rules that misread TypeScript: names TypeScript itself resolves (`NodeJS`,
    // `globalThis` under an old `env`), overload signatures (a redeclaration, with "unused"
    // parameters) and interface method parameters. typescript-eslint's `eslint-recommended`
    // turns them off for `.ts` files; a config extending `eslint:recommended` without it
    // (chathn: `["next/core-web-vitals", "eslint:recommended"]`) applies them anyway.
    Waiver {
        rules: &[
            "no-undef",
            "no-unused-vars",
            "no-redeclare",
            "no-dupe-class-members",
        ],
        typescript_only: true,
        reason: "core rules that misread TypeScript (types, overloads)",
    },
    // The generated code logs on purpose: usage that cannot be recorded or delivered (no
    // customer, no token count, a rejected batch) is billing lost, and the operator must
    // see it; the webhook handler stubs log each event until the user fills them in
    // (astro-chatgpt-demo: `no-console` allowing only `console.error`).
    Waiver {
        rules: &["no-console"],
        typescript_only: false,
        reason: "deliberate logging: lost usage and billing events must reach the operator's logs",
    },
];

/// In the files this tool generates, turns off the [`WAIVERS`] rules the project's ESLint
/// still reports in the final text. A comment that makes ESLint report anything new (a
/// plugin forbidding or restricting directives) is not kept.
fn disable_waived_rules(
    memo: &Memo,
    root: &Path,
    package_dir: &Path,
    gates: &Gates,
    files: &mut [FileChange],
    outcome: &mut FormatOutcome,
) {
    let has_eslint = [GateTool::EslintFlat, GateTool::EslintLegacy]
        .iter()
        .any(|tool| gates.get(*tool).is_some_and(|g| g.binary.is_some()));
    if !has_eslint {
        return;
    }
    let extension = |path: &str| {
        Path::new(path)
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_owned()
    };
    let is_ts = |path: &str| matches!(extension(path).as_str(), "ts" | "tsx" | "mts" | "cts");
    let chosen: Vec<usize> = files
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            f.origin == FileOrigin::Generated
                && JS_EXTENSIONS.contains(&extension(&f.path).as_str())
        })
        .map(|(i, _)| i)
        .collect();
    let inputs: Vec<(String, String)> = chosen
        .iter()
        .map(|&i| {
            (
                stdin_path(root, package_dir, &files[i].path),
                files[i].after.clone(),
            )
        })
        .collect();
    let Batch::Ran(results) = run_eslint_batch(memo, package_dir, &inputs, &[]) else {
        return;
    };
    let reported = |result: &serde_json::Value| -> Vec<String> {
        result
            .get("rules")
            .and_then(|r| r.as_array())
            .map(|list| {
                list.iter()
                    .filter_map(|r| r.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    // (file index, text with the comments, rules reported before)
    let mut marked: Vec<(usize, String, Vec<String>)> = Vec::new();
    for (&i, result) in chosen.iter().zip(&results) {
        let before = reported(result);
        let file = &files[i];
        let directives: String = WAIVERS
            .iter()
            .filter(|w| !w.typescript_only || is_ts(&file.path))
            .filter_map(|w| {
                let rules: Vec<&str> = w
                    .rules
                    .iter()
                    .copied()
                    .filter(|rule| before.iter().any(|r| r == rule))
                    .collect();
                (!rules.is_empty()).then(|| {
                    format!(
                        "/* eslint-disable {} -- {} */\n",
                        rules.join(", "),
                        w.reason
                    )
                })
            })
            .collect();
        if directives.is_empty() {
            continue;
        }
        // Under the first line when it is the generated-file header, else on top.
        let at = if file.after.starts_with("// ") {
            file.after.find('\n').map_or(file.after.len(), |n| n + 1)
        } else {
            0
        };
        let mut text = file.after.clone();
        text.insert_str(at, &directives);
        marked.push((i, text, before));
    }
    if marked.is_empty() {
        return;
    }
    let inputs: Vec<(String, String)> = marked
        .iter()
        .map(|(i, text, _)| (stdin_path(root, package_dir, &files[*i].path), text.clone()))
        .collect();
    let Batch::Ran(results) = run_eslint_batch(memo, package_dir, &inputs, &[]) else {
        return;
    };
    for ((i, text, before), result) in marked.into_iter().zip(results) {
        let file = &mut files[i];
        let new_rules: Vec<String> = reported(&result)
            .into_iter()
            .filter(|r| !before.contains(r))
            .collect();
        if result.get("error").is_some() || !new_rules.is_empty() {
            outcome.warnings.push(format!(
                "`{}` (generated) breaks rules of your ESLint config knowingly; an \
                 `eslint-disable` comment for them was not added because ESLint then reports {}",
                file.path,
                if new_rules.is_empty() {
                    "an error".to_owned()
                } else {
                    new_rules.join(", ")
                }
            ));
            continue;
        }
        file.after = text;
        match outcome.formatted.iter_mut().find(|(p, _)| *p == file.path) {
            Some((_, tools)) => tools.push("eslint-disable"),
            None => outcome
                .formatted
                .push((file.path.clone(), vec!["eslint-disable"])),
        }
    }
}

/// The path a tool is told the stdin text has (config resolution, ignore files and
/// per-extension parsers all key on it): relative to the directory it runs in.
fn stdin_path(root: &Path, package_dir: &Path, rel: &str) -> String {
    let abs = root.join(rel);
    abs.strip_prefix(package_dir)
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_else(|_| abs.to_string_lossy().into_owned())
}

/// What one pipeline run formats: the text, the path the tools are told it has, and whether
/// the tool generated it (then fixes a tool calls unsafe may apply: the code is the tool's own).
struct Input<'a> {
    path: &'a str,
    text: &'a str,
    generated: bool,
}

/// Runs every step on the input's text; the tools that changed it are returned with the result.
fn pipeline(
    memo: &Memo,
    steps: &[Step<'_>],
    eslint: &EslintFixed,
    cwd: &Path,
    input: &Input<'_>,
    warnings: &mut Vec<String>,
    broken: &mut Vec<GateTool>,
) -> (String, Vec<&'static str>) {
    let Input {
        path,
        text,
        generated,
    } = *input;
    let mut current = text.to_owned();
    let mut changed_by = Vec::new();
    for step in steps {
        if broken.contains(&step.gate.tool) {
            continue;
        }
        // One tool failing does not stop the others: each step is an improvement on its own.
        let batched = matches!(
            step.gate.tool,
            GateTool::EslintFlat | GateTool::EslintLegacy
        )
        .then(|| eslint.get(&(path.to_owned(), current.clone())))
        .flatten();
        let next = match batched.map_or_else(
            || format_one(memo, step, cwd, path, &current, generated),
            |fixed| Ok(vec![fixed.clone()]),
        ) {
            Ok(next) => next,
            Err(reason) => {
                // A tool that fails once (a config it cannot read, a version mismatch) fails
                // on every file: say it once and do not run it again.
                broken.push(step.gate.tool);
                warnings.push(format!(
                    "{} could not format `{path}`, so it is not run on the files written by \
                     this plan: {reason}",
                    step.gate.tool.program()
                ));
                continue;
            }
        };
        for next in next {
            if next != current {
                changed_by.push(step.gate.tool.program());
                current = next;
            }
        }
    }
    changed_by.dedup();
    (current, changed_by)
}

/// One tool on `text`: the formatted text(s) in order (ruff fixes then formats).
fn format_one(
    memo: &Memo,
    step: &Step<'_>,
    cwd: &Path,
    path: &str,
    text: &str,
    generated: bool,
) -> Result<Vec<String>, String> {
    let args = |list: &[&str]| -> Vec<String> { list.iter().map(|s| (*s).to_owned()).collect() };
    let stdout_of = |argv: Vec<String>, input: &str, ok_codes: &[i32]| -> Result<String, String> {
        let out = memo.run(&step.binary, &argv, cwd, Some(input), FORMAT_TIMEOUT)?;
        if out.success || out.code.is_some_and(|c| ok_codes.contains(&c)) {
            Ok(out.stdout)
        } else {
            Err(first_lines(&out.stderr, &out.stdout))
        }
    };
    match step.gate.tool {
        GateTool::Prettier => Ok(vec![stdout_of(
            args(&["--stdin-filepath", path]),
            text,
            &[],
        )?]),
        // `check --write` = format + safe lint fixes + import sorting, what `biome check`
        // in CI verifies.
        // In a file this tool generates, Biome's unsafe fixes too (braces for
        // `useBlockStatements`, `_` for an unused parameter): they change only the tool's own
        // code, into the project's style (ai-chatbot's strict config: 35 of 51 new problems).
        GateTool::Biome => {
            let mut argv = vec!["check".to_owned(), "--write".to_owned()];
            if generated {
                argv.push("--unsafe".to_owned());
            }
            argv.push(format!("--stdin-file-path={path}"));
            Ok(vec![stdout_of(argv, text, &[])?])
        }
        GateTool::Dprint => Ok(vec![stdout_of(args(&["fmt", "--stdin", path]), text, &[])?]),
        GateTool::EslintFlat | GateTool::EslintLegacy => {
            // Exit 1 = problems remain (reported by the checks); the fixed text is in JSON.
            let json = stdout_of(
                args(&[
                    "--fix-dry-run",
                    "--format",
                    "json",
                    "--stdin",
                    "--stdin-filename",
                    path,
                ]),
                text,
                &[1],
            )?;
            let value: serde_json::Value = serde_json::from_str(&json)
                .map_err(|err| format!("unexpected ESLint output ({err})"))?;
            Ok(vec![
                value
                    .get(0)
                    .and_then(|r| r.get("output"))
                    .and_then(|o| o.as_str())
                    .unwrap_or(text)
                    .to_owned(),
            ])
        }
        GateTool::Ruff => {
            let mut argv = args(&[
                "check",
                "--fix",
                "--exit-zero",
                // Planning writes nothing into the project, not even a tool's cache.
                "--no-cache",
                "--quiet",
            ]);
            // The generated packages are first-party before they exist ([`ruff_first_party`]).
            argv.extend(step.extra_args.iter().cloned());
            argv.extend(args(&["--stdin-filename", path, "-"]));
            let fixed = stdout_of(argv, text, &[])?;
            let fixed = if fixed.is_empty() {
                text.to_owned()
            } else {
                fixed
            };
            let formatted = stdout_of(
                args(&["format", "--quiet", "--stdin-filename", path, "-"]),
                &fixed,
                &[],
            )?;
            Ok(vec![fixed, formatted])
        }
        GateTool::Black => Ok(vec![stdout_of(
            args(&["--quiet", "--stdin-filename", path, "-"]),
            text,
            &[],
        )?]),
        GateTool::Isort => {
            // isort passes stdin through untouched when `--filename` names a directory that
            // does not exist yet (a new package), so it is given no filename: only the
            // directory of the config detect found, the same for a new file and an old one.
            let mut argv = args(&["-"]);
            if let Some(dir) = &step.config_dir {
                argv.extend(["--settings-path".to_owned(), dir.display().to_string()]);
            }
            argv.extend(step.extra_args.iter().cloned());
            Ok(vec![stdout_of(argv, text, &[])?])
        }
        GateTool::Gofmt => Ok(vec![stdout_of(Vec::new(), text, &[])?]),
        // Not formatters, or not runnable on stdin (reported by the checks instead).
        _ => Ok(Vec::new()),
    }
}

/// The project's ruff rules a generated file still breaks after `--fix` (a strict selection:
/// docstring conventions, bandit, annotations), each suppressed where ruff says a directive
/// goes (`noqa_row`: the closing line of a multi-line string), as `ruff check --add-noqa`
/// does, but on the planned text. Only in files this tool generates: the user's own files
/// are never marked. `None` when nothing is left to mark.
fn ruff_noqa(
    memo: &Memo,
    step: &Step<'_>,
    cwd: &Path,
    path: &str,
    text: &str,
) -> Result<Option<String>, String> {
    let mut argv: Vec<String> = [
        "check",
        "--exit-zero",
        "--no-cache",
        "--output-format",
        "json",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    argv.extend(step.extra_args.iter().cloned());
    argv.extend([
        "--stdin-filename".to_owned(),
        path.to_owned(),
        "-".to_owned(),
    ]);
    let out = memo.run(&step.binary, &argv, cwd, Some(text), FORMAT_TIMEOUT)?;
    if !out.success {
        return Err(first_lines(&out.stderr, &out.stdout));
    }
    let found: serde_json::Value = serde_json::from_str(&out.stdout)
        .map_err(|err| format!("unexpected ruff output ({err})"))?;
    let mut codes: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for item in found.as_array().into_iter().flatten() {
        // A syntax error has no code and cannot be suppressed: the checks report it.
        let (Some(code), Some(row)) = (
            item.get("code").and_then(|c| c.as_str()),
            item.get("noqa_row").and_then(serde_json::Value::as_u64),
        ) else {
            continue;
        };
        add_noqa_code(&mut codes, usize::try_from(row).unwrap_or(usize::MAX), code);
    }
    if codes.is_empty() {
        return Ok(None);
    }
    // ruff's `noqa_row` is already the line a comment can go on (the closing line of a
    // multi-line string).
    Ok(Some(mark_noqa(text, &codes, |_| true)))
}

/// The project's flake8 codes a generated Python file still breaks after formatting (the
/// 129-character header line under `max-line-length = 119`, a long message string:
/// thenewboston-backend), each suppressed with `# noqa: CODE` on the line flake8 names, as
/// [`ruff_noqa`] does for ruff. flake8 reads its config from the directory it runs in: the
/// config's directory when detect found one, else the package. A line inside a triple-quoted
/// string or ending in a continuation is left alone (a comment there would change the
/// string or break the line); the checks report it. `None` when nothing is left to mark.
fn flake8_noqa(
    memo: &Memo,
    gate: &Gate,
    binary: &Path,
    root: &Path,
    package_dir: &Path,
    rel: &str,
    text: &str,
) -> Result<Option<String>, String> {
    let cwd = gate
        .config
        .as_ref()
        .and_then(|c| root.join(c).parent().map(Path::to_path_buf))
        .unwrap_or_else(|| package_dir.to_path_buf());
    let display = stdin_path(root, &cwd, rel);
    let argv: Vec<String> = [
        "--exit-zero",
        "--format",
        "%(row)d:%(code)s",
        "--stdin-display-name",
        &display,
        "-",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    let out = memo.run(binary, &argv, &cwd, Some(text), FORMAT_TIMEOUT)?;
    if !out.success {
        return Err(first_lines(&out.stderr, &out.stdout));
    }
    let mut codes: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    for line in out.stdout.lines() {
        let Some((row, code)) = line.trim().split_once(':') else {
            continue;
        };
        let (Ok(row), code) = (row.parse::<usize>(), code.trim()) else {
            continue;
        };
        // E999 is a syntax error: not suppressible, the checks report it.
        if code.is_empty() || code.starts_with("E9") {
            continue;
        }
        add_noqa_code(&mut codes, row, code);
    }
    if codes.is_empty() {
        return Ok(None);
    }
    // flake8 names the physical line: one inside a triple-quoted string or ending in a
    // continuation cannot take a comment.
    let mut in_string = [false, false];
    let marked = mark_noqa(text, &codes, |body| {
        let starts_inside = in_string.iter().any(|s| *s);
        for (k, quotes) in ["\"\"\"", "\'\'\'"].iter().enumerate() {
            if body.matches(quotes).count() % 2 == 1 {
                in_string[k] = !in_string[k];
            }
        }
        let ends_inside = in_string.iter().any(|s| *s);
        !starts_inside && !ends_inside && !body.trim_end().ends_with('\\')
    });
    Ok((marked != text).then_some(marked))
}

/// Adds `code` to the codes to suppress on line `row` (1-based), once.
fn add_noqa_code(codes: &mut BTreeMap<usize, Vec<String>>, row: usize, code: &str) {
    let list = codes.entry(row).or_default();
    if !list.iter().any(|c| c == code) {
        list.push(code.to_owned());
    }
}

/// `text` with `  # noqa: CODES` appended to each line `codes` names (joined to an existing
/// `# noqa: ` list), where `can_mark(line)` agrees. `can_mark` sees every line in order, so it
/// may track state across lines.
fn mark_noqa(
    text: &str,
    codes: &BTreeMap<usize, Vec<String>>,
    mut can_mark: impl FnMut(&str) -> bool,
) -> String {
    let mut marked = String::with_capacity(text.len() + codes.len() * 16);
    for (i, line) in text.split_inclusive('\n').enumerate() {
        let (body, end) = line
            .strip_suffix('\n')
            .map_or((line, ""), |body| (body, "\n"));
        let markable = can_mark(body);
        marked.push_str(body);
        if let Some(list) = codes.get(&(i + 1))
            && markable
        {
            let sep = if body.contains("# noqa: ") {
                ", "
            } else {
                "  # noqa: "
            };
            marked.push_str(sep);
            marked.push_str(&list.join(", "));
        }
        marked.push_str(end);
    }
    marked
}

fn first_lines(stderr: &str, stdout: &str) -> String {
    let text = if stderr.trim().is_empty() {
        stdout
    } else {
        stderr
    };
    let all: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    // A Python traceback says what went wrong on its last line.
    let lines: Vec<&str> = if all.first().is_some_and(|l| l.starts_with("Traceback")) {
        all[all.len().saturating_sub(1)..].to_vec()
    } else {
        all.into_iter().take(3).collect()
    };
    if lines.is_empty() {
        "it exited with an error and printed nothing".to_owned()
    } else {
        lines.join(" / ")
    }
}

#[cfg(test)]
mod tests {
    use billing_changeset::FileAction;

    use super::*;

    /// ruff's `--show-settings` block of known modules: the first-party patterns, none when
    /// the block is empty, `None` without it.
    #[test]
    fn ruff_known_first_party_reads_the_settings_block() {
        let set = "linter.src = [\n\t\"/p\",\n]\nlinter.isort.known_modules = {\n\tfoo => Known(FirstParty),\n\tbar* => Known(FirstParty),\n\tbaz => Known(ThirdParty),\n}\nlinter.isort.order_by_type = true\n";
        assert_eq!(
            ruff_known_first_party(set),
            Some(vec!["foo".to_owned(), "bar*".to_owned()])
        );
        assert_eq!(
            ruff_known_first_party("linter.isort.known_modules = {}\n"),
            Some(Vec::new())
        );
        assert_eq!(ruff_known_first_party("nothing"), None);
    }

    fn generated(path: &str) -> FileChange {
        FileChange {
            path: path.to_owned(),
            action: FileAction::Create,
            origin: FileOrigin::Generated,
            before: None,
            after: String::new(),
            summary: String::new(),
        }
    }

    /// gemini-chatbot: the wiring's `@/lib/spaire/usage` import names the generated
    /// `lib/spaire/usage.ts`; the file's own imports, relative ones and packages do not.
    #[test]
    fn alias_imports_of_generated_modules_are_found() {
        let before = "import { z } from \"zod\";\nimport { db } from \"@/db/queries\";\n";
        let after = format!(
            "{before}import {{ recordLlmUsage }} from \"@/lib/spaire/usage\";\n\
             import {{ x }} from './lib/spaire/recorder'\n\
             const m = await import('$lib/server/spaire/webhooks.js')\n\
             import {{ y }} from \"@acme/usage\";\n"
        );
        let files = vec![
            generated("lib/spaire/usage.ts"),
            generated("lib/spaire/recorder.ts"),
            generated("src/lib/server/spaire/webhooks.ts"),
            FileChange::wired_edit("ai/actions.ts", before.to_owned(), after, "wiring"),
        ];
        assert_eq!(
            generated_module_specifiers(&files),
            ["@/lib/spaire/usage", "$lib/server/spaire/webhooks.js"]
        );
        // Only new specifiers: an import the file already had is the project's business.
        let files = vec![
            generated("lib/spaire/usage.ts"),
            FileChange::wired_edit(
                "a.ts",
                "import { a } from \"~/lib/spaire/usage\";\n".to_owned(),
                "import { a, b } from \"~/lib/spaire/usage\";\n".to_owned(),
                "wiring",
            ),
        ];
        assert!(generated_module_specifiers(&files).is_empty());
    }
}
