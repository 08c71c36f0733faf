//! OAuth 2.0 client credentials: the `oauth2` crate drives the flow over the runtime's
//! own HTTP client; tokens are cached and refreshed before they expire.

use std::time::{Duration, Instant};

use oauth2::{
    ClientId, ClientSecret, Scope, TokenResponse, TokenUrl,
    basic::BasicClient,
    http::{self, HeaderValue},
};

use crate::secret::Secret;

/// Tokens this close to expiry are renewed first, so none expires on the way upstream.
const EARLY_RENEWAL: Duration = Duration::from_secs(30);

/// Why no token could be had. Never carries the client secret or a token.
#[derive(Debug, thiserror::Error)]
#[error("cannot get an OAuth 2.0 token from {token_url}: {reason}")]
pub struct TokenError {
    token_url: String,
    reason: String,
}

#[derive(Debug)]
struct Cached {
    token: Secret,
    renew_at: Option<Instant>,
}

/// One client-credentials scheme: its token endpoint, scopes and current token.
#[derive(Debug)]
pub struct ClientCredentials {
    token_url: &'static str,
    scopes: &'static [&'static str],
    cached: tokio::sync::Mutex<Option<Cached>>,
}

impl ClientCredentials {
    /// A scheme with no token yet.
    pub fn new(token_url: &'static str, scopes: &'static [&'static str]) -> Self {
        Self {
            token_url,
            scopes,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    /// Forgets the token (the upstream refused it): the next call gets a new one.
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    /// The current access token, fetching one when there is none or it is about to expire.
    /// `client` is `client_id:client_secret`. Concurrent callers wait for one fetch.
    pub async fn token(&self, http_client: &reqwest::Client, client: &Secret) -> Result<Secret, TokenError> {
        let mut cached = self.cached.lock().await;
        if let Some(current) = cached.as_ref()
            && current.renew_at.is_none_or(|at| Instant::now() < at)
        {
            return Ok(current.token.clone());
        }
        let fail = |reason: String| TokenError {
            token_url: self.token_url.to_owned(),
            reason,
        };
        let (id, secret) = client
            .expose()
            .split_once(':')
            .ok_or_else(|| fail("the sealed client credential must be `client_id:client_secret`".to_owned()))?;
        let token_url = TokenUrl::new(self.token_url.to_owned()).map_err(|e| fail(e.to_string()))?;
        let oauth = BasicClient::new(ClientId::new(id.to_owned()))
            .set_client_secret(ClientSecret::new(secret.to_owned()))
            .set_token_uri(token_url);
        let mut request = oauth.exchange_client_credentials();
        for scope in self.scopes {
            request = request.add_scope(Scope::new((*scope).to_owned()));
        }
        // The future owns its client (an `Arc` inside): a borrowed one would make the
        // handler's future `Send` only for one lifetime, which the tool table cannot accept.
        let send = |request: http::Request<Vec<u8>>| {
            let http_client = http_client.clone();
            async move { exchange(&http_client, request).await }
        };
        let response = request.request_async(&send).await.map_err(|e| fail(describe(&e)))?;
        let lifetime = response.expires_in();
        let renew_at = lifetime.map(|life| Instant::now() + life.saturating_sub(EARLY_RENEWAL.min(life / 2)));
        let token = Secret::new(response.access_token().secret().clone());
        tracing::info!(
            token_url = self.token_url,
            expires_in_s = lifetime.map(|l| l.as_secs()),
            "OAuth 2.0 token obtained"
        );
        *cached = Some(Cached {
            token: token.clone(),
            renew_at,
        });
        Ok(token)
    }
}

/// The oauth2 crate's errors print the server's error body, never the request: safe to show.
fn describe<E: std::error::Error>(error: &E) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct ExchangeError(String);

async fn exchange(
    client: &reqwest::Client,
    request: http::Request<Vec<u8>>,
) -> Result<http::Response<Vec<u8>>, ExchangeError> {
    let (parts, body) = request.into_parts();
    let method =
        reqwest::Method::from_bytes(parts.method.as_str().as_bytes()).map_err(|e| ExchangeError(e.to_string()))?;
    let mut builder = client.request(method, parts.uri.to_string()).body(body);
    for (name, value) in &parts.headers {
        let mut value =
            reqwest::header::HeaderValue::from_bytes(value.as_bytes()).map_err(|e| ExchangeError(e.to_string()))?;
        value.set_sensitive(name.as_str().eq_ignore_ascii_case("authorization"));
        builder = builder.header(name.as_str(), value);
    }
    let response = builder
        .send()
        .await
        .map_err(|e| ExchangeError(e.without_url().to_string()))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response
        .bytes()
        .await
        .map_err(|e| ExchangeError(e.without_url().to_string()))?;
    let mut out = http::Response::builder().status(status);
    for (name, value) in &headers {
        if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
            out = out.header(name.as_str(), value);
        }
    }
    out.body(bytes.to_vec()).map_err(|e| ExchangeError(e.to_string()))
}
