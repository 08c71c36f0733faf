//! Tool selection and naming settings, through the library API.

use cast_codegen::{Diagnostics, Generator, Settings, Source, ir::ApiIr};

fn analyze(settings: Settings) -> (ApiIr, Diagnostics) {
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/test-server/openapi.json");
    let bytes = std::fs::read(spec).expect("spec");
    Generator::new(settings)
        .analyze(&bytes, &Source::new(spec))
        .expect("parses")
}

fn enabled(api: &ApiIr) -> Vec<&str> {
    api.enabled_tools().map(|t| t.name.as_str()).collect()
}

fn settings(toml: &str) -> Settings {
    Settings::from_toml(toml, "cast.toml").expect("valid cast.toml")
}

#[test]
fn filters_by_tag_path_and_method() {
    let (api, diagnostics) = analyze(settings("[tools]\ninclude_tags = [\"users\"]\n"));
    assert!(diagnostics.is_empty(), "{diagnostics}");
    assert_eq!(enabled(&api), ["listUsers"]);
    let why = &api.tools.iter().find(|t| t.name == "listItems").expect("listItems").why;
    assert_eq!(why, "no tag in [tools] include_tags / --tag");

    let (api, _) = analyze(settings(
        "[tools]\ninclude_paths = [\"/api/items/*\"]\nmethods = [\"get\", \"PUT\"]\n",
    ));
    assert_eq!(enabled(&api), ["getItem", "updateItem"]);

    let (api, _) = analyze(settings(
        "[tools]\nexclude_paths = [\"/api/items\", \"/api/items/**\"]\n",
    ));
    assert_eq!(enabled(&api), ["getStatus", "listUsers"]);

    // Naming a tool beats the filters; destructive tools still need it.
    let (api, _) = analyze(settings(
        "[tools]\ninclude_tags = [\"users\"]\nenable = [\"deleteItem\"]\n",
    ));
    assert_eq!(enabled(&api), ["deleteItem", "listUsers"]);
}

#[test]
fn renames_and_name_length() {
    let (api, diagnostics) = analyze(settings(
        "[tools.rename]\nlistItems = \"items_list\"\ngetItem = \"items_get\"\n",
    ));
    assert!(diagnostics.is_empty(), "{diagnostics}");
    assert_eq!(
        enabled(&api),
        [
            "items_list",
            "createItem",
            "items_get",
            "updateItem",
            "getStatus",
            "listUsers"
        ]
    );
    // The operationId still selects a renamed tool.
    let (api, _) = analyze(settings(
        "[tools]\nonly = [\"getItem\"]\n[tools.rename]\ngetItem = \"items_get\"\n",
    ));
    assert_eq!(enabled(&api), ["items_get"]);

    let (_, diagnostics) = analyze(settings("[tools.rename]\ngetItem = \"items get!\"\nnoSuchOp = \"x\"\n"));
    let text = diagnostics.to_string();
    assert!(
        text.contains("error[C0202]: [tools.rename] gives `items get!`, which is not a valid tool name"),
        "{text}"
    );
    assert!(text.contains("error[C0201]: [tools.rename] names `noSuchOp`"), "{text}");

    let (api, _) = analyze(settings("[tools]\nmax_name_length = 16\n"));
    assert!(api.tools.iter().all(|t| t.name.len() <= 16));
}

#[test]
fn bad_globs_are_errors() {
    let (_, diagnostics) = analyze(settings("[tools]\ninclude_paths = [\"/api/[\"]\n"));
    assert!(
        diagnostics
            .to_string()
            .contains("error[C0203]: [tools] include_paths: `/api/[` is not a valid glob"),
        "{diagnostics}"
    );
}

