//! The HTTP core: one `send` that authenticates, retries what is safe to retry, and turns
//! every non-2xx answer into an [`ApiError`] that says what to do.

use std::sync::Arc;
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use billing_plan::Environment;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorKind, FieldProblem, field_path};
use crate::retry::{FailureClass, Idempotency, RetryPolicy, may_retry, parse_retry_after};
use crate::secret::Secret;
use crate::server::ServerUrl;

/// Everything a [`Client`] needs. Build with [`ClientConfig::new`] and adjust fields.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub base_url: ServerUrl,
    pub token: Secret,
    /// Per-attempt timeout (connect + response).
    pub timeout: Duration,
    pub retry: RetryPolicy,
    /// Which environment the URL belongs to; only used to explain 401/403. Defaults to the
    /// environment of a known host (see [`ServerUrl::known_environment`]).
    pub environment: Option<Environment>,
}

impl ClientConfig {
    pub fn new(base_url: ServerUrl, token: Secret) -> Self {
        let environment = base_url.known_environment();
        Self {
            base_url,
            token,
            timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            environment,
        }
    }
}

/// Counts of requests actually sent (retries included), for "a second run makes zero write
/// calls" and for reports.
#[derive(Debug, Default)]
struct Counters {
    reads: AtomicU64,
    writes: AtomicU64,
    retries: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RequestStats {
    /// GET requests sent.
    pub reads: u64,
    /// Every other method (POST, PATCH, DELETE) sent, including retried attempts.
    pub writes: u64,
    pub retries: u64,
}

/// A Spaire API client. Cheap to clone (the connection pool and counters are shared).
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    config: Arc<ClientConfig>,
    counters: Arc<Counters>,
}

/// A request before it is sent: kept as data so it can be sent again on retry.
#[derive(Debug, Clone)]
pub(crate) struct ApiRequest {
    pub method: Method,
    /// Path below the base URL, starting with `/v1/`, segments already encoded.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<serde_json::Value>,
    pub idempotency: Idempotency,
}

impl ApiRequest {
    pub fn get(path: impl Into<String>) -> Self {
        Self {
            method: Method::GET,
            path: path.into(),
            query: Vec::new(),
            body: None,
            idempotency: Idempotency::Idempotent,
        }
    }

    pub fn write(
        method: Method,
        path: impl Into<String>,
        body: Option<serde_json::Value>,
        idempotency: Idempotency,
    ) -> Self {
        Self {
            method,
            path: path.into(),
            query: Vec::new(),
            body,
            idempotency,
        }
    }

    pub fn query(mut self, pairs: Vec<(String, String)>) -> Self {
        self.query.extend(pairs);
        self
    }

    fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

fn install_crypto_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        // reqwest is built with `rustls-no-provider` to avoid aws-lc's C build; ring must be
        // installed as the process default once. An Err means another crate already did it.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self, ApiError> {
        if config.token.is_empty() {
            return Err(ApiError::config(
                "no access token was given",
                "set SPAIRE_ACCESS_TOKEN to an organization access token (see docs/remote.md for the scopes)",
            ));
        }
        if config.token.expose().chars().any(|c| !c.is_ascii_graphic()) {
            // The server treats a non-ASCII token as no token; say so before sending it.
            return Err(ApiError::config(
                "the access token contains spaces or non-ASCII characters",
                "copy the token again; SPAIRE_ACCESS_TOKEN must hold only the token itself",
            ));
        }
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("spaire-billing/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| {
                ApiError::config(
                    format!("could not build the HTTP client: {e}"),
                    "this is a bug in spaire-billing; please report it",
                )
            })?;
        Ok(Self {
            http,
            config: Arc::new(config),
            counters: Arc::default(),
        })
    }

    pub fn base_url(&self) -> &ServerUrl {
        &self.config.base_url
    }

    pub fn environment(&self) -> Option<Environment> {
        self.config.environment
    }

    pub fn stats(&self) -> RequestStats {
        RequestStats {
            reads: self.counters.reads.load(Ordering::Relaxed),
            writes: self.counters.writes.load(Ordering::Relaxed),
            retries: self.counters.retries.load(Ordering::Relaxed),
        }
    }

    /// Sends `request`, retrying what is safe to retry, and decodes a JSON answer.
    pub(crate) async fn send<T: DeserializeOwned>(
        &self,
        request: ApiRequest,
    ) -> Result<T, ApiError> {
        let bytes = self.send_raw(&request).await?;
        let text: &[u8] = if bytes.is_empty() { b"null" } else { &bytes };
        serde_json::from_slice(text).map_err(|e| {
            self.error(
                &request,
                ErrorKind::Decode {
                    detail: format!("{e} (body starts with {:?})", excerpt(&bytes, 120)),
                },
            )
        })
    }

    async fn send_raw(&self, request: &ApiRequest) -> Result<Vec<u8>, ApiError> {
        let policy = &self.config.retry;
        let mut backoff = policy.backoff();
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let outcome = self.attempt(request).await;
            let (class, retry_after, error) = match outcome {
                Ok(bytes) => return Ok(bytes),
                Err(failure) => failure,
            };
            let retry_after_too_long = retry_after.is_some_and(|d| d > policy.max_retry_after);
            if !may_retry(class, request.idempotency) || retry_after_too_long {
                return Err(error);
            }
            let Some(backoff_delay) = backoff.next() else {
                return Err(error);
            };
            // The server's retry-after is the authority; our backoff only applies without one.
            let delay = retry_after.map_or(backoff_delay, |ra| ra.max(policy.min_delay));
            tracing::debug!(
                request = %request.label(),
                attempt,
                delay_ms = delay.as_millis() as u64,
                error = %error,
                "retrying"
            );
            self.counters.retries.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(delay).await;
        }
    }

    /// One attempt. On failure: how to classify it, the server's `retry-after`, and the error
    /// to return if no retry happens.
    async fn attempt(
        &self,
        request: &ApiRequest,
    ) -> Result<Vec<u8>, (FailureClass, Option<Duration>, ApiError)> {
        let url = self.url(request);
        let counter = if request.method == Method::GET {
            &self.counters.reads
        } else {
            &self.counters.writes
        };
        counter.fetch_add(1, Ordering::Relaxed);
        let mut builder = self
            .http
            .request(request.method.clone(), url)
            .bearer_auth(self.config.token.expose())
            .header(reqwest::header::ACCEPT, "application/json");
        if let Some(body) = &request.body {
            builder = builder.json(body);
        }
        let response = match builder.send().await {
            Ok(r) => r,
            Err(e) => return Err(self.transport_failure(request, &e)),
        };
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = match response.bytes().await {
            Ok(b) => b.to_vec(),
            Err(e) => return Err(self.transport_failure(request, &e)),
        };
        tracing::debug!(request = %request.label(), status = status.as_u16(), "response");
        if status.is_success() {
            return Ok(bytes);
        }
        let retry_after = headers
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let www_authenticate = headers
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let kind = error_kind(status, &bytes, www_authenticate, retry_after);
        let class = if status == StatusCode::TOO_MANY_REQUESTS {
            FailureClass::RateLimited
        } else if status.is_server_error() {
            FailureClass::MaybeApplied
        } else {
            FailureClass::Permanent
        };
        Err((class, retry_after, self.error(request, kind)))
    }

    fn transport_failure(
        &self,
        request: &ApiRequest,
        err: &reqwest::Error,
    ) -> (FailureClass, Option<Duration>, ApiError) {
        let detail = error_chain(err);
        let certificate = is_certificate_error(&detail);
        let (class, kind) = if err.is_timeout() {
            (FailureClass::MaybeApplied, ErrorKind::Timeout)
        } else if certificate {
            // reqwest reports TLS failures as connect errors; retrying cannot fix them.
            (FailureClass::Permanent, ErrorKind::Connection { detail })
        } else if err.is_connect() {
            (FailureClass::NotSent, ErrorKind::Connection { detail })
        } else {
            // The connection broke after the request was (possibly) sent.
            (FailureClass::MaybeApplied, ErrorKind::Connection { detail })
        };
        (class, None, self.error(request, kind))
    }

    fn error(&self, request: &ApiRequest, kind: ErrorKind) -> ApiError {
        ApiError::new(request.label(), self.config.environment, kind)
    }

    fn url(&self, request: &ApiRequest) -> reqwest::Url {
        let raw = format!("{}{}", self.config.base_url.as_str(), request.path);
        // The base URL was validated and paths are built from encoded segments, so this parse
        // only fails on a bug; fall back to the base URL to surface it as a 404 rather than panic.
        let mut url = reqwest::Url::parse(&raw).unwrap_or_else(|_| {
            reqwest::Url::parse(self.config.base_url.as_str()).expect("validated base URL")
        });
        if !request.query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (k, v) in &request.query {
                pairs.append_pair(k, v);
            }
        }
        url
    }
}

