//! Credentials a spec asks for as ordinary parameters or body fields (Slack's `token`, a
//! `client_secret` field, an `X-Registry-Auth` header). Offered as arguments, they would put
//! the key in the agent's hands: the one thing a Cast server exists to prevent. They are
//! kept out of the tool's arguments and sent from a sealed credential instead, like any
//! security scheme.

use super::*;

/// Where a credential-carrying argument goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Place {
    Query,
    Header,
    Cookie,
    /// A field of the object body.
    Field,
}

impl Place {
    pub(super) fn of(location: Location) -> Option<Self> {
        match location {
            Location::Path => None,
            Location::Query => Some(Self::Query),
            Location::Header => Some(Self::Header),
            Location::Cookie => Some(Self::Cookie),
        }
    }

    fn kind(self, wire: &str) -> SchemeKind {
        match self {
            Self::Query => SchemeKind::Query(wire.to_owned()),
            Self::Header => SchemeKind::Header(wire.to_owned()),
            Self::Cookie => SchemeKind::Cookie(wire.to_owned()),
            Self::Field => SchemeKind::Field(wire.to_owned()),
        }
    }

    fn wire_place(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Header => "header",
            Self::Cookie => "cookie",
            Self::Field => "body",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Self::Query => "query parameter",
            Self::Header => "header",
            Self::Cookie => "cookie",
            Self::Field => "body field",
        }
    }

    /// Whether `kind` is this place with this name (header names ignore case).
    fn matches(self, kind: &SchemeKind, wire: &str) -> bool {
        match (self, kind) {
            (Self::Header, SchemeKind::Header(name)) => name.eq_ignore_ascii_case(wire),
            (Self::Query, SchemeKind::Query(name))
            | (Self::Cookie, SchemeKind::Cookie(name))
            | (Self::Field, SchemeKind::Field(name)) => name == wire,
            _ => false,
        }
    }
}

/// Why an argument is taken for a credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Why {
    /// `[auth] secret_params` names it.
    Listed,
    /// A security scheme of the spec puts its credential there under this name.
    Scheme(String),
    /// Its name and description say so.
    Looks,
}

/// Names that are a credential of the caller whatever the API (compared in lower case,
/// `-` read as `_`).
const CREDENTIAL_NAMES: &[&str] = &[
    "token",
    "access_token",
    "auth_token",
    "api_token",
    "api_key",
    "apikey",
    "secret",
    "client_secret",
    "password",
    "private_token",
    "session_token",
    "refresh_token",
    "x_api_key",
    "x_api_token",
    "x_auth_token",
    "x_access_token",
];

/// Names that, in a request body, are more often what the call sets (a new account's
/// `password`, a webhook's `secret`) than the caller's own credential.
const SET_IN_BODIES: &[&str] = &["password", "secret"];

/// Header name endings that carry credentials (`X-Registry-Auth`, `X-Vault-Token`).
const CREDENTIAL_HEADER_ENDINGS: &[&str] = &["_auth", "_token", "_api_key", "_apikey", "_secret"];

/// Words in a description that confirm a credential.
const CREDENTIAL_WORDS: &[&str] = &[
    "auth",
    "token",
    "credential",
    "secret",
    "password",
    "key",
    "bearer",
    "login",
    "sign in",
];

/// Words that make a `token` a position in a listing instead.
const PAGING_WORDS: &[&str] = &["page", "pagination", "cursor", "continuation", "next"];

/// Whether an argument's name and description read as the caller's credential; `place`
/// is `"query"`, `"header"`, `"cookie"` or `"body"`.
pub fn looks_like_a_credential(wire: &str, place: &str, description: Option<&str>) -> bool {
    let name = wire.to_ascii_lowercase().replace('-', "_");
    let named = (CREDENTIAL_NAMES.contains(&name.as_str())
        && !(place == "body" && SET_IN_BODIES.contains(&name.as_str())))
        || (place == "header" && CREDENTIAL_HEADER_ENDINGS.iter().any(|end| name.ends_with(end)));
    if !named {
        return false;
    }
    match description.map(str::to_ascii_lowercase) {
        None => true,
        Some(text) => {
            CREDENTIAL_WORDS.iter().any(|w| text.contains(w)) && !PAGING_WORDS.iter().any(|w| text.contains(w))
        }
    }
}

