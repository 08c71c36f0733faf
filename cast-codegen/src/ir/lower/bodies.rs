//! Request bodies: which media type is sent, how, and the arguments they become.

use super::*;

pub(super) fn media_essence(media: &str) -> String {
    media.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// How a media type is sent, and its rank when an operation offers several:
/// JSON first, then form, then multipart, then text, then raw bytes.
pub(super) fn body_kind(media: &str) -> (BodyKind, u8) {
    let essence = media_essence(media);
    if essence == "application/json" || essence.ends_with("+json") || essence == "*/*" || essence == "text/json" {
        (BodyKind::Json, 0)
    } else if essence == "application/x-www-form-urlencoded" {
        (BodyKind::Form, 1)
    } else if essence == "multipart/form-data" || essence == "multipart/mixed" {
        (BodyKind::Multipart, 2)
    } else if essence.starts_with("text/") {
        (BodyKind::Text, 3)
    } else {
        (BodyKind::Binary, 4)
    }
}

pub(super) fn is_binary_schema(doc: &Value, schema: &Value) -> bool {
    let schema = deref(doc, schema).unwrap_or(schema);
    let binary =
        |s: &Value| s.get("format").and_then(Value::as_str) == Some("binary") || s.get("contentMediaType").is_some();
    binary(schema) || schema.get("items").and_then(|i| deref(doc, i)).is_some_and(binary)
}

/// Which operation's body is lowered, and the media type `[tools.body_media]` asks for.
pub(super) struct BodyOf<'a> {
    pub(super) method: HttpMethod,
    pub(super) pointer: &'a str,
    pub(super) label: &'a str,
    pub(super) chosen: Option<&'a str>,
    pub(super) settings: &'a Settings,
}

/// Whether a schema leaves nothing to send: no properties, items, composition or
/// free-form members (`{}` or a bare `type: object`).
fn is_empty_schema(schema: &Value) -> bool {
    let Some(map) = schema.as_object() else { return true };
    let is_object = map.get("type").is_none_or(|t| t == "object");
    let nothing = [
        "properties",
        "additionalProperties",
        "patternProperties",
        "allOf",
        "oneOf",
        "anyOf",
        "items",
        "enum",
        "const",
        "$ref",
    ]
    .iter()
    .all(|k| match map.get(*k) {
        None => true,
        Some(Value::Object(o)) => o.is_empty() && *k == "properties",
        Some(_) => false,
    });
    is_object && nothing
}

