//! Confirmation of calls that may destroy data: before the upstream request of a tool
//! marked `confirm` is sent, the server asks the user through the client (elicitation)
//! and sends it only on an explicit yes. A model cannot answer for the user: the question
//! goes to the client application, which shows it to a person.
//!
//! On 2026-07-28 the question is an `input_required` result whose `requestState` is
//! sealed (HMAC, [`RequestStateCodec`]) and bound to the server, the caller, the tool and
//! its exact arguments, so any replica with the same master key can check the answer and
//! go on without shared state. On the `initialize` era it is an `elicitation/create`
//! request on the live connection. A client that cannot ask is refused, never trusted.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use rmcp::{
    RoleServer,
    model::{
        CallToolResult, ElicitRequest, ElicitRequestParams, ElicitResult, ElicitationAction, ElicitationSchema,
        InputRequest, InputRequests, InputRequiredResult, InputResponses, ProtocolVersion, RequestStateCodec,
        SealOptions,
    },
    service::RequestContext,
};
use sha2::{Digest as _, Sha256};

use crate::{
    api::{Api, Prepared},
    error::tool_error,
    sealed::MasterKey,
};

/// How long the user has to answer, and the client to come back with the answer.
pub(crate) const ANSWER_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// The key of the one question in `inputRequests` / `inputResponses`.
const QUESTION: &str = "confirm";
/// The form's one field, which must come back `true`.
const FIELD: &str = "confirm";
/// The most argument text the question shows; the rest is elided (it is still checked,
/// through the binding, to be exactly what was asked about).
const MAX_SHOWN_ARGUMENTS: usize = 2_000;

/// What the confirmation step decided.
pub(crate) enum Verdict {
    /// The user said yes to exactly this call.
    Proceed,
    /// Ask first: the result to return to the client.
    Ask(InputRequiredResult),
    /// Nothing is sent: the tool error says why.
    Refuse(CallToolResult),
}

/// What a retried `tools/call` brought back from the question.
#[derive(Clone, Copy, Default)]
pub(crate) struct Answer<'a> {
    /// The sealed state, echoed by the client.
    pub(crate) request_state: Option<&'a str>,
    /// The client's answers, by question key.
    pub(crate) responses: Option<&'a InputResponses>,
}

/// Asks users and checks their answers. One per server.
pub(crate) struct Confirmer {
    codec: RequestStateCodec,
    /// Whether the key comes from the master key (shared by replicas) or from this process.
    shared: bool,
    /// States already redeemed here, until they expire: a confirmation is good for one
    /// call. Replicas do not share this, so across them a replay of the same confirmed
    /// call by the same caller within [`ANSWER_TIMEOUT`] is possible; nothing else is.
    redeemed: Mutex<HashMap<[u8; 32], Instant>>,
}

