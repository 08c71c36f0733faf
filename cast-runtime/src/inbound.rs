//! Who may call the HTTP transport: static bearer tokens from a file of hashes, and
//! JWT access tokens of an OAuth 2.1 authorization server (the server as a resource
//! server, RFC 9728). The inbound token is only ever checked here; nothing of it goes
//! upstream, into a log line or into a tool result.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
    time::{Duration, Instant},
};

use jsonwebtoken::{
    Algorithm, DecodingKey, Validation,
    jwk::{JwkSet, PublicKeyUse},
};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::credential::FileStamp;

/// Static tokens are `cast_mcp_` and 43 characters of base64url (32 random bytes), so
/// secret scanners can recognise them.
pub const TOKEN_PREFIX: &str = "cast_mcp_";

/// Signatures accepted on JWT access tokens: asymmetric only. `none` is not an
/// algorithm jsonwebtoken knows, and HMAC would let anyone holding the public key sign.
const ACCEPTED_ALGORITHMS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Clock skew tolerated on `exp` and `nbf`.
const LEEWAY_SECS: u64 = 30;
/// An unknown `kid` refetches the key set, but never more than once a second overall,
/// and once per key id in this long, so made-up key ids cannot flood the issuer.
const JWKS_MIN_REFRESH: Duration = Duration::from_secs(1);
const UNKNOWN_KID_RETRY: Duration = Duration::from_secs(300);

/// An authenticated caller: a label for logs (the token's name or the JWT subject,
/// never the token) and the scopes it was granted.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub label: Arc<str>,
    pub scopes: Vec<String>,
}

/// Why a request is refused.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// No `Authorization: Bearer` header.
    Missing,
    /// A token that is not accepted; the reason is safe to show.
    Invalid(String),
}

/// Everything that checks inbound tokens.
#[derive(Debug)]
pub(crate) struct Inbound {
    tokens: Option<TokenFile>,
    jwt: Option<ResourceServer>,
}

impl Inbound {
    pub(crate) fn new(tokens: Option<TokenFile>, jwt: Option<ResourceServer>) -> Option<Self> {
        (tokens.is_some() || jwt.is_some()).then_some(Self { tokens, jwt })
    }

    /// The resource server's metadata document, when OAuth is configured.
    pub(crate) fn resource(&self) -> Option<&ResourceServer> {
        self.jwt.as_ref()
    }

    /// Checks the bearer token of a request.
    pub(crate) async fn check(&self, authorization: Option<&[u8]>) -> Result<Caller, Refusal> {
        let Some(value) = authorization else {
            return Err(Refusal::Missing);
        };
        let token = std::str::from_utf8(value)
            .ok()
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| Refusal::Invalid("the Authorization header is not `Bearer <token>`".to_owned()))?;
        if let Some(file) = &self.tokens
            && let Some(caller) = file.find(token)
        {
            return Ok(caller);
        }
        match &self.jwt {
            // A static-token-shaped value is never a JWT: say the plain thing.
            Some(jwt) if !token.starts_with(TOKEN_PREFIX) => jwt.verify(token).await.map_err(Refusal::Invalid),
            _ => Err(Refusal::Invalid(
                "the token is not known (revoked, or never issued)".to_owned(),
            )),
        }
    }
}

/// One line of the tokens file: `LABEL sha256:HEX [SCOPE,SCOPE…]`.
#[derive(Debug, Clone)]
struct Entry {
    label: Arc<str>,
    hash: [u8; 32],
    scopes: Vec<String>,
}

/// The static tokens file: only labels, hashes and scopes, so it is not a secret.
/// Reread whenever it changes (one `stat` per request), so revoking a line or adding
/// one takes effect at once. If it disappears or cannot be read, no token is accepted.
#[derive(Debug)]
pub(crate) struct TokenFile {
    path: PathBuf,
    state: RwLock<(Option<FileStamp>, Arc<Vec<Entry>>)>,
}

