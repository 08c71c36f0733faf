//! The static description of a generated server (everything decided at generation time)
//! and the types its handlers are written against. The bottom of the runtime's layers:
//! request building (`call`), sending (`upstream`) and serving (`server`) point down to it.

use std::sync::Arc;

use rmcp::model::{CallToolResult, JsonObject};

use crate::{constraints::Constraints, error::tool_error};

/// One generated MCP server: its identity, upstream and tools.
#[derive(Debug)]
pub struct Api {
    /// Crate name of the generated server (`env!("CARGO_PKG_NAME")`); also the MCP server name.
    pub name: &'static str,
    /// Crate version (`env!("CARGO_PKG_VERSION")`).
    pub version: &'static str,
    /// Human title, from the spec's `info.title`.
    pub title: &'static str,
    /// Instructions shown to the client, from the spec's `info.description`.
    pub instructions: Option<&'static str>,
    /// Upstream base URL from the spec's `servers` (overridable at run time).
    pub base_url: &'static str,
    /// The security schemes tools use; credentials are configured per scheme.
    pub schemes: &'static [Scheme],
    /// Non-secret headers sent with every upstream request.
    pub static_headers: &'static [(&'static str, &'static str)],
    /// Default sealed credential file per scheme name (`[credentials]` in cast.toml).
    pub credential_files: &'static [(&'static str, &'static str)],
    /// Schemes sent on every request where configured (secret custom headers).
    pub always: &'static [usize],
    /// Which upstream redirects are followed (`follow_redirects` in cast.toml).
    pub redirects: Redirects,
    /// `[inbound.scopes]`: each scope and what it grants, tool names or the classes
    /// `read`, `write` (changes, not destructive) and `destructive`. Empty: an
    /// authenticated caller may call every tool.
    pub inbound_scopes: &'static [(&'static str, &'static [&'static str])],
    /// `[tools.timeouts]`: tools whose upstream calls get their own timeout, in seconds.
    pub tool_timeouts: &'static [(&'static str, u64)],
    /// The enabled tools, in spec order.
    pub tools: &'static [&'static ToolDef],
    /// Sub-schemas stored once, which tool schemas name by `{"\u0000cast": ID}`.
    pub fragments: &'static [&'static str],
    /// Whether tools are listed one by one or behind the catalog's three.
    pub mode: Mode,
    /// In [`Mode::Both`], the tools listed directly; the others are behind the catalog.
    pub direct: &'static [&'static str],
    /// The fingerprint of the crate's `tools.lock`, reported in the server info and on
    /// `tools/list` (`_meta` `io.cast/toolsLock`) so a client or gateway can pin it.
    pub tools_lock: &'static str,
}

/// How a server offers its tools.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mode {
    /// One MCP tool per operation.
    #[default]
    Tools,
    /// `search_operations`, `describe_operation` and `call_operation` in front of every
    /// operation: three schemas for an API of any size.
    Catalog,
    /// The tools [`Api::direct`] names one by one, the rest behind the catalog.
    Both,
}

impl Api {
    /// The defaults every generated `API` static ends with (`..Api::BASE`), so a field added
    /// to the runtime later does not break crates generated before it.
    pub const BASE: Api = Api {
        name: "",
        version: "",
        title: "",
        instructions: None,
        base_url: "",
        schemes: &[],
        static_headers: &[],
        credential_files: &[],
        always: &[],
        redirects: Redirects::None,
        inbound_scopes: &[],
        tool_timeouts: &[],
        tools: &[],
        fragments: &[],
        mode: Mode::Tools,
        direct: &[],
        tools_lock: "",
    };
}

/// Which upstream redirects a server follows. A redirect is the one way an upstream (or
/// anything on its path) could send the credential somewhere else, so the default is none.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Redirects {
    /// None: a `3xx` answer is a tool error naming the status and where it pointed.
    #[default]
    None,
    /// At most five hops, each only to the origin (scheme, host, port) of the upstream base
    /// URL; the credentials are applied again there and nowhere else.
    SameOrigin,
}

/// One way the upstream accepts a credential (an OpenAPI security scheme).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scheme {
    /// The scheme's name in the spec (`securitySchemes` key); credentials are configured by it.
    pub name: &'static str,
    /// Where the credential goes.
    pub kind: SchemeKind,
}

