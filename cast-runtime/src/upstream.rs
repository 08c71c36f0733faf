//! The one place requests leave for the upstream API: credential injection,
//! logging, and mapping responses to tool results.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use rmcp::model::{CallToolResult, ContentBlock};

use crate::{
    api::{Scheme, SchemeKind, ToolDef},
    call::tool_error,
    credential::SealedCredential,
    oauth::{AuthorizationCode, ClientCredentials, Endpoint},
    secret::Secret,
    style,
};

/// Bodies larger than this are cut before they reach the model.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 1024 * 1024;
/// How much of an error body is shown in a tool error.
const ERROR_BODY_LIMIT: usize = 2048;

/// How to reach the upstream API.
#[derive(Debug)]
pub struct Upstream {
    client: reqwest::Client,
    base_url: String,
    /// A base URL given at run time applies to every tool, per-operation servers included.
    base_url_overridden: bool,
    schemes: &'static [Scheme],
    always: &'static [usize],
    /// One slot per scheme, in the same order.
    credentials: Vec<Option<SealedCredential>>,
    /// Token caches of OAuth 2.0 schemes, in the same order.
    oauth: Vec<Option<TokenSource>>,
    static_headers: &'static [(&'static str, &'static str)],
    max_response_bytes: usize,
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

/// The outcome of one try; a 401 says which OAuth schemes' tokens it carried.
enum Attempt {
    Done(CallToolResult),
    Unauthorized(CallToolResult, Vec<usize>),
}

impl Attempt {
    fn into_result(self) -> CallToolResult {
        match self {
            Attempt::Done(result) | Attempt::Unauthorized(result, _) => result,
        }
    }
}

/// What [`Upstream::new`] needs.
#[derive(Debug)]
pub struct UpstreamConfig<'a> {
    /// Base URL for tools without a server of their own.
    pub base_url: &'a str,
    /// Whether `base_url` was given at run time (then it applies to every tool).
    pub base_url_overridden: bool,
    /// The API's security schemes.
    pub schemes: &'static [Scheme],
    /// Schemes sent on every request where configured.
    pub always: &'static [usize],
    /// The credential of each scheme (same order), where one is configured.
    pub credentials: Vec<Option<SealedCredential>>,
    /// Non-secret headers for every request.
    pub static_headers: &'static [(&'static str, &'static str)],
    /// Per-request timeout.
    pub timeout: Duration,
    /// Responses are cut at this size.
    pub max_response_bytes: usize,
}

/// A request whose path, query, headers and body are final.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub tool: &'static ToolDef,
    pub path: String,
    pub query: String,
    pub headers: Vec<(&'static str, String)>,
    pub cookies: Vec<String>,
    pub body: Option<Vec<u8>>,
}

