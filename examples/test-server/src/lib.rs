//! The reference upstream API for Cast: a small in-memory inventory (items and
//! users) behind an API key, serving its own OpenAPI document at `/openapi.json`.
//!
//! Tests run it in-process with [`start`] on port 0; people run the
//! `cast-test-server` binary.

// Handlers return ready `Response`s as their error type; their size does not matter here.
#![allow(clippy::result_large_err)]

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, Mutex, PoisonError},
};

use axum::{
    Json, Router,
    extract::{Path, Query, Request, State},
    http::{HeaderMap, StatusCode, header},
    middleware::{self, Next},
    response::{IntoResponse, Response},
    routing::{any, get},
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The OpenAPI document this server implements (its `servers` URL is rewritten when served).
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// How clients must authenticate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// The key in a header (`X-Api-Key` unless renamed).
    ApiKey {
        /// The header name.
        header: String,
    },
    /// `Authorization: Bearer <key>`.
    Bearer,
    /// HTTP basic: user `cast`, the key as password.
    Basic,
    /// The key in a query parameter (`api_key` unless renamed).
    Query {
        /// The parameter name.
        name: String,
    },
    /// The key in a cookie (`session` unless renamed).
    Cookie {
        /// The cookie name.
        name: String,
    },
    /// Both `X-Api-Key` and `?api_key=` at once (an AND requirement).
    Both,
    /// OAuth 2.0 client credentials: `POST /oauth/token` with client `cast-client` and the
    /// key as its secret buys a bearer token that expires after `token_lifetime_secs`.
    OAuth {
        /// How long issued tokens live.
        token_lifetime_secs: u64,
    },
    /// OAuth 2.0 authorization code with PKCE for a user: RFC 8414 metadata, RFC 7591
    /// registration, `/oauth/authorize` (approves at once, as if the user clicked),
    /// code and refresh-token grants (refresh tokens rotate on use).
    OAuthUser {
        /// How long issued access tokens live.
        token_lifetime_secs: u64,
    },
    /// Like `OAuthUser`, but the spec names an OpenID Connect discovery URL instead of the endpoints.
    Oidc {
        /// How long issued access tokens live.
        token_lifetime_secs: u64,
    },
    /// An OAuth 2.1 authorization server for *inbound* tokens (the API itself is open):
    /// RFC 8414 metadata naming a `jwks_uri`, Ed25519 signing keys published as a JWK
    /// set, and a client-credentials token endpoint (client `cast-client`, the key as
    /// secret) issuing JWT access tokens for the `resource` asked for (RFC 8707).
    Issuer {
        /// How long issued tokens live.
        token_lifetime_secs: u64,
    },
    /// No authentication.
    None,
}

/// What one request looked like, for tests to assert on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// HTTP method.
    pub method: String,
    /// Path and query as received.
    pub uri: String,
    /// The credential presented, if any (only kept in memory for tests).
    pub credential: Option<String>,
    /// Every header as `name: value` lines, for tests that check what was not sent.
    pub headers: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Item {
    id: u64,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    price: Option<f64>,
    status: String,
}

#[derive(Debug, Deserialize)]
struct NewItem {
    name: Option<String>,
    tag: Option<String>,
    price: Option<f64>,
    status: Option<String>,
}

#[derive(Debug, Default)]
struct Store {
    next_id: u64,
    items: BTreeMap<u64, Item>,
}

#[derive(Debug)]
struct Shared {
    mode: Mode,
    /// Issued OAuth tokens and when they expire.
    tokens: Mutex<BTreeMap<String, std::time::Instant>>,
    token_requests: std::sync::atomic::AtomicUsize,
    /// Pending authorization codes: code → (client id, PKCE challenge, redirect URI).
    codes: Mutex<BTreeMap<String, (String, String, String)>>,
    /// Live refresh tokens.
    refresh_tokens: Mutex<std::collections::BTreeSet<String>>,
    /// Clients registered dynamically.
    clients: Mutex<std::collections::BTreeSet<String>>,
    /// The form of the last token request.
    last_token_request: Mutex<Vec<(String, String)>>,
    keys: Mutex<Vec<String>>,
    /// Issuer mode: signing keys (key id, Ed25519 seed, published in the JWK set).
    signing: Mutex<Vec<(String, [u8; 32], bool)>>,
    jwks_requests: std::sync::atomic::AtomicUsize,
    /// Fault routes: requests seen per `key`, and how many are in flight now.
    fault_hits: Mutex<BTreeMap<String, usize>>,
    fault_in_flight: std::sync::atomic::AtomicUsize,
    /// Connections to close at once, unanswered.
    drop_connections: std::sync::atomic::AtomicUsize,
    store: Mutex<Store>,
    seen: Mutex<Vec<Seen>>,
    base_url: String,
}

/// A running test server.
#[derive(Debug, Clone)]
pub struct TestServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
}

impl TestServer {
    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The key clients must present (the first accepted one).
    pub fn key(&self) -> String {
        lock(&self.shared.keys).first().cloned().unwrap_or_default()
    }

    /// Accepts another key from now on, as an API does during a rotation.
    pub fn accept_key(&self, key: impl Into<String>) {
        lock(&self.shared.keys).push(key.into());
    }

