//! The built-in emulator, started inside a command when a local run finds none running.
//!
//! A newcomer without an account runs `setup --environment local` and then `verify`: neither
//! should need a second terminal with `spaire-billing emulator` in it. When the local
//! environment's default URL answers nobody, the command starts an emulator in-process for
//! its own duration, keeping its state in the project (`.spaire-billing/emulator.sqlite`,
//! ignored by git), so the next command (and `spaire-billing emulator --db …` for the app)
//! sees the same organization, meters and events.
//!
//! A URL given by the user (`--server-url`, `SPAIRE_SERVER_URL`, the plan's `server_url`
//! other than the default) is always respected: nothing is started for it.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use billing_plan::Environment;

use crate::printer::Printer;

/// Where the embedded emulator keeps its state, relative to the project root.
pub const STATE_FILE: &str = ".spaire-billing/emulator.sqlite";
const STATE_DIR: &str = ".spaire-billing";
const IGNORE_FILE: &str = ".spaire-billing/.gitignore";
/// The SQLite file and its write-ahead-log companions.
const IGNORED: &str = "emulator.sqlite*";

/// An emulator serving this run (stopped when dropped).
pub struct Embedded {
    emulator: billing_emulator::BackgroundEmulator,
}

impl Embedded {
    /// The URL this run talks to (the default port unless it was taken; the plan never
    /// saves it).
    pub fn url(&self) -> String {
        self.emulator.base_url()
    }
}

/// The command to keep the same emulator state up for the app, on the default port.
pub fn serve_command() -> String {
    format!("spaire-billing emulator --db {STATE_FILE}")
}

/// Starts the embedded emulator when `environment` is local, no URL other than the local
/// default was asked for, and nothing listens there. `explicit` is the flag's URL (the
/// environment variable and the plan's URL are read here).
fn start_if_needed(
    environment: Environment,
    explicit: Option<&str>,
    plan_url: Option<&str>,
    root: &Path,
    persist: bool,
    printer: &Printer,
) -> anyhow::Result<Option<Embedded>> {
    if environment != Environment::Local {
        return Ok(None);
    }
    let env_url = std::env::var(billing_api::SERVER_URL_ENV)
        .ok()
        .filter(|v| !v.trim().is_empty());
    let default = Environment::Local.default_server_url();
    let wanted = explicit.or(env_url.as_deref()).or(plan_url);
    if wanted.is_some_and(|url| url.trim_end_matches('/') != default) {
        return Ok(None);
    }
    if answers(default) {
        return Ok(None);
    }
    // A run that must write nothing (a dry run) reads the project's state when there is
    // one, and otherwise starts from an empty emulator in memory.
    let state = root.join(STATE_FILE);
    let db = if persist {
        std::fs::create_dir_all(root.join(STATE_DIR))
            .and_then(|()| ensure_ignored(root))
            .map_err(|err| {
                anyhow::anyhow!("could not create `{STATE_DIR}/` for the emulator: {err}")
            })?;
        Some(state)
    } else {
        state.is_file().then_some(state)
    };
    // On the default port when it is free (nothing answered there): the lock then records
    // the same server a later run, and `spaire-billing emulator --db …` for the app, use,
    // so `undo` finds its objects where they were created. Any free port otherwise.
    let config = billing_emulator::EmulatorConfig {
        port: billing_emulator::DEFAULT_PORT,
        db,
        ..Default::default()
    };
    let emulator = match billing_emulator::spawn_background(config.clone()) {
        Err(billing_emulator::EmulatorError::Bind { .. }) => {
            billing_emulator::spawn_background(billing_emulator::EmulatorConfig {
                port: 0,
                ..config
            })
        }
        other => other,
    }
    .map_err(|err| anyhow::Error::new(err).context("could not start the built-in emulator"))?;
    printer.info(format!(
        "No emulator answers at {default}: using the built-in one for this run (state kept in `{STATE_FILE}`, ignored by git)."
    ));
    Ok(Some(Embedded { emulator }))
}