impl std::fmt::Debug for Confirmer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Confirmer")
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl Confirmer {
    /// Seals states under a key derived from `master` when there is one (every replica
    /// configured alike can resume), else under a key of this process alone.
    pub(crate) fn new(master: Option<&MasterKey>) -> Result<Self, String> {
        let (key, shared) = match master {
            Some(master) => (master.derive(b"cast-confirm-request-state-v1"), true),
            None => {
                let mut key = zeroize::Zeroizing::new([0u8; 32]);
                getrandom::fill(&mut *key)
                    .map_err(|e| format!("no key to seal confirmations with: the random generator failed ({e})"))?;
                (key, false)
            }
        };
        let codec = RequestStateCodec::try_new(key.to_vec()).map_err(|e| format!("confirmation key: {e}"))?;
        Ok(Self {
            codec,
            shared,
            redeemed: Mutex::new(HashMap::new()),
        })
    }

    /// Whether another process with the same master key can resume this one's questions.
    pub(crate) fn shared(&self) -> bool {
        self.shared
    }

    /// Decides whether `request` may be sent: asks the user, or checks the answer the
    /// client brought back.
    pub(crate) async fn confirm(
        &self,
        api: &Api,
        request: &Prepared,
        args: &serde_json::Map<String, serde_json::Value>,
        context: &RequestContext<RoleServer>,
        answer: Answer<'_>,
    ) -> Verdict {
        let tool = request.tool.name;
        let binding = binding(api, request, args);
        let modern = context
            .protocol_version()
            .is_some_and(|version| version >= ProtocolVersion::V_2026_07_28);
        if let Some(state) = answer.request_state {
            return self.check(tool, state, &binding, answer.responses);
        }
        let can_ask = context.client_capabilities().is_some_and(|caps| {
            caps.elicitation
                .as_ref()
                .is_some_and(|e| e.url.is_none() || e.form.is_some())
        });
        if !can_ask {
            tracing::warn!(target: "cast::calls", tool, "call refused: needs confirmation, and the client cannot ask the user");
            return Verdict::Refuse(tool_error(format!(
                "`{tool}` needs the user's confirmation before it runs, and this client cannot ask (it does not offer elicitation); nothing was sent. Use a client that can ask the user, or have the operator set [tools.confirm] in cast.toml."
            )));
        }
        let question = question(api, request, args);
        if modern {
            let mut nonce = [0u8; 16];
            if getrandom::fill(&mut nonce).is_err() {
                return Verdict::Refuse(tool_error(format!(
                    "`{tool}` needs the user's confirmation, and the server could not make a question (no randomness); nothing was sent"
                )));
            }
            // The random payload makes every question's state its own, so redeeming one
            // answer never covers another question.
            let state = self.codec.seal_with(
                &nonce,
                &SealOptions::new().associated_data(&binding).ttl(ANSWER_TIMEOUT),
            );
            let mut requests = InputRequests::new();
            requests.insert(
                QUESTION.to_owned(),
                InputRequest::Elicitation(ElicitRequest::new(question)),
            );
            tracing::info!(target: "cast::calls", tool, "asking the user to confirm");
            return Verdict::Ask(InputRequiredResult::new(Some(requests), Some(state)));
        }
        tracing::info!(target: "cast::calls", tool, "asking the user to confirm");
        let asked = context
            .peer
            .create_elicitation_with_timeout(question, Some(ANSWER_TIMEOUT))
            .await;
        match asked {
            Ok(result) => judge(tool, &result),
            Err(error) => {
                tracing::warn!(target: "cast::calls", tool, %error, "call refused: the confirmation was not answered");
                Verdict::Refuse(tool_error(format!(
                    "`{tool}` was not confirmed: the question to the user got no answer ({error}); nothing was sent"
                )))
            }
        }
    }

    /// A retry's answer: the state must be ours, unexpired, unused and bound to this very
    /// call, and the user must have said yes.
    fn check(&self, tool: &str, state: &str, binding: &[u8], responses: Option<&InputResponses>) -> Verdict {
        if self.codec.open_with(state, binding).is_err() {
            // One answer for every failure: which check failed would help a forger only.
            tracing::warn!(target: "cast::calls", tool, "call refused: a confirmation state that does not verify");
            return Verdict::Refuse(tool_error(format!(
                "`{tool}` was not run: its confirmation could not be verified (it expired, was altered, or was given for another call or caller); nothing was sent. Call the tool again to ask the user again."
            )));
        }
        let Some(result) = responses
            .and_then(|r| r.get(QUESTION))
            .and_then(|value| serde_json::from_value::<ElicitResult>(value.clone()).ok())
        else {
            return Verdict::Refuse(tool_error(format!(
                "`{tool}` was not run: the retry carried no answer to the question `{QUESTION}`; nothing was sent"
            )));
        };
        let verdict = judge(tool, &result);
        if matches!(verdict, Verdict::Proceed) && !self.redeem(state) {
            tracing::warn!(target: "cast::calls", tool, "call refused: a confirmation used twice");
            return Verdict::Refuse(tool_error(format!(
                "`{tool}` was not run again: this confirmation was already used for one call; nothing was sent. Call the tool again to ask the user again."
            )));
        }
        verdict
    }

    /// Marks `state` used; false when it already was.
    fn redeem(&self, state: &str) -> bool {
        let key: [u8; 32] = Sha256::digest(state.as_bytes()).into();
        let now = Instant::now();
        let mut redeemed = self.redeemed.lock().unwrap_or_else(|e| e.into_inner());
        redeemed.retain(|_, expires| *expires > now);
        redeemed.insert(key, now + ANSWER_TIMEOUT).is_none()
    }
}

