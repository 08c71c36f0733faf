//! Credentials a spec asks for as parameters or body fields are kept out of the tools'
//! arguments and sent from sealed credentials (issue: "secrets stay out of arguments").

use cast_codegen::{
    Diagnostics, Generator, Settings, Source,
    ir::{ApiIr, SchemeKind, ToolIr},
};
use serde_json::{Value, json};

fn analyze(spec: Value, toml: &str) -> (ApiIr, Diagnostics) {
    let settings = Settings::from_toml(toml, "cast.toml").expect("valid cast.toml");
    Generator::new(settings)
        .analyze(spec.to_string().as_bytes(), &Source::new("spec.json"))
        .expect("parses")
}

fn tool<'a>(api: &'a ApiIr, name: &str) -> &'a ToolIr {
    api.tools
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no tool `{name}`"))
}

fn arguments(tool: &ToolIr) -> Vec<&str> {
    tool.args.iter().map(|a| a.name.arg.as_str()).collect()
}

fn advertised(tool: &ToolIr) -> Vec<String> {
    tool.input_schema["properties"]
        .as_object()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

fn scheme(api: &ApiIr, kind: SchemeKind) -> usize {
    api.schemes
        .iter()
        .position(|s| s.kind == kind)
        .unwrap_or_else(|| panic!("no scheme {kind:?} in {:?}", api.schemes))
}

/// Slack's shape: an OAuth scheme, and the same token again as a query parameter, a
/// header and a form field on most operations.
fn chat_spec() -> Value {
    let token = |place: &str| json!({ "name": "token", "in": place, "description": "Authentication token. Requires scope: `chat:read`", "schema": { "type": "string" } });
    let ok = json!({ "200": { "description": "ok" } });
    json!({
        "openapi": "3.0.3",
        "info": { "title": "Chat", "version": "1.0.0" },
        "servers": [{ "url": "https://chat.example.com/api" }],
        "components": { "securitySchemes": {
            "chatAuth": { "type": "oauth2", "flows": { "authorizationCode": {
                "authorizationUrl": "https://chat.example.com/oauth/authorize",
                "tokenUrl": "https://chat.example.com/oauth/token",
                "scopes": { "chat:read": "read" }
            } } },
            "key": { "type": "apiKey", "in": "query", "name": "api_key" }
        } },
        "security": [{ "chatAuth": ["chat:read"] }],
        "paths": {
            "/chat.list": { "get": {
                "operationId": "chatList",
                "parameters": [
                    { "name": "token", "in": "query", "required": true, "description": "Authentication token. Requires scope: `chat:read`", "schema": { "type": "string" } },
                    { "name": "cursor", "in": "query", "schema": { "type": "string" } }
                ],
                "responses": ok
            } },
            "/chat.info": { "get": { "operationId": "chatInfo", "parameters": [token("header")], "responses": ok } },
            "/chat.post": { "post": {
                "operationId": "chatPost",
                "requestBody": { "required": true, "content": { "application/x-www-form-urlencoded": { "schema": {
                    "type": "object", "required": ["token", "channel"],
                    "properties": {
                        "token": { "type": "string", "description": "Authentication token. Requires scope: `chat:write`" },
                        "channel": { "type": "string" },
                        "text": { "type": "string" }
                    }
                } } } },
                "responses": ok
            } },
            "/pages": { "get": {
                "operationId": "pages",
                "parameters": [{ "name": "token", "in": "query", "description": "The token of the next page of results", "schema": { "type": "string" } }],
                "responses": ok
            } },
            "/keyed": { "get": {
                "operationId": "keyed",
                "security": [{ "key": [] }],
                "parameters": [{ "name": "api_key", "in": "query", "description": "Your key", "schema": { "type": "string" } }],
                "responses": ok
            } },
            "/registry": { "post": {
                "operationId": "registry",
                "security": [],
                "parameters": [
                    { "name": "X-Registry-Auth", "in": "header", "description": "Base64-encoded auth configuration", "schema": { "type": "string" } },
                    { "name": "X-Tenant", "in": "header", "schema": { "type": "string" } }
                ],
                "responses": ok
            } }
        }
    })
}

#[test]
fn credential_arguments_are_not_offered_and_are_sent_from_sealed_credentials() {
    let (api, diagnostics) = analyze(chat_spec(), "");
    assert!(!diagnostics.has_errors(), "{diagnostics}");
    assert_eq!(arguments(tool(&api, "chatList")), ["cursor"]);
    assert_eq!(advertised(tool(&api, "chatList")), ["cursor"]);
    assert!(arguments(tool(&api, "chatInfo")).is_empty());
    assert_eq!(arguments(tool(&api, "chatPost")), ["channel", "text"]);
    assert_eq!(tool(&api, "chatPost").input_schema["required"], json!(["channel"]));
    assert!(arguments(tool(&api, "registry")).contains(&"X-Tenant"));
    assert!(!arguments(tool(&api, "registry")).contains(&"X-Registry-Auth"));
    // A page token is no credential.
    assert_eq!(arguments(tool(&api, "pages")), ["token"]);

    // One name for the token wherever the spec puts it, so one sealed file serves all.
    let oauth = api.schemes.iter().position(|s| s.name == "chatAuth").expect("chatAuth");
    let query = scheme(&api, SchemeKind::Query("token".into()));
    let header = scheme(&api, SchemeKind::Header("token".into()));
    let field = scheme(&api, SchemeKind::Field("token".into()));
    for index in [query, header, field] {
        assert_eq!(api.schemes[index].name, "token");
    }
    // Sent with the OAuth token when both are configured, alone, or not at all.
    assert_eq!(
        tool(&api, "chatList").security,
        [vec![oauth, query], vec![query], vec![oauth]]
    );
    assert_eq!(
        tool(&api, "chatPost").security,
        [vec![oauth, field], vec![field], vec![oauth]]
    );
    let registry = scheme(&api, SchemeKind::Header("X-Registry-Auth".into()));
    assert_eq!(tool(&api, "registry").security, [vec![registry]]);
    // The spec's own scheme for the same parameter: the parameter goes, the scheme stays.
    let key = api.schemes.iter().position(|s| s.name == "key").expect("key");
    assert_eq!(arguments(tool(&api, "keyed")), Vec::<&str>::new());
    assert_eq!(tool(&api, "keyed").security, [vec![key]]);
    assert!(!api.schemes.iter().any(|s| s.name == "api_key"), "{:?}", api.schemes);

    // `check` names each one, where it is, and the exact settings.
    let notes: Vec<String> = diagnostics
        .iter()
        .filter(|d| d.code == "C0206")
        .map(|d| format!("{} | {}", d.message, d.hint.as_deref().unwrap_or("")))
        .collect();
    assert_eq!(notes.len(), 5, "{notes:#?}");
    let query_note = notes
        .iter()
        .find(|n| n.starts_with("the query parameter `token`"))
        .expect("the query token is reported");
    for needle in [
        "of 1 operation (chatList) is a credential, by its name and description",
        "`cast-codegen secret seal --header token --out token.sealed`",
        "`--credential token=token.sealed`",
        "[credentials] token = \"…\"",
        "agent_params = [\"token\"] under [auth]",
    ] {
        assert!(query_note.contains(needle), "{needle} in {query_note}");
    }
    assert!(
        notes.iter().any(|n| n.starts_with("the query parameter `api_key`")
            && n.contains("the one the security scheme `key` sends there")),
        "{notes:#?}"
    );
}

#[test]
fn settings_opt_arguments_in_and_out() {
    let (api, diagnostics) = analyze(
        chat_spec(),
        "[auth]\nagent_params = [\"token\"]\nsecret_params = [\"x-tenant\"]\n",
    );
    assert_eq!(arguments(tool(&api, "chatList")), ["token", "cursor"]);
    assert_eq!(arguments(tool(&api, "chatPost")), ["token", "channel", "text"]);
    assert!(!api.schemes.iter().any(|s| s.name == "token"), "{:?}", api.schemes);
    assert!(!arguments(tool(&api, "registry")).contains(&"X-Tenant"));
    let listed = diagnostics
        .iter()
        .find(|d| d.code == "C0206" && d.message.contains("`X-Tenant`"))
        .expect("the listed header is reported");
    assert!(
        listed.message.contains("as [auth] secret_params says"),
        "{}",
        listed.message
    );
    assert!(
        listed
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("remove `X-Tenant` from [auth] secret_params")),
        "{listed:?}"
    );
}

#[test]
fn a_made_scheme_never_takes_the_name_of_a_spec_scheme_of_another_kind() {
    let mut spec = chat_spec();
    spec["components"]["securitySchemes"]["token"] = json!({ "type": "http", "scheme": "bearer" });
    spec["security"] = json!([{ "token": [] }]);
    let (api, _) = analyze(spec, "");
    let query = scheme(&api, SchemeKind::Query("token".into()));
    assert_eq!(api.schemes[query].name, "token-query-parameter");
    let bearer = api
        .schemes
        .iter()
        .position(|s| s.kind == SchemeKind::Bearer)
        .expect("bearer");
    assert_eq!(api.schemes[bearer].name, "token");
}