impl Upstream {
    /// Builds the upstream client.
    pub fn new(config: UpstreamConfig<'_>) -> Result<Self, String> {
        crate::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("cast-runtime/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| format!("cannot build the HTTP client: {err}"))?;
        Ok(Self {
            client,
            base_url: config.base_url.trim_end_matches('/').to_owned(),
            base_url_overridden: config.base_url_overridden,
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
        })
    }

    /// The credentials for `tool`: the first requirement alternative whose schemes all
    /// have one configured; an empty alternative (auth optional) only when none does.
    /// OAuth 2.0 schemes yield their current access token, sent as a bearer token.
    async fn credentials_for(&self, tool: &ToolDef) -> Result<Vec<(usize, SchemeKind, Arc<Secret>)>, String> {
        let mut loaded = self.requirement_credentials(tool).await?;
        for &index in self.always {
            if let Some(credential) = self.credentials.get(index).and_then(Option::as_ref)
                && !loaded.iter().any(|(i, ..)| *i == index)
            {
                loaded.push((index, self.schemes[index].kind, credential.current()));
            }
        }
        Ok(loaded)
    }

    async fn requirement_credentials(&self, tool: &ToolDef) -> Result<Vec<(usize, SchemeKind, Arc<Secret>)>, String> {
        for alternative in tool.security.iter().filter(|a| !a.is_empty()) {
            let configured: Option<Vec<(usize, Arc<Secret>)>> = alternative
                .iter()
                .map(|&index| Some((index, self.credentials.get(index)?.as_ref()?.current())))
                .collect();
            let Some(configured) = configured else { continue };
            let mut loaded = Vec::with_capacity(configured.len());
            for (index, secret) in configured {
                let token = match &self.oauth[index] {
                    Some(TokenSource::Client(source)) => source.token(&self.client, &secret).await,
                    Some(TokenSource::User(source)) => match &self.credentials[index] {
                        Some(credential) => source.token(&self.client, credential).await,
                        None => continue,
                    },
                    None => {
                        loaded.push((index, self.schemes[index].kind, secret));
                        continue;
                    }
                };
                loaded.push((index, SchemeKind::Bearer, Arc::new(token.map_err(|e| e.to_string())?)));
            }
            return Ok(loaded);
        }
        Ok(Vec::new())
    }

    pub(crate) async fn send(&self, request: Prepared) -> CallToolResult {
        match self.attempt(&request).await {
            // A refused OAuth token may have been revoked or expired early: renew once and retry.
            Attempt::Unauthorized(_, oauth) if !oauth.is_empty() => {
                for index in oauth {
                    if let Some(cache) = &self.oauth[index] {
                        cache.invalidate().await;
                    }
                }
                self.attempt(&request).await.into_result()
            }
            other => other.into_result(),
        }
    }

    async fn attempt(&self, request: &Prepared) -> Attempt {
        use base64::Engine as _;
        let tool = request.tool;
        let credentials = match self.credentials_for(tool).await {
            Ok(credentials) => credentials,
            Err(message) => return Attempt::Done(tool_error(message)),
        };
        let oauth_used: Vec<usize> = credentials
            .iter()
            .filter(|(i, ..)| self.oauth[*i].is_some())
            .map(|(i, ..)| *i)
            .collect();
        let mut query = request.query.clone();
        let mut cookies = request.cookies.clone();
        let mut secret_headers = Vec::new();
        // What an echoing upstream could hand back: each secret as sent, in every form.
        let mut needles: Vec<String> = Vec::new();
        for (_, kind, secret) in &credentials {
            let value = secret.expose();
            needles.push(value.to_owned());
            match kind {
                SchemeKind::Header { name } => secret_headers.push((*name, value.to_owned())),
                SchemeKind::Bearer => secret_headers.push(("authorization", format!("Bearer {value}"))),
                SchemeKind::Basic => {
                    let encoded = base64::engine::general_purpose::STANDARD.encode(value);
                    secret_headers.push(("authorization", format!("Basic {encoded}")));
                    needles.push(encoded);
                }
                SchemeKind::OAuth2ClientCredentials { .. }
                | SchemeKind::OAuth2AuthorizationCode { .. }
                | SchemeKind::OpenIdConnect { .. } => {}
                SchemeKind::Query { name } | SchemeKind::Cookie { name } => {
                    let encoded = style::encode(value);
                    let pair = format!("{}={encoded}", style::encode(name));
                    if matches!(kind, SchemeKind::Query { .. }) {
                        if !query.is_empty() {
                            query.push('&');
                        }
                        query.push_str(&pair);
                    } else {
                        cookies.push(pair);
                    }
                    needles.push(encoded);
                }
            }
        }
        let base = match tool.base_url {
            Some(own) if !self.base_url_overridden => own.trim_end_matches('/'),
            _ => self.base_url.as_str(),
        };
        let mut url = String::with_capacity(base.len() + request.path.len() + query.len() + 1);
        url.push_str(base);
        url.push_str(&request.path);
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query);
        }
        let method = reqwest::Method::from_bytes(tool.method.as_str().as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut builder = self.client.request(method, &url);
        for (name, value) in self.static_headers {
            builder = builder.header(*name, *value);
        }
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        if !cookies.is_empty() {
            secret_headers.push(("cookie", cookies.join("; ")));
        }
        for (name, value) in secret_headers {
            match reqwest::header::HeaderValue::from_str(&value) {
                Ok(mut value) => {
                    // Sensitive values are left out of `Debug` output and HTTP/2 header compression.
                    value.set_sensitive(true);
                    builder = builder.header(name, value);
                }
                Err(_) => {
                    return Attempt::Done(tool_error(format!(
                        "a configured credential is not a valid `{name}` header value"
                    )));
                }
            }
        }
        if let Some(body) = &request.body {
            builder = builder.body(body.clone());
        }

        let started = Instant::now();
        let outcome = self.exchange(builder).await;
        let latency_ms = started.elapsed().as_millis() as u64;
        match outcome {
            Ok((status, content_type, body, truncated)) => {
                tracing::info!(
                    target: "cast::upstream",
                    tool = tool.name,
                    method = tool.method.as_str(),
                    path = tool.path_template,
                    status = status.as_u16(),
                    latency_ms,
                    "upstream call"
                );
                let result = respond(
                    tool,
                    status,
                    content_type.as_deref(),
                    &redact(body, &needles),
                    truncated.then_some(self.max_response_bytes),
                );
                if status == reqwest::StatusCode::UNAUTHORIZED {
                    Attempt::Unauthorized(result, oauth_used)
                } else {
                    Attempt::Done(result)
                }
            }
            Err(err) => {
                let message = describe_transport_error(&err);
                tracing::warn!(
                    target: "cast::upstream",
                    tool = tool.name,
                    method = tool.method.as_str(),
                    path = tool.path_template,
                    latency_ms,
                    error = %message,
                    "upstream call failed"
                );
                Attempt::Done(tool_error(format!("upstream request failed: {message}")))
            }
        }
    }

