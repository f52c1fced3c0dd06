//! Orchestration tests with in-test producers (the real generators are tested in their own
//! crates and end to end through the CLI): plan → apply → re-plan → undo on real directories.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use billing_changeset::{ChangeSet, FileAction, FileChange, FileOrigin, PackageInstall};
use billing_detect::ProjectProfile;

use crate::*;

/// Every file and directory under `root` with its bytes (directories map to `None`).
fn tree(root: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                out.insert(rel, None);
                stack.push(path);
            } else {
                out.insert(rel, Some(std::fs::read(&path).unwrap()));
            }
        }
    }
    out
}

const APP: &str = "import express from 'express';\nconst app = express();\napp.listen(3000);\n";
const PLAN: &str = "environment = \"sandbox\"\n[[meters]]\npreset = \"api-calls\"\n";

fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("src/app.ts"), APP).unwrap();
    // The SDK is already a dependency, so no test runs a real package manager by accident.
    std::fs::write(
        dir.path().join("package.json"),
        "{\"name\":\"demo\",\"dependencies\":{\"@spaire/sdk\":\"^0.45.1\"}}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("spaire-billing.toml"), PLAN).unwrap();
    dir
}

fn profile(root: &Path) -> ProjectProfile {
    serde_json::from_value(serde_json::json!({
        "schema_version": 1,
        "root": root.display().to_string(),
        "packages": [{
            "path": ".",
            "language": "typescript",
            "package_manager": {"id": "pnpm", "evidence": []},
            "frameworks": [],
            "aliases": [],
            "integrations": [],
            "call_sites": [],
            "env_vars": []
        }],
        "warnings": [],
        "notes": []
    }))
    .unwrap()
}

/// A producer whose output is computed from the file on disk, like the real ones.
struct Fake {
    generated: Arc<Mutex<String>>,
    install: bool,
}

impl Producer for Fake {
    fn name(&self) -> &'static str {
        "fake generator"
    }

    fn produce(&self, cx: &ProduceContext<'_>) -> anyhow::Result<ChangeSet> {
        let app = cx.project.read_text("src/app.ts")?.unwrap();
        let wired = if app.contains("meter") {
            app.clone()
        } else {
            app.replace(
                "const app = express();\n",
                "const app = express();\napp.use(meter);\n",
            )
        };
        let mut changes = ChangeSet {
            files: vec![
                FileChange {
                    path: "src/lib/spaire/usage.ts".into(),
                    action: FileAction::Create,
                    origin: FileOrigin::Generated,
                    before: None,
                    after: self.generated.lock().unwrap().clone(),
                    summary: "usage helpers".into(),
                },
                FileChange {
                    path: "src/app.ts".into(),
                    action: FileAction::Modify,
                    origin: FileOrigin::Wired,
                    before: Some(app),
                    after: wired,
                    summary: "registers the meter".into(),
                },
            ],
            ..ChangeSet::default()
        };
        if self.install {
            changes.installs.push(PackageInstall {
                cwd: ".".into(),
                argv: vec![
                    "sh".into(),
                    "-c".into(),
                    "echo lock > pnpm-lock.yaml && echo '{\"dependencies\":{\"@spaire/sdk\":\"^0.45.1\"}}' > package.json && echo installed".into(),
                ],
                packages: vec!["@spaire/sdk".into()],
            });
        }
        Ok(changes)
    }
}

/// A second producer editing another part of the same file.
struct Wire;

impl Producer for Wire {
    fn name(&self) -> &'static str {
        "fake wiring"
    }

    fn produce(&self, cx: &ProduceContext<'_>) -> anyhow::Result<ChangeSet> {
        let app = cx.project.read_text("src/app.ts")?.unwrap();
        let after = if app.contains("// listening") {
            app.clone()
        } else {
            app.replace("app.listen(3000);\n", "app.listen(3000);\n// listening\n")
        };
        Ok(ChangeSet {
            files: vec![FileChange {
                path: "src/app.ts".into(),
                action: FileAction::Modify,
                origin: FileOrigin::Wired,
                before: Some(app),
                after,
                summary: "wires call sites".into(),
            }],
            ..ChangeSet::default()
        })
    }
}

fn engine(generated: &Arc<Mutex<String>>, install: bool) -> Engine {
    Engine::default().with_producers(vec![
        Arc::new(Fake {
            generated: generated.clone(),
            install,
        }),
        Arc::new(Wire),
    ])
}

