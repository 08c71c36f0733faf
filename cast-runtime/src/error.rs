//! Tool results that report a failure, shared by every layer that can fail a call.

use rmcp::model::{CallToolResult, ContentBlock};

/// A tool error result with one text block.
pub fn tool_error(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.into())])
}