    async fn exchange(
        &self,
        builder: reqwest::RequestBuilder,
    ) -> Result<(reqwest::StatusCode, Option<String>, Vec<u8>, bool), reqwest::Error> {
        let mut response = builder.send().await?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut body = Vec::new();
        let mut truncated = false;
        while let Some(chunk) = response.chunk().await? {
            let room = self.max_response_bytes - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, content_type, body, truncated))
    }
}

/// Removes the credential from anything the upstream sends back: an API that
/// echoes the request must not hand the key to the model.
fn redact(body: Vec<u8>, needles: &[String]) -> Vec<u8> {
    let mut body = body;
    for needle in needles.iter().map(|n| n.as_bytes()).filter(|n| n.len() >= 4) {
        if !body.windows(needle.len()).any(|w| w == needle) {
            continue;
        }
        let mut out = Vec::with_capacity(body.len());
        let mut rest = body.as_slice();
        while let Some(at) = rest.windows(needle.len()).position(|w| w == needle) {
            out.extend_from_slice(&rest[..at]);
            out.extend_from_slice(b"[redacted]");
            rest = &rest[at + needle.len()..];
        }
        out.extend_from_slice(rest);
        body = out;
    }
    body
}

/// reqwest errors print the URL, which may carry query parameters; say what happened without it.
fn describe_transport_error(err: &reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_body() || err.is_decode() {
        "the response body could not be read"
    } else if err.is_redirect() {
        "too many redirects"
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
fn respond(
    tool: &ToolDef,
    status: reqwest::StatusCode,
    content_type: Option<&str>,
    body: &[u8],
    truncated_at: Option<usize>,
) -> CallToolResult {
    use base64::Engine as _;
    let reason = status.canonical_reason().unwrap_or("");
    if !status.is_success() {
        let text = String::from_utf8_lossy(body);
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
    let base64 = || base64::engine::general_purpose::STANDARD.encode(body);
    let mut result = if is_json || is_text {
        let mut result = CallToolResult::success(vec![ContentBlock::text(String::from_utf8_lossy(body).into_owned())]);
        // MCP structured content is an object; a truncated body is not valid JSON anyway.
        if is_json
            && truncated_at.is_none()
            && let Ok(value @ serde_json::Value::Object(_)) = serde_json::from_slice(body)
        {
            result.structured_content = Some(value);
        }
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
        result.content.push(ContentBlock::text(format!(
            "[the response was cut at {limit} bytes; narrow the request (filters, paging) to see the rest]"
        )));
        let mut meta = serde_json::Map::new();
        meta.insert(
            "io.cast/truncated".to_owned(),
            serde_json::json!({ "limitBytes": limit }),
        );
        result.meta = Some(rmcp::model::MetaObject(meta));
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    static TEST_TOOL: ToolDef = ToolDef {
        name: "t",
        title: None,
        description: "",
        method: crate::api::Method::Get,
        path_template: "/",
        path_pieces: &["/"],
        input_schema: "{}",
        output_schema: None,
        base_url: None,
        security: &[],
        annotations: crate::api::Annotations {
            read_only: true,
            destructive: false,
            idempotent: true,
        },
        call: |_| Box::pin(async { tool_error("unused") }),
    };

    #[test]
    fn media_types_map_to_content_kinds() {
        let image = respond(
            &TEST_TOOL,
            reqwest::StatusCode::OK,
            Some("image/png"),
            &[0x89, b'P'],
            None,
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
            b"%PDF",
            None,
        );
        let json = serde_json::to_value(&blob.content[0]).expect("json");
        assert_eq!(json["resource"]["blob"], "JVBERg==");
        assert_eq!(json["resource"]["mimeType"], "application/pdf");
        let text = respond(&TEST_TOOL, reqwest::StatusCode::OK, Some("text/csv"), b"a,b", None);
        assert_eq!(text.content[0].as_text().expect("text").text, "a,b");
        let cut = respond(
            &TEST_TOOL,
            reqwest::StatusCode::OK,
            Some("application/json"),
            b"{\"a\":",
            Some(6),
        );
        assert_eq!(cut.structured_content, None);
        assert_eq!(cut.meta.expect("meta").0["io.cast/truncated"]["limitBytes"], 6);
    }

    #[test]
    fn redacts_every_occurrence() {
        let secret = vec!["k3y!".to_owned()];
        assert_eq!(
            redact(b"a k3y! b k3y!k3y!".to_vec(), &secret),
            b"a [redacted] b [redacted][redacted]"
        );
        assert_eq!(redact(b"none".to_vec(), &secret), b"none");
    }

    #[test]
    fn error_status_is_a_tool_error_with_body() {
        let result = respond(
            &TEST_TOOL,
            reqwest::StatusCode::UNAUTHORIZED,
            Some("application/json"),
            br#"{"error":"MISSING_API_KEY"}"#,
            None,
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
            br#"{"id":1}"#,
            None,
        );
        assert_eq!(result.structured_content, Some(serde_json::json!({"id": 1})));
        let empty = respond(&TEST_TOOL, reqwest::StatusCode::NO_CONTENT, None, b"", None);
        assert_eq!(empty.is_error, Some(false));
    }
}