fn options(root: &Path) -> PlanOptions {
    PlanOptions {
        root: root.to_path_buf(),
        profile: Some(profile(root)),
        ..PlanOptions::default()
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn plan_apply_replan_undo_round_trip() {
    let dir = project();
    // Without the SDK: the (fake) install runs and adds it.
    std::fs::write(dir.path().join("package.json"), "{\"name\":\"demo\"}\n").unwrap();
    let original = tree(dir.path());
    let generated = Arc::new(Mutex::new("// generated v1\n".to_owned()));
    let engine = engine(&generated, true);

    let preview = block_on(engine.plan(&options(dir.path()))).unwrap();
    let paths: Vec<&str> = preview
        .changes
        .files
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    assert_eq!(
        paths,
        ["src/lib/spaire/usage.ts", "src/app.ts", ".gitignore"]
    );
    // Both producers' edits of src/app.ts are merged into one change.
    assert!(preview.changes.files[1].after.contains("app.use(meter);\n"));
    assert!(preview.changes.files[1].after.contains("// listening\n"));
    assert_eq!(
        preview.changes.installs.len(),
        1,
        "the SDK install is not duplicated"
    );
    assert!(
        preview
            .text
            .contains(&format!("Plan hash: {}", preview.hash))
    );
    assert!(preview.conflicts.is_empty());
    assert_eq!(tree(dir.path()), original, "plan writes nothing");

    let report = block_on(engine.apply(
        &ApplyOptions {
            plan: options(dir.path()),
            expected_hash: Some(preview.hash.clone()),
            yes: true,
            ..ApplyOptions::default()
        },
        &mut Answer(false),
    ))
    .unwrap();
    assert!(!report.nothing_to_do);
    assert!(
        matches!(report.installs[0].outcome, InstallOutcome::Succeeded { ref output } if output == &["installed"])
    );
    let lock = std::fs::read_to_string(dir.path().join(".spaire-billing/lock.json")).unwrap();
    assert!(lock.contains("src/lib/spaire/usage.ts"));
    assert!(
        !lock.contains("src/app.ts"),
        "wired user files are not locked: {lock}"
    );

    // Applying the same plan again changes nothing.
    let after_first = tree(dir.path());
    let again = block_on(engine.plan(&options(dir.path()))).unwrap();
    assert!(again.is_noop(), "{}", again.text);
    let second = block_on(engine.apply(
        &ApplyOptions {
            plan: options(dir.path()),
            yes: true,
            ..ApplyOptions::default()
        },
        &mut Answer(false),
    ))
    .unwrap();
    assert!(second.nothing_to_do);
    assert_eq!(tree(dir.path()), after_first);

    let undone = block_on(engine.undo(&UndoOptions {
        root: dir.path().to_path_buf(),
        force: false,
        forget_missing: false,
    }))
    .unwrap();
    assert_eq!(undone.plan_hash, preview.hash);
    assert_eq!(
        tree(dir.path()),
        original,
        "undo restores the project byte for byte"
    );
}

#[test]
fn apply_refuses_a_plan_hash_the_project_no_longer_matches() {
    let dir = project();
    let generated = Arc::new(Mutex::new("// generated v1\n".to_owned()));
    let engine = engine(&generated, false);
    let preview = block_on(engine.plan(&options(dir.path()))).unwrap();
    std::fs::write(dir.path().join("src/app.ts"), format!("{APP}// edited\n")).unwrap();
    let before = tree(dir.path());
    let err = block_on(engine.apply(
        &ApplyOptions {
            plan: options(dir.path()),
            expected_hash: Some(preview.hash),
            yes: true,
            ..ApplyOptions::default()
        },
        &mut Answer(true),
    ))
    .unwrap_err();
    assert!(err.to_string().contains("the plan changed since"), "{err}");
    assert_eq!(tree(dir.path()), before);
}

/// Says yes to applying, no to overwriting edited files, and remembers what it was asked.
struct YesButKeepMyEdits(Vec<String>);

impl ApplyHooks for YesButKeepMyEdits {
    fn confirm(&mut self, question: &Question<'_>) -> anyhow::Result<bool> {
        Ok(match question {
            Question::OverwriteEdited { conflict } => {
                self.0.push(conflict.diff.clone());
                false
            }
            _ => true,
        })
    }
}

#[test]
fn a_user_edited_generated_file_is_never_overwritten_silently() {
    let dir = project();
    let generated = Arc::new(Mutex::new("// generated v1\n".to_owned()));
    let engine = engine(&generated, false);
    let apply = |yes: bool, overwrite_edited: bool, hooks: &mut dyn ApplyHooks| {
        block_on(engine.apply(
            &ApplyOptions {
                plan: options(dir.path()),
                yes,
                overwrite_edited,
                ..ApplyOptions::default()
            },
            hooks,
        ))
    };
    apply(true, false, &mut Answer(true)).unwrap();
    let usage = dir.path().join("src/lib/spaire/usage.ts");
    std::fs::write(&usage, "// generated v1\n// my tweak\n").unwrap();
    *generated.lock().unwrap() = "// generated v2\n".to_owned();

    let preview = block_on(engine.plan(&options(dir.path()))).unwrap();
    assert_eq!(preview.conflicts.len(), 1);
    assert_eq!(
        preview.conflicts[0].reason,
        ConflictReason::EditedSinceGenerated
    );

    // --yes alone is not enough: a usage error naming the flag.
    let err = apply(true, false, &mut Answer(true)).unwrap_err();
    assert!(billing_errors::is_usage_error(err.as_ref()), "{err}");
    assert!(billing_errors::hints_in_chain(err.as_ref())[0].contains("--overwrite-edited"));
    // Declining on a terminal keeps the edit and changes nothing; the question showed a diff.
    let mut hooks = YesButKeepMyEdits(Vec::new());
    let err = apply(false, false, &mut hooks).unwrap_err();
    assert!(err.downcast_ref::<Cancelled>().is_some(), "{err}");
    assert!(hooks.0[0].contains("-// my tweak"), "{}", hooks.0[0]);
    assert_eq!(
        std::fs::read_to_string(&usage).unwrap(),
        "// generated v1\n// my tweak\n"
    );
    // An explicit yes overwrites.
    apply(true, true, &mut Answer(true)).unwrap();
    assert_eq!(
        std::fs::read_to_string(&usage).unwrap(),
        "// generated v2\n"
    );
}

#[test]
fn a_plan_given_as_answers_is_saved_into_the_plan_file() {
    let dir = project();
    std::fs::write(
        dir.path().join("spaire-billing.toml"),
        format!("# my comment\n{PLAN}"),
    )
    .unwrap();
    let generated = Arc::new(Mutex::new("// generated v1\n".to_owned()));
    let engine = engine(&generated, false);
    let mut plan = billing_plan::parse("p", PLAN).unwrap();
    plan.meters
        .extend(billing_plan::preset("storage").unwrap().meters);
    let mut opts = options(dir.path());
    opts.plan = Some(plan.clone());
    let preview = block_on(engine.plan(&opts)).unwrap();
    let file = &preview.changes.files[0];
    assert_eq!(file.path, "spaire-billing.toml");
    assert!(file.after.starts_with("# my comment\n"));
    assert!(file.after.contains("preset = \"storage\""));
    // The plan is validated like a file.
    plan.meters[0].name = "x".into();
    opts.plan = Some(plan);
    let err = block_on(engine.plan(&opts)).unwrap_err();
    assert!(format!("{err:#}").contains("meters[0].name"), "{err:#}");
}

#[test]
fn missing_plan_file_and_unknown_package_explain_what_to_do() {
    let dir = project();
    let generated = Arc::new(Mutex::new(String::new()));
    let engine = engine(&generated, false);
    std::fs::write(
        dir.path().join("spaire-billing.toml"),
        format!("{PLAN}[project]\npath = \"apps/web\"\n"),
    )
    .unwrap();
    let err = block_on(engine.plan(&options(dir.path()))).unwrap_err();
    assert!(
        err.to_string()
            .contains("`[project] path = \"apps/web\"` is not one of the packages found: `.`"),
        "{err}"
    );
    std::fs::remove_file(dir.path().join("spaire-billing.toml")).unwrap();
    let err = block_on(engine.plan(&options(dir.path()))).unwrap_err();
    assert!(
        err.to_string().starts_with("no `spaire-billing.toml` in"),
        "{err}"
    );
    assert!(billing_errors::hints_in_chain(err.as_ref())[0].contains("spaire-billing setup"));
}

#[test]
fn sdk_install_uses_the_projects_package_manager() {
    let mut package = profile(Path::new("/p")).packages.remove(0);
    let command = |package: &billing_detect::Package| {
        crate::produce::sdk_install_command(package)
            .unwrap()
            .join(" ")
    };
    assert_eq!(command(&package), "pnpm add @spaire/sdk");
    for (id, expected) in [
        ("npm", "npm install @spaire/sdk"),
        ("yarn", "yarn add @spaire/sdk"),
        ("bun", "bun add @spaire/sdk"),
    ] {
        package.package_manager =
            serde_json::from_value(serde_json::json!({"id": id, "evidence": []})).unwrap();
        assert_eq!(command(&package), expected);
    }
    package.language = billing_detect::Language::Python;
    for (id, expected) in [
        ("uv", "uv add spaire-sdk"),
        ("poetry", "poetry add spaire-sdk"),
        ("pipenv", "pipenv install spaire-sdk"),
        ("pip", "python -m pip install spaire-sdk"),
    ] {
        package.package_manager =
            serde_json::from_value(serde_json::json!({"id": id, "evidence": []})).unwrap();
        assert_eq!(command(&package), expected);
    }
}

#[test]
fn plain_pip_projects_get_the_install_and_the_requirements_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("requirements.txt"), "fastapi==0.115.0").unwrap();
    std::fs::write(dir.path().join("spaire-billing.toml"), PLAN).unwrap();
    let mut profile = profile(dir.path());
    profile.packages[0].language = billing_detect::Language::Python;
    profile.packages[0].package_manager =
        serde_json::from_value(serde_json::json!({"id": "pip", "evidence": []})).unwrap();
    let engine = Engine::default()
        .with_producers(Vec::new())
        .with_remote(Arc::new(NoRemote));
    let options = PlanOptions {
        root: dir.path().to_path_buf(),
        profile: Some(profile),
        ..PlanOptions::default()
    };
    let preview = block_on(engine.plan(&options)).unwrap();
    let requirements = preview
        .changes
        .files
        .iter()
        .find(|f| f.path == "requirements.txt")
        .unwrap();
    // pip's resolver pins the SDK like the file pins fastapi; offline it stays unpinned.
    let line = requirements
        .after
        .strip_prefix("fastapi==0.115.0\n")
        .and_then(|rest| rest.strip_suffix('\n'))
        .unwrap();
    assert!(
        line == "spaire-sdk" || line.starts_with("spaire-sdk=="),
        "{line}"
    );
    // The install is exactly that line, constrained by the file: no pinned package moves.
    assert_eq!(
        preview.changes.installs[0].argv,
        [
            "python",
            "-m",
            "pip",
            "install",
            line,
            "-c",
            "requirements.txt"
        ]
    );
    // Once listed, neither the line nor the install is planned again.
    std::fs::write(
        dir.path().join("requirements.txt"),
        "fastapi==0.115.0\nspaire-sdk>=0.28\n",
    )
    .unwrap();
    let preview = block_on(engine.plan(&options)).unwrap();
    assert!(
        preview.changes.installs.is_empty(),
        "{:?}",
        preview.changes.installs
    );
    assert!(preview.changes.files.is_empty());
}