impl TokenFile {
    /// Reads the file now, so that a missing or malformed file stops the server at start.
    pub(crate) fn open(path: PathBuf) -> Result<Self, String> {
        let stamp = FileStamp::of(&path).map_err(|e| {
            format!(
                "{}: {e}; create it with `token new --inbound-tokens {}`",
                path.display(),
                path.display()
            )
        })?;
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let (entries, problems) = parse(&text);
        if let Some(problem) = problems.first() {
            return Err(format!("{}: {problem}", path.display()));
        }
        tracing::info!(file = %path.display(), tokens = entries.len(), "inbound tokens loaded");
        Ok(Self {
            path,
            state: RwLock::new((Some(stamp), Arc::new(entries))),
        })
    }

    fn entries(&self) -> Arc<Vec<Entry>> {
        let stamp = FileStamp::of(&self.path).ok();
        {
            let state = self.state.read().unwrap_or_else(|e| e.into_inner());
            if state.0 == stamp {
                return state.1.clone();
            }
        }
        let mut state = self.state.write().unwrap_or_else(|e| e.into_inner());
        if state.0 != stamp {
            let entries = match std::fs::read_to_string(&self.path) {
                Ok(text) => {
                    let (entries, problems) = parse(&text);
                    for problem in &problems {
                        tracing::warn!(file = %self.path.display(), "inbound tokens: {problem} (that line is ignored)");
                    }
                    tracing::info!(file = %self.path.display(), tokens = entries.len(), "inbound tokens reloaded");
                    entries
                }
                Err(err) => {
                    tracing::warn!(file = %self.path.display(), "inbound tokens unreadable, no token is accepted: {err}");
                    Vec::new()
                }
            };
            *state = (stamp, Arc::new(entries));
        }
        state.1.clone()
    }

    /// The caller whose token this is. Every hash is compared, in constant time.
    fn find(&self, token: &str) -> Option<Caller> {
        let presented: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let mut found = None;
        for entry in self.entries().iter() {
            if bool::from(entry.hash.ct_eq(&presented)) && found.is_none() {
                found = Some(Caller {
                    label: entry.label.clone(),
                    scopes: entry.scopes.clone(),
                });
            }
        }
        found
    }
}

fn parse(text: &str) -> (Vec<Entry>, Vec<String>) {
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let (label, hash, scopes) = (fields.next(), fields.next(), fields.next());
        let hash = hash.and_then(|h| h.strip_prefix("sha256:")).and_then(decode_hex);
        match (label, hash, fields.next()) {
            (Some(label), Some(hash), None) if valid_label(label) => entries.push(Entry {
                label: label.into(),
                hash,
                scopes: scopes
                    .map(|s| s.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect())
                    .unwrap_or_default(),
            }),
            _ => problems.push(format!("line {}: expected `LABEL sha256:HEX [SCOPE,…]`", number + 1)),
        }
    }
    (entries, problems)
}

fn decode_hex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(i * 2..i * 2 + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Labels name tokens in logs and in the file: short, no spaces.
pub(crate) fn valid_label(label: &str) -> bool {
    !label.is_empty() && label.len() <= 64 && label.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.@".contains(&b))
}

/// `token new`: a fresh token, printed once; its label, hash and scopes are appended
/// to the file (written atomically, like a sealed file).
pub(crate) fn new_token(path: &Path, label: &str, scopes: &[String]) -> Result<zeroize::Zeroizing<String>, String> {
    use base64::Engine as _;
    if !valid_label(label) {
        return Err(format!(
            "--name `{label}`: use 1 to 64 characters of letters, digits, `-`, `_`, `.` and `@`"
        ));
    }
    if let Some(scope) = scopes.iter().find(|s| s.is_empty() || s.contains([',', ' '])) {
        return Err(format!("--scope `{scope}`: a scope is one word without commas"));
    }
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            "# Inbound bearer tokens: LABEL sha256:HEX [SCOPE,…]. Only hashes: this file is not a secret.\n# Delete a line to revoke its token; running servers notice at once.\n".to_owned()
        }
        Err(err) => return Err(format!("{}: {err}", path.display())),
    };
    let (entries, _) = parse(&existing);
    if entries.iter().any(|e| &*e.label == label) {
        return Err(format!(
            "{} already has a token named `{label}`; pick another --name (or delete its line to revoke it)",
            path.display()
        ));
    }
    let mut random = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(random.as_mut_slice()).map_err(|e| format!("no randomness: {e}"))?;
    let token = zeroize::Zeroizing::new(format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random.as_slice())
    ));
    let hash: String = Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut text = existing;
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text.push_str(&format!("{label} sha256:{hash}"));
    if !scopes.is_empty() {
        text.push(' ');
        text.push_str(&scopes.join(","));
    }
    text.push('\n');
    crate::sealed::write_atomic(path, text.as_bytes()).map_err(|e| e.to_string())?;
    Ok(token)
}

