//! The one place requests leave for the upstream API: origin pinning, credential
//! injection, redirects, redaction, logging, and mapping responses to tool results.

use std::{
    borrow::Cow,
    sync::Arc,
    time::{Duration, Instant},
};

use rmcp::model::{CallToolResult, ContentBlock};
use url::Url;
use zeroize::{Zeroize as _, Zeroizing};

use crate::{
    api::{Body, Fields, Prepared, Redirects, Scheme, SchemeKind, ToolDef},
    credential::SealedCredential,
    error::tool_error,
    http::{credential_client, read_into, same_origin},
    oauth::{AuthorizationCode, ClientCredentials, Endpoint},
    observe::{self, ErrorClass, Record, Trace},
    redact::Needles,
    secret::Secret,
    spill::{Link, Room, SpillConfig, Spills},
    style,
};

/// Bodies larger than this are cut before they reach the model.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// How much of an error body is shown in a tool error.
const ERROR_BODY_LIMIT: usize = 2048;
/// Same-origin redirects followed at most, when following is on.
const MAX_REDIRECTS: usize = 5;

/// How to reach the upstream API.
#[derive(Debug)]
pub struct Upstream {
    client: reqwest::Client,
    /// Token, discovery and registration traffic: no redirects either, and bounded bodies.
    oauth_client: reqwest::Client,
    base_url: String,
    /// `base_url`, parsed once: every request must stay on its origin.
    base: Url,
    /// A base URL given at run time applies to every tool, per-operation servers included.
    base_url_overridden: bool,
    redirects: Redirects,
    schemes: &'static [Scheme],
    always: &'static [usize],
    /// One slot per scheme, in the same order.
    credentials: Vec<Option<SealedCredential>>,
    /// Token caches of OAuth 2.0 schemes, in the same order.
    oauth: Vec<Option<TokenSource>>,
    static_headers: &'static [(&'static str, &'static str)],
    max_response_bytes: usize,
    max_structured_bytes: usize,
    spills: Spills,
    /// Whole-request timeout, and per-tool ones from `[tools.timeouts]`.
    timeout: Duration,
    tool_timeouts: std::collections::HashMap<&'static str, Duration>,
    retry: RetryPolicy,
    budget: RetryBudget,
    needles: NeedleCache,
    /// When the upstream last answered, in milliseconds after `started` (0: never).
    reached_at: std::sync::atomic::AtomicU64,
    started: Instant,
}

/// Where an OAuth 2.0 scheme's access tokens come from.
#[derive(Debug)]
enum TokenSource {
    Client(ClientCredentials),
    User(AuthorizationCode),
}

impl TokenSource {
    async fn invalidate(&self) {
        match self {
            TokenSource::Client(source) => source.invalidate().await,
            TokenSource::User(source) => source.invalidate().await,
        }
    }
}

/// The outcome of one try; a 401 says which OAuth schemes' tokens it carried, and a
/// failure that another try may cure says how long the upstream asked to wait.
enum Attempt {
    Done(CallToolResult),
    Unauthorized(CallToolResult, Vec<usize>),
    Transient(CallToolResult, Option<Duration>),
}

impl Attempt {
    fn into_result(self) -> CallToolResult {
        match self {
            Attempt::Done(result) | Attempt::Unauthorized(result, _) | Attempt::Transient(result, _) => result,
        }
    }
}

/// How failed calls are tried again: only for operations that are idempotent, on
/// connection failures, 502, 503, 504 and 429, with exponential backoff and full
/// jitter, honouring `Retry-After` up to a cap, and within a budget shared by all
/// calls so that a failing upstream is not hit with a storm of retries.
#[derive(Debug)]
pub struct RetryPolicy {
    /// Tries after the first, at most.
    pub retries: u32,
    /// The first backoff; each next one doubles.
    pub base: Duration,
    /// A `Retry-After` longer than this is not waited for.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            retries: 2,
            base: Duration::from_millis(100),
            max_retry_after: Duration::from_secs(10),
        }
    }
}

/// A token bucket shared by all calls: each call adds a fifth of a retry, each retry
/// takes one; it starts and tops out at a burst of 50. So retries stay under a fifth of
/// the calls (plus the burst) however badly the upstream fails; past that, failures are
/// returned at once. Counted in thousandths, so the arithmetic is exact.
#[derive(Debug)]
struct RetryBudget(std::sync::atomic::AtomicU32);

const RETRY_COST: u32 = 1000;
const RETRY_BUDGET_DEPOSIT: u32 = RETRY_COST / 5;
const RETRY_BUDGET_BURST: u32 = 50 * RETRY_COST;

impl RetryBudget {
    fn new() -> Self {
        Self(std::sync::atomic::AtomicU32::new(RETRY_BUDGET_BURST))
    }

    fn deposit(&self) {
        let _ = self.update(|tokens| Some((tokens + RETRY_BUDGET_DEPOSIT).min(RETRY_BUDGET_BURST)));
    }

    fn withdraw(&self) -> bool {
        self.update(|tokens| tokens.checked_sub(RETRY_COST)).is_ok()
    }

    fn update(&self, f: impl FnMut(u32) -> Option<u32>) -> Result<u32, u32> {
        use std::sync::atomic::Ordering::Relaxed;
        self.0.fetch_update(Relaxed, Relaxed, f)
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(
        at.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// Full jitter: a random wait between zero and `base × 2^(retry − 1)`.
fn backoff(base: Duration, retry: u32) -> Duration {
    let ceiling = base.saturating_mul(1 << retry.saturating_sub(1).min(16));
    let mut random = [0u8; 4];
    let fraction = match getrandom::fill(&mut random) {
        Ok(()) => f64::from(u32::from_le_bytes(random)) / f64::from(u32::MAX),
        Err(_) => 0.5,
    };
    ceiling.mul_f64(fraction)
}

/// What [`Upstream::new`] needs.
#[derive(Debug)]
pub struct UpstreamConfig<'a> {
    /// Base URL for tools without a server of their own.
    pub base_url: &'a str,
    /// Whether `base_url` was given at run time (then it applies to every tool).
    pub base_url_overridden: bool,
    /// Which redirects are followed.
    pub redirects: Redirects,
    /// The API's security schemes.
    pub schemes: &'static [Scheme],
    /// Schemes sent on every request where configured.
    pub always: &'static [usize],
    /// The credential of each scheme (same order), where one is configured.
    pub credentials: Vec<Option<SealedCredential>>,
    /// Non-secret headers for every request.
    pub static_headers: &'static [(&'static str, &'static str)],
    /// Whole-request timeout (connecting, sending, reading the answer), at least a second.
    pub timeout: Duration,
    /// Connecting alone, at least a second.
    pub connect_timeout: Duration,
    /// Per-tool timeouts (`[tools.timeouts]` in cast.toml), in seconds.
    pub tool_timeouts: &'static [(&'static str, u64)],
    /// How failed calls are tried again.
    pub retry: RetryPolicy,
    /// Responses are cut at this size.
    pub max_response_bytes: usize,
    /// JSON responses above this size come back as text only, without `structuredContent`.
    pub max_structured_bytes: usize,
    /// Whole bodies of cut results, held for `resources/read`.
    pub spill: SpillConfig,
}