/// A remote backend that records what it was asked, with state kept like billing-remote's.
#[derive(Default)]
struct FakeRemote {
    undone: Mutex<Vec<serde_json::Value>>,
}

impl RemoteBackend for FakeRemote {
    fn plan<'a>(
        &'a self,
        request: RemotePlanRequest<'a>,
    ) -> remote::BoxFuture<'a, anyhow::Result<RemotePlanned>> {
        let created = request.state["meter"].is_string();
        let env = request.environment.as_str().to_owned();
        Box::pin(async move {
            Ok(RemotePlanned {
                steps: vec![billing_changeset::RemoteStep {
                    key: "meter:api-calls".into(),
                    object: "meter".into(),
                    action: if created {
                        billing_changeset::RemoteAction::Reuse
                    } else {
                        billing_changeset::RemoteAction::Create
                    },
                    environment: env,
                    summary: "meter `api-calls`".into(),
                    request: serde_json::json!({"name": "api-calls"}),
                    dashboard_steps: Vec::new(),
                }],
                notes: Vec::new(),
            })
        })
    }

    fn apply<'a>(
        &'a self,
        request: RemotePlanRequest<'a>,
        steps: &'a [billing_changeset::RemoteStep],
        _journal: remote::RemoteJournal<'a>,
    ) -> remote::BoxFuture<'a, RemoteOutcome> {
        let before = request.state.clone();
        let count = steps.len();
        Box::pin(async move {
            RemoteOutcome {
                state: serde_json::json!({"meter": "id-1"}),
                undo_records: vec![serde_json::json!({"before": before})],
                completed: vec![format!("created {count} object(s)")],
                ..RemoteOutcome::default()
            }
        })
    }

    fn undo<'a>(
        &'a self,
        request: RemoteUndoRequest<'a>,
    ) -> remote::BoxFuture<'a, anyhow::Result<RemoteUndone>> {
        self.undone.lock().unwrap().push(request.state.clone());
        Box::pin(async {
            Ok(RemoteUndone {
                lines: vec!["archived meter".into()],
                state: serde_json::Value::Null,
                ..RemoteUndone::default()
            })
        })
    }
}

