//! Which API host a command talks to: the environment's default, or an explicit URL.

use billing_plan::Environment;

use crate::error::ApiError;

/// Environment variable that overrides the API base URL (also used by generated code).
pub const SERVER_URL_ENV: &str = "SPAIRE_SERVER_URL";

/// A validated API base URL without a trailing slash and without `/v1`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerUrl(String);

impl ServerUrl {
    /// Validates a user-supplied base URL.
    ///
    /// Plain `http` is only accepted for loopback hosts (the emulator): anything else would
    /// send the bearer token in clear text over the network.
    pub fn parse(raw: &str) -> Result<Self, ApiError> {
        let trimmed = raw.trim();
        let url = reqwest::Url::parse(trimmed).map_err(|e| {
            ApiError::config(
                format!("`{trimmed}` is not a valid API URL: {e}"),
                "pass a base URL such as `https://sandbox-api.spairehq.com` or the emulator's `http://127.0.0.1:8787`",
            )
        })?;
        match url.scheme() {
            "https" => {}
            "http" if is_loopback(&url) => {}
            "http" => {
                return Err(ApiError::config(
                    format!("refusing to send the access token over plain http to `{trimmed}`"),
                    "use an https URL; plain http is only allowed for 127.0.0.1/localhost (the emulator)",
                ));
            }
            other => {
                return Err(ApiError::config(
                    format!("`{trimmed}` uses the unsupported scheme `{other}`"),
                    "the API base URL must start with https:// (or http:// for the local emulator)",
                ));
            }
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(ApiError::config(
                format!("the API URL `{trimmed}` must not contain a query or fragment"),
                "pass only scheme, host, port and path prefix",
            ));
        }
        // People paste URLs copied from the API docs; the client adds `/v1` itself.
        let mut base = url.as_str().trim_end_matches('/').to_owned();
        if let Some(stripped) = base.strip_suffix("/v1") {
            base = stripped.to_owned();
        }
        Ok(Self(base))
    }

    /// The API host of an environment (production, sandbox, or the local emulator's default).
    pub fn for_environment(environment: Environment) -> Self {
        Self(environment.default_server_url().to_owned())
    }

    /// Resolution order: an explicit URL (flag or plan) → `SPAIRE_SERVER_URL` → the
    /// environment's default host. `env_value` is the variable's value, passed in so that
    /// callers (and tests) control where it comes from.
    pub fn resolve(
        environment: Environment,
        explicit: Option<&str>,
        env_value: Option<&str>,
    ) -> Result<Self, ApiError> {
        match explicit.or(env_value).filter(|v| !v.trim().is_empty()) {
            Some(raw) => Self::parse(raw),
            None => Ok(Self::for_environment(environment)),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Which Spaire environment this host belongs to, when it is one of the known hosts.
    pub fn known_environment(&self) -> Option<Environment> {
        let host = reqwest::Url::parse(&self.0)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))?;
        match host.as_str() {
            "api.spairehq.com" => Some(Environment::Production),
            "sandbox-api.spairehq.com" => Some(Environment::Sandbox),
            _ if is_loopback_host(&host) => Some(Environment::Local),
            _ => None,
        }
    }
}

impl std::fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_loopback(url: &reqwest::Url) -> bool {
    url.host_str().is_some_and(is_loopback_host)
}

fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Where a human creates tokens and edits objects, per environment. `None` for the emulator.
pub fn dashboard_base(environment: Environment) -> Option<&'static str> {
    match environment {
        Environment::Production => Some("https://app.spairehq.com/dashboard"),
        Environment::Sandbox => Some("https://sandbox.spairehq.com/dashboard"),
        Environment::Local => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environments_map_to_their_hosts() {
        assert_eq!(
            ServerUrl::for_environment(Environment::Production).as_str(),
            "https://api.spairehq.com"
        );
        assert_eq!(
            ServerUrl::for_environment(Environment::Sandbox).as_str(),
            "https://sandbox-api.spairehq.com"
        );
    }

    #[test]
    fn explicit_url_wins_over_env_var_which_wins_over_environment() {
        let explicit = ServerUrl::resolve(
            Environment::Sandbox,
            Some("http://127.0.0.1:9000/"),
            Some("https://other.example"),
        )
        .unwrap();
        assert_eq!(explicit.as_str(), "http://127.0.0.1:9000");
        let from_env =
            ServerUrl::resolve(Environment::Sandbox, None, Some("https://x.example/v1/")).unwrap();
        assert_eq!(from_env.as_str(), "https://x.example");
        let default = ServerUrl::resolve(Environment::Production, None, Some("  ")).unwrap();
        assert_eq!(default.as_str(), "https://api.spairehq.com");
    }

    #[test]
    fn plain_http_is_refused_off_loopback() {
        let err = ServerUrl::parse("http://api.spairehq.com").unwrap_err();
        assert!(err.to_string().contains("plain http"), "{err}");
        assert!(ServerUrl::parse("http://localhost:8787").is_ok());
        assert!(ServerUrl::parse("http://[::1]:8787").is_ok());
        assert!(ServerUrl::parse("ftp://x").is_err());
        assert!(ServerUrl::parse("not a url").is_err());
    }

    #[test]
    fn known_hosts_are_recognised() {
        let sandbox = ServerUrl::parse("https://sandbox-api.spairehq.com").unwrap();
        assert_eq!(sandbox.known_environment(), Some(Environment::Sandbox));
        let local = ServerUrl::parse("http://127.0.0.1:1234").unwrap();
        assert_eq!(local.known_environment(), Some(Environment::Local));
        let other = ServerUrl::parse("https://proxy.example").unwrap();
        assert_eq!(other.known_environment(), None);
    }
}
