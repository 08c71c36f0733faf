//! The MCP side: an rmcp `ServerHandler` over the static tool table.

use std::{collections::HashMap, sync::Arc};

use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler,
    model::{
        CacheScope, CallToolRequestParams, CallToolResponse, Implementation, ListToolsResult, PaginatedRequestParams,
        ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
    },
    service::RequestContext,
};

use crate::{
    api::{Api, ToolDef},
    call::Call,
    upstream::Upstream,
};

/// Tools never change while a server runs, so clients may cache the list for long.
const TOOL_LIST_TTL_MS: u64 = 60 * 60 * 1000;

/// A generated server, ready to serve over any rmcp transport. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Server(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    api: &'static Api,
    tools: Vec<Tool>,
    by_name: HashMap<&'static str, (&'static ToolDef, usize)>,
    upstream: Arc<Upstream>,
}

impl Server {
    /// Parses every tool's schema once, so listing tools is a clone of ready data.
    pub fn new(api: &'static Api, upstream: Upstream) -> Result<Self, String> {
        let mut tools = Vec::with_capacity(api.tools.len());
        let mut by_name = HashMap::with_capacity(api.tools.len());
        for (index, def) in api.tools.iter().enumerate() {
            tools.push(describe(def)?);
            by_name.insert(def.name, (*def, index));
        }
        Ok(Self(Arc::new(Inner {
            api,
            tools,
            by_name,
            upstream: Arc::new(upstream),
        })))
    }

    /// The tools as advertised.
    pub fn tools(&self) -> &[Tool] {
        &self.0.tools
    }
}

fn describe(def: &ToolDef) -> Result<Tool, String> {
    let schema = match serde_json::from_str(def.input_schema) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => return Err(format!("tool `{}` has an invalid input schema", def.name)),
    };
    let annotations = ToolAnnotations::new()
        .read_only(def.annotations.read_only)
        .destructive(def.annotations.destructive)
        .idempotent(def.annotations.idempotent)
        .open_world(true);
    let mut tool =
        Tool::new_with_raw(def.name, Some(def.description.into()), Arc::new(schema)).with_annotations(annotations);
    if let Some(output) = def.output_schema {
        match serde_json::from_str(output) {
            Ok(serde_json::Value::Object(map)) => tool = tool.with_raw_output_schema(Arc::new(map)),
            _ => return Err(format!("tool `{}` has an invalid output schema", def.name)),
        }
    }
    if let Some(title) = def.title {
        tool = tool.with_title(title);
    }
    Ok(tool)
}

impl ServerHandler for Server {
    fn get_info(&self) -> ServerConfig {
        let api = self.0.api;
        let mut info = Implementation::new(api.name, api.version);
        info.title = Some(api.title.to_owned());
        let config = ServerConfig::new(ServerCapabilities::builder().enable_tools().build()).with_server_info(info);
        match api.instructions {
            Some(text) => config.with_instructions(text),
            None => config,
        }
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        Ok(ListToolsResult::with_all_items(self.0.tools.clone())
            .with_ttl_ms(TOOL_LIST_TTL_MS)
            .with_cache_scope(CacheScope::Public))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.0.by_name.get(name).map(|(_, index)| self.0.tools[*index].clone())
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let Some((def, _)) = self.0.by_name.get(request.name.as_ref()) else {
            return Err(McpError::invalid_params(
                format!("unknown tool `{}`", request.name),
                None,
            ));
        };
        let call = Call {
            upstream: self.0.upstream.clone(),
            tool: def,
            args: request.arguments.unwrap_or_default(),
        };
        Ok((def.call)(call).await.into())
    }
}
