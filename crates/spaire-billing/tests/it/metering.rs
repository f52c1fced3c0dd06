//! The tool's account must be true: `apply --json` and `status --json` say per meter what
//! feeds it and what is left by hand; `status` exits 1 while a step is pending and 0 once the
//! user did it by hand; `verify --from-app` proves the app's own events, not synthetic ones.

use std::path::Path;

use billing_api::EventCreate;

use crate::common::account::serve_with_pro as emulator_with_product;
use crate::common::{billing, transcript};
use crate::plan::copy_project;

const TOKEN: &str = "spaire_oat_local-emulator-token";

/// The express fixture with a second statement on the app's line (so registration is left to the
/// user), a storage meter nothing calls, and the local environment.
fn project() -> tempfile::TempDir {
    let dir = copy_project("express-app");
    let plan = dir.path().join("spaire-billing.toml");
    let text = std::fs::read_to_string(&plan)
        .unwrap()
        .replace("environment = \"sandbox\"", "environment = \"local\"");
    std::fs::write(&plan, format!("{text}\n[[meters]]\npreset = \"storage\"\n")).unwrap();
    let index = dir.path().join("src/index.js");
    let source = std::fs::read_to_string(&index).unwrap().replace(
        "const app = express();",
        "const app = express(); app.set(\"etag\", false);",
    );
    std::fs::write(&index, source).unwrap();
    dir
}

/// Runs the CLI off the async runtime (the emulator runs on it).
async fn cli(url: &str, root: &Path, args: &[&str]) -> std::process::Output {
    let mut cmd = billing();
    cmd.args(args)
        .env("SPAIRE_SERVER_URL", url)
        .env("SPAIRE_ACCESS_TOKEN", TOKEN)
        .arg(root);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

fn json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|err| panic!("{err}: {}", transcript(output, &[])))
}

/// `meters`, `manual_steps` and `complete` only (the rest of the report is tested elsewhere).
fn account(value: &serde_json::Value) -> serde_json::Value {
    serde_json::json!({
        "meters": value["meters"],
        "manual_steps": value["manual_steps"],
        "complete": value["complete"],
    })
}

