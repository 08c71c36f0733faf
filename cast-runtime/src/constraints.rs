//! The spec's constraints on arguments (bounds, lengths, patterns, non-string enums, and
//! whatever else the input schema says), checked before anything is sent upstream.
//!
//! Types are checked first, as each argument is read into its Rust type; this checks the rest
//! against the advertised input schema itself, so what is checked is exactly what the
//! client was shown. Each tool's validator is built on its first call: start-up stays as
//! fast for 700 tools as for 7.

use std::sync::{Arc, OnceLock};

use serde_json::Value;

/// Errors reported per call, at most; the rest are counted.
const MAX_REPORTED: usize = 10;
/// Characters of one error message kept: an argument echoed in a message stays readable.
const MAX_MESSAGE_CHARS: usize = 300;

/// One tool's validator, built once when first needed.
pub(crate) struct Constraints {
    schema: Arc<serde_json::Map<String, Value>>,
    validator: OnceLock<Option<jsonschema::Validator>>,
}

impl std::fmt::Debug for Constraints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Constraints")
            .field("built", &self.validator.get().is_some())
            .finish_non_exhaustive()
    }
}

impl Constraints {
    pub(crate) fn new(schema: Arc<serde_json::Map<String, Value>>) -> Self {
        Self {
            schema,
            validator: OnceLock::new(),
        }
    }

    /// The advertised input schema.
    pub(crate) fn schema(&self) -> &serde_json::Map<String, Value> {
        &self.schema
    }

    /// Every violation, one per line, each naming the argument's path
    /// (`items[2].count: 0 is less than the minimum of 1`).
    pub(crate) fn check(&self, tool: &str, args: &Value) -> Result<(), String> {
        let validator = self.validator.get_or_init(|| {
            let schema = Value::Object((*self.schema).clone());
            match jsonschema::draft202012::options().build(&schema) {
                Ok(validator) => Some(validator),
                Err(error) => {
                    // The types still hold; only the finer constraints go unchecked.
                    tracing::warn!(target: "cast::calls", tool, %error, "input schema cannot be compiled: constraints are not checked");
                    None
                }
            }
        });
        let Some(validator) = validator else {
            return Ok(());
        };
        let mut errors = validator.iter_errors(args);
        let mut lines: Vec<String> = errors.by_ref().take(MAX_REPORTED).map(|error| line(&error)).collect();
        if lines.is_empty() {
            return Ok(());
        }
        let more = errors.count();
        if more > 0 {
            lines.push(format!("and {more} more"));
        }
        Err(if lines.len() == 1 {
            format!("invalid argument for `{tool}`: {}", lines[0])
        } else {
            format!("invalid arguments for `{tool}`:\n- {}", lines.join("\n- "))
        })
    }
}

/// One violation, led by the argument's path: `` `items[2].count`: 0 is less than the
/// minimum of 1 ``; a missing or unexpected property is named by its own path.
fn line(error: &jsonschema::ValidationError<'_>) -> String {
    use jsonschema::error::ValidationErrorKind as Kind;
    let parent = argument_path(error.instance_path().as_str());
    let child = |property: &str| match &parent {
        Some(parent) => format!("{parent}.{property}"),
        None => property.to_owned(),
    };
    let (path, message) = match error.kind() {
        Kind::Required { property } => {
            let property = property.as_str().map_or_else(|| property.to_string(), str::to_owned);
            (Some(child(&property)), "required, but not given".to_owned())
        }
        Kind::AdditionalProperties { unexpected } if unexpected.len() == 1 => {
            (Some(child(&unexpected[0])), "no such property".to_owned())
        }
        _ => (parent, error.to_string()),
    };
    match path {
        Some(path) => format!("`{}`: {}", clip(&path), clip(&message)),
        None => clip(&message),
    }
}

pub(crate) fn clip(message: &str) -> String {
    match message.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((end, _)) => format!("{}…", &message[..end]),
        None => message.to_owned(),
    }
}

/// `/items/2/count` as `items[2].count`, the form serde's errors use; `None` at the root.
fn argument_path(pointer: &str) -> Option<String> {
    if pointer.is_empty() {
        return None;
    }
    let mut path = String::new();
    for token in pointer.split('/').skip(1) {
        let token = token.replace("~1", "/").replace("~0", "~");
        if !path.is_empty() && token.parse::<usize>().is_ok() {
            path.push_str(&format!("[{token}]"));
        } else {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&token);
        }
    }
    Some(path)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SCHEMA: &str = r#"{"type":"object","properties":{
        "items":{"type":"array","maxItems":3,"items":{"type":"object","properties":{
            "count":{"type":"integer","minimum":1},
            "code":{"type":"string","pattern":"^[A-Z]{3}$"}}}},
        "level":{"type":"integer","enum":[1,2,3]},
        "name":{"type":"string","maxLength":4}},
        "required":["name"]}"#;

    fn schema(text: &str) -> Arc<serde_json::Map<String, Value>> {
        match serde_json::from_str(text) {
            Ok(Value::Object(map)) => Arc::new(map),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_violation_is_named_by_its_path() {
        let constraints = Constraints::new(schema(SCHEMA));
        let args = json!({ "name": "toolong", "level": 5, "items": [{ "count": 1 }, { "count": 0, "code": "abc" }] });
        let error = constraints.check("t", &args).expect_err("invalid");
        assert!(error.starts_with("invalid arguments for `t`:\n- "), "{error}");
        for expected in ["`name`: ", "`level`: ", "`items[1].count`: ", "`items[1].code`: "] {
            assert!(error.contains(expected), "{expected} in {error}");
        }
        assert!(
            constraints
                .check("t", &json!({ "name": "ok", "items": [{ "count": 2, "code": "ABC" }] }))
                .is_ok()
        );
        let missing = constraints.check("t", &json!({})).expect_err("required");
        assert_eq!(missing, "invalid argument for `t`: `name`: required, but not given");
        let closed = Constraints::new(schema(
            r#"{"type":"object","properties":{"o":{"type":"object","properties":{"items":{}},"additionalProperties":false}}}"#,
        ));
        let extra = closed
            .check("t", &json!({ "o": { "rush": true } }))
            .expect_err("closed");
        assert_eq!(extra, "invalid argument for `t`: `o.rush`: no such property");
    }

    #[test]
    fn long_arguments_are_clipped_in_messages() {
        let constraints = Constraints::new(schema(SCHEMA));
        let error = constraints
            .check("t", &json!({ "name": "x".repeat(10_000) }))
            .expect_err("too long");
        assert!(error.len() < 1_000, "{} bytes", error.len());
    }

    #[test]
    fn a_schema_the_validator_rejects_leaves_the_types_to_check() {
        let constraints = Constraints::new(schema(
            r#"{"type":"object","properties":{"a":{"type":"no-such-type"}}}"#,
        ));
        assert!(constraints.check("t", &json!({ "a": 1 })).is_ok());
    }

    #[test]
    fn pointers_become_argument_paths() {
        assert_eq!(argument_path(""), None);
        assert_eq!(argument_path("/a/0/b~1c").as_deref(), Some("a[0].b/c"));
        assert_eq!(argument_path("/0").as_deref(), Some("0"));
    }
}