    /// Stops accepting `key`.
    pub fn revoke_key(&self, key: &str) {
        lock(&self.shared.keys).retain(|k| k != key);
    }

    /// How many token requests the OAuth endpoint has answered.
    pub fn token_requests(&self) -> usize {
        self.shared.token_requests.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// A parameter of the last token request (`audience`, `scope`…).
    pub fn last_token_param(&self, name: &str) -> Option<String> {
        lock(&self.shared.last_token_request)
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    }

    /// Clients registered through `/oauth/register`.
    pub fn registered_clients(&self) -> usize {
        lock(&self.shared.clients).len()
    }

    /// Invalidates every issued token, as an authorization server does on revocation.
    pub fn revoke_tokens(&self) {
        lock(&self.shared.tokens).clear();
    }

    /// Invalidates every refresh token too: the user must sign in again.
    pub fn revoke_sign_ins(&self) {
        lock(&self.shared.tokens).clear();
        lock(&self.shared.refresh_tokens).clear();
    }

    /// Every OAuth access token issued so far.
    pub fn issued_tokens(&self) -> Vec<String> {
        lock(&self.shared.tokens).keys().cloned().collect()
    }

    /// Issuer mode: a JWT over `claims`, signed with the key `kid` (by default the newest
    /// published one). Tests use it for tokens a real issuer would not hand out.
    pub fn mint_jwt(&self, kid: Option<&str>, claims: &Value) -> String {
        sign_jwt(&self.shared, kid, claims)
    }

    /// Issuer mode: a new signing key; published keys appear in the JWK set from now on.
    pub fn add_signing_key(&self, kid: &str, published: bool) {
        add_signing_key(&self.shared, kid, published);
    }

    /// Issuer mode: the public key (raw Ed25519 bytes) of a signing key.
    pub fn public_key(&self, kid: &str) -> Option<[u8; 32]> {
        lock(&self.shared.signing)
            .iter()
            .find(|(k, ..)| k == kid)
            .map(|(_, seed, _)| public_key(seed))
    }

    /// How many times the JWK set was fetched.
    pub fn jwks_requests(&self) -> usize {
        self.shared.jwks_requests.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Fault routes: how many requests carried `key`.
    pub fn fault_hits(&self, key: &str) -> usize {
        lock(&self.shared.fault_hits).get(key).copied().unwrap_or(0)
    }

    /// Fault routes: requests being answered right now (a slow or stalled one counts
    /// until its client goes away).
    pub fn faults_in_flight(&self) -> usize {
        self.shared.fault_in_flight.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Closes the next `n` connections as soon as they are accepted, unanswered.
    pub fn drop_connections(&self, n: usize) {
        self.shared
            .drop_connections
            .store(n, std::sync::atomic::Ordering::SeqCst);
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        lock(&self.shared.seen).clone()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A fresh key: `cast_` and 32 hex digits from the OS generator.
pub fn generate_key() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random generator is available");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("cast_{hex}")
}

/// Binds `addr` and serves in a background task.
pub async fn start(addr: SocketAddr, mode: Mode, key: String) -> std::io::Result<TestServer> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let shared = Arc::new(Shared {
        mode,
        keys: Mutex::new(vec![key]),
        signing: Mutex::new(Vec::new()),
        jwks_requests: std::sync::atomic::AtomicUsize::new(0),
        fault_hits: Mutex::new(BTreeMap::new()),
        fault_in_flight: std::sync::atomic::AtomicUsize::new(0),
        drop_connections: std::sync::atomic::AtomicUsize::new(0),
        tokens: Mutex::new(BTreeMap::new()),
        token_requests: std::sync::atomic::AtomicUsize::new(0),
        codes: Mutex::new(BTreeMap::new()),
        refresh_tokens: Mutex::new(std::collections::BTreeSet::new()),
        clients: Mutex::new(std::collections::BTreeSet::new()),
        last_token_request: Mutex::new(Vec::new()),
        store: Mutex::new(Store {
            next_id: 1,
            items: BTreeMap::new(),
        }),
        seen: Mutex::new(Vec::new()),
        base_url: format!("http://{addr}"),
    });
    if matches!(shared.mode, Mode::Issuer { .. }) {
        add_signing_key(&shared, "k1", true);
    }
    let api = Router::new()
        .route("/api/items", get(list_items).post(create_item))
        .route("/api/items/{id}", get(get_item).put(update_item).delete(delete_item))
        .route("/api/users", get(list_users))
        .route("/api/status", get(status))
        // The fault routes behind the key check, for faults under a credential (rotation).
        .route("/api/fault/{kind}", any(fault))
        .layer(middleware::from_fn_with_state(shared.clone(), authenticate));
    let app = Router::new()
        .route("/openapi.json", get(openapi))
        .route("/echo", any(echo))
        .route("/echo/", any(echo))
        .route("/echo/{*rest}", any(echo))
        .route("/respond/{kind}", get(respond))
        .route("/leak/{*rest}", any(leak))
        .route("/redirect/{status}", any(redirect))
        .route("/fault/{kind}", any(fault))
        .route("/oauth/token", axum::routing::post(token))
        .route("/oauth/authorize", get(authorize))
        .route("/oauth/register", axum::routing::post(register))
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route("/.well-known/openid-configuration", get(metadata))
        .route("/jwks.json", get(jwks))
        .merge(api)
        .with_state(shared.clone());
    let listener = Dropping {
        listener,
        shared: shared.clone(),
    };
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(TestServer { shared, addr })
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    (status, Json(json!({ "error": code, "message": message }))).into_response()
}

fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    let pairs = url_pairs(query.unwrap_or(""));
    pairs.into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |t: &str| {
                percent_encoding::percent_decode_str(&t.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(k), decode(v))
        })
        .collect()
}

/// The credential a request presents in the place `mode` expects it.
fn presented(mode: &Mode, headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    use base64::Engine as _;
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    match mode {
        Mode::ApiKey { header } => value(header),
        Mode::Bearer => {
            value(header::AUTHORIZATION.as_str()).and_then(|v| v.strip_prefix("Bearer ").map(str::to_owned))
        }
        Mode::Basic => value(header::AUTHORIZATION.as_str()).and_then(|v| {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(v.strip_prefix("Basic ")?)
                .ok()?;
            let text = String::from_utf8(decoded).ok()?;
            // A wrong user presents something no key equals.
            Some(
                text.strip_prefix("cast:")
                    .map_or_else(|| format!("wrong-user:{text}"), str::to_owned),
            )
        }),
        Mode::Query { name } => query_value(query, name),
        Mode::Cookie { name } => value(header::COOKIE.as_str()).and_then(|cookies| {
            cookies.split(';').find_map(|c| {
                let (k, v) = c.trim().split_once('=')?;
                (k == name).then(|| percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned())
            })
        }),
        Mode::OAuth { .. } | Mode::OAuthUser { .. } | Mode::Oidc { .. } => {
            value(header::AUTHORIZATION.as_str()).and_then(|v| v.strip_prefix("Bearer ").map(str::to_owned))
        }
        Mode::Both => {
            let (header, query) = (value("x-api-key")?, query_value(query, "api_key")?);
            Some(if header == query {
                header
            } else {
                format!("{header}|{query}")
            })
        }
        Mode::None | Mode::Issuer { .. } => None,
    }
}

async fn authenticate(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let credential = presented(&shared.mode, request.headers(), request.uri().query());
    let headers: String = request
        .headers()
        .iter()
        .map(|(name, value)| format!("{name}: {}\n", String::from_utf8_lossy(value.as_bytes())))
        .collect();
    lock(&shared.seen).push(Seen {
        method: request.method().to_string(),
        uri: request.uri().to_string(),
        credential: credential.clone(),
        headers,
    });
    if request.uri().path() == "/api/status" {
        // Public: `security: []` in the spec.
        return next.run(request).await;
    }
    if matches!(shared.mode, Mode::None | Mode::Issuer { .. }) {
        return next.run(request).await;
    }
    match credential {
        None => {
            let how = match &shared.mode {
                Mode::ApiKey { header } => format!("send the key in the `{header}` header"),
                _ => "send `Authorization: Bearer <key>`".to_owned(),
            };
            error(
                StatusCode::UNAUTHORIZED,
                "MISSING_API_KEY",
                &format!("an API key is required: {how}"),
            )
        }
        Some(token)
            if matches!(
                shared.mode,
                Mode::OAuth { .. } | Mode::OAuthUser { .. } | Mode::Oidc { .. }
            ) =>
        {
            let valid = lock(&shared.tokens)
                .get(&token)
                .is_some_and(|expiry| std::time::Instant::now() < *expiry);
            if valid {
                next.run(request).await
            } else {
                error(
                    StatusCode::UNAUTHORIZED,
                    "INVALID_TOKEN",
                    "the access token is expired or unknown",
                )
            }
        }
        Some(key) if lock(&shared.keys).contains(&key) => next.run(request).await,
        Some(_) => error(StatusCode::UNAUTHORIZED, "INVALID_API_KEY", "the API key is not valid"),
    }
}

async fn openapi(State(shared): State<Arc<Shared>>) -> Response {
    let mut doc: Value = serde_json::from_str(OPENAPI_JSON).expect("the embedded spec is valid JSON");
    doc["servers"] = json!([{ "url": shared.base_url }]);
    let api_key = |location: &str, name: &str| json!({ "type": "apiKey", "in": location, "name": name });
    let (schemes, security) = match &shared.mode {
        Mode::ApiKey { header } => (
            json!({ "apiKey": api_key("header", header) }),
            json!([{ "apiKey": [] }]),
        ),
        Mode::Bearer => (
            json!({ "bearer": { "type": "http", "scheme": "bearer" } }),
            json!([{ "bearer": [] }]),
        ),
        Mode::Basic => (
            json!({ "basic": { "type": "http", "scheme": "basic" } }),
            json!([{ "basic": [] }]),
        ),
        Mode::Query { name } => (
            json!({ "queryKey": api_key("query", name) }),
            json!([{ "queryKey": [] }]),
        ),
        Mode::Cookie { name } => (
            json!({ "cookieKey": api_key("cookie", name) }),
            json!([{ "cookieKey": [] }]),
        ),
        Mode::OAuth { .. } => (
            json!({ "oauth": { "type": "oauth2", "flows": { "clientCredentials": {
                "tokenUrl": format!("{}/oauth/token", shared.base_url),
                "scopes": { "items": "Read and write items", "users": "Read users" }
            } } } }),
            json!([{ "oauth": ["items", "users"] }]),
        ),
        Mode::Oidc { .. } => (
            json!({ "oidc": { "type": "openIdConnect", "openIdConnectUrl": format!("{}/.well-known/openid-configuration", shared.base_url) } }),
            json!([{ "oidc": ["openid", "items"] }]),
        ),
        Mode::OAuthUser { .. } => (
            json!({ "oauth": { "type": "oauth2", "flows": { "authorizationCode": {
                "authorizationUrl": format!("{}/oauth/authorize", shared.base_url),
                "tokenUrl": format!("{}/oauth/token", shared.base_url),
                "scopes": { "items": "Read and write items", "users": "Read users" }
            } } } }),
            json!([{ "oauth": ["items", "users"] }]),
        ),
        Mode::Both => (
            json!({ "apiKey": api_key("header", "X-Api-Key"), "queryKey": api_key("query", "api_key") }),
            json!([{ "apiKey": [], "queryKey": [] }]),
        ),
        Mode::None | Mode::Issuer { .. } => {
            doc.as_object_mut().map(|d| d.remove("security"));
            doc["components"].as_object_mut().map(|c| c.remove("securitySchemes"));
            return Json(doc).into_response();
        }
    };
    doc["components"]["securitySchemes"] = schemes;
    doc["security"] = security;
    Json(doc).into_response()
}

#[derive(Debug, Deserialize)]
struct ListQuery {
    limit: Option<usize>,
    offset: Option<usize>,
    tag: Option<String>,
}

async fn list_items(State(shared): State<Arc<Shared>>, Query(query): Query<ListQuery>) -> Response {
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_LIMIT",
            "limit must be between 1 and 100",
        );
    }
    let store = lock(&shared.store);
    let matching: Vec<&Item> = store
        .items
        .values()
        .filter(|item| query.tag.is_none() || item.tag == query.tag)
        .collect();
    let page: Vec<&Item> = matching
        .iter()
        .skip(query.offset.unwrap_or(0))
        .take(limit)
        .copied()
        .collect();
    Json(json!({ "items": page, "total": matching.len() })).into_response()
}

