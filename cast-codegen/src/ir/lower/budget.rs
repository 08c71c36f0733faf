//! An input schema within `max_input_schema_bytes`: what a tool costs an agent is paid on
//! every `tools/list`. Only words are given up, never a constraint (the server checks
//! arguments against the schema it advertises), and the arguments' own descriptions stay.

use super::*;

/// What had to go, in the order it is given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Trim {
    /// `title`s below the arguments (most repeat the property's name).
    NestedTitles,
    /// Descriptions below the arguments cut to their first sentence.
    FirstSentences,
    /// Descriptions below the arguments left out.
    NestedDescriptions,
}

impl Trim {
    fn says(self) -> &'static str {
        match self {
            Self::NestedTitles => "the titles of nested schemas",
            Self::FirstSentences => "the titles of nested schemas and all but the first sentence of their descriptions",
            Self::NestedDescriptions => "the titles and descriptions of nested schemas",
        }
    }
}

/// Trims `schema` until it fits `budget` bytes; reports what went, and a warning when
/// even that is not enough.
pub(super) fn fit_input_schema(
    schema: &mut Value,
    budget: usize,
    pointer: &str,
    label: &str,
    diagnostics: &mut Diagnostics,
) {
    let before = schema.to_string().len();
    if before <= budget {
        return;
    }
    let mut last = None;
    for trim in [Trim::NestedTitles, Trim::FirstSentences, Trim::NestedDescriptions] {
        trim_below_arguments(schema, trim);
        last = Some(trim);
        if schema.to_string().len() <= budget {
            break;
        }
    }
    let after = schema.to_string().len();
    let what = last.map_or("nothing", Trim::says);
    let diagnostic = if after <= budget {
        Diagnostic::note(
            "C0112",
            pointer,
            format!(
                "the input schema is {before} bytes, over the budget of {budget}: {what} are left out ({after} bytes)"
            ),
        )
    } else {
        Diagnostic::warning(
            "C0112",
            pointer,
            format!("the input schema is {before} bytes, over the budget of {budget}, and {after} without {what}"),
        )
    };
    diagnostics.push(
        diagnostic
            .operation(label)
            .hint("constraints are kept; raise `max_input_schema_bytes` in cast.toml to keep the words"),
    );
}

/// Applies `trim` to every schema below the top-level arguments (and in `$defs`).
fn trim_below_arguments(schema: &mut Value, trim: Trim) {
    let Some(root) = schema.as_object_mut() else {
        return;
    };
    if let Some(Value::Object(arguments)) = root.get_mut("properties") {
        for argument in arguments.values_mut() {
            // The argument's own words stay; what lies below it is trimmed.
            if let Value::Object(map) = argument {
                for (key, value) in map.iter_mut() {
                    if key != "description" && key != "title" {
                        trim_schema_words(value, trim, key);
                    }
                }
            }
        }
    }
    if let Some(defs) = root.get_mut("$defs") {
        trim_schema_words(defs, trim, "$defs");
    }
}

/// `parent` is the keyword `value` sits under: under `properties`, `$defs` and the like,
/// keys are names, not keywords, and a property may be called `title`.
fn trim_schema_words(value: &mut Value, trim: Trim, parent: &str) {
    const NAMED: &[&str] = &["properties", "patternProperties", "$defs", "dependentSchemas"];
    // Data, not schemas.
    if matches!(parent, "enum" | "const" | "default" | "examples") {
        return;
    }
    match value {
        Value::Object(map) if NAMED.contains(&parent) => {
            for inner in map.values_mut() {
                trim_schema_words(inner, trim, "");
            }
        }
        Value::Object(map) => {
            map.remove("title");
            match trim {
                Trim::NestedTitles => {}
                Trim::FirstSentences => {
                    if let Some(Value::String(text)) = map.get_mut("description") {
                        let first = first_sentence(text).to_owned();
                        *text = first;
                    }
                }
                Trim::NestedDescriptions => {
                    map.remove("description");
                }
            }
            for (key, inner) in map.iter_mut() {
                trim_schema_words(inner, trim, key);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| trim_schema_words(item, trim, "")),
        _ => {}
    }
}

/// Up to the end of the first sentence or paragraph.
fn first_sentence(text: &str) -> &str {
    let ends = [". ", ".\n", "\n\n"];
    let end = ends.iter().filter_map(|e| text.find(e).map(|at| at + 1)).min();
    match end {
        Some(at) => text[..at].trim_end(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_below_the_arguments_go_first_and_constraints_stay() {
        let mut schema = json!({
            "type": "object",
            "properties": { "filter": {
                "description": "The filter. It narrows the list.",
                "type": "object",
                "properties": {
                    "title": { "type": "string", "title": "Title", "description": "Match the title. Case folds.", "maxLength": 9 }
                }
            } },
            "$defs": { "Node": { "title": "Node", "description": "A node. Long story.", "enum": [{ "title": "kept" }] } }
        });
        trim_below_arguments(&mut schema, Trim::FirstSentences);
        assert_eq!(
            schema,
            json!({
                "type": "object",
                "properties": { "filter": {
                    "description": "The filter. It narrows the list.",
                    "type": "object",
                    "properties": { "title": { "type": "string", "description": "Match the title.", "maxLength": 9 } }
                } },
                "$defs": { "Node": { "description": "A node.", "enum": [{ "title": "kept" }] } }
            })
        );
        let mut diagnostics = Diagnostics::default();
        let budget = 210;
        fit_input_schema(&mut schema, budget, "/p", "op", &mut diagnostics);
        assert!(schema.to_string().len() <= budget, "{schema}");
        assert_eq!(schema["properties"]["filter"]["properties"]["title"]["maxLength"], 9);
        assert!(schema["$defs"]["Node"].get("description").is_none(), "{schema}");
        let note = diagnostics.iter().find(|d| d.code == "C0112").expect("a note");
        assert!(
            note.message
                .contains("the titles and descriptions of nested schemas are left out"),
            "{note}"
        );
    }
}