/// Maps a non-2xx status and body to an error kind.
fn error_kind(
    status: StatusCode,
    body: &[u8],
    www_authenticate: &str,
    retry_after: Option<Duration>,
) -> ErrorKind {
    let json: serde_json::Value = serde_json::from_slice(body).unwrap_or(serde_json::Value::Null);
    let error_code = json.get("error").and_then(|v| v.as_str()).unwrap_or("");
    let detail = json
        .get("detail")
        .and_then(|v| v.as_str())
        .or_else(|| json.get("error_description").and_then(|v| v.as_str()))
        .map(str::to_owned)
        .unwrap_or_else(|| excerpt(body, 200));
    match status.as_u16() {
        401 if error_code == "invalid_token" || www_authenticate.contains("invalid_token") => {
            ErrorKind::InvalidToken
        }
        401 => ErrorKind::Unauthenticated,
        403 if error_code == "insufficient_scope"
            || www_authenticate.contains("insufficient_scope") =>
        {
            ErrorKind::MissingScope {
                accepted: scopes_from_www_authenticate(www_authenticate),
            }
        }
        403 => ErrorKind::Forbidden { detail },
        404 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict { detail },
        422 => ErrorKind::Validation {
            problems: validation_problems(&json, &detail),
        },
        429 => ErrorKind::RateLimited { retry_after },
        s if (500..600).contains(&s) => ErrorKind::Server { status: s, detail },
        s => ErrorKind::Status { status: s, detail },
    }
}

/// `Bearer realm="spaire", error="insufficient_scope", scope="web:write meters:write"`.
fn scopes_from_www_authenticate(header: &str) -> Vec<String> {
    let Some(start) = header.find("scope=\"") else {
        return Vec::new();
    };
    let rest = &header[start + "scope=\"".len()..];
    let value = rest.split('"').next().unwrap_or("");
    let mut scopes: Vec<String> = value.split_whitespace().map(str::to_owned).collect();
    // The server sends a set (unordered); sort so messages are stable.
    scopes.sort();
    scopes.dedup();
    scopes
}

fn validation_problems(json: &serde_json::Value, fallback: &str) -> Vec<FieldProblem> {
    match json.get("detail") {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .map(|item| FieldProblem {
                field: item
                    .get("loc")
                    .and_then(|l| l.as_array())
                    .map(|l| field_path(l))
                    .unwrap_or_default(),
                message: item
                    .get("msg")
                    .and_then(|m| m.as_str())
                    .unwrap_or("invalid value")
                    .to_owned(),
                kind: item
                    .get("type")
                    .and_then(|t| t.as_str())
                    .unwrap_or("")
                    .to_owned(),
            })
            .collect(),
        _ => vec![FieldProblem {
            field: String::new(),
            message: fallback.to_owned(),
            kind: String::new(),
        }],
    }
}

fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![err.to_string()];
    let mut current = err.source();
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}

fn is_certificate_error(detail: &str) -> bool {
    let lower = detail.to_ascii_lowercase();
    lower.contains("certificate")
        || lower.contains("unknownissuer")
        || lower.contains("tls handshake")
}

fn excerpt(bytes: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let trimmed = text.trim();
    if trimmed.chars().count() <= max {
        trimmed.to_owned()
    } else {
        let cut: String = trimmed.chars().take(max).collect();
        format!("{cut}…")
    }
}

/// Percent-encodes one path segment (ids are UUIDs, but external ids are user data).
pub(crate) fn segment(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_read_from_www_authenticate() {
        let h = r#"Bearer realm="spaire", error="insufficient_scope", error_description="x", scope="web:write meters:write""#;
        assert_eq!(
            scopes_from_www_authenticate(h),
            vec!["meters:write".to_owned(), "web:write".to_owned()]
        );
        assert!(scopes_from_www_authenticate("Bearer realm=\"spaire\"").is_empty());
    }

    #[test]
    fn segments_are_encoded() {
        assert_eq!(segment("user 1/ä"), "user%201%2F%C3%A4");
        assert_eq!(segment("abc-123_x.y~"), "abc-123_x.y~");
    }

    #[test]
    fn tokens_that_cannot_be_sent_are_refused_before_any_request() {
        let url = ServerUrl::parse("http://127.0.0.1:1").unwrap();
        let err = Client::new(ClientConfig::new(url.clone(), Secret::new(""))).unwrap_err();
        assert!(err.to_string().contains("no access token"));
        let err = Client::new(ClientConfig::new(url, Secret::new("tok en"))).unwrap_err();
        assert!(err.to_string().contains("non-ASCII"));
        assert!(!err.to_string().contains("tok en"));
    }
}