fn step<'a>(value: &'a serde_json::Value, kind: &str) -> &'a serde_json::Value {
    value["manual_steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} step in {value:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_gates_on_unfed_meters_until_the_steps_are_done_by_hand() {
    let (emulator, _client) = emulator_with_product().await;
    let url = emulator.base_url();
    let dir = project();
    let root = dir.path();

    let applied = cli(&url, root, &["apply", "--yes", "--json"]).await;
    assert_eq!(
        applied.status.code(),
        Some(0),
        "{}",
        transcript(&applied, &[])
    );
    let report = json(&applied);
    insta::assert_json_snapshot!("apply_account_pending", account(&report));

    let status = cli(&url, root, &["status", "--json"]).await;
    assert_eq!(
        status.status.code(),
        Some(1),
        "{}",
        transcript(&status, &[])
    );
    let pending = json(&status);
    assert_eq!(pending["complete"], false);
    assert_eq!(step(&pending, "register-middleware")["done"], false);
    assert_eq!(step(&pending, "call-helper")["meter"], "storage-usage");
    let text = cli(&url, root, &["status"]).await;
    let text = transcript(&text, &[]);
    assert!(
        text.contains("NOT FED  api-calls (event `api-call`)"),
        "{text}"
    );
    assert!(text.contains("Still needs your hand (2)"), "{text}");

    // The user does both steps by hand, pasting the snippets the tool printed.
    let register = step(&pending, "register-middleware")["snippet"]
        .as_str()
        .unwrap()
        .to_owned();
    let call = step(&pending, "call-helper")["snippet"]
        .as_str()
        .unwrap()
        .to_owned();
    let (import, call) = call.split_once('\n').unwrap();
    let index = root.join("src/index.js");
    let source = std::fs::read_to_string(&index).unwrap().replace(
        "const app = express(); app.set(\"etag\", false);\n",
        &format!(
            "{import}\nconst app = express(); app.set(\"etag\", false);\n{register}\napp.post(\"/upload\", (req, res) => {{\n  const userId = req.get(\"x-customer-id\");\n  const bytes = Number(req.get(\"content-length\"));\n  {call}\n  res.sendStatus(201);\n}});\n"
        ),
    );
    std::fs::write(&index, source).unwrap();

    let status = cli(&url, root, &["status", "--json"]).await;
    let done = json(&status);
    assert_eq!(status.status.code(), Some(0), "{done:#}");
    assert_eq!(done["complete"], true);
    assert_eq!(step(&done, "register-middleware")["done"], true);
    for meter in done["meters"].as_array().unwrap() {
        assert_eq!(meter["unfed_reason"], serde_json::Value::Null, "{meter:#}");
        assert!(meter["feeders"][0]["file"] == "src/index.js", "{meter:#}");
    }
    let text = cli(&url, root, &["status"]).await;
    assert_eq!(text.status.code(), Some(0));
    let text = transcript(&text, &[]);
    assert!(
        text.contains("done: register middleware: src/index.js"),
        "{text}"
    );
    assert!(
        text.contains("Every meter is fed by the app's code and no step is left."),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_from_app_shows_the_apps_events_and_fails_on_what_no_meter_counts() {
    let (emulator, client) = emulator_with_product().await;
    let url = emulator.base_url();
    let dir = project();
    let root = dir.path().to_path_buf();
    let applied = cli(&url, &root, &["apply", "--yes", "--json"]).await;
    assert_eq!(
        applied.status.code(),
        Some(0),
        "{}",
        transcript(&applied, &[])
    );

    // Nothing sent: fails at the timeout, saying so.
    let silent = cli(&url, &root, &["verify", "--from-app", "--timeout", "1"]).await;
    let text = transcript(&silent, &[]);
    assert_eq!(silent.status.code(), Some(1), "{text}");
    assert!(
        text.contains("no event arrived from the app within 1 s"),
        "{text}"
    );

    // An event the api-calls meter counts, then one with a misspelt name.
    let waiting = tokio::spawn({
        let url = url.clone();
        let root = root.clone();
        async move {
            cli(
                &url,
                &root,
                &[
                    "verify",
                    "--from-app",
                    "--events",
                    "2",
                    "--timeout",
                    "30",
                    "--json",
                ],
            )
            .await
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let good = EventCreate::for_external_customer("api-call", "user_1")
        .with_metadata("endpoint", serde_json::json!("/hello"));
    client.ingest_events(&[good]).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let bad = EventCreate::for_external_customer("storage_upload", "user_1")
        .with_metadata("bytes", serde_json::json!(10));
    client.ingest_events(&[bad]).await.unwrap();
    let output = waiting.await.unwrap();
    let report = json(&output);
    assert_eq!(output.status.code(), Some(1), "{report:#}");
    assert_eq!(report["passed"], false);
    let events = report["events"].as_array().unwrap();
    assert_eq!(events.len(), 2, "{report:#}");
    assert_eq!(events[0]["name"], "api-call");
    assert_eq!(events[0]["customer"], "user_1");
    assert_eq!(events[0]["counted_by"][0]["meter"], "api-calls");
    assert_eq!(events[0]["counted_by"][0]["quantity"], 1);
    assert_eq!(events[0]["problem"], serde_json::Value::Null);
    assert!(
        events[1]["problem"]
            .as_str()
            .unwrap()
            .contains("no meter of spaire-billing.toml counts `storage_upload` events"),
        "{report:#}"
    );

    // Only good events: passes, and says what it proved.
    let waiting = tokio::spawn({
        let url = url.clone();
        let root = root.clone();
        async move {
            cli(
                &url,
                &root,
                &["verify", "--from-app", "--events", "1", "--timeout", "30"],
            )
            .await
        }
    });
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let upload = EventCreate::for_external_customer("storage-upload", "user_2")
        .with_metadata("bytes", serde_json::json!(2048));
    client.ingest_events(&[upload]).await.unwrap();
    let output = waiting.await.unwrap();
    let text = transcript(&output, &[]);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(
        text.contains("storage-upload  customer user_2  [bytes=2048]"),
        "{text}"
    );
    assert!(
        text.contains("→ meter storage-usage (sum of bytes): +2048"),
        "{text}"
    );
    assert!(
        text.contains("Proved: the running app sent these events"),
        "{text}"
    );
}

/// Go `session` customers: on a gin app whose auth middleware stores the user in the gin
/// context (`c.Set("my_user_id", ...)`) the generated middleware reads that key, so no
/// resolver is left to fill in; on one without such a key the `WithCustomerID` resolver is a
/// listed `customer-resolver` step at its `file:line`, never a silent stub.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn go_session_resolver_is_read_from_the_apps_context_key_or_listed() {
    let (emulator, _client) = emulator_with_product().await;
    let url = emulator.base_url();
    for (fixture, keyed) in [("gin-auth-context", true), ("gin", false)] {
        let dir = tempfile::tempdir().unwrap();
        crate::codegen::copy_dir(&crate::codegen::codegen_fixture("go", fixture), dir.path());
        let args = [
            "setup",
            "--package",
            ".",
            "--meter",
            "api-calls",
            "--pricing",
            "unit",
            "--unit-price",
            "0.0001",
            "--product",
            "Pro",
            "--customer",
            "session",
            "--webhooks",
            "false",
            "--environment",
            "local",
            "--server-url",
            &url,
            "--yes",
            "--no-install",
            "--no-checks",
            "--json",
        ];
        let setup = cli(&url, dir.path(), &args).await;
        let report = json(&setup);
        let resolver = report["manual_steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["kind"] == "customer-resolver");
        let customer_go =
            std::fs::read_to_string(dir.path().join("internal/spairebilling/customer.go")).unwrap();
        if keyed {
            assert!(resolver.is_none(), "{fixture}: {report:#}");
            assert!(customer_go.contains("const ContextUserKey = \"my_user_id\""));
        } else {
            let resolver = resolver.unwrap_or_else(|| panic!("{fixture}: {report:#}"));
            assert_eq!(resolver["file"], "internal/spairebilling/customer.go");
            let line = resolver["line"].as_u64().unwrap() as usize;
            assert!(
                customer_go
                    .lines()
                    .nth(line - 1)
                    .unwrap()
                    .contains("returns no user id yet"),
                "{customer_go}"
            );
            assert!(
                resolver["instructions"]
                    .as_str()
                    .unwrap()
                    .contains("CustomerIDFromRequest"),
                "{resolver:#}"
            );
            assert!(
                resolver["snippet"]
                    .as_str()
                    .unwrap()
                    .contains("spairebilling.WithCustomerID"),
                "{resolver:#}"
            );
        }
    }
}

/// A listed call that bills no customer (the project's own evals) is settled with the marker
/// comment the step names: detection leaves it out, so no step is pending for it, and plan,
/// status and detect list it as "not billed" instead of passing over it in silence.
#[test]
fn a_call_marked_not_billed_leaves_the_steps_and_is_listed() {
    let dir = copy_project("fastapi-app");
    let root = dir.path();
    let requirements = std::fs::read_to_string(root.join("requirements.txt")).unwrap();
    std::fs::write(
        root.join("requirements.txt"),
        format!("{requirements}openai==1.60.0\n"),
    )
    .unwrap();
    std::fs::create_dir_all(root.join("evals")).unwrap();
    let eval = "from openai import OpenAI\n\nclient = OpenAI()\n\n\ndef grade(question: str) -> str:\n    answer = client.chat.completions.create(\n        model=\"gpt-4o-mini\", messages=[{\"role\": \"user\", \"content\": question}]\n    )\n    return answer.choices[0].message.content or \"\"\n";
    std::fs::write(root.join("evals/run.py"), eval).unwrap();
    // Without pip's resolver (tested in billing-ops), so the plan does not depend on PyPI.
    let run = |args: &[&str]| {
        let output = billing()
            .env("SPAIRE_BILLING_PYTHON", "off")
            .args(args)
            .arg(root)
            .output()
            .unwrap();
        assert!(output.status.success(), "{}", transcript(&output, &[]));
        json(&output)
    };
    let call_steps = |plan: &serde_json::Value| -> Vec<serde_json::Value> {
        plan["metering"]["manual_steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["kind"] == "call-site")
            .cloned()
            .collect()
    };

    let before = run(&["plan", "--json"]);
    let steps = call_steps(&before);
    assert_eq!(steps.len(), 1, "{before:#}");
    assert_eq!(steps[0]["file"], "evals/run.py");
    let instructions = steps[0]["instructions"].as_str().unwrap();
    assert!(
        instructions.contains("put `# spaire-billing: not billed` on the line above it"),
        "{instructions}"
    );

    // The user follows it.
    let marked = eval.replace(
        "    answer = client",
        "    # spaire-billing: not billed (our own evals)\n    answer = client",
    );
    std::fs::write(root.join("evals/run.py"), marked).unwrap();
    let after = run(&["plan", "--json"]);
    assert!(call_steps(&after).is_empty(), "{after:#}");
    assert_eq!(
        after["metering"]["not_billed"],
        serde_json::json!([{"file": "evals/run.py", "line": 8, "callee": "client.chat.completions.create"}]),
        "{after:#}"
    );
    let detected = run(&["detect", "--json"]);
    assert_eq!(
        detected["packages"][0]["not_billed"][0]["file"],
        "evals/run.py"
    );
    let text = billing()
        .env("SPAIRE_BILLING_PYTHON", "off")
        .arg("plan")
        .arg(root)
        .output()
        .unwrap();
    let text = transcript(&text, &[]);
    assert!(
        text.contains(
            "Not billed (1 call marked `spaire-billing: not billed`)\n  evals/run.py:8 client.chat.completions.create"
        ),
        "{text}"
    );
}
