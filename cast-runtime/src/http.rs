//! The HTTP clients that carry credentials, and bounded reads of what comes back.
//!
//! Both the upstream client and the OAuth client are built here, so that none of them
//! ever follows a redirect on its own (reqwest's default follows ten and keeps custom
//! headers such as `X-Api-Key`) or sends a `Referer`.

use std::time::Duration;

/// Idle upstream connections kept for reuse, per host: enough for steady traffic, while a
/// burst of calls does not leave hundreds of sockets open after it.
const IDLE_CONNECTIONS_PER_HOST: usize = 32;

/// A client that sends credentials: redirects are never followed by the client itself,
/// and no `Referer` is ever sent.
pub(crate) fn credential_client(timeout: Duration, connect_timeout: Duration) -> Result<reqwest::Client, String> {
    crate::install_crypto_provider();
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(connect_timeout)
        .pool_max_idle_per_host(IDLE_CONNECTIONS_PER_HOST)
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
        .user_agent(concat!("cast-runtime/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|err| format!("cannot build the HTTP client: {err}"))
}

/// Reads at most `limit` bytes of a body; the flag says whether there was more. At most
/// a chunk past the limit is read, so a huge or endless body costs nothing.
pub(crate) async fn read_body(
    response: &mut reqwest::Response,
    limit: usize,
) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let declared = response.content_length().and_then(|n| usize::try_from(n).ok());
    let mut body = Vec::with_capacity(declared.unwrap_or(0).min(limit).min(1024 * 1024));
    let more = read_into(response, &mut body, limit).await?;
    body.truncate(limit);
    Ok((body, more))
}

/// Appends the body to `body` until it holds more than `limit` bytes or the body ends;
/// true when it holds more, so the body goes on past `limit`. It may hold up to a chunk
/// more than `limit`, which lets a second call with a larger limit go on where this stopped.
pub(crate) async fn read_into(
    response: &mut reqwest::Response,
    body: &mut Vec<u8>,
    limit: usize,
) -> Result<bool, reqwest::Error> {
    while body.len() <= limit {
        match response.chunk().await? {
            Some(chunk) => body.extend_from_slice(&chunk),
            None => return Ok(false),
        }
    }
    Ok(true)
}

/// Whether two URLs share scheme, host and port.
pub(crate) fn same_origin(a: &url::Url, b: &url::Url) -> bool {
    a.origin() == b.origin()
}
