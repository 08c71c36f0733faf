//! The MCP side: an rmcp `ServerHandler` over the static tool table.

use std::{collections::HashMap, sync::Arc, time::Instant};

use rmcp::{
    ErrorData as McpError, RoleServer, ServerHandler,
    model::{
        CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, ListResourcesResult,
        ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult,
        Resource, ResourceContents, ServerCapabilities, ServerConfig, Tool, ToolAnnotations,
    },
    service::RequestContext,
};

use crate::{
    api::{Api, Call, Mode, ToolDef},
    catalog::{self, Catalog},
    confirm::{Answer, Confirmer, Verdict},
    constraints::Constraints,
    fragments::Fragments,
    inbound::Caller,
    observe::{self, CallSite, ErrorClass, Record, Trace},
    sealed::MasterKey,
    upstream::Upstream,
};

/// Tools never change while a server runs, so clients may cache the list for long.
const TOOL_LIST_TTL_MS: u64 = 60 * 60 * 1000;
/// Concurrent tool calls at most, by default (`--max-concurrent-calls`).
pub const DEFAULT_MAX_CONCURRENT_CALLS: u32 = 64;
/// `/readyz` trusts an upstream answer this recent; past it, it tries a connection.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(30);
/// How long a call past the cap waits for a slot before it is refused as busy.
const BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// How a [`Server`] runs, beyond its API and upstream.
#[derive(Debug)]
pub struct ServerOptions {
    /// Tool calls in flight at most (`--max-concurrent-calls`).
    pub max_concurrent_calls: u32,
    /// Serve only tools whose operation is read-only (`--read-only`).
    pub read_only: bool,
    /// The master key, when there is one: confirmations are sealed under a key derived
    /// from it, so every replica configured alike can resume them. Without it they can
    /// be resumed by this process only.
    pub master_key: Option<MasterKey>,
}

impl Default for ServerOptions {
    fn default() -> Self {
        Self {
            max_concurrent_calls: DEFAULT_MAX_CONCURRENT_CALLS,
            read_only: false,
            master_key: None,
        }
    }
}

/// A generated server, ready to serve over any rmcp transport. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Server(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    api: &'static Api,
    /// Every tool as a direct tool would be advertised, by index.
    tools: Vec<Tool>,
    /// Which tools are listed and called by their own name (all of them in tools mode).
    direct: Vec<bool>,
    /// The operations behind `search_operations` / `call_operation`, and those three.
    catalog: Option<(Catalog, Vec<Tool>)>,
    by_name: HashMap<&'static str, (&'static ToolDef, usize)>,
    /// Each tool's argument constraints, by index.
    constraints: Vec<Arc<Constraints>>,
    /// `[inbound.scopes]` resolved: each scope and the tools (by index) it grants.
    grants: Vec<(&'static str, Vec<bool>)>,
    upstream: Arc<Upstream>,
    /// One permit per call in flight; also how shutdown knows when all calls are done.
    calls: Arc<tokio::sync::Semaphore>,
    max_calls: u32,
    /// Asks the user before tools marked `confirm` send anything.
    confirmer: Confirmer,
}