fn validate(new: NewItem, id: u64) -> Result<Item, Response> {
    let name = new.name.unwrap_or_default();
    if name.trim().is_empty() {
        return Err(error(StatusCode::BAD_REQUEST, "INVALID_ITEM", "name is required"));
    }
    if new.price.is_some_and(|p| p < 0.0) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "INVALID_ITEM",
            "price may not be negative",
        ));
    }
    let status = new.status.unwrap_or_else(|| "available".to_owned());
    if !["available", "sold", "archived"].contains(&status.as_str()) {
        return Err(error(StatusCode::BAD_REQUEST, "INVALID_ITEM", "unknown status"));
    }
    Ok(Item {
        id,
        name,
        tag: new.tag,
        price: new.price,
        status,
    })
}

fn parse_body(body: &[u8]) -> Result<NewItem, Response> {
    serde_json::from_slice(body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            "INVALID_JSON",
            &format!("the body is not a valid item: {e}"),
        )
    })
}

async fn create_item(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let new = match parse_body(&body) {
        Ok(new) => new,
        Err(response) => return response,
    };
    let mut store = lock(&shared.store);
    let item = match validate(new, store.next_id) {
        Ok(item) => item,
        Err(response) => return response,
    };
    store.next_id += 1;
    store.items.insert(item.id, item.clone());
    (StatusCode::CREATED, Json(item)).into_response()
}

