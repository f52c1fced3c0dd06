//! `spaire-billing verify`: send one test event per meter of `spaire-billing.toml` and check
//! that the meter (and, with credits, the customer's balance) shows it. That proves the meters
//! count a synthetic event, not that the app sends any: `verify --from-app` waits for the
//! running app's own events instead (see [`billing_ops::listen`]).

use std::time::Duration;

use billing_errors::{Hinted, UsageError};
use billing_ops::listen::{AppEvent, ListenOptions};
use billing_plan::Environment;
use billing_remote::{MeterCheck, VerifyOptions, VerifyReport};
use clap::Args;

use crate::ExitStatus;
use crate::args::{EnvironmentFlag, JsonArg, ProjectArg, ServerUrlArg};
use crate::printer::{BOLD, GREEN, Printer, RED, YELLOW};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// External id (your app's user id) of an existing customer to record the test usage for.
    /// Without it a throwaway test id is used, so nothing is billed; with it, meters with
    /// credits also check that the customer's balance drops.
    #[arg(long, value_name = "ID")]
    pub customer: Option<String>,
    #[command(flatten)]
    pub json: JsonArg,
    // Production must be named here explicitly: verify sends events.
    #[command(flatten)]
    pub environment: EnvironmentFlag,
    #[command(flatten)]
    pub server: ServerUrlArg,
    /// Seconds to wait for each meter to show the test event (the real server settles
    /// balances about 15 s after ingestion); with `--from-app`, for the app's events
    /// [default: 45; with --from-app: 300]
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// Prove the app instead of the meters: send nothing, wait for the events the running app
    /// sends from now on, print each (name, customer, key metadata, the meter that counts it,
    /// the quantity), and fail on an event no meter counts, one missing the property its meter
    /// aggregates, or none before the timeout. Use the app while it runs.
    #[arg(long)]
    pub from_app: bool,
    /// With `--from-app`: stop after this many events instead of at the timeout.
    #[arg(long, value_name = "N", requires = "from_app")]
    pub events: Option<usize>,
    #[command(flatten)]
    pub project: ProjectArg,
}

