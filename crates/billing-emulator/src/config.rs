//! How an emulator is started: port, storage, tokens, fault injection.

use std::path::PathBuf;

/// The token printed and accepted when no `--token` is given.
///
/// It looks like an organization access token so SDKs and users' apps accept it, but it can
/// never be mistaken for a real one: real tokens are `spaire_oat_` + 20 or more alphanumerics,
/// and the dashes here break that pattern on purpose (secret scanners stay quiet too).
pub const DEFAULT_TOKEN: &str = "spaire_oat_local-emulator-token";

/// The CLI's port when `--port` is not given: the `local` environment's server URL in
/// `spaire-billing.toml` (`http://127.0.0.1:8787`) points here.
pub const DEFAULT_PORT: u16 = 8787;

/// How generated admin tokens start; the rest is random, with dashes so it never has the
/// shape of a real Spaire token.
pub const ADMIN_TOKEN_PREFIX: &str = "emulator-admin-";

/// A fresh random admin token (printed at start so only whoever started the emulator can
/// reset it or move its clock).
pub fn generate_admin_token() -> String {
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!("{ADMIN_TOKEN_PREFIX}{}-{}", &random[..16], &random[16..])
}

/// The organization a token belongs to when its spec names none.
pub const DEFAULT_ORGANIZATION: &str = "default";

/// Every scope the emulated endpoints check. A token without an explicit scope list holds all.
pub const ALL_SCOPES: &[&str] = &[
    "events:read",
    "events:write",
    "meters:read",
    "meters:write",
    "products:read",
    "products:write",
    "benefits:read",
    "benefits:write",
    "customers:read",
    "customers:write",
    "customer_meters:read",
    "webhooks:read",
    "webhooks:write",
    "subscriptions:read",
    "subscriptions:write",
    "orders:read",
];

/// One accepted bearer token, parsed from `TOKEN[@ORG][:SCOPE,SCOPE...]`.
///
/// Tokens naming the same organization share its data (like two OATs of one organization);
/// different organizations cannot see each other's objects (404, as on the server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSpec {
    pub token: String,
    pub organization: String,
    /// `None` grants every scope.
    pub scopes: Option<Vec<String>>,
}

impl TokenSpec {
    /// A token of the default organization holding every scope.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
            organization: DEFAULT_ORGANIZATION.to_owned(),
            scopes: None,
        }
    }

    /// Parses `TOKEN[@ORG][:SCOPE,SCOPE...]`, e.g. `t1@acme:events:write,meters:read`.
    ///
    /// The first `:` ends the token part; scopes themselves contain `:` so the rest is split
    /// on commas only.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (head, scopes) = match spec.split_once(':') {
            Some((head, rest)) => (head, Some(rest)),
            None => (spec, None),
        };
        let (token, organization) = match head.split_once('@') {
            Some((token, org)) => (token, org),
            None => (head, DEFAULT_ORGANIZATION),
        };
        if token.is_empty() {
            return Err(format!("token spec `{spec}` has an empty token"));
        }
        if !token.is_ascii() || token.chars().any(|c| c.is_ascii_whitespace()) {
            return Err("a token must be printable ASCII without spaces".to_owned());
        }
        if organization.is_empty() {
            return Err("token spec has an empty organization after `@`".to_owned());
        }
        let scopes = match scopes {
            None => None,
            Some(list) => {
                let mut parsed = Vec::new();
                for scope in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    if !ALL_SCOPES.contains(&scope) {
                        return Err(format!(
                            "unknown scope `{scope}`; known scopes: {}",
                            ALL_SCOPES.join(", ")
                        ));
                    }
                    parsed.push(scope.to_owned());
                }
                Some(parsed)
            }
        };
        Ok(Self {
            token: token.to_owned(),
            organization: organization.to_owned(),
            scopes,
        })
    }
}