#[test]
fn path_parameters_missing_from_the_template_are_left_out_everywhere() {
    let spec = br#"{"openapi":"3.0.3","info":{"title":"T","version":"1.0.0"},"servers":[{"url":"https://x"}],
      "paths":{"/items/{id}":{"get":{"operationId":"getItem","parameters":[
        {"name":"id","in":"path","required":true,"schema":{"type":"integer"}},
        {"name":"ghost","in":"path","required":true,"schema":{"type":"string"}}],
        "responses":{"200":{"description":"ok"}}}}}}"#;
    let (api, diagnostics) = Generator::default()
        .analyze(spec, &Source::new("t.json"))
        .expect("parses");
    let tool = &api.tools[0];
    assert_eq!(tool.input_schema["required"], serde_json::json!(["id"]));
    assert!(tool.input_schema["properties"].get("ghost").is_none());
    assert_eq!(tool.args.len(), 1);
    assert_eq!(tool.template.params().collect::<Vec<_>>(), [0]);
    assert_eq!(tool.template.pieces(), ["/items/", ""]);
    assert!(
        diagnostics
            .to_string()
            .contains("warning[C0107]: path parameter `ghost` is not in the path template"),
        "{diagnostics}"
    );
}

#[test]
fn a_path_without_a_leading_slash_is_an_error() {
    // Joined to the server URL, `{sub}/items` would let an argument extend the host name.
    let spec = serde_json::json!({
        "openapi": "3.0.3",
        "info": { "title": "Hosts", "version": "1.0.0" },
        "servers": [{ "url": "https://api.example.com" }],
        "paths": {
            "{sub}/items": { "get": {
                "operationId": "listSubItems",
                "parameters": [{ "name": "sub", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": { "200": { "description": "ok" } }
            } },
            "/fine": { "get": { "operationId": "fine", "responses": { "200": { "description": "ok" } } } }
        }
    });
    let (api, diagnostics) = Generator::new(Settings::default())
        .analyze(spec.to_string().as_bytes(), &Source::new("hosts.json"))
        .expect("parses");
    assert!(diagnostics.has_errors());
    assert_eq!(
        diagnostics.to_string(),
        "error[C0108]: the path `{sub}/items` does not start with `/`\n  --> #/paths/{sub}~1items\n  = hint: OpenAPI paths start with `/`: write `/{sub}/items`\n\n1 error"
    );
    assert_eq!(enabled(&api), ["fine"]);
}

#[test]
fn inbound_scopes_resolve_operation_ids_and_refuse_what_grants_nothing() {
    let (api, diagnostics) = analyze(settings(
        "[tools]\nenable = [\"deleteItem\"]\n[inbound.scopes]\nreaders = [\"read\", \"createItem\"]\nadmin = [\"destructive\", \"listItems\"]\n",
    ));
    assert!(diagnostics.is_empty(), "{diagnostics}");
    assert_eq!(
        api.inbound_scopes,
        [
            (
                "admin".to_owned(),
                vec!["destructive".to_owned(), "listItems".to_owned()]
            ),
            ("readers".to_owned(), vec!["read".to_owned(), "createItem".to_owned()]),
        ]
    );
    let (_, diagnostics) = analyze(settings(
        "[inbound.scopes]\nx = [\"deleteItem\", \"nosuch\"]\n\"two words\" = [\"read\"]\n",
    ));
    let shown = diagnostics.to_string();
    assert!(
        shown.contains("error[C0206]: [inbound.scopes] x: `deleteItem` is not an enabled tool"),
        "{shown}"
    );
    assert!(
        shown.contains("error[C0206]: [inbound.scopes] x: `nosuch` is neither a tool nor a class"),
        "{shown}"
    );
    assert!(
        shown.contains("error[C0206]: [inbound.scopes]: `two words` is not a scope name"),
        "{shown}"
    );
}

fn analyze_json(spec: serde_json::Value, toml: &str) -> (ApiIr, Diagnostics) {
    Generator::new(settings(toml))
        .analyze(spec.to_string().as_bytes(), &Source::new("spec.json"))
        .expect("parses")
}

fn small_spec() -> serde_json::Value {
    let ok = serde_json::json!({ "200": { "description": "ok" } });
    serde_json::json!({
        "openapi": "3.0.3",
        "info": { "title": "Small", "version": "1.0.0" },
        "servers": [{ "url": "https://api.example.com" }],
        "paths": {
            "/old": { "get": { "operationId": "listOld", "deprecated": true, "summary": "Old list", "responses": ok } },
            "/new": { "get": { "operationId": "listNew", "responses": ok } },
            "/runners/remove-token": { "post": { "operationId": "create-remove-token", "responses": ok } },
            "/chat.delete": { "post": { "operationId": "chat.delete", "responses": ok } },
            "/archive": { "post": { "operationId": "archiveAll", "x-destructive": true, "responses": ok } },
            "/items/{id}": { "delete": {
                "operationId": "deleteItem", "x-cast-destructive": false,
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } }],
                "responses": ok
            } }
        }
    })
}