/// The credentials of one request, placed where their schemes say, and the forms
/// in which an echoing upstream could hand them back. Wiped when dropped; its `Debug`
/// names the headers only.
#[derive(Default)]
struct Applied {
    headers: Vec<(&'static str, Zeroizing<String>)>,
    /// `name=value` pairs for the query string, already encoded.
    query: Zeroizing<String>,
    cookies: Vec<Zeroizing<String>>,
    /// Body fields, for an object body.
    fields: Vec<(&'static str, Zeroizing<String>)>,
    needles: Arc<Needles>,
}

impl std::fmt::Debug for Applied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Applied")
            .field(
                "headers",
                &self.headers.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
            )
            .field("query", &(!self.query.is_empty()).then_some("[redacted]"))
            .field("cookies", &self.cookies.len())
            .field("fields", &self.fields.iter().map(|(name, _)| *name).collect::<Vec<_>>())
            .field("needles", &self.needles)
            .finish()
    }
}

/// A credential chosen for a request: its scheme index and kind, the value sent, and
/// the secret behind it when the value was bought with one (an OAuth client secret).
type Chosen = (usize, SchemeKind, Arc<Secret>, Option<Arc<Secret>>);

/// The redaction set of the credentials last applied, with the credentials it was built
/// from. Building the matcher is most of redaction's cost, and credentials change only when
/// they rotate (or an OAuth token is renewed): calls reuse it until then.
#[derive(Debug, Default)]
struct NeedleCache(std::sync::Mutex<Option<CachedNeedles>>);

/// The credentials a redaction set was built from, and the set.
type CachedNeedles = (Vec<Arc<Secret>>, Arc<Needles>);

impl NeedleCache {
    fn of(&self, credentials: &[Chosen]) -> Arc<Needles> {
        let secrets: Vec<Arc<Secret>> = credentials
            .iter()
            .flat_map(|(_, _, sent, behind)| std::iter::once(sent.clone()).chain(behind.clone()))
            .collect();
        let same = |cached: &[Arc<Secret>]| {
            cached.len() == secrets.len()
                && cached
                    .iter()
                    .zip(&secrets)
                    .all(|(a, b)| Arc::ptr_eq(a, b) || a.expose() == b.expose())
        };
        let mut cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((cached, needles)) = &*cache
            && same(cached)
        {
            return needles.clone();
        }
        let needles = Arc::new(needles_of(credentials));
        *cache = Some((secrets, needles.clone()));
        needles
    }
}

/// Every secret of `credentials` in every form: the values sent, and for a value bought
/// with a secret (`client_id:client_secret`), the pair and the secret half alone.
fn needles_of(credentials: &[Chosen]) -> Needles {
    let sent = credentials.iter().map(|(_, _, secret, _)| secret.expose());
    let behind = credentials
        .iter()
        .filter_map(|(.., behind)| behind.as_deref())
        .flat_map(|secret| [Some(secret.expose()), secret.expose().split_once(':').map(|(_, s)| s)])
        .flatten();
    Needles::of(sent.chain(behind))
}

fn apply(credentials: &[Chosen], needles: &NeedleCache) -> Applied {
    use base64::Engine as _;
    let mut applied = Applied::default();
    for (_, kind, secret, _) in credentials {
        let value = secret.expose();
        match kind {
            SchemeKind::Header { name } => applied.headers.push((name, Zeroizing::new(value.to_owned()))),
            SchemeKind::Bearer
            | SchemeKind::OAuth2ClientCredentials { .. }
            | SchemeKind::OAuth2AuthorizationCode { .. }
            | SchemeKind::OpenIdConnect { .. } => applied
                .headers
                .push(("authorization", Zeroizing::new(format!("Bearer {value}")))),
            SchemeKind::Basic => {
                let encoded = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(value));
                applied
                    .headers
                    .push(("authorization", Zeroizing::new(format!("Basic {}", *encoded))));
            }
            SchemeKind::Query { name } => {
                if !applied.query.is_empty() {
                    applied.query.push('&');
                }
                applied.query.push_str(&style::encode(name));
                applied.query.push('=');
                applied.query.push_str(&Zeroizing::new(style::encode(value)));
            }
            SchemeKind::Field { name } => applied.fields.push((name, Zeroizing::new(value.to_owned()))),
            SchemeKind::Cookie { name } => applied.cookies.push(Zeroizing::new(format!(
                "{}={}",
                style::encode(name),
                *Zeroizing::new(style::encode(value))
            ))),
        }
    }
    applied.needles = needles.of(credentials);
    applied
}