pub fn run(args: VerifyArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let plan = billing_ops::plan::load_plan_file(&args.project.path)?;
    if plan.meters.is_empty() {
        return Err(UsageError::new("the plan has no meters to verify")
            .with_hint("add a `[[meters]]` entry to spaire-billing.toml")
            .into());
    }
    let environment = match args.environment.environment {
        Some(environment) => environment,
        None if plan.environment == Environment::Production => {
            // verify writes events; production must be chosen on the command line, not by a file.
            return Err(UsageError::new(
                "the plan targets production, and verify sends test events",
            )
            .with_hint("pass `--environment production` to confirm, or `--environment sandbox`")
            .into());
        }
        None => plan.environment,
    };
    let plan_url = (environment == plan.environment)
        .then_some(plan.server_url.as_deref())
        .flatten();
    // A local plan with no emulator running: the built-in one, on the project's state.
    let (_server, remote) = crate::embedded::connect(
        environment,
        args.server.server_url.as_deref(),
        plan_url,
        &args.project.path,
        true,
        printer,
    )?;
    let Some(client) = remote.client else {
        let settings = billing_api::dashboard_base(environment)
            .map(|base| format!(" (create one at {base}/<organization>/settings)"))
            .unwrap_or_default();
        return Err(Hinted::new(
            format!("verify needs an access token for {}", environment.as_str()),
            format!(
                "set {} to an organization access token{settings} with scopes {}; without an account, `spaire-billing setup --environment local` runs the plan on the built-in emulator",
                billing_remote::TOKEN_ENV,
                billing_api::REQUIRED_SCOPES.join(", ")
            ),
        )
        .into());
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    if args.from_app {
        return from_app(
            &args,
            &plan,
            &client,
            environment,
            &remote.server_url.to_string(),
            &runtime,
            printer,
        );
    }
    let options = VerifyOptions {
        customer: args.customer.clone(),
        timeout: Duration::from_secs(args.timeout.unwrap_or(45)),
        poll_interval: Duration::from_millis(if environment == Environment::Local {
            100
        } else {
            1000
        }),
    };
    if !args.json.json {
        printer.status(
            "Verifying",
            format!(
                "{} meter{} in {} ({})",
                plan.meters.len(),
                if plan.meters.len() == 1 { "" } else { "s" },
                environment.as_str(),
                remote.server_url
            ),
        );
    }
    let report = runtime.block_on(billing_remote::verify(
        &plan,
        &client,
        environment,
        &options,
    ))?;
    if args.json.json {
        printer.data(crate::json::versioned(&report)?)?;
    } else {
        render(&report, printer)?;
    }
    Ok(if report.passed {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

fn number(v: Option<f64>) -> String {
    match v {
        None => "-".to_owned(),
        Some(v) if v.fract() == 0.0 && v.abs() < 1e15 => format!("{}", v as i64),
        Some(v) => format!("{v}"),
    }
}

pub(crate) fn render(report: &VerifyReport, printer: &Printer) -> std::io::Result<()> {
    let who = if report.test_customer {
        format!("test customer `{}` (not billed)", report.customer)
    } else {
        format!("customer `{}`", report.customer)
    };
    printer.data(format!(
        "{BOLD}Verify ({}) — events sent for {who}{BOLD:#}",
        report.environment
    ))?;
    let width = report
        .meters
        .iter()
        .map(|m| m.meter.len())
        .max()
        .unwrap_or(0);
    for check in &report.meters {
        printer.data(line(check, width))?;
        if let Some(balance) = &check.balance {
            printer.data(format!(
                "        balance: before {}, expected {}, observed {}",
                number(Some(balance.before)),
                number(Some(balance.expected)),
                number(balance.observed)
            ))?;
        }
        if let Some(message) = &check.message {
            printer.data(format!("        {message}"))?;
        }
    }
    let passed = report.meters.iter().filter(|m| m.passed).count();
    if report.passed {
        printer.data(format!(
            "{GREEN}verified{GREEN:#}: {passed} of {} meters count a synthetic event sent by \
             spaire-billing. This does not prove your app sends any: run `spaire-billing verify \
             --from-app` and use the app",
            report.meters.len()
        ))
    } else {
        printer.data(format!(
            "{RED}verification failed{RED:#}: {} of {} meters did not count the test event as expected",
            report.meters.len() - passed,
            report.meters.len()
        ))
    }
}

fn line(check: &MeterCheck, width: usize) -> String {
    let status = if !check.passed {
        format!("{RED}FAIL{RED:#}")
    } else if check.expected.is_none() {
        format!("{YELLOW}SKIP{YELLOW:#}")
    } else {
        format!("{GREEN}PASS{GREEN:#}")
    };
    format!(
        "  {status}  {:<width$}  event `{}`, {}: expected {}, observed {}",
        check.meter,
        check.event,
        check.aggregation,
        number(check.expected),
        number(check.observed),
    )
}

/// `--from-app`: waits for the running app's events; sends nothing.
fn from_app(
    args: &VerifyArgs,
    plan: &billing_plan::BillingPlan,
    client: &billing_api::Client,
    environment: Environment,
    server_url: &str,
    runtime: &tokio::runtime::Runtime,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let options = ListenOptions::from_now(
        Duration::from_secs(args.timeout.unwrap_or(300)),
        Duration::from_millis(if environment == Environment::Local {
            200
        } else {
            2000
        }),
        args.events,
    );
    if !args.json.json {
        printer.status(
            "Waiting",
            format!(
                "for events from your app in {} ({server_url}), up to {} s{}; use the app now",
                environment.as_str(),
                options.timeout.as_secs(),
                args.events
                    .map(|n| format!(" or {n} event{}", if n == 1 { "" } else { "s" }))
                    .unwrap_or_default()
            ),
        );
    }
    let json = args.json.json;
    let mut print = |event: &AppEvent| {
        if !json {
            let _ = printer.data(event_line(event));
        }
    };
    let report = runtime.block_on(billing_ops::listen::listen(
        plan, client, &options, &mut print,
    ))?;
    if json {
        printer.data(crate::json::versioned(&report)?)?;
    } else if report.passed {
        printer.data(format!(
            "{GREEN}verified{GREEN:#}: {}. Proved: {}",
            report.outcome, report.proves
        ))?;
    } else {
        printer.data(format!(
            "{RED}verification failed{RED:#}: {}",
            report.outcome
        ))?;
    }
    Ok(if report.passed {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}

/// One event as it arrives, like `stripe listen`: name, customer, key metadata, the meters.
fn event_line(event: &AppEvent) -> String {
    let status = if event.problem.is_some() {
        format!("{RED}FAIL{RED:#}")
    } else {
        format!("{GREEN}ok{GREEN:#}  ")
    };
    let metadata = event
        .metadata
        .as_object()
        .map(|map| {
            map.iter()
                .take(5)
                .map(|(k, v)| {
                    format!(
                        "{k}={}",
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                    )
                })
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    let mut line = format!(
        "  {status}  {}  {}  customer {}  [{metadata}]",
        event.timestamp,
        event.name,
        event.customer.as_deref().unwrap_or("(none)"),
    );
    for counted in &event.counted_by {
        line.push_str(&format!(
            "\n        → meter {} ({}): +{}",
            counted.meter, counted.aggregation, counted.quantity
        ));
    }
    if let Some(problem) = &event.problem {
        line.push_str(&format!("\n        {problem}"));
    }
    line
}

/// Setup's closing check on the emulator: one test event per meter (a throwaway customer,
/// nothing billed), polled quickly since the emulator settles at once.
pub(crate) fn quick_local(
    plan: &billing_plan::BillingPlan,
    client: &billing_api::Client,
) -> anyhow::Result<VerifyReport> {
    let options = VerifyOptions {
        customer: None,
        timeout: Duration::from_secs(15),
        poll_interval: Duration::from_millis(100),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(billing_remote::verify(
        plan,
        client,
        Environment::Local,
        &options,
    ))?)
}