/// The server as an OAuth 2.1 resource server: JWT access tokens of one issuer, for
/// one resource (this server's canonical URI), checked against the issuer's keys.
#[derive(Debug)]
pub(crate) struct ResourceServer {
    issuer: String,
    resource: String,
    /// The scopes this server knows (`[inbound.scopes]`), for the metadata document.
    scopes: Vec<String>,
    client: reqwest::Client,
    keys: RwLock<Arc<JwkSet>>,
    refresh: tokio::sync::Mutex<Refresh>,
}

#[derive(Debug, Default)]
struct Refresh {
    jwks_uri: Option<String>,
    last: Option<Instant>,
    /// Key ids that were looked for and not found, and when.
    missed: HashMap<String, Instant>,
}

impl ResourceServer {
    pub(crate) fn new(issuer: &str, resource: &str, scopes: Vec<String>, timeout: Duration) -> Result<Self, String> {
        for (flag, value) in [("--oauth-issuer", issuer), ("--resource", resource)] {
            match url::Url::parse(value) {
                Ok(url) if url.scheme() == "https" || (url.scheme() == "http" && is_loopback_host(&url)) => {}
                _ => {
                    return Err(format!(
                        "{flag} `{value}` must be an absolute https URL (http only on loopback)"
                    ));
                }
            }
        }
        Ok(Self {
            issuer: issuer.to_owned(),
            resource: resource.to_owned(),
            scopes,
            client: crate::http::credential_client(timeout, timeout.min(Duration::from_secs(10)))?,
            keys: RwLock::new(Arc::new(JwkSet { keys: Vec::new() })),
            refresh: tokio::sync::Mutex::new(Refresh::default()),
        })
    }

    /// Where the Protected Resource Metadata is published (RFC 9728 §3.1: the
    /// well-known path inserted before the resource's own path).
    pub(crate) fn metadata_url(&self) -> String {
        let Ok(url) = url::Url::parse(&self.resource) else {
            return String::new();
        };
        let path = url.path().trim_end_matches('/');
        format!(
            "{}/.well-known/oauth-protected-resource{path}",
            url.origin().ascii_serialization()
        )
    }

    /// The Protected Resource Metadata document.
    pub(crate) fn metadata(&self, name: &str) -> serde_json::Value {
        serde_json::json!({
            "resource": self.resource,
            "authorization_servers": [self.issuer],
            "scopes_supported": self.scopes,
            "bearer_methods_supported": ["header"],
            "resource_signing_alg_values_supported": ACCEPTED_ALGORITHMS
                .iter()
                .map(|a| format!("{a:?}"))
                .collect::<Vec<_>>(),
            "resource_name": name,
        })
    }