fn not_found(id: &str) -> Response {
    error(StatusCode::NOT_FOUND, "NOT_FOUND", &format!("no item with id {id}"))
}

async fn get_item(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let store = lock(&shared.store);
    match id.parse().ok().and_then(|id: u64| store.items.get(&id)) {
        Some(item) => Json(item).into_response(),
        None => not_found(&id),
    }
}

async fn update_item(State(shared): State<Arc<Shared>>, Path(id): Path<String>, body: axum::body::Bytes) -> Response {
    let new = match parse_body(&body) {
        Ok(new) => new,
        Err(response) => return response,
    };
    let mut store = lock(&shared.store);
    let Some(key) = id.parse().ok().filter(|id: &u64| store.items.contains_key(id)) else {
        return not_found(&id);
    };
    match validate(new, key) {
        Ok(item) => {
            store.items.insert(key, item.clone());
            Json(item).into_response()
        }
        Err(response) => response,
    }
}

async fn delete_item(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let mut store = lock(&shared.store);
    match id.parse().ok().and_then(|id: u64| store.items.remove(&id)) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => not_found(&id),
    }
}

/// Returns exactly what it received: method, raw path and query, headers, raw body.
/// Needs no key, so wire tests can check the bytes of any request shape.
async fn echo(request: Request) -> Response {
    use base64::Engine as _;
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 16 * 1024 * 1024).await.unwrap_or_default();
    let mut headers = serde_json::Map::new();
    for name in parts.headers.keys() {
        let values: Vec<&str> = parts
            .headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        headers.insert(name.as_str().to_owned(), json!(values.join(", ")));
    }
    Json(json!({
        "method": parts.method.as_str(),
        "path": parts.uri.path(),
        "query": parts.uri.query(),
        "headers": headers,
        "body": std::str::from_utf8(&body).ok(),
        "body_base64": base64::engine::general_purpose::STANDARD.encode(&body),
    }))
    .into_response()
}

