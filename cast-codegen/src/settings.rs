//! Settings: one schema shared by `cast.toml`, the command line and build.rs.

use std::{collections::BTreeMap, path::PathBuf};

use serde::{Deserialize, Serialize};

/// How the generated server authenticates to the upstream API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthScheme {
    /// The credential as the value of a header (`[auth] header`, default `X-Api-Key`).
    ApiKey,
    /// `Authorization: Bearer <credential>`.
    Bearer,
    /// HTTP basic: the credential is `user:password`.
    Basic,
    /// No credential.
    None,
}

/// Where an API key goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyLocation {
    /// A header (the default).
    Header,
    /// A query parameter.
    Query,
    /// A cookie.
    Cookie,
}

/// Which upstream redirects the generated server follows (`follow_redirects`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FollowRedirects {
    /// None (the default): a `3xx` answer is a tool error naming the status and the target.
    #[default]
    None,
    /// At most five, each only to the upstream's own origin; credentials go nowhere else.
    SameOrigin,
}

/// `[inbound]`: what callers of the HTTP transport may do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct InboundSettings {
    /// Each scope of an inbound token and what it grants: tool names (or operationIds),
    /// or the classes `read` (read-only tools), `write` (tools that change data but are
    /// not destructive) and `destructive`. Empty: any authenticated caller may call
    /// every tool. With entries, a caller sees and calls only what its scopes grant.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub scopes: BTreeMap<String, Vec<String>>,
}

/// `[auth]`: overrides what the spec's `securitySchemes` say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AuthSettings {
    /// The scheme; taken from the spec when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<AuthScheme>,
    /// The header name for `api_key` (same as `name` with `location = "header"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// Where an `api_key` goes (default: header).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<KeyLocation>,
    /// The header, query parameter or cookie name for `api_key`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Custom headers whose values are secrets, sent on every request: each is a scheme of
    /// its own name, given a sealed file like any other (`--credential NAME=FILE`, `[credentials]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secret_headers: Vec<String>,
    /// Parameters and body fields whose values are credentials, by their name on the wire
    /// (`token`, `X-Tenant-Key`): kept out of the tools' arguments, so the agent never holds
    /// them, and filled from the sealed credential of a scheme of that name
    /// (`--credential NAME=FILE`, `[credentials]`). Cast finds the usual ones itself
    /// (`token`, `api_key`, `client_secret`, `password`, `X-…-Auth` headers, and those a
    /// security scheme names); list others here.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub secret_params: Vec<String>,
    /// Parameters and body fields that look like credentials but that the agent fills in
    /// after all, by their name on the wire (say, the `password` of an account a tool creates).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub agent_params: Vec<String>,
    /// Extra parameters of OAuth 2.0 client-credentials token requests, such as
    /// `audience` or `resource` (RFC 8707).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub token_params: BTreeMap<String, String>,
}

/// `[tools]`: which operations become tools.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ToolSettings {
    /// How tools are offered: one by one (`tools`, the default), behind the three tools
    /// of a searchable catalog (`catalog`), or `direct` ones one by one and the rest
    /// behind the catalog (`both`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<ToolMode>,
    /// Without `mode`, the catalog is used when more tools than this are served.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub catalog_above: Option<usize>,
    /// In `both` mode, the tools listed one by one (by name or operationId).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub direct: Vec<String>,
    /// Enable these (by tool name or operationId), destructive ones included.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub enable: Vec<String>,
    /// Disable these.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub disable: Vec<String>,
    /// When not empty, only these are enabled.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<String>,
    /// Enable every operation, destructive and deprecated ones included.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub enable_all: bool,
    /// Serve operations the spec marks `deprecated` (off by default: APIs are leaving
    /// them, and they crowd the tools an agent is shown).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub include_deprecated: bool,
    /// Only operations with one of these tags (empty: any).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub include_tags: Vec<String>,
    /// Leave out operations with any of these tags.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude_tags: Vec<String>,
    /// Only operations whose path matches one of these globs (`/repos/**`; empty: any).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub include_paths: Vec<String>,
    /// Leave out operations whose path matches any of these globs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exclude_paths: Vec<String>,
    /// Only these HTTP methods (empty: any).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub methods: Vec<String>,
    /// The longest tool name a client's model may see, its prefix included (default 64;
    /// Cursor needs 60).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_name_length: Option<usize>,
    /// What clients put before tool names (default `mcp__<crate name>__`, Claude Code's);
    /// generated names are kept short enough for both to fit `max_name_length`. `""` when
    /// the clients in use add none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_prefix: Option<String>,
    /// Tool names to use instead of the generated ones, keyed by operationId or generated name.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub rename: BTreeMap<String, String>,
    /// Upstream timeouts in seconds for tools that need another than the server's
    /// `--timeout-secs` (a slow report, a fast health check), by tool name or operationId.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub timeouts: BTreeMap<String, u64>,
    /// The request body's media type for operations that offer several (by tool name or
    /// operationId), when Cast's choice is not the one wanted: say
    /// `application/json-patch+json` for a PATCH whose spec lists merge-patch first.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub body_media: BTreeMap<String, String>,
    /// Which tools wait for the user's yes before each call sends anything.
    #[serde(skip_serializing_if = "is_default")]
    pub confirm: ConfirmSettings,
}