    async fn verify(&self, token: &str) -> Result<Caller, String> {
        let header = jsonwebtoken::decode_header(token)
            .map_err(|_| "the token is not a JWT this server accepts (or its algorithm is not supported)".to_owned())?;
        if !ACCEPTED_ALGORITHMS.contains(&header.alg) {
            return Err(format!(
                "tokens signed with {:?} are not accepted: only asymmetric signatures are",
                header.alg
            ));
        }
        let key = self.key(header.kid.as_deref(), header.alg).await?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.resource]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        let data = jsonwebtoken::decode::<Claims>(token, &key, &validation).map_err(|err| {
            use jsonwebtoken::errors::ErrorKind;
            match err.kind() {
                ErrorKind::ExpiredSignature => "the token has expired".to_owned(),
                ErrorKind::ImmatureSignature => "the token is not valid yet (nbf)".to_owned(),
                ErrorKind::InvalidAudience => format!("the token was not issued for {} (aud)", self.resource),
                ErrorKind::InvalidIssuer => format!("the token was not issued by {} (iss)", self.issuer),
                ErrorKind::InvalidSignature => "the token's signature does not verify".to_owned(),
                ErrorKind::MissingRequiredClaim(claim) => format!("the token has no `{claim}` claim"),
                _ => "the token is not valid".to_owned(),
            }
        })?;
        let claims = data.claims;
        let mut scopes: Vec<String> = claims
            .scope
            .as_deref()
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        match claims.scp {
            Some(serde_json::Value::String(s)) => scopes.extend(s.split_whitespace().map(str::to_owned)),
            Some(serde_json::Value::Array(items)) => {
                scopes.extend(items.iter().filter_map(|i| i.as_str().map(str::to_owned)));
            }
            _ => {}
        }
        let label = claims.client_id.or(claims.sub).unwrap_or_else(|| "jwt".to_owned());
        Ok(Caller {
            label: label.into(),
            scopes,
        })
    }

    /// The key for `kid`, refetching the issuer's key set once when it is not known.
    async fn key(&self, kid: Option<&str>, alg: Algorithm) -> Result<DecodingKey, String> {
        if let Some(key) = self.find(kid, alg)? {
            return Ok(key);
        }
        let mut refresh = self.refresh.lock().await;
        // Another request may have refreshed while this one waited.
        if let Some(key) = self.find(kid, alg)? {
            return Ok(key);
        }
        let now = Instant::now();
        let never_fetched = refresh.last.is_none();
        let kid_tried_lately = kid
            .and_then(|k| refresh.missed.get(k))
            .is_some_and(|at| now.duration_since(*at) < UNKNOWN_KID_RETRY);
        let too_soon = refresh.last.is_some_and(|at| now.duration_since(at) < JWKS_MIN_REFRESH);
        if !never_fetched && (kid_tried_lately || too_soon) {
            return Err("the token's signing key is not one of the issuer's".to_owned());
        }
        refresh.last = Some(now);
        let keys = self.fetch_keys(&mut refresh).await?;
        *self.keys.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(keys);
        match self.find(kid, alg)? {
            Some(key) => Ok(key),
            None => {
                if let Some(kid) = kid {
                    if refresh.missed.len() >= 256 {
                        refresh
                            .missed
                            .retain(|_, at| now.duration_since(*at) < UNKNOWN_KID_RETRY);
                    }
                    refresh.missed.insert(kid.to_owned(), now);
                }
                Err("the token's signing key is not one of the issuer's".to_owned())
            }
        }
    }

    fn find(&self, kid: Option<&str>, alg: Algorithm) -> Result<Option<DecodingKey>, String> {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner()).clone();
        let jwk = match kid {
            Some(kid) => keys.find(kid),
            None if keys.keys.len() == 1 => keys.keys.first(),
            None => None,
        };
        let Some(jwk) = jwk else { return Ok(None) };
        if jwk
            .common
            .public_key_use
            .as_ref()
            .is_some_and(|u| *u != PublicKeyUse::Signature)
        {
            return Err("the token's key is not a signing key".to_owned());
        }
        if let Some(declared) = jwk.common.key_algorithm
            && format!("{declared:?}") != format!("{alg:?}")
        {
            return Err("the token's algorithm is not its key's".to_owned());
        }
        DecodingKey::from_jwk(jwk)
            .map(Some)
            .map_err(|_| "the issuer's key cannot be used".to_owned())
    }

    async fn fetch_keys(&self, refresh: &mut Refresh) -> Result<JwkSet, String> {
        let unavailable = |why: String| {
            tracing::warn!(issuer = %self.issuer, "cannot get the issuer's signing keys: {why}");
            "the authorization server's keys are not available; try again later".to_owned()
        };
        if refresh.jwks_uri.is_none() {
            refresh.jwks_uri = Some(self.discover().await.map_err(unavailable)?);
        }
        let uri = refresh.jwks_uri.clone().unwrap_or_default();
        let document = crate::oauth::get_json(&self.client, &uri).await.map_err(unavailable)?;
        let keys: JwkSet = serde_json::from_value(document).map_err(|e| unavailable(format!("{uri}: {e}")))?;
        tracing::info!(issuer = %self.issuer, keys = keys.keys.len(), "issuer signing keys fetched");
        Ok(keys)
    }

    /// The issuer's `jwks_uri`, from RFC 8414 metadata (the well-known path inserted
    /// before the issuer's path) or OpenID Connect discovery. The document must name
    /// this very issuer (RFC 8414 §3.3).
    async fn discover(&self) -> Result<String, String> {
        let url = url::Url::parse(&self.issuer).map_err(|e| e.to_string())?;
        let origin = url.origin().ascii_serialization();
        let path = url.path().trim_end_matches('/');
        let candidates = [
            format!("{origin}/.well-known/oauth-authorization-server{path}"),
            format!("{}/.well-known/openid-configuration", self.issuer.trim_end_matches('/')),
            format!("{origin}/.well-known/openid-configuration{path}"),
        ];
        let mut last = String::new();
        for candidate in candidates {
            match crate::oauth::get_json(&self.client, &candidate).await {
                Ok(document) => {
                    if document["issuer"].as_str() != Some(self.issuer.as_str()) {
                        last = format!("{candidate} names another issuer ({})", document["issuer"]);
                        continue;
                    }
                    return document["jwks_uri"]
                        .as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| format!("{candidate} names no jwks_uri"));
                }
                Err(err) => last = err,
            }
        }
        Err(last)
    }
}