/// Forms in which [`leak`] can echo a credential, as careless or hostile servers do.
pub const LEAK_FORMS: &[&str] = &[
    "raw",
    "json-u",
    "json-slash",
    "b64",
    "b64-nopad",
    "b64url",
    "b64url-nopad",
    "b64-embedded",
    "pct",
    "pct-lower",
];

/// Echoes one credential the request carried, in one form, to test redaction.
///
/// `source` names where the credential was: a header (`Authorization` loses its
/// `Bearer `/`Basic ` prefix, and Basic is decoded to `user:password`), a query
/// parameter, a cookie, or a field of a form or JSON object body. `form` is one of [`LEAK_FORMS`]; `type` is `json` (the
/// default; escaped forms stay escaped in the JSON text) or `text`; `at` pads the body
/// so that the echoed form starts just before byte `at` and runs past it.
async fn leak(request: Request) -> Response {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1024 * 1024).await.unwrap_or_default();
    let body_field = |name: &str| -> Option<String> {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(fields)) => fields.get(name).and_then(Value::as_str).map(str::to_owned),
            _ => query_value(std::str::from_utf8(&body).ok(), name),
        }
    };
    let query = parts.uri.query();
    let param = |name: &str| query_value(query, name);
    let source = param("source").unwrap_or_default().to_ascii_lowercase();
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let secret = match source.as_str() {
        "authorization" => header("authorization").and_then(|v| match v.split_once(' ') {
            Some(("Basic", encoded)) => STANDARD
                .decode(encoded)
                .ok()
                .and_then(|bytes| String::from_utf8(bytes).ok()),
            Some((_, token)) => Some(token.to_owned()),
            None => Some(v),
        }),
        name => header(name)
            .or_else(|| query_value(query, name))
            .or_else(|| {
                header("cookie").and_then(|cookies| {
                    cookies.split("; ").find_map(|pair| {
                        let (k, v) = pair.split_once('=')?;
                        (k == name).then(|| percent_encoding::percent_decode_str(v).decode_utf8_lossy().into_owned())
                    })
                })
            })
            .or_else(|| body_field(name)),
    };
    let Some(secret) = secret else {
        return error(
            StatusCode::BAD_REQUEST,
            "NO_SUCH_SOURCE",
            "the request carried nothing there",
        );
    };
    let json_text = |text: &str| json!(text).to_string();
    let pct = || percent_encoding::utf8_percent_encode(&secret, percent_encoding::NON_ALPHANUMERIC).to_string();
    let as_json = param("type").as_deref() != Some("text");
    let echoed = match param("form").as_deref().unwrap_or("raw") {
        "json-u" => secret.chars().map(|c| format!("\\u{:04x}", c as u32)).collect(),
        "json-slash" => {
            let escaped = json_text(&secret);
            escaped[1..escaped.len() - 1]
                .replace('/', "\\/")
                .replace(':', "\\u003a")
        }
        "b64" => STANDARD.encode(&secret),
        "b64-nopad" => STANDARD_NO_PAD.encode(&secret),
        "b64url" => URL_SAFE.encode(&secret),
        "b64url-nopad" => URL_SAFE_NO_PAD.encode(&secret),
        // The secret inside a longer base64 text, off the 3-byte alignment.
        "b64-embedded" => STANDARD.encode(format!("x-echo: {secret}\r\n")),
        "pct" => pct(),
        "pct-lower" => pct().to_ascii_lowercase(),
        _ if as_json => {
            let escaped = json_text(&secret);
            escaped[1..escaped.len() - 1].to_owned()
        }
        _ => secret.clone(),
    };
    let (open, close) = if as_json { ("{\"pad\":\"", "\"}") } else { ("", "") };
    let middle = if as_json { "\",\"echo\":\"" } else { "\n" };
    let pad = param("at")
        .and_then(|at| at.parse::<usize>().ok())
        .map_or(0, |at| at.saturating_sub(open.len() + middle.len() + echoed.len() / 2));
    let body = format!("{open}{}{middle}{echoed}{close}", "a".repeat(pad));
    let content_type = if as_json { "application/json" } else { "text/plain" };
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// A listener that closes connections unanswered while [`TestServer::drop_connections`] says so.
struct Dropping {
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
}

impl axum::serve::Listener for Dropping {
    type Io = tokio::net::TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        use std::sync::atomic::Ordering;
        loop {
            let Ok((stream, addr)) = self.listener.accept().await else {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            };
            let dropping = self
                .shared
                .drop_connections
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
            if dropping {
                // A reset, not a polite close: what a crashed or overloaded upstream does.
                let _ = stream.set_zero_linger();
                drop(stream);
                continue;
            }
            return (stream, addr);
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.listener.local_addr()
    }
}