/// An object body on the wire, with the credential fields of its schemes set last. The
/// values are copied into a short-lived map that is wiped after encoding.
fn encode_fields(
    fields: &Fields,
    credentials: &[(&'static str, Zeroizing<String>)],
) -> Result<(Vec<u8>, String), String> {
    let encoded = if credentials.is_empty() {
        crate::body::encode(fields.encoding, &serde_json::Value::Object(fields.values.clone()))
    } else {
        let mut values = fields.values.clone();
        for (name, secret) in credentials {
            values.insert((*name).to_owned(), serde_json::Value::String(secret.to_string()));
        }
        let mut value = serde_json::Value::Object(values);
        let encoded = crate::body::encode(fields.encoding, &value);
        if let serde_json::Value::Object(values) = &mut value {
            for (name, _) in credentials {
                if let Some(serde_json::Value::String(secret)) = values.get_mut(*name) {
                    secret.zeroize();
                }
            }
        }
        encoded
    };
    let (bytes, content_type) = encoded?;
    Ok((bytes, content_type.unwrap_or_else(|| fields.media.to_owned())))
}

/// A response as it may be shown: already redacted and cut to the size cap.
struct Reply {
    status: reqwest::StatusCode,
    retry_after: Option<Duration>,
    content_type: Option<String>,
    body: Vec<u8>,
    truncated: bool,
    /// The whole body, redacted, when it was read whole past the cap and there was room.
    whole: Option<(Room, Vec<u8>)>,
    redirects: usize,
}

/// Why no response can be shown.
enum Failure {
    Transport(reqwest::Error),
    /// Refused by Cast instead of going on: the message says why.
    Refused(String),
}

impl Upstream {
    /// Builds the upstream client. The base URL must be an absolute http(s) URL.
    pub fn new(config: UpstreamConfig<'_>) -> Result<Self, String> {
        let base = parse_base(config.base_url)?;
        for (what, timeout) in [
            ("--timeout-secs", config.timeout),
            ("--connect-timeout-secs", config.connect_timeout),
        ]
        .into_iter()
        .chain(
            config
                .tool_timeouts
                .iter()
                .map(|(_, s)| ("[tools.timeouts]", Duration::from_secs(*s))),
        ) {
            if timeout < Duration::from_secs(1) {
                return Err(format!("{what} must be at least 1 second: every call would fail"));
            }
        }
        Ok(Self {
            client: credential_client(config.timeout, config.connect_timeout)?,
            oauth_client: credential_client(config.timeout, config.connect_timeout)?,
            timeout: config.timeout,
            tool_timeouts: config
                .tool_timeouts
                .iter()
                .map(|(name, secs)| (*name, Duration::from_secs(*secs)))
                .collect(),
            retry: config.retry,
            budget: RetryBudget::new(),
            needles: NeedleCache::default(),
            reached_at: std::sync::atomic::AtomicU64::new(0),
            started: Instant::now(),
            base_url: config.base_url.trim_end_matches('/').to_owned(),
            base,
            base_url_overridden: config.base_url_overridden,
            redirects: config.redirects,
            oauth: config
                .schemes
                .iter()
                .map(|scheme| match scheme.kind {
                    SchemeKind::OAuth2ClientCredentials {
                        token_url,
                        scopes,
                        params,
                    } => Some(TokenSource::Client(ClientCredentials::new(token_url, scopes, params))),
                    SchemeKind::OAuth2AuthorizationCode { token_url, scopes, .. } => Some(TokenSource::User(
                        AuthorizationCode::new(Endpoint::Token(token_url), scopes),
                    )),
                    SchemeKind::OpenIdConnect { discovery_url, scopes } => Some(TokenSource::User(
                        AuthorizationCode::new(Endpoint::Discovery(discovery_url), scopes),
                    )),
                    _ => None,
                })
                .collect(),
            schemes: config.schemes,
            always: config.always,
            credentials: config.credentials,
            static_headers: config.static_headers,
            max_response_bytes: config.max_response_bytes,
            max_structured_bytes: config.max_structured_bytes,
            // A body is held only when it can be larger than what the result shows.
            spills: Spills::new(SpillConfig {
                max_bytes: if config.spill.max_bytes > config.max_response_bytes {
                    config.spill.max_bytes
                } else {
                    0
                },
                ..config.spill
            }),
        })
    }

    /// The whole bodies of cut results, for `resources/read`.
    pub(crate) fn spills(&self) -> &Spills {
        &self.spills
    }

    /// The credentials for `tool`: the first requirement alternative whose schemes all
    /// have one configured; an empty alternative (auth optional) only when none does.
    /// OAuth 2.0 schemes yield their current access token, sent as a bearer token.
    async fn credentials_for(&self, tool: &ToolDef) -> Result<Vec<Chosen>, String> {
        let mut loaded = self.requirement_credentials(tool).await?;
        for &index in self.always {
            if let Some(credential) = self.credentials.get(index).and_then(Option::as_ref)
                && !loaded.iter().any(|(i, ..)| *i == index)
            {
                loaded.push((index, self.schemes[index].kind, credential.current(), None));
            }
        }
        Ok(loaded)
    }

    async fn requirement_credentials(&self, tool: &ToolDef) -> Result<Vec<Chosen>, String> {
        for alternative in tool.security.iter().filter(|a| !a.is_empty()) {
            let configured: Option<Vec<(usize, Arc<Secret>)>> = alternative
                .iter()
                .map(|&index| Some((index, self.credentials.get(index)?.as_ref()?.current())))
                .collect();
            let Some(configured) = configured else { continue };
            let mut loaded = Vec::with_capacity(configured.len());
            for (index, secret) in configured {
                let kind = self.schemes[index].kind;
                let token = match &self.oauth[index] {
                    Some(TokenSource::Client(source)) => source.token(&self.oauth_client, &secret).await,
                    Some(TokenSource::User(source)) => match &self.credentials[index] {
                        Some(credential) => source.token(&self.oauth_client, credential).await,
                        None => continue,
                    },
                    None => {
                        loaded.push((index, kind, secret, None));
                        continue;
                    }
                };
                let token = token.map_err(|e| e.to_string())?;
                loaded.push((index, kind, Arc::new(token), Some(secret)));
            }
            return Ok(loaded);
        }
        Ok(Vec::new())
    }

    /// Notes that the upstream answered just now.
    fn reached(&self) {
        let now = self.started.elapsed().as_millis() as u64 + 1;
        self.reached_at.store(now, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether calls can be served (`/readyz`): every configured credential is loaded and
    /// its file is still there, and the upstream answered a call or accepted a connection
    /// within `within` (a connection is tried when no call did).
    pub(crate) async fn readiness(&self, within: Duration) -> Result<(), String> {
        if !self.schemes.is_empty() && self.credentials.iter().all(Option::is_none) {
            return Err("no upstream credential is configured (--key-file or --credential)".to_owned());
        }
        for credential in self.credentials.iter().flatten() {
            credential.ready()?;
        }
        let last = self.reached_at.load(std::sync::atomic::Ordering::Relaxed);
        let now = self.started.elapsed().as_millis() as u64 + 1;
        if last != 0 && now.saturating_sub(last) <= within.as_millis() as u64 {
            return Ok(());
        }
        let origin = self.base.origin().ascii_serialization();
        let (Some(host), Some(port)) = (self.base.host_str(), self.base.port_or_known_default()) else {
            return Err(format!("the upstream {origin} has no host and port"));
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        match tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect((host, port))).await {
            Ok(Ok(_)) => {
                self.reached();
                Ok(())
            }
            Ok(Err(err)) => Err(format!("the upstream {origin} is unreachable: {err}")),
            Err(_) => Err(format!("the upstream {origin} did not accept a connection within 2 s")),
        }
    }

    pub(crate) async fn send(&self, request: Prepared, trace: &Trace, record: &mut Record) -> CallToolResult {
        let tool = request.tool;
        let timeout = self.tool_timeouts.get(tool.name).copied().unwrap_or(self.timeout);
        let deadline = Instant::now() + timeout;
        // Only calls whose repetition has no further effect are tried again.
        let retryable = tool.annotations.idempotent || tool.annotations.read_only;
        self.budget.deposit();
        let mut attempts = 1u32;
        let mut renewed_token = false;
        loop {
            record.attempts = attempts;
            let result = match self.attempt(&request, timeout, trace, record).await {
                // A refused OAuth token may have been revoked or expired early: renew once and retry.
                Attempt::Unauthorized(_, oauth) if !oauth.is_empty() && !renewed_token => {
                    for index in oauth {
                        if let Some(cache) = &self.oauth[index] {
                            cache.invalidate().await;
                        }
                    }
                    renewed_token = true;
                    attempts += 1;
                    continue;
                }
                Attempt::Transient(result, asked) if retryable && attempts <= self.retry.retries => {
                    let wait = match asked {
                        Some(asked) if asked > self.retry.max_retry_after => None,
                        Some(asked) => Some(asked),
                        None => Some(backoff(self.retry.base, attempts)),
                    };
                    match wait {
                        Some(wait) if Instant::now() + wait < deadline && self.budget.withdraw() => {
                            tracing::info!(
                                target: "cast::upstream",
                                tool = tool.name,
                                attempt = attempts,
                                wait_ms = wait.as_millis() as u64,
                                "trying again"
                            );
                            observe::retried(tool.name);
                            tokio::time::sleep(wait).await;
                            attempts += 1;
                            continue;
                        }
                        _ => result,
                    }
                }
                other => other.into_result(),
            };
            return with_attempts(result, attempts);
        }
    }

    /// The URL of a request, and the base whose origin it must keep. The configured base
    /// and the encoded path are joined, then parsed: if the arguments could make the
    /// result point anywhere but the base's scheme, host and port, the call is refused
    /// here, before a byte is sent.
    fn target(&self, tool: &ToolDef, path: &str, query: &str) -> Result<(Url, Cow<'_, Url>), String> {
        let (base_text, base) = match tool.base_url {
            Some(own) if !self.base_url_overridden => (
                own.trim_end_matches('/'),
                Cow::Owned(parse_base(own).map_err(|e| format!("tool `{}`: {e}", tool.name))?),
            ),
            _ => (self.base_url.as_str(), Cow::Borrowed(&self.base)),
        };
        if !path.starts_with('/') {
            return Err(format!(
                "refused: the path of `{}` does not start with `/`, so its arguments would be joined to the upstream's host name; regenerate from a spec whose paths start with `/`",
                tool.name
            ));
        }
        let mut joined = Zeroizing::new(String::with_capacity(base_text.len() + path.len() + query.len() + 1));
        joined.push_str(base_text);
        joined.push_str(path);
        if !query.is_empty() {
            joined.push('?');
            joined.push_str(query);
        }
        let url = Url::parse(&joined).map_err(|e| format!("cannot build the upstream URL of `{}`: {e}", tool.name))?;
        if !same_origin(&url, &base) {
            return Err(format!(
                "refused: the arguments of `{}` would send the request to {}, not to the upstream {}",
                tool.name,
                url.origin().ascii_serialization(),
                base.origin().ascii_serialization()
            ));
        }
        Ok((url, base))
    }

    async fn attempt(&self, request: &Prepared, timeout: Duration, trace: &Trace, record: &mut Record) -> Attempt {
        let tool = request.tool;
        let credentials = match self.credentials_for(tool).await {
            Ok(credentials) => credentials,
            Err(message) => {
                record.error = Some(ErrorClass::Credential);
                return Attempt::Done(tool_error(message));
            }
        };
        let oauth_used: Vec<usize> = credentials
            .iter()
            .filter(|(i, ..)| self.oauth[*i].is_some())
            .map(|(i, ..)| *i)
            .collect();
        let applied = apply(&credentials, &self.needles);
        drop(credentials);
        let mut query = Zeroizing::new(request.query.clone());
        if !applied.query.is_empty() {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(&applied.query);
        }
        let (url, base) = match self.target(tool, &request.path, &query) {
            Ok(target) => target,
            Err(message) => {
                tracing::warn!(
                    target: "cast::upstream",
                    tool = tool.name,
                    method = tool.method.as_str(),
                    path = tool.path_template,
                    caller = request.caller.as_deref(),
                    error = %message,
                    "upstream call refused"
                );
                record.error = Some(ErrorClass::Refused);
                return Attempt::Done(tool_error(message));
            }
        };
        let method = reqwest::Method::from_bytes(tool.method.as_str().as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut builder = self.client.request(method, url).timeout(timeout);
        for (name, value) in self.static_headers {
            builder = builder.header(*name, *value);
        }
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        if !request
            .headers
            .iter()
            .any(|(name, _)| name.eq_ignore_ascii_case("traceparent"))
        {
            builder = builder.header("traceparent", trace.header());
        }
        let mut cookies: Vec<&str> = request.cookies.iter().map(String::as_str).collect();
        cookies.extend(applied.cookies.iter().map(|c| c.as_str()));
        let cookie = Zeroizing::new(cookies.join("; "));
        let secret_headers = applied
            .headers
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .chain((!cookie.is_empty()).then_some(("cookie", cookie.as_str())));
        for (name, value) in secret_headers {
            match reqwest::header::HeaderValue::from_str(value) {
                Ok(mut value) => {
                    // Sensitive values are left out of `Debug` output and HTTP/2 header compression.
                    value.set_sensitive(true);
                    builder = builder.header(name, value);
                }
                Err(_) => {
                    record.error = Some(ErrorClass::Refused);
                    return Attempt::Done(tool_error(format!(
                        "a configured credential is not a valid `{name}` header value"
                    )));
                }
            }
        }
        match &request.body {
            Some(Body::Encoded(bytes)) => builder = builder.body(bytes.clone()),
            Some(Body::Fields(fields)) => match encode_fields(fields, &applied.fields) {
                Ok((bytes, content_type)) => {
                    builder = builder.header(reqwest::header::CONTENT_TYPE, content_type).body(bytes);
                }
                // About the agent's fields (a file that is not base64), never the credential's.
                Err(message) => {
                    record.error = Some(ErrorClass::Arguments);
                    return Attempt::Done(tool_error(message));
                }
            },
            None => {}
        }
        let outgoing = match builder.build() {
            Ok(outgoing) => outgoing,
            Err(err) => {
                record.error = Some(ErrorClass::Refused);
                let message = applied.needles.redact_str(&describe_transport_error(&err));
                return Attempt::Done(tool_error(format!("upstream request failed: {message}")));
            }
        };

        let started = Instant::now();
        let outcome = self.exchange(outgoing, &base, &applied).await;
        let latency_ms = started.elapsed().as_millis() as u64;
        match outcome {
            Ok(reply) => {
                record.response(reply.status.as_u16(), reply.body.len());
                self.reached();
                tracing::debug!(
                    target: "cast::upstream",
                    tool = tool.name,
                    method = tool.method.as_str(),
                    path = tool.path_template,
                    status = reply.status.as_u16(),
                    redirects = reply.redirects,
                    caller = request.caller.as_deref(),
                    latency_ms,
                    "upstream call"
                );
                let link = reply.whole.and_then(|(room, whole)| {
                    let media = media_essence(reply.content_type.as_deref());
                    self.spills.keep(room, request.caller.clone(), tool.name, media, whole)
                });
                let result = respond(
                    tool,
                    reply.status,
                    reply.content_type.as_deref(),
                    reply.body,
                    reply.truncated.then_some(Cut {
                        limit: self.max_response_bytes,
                        link,
                    }),
                    self.max_structured_bytes,
                );
                match reply.status.as_u16() {
                    401 => Attempt::Unauthorized(result, oauth_used),
                    429 | 502 | 503 | 504 => Attempt::Transient(result, reply.retry_after),
                    _ => Attempt::Done(result),
                }
            }
            Err(failure) => {
                // A connection that failed or broke may work the next time; a timeout already
                // spent the call's time, and a refusal is final.
                let transient = matches!(&failure, Failure::Transport(err) if !err.is_timeout());
                record.status = None;
                record.bytes = 0;
                record.error = Some(match &failure {
                    Failure::Transport(err) if err.is_timeout() => ErrorClass::Timeout,
                    Failure::Transport(_) => ErrorClass::Transport,
                    Failure::Refused(_) => ErrorClass::Refused,
                });
                let message = match failure {
                    Failure::Transport(err) => format!(
                        "upstream request failed: {}",
                        applied.needles.redact_str(&describe_transport_error(&err))
                    ),
                    Failure::Refused(message) => message,
                };
                tracing::debug!(
                    target: "cast::upstream",
                    tool = tool.name,
                    method = tool.method.as_str(),
                    path = tool.path_template,
                    caller = request.caller.as_deref(),
                    latency_ms,
                    error = %message,
                    "upstream call failed"
                );
                if transient {
                    Attempt::Transient(tool_error(message), None)
                } else {
                    Attempt::Done(tool_error(message))
                }
            }
        }
    }

    /// Sends the request, following redirects only as configured, and reads the body up
    /// to the cap plus enough to see whole a secret that straddles it; redacts, then cuts.
    async fn exchange(&self, mut request: reqwest::Request, base: &Url, applied: &Applied) -> Result<Reply, Failure> {
        let needles = &applied.needles;
        let mut redirects = 0;
        loop {
            let again = match self.redirects {
                Redirects::SameOrigin => request.try_clone(),
                Redirects::None => None,
            };
            let from = request.url().clone();
            let method = request.method().clone();
            let mut response = self.client.execute(request).await.map_err(Failure::Transport)?;
            let status = response.status();
            if status.is_redirection() && status != reqwest::StatusCode::NOT_MODIFIED {
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
                let refuse = |why: &str| {
                    let reason = status.canonical_reason().unwrap_or("");
                    let to = location
                        .as_deref()
                        .map(|l| format!(" to {}", needles.redact_str(l)))
                        .unwrap_or_default();
                    Failure::Refused(format!(
                        "upstream answered HTTP {} {reason} (a redirect{to}): {why}",
                        status.as_u16()
                    ))
                };
                if self.redirects == Redirects::None {
                    return Err(refuse(
                        "redirects are not followed, so the credential never leaves the upstream's origin (`follow_redirects = \"same-origin\"` in cast.toml, or `--follow-redirects same-origin`, follows them within it)",
                    ));
                }
                let follows = [301, 302, 303, 307, 308].contains(&status.as_u16());
                let Some(target) = location.as_deref().filter(|_| follows) else {
                    return Err(refuse("not a redirect that can be followed"));
                };
                let Ok(mut next_url) = from.join(target) else {
                    return Err(refuse("its Location is not a valid URL"));
                };
                if !same_origin(&next_url, base) {
                    return Err(refuse(&format!(
                        "it leads away from the upstream's origin {}, so it was not followed",
                        base.origin().ascii_serialization()
                    )));
                }
                redirects += 1;
                if redirects > MAX_REDIRECTS {
                    return Err(refuse(&format!("more than {MAX_REDIRECTS} redirects in a row")));
                }
                let Some(mut next) = again else {
                    return Err(refuse("the request body cannot be sent again"));
                };
                // A query credential belongs to the request, not to the Location.
                if !applied.query.is_empty() {
                    let mut query = Zeroizing::new(next_url.query().unwrap_or("").to_owned());
                    if !query.is_empty() {
                        query.push('&');
                    }
                    query.push_str(&applied.query);
                    next_url.set_query(Some(&query));
                }
                *next.url_mut() = next_url;
                let becomes_get = status == reqwest::StatusCode::SEE_OTHER
                    || (method == reqwest::Method::POST && [301, 302].contains(&status.as_u16()));
                if becomes_get && method != reqwest::Method::HEAD {
                    *next.method_mut() = reqwest::Method::GET;
                    *next.body_mut() = None;
                    next.headers_mut().remove(reqwest::header::CONTENT_TYPE);
                    next.headers_mut().remove(reqwest::header::CONTENT_LENGTH);
                }
                request = next;
                continue;
            }
            let asked_to_wait = retry_after(response.headers());
            let content_type = response
                .headers()
                .get(reqwest::header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .map(|v| needles.redact_str(v));
            let cap = self.max_response_bytes;
            // Past the cap, with enough room, the rest is read too (up to the second cap)
            // so the whole body can be held for `resources/read`.
            let mut raw = Zeroizing::new(Vec::new());
            let mut more = read_into(&mut response, &mut raw, cap.saturating_add(needles.lookahead()))
                .await
                .map_err(Failure::Transport)?;
            let mut room = None;
            if (more || raw.len() > cap) && status.is_success() && raw.len() <= self.spills.max_bytes() {
                room = self.spills.reserve();
                if room.is_some() && more {
                    let limit = self.spills.max_bytes().saturating_add(needles.lookahead());
                    more = read_into(&mut response, &mut raw, limit)
                        .await
                        .map_err(Failure::Transport)?;
                }
                if more || raw.len() > self.spills.max_bytes() {
                    room = None;
                }
            }
            let truncated = more || raw.len() > cap;
            let mut body = needles.redact(&raw);
            let whole = match room {
                Some(room) if truncated => Some((room, body.clone())),
                _ => None,
            };
            if truncated {
                body.truncate(utf8_floor(&body, cap));
            }
            return Ok(Reply {
                status,
                retry_after: asked_to_wait,
                content_type,
                body,
                truncated,
                whole,
                redirects,
            });
        }
    }
}

/// Says in `_meta` how many tries a call took, when it took more than one.
fn with_attempts(mut result: CallToolResult, attempts: u32) -> CallToolResult {
    if attempts > 1 {
        result
            .meta
            .get_or_insert_with(|| rmcp::model::MetaObject(serde_json::Map::new()))
            .0
            .insert("io.cast/attempts".to_owned(), serde_json::json!(attempts));
    }
    result
}

fn parse_base(text: &str) -> Result<Url, String> {
    match Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => Ok(url),
        _ => Err(format!(
            "the upstream base URL `{text}` is not an absolute http(s) URL; pass --base-url or set CAST_BASE_URL"
        )),
    }
}

/// The largest cut at or below `at` that does not split a UTF-8 sequence.
fn utf8_floor(bytes: &[u8], at: usize) -> usize {
    if at >= bytes.len() {
        return bytes.len();
    }
    (at.saturating_sub(3)..=at)
        .rev()
        .find(|&cut| bytes[cut] & 0b1100_0000 != 0b1000_0000)
        .unwrap_or(at)
}

/// reqwest errors print the URL, which may carry query parameters; say what happened without it.
fn describe_transport_error(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_body() || err.is_decode() {
        "the response body could not be read"
    } else {
        "the request could not be sent"
    };
    let mut detail = String::new();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        detail = cause.to_string();
        source = cause.source();
    }
    if detail.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind} ({detail})")
    }
}

fn media_essence(content_type: Option<&str>) -> String {
    content_type
        .and_then(|ct| ct.split(';').next())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// Maps a response to MCP content: JSON to text plus `structuredContent`, text to
/// text, images and audio to their content types, other bytes to an embedded blob.
/// JSON bodies up to this size also come back as `structuredContent` by default; larger
/// ones as text only, so a big answer is held once, not twice (`--max-structured-bytes`).
pub const DEFAULT_MAX_STRUCTURED_BYTES: usize = 256 * 1024;

fn respond(
    tool: &ToolDef,
    status: reqwest::StatusCode,
    content_type: Option<&str>,
    body: Vec<u8>,
    cut: Option<Cut>,
    max_structured_bytes: usize,
) -> CallToolResult {
    let truncated_at = cut.as_ref().map(|c| c.limit);
    use base64::Engine as _;
    let reason = status.canonical_reason().unwrap_or("");
    if !status.is_success() {
        let text = String::from_utf8_lossy(&body);
        let shown: String = text.chars().take(ERROR_BODY_LIMIT).collect();
        let cut = if shown.len() < text.len() || truncated_at.is_some() {
            " […]"
        } else {
            ""
        };
        let message = if shown.trim().is_empty() {
            format!("upstream returned HTTP {} {reason}", status.as_u16())
        } else {
            format!("upstream returned HTTP {} {reason}: {shown}{cut}", status.as_u16())
        };
        return tool_error(message);
    }
    if body.is_empty() {
        return CallToolResult::success(vec![ContentBlock::text(format!(
            "HTTP {} {reason} (no content)",
            status.as_u16()
        ))]);
    }
    let essence = media_essence(content_type);
    let is_json = essence == "application/json" || essence.ends_with("+json");
    let is_text = essence.starts_with("text/")
        || essence.ends_with("+xml")
        || [
            "application/xml",
            "application/javascript",
            "application/x-www-form-urlencoded",
            "",
        ]
        .contains(&essence.as_str());
    let base64 = || base64::engine::general_purpose::STANDARD.encode(&body);
    let mut kept_items = None;
    let mut result = if is_json || is_text {
        // The body becomes the text without a copy when it is UTF-8, as it nearly always is.
        let mut text = String::from_utf8(body).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        // A cut JSON body is cut again at the last whole item of its outermost array and
        // closed, so the agent gets valid JSON and knows how many items it holds.
        kept_items = match (is_json, truncated_at) {
            (true, Some(_)) => cut_at_item(&text).map(|(end, closers, items)| {
                text.truncate(end);
                text.push_str(&closers);
                items
            }),
            _ => None,
        };
        // MCP structured content is an object; a truncated body is not valid JSON anyway, and
        // past `max_structured_bytes` the body is not parsed at all (the parsed tree of a
        // list costs several times its text).
        let structured = if is_json && truncated_at.is_none() && text.len() <= max_structured_bytes {
            match serde_json::from_str(&text) {
                Ok(value @ serde_json::Value::Object(_)) => Some(value),
                _ => None,
            }
        } else {
            None
        };
        let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
        result.structured_content = structured;
        result
    } else if essence.starts_with("image/") {
        CallToolResult::success(vec![ContentBlock::image(base64(), essence)])
    } else if essence.starts_with("audio/") {
        CallToolResult::success(vec![ContentBlock::audio(base64(), essence)])
    } else {
        let uri = format!("cast://{}/response", tool.name);
        let blob = rmcp::model::ResourceContents::blob(base64(), uri).with_mime_type(essence);
        CallToolResult::success(vec![ContentBlock::resource(blob)])
    };
    if let Some(limit) = truncated_at {
        let kept_bytes = result
            .content
            .first()
            .and_then(|c| c.as_text())
            .map_or(0, |t| t.text.len());
        let link = cut.and_then(|c| c.link);
        let rest = match &link {
            Some(link) => format!(
                "the whole body ({} bytes) can be read for a few minutes as the resource {}",
                link.bytes, link.uri
            ),
            None => "narrow the request (filters, paging) to see the rest".to_owned(),
        };
        let said = match kept_items {
            Some(items) => format!(
                "[the response was over {limit} bytes: the first {items} items of its list are kept, as valid JSON; {rest}]"
            ),
            None => format!("[the response was cut at {limit} bytes; {rest}]"),
        };
        result.content.push(ContentBlock::text(said));
        let mut truncated = serde_json::json!({ "truncated": true, "limitBytes": limit, "keptBytes": kept_bytes });
        if let Some(items) = kept_items {
            truncated["keptItems"] = serde_json::json!(items);
        }
        if let Some(link) = link {
            truncated["totalBytes"] = serde_json::json!(link.bytes);
            truncated["resource"] = serde_json::json!(link.uri);
            let resource = rmcp::model::Resource::new(link.uri, format!("{} result", tool.name))
                .with_description("The whole response body this result was cut from.")
                .with_mime_type(media_essence(content_type))
                .with_size(link.bytes as u64);
            result.content.push(ContentBlock::resource_link(resource));
        }
        let mut meta = serde_json::Map::new();
        meta.insert("io.cast/truncated".to_owned(), truncated);
        result.meta = Some(rmcp::model::MetaObject(meta));
    }
    result
}

/// The defaults tests build an upstream from: no credentials, short timeouts.
#[cfg(test)]
pub(crate) fn test_config(base_url: &str) -> UpstreamConfig<'_> {
    UpstreamConfig {
        base_url,
        base_url_overridden: false,
        redirects: Redirects::None,
        schemes: &[],
        always: &[],
        credentials: Vec::new(),
        static_headers: &[],
        timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(5),
        tool_timeouts: &[],
        retry: RetryPolicy::default(),
        max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        max_structured_bytes: DEFAULT_MAX_STRUCTURED_BYTES,
        spill: SpillConfig::default(),
    }
}

/// A result cut at `limit` bytes, and where its whole body is held, if it is.
struct Cut {
    limit: usize,
    link: Option<Link>,
}

/// Where to cut a JSON text that was cut short so it stays valid: just after the last
/// whole item of its outermost array (`[…]` or the first array inside a top-level
/// object, as in `{"items": […]}`), with the brackets still open there closed. `None`
/// when no item is whole, or the text holds no array.
fn cut_at_item(text: &str) -> Option<(usize, String, usize)> {
    let bytes = text.as_bytes();
    let (mut in_string, mut escaped) = (false, false);
    let mut open: Vec<u8> = Vec::new();
    // The depth of the outermost array once it is open.
    let mut list_depth = None;
    let mut best: Option<(usize, String, usize)> = None;
    let mut items = 0;
    let closers = |open: &[u8]| -> String { open.iter().rev().map(|b| if *b == b'[' { ']' } else { '}' }).collect() };
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            if !in_string && list_depth == Some(open.len()) {
                // A string item of the list ended.
                items += 1;
                best = Some((i + 1, closers(&open), items));
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'[' | b'{' => {
                open.push(b);
                if b == b'[' && list_depth.is_none() && open.len() <= 2 {
                    list_depth = Some(open.len());
                }
            }
            b']' | b'}' => {
                open.pop();
                if list_depth == Some(open.len() + 1) && b == b']' {
                    // That list closed whole; the cut is in a later one, if any.
                    (list_depth, items, best) = (None, 0, None);
                    continue;
                }
                if list_depth == Some(open.len()) {
                    items += 1;
                    best = Some((i + 1, closers(&open), items));
                }
            }
            b',' if list_depth == Some(open.len()) => {
                // A number, boolean or null item ends at its comma.
                let item = text[..i].trim_end();
                if item.ends_with(|c: char| c.is_ascii_alphanumeric()) {
                    items += 1;
                    best = Some((item.len(), closers(&open), items));
                }
            }
            _ => {}
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_retry_budget_holds_retries_to_a_fifth_of_calls_plus_the_burst() {
        let budget = RetryBudget::new();
        // An upstream that fails every call: each call would retry as often as allowed.
        let mut retries = 0;
        for _ in 0..10_000 {
            budget.deposit();
            while budget.withdraw() {
                retries += 1;
            }
        }
        // The burst, then a fifth of each call (the very first deposit found it full).
        assert_eq!(retries, 50 + 9_999 / 5);
        // Calls that succeed refill it, up to the burst only.
        for _ in 0..1_000 {
            budget.deposit();
        }
        assert!((0..50).all(|_| budget.withdraw()) && !budget.withdraw());
    }

    static TEST_TOOL: ToolDef = ToolDef {
        name: "t",
        path_template: "/",
        path_pieces: &["/"],
        input_schema: "{}",
        ..ToolDef::BASE
    };

    #[test]
    fn media_types_map_to_content_kinds() {
        let image = respond(
            &TEST_TOOL,
            reqwest::StatusCode::OK,
            Some("image/png"),
            vec![0x89, b'P'],
            None,
            DEFAULT_MAX_STRUCTURED_BYTES,
        );
        let json = serde_json::to_value(&image.content[0]).expect("json");
        assert_eq!(
            (json["type"].as_str(), json["mimeType"].as_str(), json["data"].as_str()),
            (Some("image"), Some("image/png"), Some("iVA="))
        );
        let blob = respond(
            &TEST_TOOL,
            reqwest::StatusCode::OK,
            Some("application/pdf"),
            b"%PDF".to_vec(),
            None,
            DEFAULT_MAX_STRUCTURED_BYTES,
        );
        let json = serde_json::to_value(&blob.content[0]).expect("json");
        assert_eq!(json["resource"]["blob"], "JVBERg==");
        assert_eq!(json["resource"]["mimeType"], "application/pdf");
        let text = respond(
            &TEST_TOOL,
            reqwest::StatusCode::OK,
            Some("text/csv"),
            b"a,b".to_vec(),
            None,
            DEFAULT_MAX_STRUCTURED_BYTES,
        );
        assert_eq!(text.content[0].as_text().expect("text").text, "a,b");
        let cut = respond(
            &TEST_TOOL,
            reqwest::StatusCode::OK,
            Some("application/json"),
            b"{\"a\":".to_vec(),
            Some(Cut { limit: 6, link: None }),
            DEFAULT_MAX_STRUCTURED_BYTES,
        );
        assert_eq!(cut.structured_content, None);
        assert_eq!(cut.meta.expect("meta").0["io.cast/truncated"]["limitBytes"], 6);
    }

    #[test]
    fn a_cut_json_list_keeps_its_whole_items_as_valid_json() {
        let cases: [(&str, Option<(&str, usize)>); 8] = [
            (
                r#"[{"id":1,"s":"a]"},{"id":2},{"id":"#,
                Some((r#"[{"id":1,"s":"a]"},{"id":2}]"#, 2)),
            ),
            (
                r#"{"total":3,"items":[{"id":1},{"id":2,"tags":["x","#,
                Some((r#"{"total":3,"items":[{"id":1}]}"#, 1)),
            ),
            (r#"[1, 22, 333, 44"#, Some(("[1, 22, 333]", 3))),
            (r#"["a\"]", "b", "c"#, Some((r#"["a\"]", "b"]"#, 2))),
            (r#"[[1,2],[3,4],[5"#, Some(("[[1,2],[3,4]]", 2))),
            (r#"[{"id":1"#, None),
            (
                r#"{"tags":["a"],"items":[{"id":1},{"#,
                Some((r#"{"tags":["a"],"items":[{"id":1}]}"#, 1)),
            ),
            (r#"{"a":{"b":"#, None),
        ];
        for (text, expected) in cases {
            let got = cut_at_item(text).map(|(end, closers, items)| (format!("{}{closers}", &text[..end]), items));
            assert_eq!(got, expected.map(|(t, n)| (t.to_owned(), n)), "{text}");
            if let Some((json, _)) = &got {
                serde_json::from_str::<serde_json::Value>(json).unwrap_or_else(|e| panic!("{json}: {e}"));
            }
        }
        let body = br#"{"items":[{"id":1},{"id":2},{"id":3"#.to_vec();
        let cut = respond(
            &TEST_TOOL,
            reqwest::StatusCode::OK,
            Some("application/json"),
            body,
            Some(Cut { limit: 40, link: None }),
            DEFAULT_MAX_STRUCTURED_BYTES,
        );
        let text = &cut.content[0].as_text().expect("text").text;
        assert_eq!(text, r#"{"items":[{"id":1},{"id":2}]}"#);
        let meta = &cut.meta.expect("meta").0["io.cast/truncated"];
        assert_eq!(
            *meta,
            serde_json::json!({ "truncated": true, "limitBytes": 40, "keptBytes": text.len(), "keptItems": 2 })
        );
        assert!(
            cut.content[1]
                .as_text()
                .expect("note")
                .text
                .contains("the first 2 items")
        );
    }

    static HOST_EXTENDING: ToolDef = ToolDef {
        name: "host_extending",
        path_template: "{sub}/items",
        path_pieces: &["", "/items"],
        ..TEST_TOOL
    };

    fn upstream(base_url: &str) -> Upstream {
        Upstream::new(test_config(base_url)).expect("upstream")
    }

    #[tokio::test]
    async fn a_template_that_could_extend_the_host_is_refused_before_anything_is_sent() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let base = format!("http://127.0.0.1:{}", listener.local_addr().expect("addr").port());
        let upstream = Arc::new(upstream(&base));
        for value in [".attacker.example", "@127.0.0.2", ":1", "x"] {
            let call = crate::api::Call {
                tool: &HOST_EXTENDING,
                args: Default::default(),
                caller: None,
                constraints: Arc::new(crate::constraints::Constraints::new(Default::default())),
            };
            let prepared = call
                .request()
                .path("sub", &value.to_owned())
                .prepare()
                .expect("prepared");
            let result = upstream
                .send(
                    prepared,
                    &crate::observe::Trace::continuing(None),
                    &mut Default::default(),
                )
                .await;
            let text = result.content[0].as_text().expect("text").text.clone();
            assert_eq!(result.is_error, Some(true), "{value}: {text}");
            assert!(
                text.starts_with("refused: the path of `host_extending` does not start with `/`"),
                "{text}"
            );
        }
        assert!(listener.accept().is_err(), "nothing reached the upstream's port");
    }

    #[test]
    fn targets_keep_the_origin_and_the_base_path() {
        let upstream = upstream("https://api.example.com/v1/");
        let (url, base) = upstream.target(&TEST_TOOL, "/items/a%2Fb", "q=1").expect("target");
        assert_eq!(url.as_str(), "https://api.example.com/v1/items/a%2Fb?q=1");
        assert_eq!(base.as_str(), "https://api.example.com/v1/");
        static OWN_SERVER: ToolDef = ToolDef {
            base_url: Some("http://other.example.com:8080/x"),
            ..TEST_TOOL
        };
        let (url, _) = upstream.target(&OWN_SERVER, "/y", "").expect("target");
        assert_eq!(url.as_str(), "http://other.example.com:8080/x/y");
        for bad in ["file:///etc", "api.example.com", "/v1"] {
            let err = Upstream::new(test_config(bad)).expect_err(bad);
            assert!(err.contains("not an absolute http(s) URL"), "{err}");
        }
    }

    #[test]
    fn applied_credentials_never_print() {
        let chosen: Vec<Chosen> = vec![
            (
                0,
                SchemeKind::Header { name: "X-Api-Key" },
                Arc::new(Secret::new("cast_header_0123")),
                None,
            ),
            (
                1,
                SchemeKind::Query { name: "api_key" },
                Arc::new(Secret::new("cast_query_0123")),
                None,
            ),
            (
                2,
                SchemeKind::Bearer,
                Arc::new(Secret::new("tok_0123456789")),
                Some(Arc::new(Secret::new("client:cast_client_secret"))),
            ),
            (
                3,
                SchemeKind::Field { name: "token" },
                Arc::new(Secret::new("xoxb_field_0123")),
                None,
            ),
        ];
        let cache = NeedleCache::default();
        let applied = apply(&chosen, &cache);
        assert!(
            Arc::ptr_eq(&applied.needles, &apply(&chosen, &cache).needles),
            "built once"
        );
        let mut rotated = chosen.clone();
        rotated[0].2 = Arc::new(Secret::new("cast_rotated_4567"));
        let after = apply(&rotated, &cache);
        assert!(
            !Arc::ptr_eq(&applied.needles, &after.needles),
            "a new credential, a new set"
        );
        assert_eq!(after.needles.redact_str("cast_rotated_4567"), "[redacted]");
        let shown = format!("{applied:?}");
        assert!(
            shown.contains("X-Api-Key") && shown.contains("token") && !shown.contains("0123"),
            "{shown}"
        );
        assert_eq!(applied.needles.redact_str("xoxb_field_0123"), "[redacted]");
        assert_eq!(
            applied
                .needles
                .redact_str("cast_client_secret client:cast_client_secret"),
            "[redacted] [redacted]"
        );
    }

    #[test]
    fn credential_fields_join_the_agents_fields_last_in_every_encoding() {
        let values = |pairs: serde_json::Value| pairs.as_object().expect("object").clone();
        let secret = [("token", Zeroizing::new("xoxb-1 2&3".to_owned()))];
        let form = Fields {
            encoding: crate::body::Encoding::Form,
            media: "application/x-www-form-urlencoded",
            values: values(serde_json::json!({ "channel": "C1", "text": "hi there" })),
        };
        let (bytes, content_type) = encode_fields(&form, &secret).expect("form");
        assert_eq!(bytes, b"channel=C1&text=hi+there&token=xoxb-1+2%263");
        assert_eq!(content_type, "application/x-www-form-urlencoded");
        let json = Fields {
            encoding: crate::body::Encoding::Json,
            media: "application/json",
            values: values(serde_json::json!({ "b": 1, "a": [true] })),
        };
        let (bytes, _) = encode_fields(&json, &secret).expect("json");
        assert_eq!(bytes, br#"{"b":1,"a":[true],"token":"xoxb-1 2&3"}"#);
        let (bytes, _) = encode_fields(&json, &[]).expect("no credential");
        assert_eq!(bytes, br#"{"b":1,"a":[true]}"#);
        let multipart = Fields {
            encoding: crate::body::Encoding::Multipart { files: &[] },
            media: "multipart/form-data",
            values: values(serde_json::json!({ "title": "t" })),
        };
        let (bytes, content_type) = encode_fields(&multipart, &secret).expect("multipart");
        let text = String::from_utf8(bytes).expect("text");
        assert!(
            content_type.starts_with("multipart/form-data; boundary=cast-"),
            "{content_type}"
        );
        assert!(
            text.contains("name=\"title\"\r\n\r\nt\r\n") && text.contains("name=\"token\"\r\n\r\nxoxb-1 2&3\r\n"),
            "{text}"
        );
    }

    #[test]
    fn cuts_never_split_a_character() {
        let text = "aé".as_bytes();
        assert_eq!(utf8_floor(text, 2), 1);
        assert_eq!(utf8_floor(text, 3), 3);
        assert_eq!(utf8_floor(b"abc", 1), 1);
    }

    #[test]
    fn error_status_is_a_tool_error_with_body() {
        let result = respond(
            &TEST_TOOL,
            reqwest::StatusCode::UNAUTHORIZED,
            Some("application/json"),
            br#"{"error":"MISSING_API_KEY"}"#.to_vec(),
            None,
            DEFAULT_MAX_STRUCTURED_BYTES,
        );
        assert_eq!(result.is_error, Some(true));
        let text = result.content[0].as_text().expect("text").text.clone();
        assert_eq!(
            text,
            r#"upstream returned HTTP 401 Unauthorized: {"error":"MISSING_API_KEY"}"#
        );
    }

    #[test]
    fn json_object_becomes_structured_content() {
        let result = respond(
            &TEST_TOOL,
            reqwest::StatusCode::OK,
            Some("application/json; charset=utf-8"),
            br#"{"id":1}"#.to_vec(),
            None,
            DEFAULT_MAX_STRUCTURED_BYTES,
        );
        assert_eq!(result.structured_content, Some(serde_json::json!({"id": 1})));
        let big = respond(
            &TEST_TOOL,
            reqwest::StatusCode::OK,
            Some("application/json"),
            br#"{"id":1}"#.to_vec(),
            None,
            4,
        );
        assert_eq!(
            (
                big.structured_content,
                big.content[0].as_text().map(|t| t.text.as_str())
            ),
            (None, Some(r#"{"id":1}"#)),
            "above the limit: text only"
        );
        let empty = respond(
            &TEST_TOOL,
            reqwest::StatusCode::NO_CONTENT,
            None,
            b"".to_vec(),
            None,
            DEFAULT_MAX_STRUCTURED_BYTES,
        );
        assert_eq!(empty.is_error, Some(false));
    }
}
