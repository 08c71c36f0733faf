//! Servers: the upstream base URL of the API and of single operations.

use super::*;

/// A server URL with its variables replaced by their defaults.
pub(super) fn server_url(server: &Value) -> String {
    let mut url = server.get("url").and_then(Value::as_str).unwrap_or("").to_owned();
    for (name, variable) in server.get("variables").and_then(Value::as_object).into_iter().flatten() {
        let default = variable
            .get("default")
            .map(|d| d.as_str().map_or_else(|| d.to_string(), str::to_owned));
        url = url.replace(&format!("{{{name}}}"), &default.unwrap_or_default());
    }
    url
}

/// The operation's own server (operation `servers`, else path-item `servers`), when it differs from the API's.
pub(super) fn operation_base(op: &OperationRef<'_>) -> Option<String> {
    let servers = op
        .operation
        .get("servers")
        .or_else(|| op.item.get("servers"))?
        .as_array()?;
    let url = server_url(servers.first()?);
    let url = if url.starts_with("http://") || url.starts_with("https://") {
        url
    } else if op.global_base.starts_with("http") {
        join_url(&format!("{}/", op.global_base), &url)
    } else {
        return None;
    };
    let url = url.trim_end_matches('/');
    (url != op.global_base).then(|| url.to_owned())
}

pub(super) fn base_url(doc: &Value, source: &Source, settings: &Settings, diagnostics: &mut Diagnostics) -> String {
    if let Some(url) = &settings.base_url {
        return url.trim_end_matches('/').to_owned();
    }
    let Some(server) = doc.get("servers").and_then(Value::as_array).and_then(|s| s.first()) else {
        diagnostics.push(
            Diagnostic::warning("C0302", "/servers", "the spec names no server")
                .hint("set base_url in cast.toml, or pass --base-url / CAST_BASE_URL when running the server"),
        );
        return String::new();
    };
    let mut url = server_url(server);
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        match &source.url {
            Some(spec_url) => url = join_url(spec_url, &url),
            None => diagnostics.push(
                Diagnostic::warning("C0302", "/servers/0/url", format!("the server URL `{url}` is relative"))
                    .hint("set base_url in cast.toml, or pass --base-url / CAST_BASE_URL when running the server"),
            ),
        }
    }
    url.trim_end_matches('/').to_owned()
}

/// Resolves a server URL relative to the spec's own URL, as OpenAPI says.
pub(super) fn join_url(base: &str, relative: &str) -> String {
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let origin_end = base[scheme_end..].find('/').map_or(base.len(), |i| scheme_end + i);
    if relative.starts_with('/') {
        format!("{}{relative}", &base[..origin_end])
    } else {
        let dir_end = base
            .rfind('/')
            .filter(|&i| i >= origin_end)
            .map_or(base.len(), |i| i + 1);
        format!("{}{}", &base[..dir_end.max(origin_end)], relative)
    }
}