#[test]
fn remote_steps_are_hashed_applied_locked_and_undone() {
    let dir = project();
    let original = tree(dir.path());
    let remote = Arc::new(FakeRemote::default());
    let generated = Arc::new(Mutex::new("// generated v1\n".to_owned()));
    let engine = engine(&generated, false).with_remote(remote.clone());
    let preview = block_on(engine.plan(&options(dir.path()))).unwrap();
    assert!(
        preview.text.contains("[sandbox] meter `api-calls`"),
        "{}",
        preview.text
    );
    let mut production = options(dir.path());
    production.environment = Some(billing_plan::Environment::Production);
    let other = block_on(engine.plan(&production)).unwrap();
    assert_ne!(
        other.hash, preview.hash,
        "the environment is part of the hash"
    );

    // Production asks its own question.
    struct NoToProduction;
    impl ApplyHooks for NoToProduction {
        fn confirm(&mut self, question: &Question<'_>) -> anyhow::Result<bool> {
            Ok(!matches!(question, Question::Production { .. }))
        }
    }
    let err = block_on(engine.apply(
        &ApplyOptions {
            plan: production,
            ..ApplyOptions::default()
        },
        &mut NoToProduction,
    ))
    .unwrap_err();
    assert!(err.downcast_ref::<Cancelled>().is_some(), "{err}");
    assert_eq!(tree(dir.path()), original);

    let report = block_on(engine.apply(
        &ApplyOptions {
            plan: options(dir.path()),
            expected_hash: Some(preview.hash.clone()),
            yes: true,
            ..ApplyOptions::default()
        },
        &mut Answer(false),
    ))
    .unwrap();
    assert_eq!(report.remote_completed, ["created 1 object(s)"]);
    let lock: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dir.path().join(".spaire-billing/lock.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(lock["environments"]["sandbox"]["meter"], "id-1");
    // Reused remote objects and unchanged files: nothing to do.
    assert!(
        block_on(engine.plan(&options(dir.path())))
            .unwrap()
            .is_noop()
    );

    let undone = block_on(engine.undo(&UndoOptions {
        root: dir.path().to_path_buf(),
        force: false,
        forget_missing: false,
    }))
    .unwrap();
    assert_eq!(undone.remote, ["archived meter"]);
    assert_eq!(
        remote.undone.lock().unwrap()[0]["meter"],
        "id-1",
        "undo sees the state to revert"
    );
    assert_eq!(tree(dir.path()), original);
}

/// The plan ⇔ code invariant, checked on the real generators: every meter's event name and
/// aggregated property appear in the generated code, and the generators' key tables agree
/// with the plan's.
#[test]
fn generated_code_sends_the_events_and_keys_the_meters_count() {
    use billing_plan::MeterKind;
    for kind in [
        MeterKind::LlmTokens,
        MeterKind::ApiCalls,
        MeterKind::Storage,
        MeterKind::ComputeTime,
    ] {
        assert_eq!(
            billing_generate::typescript::metadata_keys_written(kind),
            Some(billing_plan::presets::metadata_keys(kind)),
            "{kind:?}"
        );
    }
    let plan_text = "[[meters]]\npreset = \"llm-tokens-split\"\n[[meters]]\npreset = \"api-calls\"\n\
                     [[meters]]\npreset = \"storage\"\n[[meters]]\npreset = \"compute-time\"\n\
                     [[meters]]\nname = \"images\"\nevent = \"image-generated\"\n\
                     aggregation = \"sum\"\nproperty = \"pixels\"\n";
    let plan = billing_plan::parse("p", plan_text).unwrap();
    for language in ["typescript", "python"] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("spaire-billing.toml"), plan_text).unwrap();
        let mut profile = profile(dir.path());
        if language == "python" {
            std::fs::write(
                dir.path().join("main.py"),
                "from fastapi import FastAPI\napp = FastAPI()\n",
            )
            .unwrap();
            profile.packages[0].language = billing_detect::Language::Python;
            profile.packages[0].package_manager =
                serde_json::from_value(serde_json::json!({"id": "uv", "evidence": []})).unwrap();
        } else {
            std::fs::write(dir.path().join("package.json"), "{\"name\":\"x\"}\n").unwrap();
        }
        let engine = Engine::default().with_remote(Arc::new(NoRemote));
        let preview = block_on(engine.plan(&PlanOptions {
            root: dir.path().to_path_buf(),
            profile: Some(profile),
            ..PlanOptions::default()
        }))
        .unwrap();
        let code: String = preview
            .changes
            .files
            .iter()
            .map(|f| f.after.as_str())
            .collect();
        for meter in &plan.meters {
            assert!(
                code.contains(&format!("\"{}\"", meter.event)),
                "{language}: no code sends `{}`",
                meter.event
            );
            if let Some(property) = &meter.aggregation.property {
                assert!(
                    code.contains(property.as_str()),
                    "{language}: `{property}` never written"
                );
            }
        }
    }
}