/// The server one command run talks to: the embedded emulator when one had to be started
/// (kept alive for as long as this value lives), otherwise the URL given on the command line
/// (`None`: the environment variable, the plan or the environment's default decide later).
pub struct RunServer {
    embedded: Option<Embedded>,
    flag_url: Option<String>,
}

impl RunServer {
    /// Starts the embedded emulator when needed (see [`start_if_needed`]) and remembers the
    /// run's URL; `flag_url` is the command's `--server-url`.
    pub fn start(
        environment: Environment,
        flag_url: Option<&str>,
        plan_url: Option<&str>,
        root: &Path,
        persist: bool,
        printer: &Printer,
    ) -> anyhow::Result<Self> {
        let embedded = start_if_needed(environment, flag_url, plan_url, root, persist, printer)?;
        Ok(Self {
            embedded,
            flag_url: flag_url.map(str::to_owned),
        })
    }

    /// No server of this run's own: the flag's URL only.
    pub fn none(flag_url: Option<&str>) -> Self {
        Self {
            embedded: None,
            flag_url: flag_url.map(str::to_owned),
        }
    }

    /// The URL this run must use, when it has one of its own.
    pub fn url(&self) -> Option<String> {
        self.embedded
            .as_ref()
            .map(Embedded::url)
            .or_else(|| self.flag_url.clone())
    }

    /// Whether this run started the built-in emulator (which stops with it).
    pub fn is_embedded(&self) -> bool {
        self.embedded.is_some()
    }
}

/// The server of a run that talks to Spaire itself (`setup`, `verify`) and its connection
/// (token, organization, URL): [`RunServer::start`] with the same environment, plan URL and
/// root the connection then reads. Keep the [`RunServer`] alive as long as the connection is
/// used: an embedded emulator stops with it.
pub fn connect(
    environment: Environment,
    flag_url: Option<&str>,
    plan_url: Option<&str>,
    root: &Path,
    persist: bool,
    printer: &Printer,
) -> anyhow::Result<(RunServer, billing_remote::Remote)> {
    let server = RunServer::start(environment, flag_url, plan_url, root, persist, printer)?;
    let remote = billing_remote::connect(environment, server.url().as_deref(), plan_url, root)?;
    Ok((server, remote))
}

/// Whether something accepts connections at `url` (an `http://host:port` loopback URL).
fn answers(url: &str) -> bool {
    let Some(addr) = url
        .strip_prefix("http://")
        .and_then(|rest| rest.split('/').next())
        .and_then(|host_port| host_port.parse::<SocketAddr>().ok())
    else {
        return false;
    };
    TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok()
}

/// Adds the emulator's files to `.spaire-billing/.gitignore` (creating it if needed).
fn ensure_ignored(root: &Path) -> std::io::Result<()> {
    let path = root.join(IGNORE_FILE);
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    if text.lines().any(|l| l.trim() == IGNORED) {
        return Ok(());
    }
    if text.is_empty() {
        text.push_str("# machine-local files of spaire-billing (lock.json is committed)\n");
    } else if !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(IGNORED);
    text.push('\n');
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_closed_port_does_not_answer() {
        // Bind then drop: the port is free again and nothing listens.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        assert!(!answers(&format!("http://127.0.0.1:{port}")));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let open = listener.local_addr().unwrap();
        assert!(answers(&format!("http://{open}")));
        assert!(!answers("https://sandbox-api.spairehq.com"));
    }

    #[test]
    fn the_state_file_is_ignored_once() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(STATE_DIR)).unwrap();
        std::fs::write(dir.path().join(IGNORE_FILE), "answers.toml").unwrap();
        ensure_ignored(dir.path()).unwrap();
        ensure_ignored(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(IGNORE_FILE)).unwrap();
        assert_eq!(text, "answers.toml\nemulator.sqlite*\n");
    }
}
