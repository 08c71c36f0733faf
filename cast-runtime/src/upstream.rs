//! The one place requests leave for the upstream API: credential injection,
//! logging, and mapping responses to tool results.

use std::time::{Duration, Instant};

use rmcp::model::{CallToolResult, ContentBlock};

use crate::{
    api::{Auth, ToolDef},
    call::tool_error,
    credential::SealedCredential,
    secret::Secret,
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
    auth: Auth,
    credential: Option<SealedCredential>,
    static_headers: &'static [(&'static str, &'static str)],
    max_response_bytes: usize,
}

/// A request whose path, query, headers and body are final.
#[derive(Debug)]
pub(crate) struct Prepared {
    pub tool: &'static ToolDef,
    pub path: String,
    pub query: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Vec<u8>>,
}

impl Upstream {
    /// Builds the upstream client.
    pub fn new(
        base_url: &str,
        auth: Auth,
        credential: Option<SealedCredential>,
        static_headers: &'static [(&'static str, &'static str)],
        timeout: Duration,
    ) -> Result<Self, String> {
        crate::install_crypto_provider();
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .user_agent(concat!("cast-runtime/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| format!("cannot build the HTTP client: {err}"))?;
        Ok(Self {
            client,
            base_url: base_url.trim_end_matches('/').to_owned(),
            auth,
            credential,
            static_headers,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
        })
    }

    pub(crate) async fn send(&self, request: Prepared) -> CallToolResult {
        let tool = request.tool;
        let mut url = String::with_capacity(self.base_url.len() + request.path.len() + request.query.len() + 1);
        url.push_str(&self.base_url);
        url.push_str(&request.path);
        if !request.query.is_empty() {
            url.push('?');
            url.push_str(&request.query);
        }
        let method = reqwest::Method::from_bytes(tool.method.as_str().as_bytes()).unwrap_or(reqwest::Method::GET);
        let mut builder = self.client.request(method, &url);
        for (name, value) in self.static_headers {
            builder = builder.header(*name, *value);
        }
        for (name, value) in request.headers {
            builder = builder.header(name, value);
        }
        let secret = self.credential.as_ref().map(SealedCredential::current);
        if let (Some(secret), Some(name)) = (&secret, self.auth.header_name()) {
            let value = match self.auth {
                Auth::Bearer => format!("Bearer {}", secret.expose()),
                _ => secret.expose().to_owned(),
            };
            match reqwest::header::HeaderValue::from_str(&value) {
                Ok(mut value) => {
                    value.set_sensitive(true);
                    builder = builder.header(name, value);
                }
                Err(_) => {
                    return tool_error("the configured credential is not a valid header value");
                }
            }
        }
        if let Some(body) = request.body {
            builder = builder.body(body);
        }

        let started = Instant::now();
        let outcome = self.exchange(builder).await;
        let latency_ms = started.elapsed().as_millis() as u64;
        let secret = secret.as_deref();
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
                respond(status, content_type.as_deref(), &redact(body, secret), truncated)
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
                tool_error(format!("upstream request failed: {message}"))
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
fn redact(body: Vec<u8>, secret: Option<&Secret>) -> Vec<u8> {
    let Some(needle) = secret.map(|s| s.expose().as_bytes()).filter(|n| !n.is_empty()) else {
        return body;
    };
    if !body.windows(needle.len()).any(|w| w == needle) {
        return body;
    }
    let mut out = Vec::with_capacity(body.len());
    let mut rest = body.as_slice();
    while let Some(at) = rest.windows(needle.len()).position(|w| w == needle) {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(b"[redacted]");
        rest = &rest[at + needle.len()..];
    }
    out.extend_from_slice(rest);
    out
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

fn respond(status: reqwest::StatusCode, content_type: Option<&str>, body: &[u8], truncated: bool) -> CallToolResult {
    let text = String::from_utf8_lossy(body);
    if !status.is_success() {
        let reason = status.canonical_reason().unwrap_or("");
        let shown: String = text.chars().take(ERROR_BODY_LIMIT).collect();
        let cut = if shown.len() < text.len() { " […]" } else { "" };
        let message = if shown.trim().is_empty() {
            format!("upstream returned HTTP {} {reason}", status.as_u16())
        } else {
            format!("upstream returned HTTP {} {reason}: {shown}{cut}", status.as_u16())
        };
        return tool_error(message);
    }
    if body.is_empty() {
        return CallToolResult::success(vec![ContentBlock::text(format!(
            "HTTP {} {} (no content)",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        ))]);
    }
    let is_json = content_type.is_some_and(|ct| {
        let essence = ct.split(';').next().unwrap_or("").trim();
        essence.eq_ignore_ascii_case("application/json") || essence.ends_with("+json")
    });
    let mut result = CallToolResult::success(vec![ContentBlock::text(text.into_owned())]);
    if truncated {
        result.content.push(ContentBlock::text(format!(
            "[response truncated at {} bytes]",
            body.len()
        )));
    } else if is_json {
        // MCP structured content must be an object; arrays and scalars stay text only.
        if let Ok(value @ serde_json::Value::Object(_)) = serde_json::from_slice(body) {
            result.structured_content = Some(value);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_every_occurrence() {
        let secret = Secret::new("k3y");
        assert_eq!(
            redact(b"a k3y b k3yk3y".to_vec(), Some(&secret)),
            b"a [redacted] b [redacted][redacted]"
        );
        assert_eq!(redact(b"none".to_vec(), Some(&secret)), b"none");
    }

    #[test]
    fn error_status_is_a_tool_error_with_body() {
        let result = respond(
            reqwest::StatusCode::UNAUTHORIZED,
            Some("application/json"),
            br#"{"error":"MISSING_API_KEY"}"#,
            false,
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
            reqwest::StatusCode::OK,
            Some("application/json; charset=utf-8"),
            br#"{"id":1}"#,
            false,
        );
        assert_eq!(result.structured_content, Some(serde_json::json!({"id": 1})));
        let empty = respond(reqwest::StatusCode::NO_CONTENT, None, b"", false);
        assert_eq!(empty.is_error, Some(false));
    }
}