/// Counts a fault request in flight for as long as it is answered.
struct InFlight(Arc<Shared>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fault_in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Misbehaves on request, as failing upstreams do. `kind` is one of:
///
/// - `slow?ms=N`: answers `{"ok":true}` after N ms;
/// - `stall`: never answers;
/// - `status?code=C[&fail=N][&retry_after=S]`: answers C (with `Retry-After: S`) to the
///   first N requests of its `key` (every request without `fail`), then `{"ok":true}`;
/// - `reset`: starts a body, then breaks the connection mid-body;
/// - `invalid-json`: `application/json` that is not JSON;
/// - `huge?bytes=N`: streams N bytes of text, chunk by chunk, without a length;
/// - `huge-json?bytes=N`: a JSON list of small objects, about N bytes.
///
/// Every request counts towards its `key` query parameter (default: the kind); with
/// `close`, the answer closes its connection (so the client's next request opens a new one).
async fn fault(State(shared): State<Arc<Shared>>, Path(kind): Path<String>, request: Request) -> Response {
    use std::sync::atomic::Ordering;
    let query = request.uri().query().map(str::to_owned);
    let param = |name: &str| query_value(query.as_deref(), name);
    let number = |name: &str| param(name).and_then(|v| v.parse::<u64>().ok());
    let key = param("key").unwrap_or_else(|| kind.clone());
    let hit = {
        let mut hits = lock(&shared.fault_hits);
        let count = hits.entry(key).or_insert(0);
        *count += 1;
        *count
    };
    shared.fault_in_flight.fetch_add(1, Ordering::SeqCst);
    let _in_flight = InFlight(shared.clone());
    let ok = || Json(json!({ "ok": true, "attempt": hit })).into_response();
    let mut response = match kind.as_str() {
        "slow" => {
            tokio::time::sleep(std::time::Duration::from_millis(number("ms").unwrap_or(1000))).await;
            ok()
        }
        "stall" => std::future::pending().await,
        "status" if number("fail").is_some_and(|fail| (hit as u64) > fail) => ok(),
        "status" => {
            let code = number("code")
                .and_then(|c| u16::try_from(c).ok())
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let mut response = error(code, "FAULT", "injected failure");
            if let Some(after) = param("retry_after")
                && let Ok(value) = after.parse()
            {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        "reset" => {
            // The pause lets the head and first chunk reach the client before the break.
            let chunks = futures_util::stream::unfold(0u8, |step| async move {
                match step {
                    0 => Some((Ok(b"{\"partial\":\"".to_vec()), 1)),
                    1 => {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "injected reset");
                        Some((Err(reset), 2))
                    }
                    _ => None,
                }
            });
            let body = axum::body::Body::from_stream(chunks);
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        "invalid-json" => ([(header::CONTENT_TYPE, "application/json")], "{\"ok\": tru").into_response(),
        "huge" => {
            let total = number("bytes").unwrap_or(64 * 1024 * 1024) as usize;
            const CHUNK: usize = 64 * 1024;
            let chunks = (0..total.div_ceil(CHUNK)).map(move |i| {
                let len = CHUNK.min(total - i * CHUNK);
                Ok::<_, std::io::Error>(vec![b'7'; len])
            });
            let body = axum::body::Body::from_stream(futures_util::stream::iter(chunks));
            ([(header::CONTENT_TYPE, "text/plain")], body).into_response()
        }
        "huge-json" => {
            // About N bytes of `{"items":[{"id":0,"name":"item 0"},…]}`, as a list endpoint sends.
            let total = number("bytes").unwrap_or(1024 * 1024) as usize;
            let mut body = String::with_capacity(total + 64);
            body.push_str("{\"items\":[");
            let mut id = 0u64;
            while body.len() < total {
                if id > 0 {
                    body.push(',');
                }
                body.push_str(&format!("{{\"id\":{id},\"name\":\"item {id}\",\"done\":false}}"));
                id += 1;
            }
            body.push_str("]}");
            ([(header::CONTENT_TYPE, "application/json")], body).into_response()
        }
        _ => not_found(&kind),
    };
    if param("close").is_some() {
        response
            .headers_mut()
            .insert(header::CONNECTION, header::HeaderValue::from_static("close"));
    }
    response
}

/// Answers with the redirect status in the path and `Location: <to>` from the query.
async fn redirect(Path(status): Path<u16>, request: Request) -> Response {
    let to = query_value(request.uri().query(), "to").unwrap_or_default();
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FOUND);
    (status, [(header::LOCATION, to)], "moved").into_response()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn add_signing_key(shared: &Shared, kid: &str, published: bool) {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("the OS random generator is available");
    lock(&shared.signing).push((kid.to_owned(), seed, published));
}

/// Signs `claims` as an EdDSA JWT with the key `kid` (default: the newest published one).
fn sign_jwt(shared: &Shared, kid: Option<&str>, claims: &Value) -> String {
    // PKCS #8 v1 wrapping of an Ed25519 seed (RFC 8410 §7), as jsonwebtoken reads it.
    const PKCS8_PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
    ];
    let signing = lock(&shared.signing);
    let (kid, seed, _) = match kid {
        Some(kid) => signing.iter().find(|(k, ..)| k == kid),
        None => signing.iter().rev().find(|(.., published)| *published),
    }
    .expect("a signing key by that id");
    let mut der = PKCS8_PREFIX.to_vec();
    der.extend_from_slice(seed);
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(kid.clone());
    jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_ed_der(&der)).expect("signing")
}

fn public_key(seed: &[u8; 32]) -> [u8; 32] {
    ed25519_dalek::SigningKey::from_bytes(seed).verifying_key().to_bytes()
}

/// The published signing keys as a JWK set (RFC 7517, OKP keys of RFC 8037).
async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    use base64::Engine as _;
    shared.jwks_requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let keys: Vec<Value> = lock(&shared.signing)
        .iter()
        .filter(|(.., published)| *published)
        .map(|(kid, seed, _)| {
            json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "use": "sig",
                "alg": "EdDSA",
                "kid": kid,
                "x": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(public_key(seed)),
            })
        })
        .collect();
    Json(json!({ "keys": keys })).into_response()
}

