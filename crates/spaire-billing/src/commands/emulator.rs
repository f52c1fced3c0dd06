//! `spaire-billing emulator`: a local Spaire-compatible API until Ctrl-C.
//!
//! stdout gets three `KEY=value` lines (`SPAIRE_SERVER_URL`, `SPAIRE_ACCESS_TOKEN`,
//! `SPAIRE_EMULATOR_ADMIN_TOKEN`) so a script can `eval` them; everything else goes to
//! stderr. Emulator tokens are fake by
//! construction, so printing them is safe (real tokens are never printed).

use std::path::PathBuf;

use billing_emulator::{EmulatorConfig, EmulatorError, TokenSpec};
use billing_errors::{Hinted, UsageError};
use clap::Args;

use crate::ExitStatus;
use crate::printer::Printer;

use billing_emulator::DEFAULT_PORT;

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Port on 127.0.0.1 (0 picks a free port).
    #[arg(long, default_value_t = DEFAULT_PORT)]
    pub port: u16,
    /// Keep state in this SQLite file across restarts (default: in memory).
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Accepted bearer token as `TOKEN[@ORG][:SCOPE,SCOPE...]`; repeat for several tokens.
    /// Tokens of different ORGs see different data; without scopes a token holds them all.
    /// Default: one token of the default organization, printed at start.
    #[arg(long = "token", value_name = "SPEC")]
    pub tokens: Vec<String>,
    /// Seed for fault injection, so a failing run can be replayed exactly.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Delay every /v1 response by this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency_ms: u64,
    /// Fail this share (0..1) of /v1 requests with a 5xx, a 429 or a dropped connection,
    /// before they are processed.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Process and commit this share (0..1) of /v1 requests, then lose the answer: drop
    /// the connection, hang for `--fault-hang-ms`, or answer 5xx. Tests that a client's
    /// retries count each event exactly once. Seeded by `--seed`.
    #[arg(long, value_name = "P", default_value_t = 0.0)]
    pub commit_fail_rate: f64,
    /// How long a "hang" fault holds a committed request's answer before closing.
    #[arg(long, value_name = "MS", default_value_t = 30_000)]
    pub fault_hang_ms: u64,
    /// The token `/_emulator/reset` and `/_emulator/clock/advance` require (they act on
    /// every organization). Default: a random one, printed at start.
    #[arg(long, value_name = "TOKEN")]
    pub admin_token: Option<String>,
    /// Enforce the sandbox rate limit (100 requests/minute per organization; 429 with
    /// `retry-after: 60`).
    #[arg(long)]
    pub rate_limit: bool,
    /// Count usage in balances only N ms after ingestion, to rehearse Spaire's settlement
    /// delay (about 15000 there). Default: immediately.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub balance_delay_ms: u64,
    /// Run Spaire's periodic billing job every N seconds (900 on the server): subscription
    /// meters read 0 until it runs, and renewals bill every usage event it picked up,
    /// including usage from before the subscription started. Default: live meters.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub billing_job_interval: Option<u64>,
}

impl EmulatorArgs {
    fn config(&self) -> anyhow::Result<EmulatorConfig> {
        let mut tokens = Vec::new();
        for spec in &self.tokens {
            let parsed = TokenSpec::parse(spec).map_err(|reason| {
                UsageError::new(format!("invalid `--token`: {reason}"))
                    .with_hint("use `--token TOKEN`, `--token TOKEN@ORG` or `--token TOKEN:events:write,meters:read`")
            })?;
            tokens.push(parsed);
        }
        for (flag, rate) in [
            ("--fail-rate", self.fail_rate),
            ("--commit-fail-rate", self.commit_fail_rate),
        ] {
            if !(0.0..=1.0).contains(&rate) {
                return Err(UsageError::new(format!(
                    "`{flag}` must be between 0 and 1, got {rate}"
                ))
                .with_hint("0.1 fails one request in ten")
                .into());
            }
        }
        if self.fail_rate + self.commit_fail_rate > 1.0 {
            return Err(UsageError::new(format!(
                "`--fail-rate` and `--commit-fail-rate` add up to {}, more than 1",
                self.fail_rate + self.commit_fail_rate
            ))
            .with_hint("they are shares of the same requests; e.g. 0.1 and 0.3")
            .into());
        }
        if let Some(admin) = &self.admin_token
            && tokens.iter().any(|t| &t.token == admin)
        {
            return Err(UsageError::new(
                "`--admin-token` is also given as an organization `--token`",
            )
            .with_hint(
                "the admin token resets every organization, so it must be a token of its own",
            )
            .into());
        }
        Ok(EmulatorConfig {
            port: self.port,
            db: self.db.clone(),
            tokens,
            seed: self.seed,
            latency_ms: self.latency_ms,
            fail_rate: self.fail_rate,
            commit_fail_rate: self.commit_fail_rate,
            fault_hang_ms: self.fault_hang_ms,
            admin_token: self.admin_token.clone(),
            rate_limit: self.rate_limit,
            balance_delay_ms: self.balance_delay_ms,
            billing_job_interval_secs: self.billing_job_interval,
            ..EmulatorConfig::default()
        })
    }
}

pub fn run(args: EmulatorArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let config = args.config()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // Installed before the URL is printed, so a script that signals right after reading
        // it gets a graceful stop rather than the default kill.
        let stop = shutdown_signal()?;
        let emulator = billing_emulator::serve(config)
            .await
            .map_err(|err| explain(err, &args))?;
        printer.status(
            "Listening",
            format!("Spaire emulator on {}", emulator.base_url()),
        );
        printer.data(format!("SPAIRE_SERVER_URL={}", emulator.base_url()))?;
        printer.data(format!("SPAIRE_ACCESS_TOKEN={}", emulator.token()))?;
        printer.data(format!(
            "SPAIRE_EMULATOR_ADMIN_TOKEN={}",
            emulator.admin_token()
        ))?;
        for extra in emulator.tokens().iter().skip(1) {
            printer.info(format!(
                "  also accepts a token of organization `{}`",
                extra.organization
            ));
        }
        match &args.db {
            Some(path) => printer.note(format!("state is kept in `{}`", path.display())),
            None => {
                printer.note("state is in memory and is lost on exit (use `--db FILE` to keep it)")
            }
        }
        printer.note(
            "balances settle immediately here; Spaire settles them about 15 s after ingestion",
        );
        if args.billing_job_interval.is_none() {
            printer.note(
                "subscription meters are live here; Spaire's billing job updates them every 15 min (`--billing-job-interval 900` to rehearse that)",
            );
        }
        printer.info("Press Ctrl-C to stop.");
        stop.await;
        printer.status("Stopping", "waiting for in-flight requests");
        emulator.shutdown().await;
        anyhow::Ok(())
    })?;
    Ok(ExitStatus::Success)
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

fn explain(err: EmulatorError, args: &EmulatorArgs) -> anyhow::Error {
    match err {
        EmulatorError::Bind { port, source } if source.kind() == std::io::ErrorKind::AddrInUse => {
            Hinted::new(
                format!("port {port} on 127.0.0.1 is already in use"),
                "pass `--port 0` for any free port, or `--port N` for another one",
            )
            .with_source(source)
            .into()
        }
        EmulatorError::Database(source) => Hinted::new(
            match &args.db {
                Some(path) => format!("could not open the emulator database `{}`", path.display()),
                None => "could not create the in-memory emulator database".to_owned(),
            },
            "check that the file is a SQLite database you can write, or omit `--db`",
        )
        .with_source(source)
        .into(),
        other => other.into(),
    }
}