#[test]
fn deprecated_operations_are_off_until_asked_for() {
    let (api, _) = analyze_json(small_spec(), "");
    let old = api.tools.iter().find(|t| t.name == "listOld").expect("listOld");
    assert!(!old.enabled);
    assert_eq!(
        old.why,
        "deprecated: off by default (include_deprecated = true in [tools], or --enable listOld)"
    );
    assert!(
        old.description
            .starts_with("Deprecated: the API may remove this operation.\n\nOld list")
    );
    assert!(enabled(&api).contains(&"listNew"));
    let (api, _) = analyze_json(small_spec(), "[tools]\ninclude_deprecated = true\n");
    assert!(enabled(&api).contains(&"listOld"));
    let (api, _) = analyze_json(small_spec(), "[tools]\nenable = [\"listOld\"]\n");
    assert!(enabled(&api).contains(&"listOld"));
}

#[test]
fn destructive_comes_from_the_method_the_verb_and_the_spec_own_word() {
    let (api, _) = analyze_json(small_spec(), "");
    let destructive = |name: &str| {
        api.tools
            .iter()
            .find(|t| t.operation_id.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("{name}"))
            .annotations
            .destructive
    };
    assert!(!destructive("create-remove-token"), "a POST that creates a token");
    assert!(destructive("chat.delete"), "an RPC method named for deletion");
    assert!(destructive("archiveAll"), "x-destructive: true");
    assert!(
        !destructive("deleteItem"),
        "x-cast-destructive: false overrides the method"
    );
}

#[test]
fn body_media_settings_choose_among_what_the_operation_takes() {
    let spec = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/wire/wire-3.0.json");
    let bytes = std::fs::read(spec).expect("spec");
    let analyze = |toml: &str| {
        Generator::new(settings(toml))
            .analyze(&bytes, &Source::new(spec))
            .expect("parses")
    };
    let media = |api: &ApiIr, name: &str| {
        api.tools
            .iter()
            .find(|t| t.name == name)
            .and_then(|t| t.body.as_ref())
            .map(|b| b.media.clone())
    };
    let (api, _) = analyze("");
    assert_eq!(
        media(&api, "patch_doc").as_deref(),
        Some("application/merge-patch+json")
    );
    assert_eq!(media(&api, "patch_ops").as_deref(), Some("application/json-patch+json"));
    assert_eq!(media(&api, "get_empty_form"), None);
    let (api, diagnostics) = analyze("[tools.body_media]\npatch_doc = \"application/json-patch+json\"\n");
    assert!(!diagnostics.has_errors(), "{diagnostics}");
    assert_eq!(media(&api, "patch_doc").as_deref(), Some("application/json-patch+json"));
    let (_, diagnostics) = analyze("[tools.body_media]\npatch_doc = \"text/plain\"\n");
    let error = diagnostics.iter().find(|d| d.code == "C0208").expect("C0208");
    assert!(error.message.contains("asks for `text/plain`"), "{}", error.message);
    assert!(
        error
            .hint
            .as_deref()
            .is_some_and(|h| h.contains("`application/merge-patch+json`")),
        "{error:?}"
    );
}

#[test]
fn the_cast_toml_in_the_readme_is_valid() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).expect("README");
    let start = readme.find("```toml\n").expect("a cast.toml example") + "```toml\n".len();
    let end = start + readme[start..].find("```").expect("its end");
    let parsed = Settings::from_toml(&readme[start..end], "README.md").expect("README's cast.toml parses");
    assert!(parsed.tools.body_media.contains_key("updateItem"));
    assert!(!parsed.tools.include_deprecated);
}
