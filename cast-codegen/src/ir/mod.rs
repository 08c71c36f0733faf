//! The intermediate representation: what the emitter needs, free of OpenAPI types.
//! It can be built by hand, so emitter tests need no spec.

pub mod hoist;
pub mod lower;
pub mod naming;
pub mod schema;
pub mod text;
pub mod types;
pub mod validity;

use serde_json::Value;

/// A whole generated server.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiIr {
    /// Cargo package and binary name.
    pub crate_name: String,
    /// Cargo package version.
    pub version: String,
    /// `info.title`.
    pub title: String,
    /// `info.description`.
    pub description: Option<String>,
    /// The server's `instructions`: `instructions` from cast.toml, or a map of the API
    /// made from its description, tags and tools.
    pub instructions: Option<String>,
    /// Upstream base URL (may be empty or relative: then it must be given at run time).
    pub base_url: String,
    /// The security schemes tools use (those Cast can apply).
    pub schemes: Vec<SchemeIr>,
    /// Schemes sent on every request where configured (secret custom headers).
    pub always: Vec<usize>,
    /// Non-secret headers for every request.
    pub static_headers: Vec<(String, String)>,
    /// Default sealed credential file per scheme name, from `[credentials]`.
    pub credential_files: Vec<(String, String)>,
    /// Whether same-origin upstream redirects are followed (`follow_redirects`).
    pub follow_same_origin_redirects: bool,
    /// `[inbound.scopes]`: each scope and the tool names or classes it grants.
    pub inbound_scopes: Vec<(String, Vec<String>)>,
    /// `[tools.timeouts]`: tool name and upstream timeout in seconds.
    pub tool_timeouts: Vec<(String, u64)>,
    /// Every operation, enabled or not, in spec order.
    pub tools: Vec<ToolIr>,
    /// How the tools are offered.
    pub mode: crate::settings::ToolMode,
    /// In `both` mode, the tools listed one by one.
    pub direct: Vec<String>,
    /// The named argument types tools refer to, each component once.
    pub types: Vec<types::TypeDef>,
}

impl ApiIr {
    /// The tools that will be generated.
    pub fn enabled_tools(&self) -> impl Iterator<Item = &ToolIr> {
        self.tools.iter().filter(|t| t.enabled)
    }

    /// How many argument fields of the enabled tools are typed.
    pub fn census(&self) -> types::Census {
        types::census(&self.types, self.enabled_tools().flat_map(ToolIr::argument_types))
    }
}

/// A security scheme: its name in the spec and where its credential goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemeIr {
    /// The `securitySchemes` key (or `default` for `[auth]` from cast.toml).
    pub name: String,
    /// Where the credential goes.
    pub kind: SchemeKind,
}

/// Where a credential goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SchemeKind {
    /// As this header's value.
    Header(String),
    /// As this query parameter.
    Query(String),
    /// As this cookie.
    Cookie(String),
    /// As this field of the object body.
    Field(String),
    /// `Authorization: Bearer`.
    Bearer,
    /// `Authorization: Basic` (credential `user:password`).
    Basic,
    /// OAuth 2.0 client credentials (credential `client_id:client_secret`).
    OAuth2ClientCredentials {
        /// Token endpoint.
        token_url: String,
        /// Scopes to request: every scope the spec's requirements name for this scheme.
        scopes: Vec<String>,
        /// Extra token-request parameters (`audience`, `resource`).
        params: Vec<(String, String)>,
    },
    /// OpenID Connect: authorization code with endpoints from the discovery document.
    OpenIdConnect {
        /// `openIdConnectUrl`.
        discovery_url: String,
        /// Scopes to request besides `openid`.
        scopes: Vec<String>,
    },
    /// OAuth 2.0 authorization code with PKCE (`login` seals the refresh token).
    OAuth2AuthorizationCode {
        /// Authorization endpoint.
        authorize_url: String,
        /// Token endpoint.
        token_url: String,
        /// Scopes to request.
        scopes: Vec<String>,
    },
}

impl SchemeKind {
    /// The label a credential is sealed under (`cast-codegen secret seal --header LABEL`).
    pub fn label(&self) -> &str {
        match self {
            Self::Header(name) | Self::Query(name) | Self::Cookie(name) | Self::Field(name) => name,
            Self::Bearer | Self::Basic => "Authorization",
            Self::OAuth2ClientCredentials { .. } => "oauth2-client",
            Self::OAuth2AuthorizationCode { .. } | Self::OpenIdConnect { .. } => "oauth2-user",
        }
    }

