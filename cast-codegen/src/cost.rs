//! What a generated server costs an agent: the bytes and estimated tokens of its
//! `tools/list`, per tool and in all, against the limits clients are known to have, and
//! the `[budget]` that turns an overrun into an error.

use serde_json::{Value, json};

use crate::{
    diag::{Diagnostic, Diagnostics},
    ir::{ApiIr, ToolIr},
    settings::Settings,
};

/// JSON bytes per token of the estimate. Measured once against OpenAI's `o200k_base`
/// tokenizer on the corpus's `tools/list` payloads (`cargo run --release -p cast-e2e
/// --features tokenizer --bin token-estimate`; BENCHMARKS.md has the table): 4.37 bytes
/// per token over all, 3.69 to 4.78 per spec. 4.0 errs towards more tokens, as a budget
/// should, and towards tokenizers that cut JSON finer.
pub const BYTES_PER_TOKEN: f64 = 4.0;

/// Limits clients are known to put on tools, for the report.
pub const CLIENT_LIMITS: &[(&str, usize)] = &[("Cursor (tools)", 40), ("OpenAI API (tools)", 128)];

/// The estimated tokens of `bytes` of `tools/list` JSON.
pub fn estimate_tokens(bytes: usize) -> usize {
    (bytes as f64 / BYTES_PER_TOKEN).ceil() as usize
}

/// The entry `tools/list` sends for one tool.
pub fn listed(tool: &ToolIr, with_output: bool) -> Value {
    let mut entry = json!({
        "name": tool.name,
        "description": tool.description,
        "inputSchema": tool.input_schema,
        "annotations": {
            "readOnlyHint": tool.annotations.read_only,
            "destructiveHint": tool.annotations.destructive,
            "idempotentHint": tool.annotations.idempotent,
            "openWorldHint": true,
        },
    });
    if let Some(title) = &tool.title {
        entry["title"] = json!(title);
    }
    if with_output && let Some(output) = &tool.output_schema {
        entry["outputSchema"] = output.clone();
    }
    entry
}

/// One tool's share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCost {
    /// The tool.
    pub name: String,
    /// Bytes of its `tools/list` entry.
    pub bytes: usize,
    /// Estimated tokens of it.
    pub tokens: usize,
}

/// The whole list's cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cost {
    /// Every served tool, in list order.
    pub tools: Vec<ToolCost>,
    /// Bytes of the whole `{"tools":[…]}`.
    pub bytes: usize,
    /// Estimated tokens of it.
    pub tokens: usize,
    /// What a client that defers schemas shows the model: names and instructions.
    pub deferred_tokens: usize,
}

impl Cost {
    /// The cost of the tools `api` serves.
    pub fn of(api: &ApiIr) -> Self {
        let tools: Vec<ToolCost> = api
            .enabled_tools()
            .map(|tool| {
                let bytes = listed(tool, true).to_string().len();
                ToolCost {
                    name: tool.name.clone(),
                    bytes,
                    tokens: estimate_tokens(bytes),
                }
            })
            .collect();
        // `{"tools":[` … `]}` and the commas between entries.
        let bytes = tools.iter().map(|t| t.bytes).sum::<usize>() + tools.len().saturating_sub(1) + 12;
        let names: usize = tools.iter().map(|t| t.name.len() + 1).sum();
        let instructions = api.instructions.as_deref().map_or(0, str::len);
        Self {
            bytes,
            tokens: estimate_tokens(bytes),
            deferred_tokens: estimate_tokens(names + instructions),
            tools,
        }
    }

    /// The `largest` tools, largest first.
    pub fn largest(&self, count: usize) -> Vec<&ToolCost> {
        let mut sorted: Vec<&ToolCost> = self.tools.iter().collect();
        sorted.sort_by(|a, b| b.bytes.cmp(&a.bytes).then_with(|| a.name.cmp(&b.name)));
        sorted.truncate(count);
        sorted
    }

    /// A few lines for a terminal: totals, the largest tools, the client limits passed.
    pub fn summary(&self) -> String {
        let mut out = format!(
            "tools/list: {} tools, {} bytes, ~{} tokens (a client that defers schemas shows ~{} tokens of names and instructions)\n",
            self.tools.len(),
            self.bytes,
            self.tokens,
            self.deferred_tokens
        );
        for tool in self.largest(5) {
            out.push_str(&format!(
                "  {:>8} bytes  ~{:>6} tokens  {}\n",
                tool.bytes, tool.tokens, tool.name
            ));
        }
        for (client, limit) in CLIENT_LIMITS {
            if self.tools.len() > *limit {
                out.push_str(&format!(
                    "  over {client}: {limit} at most, {} served (narrow with --tag/--path/--only)\n",
                    self.tools.len()
                ));
            }
        }
        out
    }
}

/// `[budget] max_tokens` and `max_tools`: an overrun is an error, so CI can hold the line.
pub fn check_budget(api: &ApiIr, settings: &Settings, diagnostics: &mut Diagnostics) {
    let budget = &settings.budget;
    if budget.max_tokens.is_none() && budget.max_tools.is_none() {
        return;
    }
    let cost = Cost::of(api);
    if let Some(max) = budget.max_tools
        && cost.tools.len() > max
    {
        diagnostics.push(
            Diagnostic::error(
                "C0113",
                "",
                format!("{} tools are served, over [budget] max_tools = {max}", cost.tools.len()),
            )
            .hint("disable tools ([tools] disable, include_tags, include_paths) or raise the budget"),
        );
    }
    if let Some(max) = budget.max_tokens
        && cost.tokens > max
    {
        let largest: Vec<String> = cost
            .largest(3)
            .iter()
            .map(|t| format!("`{}` ~{}", t.name, t.tokens))
            .collect();
        diagnostics.push(
            Diagnostic::error(
                "C0113",
                "",
                format!(
                    "tools/list is ~{} tokens ({} bytes), over [budget] max_tokens = {max}",
                    cost.tokens, cost.bytes
                ),
            )
            .hint(format!(
                "the largest tools: {}; leave tools out, set output_schemas = false, or raise the budget",
                largest.join(", ")
            )),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_up() {
        assert_eq!(estimate_tokens(0), 0);
        assert_eq!(estimate_tokens(1), 1);
        assert_eq!(estimate_tokens(40), 10);
    }
}