fn listed(list: &[String], wire: &str) -> bool {
    list.iter().any(|entry| entry.eq_ignore_ascii_case(wire))
}

/// Why the argument `wire` at `place` is a credential, or `None` when the agent gives it.
pub(super) fn secret_argument(
    settings: &Settings,
    security: &Security,
    place: Place,
    wire: &str,
    description: Option<&str>,
) -> Option<Why> {
    if listed(&settings.auth.agent_params, wire) {
        return None;
    }
    if listed(&settings.auth.secret_params, wire) {
        return Some(Why::Listed);
    }
    let declared = &security.schemes[..security.spec_schemes];
    if let Some(scheme) = declared.iter().find(|s| place.matches(&s.kind, wire)) {
        return Some(Why::Scheme(scheme.name.clone()));
    }
    looks_like_a_credential(wire, place.wire_place(), description).then_some(Why::Looks)
}

/// The operations that take one credential argument, for the report.
#[derive(Debug)]
pub(super) struct SecretUse {
    place: Place,
    wire: String,
    why: Why,
    operations: Vec<String>,
}

impl Security {
    /// The scheme that sends the credential `wire` at `place`: the spec's own when one puts
    /// it there, else one made for it. Made schemes are named after the argument, so one
    /// `--credential token=FILE` serves `token` wherever the spec asks for it; a name
    /// a spec scheme of another kind holds gets the place added.
    pub(super) fn secret_scheme(&mut self, place: Place, wire: &str, why: Why, operation: &str) -> usize {
        let index = match self.schemes.iter().position(|s| place.matches(&s.kind, wire)) {
            Some(index) => index,
            None => {
                let spec_holds = |name: &str| self.schemes[..self.spec_schemes].iter().any(|s| s.name == name);
                let name = if spec_holds(wire) {
                    format!("{wire}-{}", place.noun().replace(' ', "-"))
                } else {
                    wire.to_owned()
                };
                self.schemes.push(SchemeIr {
                    name,
                    kind: place.kind(wire),
                });
                self.schemes.len() - 1
            }
        };
        match self
            .secret_uses
            .iter_mut()
            .find(|u| u.place == place && place.matches(&place.kind(&u.wire), wire))
        {
            Some(known) => known.operations.push(operation.to_owned()),
            None => self.secret_uses.push(SecretUse {
                place,
                wire: wire.to_owned(),
                why,
                operations: vec![operation.to_owned()],
            }),
        }
        index
    }

    /// One note per credential argument kept out: where, why, and the settings that matter.
    pub(super) fn report_secret_arguments(&self, diagnostics: &mut Diagnostics) {
        for used in &self.secret_uses {
            let Some(scheme) = self.schemes.iter().find(|s| used.place.matches(&s.kind, &used.wire)) else {
                continue;
            };
            let count = used.operations.len();
            let examples: Vec<&str> = used.operations.iter().take(3).map(String::as_str).collect();
            let more = if count > examples.len() {
                format!(" and {} more", count - examples.len())
            } else {
                String::new()
            };
            let why = match &used.why {
                Why::Listed => "as [auth] secret_params says".to_owned(),
                Why::Scheme(name) => format!("the one the security scheme `{name}` sends there"),
                Why::Looks => "by its name and description".to_owned(),
            };
            let operations = if count == 1 { "operation" } else { "operations" };
            let opt_out = match used.why {
                Why::Listed => format!("remove `{}` from [auth] secret_params", used.wire),
                _ => format!("agent_params = [\"{}\"] under [auth] in cast.toml", used.wire),
            };
            diagnostics.push(
                Diagnostic::note(
                    "C0206",
                    "",
                    format!(
                        "the {} `{}` of {count} {operations} ({}{more}) is a credential, {why}: it is not offered to the agent; the server sends the sealed credential of the scheme `{}`",
                        used.place.noun(),
                        used.wire,
                        examples.join(", "),
                        scheme.name,
                    ),
                )
                .hint(format!(
                    "seal it with `cast-codegen secret seal --header {} --out {}.sealed` and run the server with `--credential {}={}.sealed` (or [credentials] {} = \"…\" in cast.toml); if the agent should give it after all: {opt_out}",
                    scheme.kind.label(),
                    scheme.name,
                    scheme.name,
                    scheme.name,
                    toml_key(&scheme.name),
                )),
            );
        }
    }
}