/// A smallest valid PNG (1×1, transparent), for image responses.
pub const TINY_PNG: &[u8] = &[
    0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1F, 0x15, 0xC4, 0x89, 0x00, 0x00, 0x00, 0x0D, 0x49,
    0x44, 0x41, 0x54, 0x78, 0x9C, 0x63, 0x00, 0x01, 0x00, 0x00, 0x05, 0x00, 0x01, 0x0D, 0x0A, 0x2D, 0xB4, 0x00, 0x00,
    0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82,
];

/// One response of each kind, for response-mapping tests.
async fn respond(Path(kind): Path<String>) -> Response {
    let typed =
        |content_type: &'static str, body: Vec<u8>| ([(header::CONTENT_TYPE, content_type)], body).into_response();
    match kind.as_str() {
        "json" => Json(json!({ "ok": true, "n": 1 })).into_response(),
        "json-array" => Json(json!([1, 2])).into_response(),
        "text" => typed("text/plain; charset=utf-8", b"plain text".to_vec()),
        "image" => typed("image/png", TINY_PNG.to_vec()),
        "audio" => typed("audio/wav", b"RIFF....WAVE".to_vec()),
        "binary" => typed("application/pdf", b"%PDF-1.7".to_vec()),
        "empty" => StatusCode::NO_CONTENT.into_response(),
        "error" => error(StatusCode::INTERNAL_SERVER_ERROR, "BOOM", "something broke upstream"),
        "large" => typed("text/plain", vec![b'a'; 2 * 1024 * 1024]),
        // 2 MiB of a list in an object, as paged APIs answer.
        "large-list" => {
            let items: Vec<String> = (0..20_000)
                .map(|n| format!(r#"{{"n":{n},"pad":"{}"}}"#, "x".repeat(90)))
                .collect();
            typed(
                "application/json",
                format!(r#"{{"items":[{}]}}"#, items.join(",")).into_bytes(),
            )
        }
        _ => not_found(&kind),
    }
}

/// The client-credentials grant (RFC 6749 §4.4), client authenticated with HTTP basic
/// (id and secret form-urlencoded first, as §2.3.1 says) or in the body.
async fn token(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    use base64::Engine as _;
    let form = url_pairs(&String::from_utf8_lossy(&body));
    *lock(&shared.last_token_request) = form.clone();
    let field = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    let oauth_error = |status, code: &str| (status, Json(json!({ "error": code }))).into_response();
    let token_lifetime_secs = match shared.mode {
        Mode::OAuth { token_lifetime_secs } => token_lifetime_secs,
        Mode::OAuthUser { token_lifetime_secs } | Mode::Oidc { token_lifetime_secs } => {
            return user_token(&shared, token_lifetime_secs, &field);
        }
        Mode::Issuer { token_lifetime_secs } => token_lifetime_secs,
        _ => return error(StatusCode::NOT_FOUND, "NOT_FOUND", "this server does not issue tokens"),
    };
    if field("grant_type").as_deref() != Some("client_credentials") {
        return oauth_error(StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
        .and_then(|v| String::from_utf8(v).ok())
        .and_then(|v| {
            let (id, secret) = v.split_once(':')?;
            let decode = |t: &str| {
                percent_encoding::percent_decode_str(&t.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            Some((decode(id), decode(secret)))
        });
    let client = from_header.or_else(|| Some((field("client_id")?, field("client_secret")?)));
    let authorized = client
        .as_ref()
        .is_some_and(|(id, secret)| id == "cast-client" && lock(&shared.keys).contains(secret));
    if !authorized {
        // Like careless authorization servers, quote what was presented: a client must not
        // pass this text on unredacted.
        let presented = client.map(|(id, secret)| format!("{id}:{secret}")).unwrap_or_default();
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "invalid_client", "error_description": format!("unknown client credentials `{presented}`") })),
        )
            .into_response();
    }
    shared.token_requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    if matches!(shared.mode, Mode::Issuer { .. }) {
        let now = unix_now();
        let claims = json!({
            "iss": shared.base_url,
            "aud": field("resource").unwrap_or_default(),
            "sub": "cast-client",
            "client_id": "cast-client",
            "scope": field("scope").unwrap_or_default(),
            "iat": now,
            "exp": now + token_lifetime_secs,
        });
        let access_token = sign_jwt(&shared, None, &claims);
        return Json(
            json!({ "access_token": access_token, "token_type": "Bearer", "expires_in": token_lifetime_secs }),
        )
        .into_response();
    }
    let access_token = format!("tok_{}", &generate_key()[5..]);
    let expiry = std::time::Instant::now() + std::time::Duration::from_secs(token_lifetime_secs);
    lock(&shared.tokens).insert(access_token.clone(), expiry);
    Json(json!({ "access_token": access_token, "token_type": "bearer", "expires_in": token_lifetime_secs, "scope": field("scope") }))
        .into_response()
}

fn issue_access_token(shared: &Shared, lifetime_secs: u64) -> String {
    shared.token_requests.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let token = format!("tok_{}", &generate_key()[5..]);
    lock(&shared.tokens).insert(
        token.clone(),
        std::time::Instant::now() + std::time::Duration::from_secs(lifetime_secs),
    );
    token
}

/// The code grant (with PKCE S256) and the refresh grant (rotating the refresh token).
fn user_token(shared: &Shared, lifetime_secs: u64, field: &dyn Fn(&str) -> Option<String>) -> Response {
    use base64::Engine as _;
    use sha2::Digest as _;
    let oauth_error = |code: &str| (StatusCode::BAD_REQUEST, Json(json!({ "error": code }))).into_response();
    match field("grant_type").as_deref() {
        Some("authorization_code") => {
            let Some((client, challenge, redirect)) = field("code").and_then(|c| lock(&shared.codes).remove(&c)) else {
                return oauth_error("invalid_grant");
            };
            let verifier = field("code_verifier").unwrap_or_default();
            let computed =
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
            if computed != challenge
                || field("redirect_uri").as_deref() != Some(redirect.as_str())
                || field("client_id").as_deref() != Some(client.as_str())
            {
                return oauth_error("invalid_grant");
            }
        }
        Some("refresh_token") => {
            let Some(old) = field("refresh_token") else {
                return oauth_error("invalid_request");
            };
            if !lock(&shared.refresh_tokens).remove(&old) {
                return oauth_error("invalid_grant");
            }
        }
        _ => return oauth_error("unsupported_grant_type"),
    }
    let access_token = issue_access_token(shared, lifetime_secs);
    let refresh_token = format!("rt_{}", &generate_key()[5..]);
    lock(&shared.refresh_tokens).insert(refresh_token.clone());
    Json(json!({ "access_token": access_token, "token_type": "bearer", "expires_in": lifetime_secs, "refresh_token": refresh_token }))
        .into_response()
}

async fn metadata(State(shared): State<Arc<Shared>>) -> Response {
    let base = &shared.base_url;
    if matches!(shared.mode, Mode::Issuer { .. }) {
        return Json(json!({
            "issuer": base,
            "token_endpoint": format!("{base}/oauth/token"),
            "jwks_uri": format!("{base}/jwks.json"),
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }))
        .into_response();
    }
    Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/oauth/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "registration_endpoint": format!("{base}/oauth/register"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic"],
    }))
    .into_response()
}

async fn register(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let loopback = request["redirect_uris"].as_array().is_some_and(|uris| {
        !uris.is_empty()
            && uris
                .iter()
                .all(|u| u.as_str().is_some_and(|u| u.starts_with("http://127.0.0.1:")))
    });
    if !loopback {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "invalid_redirect_uri" })),
        )
            .into_response();
    }
    let client_id = format!("dyn_{}", &generate_key()[5..21]);
    lock(&shared.clients).insert(client_id.clone());
    (
        StatusCode::CREATED,
        Json(json!({ "client_id": client_id, "token_endpoint_auth_method": "none" })),
    )
        .into_response()
}

