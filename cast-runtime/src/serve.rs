//! The streamable HTTP transport: `/mcp` behind inbound authentication, the
//! Protected Resource Metadata, `/healthz` and `/readyz` open; `/metrics` as `/mcp` is.

use std::{
    net::SocketAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use rmcp::transport::{StreamableHttpServerConfig, StreamableHttpService};

use crate::{
    inbound::{Inbound, Refusal},
    server::Server,
};

/// Request bodies above this are refused (by rmcp, and by the scope check that reads them).
const MAX_REQUEST_BODY_BYTES: usize = 4 * 1024 * 1024;

/// A connection past `--max-connections` is still served, but must send its request
/// head within this and gets no keep-alive: a flood of slow connections cannot hold
/// descriptors for long, and a health check still gets through.
const OVERFLOW_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(1);

/// How the HTTP transport is exposed.
#[derive(Debug)]
pub(crate) struct HttpOptions {
    pub listen: SocketAddr,
    pub allowed_hosts: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub sessions: bool,
    pub inbound: Option<Inbound>,
    pub allow_unauthenticated: bool,
    pub limits: Limits,
    /// Served at `/metrics` (behind inbound auth, like `/mcp`).
    pub metrics: Option<crate::observe::Metrics>,
}

/// Bounds on what callers can hold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// A request head must arrive within this (also bounds idle keep-alive connections).
    pub header_read_timeout: Duration,
    /// Connections served normally at once.
    pub max_connections: usize,
    /// On SIGTERM or SIGINT, calls in flight get this long to finish.
    pub shutdown_grace: Duration,
    /// `--sessions`: sessions at most, and how long an idle one is kept.
    pub max_sessions: usize,
    pub session_idle: Duration,
}

/// Refuses to serve tools to an untrusted network without knowing who calls.
pub(crate) fn check_exposure(options: &HttpOptions) -> Result<(), String> {
    if options.inbound.is_some() {
        return Ok(());
    }
    if options.allow_unauthenticated {
        tracing::warn!(
            address = %options.listen,
            "inbound authentication is off (--allow-unauthenticated): anyone who can reach this port can call every tool with the upstream credential"
        );
        return Ok(());
    }
    if options.listen.ip().is_loopback() {
        return Ok(());
    }
    Err(format!(
        "refusing to listen on {} without inbound authentication: anyone who can reach it could call every tool with the upstream credential. Give callers tokens (`token new --name LABEL`, then --inbound-tokens FILE), or accept your authorization server's tokens (--oauth-issuer URL --resource URL), or, only if something in front already authenticates every caller, pass --allow-unauthenticated",
        options.listen
    ))
}