/// `[tools.confirm]`: the calls the server asks the user about (through the client's
/// elicitation) before it sends them; decline, cancel, no answer, or a client that
/// cannot ask all refuse the call.
///
/// ```toml
/// [tools.confirm]
/// when = "destructive"      # the default; or "writes", or "never"
/// always = ["createRefund"] # by tool name or operationId
/// never = ["deleteDraft"]
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct ConfirmSettings {
    /// Which enabled tools need confirmation unless named below (default: destructive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<ConfirmWhen>,
    /// These need it whatever `when` says.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub always: Vec<String>,
    /// These never do, whatever `when` says: the operator takes the agent's word for them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub never: Vec<String>,
}

/// Which tools `[tools.confirm]` covers by default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConfirmWhen {
    /// Tools that may destroy data.
    #[default]
    Destructive,
    /// Every tool that is not read-only.
    Writes,
    /// None but those in `always`.
    Never,
}

/// Everything that shapes a generated crate besides the spec.
///
/// ```
/// let settings = cast_codegen::Settings::default().with_name("items-mcp").with_enabled("deleteItem");
/// assert_eq!(settings.tools.enable, ["deleteItem"]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct Settings {
    /// Crate and binary name; derived from the spec title when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Upstream base URL; the spec's first server when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_url: Option<String>,
    /// Which upstream redirects are followed (`none` or `same-origin`; default none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_redirects: Option<FollowRedirects>,
    /// Upstream authentication.
    #[serde(skip_serializing_if = "is_default")]
    pub auth: AuthSettings,
    /// Non-secret headers sent with every upstream request.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Sealed credential file of each security scheme, by scheme name: the server's default
    /// (`--key-file` / `--credential` override it).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub credentials: BTreeMap<String, String>,
    /// Tool selection.
    #[serde(skip_serializing_if = "is_default")]
    pub tools: ToolSettings,
    /// Inbound callers' scopes.
    #[serde(skip_serializing_if = "is_default")]
    pub inbound: InboundSettings,
    /// Advertise each tool's success-response schema as its `outputSchema` (default on).
    /// Turn off for APIs whose responses stray from their spec: clients validate against it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_schemas: Option<bool>,
    /// An output schema longer than this (compact JSON bytes) is not advertised: the tool
    /// still returns structured content, and `tools/list` stays affordable. Default
    /// [`Settings::DEFAULT_MAX_OUTPUT_SCHEMA_BYTES`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_output_schema_bytes: Option<usize>,
    /// An input schema longer than this (compact JSON bytes) gives up the titles and then
    /// the descriptions of its nested schemas, never a constraint. Default
    /// [`Settings::DEFAULT_MAX_INPUT_SCHEMA_BYTES`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_input_schema_bytes: Option<usize>,
    /// How `deepObject` query parameters and form fields send array items: `brackets`
    /// (`ids[]=a&ids[]=b`, the common convention and the default) or `indexed` (`ids[0]=a`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deep_object_arrays: Option<DeepObjectArrays>,
    /// The server's `instructions`, which clients that defer tool schemas show the model
    /// with the tool names alone; generated from the spec's description, tags and tools
    /// when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// What the server may cost an agent.
    #[serde(skip_serializing_if = "is_default")]
    pub budget: BudgetSettings,
    /// Leaner schemas: words left out, never a constraint.
    #[serde(skip_serializing_if = "is_default")]
    pub schemas: SchemaSettings,
    /// Depend on `cast-runtime` at this path (relative to the generated crate) instead of
    /// the released version. Not part of `cast.toml`: it depends on where the crate is written.
    #[serde(skip)]
    pub runtime_path: Option<PathBuf>,
}