/// Everything needed to start an emulator. `Default` gives an in-memory emulator on a free
/// port with one token ([`DEFAULT_TOKEN`]) of the default organization.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// TCP port on 127.0.0.1; 0 picks a free one (see `base_url()` for the result).
    pub port: u16,
    /// SQLite file to keep state in across restarts; `None` keeps it in memory.
    pub db: Option<PathBuf>,
    /// Accepted tokens; empty means `[DEFAULT_TOKEN]`.
    pub tokens: Vec<TokenSpec>,
    /// Seed for every random choice (fault injection, generated secrets stay random).
    pub seed: u64,
    /// Added delay before every `/v1` response.
    pub latency_ms: u64,
    /// Probability (0..=1) that a `/v1` request fails with a 5xx, a 429 or a dropped
    /// connection instead of being served. Deterministic for a given seed and request order.
    pub fail_rate: f64,
    /// Probability (0..=1, with `fail_rate` at most 1 in total) that a `/v1` request is
    /// served and committed, and then its answer is lost: dropped connection, a hang of
    /// `fault_hang_ms`, or a 5xx. Same seed, same choices.
    pub commit_fail_rate: f64,
    /// How long a "hang" fault holds the answer of a committed request before closing the
    /// connection (long enough for a client's timeout to fire first).
    pub fault_hang_ms: u64,
    /// The token `/_emulator/reset` and `/_emulator/clock/advance` require (they act on
    /// every organization, so no organization's token may call them). `None` generates a
    /// random one at start; read it back with `admin_token()`.
    pub admin_token: Option<String>,
    /// Enforce the server's default rate limit (100 requests/min per organization, the
    /// sandbox value) with 429 + `retry-after: 60`.
    pub rate_limit: bool,
    /// Requests per minute per organization when `rate_limit` is on.
    pub rate_limit_per_minute: u32,
    /// Answer the first this many `/v1` requests with 429 and a long `retry-after`
    /// (600 s, far past any shutdown budget), then serve
    /// normally: a client caught in a long rate-limit pause, deterministically (the
    /// per-minute limiter depends on where the wall-clock minute ends).
    pub throttle_first_requests: u32,
    /// Base delay of webhook retries (doubled per attempt); the server uses minutes, tests
    /// want milliseconds.
    pub webhook_retry_base_ms: u64,
    /// Maximum webhook retries after the first attempt (the server does 10).
    pub webhook_max_retries: u32,
    /// Count usage in balances only this long after ingestion, to rehearse Spaire's
    /// settlement delay (about 15 s there). 0 settles immediately.
    pub balance_delay_ms: u64,
    /// Run the server's periodic billing job every this many seconds (the server: 900)
    /// instead of showing live subscription meters and billing only usage after the
    /// subscription started. `None` (the default) keeps the live behaviour.
    pub billing_job_interval_secs: Option<u64>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        Self {
            port: 0,
            db: None,
            tokens: Vec::new(),
            seed: 0,
            latency_ms: 0,
            fail_rate: 0.0,
            commit_fail_rate: 0.0,
            fault_hang_ms: 30_000,
            admin_token: None,
            rate_limit: false,
            rate_limit_per_minute: 100,
            throttle_first_requests: 0,
            webhook_retry_base_ms: 500,
            webhook_max_retries: 10,
            balance_delay_ms: 0,
            billing_job_interval_secs: None,
        }
    }
}

impl EmulatorConfig {
    /// The tokens actually accepted (the default token when none were configured).
    pub fn effective_tokens(&self) -> Vec<TokenSpec> {
        if self.tokens.is_empty() {
            vec![TokenSpec::new(DEFAULT_TOKEN)]
        } else {
            self.tokens.clone()
        }
    }

    pub(crate) fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.fail_rate) || self.fail_rate.is_nan() {
            return Err(format!(
                "fail rate must be between 0 and 1, got {}",
                self.fail_rate
            ));
        }
        if !(0.0..=1.0).contains(&self.commit_fail_rate) || self.commit_fail_rate.is_nan() {
            return Err(format!(
                "commit fail rate must be between 0 and 1, got {}",
                self.commit_fail_rate
            ));
        }
        if self.fail_rate + self.commit_fail_rate > 1.0 {
            return Err(format!(
                "fail rate and commit fail rate add up to {}, more than 1",
                self.fail_rate + self.commit_fail_rate
            ));
        }
        if self.billing_job_interval_secs == Some(0) {
            return Err("the billing job interval must be at least 1 second".to_owned());
        }
        if self.rate_limit && self.rate_limit_per_minute == 0 {
            return Err("rate limit must allow at least 1 request per minute".to_owned());
        }
        let mut seen = std::collections::HashSet::new();
        for spec in self.effective_tokens() {
            if !seen.insert(spec.token.clone()) {
                return Err("the same token was given twice".to_owned());
            }
        }
        if let Some(admin) = &self.admin_token {
            if admin.is_empty()
                || !admin.is_ascii()
                || admin.chars().any(|c| c.is_ascii_whitespace())
            {
                return Err("the admin token must be printable ASCII without spaces".to_owned());
            }
            if seen.contains(admin) {
                return Err("the admin token must differ from every organization token".to_owned());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_token_never_looks_like_a_real_token() {
        // The pattern real tokens follow: a prefix then 20+ alphanumerics.
        let body = DEFAULT_TOKEN.strip_prefix("spaire_oat_").unwrap();
        let longest_alnum_run = body
            .split(|c: char| !c.is_ascii_alphanumeric())
            .map(str::len)
            .max()
            .unwrap();
        assert!(longest_alnum_run < 20);
    }

    #[test]
    fn token_specs_parse_org_and_scopes() {
        let spec = TokenSpec::parse("abc@acme:events:write,meters:read").unwrap();
        assert_eq!(spec.token, "abc");
        assert_eq!(spec.organization, "acme");
        assert_eq!(
            spec.scopes,
            Some(vec!["events:write".to_owned(), "meters:read".to_owned()])
        );
        let plain = TokenSpec::parse("abc").unwrap();
        assert_eq!(plain.organization, DEFAULT_ORGANIZATION);
        assert_eq!(plain.scopes, None);
        let none = TokenSpec::parse("abc:").unwrap();
        assert_eq!(none.scopes, Some(vec![]));
    }

    #[test]
    fn bad_token_specs_are_rejected_with_a_reason() {
        assert!(TokenSpec::parse("").unwrap_err().contains("empty token"));
        assert!(
            TokenSpec::parse("a@:x")
                .unwrap_err()
                .contains("organization")
        );
        assert!(
            TokenSpec::parse("a:events:fly")
                .unwrap_err()
                .contains("unknown scope `events:fly`")
        );
    }

    #[test]
    fn fail_rate_is_bounded() {
        let config = EmulatorConfig {
            fail_rate: 1.5,
            ..EmulatorConfig::default()
        };
        assert!(config.validate().is_err());
    }
}
