//! OAuth 2.0 client credentials: the `oauth2` crate drives the flow over the runtime's
//! own HTTP client; tokens are cached and refreshed before they expire.

use std::time::{Duration, Instant};

use oauth2::{
    ClientId, ClientSecret, Scope, TokenResponse, TokenUrl,
    basic::BasicClient,
    http::{self, HeaderValue},
};

use crate::{http::read_body, redact::Needles, secret::Secret};

/// Token, metadata and registration answers are small; a bigger one is refused unread.
const MAX_OAUTH_RESPONSE_BYTES: usize = 256 * 1024;

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
    params: &'static [(&'static str, &'static str)],
    cached: tokio::sync::Mutex<Option<Cached>>,
}

impl ClientCredentials {
    /// A scheme with no token yet.
    pub fn new(
        token_url: &'static str,
        scopes: &'static [&'static str],
        params: &'static [(&'static str, &'static str)],
    ) -> Self {
        Self {
            token_url,
            scopes,
            params,
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
        let (id, secret) = client.expose().split_once(':').ok_or_else(|| TokenError {
            token_url: self.token_url.to_owned(),
            reason: "the sealed client credential must be `client_id:client_secret`".to_owned(),
        })?;
        // The authorization server's error text may quote what it was sent.
        let needles = Needles::of([client.expose(), secret]);
        let fail = |reason: String| TokenError {
            token_url: self.token_url.to_owned(),
            reason: needles.redact_str(&reason),
        };
        let token_url = TokenUrl::new(self.token_url.to_owned()).map_err(|e| fail(e.to_string()))?;
        let oauth = BasicClient::new(ClientId::new(id.to_owned()))
            .set_client_secret(ClientSecret::new(secret.to_owned()))
            .set_token_uri(token_url);
        let mut request = oauth.exchange_client_credentials();
        for scope in self.scopes {
            request = request.add_scope(Scope::new((*scope).to_owned()));
        }
        for (name, value) in self.params {
            request = request.add_extra_param(*name, *value);
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
pub(crate) struct ExchangeError(String);

/// The oauth2 crate's HTTP hook over the runtime's client, for `login`.
pub(crate) async fn exchange_public(
    client: &reqwest::Client,
    request: http::Request<Vec<u8>>,
) -> Result<http::Response<Vec<u8>>, ExchangeError> {
    exchange(client, request).await
}

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
    let mut response = builder
        .send()
        .await
        .map_err(|e| ExchangeError(e.without_url().to_string()))?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = read_capped(&mut response).await.map_err(ExchangeError)?;
    let mut out = http::Response::builder().status(status);
    for (name, value) in &headers {
        if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
            out = out.header(name.as_str(), value);
        }
    }
    out.body(bytes.to_vec()).map_err(|e| ExchangeError(e.to_string()))
}

/// What an authorization-code scheme keeps sealed: the client it registered or was
/// given, and the user's refresh token. Written by `NAME login`.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct UserGrant {
    /// The OAuth client.
    pub client_id: String,
    /// Its secret, for confidential clients.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// The long-lived refresh token.
    pub refresh_token: String,
}

impl std::fmt::Debug for UserGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserGrant")
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "[redacted]"))
            .field("refresh_token", &"[redacted]")
            .finish()
    }
}

/// One authorization-code scheme: access tokens bought with the sealed refresh token.
#[derive(Debug)]
pub struct AuthorizationCode {
    /// The token endpoint, or (OpenID Connect) the discovery document naming it.
    endpoint: Endpoint,
    token_url: tokio::sync::OnceCell<String>,
    scopes: &'static [&'static str],
    cached: tokio::sync::Mutex<Option<Cached>>,
}