/// Approves at once, as if the user signed in and clicked "allow".
async fn authorize(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let pairs = url_pairs(request.uri().query().unwrap_or(""));
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let (client, redirect, challenge) = (get("client_id"), get("redirect_uri"), get("code_challenge"));
    let known = client == "cast-client" || lock(&shared.clients).contains(&client);
    if get("response_type") != "code"
        || !known
        || !redirect.starts_with("http://127.0.0.1:")
        || get("code_challenge_method") != "S256"
        || challenge.is_empty()
    {
        return error(
            StatusCode::BAD_REQUEST,
            "INVALID_AUTHORIZE_REQUEST",
            "bad authorize request",
        );
    }
    let code = format!("code_{}", &generate_key()[5..]);
    lock(&shared.codes).insert(code.clone(), (client, challenge, redirect.clone()));
    let mut location = url::form_urlencoded::Serializer::new(String::new());
    location.append_pair("code", &code).append_pair("state", &get("state"));
    (
        StatusCode::FOUND,
        [(header::LOCATION, format!("{redirect}?{}", location.finish()))],
    )
        .into_response()
}

async fn status() -> Response {
    Json(json!({ "status": "ok" })).into_response()
}

async fn list_users() -> Response {
    Json(json!([
        { "id": 1, "name": "Ada Lovelace", "email": "ada@example.com" },
        { "id": 2, "name": "Grace Hopper", "email": "grace@example.com" }
    ]))
    .into_response()
}