/// What browsers on the allowed origins may send and read (CORS). None without
/// `--allowed-origin`: no page elsewhere may call this server.
fn cors(allowed_origins: &[String]) -> Result<Option<tower_http::cors::CorsLayer>, String> {
    use axum::http::{HeaderName, HeaderValue, Method};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    if allowed_origins.is_empty() {
        return Ok(None);
    }
    let origins = allowed_origins
        .iter()
        .map(|origin| {
            HeaderValue::from_str(origin).map_err(|_| format!("--allowed-origin `{origin}` is not a header value"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let header = HeaderName::from_static;
    Ok(Some(
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(origins))
            .allow_methods([Method::GET, Method::POST, Method::DELETE])
            .allow_headers([
                header("authorization"),
                header("content-type"),
                header("accept"),
                header("last-event-id"),
                header("mcp-session-id"),
                header("mcp-protocol-version"),
                header("mcp-method"),
                header("mcp-name"),
            ])
            .expose_headers([header("mcp-session-id"), header("www-authenticate")])
            .max_age(Duration::from_secs(60 * 60)),
    ))
}

struct Guard {
    inbound: Inbound,
    server: Server,
}

pub(crate) async fn serve(server: Server, options: HttpOptions) -> Result<(), String> {
    check_exposure(&options)?;
    let HttpOptions {
        listen,
        allowed_hosts,
        allowed_origins,
        sessions,
        inbound,
        limits,
        metrics,
        ..
    } = options;
    let mut config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(sessions)
        .with_json_response(!sessions)
        .with_max_request_body_bytes(MAX_REQUEST_BODY_BYTES);
    if allowed_hosts.iter().any(|h| h == "*") {
        config = config.disable_allowed_hosts();
    } else if !allowed_hosts.is_empty() {
        config = config.with_allowed_hosts(allowed_hosts);
    }
    let cors = cors(&allowed_origins)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    // A page on another origin reaches this server only if its origin was allowed (DNS
    // rebinding). A request from this server's own loopback origin is same-origin: nothing
    // but this server answers there, and it serves no pages, so no other script runs there.
    let mut origins = allowed_origins;
    if local.ip().is_loopback() || local.ip().is_unspecified() {
        let port = local.port();
        origins.extend([
            format!("http://localhost:{port}"),
            format!("http://127.0.0.1:{port}"),
            format!("http://[::1]:{port}"),
        ]);
    }
    config = config.with_allowed_origins(origins).enforce_origin_validation();
    let rmcp_shutdown = config.cancellation_token.clone();
    let sessions_manager = crate::sessions::Capped::new(limits.max_sessions, limits.session_idle);
    let service = StreamableHttpService::new(
        {
            let server = server.clone();
            move || Ok(server.clone())
        },
        Arc::new(sessions_manager),
        config,
    );
    let mut mcp = axum::Router::new().nest_service("/mcp", service);
    if let Some(metrics) = metrics {
        let server = server.clone();
        let render = move || {
            let text = metrics.render(server.calls_in_flight());
            async move {
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
                    text,
                )
            }
        };
        mcp = mcp.route("/metrics", axum::routing::get(render));
    }
    let ready = {
        let server = server.clone();
        move || {
            let server = server.clone();
            async move {
                match server.readiness().await {
                    Ok(()) => (StatusCode::OK, "ready".to_owned()),
                    Err(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {why}")),
                }
            }
        }
    };
    let mut open = axum::Router::new()
        .route("/healthz", axum::routing::get(|| async { "ok" }))
        .route("/readyz", axum::routing::get(ready));
    if let Some(inbound) = inbound {
        if let Some(resource) = inbound.resource() {
            let document = axum::Json(resource.metadata(server.api().title));
            let path = url::Url::parse(&resource.metadata_url())
                .map(|url| url.path().to_owned())
                .unwrap_or_default();
            let serve_document = move || {
                let document = document.clone();
                async move { document }
            };
            open = open.route(&path, axum::routing::get(serve_document.clone()));
            if path != "/.well-known/oauth-protected-resource" {
                open = open.route(
                    "/.well-known/oauth-protected-resource",
                    axum::routing::get(serve_document),
                );
            }
        }
        let guard = Arc::new(Guard {
            inbound,
            server: server.clone(),
        });
        mcp = mcp.layer(axum::middleware::from_fn_with_state(guard, authenticate));
    }
    // Discovery clients probe below the endpoint too (`/mcp/.well-known/…`): there is
    // nothing there, which is a 404, not the endpoint's 405.
    open = open.route(
        "/mcp/.well-known/{*rest}",
        axum::routing::any(|| async { axum::http::StatusCode::NOT_FOUND }),
    );
    let mut router = open.merge(mcp);
    if let Some(cors) = cors {
        // Outermost, so a preflight is answered before inbound auth asks for a token.
        router = router.layer(cors);
    }
    tracing::info!(address = %local, "listening on http://{local}/mcp");

    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let normal = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let signal = shutdown_signal();
    tokio::pin!(signal);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    // Out of descriptors, most likely: back off instead of spinning.
                    tracing::warn!(target: "cast::http", "cannot accept a connection: {err}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut signal => break,
        };
        let permit = normal.clone().try_acquire_owned().ok();
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(hyper_util::rt::TokioTimer::new());
        if permit.is_some() {
            http.header_read_timeout(limits.header_read_timeout).keep_alive(true);
        } else {
            http.header_read_timeout(OVERFLOW_HEADER_READ_TIMEOUT).keep_alive(false);
        }
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        let connection = graceful.watch(http.serve_connection(hyper_util::rt::TokioIo::new(stream), service));
        tokio::spawn(async move {
            let _ = connection.await;
            drop(permit);
        });
    }
    drop(listener);
    let deadline = Instant::now() + limits.shutdown_grace;
    tracing::info!(
        target: "cast::http",
        calls_in_flight = server.calls_in_flight(),
        grace_secs = limits.shutdown_grace.as_secs(),
        "shutting down: no new connections; calls in flight may finish"
    );
    let drained = tokio::time::timeout_at(deadline.into(), async {
        if sessions {
            // Session streams never end on their own: end them once the calls are done.
            server.drained().await;
            rmcp_shutdown.cancel();
        }
        graceful.shutdown().await;
    })
    .await;
    rmcp_shutdown.cancel();
    match drained {
        Ok(()) => tracing::info!(target: "cast::http", "shut down: every call finished"),
        Err(_) => tracing::warn!(
            target: "cast::http",
            calls_cancelled = server.calls_in_flight(),
            "shut down at the end of the grace period: calls still running were cancelled"
        ),
    }
    Ok(())
}

/// SIGTERM (what Docker and Kubernetes send) or SIGINT.
pub(crate) async fn shutdown_signal() {
    #[cfg(unix)]
    {
        if let Ok(mut terminate) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// Lets through only requests with an accepted bearer token, and with scopes
/// configured, only `tools/call` requests for tools the caller's scopes grant.
async fn authenticate(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    let authorization = request.headers().get(header::AUTHORIZATION).map(HeaderValue::as_bytes);
    let caller = match guard.inbound.check(authorization).await {
        Ok(caller) => caller,
        Err(refusal) => {
            let reason = match &refusal {
                Refusal::Missing => "no bearer token",
                Refusal::Invalid(why) => why.as_str(),
            };
            crate::observe::inbound_refused(match &refusal {
                Refusal::Missing => "missing",
                Refusal::Invalid(_) => "invalid",
            });
            tracing::info!(target: "cast::inbound", reason, "request refused");
            return challenge(&guard.inbound, StatusCode::UNAUTHORIZED, &refusal, None);
        }
    };
    let mut request = request;
    if guard.server.restricts() && request.method() == axum::http::Method::POST {
        let (parts, body) = request.into_parts();
        let Ok(bytes) = axum::body::to_bytes(body, MAX_REQUEST_BODY_BYTES).await else {
            return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
        };
        if let Some(tool) = called_tool(&bytes)
            && !guard.server.may_call(&caller, &tool)
        {
            tracing::info!(target: "cast::inbound", caller = &*caller.label, tool, "call refused: insufficient scope");
            crate::observe::inbound_refused("scope");
            let needed = guard.server.scopes_granting(&tool).join(" ");
            let refusal = Refusal::Invalid(format!("the token's scopes do not include `{tool}`"));
            return challenge(&guard.inbound, StatusCode::FORBIDDEN, &refusal, Some(&needed));
        }
        request = Request::from_parts(parts, Body::from(bytes));
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// The tool a JSON-RPC `tools/call` request names.
fn called_tool(body: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        method: String,
        #[serde(default)]
        params: Option<Params>,
    }
    #[derive(serde::Deserialize)]
    struct Params {
        name: String,
    }
    let envelope: Envelope = serde_json::from_slice(body).ok()?;
    (envelope.method == "tools/call").then_some(envelope.params?.name)
}

/// A `401`/`403` that says, in the way OAuth clients read it, what is needed
/// (RFC 6750 §3, RFC 9728 §5.1).
fn challenge(inbound: &Inbound, status: StatusCode, refusal: &Refusal, scope: Option<&str>) -> Response {
    let quote = |text: &str| text.replace(['"', '\\'], "'");
    let mut parts = Vec::new();
    let (error, description) = match (status, refusal) {
        (StatusCode::FORBIDDEN, Refusal::Invalid(why)) => (Some("insufficient_scope"), Some(why.as_str())),
        (_, Refusal::Invalid(why)) => (Some("invalid_token"), Some(why.as_str())),
        (_, Refusal::Missing) => (None, None),
    };
    if let Some(error) = error {
        parts.push(format!("error=\"{error}\""));
    }
    if let Some(description) = description {
        parts.push(format!("error_description=\"{}\"", quote(description)));
    }
    if let Some(scope) = scope.filter(|s| !s.is_empty()) {
        parts.push(format!("scope=\"{}\"", quote(scope)));
    }
    if let Some(resource) = inbound.resource() {
        parts.push(format!("resource_metadata=\"{}\"", resource.metadata_url()));
    }
    let value = if parts.is_empty() {
        "Bearer".to_owned()
    } else {
        format!("Bearer {}", parts.join(", "))
    };
    let body = serde_json::json!({
        "error": error.unwrap_or("unauthorized"),
        "error_description": description.unwrap_or("this server needs `Authorization: Bearer <token>`"),
    });
    let mut response = (status, axum::Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_tools_call_names_a_tool() {
        assert_eq!(
            called_tool(
                br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"deleteItem","arguments":{}}}"#
            ),
            Some("deleteItem".to_owned())
        );
        assert_eq!(called_tool(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#), None);
        assert_eq!(called_tool(b"not json"), None);
    }

    fn options(listen: &str) -> HttpOptions {
        HttpOptions {
            listen: listen.parse().expect("address"),
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            sessions: false,
            inbound: None,
            allow_unauthenticated: false,
            metrics: None,
            limits: Limits {
                header_read_timeout: Duration::from_secs(10),
                max_connections: 8,
                shutdown_grace: Duration::from_secs(1),
                max_sessions: 8,
                session_idle: Duration::from_secs(60),
            },
        }
    }

    #[test]
    fn only_loopback_may_go_without_inbound_auth() {
        assert!(check_exposure(&options("127.0.0.1:0")).is_ok());
        assert!(check_exposure(&options("[::1]:0")).is_ok());
        let err = check_exposure(&options("0.0.0.0:8080")).expect_err("exposed");
        assert!(
            err.starts_with("refusing to listen on 0.0.0.0:8080 without inbound authentication"),
            "{err}"
        );
        let allowed = HttpOptions {
            allow_unauthenticated: true,
            ..options("0.0.0.0:8080")
        };
        assert!(check_exposure(&allowed).is_ok());
    }
}