/// Sends Ctrl-C to this process while apply writes files.
#[cfg(unix)]
struct CtrlCWhileWriting;

#[cfg(unix)]
impl ApplyHooks for CtrlCWhileWriting {
    fn confirm(&mut self, _question: &Question<'_>) -> anyhow::Result<bool> {
        Ok(true)
    }

    fn event(&mut self, event: &Event<'_>) {
        if matches!(event, Event::Wrote { .. }) {
            let status = std::process::Command::new("kill")
                .args(["-INT", &std::process::id().to_string()])
                .status()
                .unwrap();
            assert!(status.success());
        }
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_while_writing_files_puts_every_file_back() {
    let dir = project();
    let original = tree(dir.path());
    let generated = Arc::new(Mutex::new("// generated v1\n".to_owned()));
    let engine = engine(&generated, false).with_interrupt_guard(true);
    let err = block_on(engine.apply(
        &ApplyOptions {
            plan: options(dir.path()),
            yes: true,
            ..ApplyOptions::default()
        },
        &mut CtrlCWhileWriting,
    ))
    .unwrap_err();
    assert!(err.to_string().contains("interrupted (Ctrl-C)"), "{err}");
    assert_eq!(tree(dir.path()), original);
}

/// Go, PHP and Ruby generators import no SDK (standard library only), so their plans
/// install none and `status` never reports one missing; TypeScript still gets its SDK.
#[test]
fn only_imported_packages_are_installed_or_reported_missing() {
    use billing_detect::Language;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("spaire-billing.toml"), PLAN).unwrap();
    let plan = billing_plan::parse("spaire-billing.toml", PLAN).unwrap();
    let engine = Engine::default()
        .with_producers(Vec::new())
        .with_remote(Arc::new(NoRemote));
    for language in [
        Language::Go,
        Language::Php,
        Language::Ruby,
        Language::TypeScript,
    ] {
        let mut profile = profile(dir.path());
        profile.packages[0].language = language;
        profile.packages[0].package_manager = None;
        profile.packages[0].integrations.clear();
        let package = &profile.packages[0];
        let options = PlanOptions {
            root: dir.path().to_path_buf(),
            profile: Some(profile.clone()),
            ..PlanOptions::default()
        };
        let preview = block_on(engine.plan(&options)).unwrap();
        let installs: Vec<&[String]> = preview
            .changes
            .installs
            .iter()
            .map(|i| i.packages.as_slice())
            .collect();
        let project = billing_apply::Project::open(dir.path()).unwrap();
        let sdk = crate::status::sdk_status(&project, &profile, &plan);
        if language == Language::TypeScript {
            assert_eq!(installs, [["@spaire/sdk".to_owned()]]);
            let sdk = sdk.expect("TypeScript code imports the SDK");
            assert!(!sdk.installed);
            assert_eq!(
                sdk.install_command.as_deref(),
                Some("npm install @spaire/sdk")
            );
        } else {
            assert!(installs.is_empty(), "{language:?}: {installs:?}");
            assert!(sdk.is_none(), "{language:?}: {sdk:?}");
            assert!(crate::produce::sdk_installed(package));
            assert_eq!(crate::produce::sdk_install_command(package), None);
            assert_eq!(crate::produce::sdk_package(language), None);
        }
    }
}