fn toml_key(key: &str) -> String {
    if !key.is_empty() && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
        key.to_owned()
    } else {
        format!("{key:?}")
    }
}

/// The requirement alternatives once the credential of scheme `secret` is part of the
/// operation: preferably sent with each alternative, else alone, else (when it is not
/// configured) the alternatives as they were, so a server that was given only the spec's
/// own scheme still works where the upstream accepts that.
pub(super) fn with_secret(alternatives: Vec<Vec<usize>>, secret: usize) -> Vec<Vec<usize>> {
    let mut combined: Vec<Vec<usize>> = Vec::with_capacity(alternatives.len() * 2 + 1);
    let mut push = |alternative: Vec<usize>| {
        if !combined.contains(&alternative) {
            combined.push(alternative);
        }
    };
    for alternative in &alternatives {
        let mut with = alternative.clone();
        if !with.contains(&secret) {
            with.push(secret);
        }
        push(with);
    }
    push(vec![secret]);
    for alternative in alternatives {
        push(alternative);
    }
    combined
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_told_by_name_and_description() {
        let token = Some("Authentication token. Requires scope: `chat:write`");
        assert!(looks_like_a_credential("token", "query", token));
        assert!(looks_like_a_credential("token", "body", token));
        assert!(looks_like_a_credential("api_key", "query", None));
        assert!(looks_like_a_credential(
            "X-Registry-Auth",
            "header",
            Some("A base64-encoded auth configuration")
        ));
        assert!(looks_like_a_credential(
            "client_secret",
            "body",
            Some("The client secret of the application")
        ));
        assert!(looks_like_a_credential(
            "password",
            "query",
            Some("The password for login in clear text")
        ));
        // A page token; a name that is a credential only as a header; what a body sets.
        assert!(!looks_like_a_credential(
            "token",
            "query",
            Some("The token of the next page of results")
        ));
        assert!(!looks_like_a_credential("registry_auth", "query", None));
        assert!(!looks_like_a_credential("token", "query", Some("The name of the tag")));
        assert!(!looks_like_a_credential("client_id", "query", None));
        let sip = Some("The password that the username will use when authenticating SIP requests");
        assert!(!looks_like_a_credential("Password", "body", sip));
        assert!(!looks_like_a_credential(
            "secret",
            "body",
            Some("Used as the key of the HMAC digest")
        ));
    }

    #[test]
    fn a_secret_joins_every_alternative_then_stands_alone_then_steps_aside() {
        assert_eq!(with_secret(vec![], 3), [vec![3]]);
        assert_eq!(with_secret(vec![vec![0]], 3), [vec![0, 3], vec![3], vec![0]]);
        // Optional auth (`{}`): the credential when configured, else nothing.
        assert_eq!(with_secret(vec![vec![]], 3), [vec![3], vec![]]);
        assert_eq!(
            with_secret(vec![vec![0], vec![1, 2]], 3),
            [vec![0, 3], vec![1, 2, 3], vec![3], vec![0], vec![1, 2]]
        );
    }
}
