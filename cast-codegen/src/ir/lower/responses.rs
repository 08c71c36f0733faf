//! Responses: the output schema a tool advertises.

use super::*;

/// The first success response's JSON schema, converted, when it describes an object (MCP
/// output schemas must); `writeOnly` properties are left out.
pub(super) fn output_schema(cx: &mut SchemaCx<'_>, operation: &Value, pointer: &str) -> Option<Value> {
    let doc = cx.doc();
    let responses = operation.get("responses")?.as_object()?;
    let (code, response) = responses.iter().find(|(code, _)| code.starts_with('2'))?;
    let content = deref(doc, response)?.get("content")?.as_object()?;
    let (media, media_object) = content.iter().find(|(media, _)| body_kind(media).0 == BodyKind::Json)?;
    let schema = media_object.get("schema")?;
    let resolved = deref(doc, schema)?;
    let is_object = match resolved.get("type") {
        Some(Value::String(t)) => t == "object",
        None => resolved.get("properties").is_some(),
        _ => false,
    };
    if !is_object {
        return None;
    }
    let at = format!("{pointer}/responses/{code}/content/{}/schema", pointer_token(media));
    Some(cx.convert(schema, &at, Direction::Response))
}

/// A converted output schema made whole. MCP wants `"type": "object"` at its root, and
/// clients are sent it so.
pub(super) fn finish_output_schema(cx: &mut SchemaCx<'_>, converted: Value) -> Value {
    let mut finished = cx.finish(converted);
    if let Some(map) = finished.as_object_mut() {
        map.entry("type").or_insert_with(|| json!("object"));
    }
    finished
}

/// An output schema as advertised: left out, with a note why, when clients could not compile
/// it or when it is over the `max_output_schema_bytes` budget. Structured content is
/// returned either way.
pub(super) fn checked_output_schema(
    schema: Value,
    settings: &Settings,
    pointer: &str,
    label: &str,
    diagnostics: &mut Diagnostics,
) -> Option<Value> {
    if let Some(problem) = validity::problems(&schema).into_iter().next() {
        diagnostics.push(
            Diagnostic::warning(
                "C0110",
                pointer,
                format!("the output schema would not be valid JSON Schema 2020-12 ({problem})"),
            )
            .operation(label)
            .hint("the tool advertises no output schema; its results are still returned as structured content"),
        );
        return None;
    }
    let budget = settings
        .max_output_schema_bytes
        .unwrap_or(Settings::DEFAULT_MAX_OUTPUT_SCHEMA_BYTES);
    let bytes = schema.to_string().len();
    if bytes > budget {
        diagnostics.push(
            Diagnostic::note(
                "C0111",
                pointer,
                format!("the output schema is {bytes} bytes, over the budget of {budget}"),
            )
            .operation(label)
            .hint("the tool advertises no output schema (its results are still structured); raise `max_output_schema_bytes` in cast.toml to keep it"),
        );
        return None;
    }
    Some(schema)
}