/// Where a credential goes on the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemeKind {
    /// As the value of a header, e.g. `X-Api-Key`.
    Header {
        /// The header name.
        name: &'static str,
    },
    /// As a query parameter, e.g. `?api_key=`.
    Query {
        /// The parameter name.
        name: &'static str,
    },
    /// As a cookie.
    Cookie {
        /// The cookie name.
        name: &'static str,
    },
    /// As a field of the request's object body (JSON, form or multipart), for APIs that
    /// take the credential among the operation's fields (`token=…` in Slack's forms).
    Field {
        /// The field name.
        name: &'static str,
    },
    /// `Authorization: Bearer <credential>`.
    Bearer,
    /// `Authorization: Basic <base64(credential)>`; the credential is `user:password`.
    Basic,
    /// OAuth 2.0 client credentials: the sealed credential is `client_id:client_secret`;
    /// the access token it buys is sent as a bearer token and renewed before it expires.
    OAuth2ClientCredentials {
        /// The token endpoint.
        token_url: &'static str,
        /// Scopes to ask for.
        scopes: &'static [&'static str],
        /// Extra token-request parameters, such as `audience` or `resource`.
        params: &'static [(&'static str, &'static str)],
    },
    /// OpenID Connect: an authorization-code sign-in whose endpoints come from the
    /// discovery document (`openIdConnectUrl`), fetched when first needed.
    OpenIdConnect {
        /// The discovery URL (`…/.well-known/openid-configuration`).
        discovery_url: &'static str,
        /// Scopes to ask for besides `openid`.
        scopes: &'static [&'static str],
    },
    /// OAuth 2.0 authorization code with PKCE, for a user's own account: `NAME login`
    /// signs in once and seals the refresh token; access tokens are refreshed from it.
    OAuth2AuthorizationCode {
        /// The authorization endpoint.
        authorize_url: &'static str,
        /// The token endpoint.
        token_url: &'static str,
        /// Scopes to ask for.
        scopes: &'static [&'static str],
    },
}

impl SchemeKind {
    /// The label a credential for this scheme is sealed under: where it is sent.
    pub fn label(&self) -> &'static str {
        match self {
            SchemeKind::Header { name }
            | SchemeKind::Query { name }
            | SchemeKind::Cookie { name }
            | SchemeKind::Field { name } => name,
            SchemeKind::Bearer | SchemeKind::Basic => "Authorization",
            SchemeKind::OAuth2ClientCredentials { .. } => "oauth2-client",
            SchemeKind::OAuth2AuthorizationCode { .. } | SchemeKind::OpenIdConnect { .. } => "oauth2-user",
        }
    }
}

/// An HTTP method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Method {
    Get,
    Put,
    Post,
    Delete,
    Patch,
    Head,
    Options,
    Trace,
}

impl Method {
    /// The method as sent on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::Post => "POST",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
            Method::Head => "HEAD",
            Method::Options => "OPTIONS",
            Method::Trace => "TRACE",
        }
    }
}

/// MCP tool annotations, decided from the HTTP method at generation time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Annotations {
    /// Does not modify its environment.
    pub read_only: bool,
    /// May destroy data.
    pub destructive: bool,
    /// Repeating the call has no further effect.
    pub idempotent: bool,
}

/// The usual combinations, by name, so generated tools say which they are in one word.
impl Annotations {
    /// Reads and changes nothing (`GET`, `HEAD`, `OPTIONS`).
    pub const READ_ONLY: Self = Self::new(true, false, true);
    /// Changes something; each call may change it again (`POST`, `PATCH`).
    pub const WRITE: Self = Self::new(false, false, false);
    /// Changes something; repeating the call changes nothing more (`PUT`).
    pub const IDEMPOTENT_WRITE: Self = Self::new(false, false, true);
    /// May destroy data; repeating the call destroys nothing more (`DELETE`).
    pub const DESTRUCTIVE: Self = Self::new(false, true, true);

    const fn new(read_only: bool, destructive: bool, idempotent: bool) -> Self {
        Self {
            read_only,
            destructive,
            idempotent,
        }
    }
}