fn is_loopback_host(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    }
}

#[derive(Debug, serde::Deserialize)]
struct Claims {
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    scp: Option<serde_json::Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_files_hold_hashes_and_are_reread() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tokens");
        let first = new_token(&path, "ci", &["read".to_owned()]).expect("new");
        let second = new_token(&path, "laptop", &[]).expect("new");
        assert!(first.starts_with(TOKEN_PREFIX) && first.len() == TOKEN_PREFIX.len() + 43);
        let text = std::fs::read_to_string(&path).expect("read");
        assert!(
            !text.contains(first.as_str()) && !text.contains(second.as_str()),
            "{text}"
        );
        assert!(new_token(&path, "ci", &[]).is_err_and(|e| e.contains("already has a token named `ci`")));

        let file = TokenFile::open(path.clone()).expect("open");
        let caller = file.find(&first).expect("known");
        assert_eq!(
            (&*caller.label, caller.scopes.as_slice()),
            ("ci", ["read".to_owned()].as_slice())
        );
        assert!(file.find("cast_mcp_wrong").is_none());
        // Revoking is deleting the line.
        let kept: String = text
            .lines()
            .filter(|l| !l.starts_with("ci "))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(&path, kept).expect("write");
        assert!(file.find(&first).is_none());
        assert!(file.find(&second).is_some());
        std::fs::remove_file(&path).expect("remove");
        assert!(file.find(&second).is_none(), "a missing file accepts nothing");
    }

    #[test]
    fn malformed_lines_are_named() {
        let (entries, problems) = parse("# c\nok sha256:00\nbad line here extra\n");
        assert!(entries.is_empty());
        assert_eq!(problems.len(), 2);
        assert!(problems[0].starts_with("line 2:"), "{problems:?}");
    }

    #[test]
    fn metadata_lives_under_the_resource_path() {
        let rs = ResourceServer::new(
            "https://auth.example.com",
            "https://mcp.example.com/mcp",
            vec!["read".into()],
            Duration::from_secs(5),
        )
        .expect("new");
        assert_eq!(
            rs.metadata_url(),
            "https://mcp.example.com/.well-known/oauth-protected-resource/mcp"
        );
        let doc = rs.metadata("x");
        assert_eq!(doc["authorization_servers"][0], "https://auth.example.com");
        assert!(
            ResourceServer::new(
                "http://auth.example.com",
                "https://x/mcp",
                vec![],
                Duration::from_secs(1)
            )
            .is_err()
        );
    }
}