/// The JSON media type to send among several the operation offers: the one whose shape
/// the body schema has. A JSON Patch document is an array of operations, so
/// `json-patch+json` only for an array schema; otherwise plain JSON, then merge patch.
fn json_preference(media: &str, schema_is_array: bool) -> u8 {
    let essence = media_essence(media);
    match essence.as_str() {
        "application/json-patch+json" if schema_is_array => 0,
        "application/json-patch+json" => 4,
        "application/json" => 1,
        "application/merge-patch+json" => 2,
        _ => 3,
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) fn lower_body(
    cx: &mut SchemaCx<'_>,
    space: &mut TypeSpace,
    type_hint: &str,
    body: &Value,
    of: BodyOf<'_>,
    args: &mut Vec<ArgIr>,
    names: &mut ArgNames,
) -> Result<Option<BodyIr>, Diagnostic> {
    let BodyOf {
        method,
        pointer,
        label,
        chosen,
        settings,
    } = of;
    let doc = cx.doc();
    let Some(body) = deref(doc, body) else {
        return Err(
            Diagnostic::error("C0102", pointer, "cannot resolve the request body's `$ref`")
                .operation(label)
                .hint("the operation is skipped"),
        );
    };
    let body_required = body.get("required").and_then(Value::as_bool).unwrap_or(false);
    let Some(content) = body.get("content").and_then(Value::as_object) else {
        return Ok(None);
    };
    let is_array = |media_object: &Value| {
        media_object
            .get("schema")
            .and_then(|s| deref(doc, s))
            .is_some_and(|s| s.get("type").and_then(Value::as_str) == Some("array"))
    };
    let picked = match chosen {
        Some(wanted) => match content
            .iter()
            .find(|(media, _)| media_essence(media) == media_essence(wanted))
        {
            Some(found) => Some(found),
            None => {
                let offered: Vec<String> = content.keys().map(|m| format!("`{m}`")).collect();
                cx.diagnostics.push(
                    Diagnostic::error(
                        "C0208",
                        pointer,
                        format!("[tools.body_media] asks for `{wanted}`, which this operation does not take"),
                    )
                    .operation(label)
                    .hint(format!("it takes {}", offered.join(", "))),
                );
                None
            }
        },
        None => None,
    };
    let Some((media, media_object)) = picked.or_else(|| {
        content
            .iter()
            .min_by_key(|(media, object)| (body_kind(media).1, json_preference(media, is_array(object))))
    }) else {
        return Ok(None);
    };
    let (kind, _) = body_kind(media);
    let media = if media_essence(media) == "*/*" {
        "application/json".to_owned()
    } else {
        media.clone()
    };
    let schema_pointer = format!("{pointer}/content/{}/schema", pointer_token(&media));
    let schema = media_object.get("schema").cloned().unwrap_or_else(|| json!({}));
    let resolved = deref(doc, &schema).cloned().unwrap_or_default();
    // A form with no fields, or any body declared empty on a method that sends none, is
    // nothing the agent could fill in: no argument, and nothing sent.
    let sends_no_body = matches!(
        method,
        HttpMethod::Get | HttpMethod::Head | HttpMethod::Delete | HttpMethod::Options
    );
    if is_empty_schema(&resolved) && (sends_no_body || matches!(kind, BodyKind::Form | BodyKind::Multipart)) {
        return Ok(None);
    }
    let has_properties = resolved
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|p| !p.is_empty());
    let plain_object = has_properties
        && ["allOf", "oneOf", "anyOf", "additionalProperties", "patternProperties"]
            .iter()
            .all(|k| resolved.get(k).is_none_or(|v| v == &json!(false)))
        && !cx.is_nullable(&schema);
    let flat = match kind {
        BodyKind::Json => plain_object,
        BodyKind::Form | BodyKind::Multipart => has_properties,
        BodyKind::Text | BodyKind::Binary => false,
    };
    if !flat {
        let (mut converted, ty) = match kind {
            BodyKind::Text => (json!({ "type": "string" }), RustType::String),
            BodyKind::Binary => (
                json!({ "type": "string", "contentEncoding": "base64", "description": format!("The `{media}` body: base64, or a data: URI.") }),
                RustType::String,
            ),
            _ => {
                let converted = cx.convert(&schema, &schema_pointer, Direction::Request);
                let ty = space.rust_type(cx, &converted, &schema_pointer, &format!("{type_hint}Body"));
                (converted, ty)
            }
        };
        if let Some(map) = converted.as_object_mut() {
            let description = match kind {
                BodyKind::Json => "The request body.".to_owned(),
                _ => format!("The request body, sent as `{media}`."),
            };
            map.entry("description").or_insert_with(|| json!(description));
        }
        args.push(ArgIr {
            name: names.take("body".to_owned()),
            wire: "body".to_owned(),
            target: Target::Body,
            required: body_required,
            ty,
            schema: converted,
        });
        return Ok(Some(BodyIr {
            media,
            kind,
            encodings: Vec::new(),
            of_fields: false,
        }));
    }
    let converted = cx.convert(&resolved, &schema_pointer, Direction::Request);
    let body_required_names: Vec<&str> = resolved
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let converted_props = converted
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    for (wire, prop_schema) in &converted_props {
        let original = resolved["properties"].get(wire).cloned().unwrap_or_default();
        let required = body_required && body_required_names.contains(&wire.as_str());
        let twin = names.has(wire).then(|| query_twin(args, wire, prop_schema)).flatten();
        if twin.is_some_and(|agrees| agrees && !required) {
            // The same option in the query and in the body (Kubernetes' `dryRun` on every
            // delete): one argument, sent in the query, where the parameter puts it.
            continue;
        }
        let name = if names.has(wire) {
            names.take(format!("body_{wire}"))
        } else {
            names.take(wire.clone())
        };
        let binary = kind == BodyKind::Multipart && is_binary_schema(doc, &original);
        let description = text(
            original
                .get("description")
                .or_else(|| deref(doc, &original).and_then(|o| o.get("description"))),
        );
        let at = format!("{schema_pointer}/properties/{}", pointer_token(wire));
        let ty = space.rust_type(
            cx,
            prop_schema,
            &at,
            &format!("{type_hint}{}", naming::type_ident(wire)),
        );
        let mut prop_schema = prop_schema.clone();
        if name.arg != *wire
            && let Some(map) = prop_schema.as_object_mut()
        {
            let which = format!("In the request body; `{wire}` is the parameter of that name.");
            let described = match map.get("description").and_then(Value::as_str) {
                Some(d) => format!("{which} {d}"),
                None => which,
            };
            map.insert("description".into(), json!(described));
        }
        if binary && let Some(map) = prop_schema.as_object_mut() {
            let hint = "File contents: base64, or a data: URI (data:TYPE;name=FILE;base64,DATA).";
            let described = match &description {
                Some(d) => format!("{d} {hint}"),
                None => hint.to_owned(),
            };
            map.insert("description".into(), json!(described));
        }
        args.push(ArgIr {
            name,
            wire: wire.clone(),
            target: Target::Field { binary },
            required,
            ty,
            schema: prop_schema,
        });
    }
    let encodings = match kind {
        BodyKind::Form => form_encodings(
            media_object,
            &format!("{pointer}/content/{}", pointer_token(&media)),
            label,
            &mut cx.diagnostics,
        )
        .into_iter()
        .map(|(field, styled)| (field, deep_object_arrays(styled, settings)))
        .collect(),
        _ => Vec::new(),
    };
    Ok(Some(BodyIr {
        media,
        kind,
        encodings,
        of_fields: true,
    }))
}

