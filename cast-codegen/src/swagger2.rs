//! Swagger 2.0 to OpenAPI 3.0, on load, so that everything after reads one shape.
//!
//! Covers what real 2.0 documents use: `host`/`basePath`/`schemes`, `definitions`,
//! shared `parameters` and `responses`, `in: body`, `in: formData` (files included),
//! `consumes`/`produces`, `collectionFormat`, `securityDefinitions`, `x-nullable`.

use serde_json::{Map, Value, json};

use crate::diag::{Diagnostic, pointer_token};

/// Whether `doc` is a Swagger 2.0 document (decided by content: a `swagger` field, or
/// 2.0-only structure such as top-level `definitions` without `openapi`).
pub fn is_swagger2(doc: &Value) -> bool {
    doc.get("openapi").is_none()
        && (doc.get("swagger").is_some() || doc.get("definitions").is_some() || doc.get("basePath").is_some())
}

const PARAM_SCHEMA_KEYS: &[&str] = &[
    "type",
    "format",
    "items",
    "enum",
    "default",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "multipleOf",
];

/// Converts a 2.0 document; problems that lose information are returned as warnings.
pub fn convert(doc: &Value) -> (Value, Vec<Diagnostic>) {
    let mut warnings = Vec::new();
    let mut out = Map::new();
    out.insert("openapi".into(), json!("3.0.3"));
    out.insert(
        "info".into(),
        doc.get("info")
            .cloned()
            .unwrap_or_else(|| json!({ "title": "API", "version": "0.1.0" })),
    );
    out.insert("servers".into(), json!([{ "url": server_url(doc) }]));
    for key in ["security", "tags", "externalDocs"] {
        if let Some(value) = doc.get(key) {
            out.insert(key.into(), value.clone());
        }
    }
    let global_consumes = strings(doc.get("consumes"));
    let global_produces = strings(doc.get("produces"));

    let mut components = Map::new();
    if let Some(definitions) = doc.get("definitions") {
        components.insert("schemas".into(), schema(definitions));
    }
    if let Some(responses) = doc.get("responses").and_then(Value::as_object) {
        let converted = responses
            .iter()
            .map(|(k, r)| (k.clone(), response(doc, r, &global_produces)))
            .collect();
        components.insert("responses".into(), Value::Object(converted));
    }
    if let Some(schemes) = doc.get("securityDefinitions").and_then(Value::as_object) {
        let converted = schemes.iter().map(|(k, s)| (k.clone(), security_scheme(s))).collect();
        components.insert("securitySchemes".into(), Value::Object(converted));
    }
    out.insert("components".into(), Value::Object(components));

    let mut paths = Map::new();
    for (path, item) in doc.get("paths").and_then(Value::as_object).into_iter().flatten() {
        let Some(item) = item.as_object() else { continue };
        let shared: Vec<Value> = item
            .get("parameters")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let mut new_item = Map::new();
        for (key, operation) in item {
            if key == "parameters" || key.starts_with("x-") {
                continue;
            }
            let Some(operation) = operation.as_object() else {
                continue;
            };
            let pointer = format!("/paths/{}/{key}", pointer_token(path));
            let op = convert_operation(
                doc,
                operation,
                &shared,
                &global_consumes,
                &global_produces,
                &pointer,
                &mut warnings,
            );
            new_item.insert(key.clone(), Value::Object(op));
        }
        paths.insert(path.clone(), Value::Object(new_item));
    }
    out.insert("paths".into(), Value::Object(paths));
    let mut out = Value::Object(out);
    rewrite_refs(&mut out);
    (out, warnings)
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

fn server_url(doc: &Value) -> String {
    let base_path = doc.get("basePath").and_then(Value::as_str).unwrap_or("");
    match doc.get("host").and_then(Value::as_str) {
        Some(host) => {
            let schemes = strings(doc.get("schemes"));
            let scheme = if schemes.is_empty() || schemes.iter().any(|s| s == "https") {
                "https"
            } else {
                schemes[0].as_str()
            };
            format!("{scheme}://{host}{base_path}")
        }
        None => {
            if base_path.is_empty() {
                "/".to_owned()
            } else {
                base_path.to_owned()
            }
        }
    }
}

/// 2.0 schemas are nearly 3.0 schemas: only `x-nullable` and `type: file` differ.
fn schema(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, v) in map {
                match key.as_str() {
                    "x-nullable" => {
                        out.insert("nullable".into(), v.clone());
                    }
                    "type" if v == "file" => {
                        out.insert("type".into(), json!("string"));
                        out.insert("format".into(), json!("binary"));
                    }
                    _ => {
                        out.insert(key.clone(), schema(v));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(schema).collect()),
        other => other.clone(),
    }
}

fn response(doc: &Value, response: &Value, produces: &[String]) -> Value {
    let Some(map) = response.as_object() else {
        return response.clone();
    };
    if map.contains_key("$ref") {
        return response.clone();
    }
    let _ = doc;
    let mut out = Map::new();
    out.insert(
        "description".into(),
        map.get("description").cloned().unwrap_or_else(|| json!("")),
    );
    if let Some(body) = map.get("schema") {
        let media = produces
            .first()
            .cloned()
            .unwrap_or_else(|| "application/json".to_owned());
        out.insert("content".into(), json!({ media: { "schema": schema(body) } }));
    }
    if let Some(headers) = map.get("headers").and_then(Value::as_object) {
        let converted = headers
            .iter()
            .map(|(k, h)| (k.clone(), json!({ "schema": schema(h) })))
            .collect();
        out.insert("headers".into(), Value::Object(converted));
    }
    Value::Object(out)
}

fn security_scheme(scheme: &Value) -> Value {
    match scheme.get("type").and_then(Value::as_str) {
        Some("basic") => json!({ "type": "http", "scheme": "basic" }),
        Some("oauth2") => {
            let flow = match scheme.get("flow").and_then(Value::as_str) {
                Some("implicit") => "implicit",
                Some("password") => "password",
                Some("application") => "clientCredentials",
                _ => "authorizationCode",
            };
            let mut details = Map::new();
            for (from, to) in [("authorizationUrl", "authorizationUrl"), ("tokenUrl", "tokenUrl")] {
                if let Some(url) = scheme.get(from) {
                    details.insert(to.into(), url.clone());
                }
            }
            details.insert(
                "scopes".into(),
                scheme.get("scopes").cloned().unwrap_or_else(|| json!({})),
            );
            json!({ "type": "oauth2", "flows": { flow: details } })
        }
        _ => scheme.clone(),
    }
}

fn resolve_param<'a>(doc: &'a Value, param: &'a Value) -> Option<&'a Value> {
    match param.get("$ref").and_then(Value::as_str) {
        Some(reference) => doc.pointer(reference.strip_prefix('#')?),
        None => Some(param),
    }
}

fn convert_operation(
    doc: &Value,
    operation: &Map<String, Value>,
    shared: &[Value],
    global_consumes: &[String],
    global_produces: &[String],
    pointer: &str,
    warnings: &mut Vec<Diagnostic>,
) -> Map<String, Value> {
    let consumes = operation
        .get("consumes")
        .map_or_else(|| global_consumes.to_vec(), |c| strings(Some(c)));
    let produces = operation
        .get("produces")
        .map_or_else(|| global_produces.to_vec(), |p| strings(Some(p)));
    let mut out = Map::new();
    for (key, value) in operation {
        if !["parameters", "responses", "consumes", "produces", "schemes"].contains(&key.as_str()) {
            out.insert(key.clone(), value.clone());
        }
    }
    // Operation parameters override shared ones with the same name and location.
    let mut params: Vec<Value> = Vec::new();
    for param in shared.iter().chain(
        operation
            .get("parameters")
            .and_then(Value::as_array)
            .into_iter()
            .flatten(),
    ) {
        let Some(param) = resolve_param(doc, param) else {
            warnings.push(
                Diagnostic::warning("C0102", pointer, "cannot resolve a parameter `$ref`")
                    .hint("the parameter is left out"),
            );
            continue;
        };
        let key = (param.get("name").cloned(), param.get("in").cloned());
        params.retain(|p| (p.get("name").cloned(), p.get("in").cloned()) != key);
        params.push(param.clone());
    }
    let mut parameters = Vec::new();
    let mut form = Map::new();
    let mut form_required = Vec::new();
    let mut has_file = false;
    for param in params {
        match param.get("in").and_then(Value::as_str) {
            Some("body") => {
                let media = consumes
                    .iter()
                    .find(|m| m.contains("json"))
                    .or(consumes.first())
                    .cloned()
                    .unwrap_or_else(|| "application/json".to_owned());
                let mut body =
                    json!({ "content": { media: { "schema": schema(param.get("schema").unwrap_or(&json!({}))) } } });
                if let Some(description) = param.get("description") {
                    body["description"] = description.clone();
                }
                if param.get("required").and_then(Value::as_bool) == Some(true) {
                    body["required"] = json!(true);
                }
                out.insert("requestBody".into(), body);
            }
            Some("formData") => {
                let name = param.get("name").and_then(Value::as_str).unwrap_or_default().to_owned();
                let mut property = param_schema(&param);
                if let Some(description) = param.get("description") {
                    property["description"] = description.clone();
                }
                has_file |= param.get("type") == Some(&json!("file"));
                if param.get("required").and_then(Value::as_bool) == Some(true) {
                    form_required.push(json!(name));
                }
                form.insert(name, property);
            }
            _ => {
                let mut converted = Map::new();
                for (key, value) in param.as_object().into_iter().flatten() {
                    if !PARAM_SCHEMA_KEYS.contains(&key.as_str())
                        && key != "collectionFormat"
                        && key != "allowEmptyValue"
                    {
                        converted.insert(key.clone(), value.clone());
                    }
                }
                converted.insert("schema".into(), param_schema(&param));
                let location = param.get("in").and_then(Value::as_str).unwrap_or("query");
                match (param.get("collectionFormat").and_then(Value::as_str), location) {
                    (Some("multi"), _) => {
                        converted.insert("style".into(), json!("form"));
                        converted.insert("explode".into(), json!(true));
                    }
                    (Some("ssv"), "query") => {
                        converted.insert("style".into(), json!("spaceDelimited"));
                        converted.insert("explode".into(), json!(false));
                    }
                    (Some("pipes"), "query") => {
                        converted.insert("style".into(), json!("pipeDelimited"));
                        converted.insert("explode".into(), json!(false));
                    }
                    // csv is 2.0's default: comma-joined.
                    (_, "query") if param.get("type") == Some(&json!("array")) => {
                        converted.insert("style".into(), json!("form"));
                        converted.insert("explode".into(), json!(false));
                    }
                    _ => {}
                }
                parameters.push(Value::Object(converted));
            }
        }
    }
    if !form.is_empty() {
        let media = if has_file || consumes.iter().any(|c| c.starts_with("multipart/")) {
            "multipart/form-data"
        } else {
            "application/x-www-form-urlencoded"
        };
        let mut form_schema = json!({ "type": "object", "properties": form });
        if !form_required.is_empty() {
            form_schema["required"] = Value::Array(form_required);
        }
        out.insert(
            "requestBody".into(),
            json!({ "content": { media: { "schema": form_schema } }, "required": true }),
        );
    }
    if !parameters.is_empty() {
        out.insert("parameters".into(), Value::Array(parameters));
    }
    let responses: Map<String, Value> = operation
        .get("responses")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(code, r)| (code.clone(), response(doc, r, &produces)))
        .collect();
    out.insert("responses".into(), Value::Object(responses));
    out
}

