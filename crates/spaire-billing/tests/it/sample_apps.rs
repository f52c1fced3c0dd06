//! A repository whose only app is sample code under `examples/` (openai-quickstart-python):
//! one sample app is set up, with the directory named; several are listed, none chosen, and
//! `--package` picks one.

use crate::common::{billing, copy_fixture, transcript};

fn plan_json(dir: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let output = billing()
        .env("SPAIRE_BILLING_PYTHON", "off")
        .arg("plan")
        .arg(dir)
        .arg("--json")
        .args(extra)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, &[])
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn detect_json(dir: &std::path::Path) -> serde_json::Value {
    let output = billing()
        .args(["detect", "--json", "-v"])
        .arg(dir)
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, &[])
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn paths(preview: &serde_json::Value) -> Vec<String> {
    preview["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_only_sample_app_is_set_up_and_named() {
    let dir = copy_fixture("plan", "flask-one-sample");
    let profile = detect_json(dir.path());
    let packages = profile["packages"].as_array().unwrap();
    assert_eq!(packages.len(), 1, "{profile:#}");
    let flask = &packages[0]["frameworks"][0];
    assert_eq!(flask["details"]["entry_file"], "examples/chat/app.py");
    assert!(
        flask["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["file"] == "examples/chat/app.py"),
        "{flask:#}"
    );
    // `detect` says which directory it chose.
    let human = billing().arg("detect").arg(dir.path()).output().unwrap();
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.lines()
            .next()
            .is_some_and(|l| l.contains("app in sample code `examples/chat/`")),
        "{text}"
    );
    // The call sites in the app and in the CLI script beside it (no app there) are both
    // found: every model call is at least listed.
    let sites: Vec<&str> = packages[0]["call_sites"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["kind"] != "route-handler")
        .map(|c| c["file"].as_str().unwrap())
        .collect();
    assert_eq!(sites, ["examples/chat/app.py", "examples/cli/ask.py"]);

    let preview = plan_json(dir.path(), &[]);
    let files = paths(&preview);
    // Generated beside the app it imports from; the app's call is wired; the requirement
    // goes to the root's requirements.txt.
    for path in [
        "examples/chat/spaire_billing/usage.py",
        "examples/chat/app.py",
        "requirements.txt",
    ] {
        assert!(files.iter().any(|f| f == path), "{path}: {files:?}");
    }
    // The script is not edited (it cannot import the package beside the app): listed.
    assert!(
        !files.iter().any(|f| f == "examples/cli/ask.py"),
        "{files:?}"
    );
    let steps = preview["manual_steps"].as_array().unwrap();
    assert!(
        steps.iter().any(|s| s["file"] == "examples/cli/ask.py"),
        "{steps:#?}"
    );
}

#[test]
fn several_sample_apps_are_listed_and_one_is_chosen_with_package() {
    let dir = copy_fixture("plan", "flask-sample-apps");
    let profile = detect_json(dir.path());
    let packages: Vec<(&str, Option<&str>)> = profile["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["path"].as_str().unwrap(), p["sample_of"].as_str()))
        .collect();
    assert_eq!(
        packages,
        [
            (".", None),
            ("examples/assistant", Some(".")),
            ("examples/chat-basic", Some("."))
        ]
    );

    let human = billing().arg("detect").arg(dir.path()).output().unwrap();
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains(
            "examples/chat-basic  Flask 3 · sample app of `.`, set up only with `--package examples/chat-basic`"
        ),
        "{text}"
    );

    // The root package: nothing wired in a sample, each listed with its call site and how
    // to choose it.
    let preview = plan_json(dir.path(), &[]);
    let files = paths(&preview);
    assert!(
        !files.iter().any(|f| f.starts_with("examples/")),
        "{files:?}"
    );
    let steps = preview["manual_steps"].as_array().unwrap();
    for (sample, line) in [("examples/assistant", 10), ("examples/chat-basic", 11)] {
        let step = steps
            .iter()
            .find(|s| s["file"] == format!("{sample}/app.py"))
            .unwrap_or_else(|| panic!("{sample}: {steps:#?}"));
        let text = step["instructions"].as_str().unwrap();
        assert!(text.contains("one of 2 sample apps"), "{text}");
        assert!(
            text.contains(&format!("spaire-billing setup --package {sample}")),
            "{text}"
        );
        assert_eq!(
            step["snippet"],
            format!("{sample}/app.py:{line} client.chat.completions.create")
        );
    }

    // Chosen through the plan's `[project] path`: that sample is set up, beside its app, with
    // the requirement in the root's requirements.txt and the install run there.
    let toml = dir.path().join("spaire-billing.toml");
    let plan = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        format!("{plan}\n[project]\npath = \"examples/chat-basic\"\n"),
    )
    .unwrap();
    let preview = plan_json(dir.path(), &[]);
    let files = paths(&preview);
    for path in [
        "examples/chat-basic/spaire_billing/usage.py",
        "examples/chat-basic/app.py",
        "requirements.txt",
    ] {
        assert!(files.iter().any(|f| f == path), "{path}: {files:?}");
    }
    assert!(
        !files.iter().any(|f| f.starts_with("examples/assistant")),
        "{files:?}"
    );
    assert_eq!(preview["installs"][0]["cwd"], ".");
    assert!(
        preview["manual_steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| !s["instructions"].as_str().unwrap().contains("sample apps")),
        "{:#}",
        preview["manual_steps"]
    );
}

/// openai-quickstart-python pins `httpx==0.26.0`, `httpcore==1.0.2` and `openai==1.11.1` in
/// the root `requirements.txt` its sample apps share. `spaire-sdk` needs httpx 0.28, so pip
/// cannot add it there. The plan used to stop (and, before that, to write code importing the
/// SDK, an app that no longer started from its requirements); it now writes the variant
/// without the SDK, adds only `standardwebhooks` (resolved with the pins, which stay as they
/// are), and names each pin to raise for the SDK's typed models by file:line. A fake
/// interpreter answers with pip's real output for that file for `spaire-sdk`, and resolves
/// `standardwebhooks` (stdout and stderr as pip writes them; the report at `--report`).
#[cfg(unix)]
#[test]
fn a_package_whose_pins_block_the_sdk_is_set_up_without_it_and_the_plan_names_the_pins() {
    use std::os::unix::fs::PermissionsExt;
    let dir = copy_fixture("plan", "flask-sample-apps");
    let pins = "Flask==3.0.2\nh11==0.14.0\nhttpcore==1.0.2\nhttpx==0.26.0\nopenai==1.11.1\npydantic==2.6.1\ntyping_extensions==4.9.0\n";
    std::fs::write(dir.path().join("requirements.txt"), pins).unwrap();
    let bin = tempfile::tempdir().unwrap();
    let python = bin.path().join("python");
    std::fs::write(
        &python,
        r#"#!/bin/sh
if [ "$1" = "-c" ]; then echo "3.12.3 linux 24.0"; exit 0; fi
case "$*" in *spaire-sdk*)
echo "Collecting Flask==3.0.2 (from -r requirements.txt (line 1))"
echo "The conflict is caused by:"
echo "    The user requested httpcore==1.0.2"
echo "    httpx 0.26.0 depends on httpcore==1.*"
echo "    spaire-sdk 0.28.4 depends on httpcore>=1.0.9"
echo "    The user requested typing_extensions==4.9.0"
echo "    psycopg 3.2.3 depends on typing-extensions>=4.6"
echo "    pydantic 2.14.4 depends on typing-extensions>=4.16.0"
echo "    pydantic 2.11.2 depends on typing-extensions>=4.12.2"
echo ""
echo "To fix this you could try to:"
echo "ERROR: Cannot install -r requirements.txt (line 4), httpcore==1.0.2 and spaire-sdk==0.28.4 because these package versions have conflicting dependencies." >&2
echo "ERROR: ResolutionImpossible: for help visit https://pip.pypa.io" >&2
exit 1;;
esac
while [ $# -gt 0 ]; do
  if [ "$1" = "--report" ]; then
    echo '{"install":[{"metadata":{"name":"standardwebhooks","version":"1.1.0"}}]}' > "$2"
  fi
  shift
done
exit 0
"#,
    )
    .unwrap();
    std::fs::set_permissions(&python, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The sample chosen as `setup --package examples/chat-basic` saves it; webhooks planned.
    let toml = dir.path().join("spaire-billing.toml");
    let plan = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(
        &toml,
        format!("{plan}\n[project]\npath = \"examples/chat-basic\"\n\n[webhooks]\n"),
    )
    .unwrap();
    let output = billing()
        .env("SPAIRE_BILLING_PYTHON", &python)
        .args(["plan", "--json"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        transcript(&output, &[])
    );
    let preview: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let warnings = preview["warnings"].to_string();
    for expected in [
        "`spaire-sdk` cannot be added to requirements.txt",
        "no pin of yours is moved",
        "webhooks (when planned) verified by `standardwebhooks`",
        "requirements.txt:3 `httpcore==1.0.2`: spaire-sdk 0.28.4 needs `httpcore>=1.0.9`",
        "requirements.txt:4 `httpx==0.26.0`: spaire-sdk 0.28.4 needs `httpx>=0.28.1`",
        "requirements.txt:6 `pydantic==2.6.1`: spaire-sdk 0.28.4 needs `pydantic>=2.11.2`",
        "requirements.txt:5 `openai==1.11.1`: crashes beside spaire-sdk",
        "requirements.txt:7 `typing_extensions==4.9.0`: pydantic 2.11.2 (which spaire-sdk needs) needs `typing_extensions>=4.12.2`",
    ] {
        assert!(warnings.contains(expected), "{expected}\n{warnings}");
    }
    assert!(
        !warnings.contains("h11==0.14.0`:"),
        "h11 is not the SDK's own requirement: {warnings}"
    );
    // The openai pin only crashes beside httpx 0.28, which does not arrive: no step for it.
    let steps = preview["manual_steps"].to_string();
    assert!(!steps.contains("proxies"), "{steps}");
    let files = preview["files"].as_array().unwrap();
    let file = |path: &str| {
        files
            .iter()
            .find(|f| f["path"] == path)
            .unwrap_or_else(|| panic!("{path} planned: {files:#?}"))["diff"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let requirements = file("requirements.txt");
    let changed: Vec<&str> = requirements
        .lines()
        .filter(|l| {
            (l.starts_with('+') || l.starts_with('-'))
                && !l.starts_with("+++")
                && !l.starts_with("---")
        })
        .collect();
    assert_eq!(
        changed,
        ["+standardwebhooks==1.1.0"],
        "only standardwebhooks added, pinned like the others:\n{requirements}"
    );
    assert!(file("examples/chat-basic/app.py").contains("record_llm_response("));
    assert!(
        file("examples/chat-basic/spaire_billing/webhooks.py")
            .contains("from standardwebhooks import Webhook, WebhookVerificationError")
    );
    for f in files {
        let after = f["diff"].as_str().unwrap_or("");
        assert!(!after.contains("spaire_sdk"), "{}: {after}", f["path"]);
    }
    let installs = preview["installs"].to_string();
    assert!(installs.contains("standardwebhooks==1.1.0"), "{installs}");
    assert!(!installs.contains("spaire-sdk"), "{installs}");
}

/// A pipenv app whose Pipfile leaves `openai` free and whose Pipfile.lock pins 1.12.0
/// (isorry-host): the listed `pipenv install spaire-sdk` keeps that lock and moves httpx to
/// 0.28, where openai 1.12.0 crashes at `OpenAI()`. The plan says so at the lock's line and
/// names the install that moves both; a lock at a working release gets no step.
#[test]
fn a_locked_llm_client_that_crashes_beside_the_sdk_gets_a_step_at_the_lock_line() {
    let dir = copy_fixture("plan", "pipenv-locked-openai");
    let preview = plan_json(dir.path(), &[]);
    let steps = preview["manual_steps"].as_array().unwrap();
    let step = steps
        .iter()
        .find(|s| s["file"] == "Pipfile.lock")
        .unwrap_or_else(|| panic!("a step for Pipfile.lock: {steps:#?}"));
    assert_eq!(step["line"], 30, "{step:#?}");
    let text = step["instructions"].as_str().unwrap();
    assert!(
        text.contains("Pipfile.lock locks `openai` 1.12.0"),
        "{text}"
    );
    assert!(
        text.contains("installed: `pipenv install spaire-sdk` keeps that locked version"),
        "{text}"
    );
    assert!(
        !text.contains("  "),
        "one sentence, no runs of spaces: {text}"
    );
    assert_eq!(
        step["snippet"],
        "pipenv install spaire-sdk \"openai>=1.55.3\""
    );

    let lock = dir.path().join("Pipfile.lock");
    let text = std::fs::read_to_string(&lock).unwrap();
    std::fs::write(&lock, text.replace("==1.12.0", "==1.55.3")).unwrap();
    let preview = plan_json(dir.path(), &[]);
    assert!(
        !preview["manual_steps"].to_string().contains("proxies"),
        "{}",
        preview["manual_steps"]
    );
}

/// A poetry app pinning `pydantic = "^1.10.9"` (thenewboston-backend): `poetry add spaire-sdk`
/// cannot resolve (the SDK needs pydantic>=2.11.2), so the plan says so at the constraint's
/// line, installs only `standardwebhooks`, and the generated code never imports the SDK.
#[test]
fn a_poetry_constraint_below_the_sdks_needs_sets_up_without_the_sdk() {
    let dir = copy_fixture("plan", "poetry-pydantic-v1");
    let preview = plan_json(dir.path(), &[]);
    let warnings = preview["warnings"].to_string();
    assert!(
        warnings.contains("`spaire-sdk` cannot be added to pyproject.toml"),
        "{warnings}"
    );
    assert!(
        warnings.contains(
            "pyproject.toml:10 `pydantic = \\\"^1.10.9\\\"`: spaire-sdk 0.28.4 needs `pydantic>=2.11.2`"
        ),
        "{warnings}"
    );
    let installs = preview["installs"].to_string();
    assert!(installs.contains("standardwebhooks"), "{installs}");
    assert!(!installs.contains("spaire-sdk"), "{installs}");
    for file in preview["files"].as_array().unwrap() {
        let diff = file["diff"].as_str().unwrap_or_default();
        assert!(
            !diff.contains("spaire_sdk"),
            "{} imports the SDK: {diff}",
            file["path"]
        );
    }
}

/// setup's prerequisites step promised `poetry add spaire-sdk` before the plan said that
/// install cannot resolve (thenewboston-backend): it now says the SDK is ruled out by the
/// file's versions, and never names that install.
#[test]
fn setup_does_not_promise_an_sdk_install_the_pins_rule_out() {
    let dir = copy_fixture("plan", "poetry-pydantic-v1");
    let output = billing()
        .env("SPAIRE_BILLING_PYTHON", "off")
        .args([
            "setup",
            "--dry-run",
            "--meter",
            "api-calls",
            "--pricing",
            "unit",
        ])
        .args(["--unit-price", "0.001", "--product", "Pro"])
        .args(["--customer", "header:x-customer-id", "--webhooks", "false"])
        .arg(dir.path())
        .output()
        .unwrap();
    let shown = transcript(&output, &[]);
    assert!(output.status.success(), "{shown}");
    assert!(
        shown.contains(
            "the Spaire SDK cannot be installed beside the versions pyproject.toml allows"
        ),
        "{shown}"
    );
    assert!(!shown.contains("poetry add spaire-sdk"), "{shown}");
}
