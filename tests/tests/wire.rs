//! Wire conformance: every case is a tool generated from `tests/wire/wire-3.0.json`,
//! called through a real MCP client; the test server's `/echo` returns the request
//! exactly as received, and each case asserts the bytes.

use std::{net::SocketAddr, sync::OnceLock};

use cast_codegen::Settings;
use cast_e2e::{
    Launch, build, call, connect_discover_as, connect_initialize_as, generate, http_client, text, workspace_root,
};
use cast_test_server::{Mode, generate_key, start};
use rmcp::model::{ReadResourceRequestParams, ResourceContents};
use serde_json::{Value, json};

fn binary() -> &'static std::path::PathBuf {
    static BINARY: OnceLock<std::path::PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let spec = workspace_root().join("tests/wire/wire-3.0.json");
        let out = workspace_root().join("target/wire/wire-mcp");
        let mut settings = Settings::default().with_name("wire-mcp").with_all_enabled();
        // These cases are about bytes on the wire; no user is there to confirm the deletes.
        settings.tools.confirm.when = Some(cast_codegen::ConfirmWhen::Never);
        let generated = generate(spec.to_str().expect("UTF-8"), settings, &out).expect("generate");
        assert!(generated.diagnostics.is_empty(), "{}", generated.diagnostics);
        build(&out, "wire-mcp").expect("build")
    })
}

/// What the upstream must have received.
#[derive(Default)]
struct Sent {
    method: &'static str,
    path: &'static str,
    query: Option<&'static str>,
    headers: &'static [(&'static str, &'static str)],
    /// Headers that must not be sent.
    absent: &'static [&'static str],
    body: Option<&'static str>,
}