/// Where a sign-in's endpoints come from.
#[derive(Debug, Clone, Copy)]
pub enum Endpoint {
    /// Given by the spec.
    Token(&'static str),
    /// An OpenID Connect discovery document.
    Discovery(&'static str),
}

/// The endpoints of an authorization server.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Where the user signs in.
    pub authorization: String,
    /// Where codes and refresh tokens are exchanged.
    pub token: String,
    /// RFC 7591 registration, when offered.
    pub registration: Option<String>,
}

/// A whole OAuth response body, refused when larger than any real one.
async fn read_capped(response: &mut reqwest::Response) -> Result<Vec<u8>, String> {
    match read_body(response, MAX_OAUTH_RESPONSE_BYTES).await {
        Ok((bytes, false)) => Ok(bytes),
        Ok((_, true)) => Err(format!(
            "the response is larger than {} KiB, more than any OAuth answer needs",
            MAX_OAUTH_RESPONSE_BYTES / 1024
        )),
        Err(e) => Err(e.without_url().to_string()),
    }
}

pub(crate) async fn get_json(http_client: &reqwest::Client, url: &str) -> Result<serde_json::Value, String> {
    let mut response = http_client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("{url}: {}", e.without_url()))?;
    if response.status().is_redirection() {
        return Err(format!(
            "{url}: HTTP {} (redirects are not followed)",
            response.status()
        ));
    }
    if !response.status().is_success() {
        return Err(format!("{url}: HTTP {}", response.status()));
    }
    let bytes = read_capped(&mut response).await.map_err(|e| format!("{url}: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{url}: not JSON ({e})"))
}

/// Reads an OpenID Connect discovery document (or RFC 8414 metadata).
pub async fn discover(http_client: &reqwest::Client, url: &str) -> Result<Endpoints, String> {
    let document = get_json(http_client, url).await?;
    let field = |name: &str| document[name].as_str().map(str::to_owned);
    Ok(Endpoints {
        authorization: field("authorization_endpoint")
            .ok_or_else(|| format!("{url} names no authorization_endpoint"))?,
        token: field("token_endpoint").ok_or_else(|| format!("{url} names no token_endpoint"))?,
        registration: field("registration_endpoint"),
    })
}

impl AuthorizationCode {
    /// A scheme with no token yet.
    pub fn new(endpoint: Endpoint, scopes: &'static [&'static str]) -> Self {
        Self {
            endpoint,
            token_url: tokio::sync::OnceCell::new(),
            scopes,
            cached: tokio::sync::Mutex::new(None),
        }
    }

    async fn token_url(&self, http_client: &reqwest::Client) -> Result<&str, TokenError> {
        let url = self
            .token_url
            .get_or_try_init(|| async {
                match self.endpoint {
                    Endpoint::Token(url) => Ok(url.to_owned()),
                    Endpoint::Discovery(url) => {
                        discover(http_client, url)
                            .await
                            .map(|e| e.token)
                            .map_err(|reason| TokenError {
                                token_url: url.to_owned(),
                                reason,
                            })
                    }
                }
            })
            .await?;
        Ok(url.as_str())
    }

    /// Forgets the access token: the next call refreshes.
    pub async fn invalidate(&self) {
        *self.cached.lock().await = None;
    }

    /// The current access token, refreshed with the sealed refresh token when needed.
    /// A rotated refresh token is sealed back into the file at once.
    pub async fn token(
        &self,
        http_client: &reqwest::Client,
        credential: &crate::credential::SealedCredential,
    ) -> Result<Secret, TokenError> {
        let mut cached = self.cached.lock().await;
        if let Some(current) = cached.as_ref()
            && current.renew_at.is_none_or(|at| Instant::now() < at)
        {
            return Ok(current.token.clone());
        }
        let token_url = self.token_url(http_client).await?.to_owned();
        let grant: UserGrant = serde_json::from_str(credential.current().expose()).map_err(|_| TokenError {
            token_url: token_url.clone(),
            reason: format!("{} holds no sign-in; run `login` first", credential.path().display()),
        })?;
        let needles = Needles::of(
            [Some(grant.refresh_token.as_str()), grant.client_secret.as_deref()]
                .into_iter()
                .flatten(),
        );
        let fail = |reason: String| TokenError {
            token_url: token_url.clone(),
            reason: needles.redact_str(&reason),
        };
        let mut oauth = BasicClient::new(ClientId::new(grant.client_id.clone()))
            .set_token_uri(TokenUrl::new(token_url.clone()).map_err(|e| fail(e.to_string()))?);
        if let Some(secret) = &grant.client_secret {
            oauth = oauth.set_client_secret(ClientSecret::new(secret.clone()));
        }
        let refresh = oauth2::RefreshToken::new(grant.refresh_token.clone());
        let mut request = oauth.exchange_refresh_token(&refresh);
        for scope in self.scopes {
            request = request.add_scope(Scope::new((*scope).to_owned()));
        }
        let send = |request: http::Request<Vec<u8>>| {
            let http_client = http_client.clone();
            async move { exchange(&http_client, request).await }
        };
        let response = request.request_async(&send).await.map_err(|e| {
            let reason = describe(&e);
            if reason.contains("invalid_grant") {
                fail(format!(
                    "the sign-in has expired or was revoked ({reason}); run `login` again"
                ))
            } else {
                fail(reason)
            }
        })?;
        if let Some(rotated) = response.refresh_token()
            && rotated.secret() != &grant.refresh_token
        {
            let next = UserGrant {
                refresh_token: rotated.secret().clone(),
                ..grant
            };
            let text = serde_json::to_string(&next).map_err(|e| fail(e.to_string()))?;
            credential
                .replace(&Secret::new(text))
                .map_err(|e| fail(e.to_string()))?;
        }
        let lifetime = response.expires_in();
        let renew_at = lifetime.map(|life| Instant::now() + life.saturating_sub(EARLY_RENEWAL.min(life / 2)));
        let token = Secret::new(response.access_token().secret().clone());
        tracing::info!(
            token_url = %token_url,
            expires_in_s = lifetime.map(|l| l.as_secs()),
            "OAuth 2.0 token refreshed"
        );
        *cached = Some(Cached {
            token: token.clone(),
            renew_at,
        });
        Ok(token)
    }
}