/// Whether a query parameter already has this body field's name: `Some(true)` when the
/// two accept the same values (what they say of themselves aside).
fn query_twin(args: &[ArgIr], wire: &str, field_schema: &Value) -> Option<bool> {
    let param = args.iter().find(|arg| {
        arg.wire == wire
            && matches!(
                arg.target,
                Target::Param {
                    location: Location::Query,
                    ..
                }
            )
    })?;
    Some(without_annotations(&param.schema) == without_annotations(field_schema))
}

fn without_annotations(schema: &Value) -> Value {
    const ANNOTATIONS: &[&str] = &["description", "title", "examples", "example", "default", "deprecated"];
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    let stripped = map
        .iter()
        .filter(|(key, _)| !ANNOTATIONS.contains(&key.as_str()))
        .map(|(key, value)| {
            let value = match (key.as_str(), value) {
                // Maps of names to schemas: a property may be called `description`.
                ("properties" | "patternProperties" | "$defs" | "dependentSchemas", Value::Object(named)) => {
                    Value::Object(
                        named
                            .iter()
                            .map(|(name, inner)| (name.clone(), without_annotations(inner)))
                            .collect(),
                    )
                }
                (_, Value::Array(items)) => Value::Array(items.iter().map(without_annotations).collect()),
                (_, Value::Object(_)) => without_annotations(value),
                _ => value.clone(),
            };
            (key.clone(), value)
        });
    Value::Object(stripped.collect())
}

/// The styles a form body's `encoding` object gives its fields: `style`, `explode` and
/// `allowReserved` as for query parameters, and a JSON `contentType` as JSON text.
pub(super) fn form_encodings(
    media_object: &Value,
    pointer: &str,
    label: &str,
    diagnostics: &mut Diagnostics,
) -> Vec<(String, Styled)> {
    let Some(encoding) = media_object.get("encoding").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut styled = Vec::new();
    for (field, entry) in encoding {
        let at = format!("{pointer}/encoding/{}", pointer_token(field));
        let json = entry
            .get("contentType")
            .and_then(Value::as_str)
            .is_some_and(|t| body_kind(t).0 == BodyKind::Json);
        if json {
            let style = Styled {
                style: Style::Json,
                ..Styled::default_for(Location::Query)
            };
            styled.push((field.clone(), style));
        } else if ["style", "explode", "allowReserved"]
            .iter()
            .any(|k| entry.get(k).is_some())
        {
            let (style, _) = param_style(entry, Location::Query, &at, label, diagnostics);
            styled.push((field.clone(), style));
        }
    }
    styled
}