enum Expect {
    Wire(Sent),
    /// A tool error containing this text, and no request upstream.
    ToolError(&'static str),
}

fn get(path: &'static str) -> Sent {
    Sent {
        method: "GET",
        path,
        ..Sent::default()
    }
}

fn cases() -> Vec<(&'static str, Value, Expect)> {
    use Expect::*;
    let rgb = json!({ "R": 100, "G": 200, "B": 150 });
    let colors = json!(["blue", "black", "brown"]);
    let q = |query: &'static str, path: &'static str| Sent {
        query: Some(query),
        ..get(path)
    };
    let h = |headers: &'static [(&'static str, &'static str)], path: &'static str| Sent { headers, ..get(path) };
    vec![
        // Path styles: the OpenAPI Style Examples for `color`.
        (
            "path_simple_str",
            json!({ "color": "blue" }),
            Wire(get("/echo/p/simple/str/blue")),
        ),
        (
            "path_simple_arr",
            json!({ "color": colors }),
            Wire(get("/echo/p/simple/arr/blue,black,brown")),
        ),
        (
            "path_simple_obj",
            json!({ "color": rgb }),
            Wire(get("/echo/p/simple/obj/R,100,G,200,B,150")),
        ),
        (
            "path_simple_x_str",
            json!({ "color": "blue" }),
            Wire(get("/echo/p/simplex/str/blue")),
        ),
        (
            "path_simple_x_arr",
            json!({ "color": colors }),
            Wire(get("/echo/p/simplex/arr/blue,black,brown")),
        ),
        (
            "path_simple_x_obj",
            json!({ "color": rgb }),
            Wire(get("/echo/p/simplex/obj/R=100,G=200,B=150")),
        ),
        (
            "path_label_str",
            json!({ "color": "blue" }),
            Wire(get("/echo/p/label/str/.blue")),
        ),
        (
            "path_label_arr",
            json!({ "color": colors }),
            Wire(get("/echo/p/label/arr/.blue,black,brown")),
        ),
        (
            "path_label_obj",
            json!({ "color": rgb }),
            Wire(get("/echo/p/label/obj/.R,100,G,200,B,150")),
        ),
        (
            "path_label_x_str",
            json!({ "color": "blue" }),
            Wire(get("/echo/p/labelx/str/.blue")),
        ),
        (
            "path_label_x_arr",
            json!({ "color": colors }),
            Wire(get("/echo/p/labelx/arr/.blue.black.brown")),
        ),
        (
            "path_label_x_obj",
            json!({ "color": rgb }),
            Wire(get("/echo/p/labelx/obj/.R=100.G=200.B=150")),
        ),
        (
            "path_matrix_str",
            json!({ "color": "blue" }),
            Wire(get("/echo/p/matrix/str/;color=blue")),
        ),
        (
            "path_matrix_arr",
            json!({ "color": colors }),
            Wire(get("/echo/p/matrix/arr/;color=blue,black,brown")),
        ),
        (
            "path_matrix_obj",
            json!({ "color": rgb }),
            Wire(get("/echo/p/matrix/obj/;color=R,100,G,200,B,150")),
        ),
        (
            "path_matrix_x_str",
            json!({ "color": "blue" }),
            Wire(get("/echo/p/matrixx/str/;color=blue")),
        ),
        (
            "path_matrix_x_arr",
            json!({ "color": colors }),
            Wire(get("/echo/p/matrixx/arr/;color=blue;color=black;color=brown")),
        ),
        (
            "path_matrix_x_obj",
            json!({ "color": rgb }),
            Wire(get("/echo/p/matrixx/obj/;R=100;G=200;B=150")),
        ),
        ("path_int", json!({ "n": 42 }), Wire(get("/echo/p/int/42"))),
        (
            "path_two",
            json!({ "a": "x y", "b": "z" }),
            Wire(get("/echo/p/two/x%20y/and/z.json")),
        ),
        // Hostile path values stay inside their segment.
        (
            "path_simple_str",
            json!({ "color": "../admin" }),
            Wire(get("/echo/p/simple/str/..%2Fadmin")),
        ),
        (
            "path_simple_str",
            json!({ "color": "a/b?c#d" }),
            Wire(get("/echo/p/simple/str/a%2Fb%3Fc%23d")),
        ),
        (
            "path_simple_str",
            json!({ "color": "naïve café" }),
            Wire(get("/echo/p/simple/str/na%C3%AFve%20caf%C3%A9")),
        ),
        (
            "path_simple_str",
            json!({ "color": ".." }),
            ToolError("may not be `.` or `..`"),
        ),
        // Already-encoded-looking and invalid-UTF-8-looking text is data: its `%` is encoded, never decoded.
        (
            "path_simple_str",
            json!({ "color": "%2e%2e%2fadmin" }),
            Wire(get("/echo/p/simple/str/%252e%252e%252fadmin")),
        ),
        (
            "path_simple_str",
            json!({ "color": "%C0%AE\u{FFFD}" }),
            Wire(get("/echo/p/simple/str/%25C0%25AE%EF%BF%BD")),
        ),
        (
            "query_plain",
            json!({ "u": "%00%ff" }),
            Wire(q("u=%2500%25ff", "/echo/q/plain")),
        ),
        (
            "path_simple_str",
            json!({ "color": "" }),
            ToolError("path parameter `color` may not be empty"),
        ),
        (
            "path_label_str",
            json!({ "color": "." }),
            ToolError("may not be `.` or `..`"),
        ),
        // Every value kind that renders empty, and dots that only styling makes a dot segment.
        (
            "path_simple_arr",
            json!({ "color": [] }),
            ToolError("path parameter `color` may not be empty"),
        ),
        (
            "path_simple_arr",
            json!({ "color": [""] }),
            ToolError("path parameter `color` may not be empty"),
        ),
        (
            "path_simple_obj",
            json!({ "color": {} }),
            ToolError("path parameter `color` may not be empty"),
        ),
        (
            "path_label_arr",
            json!({ "color": ["."] }),
            ToolError("may not be `.` or `..`"),
        ),
        // A template with its own dot segment-like literal keeps the guard for its values.
        (
            "path_well_known",
            json!({ "name": "openid-configuration" }),
            Wire(get("/echo/.well-known/openid-configuration/info")),
        ),
        (
            "path_well_known",
            json!({ "name": ".." }),
            ToolError("path parameter `name` may not be `.` or `..`"),
        ),
        (
            "path_well_known",
            json!({ "name": "." }),
            ToolError("path parameter `name` may not be `.` or `..`"),
        ),
        // Query styles.
        (
            "query_form_x_str",
            json!({ "color": "blue" }),
            Wire(q("color=blue", "/echo/q/formx/str")),
        ),
        (
            "query_form_x_arr",
            json!({ "color": colors }),
            Wire(q("color=blue&color=black&color=brown", "/echo/q/formx/arr")),
        ),
        (
            "query_form_x_obj",
            json!({ "color": rgb }),
            Wire(q("R=100&G=200&B=150", "/echo/q/formx/obj")),
        ),
        (
            "query_form_str",
            json!({ "color": "blue" }),
            Wire(q("color=blue", "/echo/q/form/str")),
        ),
        (
            "query_form_arr",
            json!({ "color": colors }),
            Wire(q("color=blue,black,brown", "/echo/q/form/arr")),
        ),
        (
            "query_form_obj",
            json!({ "color": rgb }),
            Wire(q("color=R,100,G,200,B,150", "/echo/q/form/obj")),
        ),
        (
            "query_form_x_str",
            json!({ "color": "" }),
            Wire(q("color=", "/echo/q/formx/str")),
        ),
        (
            "query_spaceDelimited_arr",
            json!({ "color": colors }),
            Wire(q("color=blue%20black%20brown", "/echo/q/spaceDelimited/arr")),
        ),
        (
            "query_spaceDelimited_obj",
            json!({ "color": rgb }),
            Wire(q("color=R%20100%20G%20200%20B%20150", "/echo/q/spaceDelimited/obj")),
        ),
        (
            "query_pipeDelimited_arr",
            json!({ "color": colors }),
            Wire(q("color=blue|black|brown", "/echo/q/pipeDelimited/arr")),
        ),
        (
            "query_pipeDelimited_obj",
            json!({ "color": rgb }),
            Wire(q("color=R|100|G|200|B|150", "/echo/q/pipeDelimited/obj")),
        ),
        // deepObject to any depth: arrays as `[]`, nested objects in brackets, each segment encoded.
        (
            "query_deep_nested",
            json!({ "filter": { "tags": ["a", "b c"], "range": { "min": 1, "a]b": "x" } } }),
            Wire(q(
                "filter[tags][]=a&filter[tags][]=b%20c&filter[range][min]=1&filter[range][a%5Db]=x",
                "/echo/q/deep-nested",
            )),
        ),
        (
            "query_deep_array",
            json!({ "expand": ["customer", "invoice.lines"] }),
            Wire(q("expand[]=customer&expand[]=invoice.lines", "/echo/q/deep-array")),
        ),
        // PATCH: the media type whose shape the body has, whatever order the spec lists them in.
        (
            "patch_doc",
            json!({ "name": "n" }),
            Wire(Sent {
                method: "PATCH",
                path: "/echo/patch/doc",
                headers: &[("content-type", "application/merge-patch+json")],
                body: Some(r#"{"name":"n"}"#),
                ..Sent::default()
            }),
        ),
        (
            "patch_ops",
            json!({ "body": [{ "op": "replace", "path": "/name", "value": "m" }] }),
            Wire(Sent {
                method: "PATCH",
                path: "/echo/patch/ops",
                headers: &[("content-type", "application/json-patch+json")],
                body: Some(r#"[{"op":"replace","path":"/name","value":"m"}]"#),
                ..Sent::default()
            }),
        ),
        // A GET that declares an empty form body sends none and takes no `body` argument.
        (
            "get_empty_form",
            json!({}),
            Wire(Sent {
                absent: &["content-type"],
                body: Some(""),
                ..get("/echo/empty-form")
            }),
        ),
        (
            "get_empty_form",
            json!({ "body": {} }),
            ToolError("invalid argument for `get_empty_form`: `body`: no such argument; it takes no arguments"),
        ),
        (
            "query_deep_object",
            json!({ "color": rgb }),
            Wire(q("color[R]=100&color[G]=200&color[B]=150", "/echo/q/deep")),
        ),
        (
            "query_reserved",
            json!({ "u": "a/b?c:d@e" }),
            Wire(q("u=a/b?c:d@e", "/echo/q/reserved")),
        ),
        (
            "query_plain",
            json!({ "u": "a/b?c&d=e f", "flag": true, "n": 5 }),
            Wire(q("u=a%2Fb%3Fc%26d%3De%20f&flag=true&n=5", "/echo/q/plain")),
        ),
        ("query_plain", json!({}), Wire(get("/echo/q/plain"))),
        (
            "query_json_content",
            json!({ "filter": { "a": 1, "b": [true] } }),
            Wire(q("filter=%7B%22a%22%3A1%2C%22b%22%3A%5Btrue%5D%7D", "/echo/q/json")),
        ),
        (
            "override_param",
            json!({ "id": "7", "mode": 3 }),
            Wire(q("mode=3", "/echo/override/7")),
        ),
        (
            "override_param",
            json!({ "id": "7", "mode": "path-level" }),
            ToolError("invalid argument for `override_param`: `mode`: \"path-level\" is not of type \"integer\""),
        ),
        // Headers.
        (
            "header_str",
            json!({ "X-Color": "blue" }),
            Wire(h(&[("x-color", "blue")], "/echo/h/str")),
        ),
        (
            "header_arr",
            json!({ "X-Color": colors }),
            Wire(h(&[("x-color", "blue,black,brown")], "/echo/h/arr")),
        ),
        (
            "header_obj",
            json!({ "X-Color": rgb }),
            Wire(h(&[("x-color", "R,100,G,200,B,150")], "/echo/h/obj")),
        ),
        (
            "header_obj_x",
            json!({ "X-Color": rgb }),
            Wire(h(&[("x-color", "R=100,G=200,B=150")], "/echo/h/objx")),
        ),
        (
            "header_int",
            json!({ "X-Count": 3 }),
            Wire(h(&[("x-count", "3")], "/echo/h/int")),
        ),
        (
            "header_str",
            json!({ "X-Color": "a\r\nX-Injected: yes" }),
            ToolError("may not contain CR, LF or NUL"),
        ),
        // Cookies: one header for all of them.
        (
            "cookie_one",
            json!({ "session": "abc" }),
            Wire(h(&[("cookie", "session=abc")], "/echo/c/one")),
        ),
        (
            "cookie_two",
            json!({ "a": "x", "b": 2 }),
            Wire(h(&[("cookie", "a=x; b=2")], "/echo/c/two")),
        ),
        (
            "cookie_arr",
            json!({ "color": colors }),
            Wire(h(&[("cookie", "color=blue,black,brown")], "/echo/c/arr")),
        ),
        (
            "cookie_arr_x",
            json!({ "color": colors }),
            Wire(h(&[("cookie", "color=blue; color=black; color=brown")], "/echo/c/arrx")),
        ),
        (
            "cookie_one",
            json!({ "session": "x; admin=1" }),
            Wire(h(&[("cookie", "session=x%3B%20admin%3D1")], "/echo/c/one")),
        ),
        // Bodies.
        (
            "body_json_object",
            json!({ "name": "lamp", "count": 2, "tags": ["a"], "meta": { "k": [1] } }),
            Wire(Sent {
                method: "POST",
                path: "/echo/b/json",
                headers: &[("content-type", "application/json")],
                body: Some(r#"{"name":"lamp","count":2,"tags":["a"],"meta":{"k":[1]}}"#),
                ..Sent::default()
            }),
        ),
        (
            "body_json_object",
            json!({ "name": "lamp", "id": 5 }),
            ToolError(
                "invalid argument for `body_json_object`: `id`: no such argument; expected one of `count`, `meta`, `name`, `tags`",
            ),
        ),
        (
            "body_json_object",
            json!({ "count": 2 }),
            ToolError("invalid argument for `body_json_object`: `name`: required, but not given"),
        ),
        (
            "body_json_object",
            json!({ "name": 7 }),
            ToolError("invalid argument for `body_json_object`: `name`: 7 is not of type \"string\""),
        ),
        (
            "body_json_array",
            json!({ "body": [1, 2, 3] }),
            Wire(Sent {
                method: "POST",
                path: "/echo/b/json-array",
                body: Some("[1,2,3]"),
                ..Sent::default()
            }),
        ),
        (
            "body_json_scalar",
            json!({ "body": "hi" }),
            Wire(Sent {
                method: "POST",
                path: "/echo/b/json-scalar",
                body: Some("\"hi\""),
                ..Sent::default()
            }),
        ),
        (
            "body_json_optional",
            json!({}),
            Wire(Sent {
                method: "POST",
                path: "/echo/b/json-optional",
                body: Some(""),
                ..Sent::default()
            }),
        ),
        (
            "body_merge_patch",
            json!({ "name": "x" }),
            Wire(Sent {
                method: "PATCH",
                path: "/echo/b/merge-patch",
                headers: &[("content-type", "application/merge-patch+json")],
                body: Some(r#"{"name":"x"}"#),
                ..Sent::default()
            }),
        ),
        (
            "body_form",
            json!({ "To": "+1 555", "Body": "hi & bye", "Tags": ["a", "b"] }),
            Wire(Sent {
                method: "POST",
                path: "/echo/b/form",
                headers: &[("content-type", "application/x-www-form-urlencoded")],
                body: Some("To=%2B1+555&Body=hi+%26+bye&Tags=a&Tags=b"),
                ..Sent::default()
            }),
        ),
        // The `encoding` object: deepObject nesting, JSON text, and a delimited array.
        (
            "body_form_encoded",
            json!({ "tags": ["x", "y"], "meta": { "a": 1 }, "card": { "exp": { "year": 2030, "month": 12 }, "number": "4242" }, "name": "Ann" }),
            Wire(Sent {
                method: "POST",
                path: "/echo/b/form-deep",
                headers: &[("content-type", "application/x-www-form-urlencoded")],
                body: Some(
                    "name=Ann&card%5Bnumber%5D=4242&card%5Bexp%5D%5Bmonth%5D=12&card%5Bexp%5D%5Byear%5D=2030&meta=%7B%22a%22%3A1%7D&tags=x%7Cy",
                ),
                ..Sent::default()
            }),
        ),
        (
            "body_text",
            json!({ "body": "plain text\nline 2" }),
            Wire(Sent {
                method: "POST",
                path: "/echo/b/text",
                headers: &[("content-type", "text/plain")],
                body: Some("plain text\nline 2"),
                ..Sent::default()
            }),
        ),
        (
            "body_binary",
            json!({ "body": "%%%" }),
            ToolError("must be base64 or a data: URI"),
        ),
        (
            "body_prefers_json",
            json!({ "v": "x" }),
            Wire(Sent {
                method: "POST",
                path: "/echo/b/prefer",
                headers: &[("content-type", "application/json")],
                body: Some(r#"{"v":"x"}"#),
                ..Sent::default()
            }),
        ),
        (
            "body_collides_with_path",
            json!({ "id": 7, "body_id": "inner", "name": "n" }),
            Wire(Sent {
                method: "PUT",
                path: "/echo/b/collide/7",
                body: Some(r#"{"id":"inner","name":"n"}"#),
                ..Sent::default()
            }),
        ),
        (
            "delete_with_body",
            json!({ "id": "x" }),
            Wire(Sent {
                method: "DELETE",
                path: "/echo/b/delete/x",
                ..Sent::default()
            }),
        ),
        // Typed nested bodies: components as structs, undeclared properties kept where the
        // spec allows them, explicit `null` where it is nullable.
        (
            "body_typed",
            json!({ "order": { "items": [{ "status": "sold", "sku": "ABC-1", "qty": 2, "wrap": "red" }] }, "note": null }),
            Wire(Sent {
                method: "POST",
                path: "/echo/b/typed",
                headers: &[("content-type", "application/json")],
                body: Some(r#"{"order":{"items":[{"sku":"ABC-1","status":"sold","qty":2,"wrap":"red"}]},"note":null}"#),
                ..Sent::default()
            }),
        ),
        (
            "body_typed",
            json!({ "order": { "items": [] }, "priority": 2 }),
            Wire(Sent {
                method: "POST",
                path: "/echo/b/typed",
                headers: &[("content-type", "application/json")],
                body: Some(r#"{"order":{"items":[]},"priority":2}"#),
                ..Sent::default()
            }),
        ),
        (
            "body_typed",
            json!({ "order": { "items": [{ "sku": "ABC-1", "status": "sold" }, { "sku": "ABC-2", "status": "avail" }] } }),
            ToolError(
                "invalid argument for `body_typed`: `order.items[1].status`: \"avail\" is not one of \"available\", \"sold\" or \"archived\"",
            ),
        ),
        (
            "body_typed",
            json!({ "order": { "items": [], "rush": true } }),
            ToolError("invalid argument for `body_typed`: `order.rush`: no such property"),
        ),
        (
            "body_typed",
            json!({ "order": { "items": [{ "sku": "ABC-1", "status": "sold", "qty": "2" }] } }),
            ToolError("invalid argument for `body_typed`: `order.items[0].qty`: \"2\" is not of type \"integer\""),
        ),
        // The spec's constraints, all reported at once, each at its path.
        (
            "body_typed",
            json!({ "order": { "items": [{ "sku": "abc", "status": "sold", "qty": 0 }] }, "priority": 5 }),
            ToolError(
                "invalid arguments for `body_typed`:\n- `order.items[0].sku`: \"abc\" does not match \"^[A-Z]{3}-[0-9]+$\"\n- `order.items[0].qty`: 0 is less than the minimum of 1\n- `priority`: 5 is not one of 1, 2 or 3",
            ),
        ),
        (
            "path_int",
            json!({ "n": "forty-two" }),
            ToolError("invalid argument for `path_int`: `n`: \"forty-two\" is not of type \"integer\""),
        ),
        (
            "path_int",
            json!({}),
            ToolError("invalid argument for `path_int`: `n`: required, but not given"),
        ),
    ]
}

#[tokio::test]
async fn every_case_sends_exactly_the_expected_bytes() {
    let binary = binary();
    let server = start(SocketAddr::from(([127, 0, 0, 1], 0)), Mode::None, generate_key())
        .await
        .expect("echo server");
    let launch = Launch {
        binary: binary.clone(),
        env: vec![("CAST_BASE_URL".into(), server.base_url().into())],
    };
    let log = Default::default();
    let client = launch.stdio(&log).await.expect("connect");
    let cases = cases();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let mut failures = Vec::new();
    for (index, (tool, args, expect)) in cases.into_iter().enumerate() {
        let before = server.seen().len();
        let result = call(&client, tool, args.clone())
            .await
            .expect("a tool result, never a protocol error");
        let label = format!("#{index} {tool}({args})");
        match expect {
            Expect::ToolError(needle) => {
                if result.is_error != Some(true) || !text(&result).contains(needle) {
                    failures.push(format!(
                        "{label}: expected a tool error with {needle:?}, got {}",
                        text(&result)
                    ));
                }
                if server.seen().len() != before {
                    failures.push(format!("{label}: a request went upstream"));
                }
            }
            Expect::Wire(wire) => {
                let Some(echo) = result
                    .structured_content
                    .clone()
                    .filter(|_| result.is_error == Some(false))
                else {
                    failures.push(format!("{label}: {}", text(&result)));
                    continue;
                };
                let mut check = |what: &str, got: &Value, want: Value| {
                    if *got != want {
                        failures.push(format!("{label}: {what} was {got}, expected {want}"));
                    }
                };
                check("method", &echo["method"], json!(wire.method));
                check("path", &echo["path"], json!(wire.path));
                check("query", &echo["query"], json!(wire.query));
                for (name, value) in wire.headers {
                    check(name, &echo["headers"][name], json!(value));
                }
                for name in wire.absent {
                    check(name, &echo["headers"][name], Value::Null);
                }
                if let Some(body) = wire.body {
                    check("body", &echo["body"], json!(body));
                }
            }
        }
    }
    client.cancel().await.expect("close");
    assert!(
        failures.is_empty(),
        "{} wire failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn multipart_and_binary_bodies_carry_the_file_bytes() {
    use base64::Engine as _;
    let binary = binary();
    let server = start(SocketAddr::from(([127, 0, 0, 1], 0)), Mode::None, generate_key())
        .await
        .expect("echo server");
    let launch = Launch {
        binary: binary.clone(),
        env: vec![("CAST_BASE_URL".into(), server.base_url().into())],
    };
    let client = launch.stdio(&Default::default()).await.expect("connect");

    let result = call(&client, "body_binary", json!({ "body": "AAEC/w==" }))
        .await
        .expect("call");
    let echo = result.structured_content.expect("echo");
    assert_eq!(echo["body_base64"], "AAEC/w==");
    assert_eq!(echo["headers"]["content-type"], "application/octet-stream");

    let file = base64::engine::general_purpose::STANDARD.encode(b"hello\r\n--not-a-boundary");
    let args = json!({ "file": format!("data:text/plain;name=notes.txt;base64,{file}"), "note": "n\"1" });
    let result = call(&client, "body_multipart", args).await.expect("call");
    let echo = result.structured_content.expect("echo");
    let content_type = echo["headers"]["content-type"].as_str().expect("content type");
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .expect("multipart");
    let body = echo["body"].as_str().expect("text body");
    assert_eq!(
        body,
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"notes.txt\"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--not-a-boundary\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nn\"1\r\n--{boundary}--\r\n"
        )
    );
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn every_response_kind_maps_to_its_mcp_content() {
    use base64::Engine as _;
    let binary = binary();
    let server = start(SocketAddr::from(([127, 0, 0, 1], 0)), Mode::None, generate_key())
        .await
        .expect("upstream");
    let launch = Launch {
        binary: binary.clone(),
        env: vec![
            ("CAST_BASE_URL".into(), server.base_url().into()),
            ("CAST_MAX_RESPONSE_BYTES".into(), "1048576".into()),
        ],
    };
    let client = launch.stdio(&Default::default()).await.expect("connect");
    let tools = client.list_all_tools().await.expect("tools");
    let schema_of = |name: &str| {
        tools
            .iter()
            .find(|t| t.name == name)
            .and_then(|t| t.output_schema.clone())
    };
    assert!(
        schema_of("respond_json").is_some(),
        "an object response advertises an output schema"
    );
    assert!(schema_of("respond_json_array").is_none(), "an array response cannot");

    let content = |result: &rmcp::model::CallToolResult| serde_json::to_value(&result.content).expect("json");

    let json_result = call(&client, "respond_json", json!({})).await.expect("call");
    assert_eq!(json_result.structured_content, Some(json!({ "ok": true, "n": 1 })));
    assert_eq!(text(&json_result), r#"{"ok":true,"n":1}"#);

    let array = call(&client, "respond_json_array", json!({})).await.expect("call");
    assert_eq!(
        (array.structured_content.clone(), text(&array)),
        (None, "[1,2]".to_owned())
    );

    let plain = call(&client, "respond_text", json!({})).await.expect("call");
    assert_eq!(content(&plain), json!([{ "type": "text", "text": "plain text" }]));

    let image = call(&client, "respond_image", json!({})).await.expect("call");
    let png = base64::engine::general_purpose::STANDARD.encode(cast_test_server::TINY_PNG);
    assert_eq!(
        content(&image),
        json!([{ "type": "image", "data": png, "mimeType": "image/png" }])
    );

    let audio = call(&client, "respond_audio", json!({})).await.expect("call");
    assert_eq!(content(&audio)[0]["type"], "audio");
    assert_eq!(content(&audio)[0]["mimeType"], "audio/wav");

    let pdf = call(&client, "respond_binary", json!({})).await.expect("call");
    let blob = &content(&pdf)[0];
    assert_eq!(blob["type"], "resource");
    assert_eq!(blob["resource"]["mimeType"], "application/pdf");
    assert_eq!(
        blob["resource"]["blob"],
        base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.7")
    );

    let empty = call(&client, "respond_empty", json!({})).await.expect("call");
    assert_eq!(
        (empty.is_error, text(&empty)),
        (Some(false), "HTTP 204 No Content (no content)".to_owned())
    );

    let failed = call(&client, "respond_error", json!({})).await.expect("call");
    assert_eq!(failed.is_error, Some(true));
    assert!(
        text(&failed).starts_with("upstream returned HTTP 500 Internal Server Error: {\"error\":\"BOOM\""),
        "{}",
        text(&failed)
    );

    let large = call(&client, "respond_large", json!({})).await.expect("call");
    assert_eq!(large.is_error, Some(false));
    assert_eq!(large.content[0].as_text().expect("text").text.len(), 1024 * 1024);
    assert!(text(&large).contains("[the response was cut at 1048576 bytes"));
    let said = &large.meta.as_ref().expect("meta").0["io.cast/truncated"];
    let resource = said["resource"].as_str().expect("the whole body is held").to_owned();
    assert_eq!(
        said,
        &json!({ "truncated": true, "limitBytes": 1048576, "keptBytes": 1048576, "totalBytes": 2097152, "resource": resource })
    );
    let whole = client
        .read_resource(ReadResourceRequestParams::new(resource))
        .await
        .expect("resources/read");
    match &whole.contents[..] {
        [ResourceContents::TextResourceContents { text, .. }] => assert_eq!(text.as_str(), "a".repeat(2 * 1024 * 1024)),
        other => panic!("one text: {other:?}"),
    }
    // A list is cut after its last whole item and closed: valid JSON, its count said.
    let list = call(&client, "respond_large_list", json!({})).await.expect("call");
    let kept = &list.content[0].as_text().expect("text").text;
    let parsed: Value = serde_json::from_str(kept).expect("valid JSON");
    let items = parsed["items"].as_array().expect("items").len();
    assert!(items > 9_000 && items < 20_000, "{items} items kept");
    assert_eq!(
        parsed["items"][items - 1]["n"],
        json!(items - 1),
        "whole items, in order"
    );
    let meta = &list.meta.as_ref().expect("meta").0["io.cast/truncated"];
    assert_eq!(meta["keptItems"], json!(items));
    assert_eq!(meta["keptBytes"], json!(kept.len()));
    assert!(kept.len() <= 1024 * 1024);
    assert!(text(&list).contains(&format!("the first {items} items of its list are kept")));
    client.cancel().await.expect("close");
}

#[tokio::test]
async fn huge_arrays_are_sent_whole_without_crashing() {
    let binary = binary();
    let server = start(SocketAddr::from(([127, 0, 0, 1], 0)), Mode::None, generate_key())
        .await
        .expect("echo server");
    let launch = Launch {
        binary: binary.clone(),
        env: vec![("CAST_BASE_URL".into(), server.base_url().into())],
    };
    let client = launch.stdio(&Default::default()).await.expect("connect");
    let many: Vec<String> = (0..5_000).map(|i| format!("v{i}")).collect();
    let result = call(&client, "query_form_x_arr", json!({ "color": many }))
        .await
        .expect("call");
    let echo = result.structured_content.expect("echo");
    assert_eq!(echo["query"].as_str().expect("query").matches("color=").count(), 5_000);
    client.cancel().await.expect("close");
}

/// The text of the one resource read at `uri`, or the error.
async fn read_whole<H: rmcp::ClientHandler>(
    client: &rmcp::service::RunningService<rmcp::RoleClient, H>,
    uri: &str,
) -> Result<String, String> {
    match client.read_resource(ReadResourceRequestParams::new(uri)).await {
        Ok(result) => match &result.contents[..] {
            [ResourceContents::TextResourceContents { text, .. }] => Ok(text.clone()),
            other => Err(format!("not one text: {other:?}")),
        },
        Err(error) => Err(error.to_string()),
    }
}

/// The resource a cut result links to, checked against what its `_meta` says.
fn linked(result: &rmcp::model::CallToolResult, total: usize) -> String {
    let links: Vec<&rmcp::model::Resource> = result
        .content
        .iter()
        .filter_map(|c| match c {
            rmcp::model::ContentBlock::ResourceLink(link) => Some(link),
            _ => None,
        })
        .collect();
    assert_eq!(links.len(), 1, "one resource_link: {result:?}");
    let meta = &result.meta.as_ref().expect("meta").0["io.cast/truncated"];
    assert_eq!(meta["resource"], json!(links[0].uri));
    assert_eq!(meta["totalBytes"], json!(total));
    assert_eq!(links[0].size, Some(total as u64));
    assert_eq!(links[0].mime_type.as_deref(), Some("application/json"));
    links[0].uri.clone()
}

#[tokio::test]
async fn a_cut_result_links_its_whole_body_for_its_own_caller_until_it_expires() {
    let binary = binary();
    let server = start(SocketAddr::from(([127, 0, 0, 1], 0)), Mode::None, generate_key())
        .await
        .expect("upstream");
    let list = http_client()
        .get(format!("{}/respond/large-list", server.base_url()))
        .send()
        .await
        .expect("direct")
        .text()
        .await
        .expect("body");
    let dir = tempfile::tempdir().expect("tempdir");
    let tokens = dir.path().join("inbound-tokens");
    let launch = |extra: &[(&str, &str)]| {
        let mut env = vec![("CAST_BASE_URL".to_owned(), server.base_url().to_owned())];
        env.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        Launch {
            binary: binary.clone(),
            env,
        }
    };
    let serving = launch(&[("CAST_SPILL_TTL_SECS", "2")]);
    let mut callers = Vec::new();
    for name in ["alice", "bob"] {
        let args = [
            "token",
            "new",
            "--inbound-tokens",
            tokens.to_str().expect("UTF-8"),
            "--name",
            name,
        ];
        let (ok, token, stderr) = serving.output(&args).await.expect("token new");
        assert!(ok, "{stderr}");
        callers.push(token.trim().to_owned());
    }
    let (_child, url) = serving
        .http_with(
            &Default::default(),
            &[
                "--listen",
                "127.0.0.1:0",
                "--inbound-tokens",
                tokens.to_str().expect("UTF-8"),
            ],
        )
        .await
        .expect("serve");
    let alice = connect_initialize_as(&url, Some(&callers[0])).await.expect("alice");
    let bob = connect_discover_as(&url, Some(&callers[1])).await.expect("bob");

    let cut = call(&alice, "respond_large_list", json!({})).await.expect("call");
    let uri = linked(&cut, list.len());
    assert!(text(&cut).contains(&format!("can be read for a few minutes as the resource {uri}")));
    assert_eq!(
        read_whole(&alice, &uri).await.expect("alice reads it"),
        list,
        "byte for byte"
    );
    let listed = alice.list_resources(None).await.expect("resources/list");
    assert_eq!(
        listed.resources.iter().map(|r| r.uri.as_str()).collect::<Vec<_>>(),
        [uri.as_str()]
    );
    // Another caller neither reads nor sees it.
    let refused = read_whole(&bob, &uri).await.expect_err("bob may not");
    assert!(refused.contains("no such resource"), "{refused}");
    assert!(bob.list_resources(None).await.expect("list").resources.is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    assert!(read_whole(&alice, &uri).await.is_err(), "expired");
    alice.cancel().await.expect("close");
    bob.cancel().await.expect("close");

    // Bodies held together stay under the memory bound: the oldest go first.
    let bounded = launch(&[
        ("CAST_SPILL_MAX_BYTES", "2621440"),
        ("CAST_SPILL_MEMORY_BYTES", "3145728"),
    ]);
    let client = bounded.stdio(&Default::default()).await.expect("connect");
    let first = linked(
        &call(&client, "respond_large_list", json!({})).await.expect("call"),
        list.len(),
    );
    let second = linked(
        &call(&client, "respond_large_list", json!({})).await.expect("call"),
        list.len(),
    );
    assert!(
        read_whole(&client, &first).await.is_err(),
        "the first made room for the second"
    );
    assert_eq!(read_whole(&client, &second).await.expect("the second is held"), list);
    client.cancel().await.expect("close");

    // Over the second cap a body is only cut, as before.
    let capped = launch(&[("CAST_SPILL_MAX_BYTES", "1572864")]);
    let client = capped.stdio(&Default::default()).await.expect("connect");
    let cut = call(&client, "respond_large_list", json!({})).await.expect("call");
    assert!(
        cut.content
            .iter()
            .all(|c| !matches!(c, rmcp::model::ContentBlock::ResourceLink(_)))
    );
    let meta = &cut.meta.as_ref().expect("meta").0["io.cast/truncated"];
    assert!(
        meta.get("resource").is_none() && meta.get("totalBytes").is_none(),
        "{meta}"
    );
    assert!(text(&cut).contains("narrow the request"));
    client.cancel().await.expect("close");
}
