//! Which API to talk to and with which token: flags, environment variables and `.env` files.

use std::path::Path;

use billing_api::{Client, ClientConfig, SERVER_URL_ENV, Secret, ServerUrl};
use billing_errors::Hinted;
use billing_plan::Environment;

/// Variable holding the organization access token (read, never printed).
pub const TOKEN_ENV: &str = "SPAIRE_ACCESS_TOKEN";

/// The emulator's built-in token (`billing_emulator::DEFAULT_TOKEN`), used for
/// `--environment local` when no token is set, so the local flow needs no setup. Kept in sync
/// by an integration test.
pub const EMULATOR_DEFAULT_TOKEN: &str = "spaire_oat_local-emulator-token";

/// Files searched for the token, most specific first (as frameworks load them).
const DOTENV_FILES: &[&str] = &[
    ".env.local",
    ".env.development.local",
    ".env.development",
    ".env",
];

/// Where the remote side of a command goes.
#[derive(Debug, Clone)]
pub struct Remote {
    pub environment: Environment,
    pub server_url: ServerUrl,
    /// `None` without a token: plan-only, every step pending with dashboard instructions.
    pub client: Option<Client>,
    /// Where the token came from (`SPAIRE_ACCESS_TOKEN`, `.env.local`, ...), never the value.
    pub token_source: Option<String>,
}

/// Resolves the API URL (flag → `SPAIRE_SERVER_URL` → the plan's `server_url` when the plan is
/// for this environment → the environment's host) and the token (`SPAIRE_ACCESS_TOKEN` → the
/// project's `.env*` files → the emulator's default token for `local`).
pub fn connect(
    environment: Environment,
    server_url_flag: Option<&str>,
    plan_server_url: Option<&str>,
    project_dir: &Path,
) -> Result<Remote, Hinted> {
    let env_url = std::env::var(SERVER_URL_ENV).ok();
    let explicit = server_url_flag.or(env_url.as_deref()).or(plan_server_url);
    let server_url =
        ServerUrl::resolve(environment, explicit, None).map_err(|e| e.into_hinted())?;
    let (token, token_source) = match find_token(project_dir) {
        Some((token, source)) => (Some(token), Some(source)),
        None if environment == Environment::Local => (
            Some(Secret::new(EMULATOR_DEFAULT_TOKEN)),
            Some("the emulator's default token".to_owned()),
        ),
        None => (None, None),
    };
    let client = match token {
        Some(token) => {
            let mut config = ClientConfig::new(server_url.clone(), token);
            config.environment = Some(environment);
            Some(Client::new(config).map_err(|e| e.into_hinted())?)
        }
        None => None,
    };
    Ok(Remote {
        environment,
        server_url,
        client,
        token_source,
    })
}

/// The token from the environment, or from the project's `.env*` files.
pub fn find_token(project_dir: &Path) -> Option<(Secret, String)> {
    if let Ok(value) = std::env::var(TOKEN_ENV)
        && !value.trim().is_empty()
    {
        return Some((Secret::new(value.trim()), TOKEN_ENV.to_owned()));
    }
    for file in DOTENV_FILES {
        let Ok(text) = std::fs::read_to_string(project_dir.join(file)) else {
            continue;
        };
        if let Some(value) = dotenv_value(&text, TOKEN_ENV) {
            return Some((Secret::new(value), (*file).to_owned()));
        }
    }
    None
}

/// `KEY=value`, `export KEY="value"`, `KEY='value' # comment`.
fn dotenv_value(text: &str, key: &str) -> Option<String> {
    for line in text.lines() {
        let line = line.trim();
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if k.trim() != key {
            continue;
        }
        let v = v.trim();
        let value = if let Some(rest) = v.strip_prefix('"') {
            rest.split('"').next().unwrap_or("")
        } else if let Some(rest) = v.strip_prefix('\'') {
            rest.split('\'').next().unwrap_or("")
        } else {
            v.split(" #").next().unwrap_or("").trim()
        };
        if !value.is_empty() {
            return Some(value.to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_lines_in_common_shapes() {
        let text = "# c\nOTHER=1\nexport SPAIRE_ACCESS_TOKEN=\"spaire_oat_x\" # prod\n";
        assert_eq!(
            dotenv_value(text, TOKEN_ENV).as_deref(),
            Some("spaire_oat_x")
        );
        assert_eq!(
            dotenv_value("SPAIRE_ACCESS_TOKEN='a b'", TOKEN_ENV).as_deref(),
            Some("a b")
        );
        assert_eq!(
            dotenv_value("SPAIRE_ACCESS_TOKEN=tok # c", TOKEN_ENV).as_deref(),
            Some("tok")
        );
        assert_eq!(dotenv_value("SPAIRE_ACCESS_TOKEN=", TOKEN_ENV), None);
        assert_eq!(dotenv_value("SPAIRE_ACCESS_TOKEN_2=x", TOKEN_ENV), None);
    }
}