/// The user's answer, read strictly: only an accepted form with the box ticked is a yes.
fn judge(tool: &str, result: &ElicitResult) -> Verdict {
    let ticked = result
        .content
        .as_ref()
        .and_then(|content| content.get(FIELD))
        .and_then(serde_json::Value::as_bool)
        == Some(true);
    let refusal = match result.action {
        ElicitationAction::Accept if ticked => return Verdict::Proceed,
        ElicitationAction::Accept => "the user answered without confirming",
        ElicitationAction::Decline => "the user declined",
        ElicitationAction::Cancel => "the user cancelled",
        _ => "the user's answer was not a yes",
    };
    tracing::info!(target: "cast::calls", tool, answer = refusal, "call refused: not confirmed");
    Verdict::Refuse(tool_error(format!("`{tool}` was not run: {refusal}; nothing was sent")))
}

/// What the user is asked: the tool, the request as it will go out (credentials are
/// added only when it is sent, so none is shown), and the arguments.
fn question(api: &Api, request: &Prepared, args: &serde_json::Map<String, serde_json::Value>) -> ElicitRequestParams {
    let tool = request.tool;
    let mut target = request.path.clone();
    if !request.query.is_empty() {
        target.push('?');
        target.push_str(&request.query);
    }
    let mut shown = serde_json::to_string_pretty(args).unwrap_or_default();
    if shown.len() > MAX_SHOWN_ARGUMENTS {
        let mut cut = MAX_SHOWN_ARGUMENTS;
        while !shown.is_char_boundary(cut) {
            cut -= 1;
        }
        shown.truncate(cut);
        shown.push_str("\n… (longer; the call is held to exactly these arguments)");
    }
    let warning = if tool.annotations.destructive {
        "This may destroy data."
    } else {
        "This changes data."
    };
    let message = format!(
        "An agent wants to run `{}` of {}: {} {target}\n{warning}\n\nArguments:\n{shown}\n\nAllow this one call?",
        tool.name,
        if api.title.is_empty() { api.name } else { api.title },
        tool.method.as_str()
    );
    let requested_schema = ElicitationSchema::builder()
        .required_bool_with(FIELD, |field| {
            field
                .title(format!("Run {}", tool.name))
                .description("Tick to allow this one call; anything else refuses it.")
                .with_default(false)
        })
        .build_unchecked();
    ElicitRequestParams::FormElicitationParams {
        meta: None,
        message,
        requested_schema,
    }
}

/// What a sealed state is bound to: this server, the tool, the caller (the label inbound
/// auth gave it) and the arguments in canonical form, so an answer holds for exactly the
/// call it was asked about, by the caller it was asked for.
fn binding(api: &Api, request: &Prepared, args: &serde_json::Map<String, serde_json::Value>) -> Vec<u8> {
    let mut hash = Sha256::new();
    for part in [
        api.name,
        api.tools_lock,
        request.tool.name,
        request.caller.as_deref().unwrap_or(""),
    ] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hash.update(canonical(args).as_bytes());
    hash.finalize().to_vec()
}