impl Server {
    /// Parses every tool's schema once, so listing tools is a clone of ready data.
    /// With `read_only`, only tools whose operation is read-only are listed and callable.
    pub fn new(api: &'static Api, upstream: Upstream, options: ServerOptions) -> Result<Self, String> {
        let ServerOptions {
            max_concurrent_calls,
            read_only,
            master_key,
        } = options;
        if max_concurrent_calls == 0 {
            return Err("--max-concurrent-calls must be at least 1".to_owned());
        }
        let fragments = Fragments::parse(api.fragments)?;
        let mut tools = Vec::with_capacity(api.tools.len());
        let mut by_name = HashMap::with_capacity(api.tools.len());
        let mut constraints = Vec::with_capacity(api.tools.len());
        for (index, def) in api.tools.iter().enumerate() {
            let tool = describe(def, &fragments)?;
            constraints.push(Arc::new(Constraints::new(tool.input_schema.clone())));
            tools.push(tool);
            if !read_only || def.annotations.read_only {
                by_name.insert(def.name, (*def, index));
            }
        }
        let served = |index: usize| !read_only || api.tools[index].annotations.read_only;
        let direct: Vec<bool> = api
            .tools
            .iter()
            .enumerate()
            .map(|(index, tool)| {
                served(index)
                    && match api.mode {
                        Mode::Tools => true,
                        Mode::Catalog => false,
                        Mode::Both => api.direct.contains(&tool.name),
                    }
            })
            .collect();
        let catalog = (api.mode != Mode::Tools).then(|| {
            let held: Vec<usize> = (0..api.tools.len()).filter(|&i| served(i) && !direct[i]).collect();
            let annotations: Vec<_> = held.iter().map(|&i| api.tools[i].annotations).collect();
            let catalog_tools = catalog::tools(&annotations);
            (Catalog::new(api.tools, held.into_iter()), catalog_tools)
        });
        let grants = api
            .inbound_scopes
            .iter()
            .map(|(scope, grants)| {
                let tools = api
                    .tools
                    .iter()
                    .map(|tool| grants.iter().any(|g| grants_tool(g, tool)))
                    .collect();
                (*scope, tools)
            })
            .collect();
        Ok(Self(Arc::new(Inner {
            api,
            tools,
            direct,
            catalog,
            by_name,
            constraints,
            grants,
            upstream: Arc::new(upstream),
            calls: Arc::new(tokio::sync::Semaphore::new(max_concurrent_calls as usize)),
            max_calls: max_concurrent_calls,
            confirmer: Confirmer::new(master_key.as_ref())?,
        })))
    }

    /// `io.cast/toolsLock`, when the crate has a `tools.lock`.
    fn lock_meta(&self) -> Option<rmcp::model::MetaObject> {
        let lock = self.0.api.tools_lock;
        (!lock.is_empty()).then(|| {
            let mut meta = serde_json::Map::new();
            meta.insert("io.cast/toolsLock".to_owned(), serde_json::json!(lock));
            rmcp::model::MetaObject(meta)
        })
    }

    /// How many served tools wait for the user's confirmation.
    pub(crate) fn confirmed(&self) -> usize {
        self.0.by_name.values().filter(|(def, _)| def.confirm).count()
    }

    /// Whether other processes with the same master key can resume this one's confirmations.
    pub(crate) fn confirmations_shared(&self) -> bool {
        self.0.confirmer.shared()
    }

    /// How many tools are served (listed directly or behind the catalog).
    pub(crate) fn served(&self) -> usize {
        self.0.by_name.len()
    }

    /// Tool calls running now.
    /// Whether this server should take traffic (`/readyz`).
    pub(crate) async fn readiness(&self) -> Result<(), String> {
        self.0.upstream.readiness(READY_WITHIN).await
    }

    pub(crate) fn calls_in_flight(&self) -> usize {
        self.0.max_calls as usize - self.0.calls.available_permits()
    }

    /// Resolves once no tool call is running.
    pub(crate) async fn drained(&self) {
        // Holding every permit at once means nothing else holds one.
        if let Ok(permits) = self.0.calls.acquire_many(self.0.max_calls).await {
            drop(permits);
        }
    }

    /// Whether callers see only the tools their scopes grant.
    pub(crate) fn restricts(&self) -> bool {
        !self.0.grants.is_empty()
    }

    /// Whether `caller` may call the tool at `index`. Callers are only known over HTTP
    /// with inbound auth; without scopes configured, every authenticated caller may.
    fn may(&self, caller: Option<&Caller>, index: usize) -> bool {
        match caller {
            Some(caller) if self.restricts() => self
                .0
                .grants
                .iter()
                .any(|(scope, tools)| tools[index] && caller.scopes.iter().any(|s| s == scope)),
            _ => true,
        }
    }