    /// A short human description.
    pub fn describe(&self) -> String {
        match self {
            Self::Header(name) => format!("API key in the `{name}` header"),
            Self::Query(name) => format!("API key in the `{name}` query parameter"),
            Self::Cookie(name) => format!("API key in the `{name}` cookie"),
            Self::Field(name) => format!("credential in the `{name}` field of the request body"),
            Self::Bearer => "`Authorization: Bearer` token".to_owned(),
            Self::Basic => "HTTP basic (`user:password`)".to_owned(),
            Self::OAuth2ClientCredentials { .. } => {
                "OAuth 2.0 client credentials (`client_id:client_secret`)".to_owned()
            }
            Self::OAuth2AuthorizationCode { .. } => "OAuth 2.0 sign-in (run `login` once)".to_owned(),
            Self::OpenIdConnect { .. } => "OpenID Connect sign-in (run `login` once)".to_owned(),
        }
    }
}

/// HTTP methods OpenAPI knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum HttpMethod {
    Get,
    Put,
    Post,
    Delete,
    Options,
    Head,
    Patch,
    Trace,
}

impl HttpMethod {
    /// From a path-item key.
    pub fn from_key(key: &str) -> Option<Self> {
        Some(match key {
            "get" => Self::Get,
            "put" => Self::Put,
            "post" => Self::Post,
            "delete" => Self::Delete,
            "options" => Self::Options,
            "head" => Self::Head,
            "patch" => Self::Patch,
            "trace" => Self::Trace,
            _ => return None,
        })
    }

    /// Upper case, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Put => "PUT",
            Self::Post => "POST",
            Self::Delete => "DELETE",
            Self::Options => "OPTIONS",
            Self::Head => "HEAD",
            Self::Patch => "PATCH",
            Self::Trace => "TRACE",
        }
    }

    /// Safe methods change nothing on the server.
    pub fn is_safe(self) -> bool {
        matches!(self, Self::Get | Self::Head | Self::Options | Self::Trace)
    }
}

/// MCP annotations of a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Annotations {
    /// `readOnlyHint`.
    pub read_only: bool,
    /// `destructiveHint`.
    pub destructive: bool,
    /// `idempotentHint`.
    pub idempotent: bool,
}

/// One operation.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolIr {
    /// MCP tool name.
    pub name: String,
    /// The name Cast made before any `[tools.rename]`.
    pub generated_name: String,
    /// The spec's operationId, if any.
    pub operation_id: Option<String>,
    /// The operation's tags.
    pub tags: Vec<String>,
    /// Rust module (and file) name.
    pub module: String,
    /// HTTP method.
    pub method: HttpMethod,
    /// Path template as in the spec.
    pub path: String,
    /// The same template, parsed: literal text and parameters in order.
    pub template: PathTemplate,
    /// `summary`.
    pub title: Option<String>,
    /// What the model reads.
    pub description: String,
    /// Every argument, in the order the input schema lists them: parameters, then the body.
    pub args: Vec<ArgIr>,
    /// How the request body is sent, if the operation has one.
    pub body: Option<BodyIr>,
    /// The advertised input schema, rendered from `args` by [`input_schema`]; for a tool
    /// that is not enabled, only `{"type": "object"}` (its schemas are never assembled).
    pub input_schema: Value,
    /// The advertised output schema (success response, objects only; none when disabled).
    pub output_schema: Option<Value>,
    /// The operation's own server, when it has one.
    pub base_url: Option<String>,
    /// Security requirements: alternatives of sets of indices into [`ApiIr::schemes`]; empty means none.
    pub security: Vec<Vec<usize>>,
    /// MCP annotations.
    pub annotations: Annotations,
    /// `deprecated: true` in the spec: off unless asked for.
    pub deprecated: bool,
    /// Whether it becomes a tool.
    pub enabled: bool,
    /// Why it is on or off, for `cast-codegen tools`.
    pub why: String,
    /// Whether each call waits for the user's yes (`[tools.confirm]`).
    pub confirm: bool,
}

impl ToolIr {
    /// What applies of `read-only`, `destructive`, `idempotent` and `confirm` (each call
    /// waits for the user's yes), in that order: as `tools.lock` and the README say them.
    pub fn traits(&self) -> Vec<&'static str> {
        let a = self.annotations;
        [
            (a.read_only, "read-only"),
            (a.destructive, "destructive"),
            (a.idempotent, "idempotent"),
            (self.confirm, "confirm"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect()
    }

    /// The type of each top-level argument.
    pub fn argument_types(&self) -> impl Iterator<Item = &RustType> {
        self.args.iter().map(|arg| &arg.ty)
    }
}

/// The input schema of a tool, from its arguments: the only place it is made, so the
/// schema a client sees and the arguments the handler reads cannot disagree.
pub fn input_schema(args: &[ArgIr]) -> Value {
    let properties: serde_json::Map<String, Value> = args
        .iter()
        .map(|arg| (arg.name.arg.clone(), arg.schema.clone()))
        .collect();
    let required: Vec<Value> = args
        .iter()
        .filter(|arg| arg.required)
        .map(|arg| Value::String(arg.name.arg.clone()))
        .collect();
    let mut schema = serde_json::json!({ "type": "object", "properties": properties });
    if !required.is_empty() {
        schema["required"] = Value::Array(required);
    }
    schema["additionalProperties"] = Value::Bool(false);
    schema
}

/// A path template, parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathTemplate(pub Vec<Segment>);

/// One part of a path template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// Text sent as written.
    Literal(String),
    /// A path parameter: an index into [`ToolIr::args`].
    Param(usize),
}