/// One tool: one upstream operation.
#[derive(Debug)]
pub struct ToolDef {
    /// MCP tool name.
    pub name: &'static str,
    /// Short human title (the operation summary).
    pub title: Option<&'static str>,
    /// What the tool does, for the model.
    pub description: &'static str,
    /// Upstream HTTP method.
    pub method: Method,
    /// Path template as written in the spec, for logs (`/items/{id}`).
    pub path_template: &'static str,
    /// The template's literal pieces around its parameters: `n` parameters, `n + 1` pieces.
    /// Empty for a template without parameters, which is its own one piece.
    pub path_pieces: &'static [&'static str],
    /// The advertised input JSON Schema, as JSON text (parsed once at start).
    pub input_schema: &'static str,
    /// The advertised output schema (the success response's object schema), if any.
    pub output_schema: Option<&'static str>,
    /// This operation's own server (OpenAPI per-path or per-operation `servers`), if any.
    pub base_url: Option<&'static str>,
    /// Security requirements: alternatives (any one will do), each a set of indices into
    /// [`Api::schemes`] that apply together. Empty: the operation needs no credential.
    pub security: &'static [&'static [usize]],
    /// MCP annotations.
    pub annotations: Annotations,
    /// The typed handler: reads the arguments and builds the request the runtime sends.
    pub handle: Handler,
    /// What catalog search finds it by: `weight:term` pairs (`"3:list 3:pull 1:owner"`),
    /// made at generation time from its name, tags, summary and arguments.
    pub search_terms: &'static str,
    /// Whether the user must confirm each call before anything is sent (`[tools.confirm]`;
    /// by default every enabled destructive tool).
    pub confirm: bool,
}

impl ToolDef {
    /// The literal pieces of the path template, around its parameters.
    pub(crate) fn pieces(&self) -> &[&'static str] {
        if self.path_pieces.is_empty() {
            std::slice::from_ref(&self.path_template)
        } else {
            self.path_pieces
        }
    }

    /// The defaults every generated `TOOL` static ends with (`..ToolDef::BASE`), so a field
    /// added to the runtime later does not break crates generated before it.
    pub const BASE: ToolDef = ToolDef {
        name: "",
        title: None,
        description: "",
        method: Method::Get,
        path_template: "",
        path_pieces: &[],
        input_schema: r#"{"type":"object"}"#,
        output_schema: None,
        base_url: None,
        security: &[],
        annotations: Annotations::READ_ONLY,
        handle: |_| Err(Refusal::new("this tool has no handler")),
        search_terms: "",
        confirm: false,
    };
}

/// What a generated tool's handler is: plain code that reads the arguments and builds the
/// request. It is not async, so no tool compiles a future of its own; the server sends.
pub type Handler = fn(&mut Call) -> Result<Prepared, Refusal>;

/// One tool invocation, as its handler sees it: the client's arguments, checked against
/// the tool's input schema before the handler runs.
#[derive(Debug)]
pub struct Call {
    pub(crate) tool: &'static ToolDef,
    pub(crate) args: JsonObject,
    /// The inbound caller's label, for the log line (never its token).
    pub(crate) caller: Option<Arc<str>>,
    /// The tool's constraints, from its advertised input schema.
    pub(crate) constraints: Arc<Constraints>,
}

/// A request whose path, query, headers and body are final.
#[derive(Debug)]
pub struct Prepared {
    pub(crate) tool: &'static ToolDef,
    /// The inbound caller's label, when the transport authenticated one.
    pub(crate) caller: Option<Arc<str>>,
    pub(crate) path: String,
    pub(crate) query: String,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) cookies: Vec<String>,
    pub(crate) body: Option<Body>,
}

/// A prepared request body. An object body stays a map of fields until it is sent, so
/// the upstream layer can add a credential field the handler never sees.
#[derive(Debug)]
pub(crate) enum Body {
    /// Encoded, with its content type already among the headers.
    Encoded(Vec<u8>),
    /// Fields in the spec's order, encoded when sent.
    Fields(Fields),
}

/// An object body, field by field in the order the spec lists them.
#[derive(Debug)]
pub(crate) struct Fields {
    pub(crate) encoding: crate::body::Encoding,
    pub(crate) media: &'static str,
    pub(crate) values: serde_json::Map<String, serde_json::Value>,
}

/// Why a call was refused before anything was sent upstream: a message for the agent,
/// which becomes a tool error. Small, so handlers return it by value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(String);

impl Refusal {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

impl From<Refusal> for CallToolResult {
    fn from(refusal: Refusal) -> Self {
        tool_error(refusal.0)
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