    /// Whether `caller` may call the tool named `name` (unknown names are left to the
    /// protocol layer, which says so).
    pub(crate) fn may_call(&self, caller: &Caller, name: &str) -> bool {
        self.0
            .by_name
            .get(name)
            .is_none_or(|(_, index)| self.may(Some(caller), *index))
    }

    /// The scopes that grant the tool named `name`, for an `insufficient_scope` answer.
    pub(crate) fn scopes_granting(&self, name: &str) -> Vec<&'static str> {
        let Some((_, index)) = self.0.by_name.get(name) else {
            return Vec::new();
        };
        self.0
            .grants
            .iter()
            .filter(|(_, tools)| tools[*index])
            .map(|(scope, _)| *scope)
            .collect()
    }

    /// The API this server serves.
    pub(crate) fn api(&self) -> &'static Api {
        self.0.api
    }

    /// The tools as listed to a caller with every scope: the direct ones, then the
    /// catalog's three.
    pub fn tools(&self) -> Vec<Tool> {
        self.listed(|_| true)
    }

    /// The tools listed to a caller who may call the tools `allowed` admits.
    fn listed(&self, allowed: impl Fn(usize) -> bool) -> Vec<Tool> {
        let mut listed: Vec<Tool> = (0..self.0.tools.len())
            .filter(|&index| self.0.direct[index] && allowed(index))
            .map(|index| self.0.tools[index].clone())
            .collect();
        if let Some((catalog, tools)) = &self.0.catalog
            && (0..self.0.tools.len()).any(|index| catalog.holds(index) && allowed(index))
        {
            listed.extend(tools.iter().cloned());
        }
        listed
    }

    /// A catalog tool's answer: a search, a description, or the call of an operation.
    async fn catalog_call(
        &self,
        name: &str,
        args: serde_json::Map<String, serde_json::Value>,
        caller: Option<&Caller>,
        context: &RequestContext<RoleServer>,
        answer: Answer<'_>,
    ) -> Result<CallToolResponse, McpError> {
        let Some((catalog, _)) = &self.0.catalog else {
            return Err(McpError::invalid_params(format!("unknown tool `{name}`"), None));
        };
        let visible = |index: usize| catalog.holds(index) && self.may(caller, index);
        let text = |value: serde_json::Value| -> Result<CallToolResponse, McpError> {
            Ok(CallToolResult::success(vec![rmcp::model::ContentBlock::text(value.to_string())]).into())
        };
        // The operation a describe or call names, or why there is none.
        let operation =
            |args: &serde_json::Map<String, serde_json::Value>| -> Result<(&'static ToolDef, usize), String> {
                let Some(wanted) = args.get("name").and_then(serde_json::Value::as_str) else {
                    return Err(format!(
                        "`{name}` needs `name`, an operation's name from `{}`",
                        catalog::SEARCH
                    ));
                };
                match self.0.by_name.get(wanted) {
                    Some(&(def, index)) if visible(index) => Ok((def, index)),
                    _ => {
                        // The agent's text, echoed only as far as a name goes.
                        let shown: String = wanted.chars().take(100).collect();
                        Err(format!(
                            "there is no operation `{shown}`: `{}` finds operations by what they do",
                            catalog::SEARCH
                        ))
                    }
                }
            };
        match name {
            catalog::SEARCH => {
                let Some(query) = args.get("query").and_then(serde_json::Value::as_str) else {
                    return Ok(crate::error::tool_error(
                        "`search_operations` needs `query`, a few words of what to do",
                    )
                    .into());
                };
                let hits = catalog.search(query, catalog::limit_of(&args), visible);
                let operations: Vec<serde_json::Value> = hits
                    .iter()
                    .map(|hit| catalog::hit_json(self.0.api.tools[hit.index]))
                    .collect();
                text(serde_json::json!({ "operations": operations, "of": catalog.len() }))
            }
            catalog::DESCRIBE => match operation(&args) {
                Ok((def, index)) => {
                    let tool = &self.0.tools[index];
                    let mut described = serde_json::to_value(tool).unwrap_or_default();
                    described["method"] = serde_json::json!(def.method.as_str());
                    described["path"] = serde_json::json!(def.path_template);
                    text(described)
                }
                Err(why) => Ok(crate::error::tool_error(why).into()),
            },
            _ => match operation(&args) {
                Ok((def, index)) => {
                    let arguments = match args.get("arguments") {
                        None | Some(serde_json::Value::Null) => serde_json::Map::new(),
                        Some(serde_json::Value::Object(map)) => map.clone(),
                        Some(_) => {
                            return Ok(crate::error::tool_error(
                                "`arguments` must be an object of the operation's arguments",
                            )
                            .into());
                        }
                    };
                    self.run_tool(def, index, arguments, caller, context, answer).await
                }
                Err(why) => Ok(crate::error::tool_error(why).into()),
            },
        }
    }

    /// Runs one tool under the concurrency cap, cancelled with its request; logs its one line.
    async fn run_tool(
        &self,
        def: &'static ToolDef,
        index: usize,
        args: serde_json::Map<String, serde_json::Value>,
        caller: Option<&Caller>,
        context: &RequestContext<RoleServer>,
        answer: Answer<'_>,
    ) -> Result<CallToolResponse, McpError> {
        let started = Instant::now();
        let trace = Trace::continuing(context.meta.get_traceparent());
        let site = CallSite {
            tool: def,
            mcp_id: &context.id,
            caller: caller.map(|c| &*c.label),
            trace: &trace,
        };
        let mut record = Record::default();
        let Ok(Ok(_permit)) = tokio::time::timeout(BUSY_WAIT, self.0.calls.clone().acquire_owned()).await else {
            record.error = Some(ErrorClass::Busy);
            observe::call_finished(&site, &record, started.elapsed());
            return Ok(busy(self.0.max_calls).into());
        };
        let call = Call {
            tool: def,
            args,
            caller: caller.map(|c| c.label.clone()),
            constraints: self.0.constraints[index].clone(),
        };
        // A client that cancels or goes away cancels the call: dropping its future drops the
        // upstream request (and its connection) on the spot.
        let response = tokio::select! {
            response = self.run(call, context, answer, &trace, &mut record) => Some(response),
            () = context.ct.cancelled() => None,
        };
        if response.is_none() {
            record.error = Some(ErrorClass::Cancelled);
        }
        observe::call_finished(&site, &record, started.elapsed());
        response
            .map(Ok)
            .unwrap_or_else(|| Err(McpError::internal_error("the call was cancelled", None)))
    }
}