/// The origin (`scheme://host:port`) of a URL, where RFC 8414 metadata lives.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    url[after_scheme..].find('/').map_or(url, |i| &url[..after_scheme + i])
}

/// RFC 7591 dynamic registration through the RFC 8414 (or OpenID) metadata of the
/// authorization server. Returns the client id and, for confidential clients, its secret.
pub async fn register(
    http_client: &reqwest::Client,
    known_endpoint: Option<&str>,
    authorize_url: &str,
    redirect_uri: &str,
    client_name: &str,
) -> Result<(String, Option<String>), String> {
    let endpoint = match known_endpoint {
        Some(endpoint) => endpoint.to_owned(),
        None => {
            let base = origin(authorize_url);
            let mut metadata = None;
            for path in [
                "/.well-known/oauth-authorization-server",
                "/.well-known/openid-configuration",
            ] {
                if let Ok(value) = get_json(http_client, &format!("{base}{path}")).await {
                    metadata = Some(value);
                    break;
                }
            }
            let metadata = metadata
                .ok_or_else(|| format!("no authorization server metadata at {base}/.well-known/; pass --client-id"))?;
            metadata["registration_endpoint"]
                .as_str()
                .ok_or("the authorization server offers no dynamic registration; pass --client-id")?
                .to_owned()
        }
    };
    let request = serde_json::json!({
        "client_name": client_name,
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
    });
    let mut response = http_client
        .post(&endpoint)
        .header("content-type", "application/json")
        .body(request.to_string())
        .send()
        .await
        .map_err(|e| format!("registration failed: {}", e.without_url()))?;
    let status = response.status();
    let bytes = read_capped(&mut response)
        .await
        .map_err(|e| format!("registration failed: {e}"))?;
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let client_id = body["client_id"]
        .as_str()
        .filter(|_| status.is_success())
        .ok_or_else(|| format!("registration refused: HTTP {status}"))?;
    Ok((client_id.to_owned(), body["client_secret"].as_str().map(str::to_owned)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_grant_never_prints_its_secrets() {
        let grant = UserGrant {
            client_id: "dyn_1".into(),
            client_secret: Some("s3cret".into()),
            refresh_token: "rt_0123456789".into(),
        };
        let shown = format!("{grant:?}");
        assert!(
            shown.contains("dyn_1") && !shown.contains("s3cret") && !shown.contains("rt_0123456789"),
            "{shown}"
        );
    }
}