/// JSON with every object's keys sorted, so a client that reorders keys on retry still
/// presents the same call.
fn canonical(args: &serde_json::Map<String, serde_json::Value>) -> String {
    fn sorted(map: &serde_json::Map<String, serde_json::Value>) -> serde_json::Value {
        let mut keys: Vec<&String> = map.keys().collect();
        keys.sort();
        serde_json::Value::Object(keys.into_iter().map(|k| (k.clone(), sorted_value(&map[k]))).collect())
    }
    fn sorted_value(value: &serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) => sorted(map),
            serde_json::Value::Array(items) => serde_json::Value::Array(items.iter().map(sorted_value).collect()),
            other => other.clone(),
        }
    }
    sorted(args).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Annotations, ToolDef};

    static DELETE: ToolDef = ToolDef {
        name: "deleteItem",
        annotations: Annotations::DESTRUCTIVE,
        confirm: true,
        ..ToolDef::BASE
    };
    static API: Api = Api {
        name: "items-mcp",
        ..Api::BASE
    };

    fn prepared(caller: Option<&str>) -> Prepared {
        Prepared {
            tool: &DELETE,
            caller: caller.map(std::sync::Arc::from),
            path: "/items/3".to_owned(),
            query: String::new(),
            headers: Vec::new(),
            cookies: Vec::new(),
            body: None,
        }
    }

    fn args(json: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        json.as_object().cloned().expect("object")
    }

    #[test]
    fn a_state_is_bound_to_its_call_its_caller_and_its_key() {
        let a = args(serde_json::json!({ "id": 3, "opts": { "hard": true, "why": "x" } }));
        let reordered = args(serde_json::json!({ "opts": { "why": "x", "hard": true }, "id": 3 }));
        let bound = binding(&API, &prepared(None), &a);
        assert_eq!(
            bound,
            binding(&API, &prepared(None), &reordered),
            "key order is not the call"
        );
        assert_ne!(
            bound,
            binding(&API, &prepared(None), &args(serde_json::json!({ "id": 4 })))
        );
        assert_ne!(bound, binding(&API, &prepared(Some("ci")), &a), "another caller");

        let master = MasterKey::generate();
        let confirmer = Confirmer::new(Some(&master)).expect("confirmer");
        let state = confirmer
            .codec
            .seal_with(b"n", &SealOptions::new().associated_data(&bound));
        let yes: InputResponses = [(
            QUESTION.to_owned(),
            serde_json::json!({ "action": "accept", "content": { "confirm": true } }),
        )]
        .into();
        let replica = Confirmer::new(Some(&master)).expect("replica");
        assert!(matches!(
            replica.check("deleteItem", &state, &bound, Some(&yes)),
            Verdict::Proceed
        ));
        assert!(
            matches!(
                replica.check("deleteItem", &state, &bound, Some(&yes)),
                Verdict::Refuse(_)
            ),
            "used once"
        );
        let stranger = Confirmer::new(Some(&MasterKey::generate())).expect("other key");
        assert!(matches!(
            stranger.check("deleteItem", &state, &bound, Some(&yes)),
            Verdict::Refuse(_)
        ));
        assert!(!Confirmer::new(None).expect("process key").shared());
    }

    #[test]
    fn only_an_accepted_ticked_form_is_a_yes() {
        let answer = |json: serde_json::Value| serde_json::from_value::<ElicitResult>(json).expect("result");
        let yes = answer(serde_json::json!({ "action": "accept", "content": { "confirm": true } }));
        assert!(matches!(judge("t", &yes), Verdict::Proceed));
        for no in [
            serde_json::json!({ "action": "accept", "content": { "confirm": false } }),
            serde_json::json!({ "action": "accept", "content": { "confirm": "true" } }),
            serde_json::json!({ "action": "accept" }),
            serde_json::json!({ "action": "decline" }),
            serde_json::json!({ "action": "cancel", "content": { "confirm": true } }),
        ] {
            assert!(matches!(judge("t", &answer(no.clone())), Verdict::Refuse(_)), "{no}");
        }
    }

    #[test]
    fn the_question_shows_the_request_and_bounds_the_arguments() {
        let long = args(serde_json::json!({ "id": 3, "note": "é".repeat(5_000) }));
        let ElicitRequestParams::FormElicitationParams {
            message,
            requested_schema,
            ..
        } = question(&API, &prepared(None), &long)
        else {
            panic!("a form");
        };
        assert!(message.contains("`deleteItem` of items-mcp: GET /items/3"), "{message}");
        assert!(message.len() < MAX_SHOWN_ARGUMENTS + 400, "{}", message.len());
        assert!(message.contains("held to exactly these arguments"));
        assert_eq!(requested_schema.required.as_deref(), Some(&[FIELD.to_owned()][..]));
    }
}