impl Server {
    /// Checks the arguments, runs the tool's handler on them, asks the user when the tool
    /// wants confirmation, and sends what the handler built: the one future every tool
    /// shares. No handler can skip the check, and nothing unconfirmed is sent.
    async fn run(
        &self,
        mut call: Call,
        context: &RequestContext<RoleServer>,
        answer: Answer<'_>,
        trace: &Trace,
        record: &mut Record,
    ) -> CallToolResponse {
        let tool = call.tool;
        let prepared = match call.checked().and_then(|()| (tool.handle)(&mut call)) {
            Ok(prepared) => prepared,
            Err(refusal) => {
                record.error = Some(ErrorClass::Arguments);
                return CallToolResult::from(refusal).into();
            }
        };
        if tool.confirm {
            match self
                .0
                .confirmer
                .confirm(self.0.api, &prepared, &call.args, context, answer)
                .await
            {
                Verdict::Proceed => {}
                Verdict::Ask(question) => {
                    record.asked = true;
                    return question.into();
                }
                Verdict::Refuse(refusal) => {
                    record.error = Some(ErrorClass::NotConfirmed);
                    return refusal.into();
                }
            }
        }
        self.0.upstream.send(prepared, trace, record).await.into()
    }
}

/// The refusal of a call past `--max-concurrent-calls`: a tool error a client can retry.
fn busy(limit: u32) -> rmcp::model::CallToolResult {
    let mut result = crate::error::tool_error(format!(
        "busy: {limit} calls are in flight, the most this server runs at once; retry in a second"
    ));
    let mut meta = serde_json::Map::new();
    meta.insert("io.cast/busy".to_owned(), serde_json::json!({ "retryAfterMs": 1000 }));
    result.meta = Some(rmcp::model::MetaObject(meta));
    result
}

