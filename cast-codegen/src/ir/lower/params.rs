//! Parameters: path templates and OpenAPI styles.

use super::*;
use crate::ir::{PathTemplate, Segment};

/// The parsed template from [`split_template`]'s pieces and each name's parameter index.
pub(super) fn template(pieces: Vec<String>, params: &[usize]) -> PathTemplate {
    let mut segments = Vec::with_capacity(pieces.len() + params.len());
    for (index, piece) in pieces.into_iter().enumerate() {
        if !piece.is_empty() {
            segments.push(Segment::Literal(piece));
        }
        if let Some(param) = params.get(index) {
            segments.push(Segment::Param(*param));
        }
    }
    PathTemplate(segments)
}

/// Splits `/items/{id}/tags` into `["/items/", "/tags"]` and `["id"]`.
pub(super) fn split_template(path: &str) -> (Vec<String>, Vec<String>) {
    let mut pieces = Vec::new();
    let mut names = Vec::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        pieces.push(rest[..open].to_owned());
        names.push(rest[open + 1..open + close].to_owned());
        rest = &rest[open + close + 1..];
    }
    pieces.push(rest.to_owned());
    (pieces, names)
}

/// A parameter's style, with the OpenAPI defaults and the combinations it allows;
/// for `content`-described parameters, also the schema found there.
/// `deepObject` as `deep_object_arrays` asks: numbered array items when `indexed`.
pub(super) fn deep_object_arrays(styled: Styled, settings: &Settings) -> Styled {
    match (styled.style, settings.deep_object_arrays) {
        (Style::DeepObject, Some(DeepObjectArrays::Indexed)) => Styled {
            style: Style::DeepObjectIndexed,
            ..styled
        },
        _ => styled,
    }
}

pub(super) fn param_style(
    param: &Value,
    location: Location,
    pointer: &str,
    label: &str,
    diagnostics: &mut Diagnostics,
) -> (Styled, Option<Value>) {
    let default = Styled::default_for(location);
    if let Some((media, media_object)) = param
        .get("content")
        .and_then(Value::as_object)
        .and_then(|c| c.iter().next())
    {
        let essence = media.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        let is_json = essence == "application/json" || essence.ends_with("+json");
        let style = if is_json {
            Styled {
                style: Style::Json,
                ..default
            }
        } else {
            default
        };
        return (style, media_object.get("schema").cloned());
    }
    let style = match param.get("style").and_then(Value::as_str) {
        None => default.style,
        Some("simple") => Style::Simple,
        Some("label") => Style::Label,
        Some("matrix") => Style::Matrix,
        Some("form") => Style::Form,
        Some("spaceDelimited") => Style::SpaceDelimited,
        Some("pipeDelimited") => Style::PipeDelimited,
        Some("deepObject") => Style::DeepObject,
        Some(other) => {
            diagnostics.push(
                Diagnostic::warning("C0106", format!("{pointer}/style"), format!("unknown style `{other}`"))
                    .operation(label)
                    .hint("the default style for the location is used"),
            );
            default.style
        }
    };
    let allowed = match location {
        Location::Path => matches!(style, Style::Simple | Style::Label | Style::Matrix),
        Location::Query => matches!(
            style,
            Style::Form | Style::SpaceDelimited | Style::PipeDelimited | Style::DeepObject
        ),
        Location::Header => style == Style::Simple,
        Location::Cookie => style == Style::Form,
    };
    let style = if allowed {
        style
    } else {
        diagnostics.push(
            Diagnostic::warning(
                "C0106",
                format!("{pointer}/style"),
                format!("style `{style:?}` is not allowed here"),
            )
            .operation(label)
            .hint("the default style for the location is used"),
        );
        default.style
    };
    let explode = param
        .get("explode")
        .and_then(Value::as_bool)
        .unwrap_or(style == Style::Form || style == Style::DeepObject);
    let allow_reserved =
        location == Location::Query && param.get("allowReserved").and_then(Value::as_bool) == Some(true);
    (
        Styled {
            style,
            explode,
            allow_reserved,
        },
        None,
    )
}