fn param_schema(param: &Value) -> Value {
    let mut out = Map::new();
    for key in PARAM_SCHEMA_KEYS {
        if let Some(value) = param.get(*key) {
            out.insert((*key).to_owned(), value.clone());
        }
    }
    if param.get("x-nullable") == Some(&json!(true)) {
        out.insert("nullable".into(), json!(true));
    }
    schema(&Value::Object(out))
}

/// `#/definitions/X` → `#/components/schemas/X`, `#/responses/X` → `#/components/responses/X`.
fn rewrite_refs(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get_mut("$ref") {
                for (from, to) in [
                    ("#/definitions/", "#/components/schemas/"),
                    ("#/responses/", "#/components/responses/"),
                ] {
                    if let Some(rest) = reference.strip_prefix(from) {
                        *reference = format!("{to}{rest}");
                    }
                }
            }
            map.values_mut().for_each(rewrite_refs);
        }
        Value::Array(items) => items.iter_mut().for_each(rewrite_refs),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_the_2_0_idioms() {
        let doc = json!({
            "swagger": "2.0",
            "info": { "title": "T", "version": "1.0.0" },
            "host": "api.example.com", "basePath": "/v1", "schemes": ["http", "https"],
            "consumes": ["application/json"],
            "definitions": { "Pet": { "type": "object", "properties": { "tag": { "type": "string", "x-nullable": true } } } },
            "parameters": { "Limit": { "name": "limit", "in": "query", "type": "integer", "maximum": 50 } },
            "securityDefinitions": { "basic": { "type": "basic" } },
            "paths": { "/pets": {
                "get": { "parameters": [ { "$ref": "#/parameters/Limit" },
                    { "name": "tags", "in": "query", "type": "array", "items": { "type": "string" } } ],
                    "responses": { "200": { "description": "ok", "schema": { "$ref": "#/definitions/Pet" } } } },
                "post": { "parameters": [ { "name": "pet", "in": "body", "required": true, "schema": { "$ref": "#/definitions/Pet" } } ],
                    "responses": { "201": { "description": "created" } } },
                "put": { "consumes": ["multipart/form-data"], "parameters": [
                    { "name": "photo", "in": "formData", "type": "file", "required": true },
                    { "name": "note", "in": "formData", "type": "string" } ],
                    "responses": { "200": { "description": "ok" } } }
            } }
        });
        assert!(is_swagger2(&doc));
        let (out, warnings) = convert(&doc);
        assert!(warnings.is_empty());
        assert_eq!(out["servers"], json!([{ "url": "https://api.example.com/v1" }]));
        assert_eq!(
            out["components"]["schemas"]["Pet"]["properties"]["tag"],
            json!({ "type": "string", "nullable": true })
        );
        assert_eq!(
            out["components"]["securitySchemes"]["basic"],
            json!({ "type": "http", "scheme": "basic" })
        );
        let get = &out["paths"]["/pets"]["get"];
        assert_eq!(
            get["parameters"][0],
            json!({ "name": "limit", "in": "query", "schema": { "type": "integer", "maximum": 50 } })
        );
        assert_eq!(get["parameters"][1]["style"], "form");
        assert_eq!(get["parameters"][1]["explode"], false);
        assert_eq!(
            get["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Pet"
        );
        let post = &out["paths"]["/pets"]["post"];
        assert_eq!(
            post["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Pet"
        );
        assert_eq!(post["requestBody"]["required"], true);
        let put = &out["paths"]["/pets"]["put"]["requestBody"]["content"]["multipart/form-data"]["schema"];
        assert_eq!(
            put["properties"]["photo"],
            json!({ "type": "string", "format": "binary" })
        );
        assert_eq!(put["required"], json!(["photo"]));
    }
}