/// Whether one `[inbound.scopes]` entry (a tool name or a class) covers `tool`.
fn grants_tool(grant: &str, tool: &ToolDef) -> bool {
    let a = tool.annotations;
    match grant {
        "read" => a.read_only,
        "write" => !a.read_only && !a.destructive,
        "destructive" => a.destructive,
        name => name == tool.name,
    }
}

/// The authenticated caller of a request, when it came over HTTP with inbound auth.
fn caller_of(context: &RequestContext<RoleServer>) -> Option<&Caller> {
    context
        .extensions
        .get::<axum::http::request::Parts>()
        .and_then(|parts| parts.extensions.get::<Caller>())
}

fn describe(def: &ToolDef, fragments: &Fragments) -> Result<Tool, String> {
    let schema = match fragments.expand_text(def.input_schema) {
        Some(serde_json::Value::Object(map)) => map,
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
        match fragments.expand_text(output) {
            Some(serde_json::Value::Object(map)) => tool = tool.with_raw_output_schema(Arc::new(map)),
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
        // Resources are the whole bodies of cut results, each linked from its result.
        let capabilities = ServerCapabilities::builder().enable_tools().enable_resources().build();
        let mut config = ServerConfig::new(capabilities).with_server_info(info);
        config.meta = self.lock_meta();
        match api.instructions {
            Some(text) => config.with_instructions(text),
            None => config,
        }
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, McpError> {
        let caller = caller_of(&context);
        if let Some(caller) = caller.filter(|_| self.restricts()) {
            // The list depends on who asks: no shared cache may keep it.
            let tools = self.listed(|index| self.may(Some(caller), index));
            let mut result = ListToolsResult::with_all_items(tools);
            result.meta = self.lock_meta();
            return Ok(result
                .with_ttl_ms(TOOL_LIST_TTL_MS)
                .with_cache_scope(CacheScope::Private));
        }
        let mut result = ListToolsResult::with_all_items(self.tools());
        result.meta = self.lock_meta();
        Ok(result
            .with_ttl_ms(TOOL_LIST_TTL_MS)
            .with_cache_scope(CacheScope::Public))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, McpError> {
        let owner = caller_of(&context).map(|c| c.label.as_ref());
        let resources = self
            .0
            .upstream
            .spills()
            .list(owner)
            .into_iter()
            .map(|held| {
                Resource::new(held.uri, format!("{} result", held.tool))
                    .with_mime_type(held.media)
                    .with_size(held.body.len() as u64)
            })
            .collect();
        // The list is the caller's own and changes with every cut result.
        Ok(ListResourcesResult::with_all_items(resources)
            .with_ttl_ms(0)
            .with_cache_scope(CacheScope::Private))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, McpError> {
        use base64::Engine as _;
        let owner = caller_of(&context).map(|c| c.label.as_ref());
        // Another caller's body and an expired one are alike: not there.
        let Some(held) = self.0.upstream.spills().read(&request.uri, owner) else {
            return Err(McpError::resource_not_found(
                "no such resource: the whole bodies of cut results are held for a few minutes, for the caller that got them",
                Some(serde_json::json!({ "uri": request.uri })),
            ));
        };
        let textual = held.media.is_empty()
            || held.media.starts_with("text/")
            || held.media.ends_with("json")
            || held.media.ends_with("xml");
        let contents = match (textual, std::str::from_utf8(&held.body)) {
            (true, Ok(text)) => ResourceContents::text(text, held.uri).with_mime_type(held.media),
            _ => ResourceContents::blob(base64::engine::general_purpose::STANDARD.encode(&*held.body), held.uri)
                .with_mime_type(held.media),
        };
        Ok(ReadResourceResult::new(vec![contents]).into())
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        match self.0.by_name.get(name) {
            Some((_, index)) if self.0.direct[*index] => Some(self.0.tools[*index].clone()),
            _ => self
                .0
                .catalog
                .as_ref()
                .and_then(|(_, tools)| tools.iter().find(|t| t.name == name).cloned()),
        }
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, McpError> {
        let caller = caller_of(&context);
        let args = request.arguments.unwrap_or_default();
        let answer = Answer {
            request_state: request.request_state.as_deref(),
            responses: request.input_responses.as_ref(),
        };
        // A tool the caller may not call is, to that caller, a tool that does not exist
        // (the HTTP layer has already answered 403; this holds for any transport). A tool
        // behind the catalog is called through `call_operation` only.
        match self.0.by_name.get(request.name.as_ref()) {
            Some(&(def, index)) if self.0.direct[index] && self.may(caller, index) => {
                self.run_tool(def, index, args, caller, &context, answer).await
            }
            Some(_) => Err(McpError::invalid_params(
                format!("unknown tool `{}`", request.name),
                None,
            )),
            None if matches!(
                request.name.as_ref(),
                catalog::SEARCH | catalog::DESCRIBE | catalog::CALL
            ) =>
            {
                self.catalog_call(request.name.as_ref(), args, caller, &context, answer)
                    .await
            }
            None => Err(McpError::invalid_params(
                format!("unknown tool `{}`", request.name),
                None,
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Annotations;

    static READ: ToolDef = ToolDef {
        name: "listItems",
        search_terms: "3:list 3:items",
        ..ToolDef::BASE
    };
    static DELETE: ToolDef = ToolDef {
        name: "deleteItem",
        annotations: Annotations::DESTRUCTIVE,
        search_terms: "3:delete 3:item",
        ..ToolDef::BASE
    };
    static STATUS: ToolDef = ToolDef {
        name: "getStatus",
        search_terms: "3:get 3:status",
        ..ToolDef::BASE
    };

    fn server(api: &'static Api) -> Server {
        let upstream = Upstream::new(crate::upstream::test_config("http://127.0.0.1:9")).expect("upstream");
        let options = ServerOptions {
            max_concurrent_calls: 4,
            ..ServerOptions::default()
        };
        Server::new(api, upstream, options).expect("server")
    }

    fn names(server: &Server) -> Vec<String> {
        server.tools().iter().map(|t| t.name.to_string()).collect()
    }

    #[test]
    fn each_mode_lists_what_it_says() {
        static TOOLS: Api = Api {
            tools: &[&READ, &DELETE, &STATUS],
            ..Api::BASE
        };
        static CATALOG: Api = Api {
            tools: &[&READ, &DELETE, &STATUS],
            mode: Mode::Catalog,
            ..Api::BASE
        };
        static BOTH: Api = Api {
            tools: &[&READ, &DELETE, &STATUS],
            mode: Mode::Both,
            direct: &["getStatus"],
            ..Api::BASE
        };
        assert_eq!(names(&server(&TOOLS)), ["listItems", "deleteItem", "getStatus"]);
        let catalog = server(&CATALOG);
        assert_eq!(
            names(&catalog),
            ["search_operations", "describe_operation", "call_operation"]
        );
        let call = &catalog.tools()[2];
        let hints = call.annotations.as_ref().expect("annotations");
        assert_eq!(
            (hints.read_only_hint, hints.destructive_hint),
            (Some(false), Some(true))
        );
        let both = server(&BOTH);
        assert_eq!(
            names(&both),
            ["getStatus", "search_operations", "describe_operation", "call_operation"]
        );
        let (held, _) = both.0.catalog.as_ref().expect("a catalog");
        assert_eq!(held.len(), 2, "the direct tool is not behind the catalog too");
        assert!(held.search("status", 10, |_| true).is_empty());
        assert_eq!(held.search("delete item", 10, |_| true)[0].index, 1);
        assert!(
            both.get_tool("listItems").is_none(),
            "a catalogued tool is no tool of its own"
        );
        assert!(both.get_tool("call_operation").is_some());
    }
}