/// `[schemas]`: what schemas may leave out to cost an agent less (`corpus-report` shows
/// the saving). Together with `output_schemas = false`, the "lean" settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct SchemaSettings {
    /// Keep the spec's `examples` (default true).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub examples: Option<bool>,
    /// Schema descriptions longer than this keep their first sentence, cut at a word to
    /// this many characters at most (default: whole).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_description_chars: Option<usize>,
}

/// How a server offers its tools.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolMode {
    /// One MCP tool per operation.
    #[default]
    Tools,
    /// `search_operations`, `describe_operation` and `call_operation` in front of all.
    Catalog,
    /// The `direct` tools one by one, the rest behind the catalog.
    Both,
}

/// `[budget]`: limits that make generation fail, so CI can hold the line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct BudgetSettings {
    /// Estimated tokens of the whole `tools/list` (C0113 over it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<usize>,
    /// Tools served (C0113 over it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tools: Option<usize>,
    /// Bytes of generated `instructions` (default [`BudgetSettings::DEFAULT_INSTRUCTIONS_BYTES`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_instructions_bytes: Option<usize>,
}

impl BudgetSettings {
    /// Room for a paragraph about the API and a line per area of it.
    pub const DEFAULT_INSTRUCTIONS_BYTES: usize = 2048;
}

/// How `deepObject` sends array items.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeepObjectArrays {
    /// `ids[]=a&ids[]=b`.
    Brackets,
    /// `ids[0]=a&ids[1]=b`.
    Indexed,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

impl Settings {
    /// The output schema budget when `max_output_schema_bytes` is not set: room for a rich
    /// object (GitHub's repository is 20 kB), not for a whole API's object graph.
    pub const DEFAULT_MAX_OUTPUT_SCHEMA_BYTES: usize = 64 * 1024;

    /// The input schema budget when `max_input_schema_bytes` is not set.
    pub const DEFAULT_MAX_INPUT_SCHEMA_BYTES: usize = 64 * 1024;

    /// Reads `cast.toml` text. `origin` names the file in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| format!("{origin}: {e}"))
    }

    /// The settings as `cast.toml` text.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// Sets the crate name.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the upstream base URL.
    pub fn with_base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = Some(url.into());
        self
    }

    /// Enables a tool by name or operationId.
    pub fn with_enabled(mut self, name: impl Into<String>) -> Self {
        self.tools.enable.push(name.into());
        self
    }

    /// Disables a tool by name or operationId.
    pub fn with_disabled(mut self, name: impl Into<String>) -> Self {
        self.tools.disable.push(name.into());
        self
    }

    /// Enables every operation, destructive ones included.
    pub fn with_all_enabled(mut self) -> Self {
        self.tools.enable_all = true;
        self
    }

    /// Sets the authentication scheme (and header name for `api_key`).
    pub fn with_auth(mut self, scheme: AuthScheme, header: Option<String>) -> Self {
        self.auth = AuthSettings {
            scheme: Some(scheme),
            header,
            ..AuthSettings::default()
        };
        self
    }

    /// Depends on `cast-runtime` by path.
    pub fn with_runtime_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.runtime_path = Some(path.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_round_trip_and_unknown_keys() {
        let text = "name = \"x-mcp\"\n\n[auth]\nscheme = \"api_key\"\nheader = \"X-Key\"\n\n[tools]\nenable = [\"deleteItem\"]\n";
        let settings = Settings::from_toml(text, "cast.toml").expect("parse");
        assert_eq!(settings.auth.scheme, Some(AuthScheme::ApiKey));
        assert_eq!(settings.to_toml(), text);
        let err = Settings::from_toml("[tools]\nenabel = []\n", "cast.toml").expect_err("typo");
        assert!(err.starts_with("cast.toml: TOML parse error"), "{err}");
        assert!(err.contains("unknown field `enabel`"), "{err}");
        let text = "follow_redirects = \"same-origin\"\n";
        let settings = Settings::from_toml(text, "cast.toml").expect("parse");
        assert_eq!(settings.follow_redirects, Some(FollowRedirects::SameOrigin));
        assert_eq!(settings.to_toml(), text);
        let err = Settings::from_toml("follow_redirects = \"always\"\n", "cast.toml").expect_err("bad");
        assert!(err.contains("unknown variant `always`"), "{err}");
    }
}