impl PathTemplate {
    /// The literal text around each parameter: `n + 1` pieces for `n` parameters, empty
    /// where two parameters or an end meet (the runtime's `path_pieces`).
    pub fn pieces(&self) -> Vec<String> {
        let mut pieces = vec![String::new()];
        for segment in &self.0 {
            match segment {
                Segment::Literal(text) => pieces.last_mut().expect("never empty").push_str(text),
                Segment::Param(_) => pieces.push(String::new()),
            }
        }
        pieces
    }

    /// The parameters, in template order.
    pub fn params(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().filter_map(|s| match s {
            Segment::Param(index) => Some(*index),
            Segment::Literal(_) => None,
        })
    }
}

/// Where a parameter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Location {
    Path,
    Query,
    Header,
    Cookie,
}

/// An OpenAPI parameter style (`Json` for `content: application/json` parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Style {
    Simple,
    Label,
    Matrix,
    Form,
    SpaceDelimited,
    PipeDelimited,
    DeepObject,
    /// `deepObject` with numbered array items (`a[0]=x`).
    DeepObjectIndexed,
    Json,
}

/// How a parameter is serialized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Styled {
    /// `style`.
    pub style: Style,
    /// `explode`.
    pub explode: bool,
    /// `allowReserved`.
    pub allow_reserved: bool,
}

impl Styled {
    /// The OpenAPI default for a location.
    pub fn default_for(location: Location) -> Self {
        match location {
            Location::Path | Location::Header => Self {
                style: Style::Simple,
                explode: false,
                allow_reserved: false,
            },
            Location::Query | Location::Cookie => Self {
                style: Style::Form,
                explode: true,
                allow_reserved: false,
            },
        }
    }
}

/// A named type of the generated crate: an index into [`ApiIr::types`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TypeId(pub usize);

/// A Rust type for an argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RustType {
    /// `String`.
    String,
    /// `i32` (`format: int32`).
    I32,
    /// `i64`.
    I64,
    /// `u32` (`int32` with `minimum >= 0`).
    U32,
    /// `u64` (`minimum >= 0`).
    U64,
    /// `serde_json::Number`: any JSON number, sent on exactly as given.
    Number,
    /// `bool`.
    Bool,
    /// `Vec<T>`.
    Vec(Box<RustType>),
    /// A map from property names to `T`, in the order given.
    Map(Box<RustType>),
    /// A value that may be an explicit `null`.
    Nullable(Box<RustType>),
    /// `Box<T>`: a reference back into a type that contains this one.
    Boxed(Box<RustType>),
    /// A type of [`ApiIr::types`].
    Named(TypeId),
    /// `serde_json::Value` where the schema allows any JSON.
    Any,
    /// `serde_json::Value` for a shape Cast cannot type (a `C0401` note says where).
    Json,
}

/// An argument: its Rust field and its name in the input schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArgName {
    /// Rust field identifier (may be raw: `r#type`).
    pub ident: String,
    /// Property name in the tool's input schema.
    pub arg: String,
}

/// One argument of a tool: what the model passes and where it goes on the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct ArgIr {
    /// The argument.
    pub name: ArgName,
    /// Its name on the wire (parameter name or body property).
    pub wire: String,
    /// Where it goes.
    pub target: Target,
    /// Whether it must be given.
    pub required: bool,
    /// Its Rust type, made from `schema`.
    pub ty: RustType,
    /// Its advertised schema, as converted (components still named by id).
    pub schema: Value,
}

/// Where an argument goes on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A path, query, header or cookie parameter.
    Param {
        /// Where.
        location: Location,
        /// How it is serialized.
        styled: Styled,
    },
    /// A property of an object body.
    Field {
        /// File contents (`format: binary`), sent as a file part in multipart bodies.
        binary: bool,
    },
    /// The whole body.
    Body,
}

/// How a body is encoded on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyKind {
    /// JSON.
    Json,
    /// `application/x-www-form-urlencoded`.
    Form,
    /// `multipart/form-data`.
    Multipart,
    /// `text/*`.
    Text,
    /// Raw bytes, given as base64.
    Binary,
}

/// A request body: how it is sent. Its arguments are in [`ToolIr::args`].
#[derive(Debug, Clone, PartialEq)]
pub struct BodyIr {
    /// The media type sent (`application/json`, `multipart/form-data`, …).
    pub media: String,
    /// How it is encoded.
    pub kind: BodyKind,
    /// Form fields the operation's `encoding` object styles, by wire name.
    pub encodings: Vec<(String, Styled)>,
    /// Whether the body is an object of the [`Target::Field`] arguments (sent even when
    /// none is given), rather than one [`Target::Body`] argument.
    pub of_fields: bool,
}
