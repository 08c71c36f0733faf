//! What a user sees of the calls flowing: one log line per tool call, Prometheus
//! metrics, and the W3C trace context carried from the MCP request to the upstream.
//!
//! Metrics go through the `metrics` facade: without a recorder (stdio, library use)
//! every update is a no-op, so only `http` pays for them, and only when it serves them.

use std::{fmt::Write as _, time::Duration};

/// `cast_tool_calls_total{tool, outcome}`: `ok`, `error` or `asked` (waiting for the user's yes).
const CALLS: &str = "cast_tool_calls_total";
/// `cast_tool_call_errors_total{tool, class}`, one per failed call, by [`ErrorClass`].
const ERRORS: &str = "cast_tool_call_errors_total";
/// `cast_tool_call_duration_seconds{tool}`: from the call's arrival to its result.
const DURATION: &str = "cast_tool_call_duration_seconds";
/// `cast_upstream_responses_total{class}`: `2xx` … `5xx`, per response (each try counts).
const RESPONSES: &str = "cast_upstream_responses_total";
/// `cast_upstream_retries_total{tool}`.
const RETRIES: &str = "cast_upstream_retries_total";
/// `cast_calls_in_flight`, read when `/metrics` is rendered.
const IN_FLIGHT: &str = "cast_calls_in_flight";
/// `cast_credential_reloads_total{outcome}`: `ok` or `failed` (the previous credential stays).
const RELOADS: &str = "cast_credential_reloads_total";
/// `cast_inbound_refusals_total{reason}`: `missing`, `invalid` or `scope`.
const REFUSALS: &str = "cast_inbound_refusals_total";

/// Seconds: a proxied call is a millisecond or two on a near upstream, a timeout 30 s.
const DURATION_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Why a call did not end with the upstream's success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorClass {
    /// The arguments were refused before anything was sent.
    Arguments,
    /// The user said no, or the client cannot ask.
    NotConfirmed,
    /// `--max-concurrent-calls` were running.
    Busy,
    /// The client cancelled or went away.
    Cancelled,
    /// Cast refused to send (the URL would leave the upstream's origin, a bad credential header).
    Refused,
    /// No credential could be had (a token endpoint failed, say).
    Credential,
    /// The upstream did not answer in time.
    Timeout,
    /// The connection failed or broke.
    Transport,
    /// 401 or 403.
    Unauthorized,
    /// Another 4xx.
    ClientError,
    /// 5xx.
    ServerError,
}

impl ErrorClass {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ErrorClass::Arguments => "arguments",
            ErrorClass::NotConfirmed => "not_confirmed",
            ErrorClass::Busy => "busy",
            ErrorClass::Cancelled => "cancelled",
            ErrorClass::Refused => "refused",
            ErrorClass::Credential => "credential",
            ErrorClass::Timeout => "timeout",
            ErrorClass::Transport => "transport",
            ErrorClass::Unauthorized => "unauthorized",
            ErrorClass::ClientError => "http_4xx",
            ErrorClass::ServerError => "http_5xx",
        }
    }

    /// The class of a final upstream status, if it is a failure.
    pub(crate) fn of_status(status: u16) -> Option<Self> {
        match status {
            401 | 403 => Some(ErrorClass::Unauthorized),
            400..=499 => Some(ErrorClass::ClientError),
            500..=599 => Some(ErrorClass::ServerError),
            _ => None,
        }
    }
}

/// What one tool call did, filled in as it goes, for its log line and the metrics.
#[derive(Debug, Default)]
pub(crate) struct Record {
    /// The last upstream response's status.
    pub status: Option<u16>,
    /// Upstream tries (0 when nothing was sent).
    pub attempts: u32,
    /// Bytes of the last upstream response body that were read.
    pub bytes: usize,
    pub error: Option<ErrorClass>,
    /// The call stopped to ask the user.
    pub asked: bool,
}

impl Record {
    /// Notes a response from the upstream (every try).
    pub(crate) fn response(&mut self, status: u16, bytes: usize) {
        self.status = Some(status);
        self.bytes = bytes;
        self.error = ErrorClass::of_status(status);
        metrics::counter!(RESPONSES, "class" => status_class(status)).increment(1);
    }

    fn outcome(&self) -> &'static str {
        match (self.error, self.asked) {
            (Some(_), _) => "error",
            (None, true) => "asked",
            (None, false) => "ok",
        }
    }
}

fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

/// The W3C trace context of one call: the MCP request's trace continued (its `_meta`
/// `traceparent`), or a new one; the span is this call's, and is its request id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Trace {
    trace_id: [u8; 16],
    span_id: [u8; 8],
    sampled: bool,
}

impl Trace {
    /// Continues `traceparent` when it is well formed (W3C Trace Context §3.2), else
    /// starts a trace. Only the parsed hex goes on, so the agent's text never reaches a
    /// header as it was written.
    pub(crate) fn continuing(traceparent: Option<&str>) -> Self {
        let mut span_id = [0u8; 8];
        fill_random(&mut span_id);
        if let Some((trace_id, sampled)) = traceparent.and_then(parse_traceparent) {
            return Self {
                trace_id,
                span_id,
                sampled,
            };
        }
        let mut trace_id = [0u8; 16];
        fill_random(&mut trace_id);
        Self {
            trace_id,
            span_id,
            sampled: false,
        }
    }

    /// The `traceparent` header for the upstream request: this call's span as parent.
    pub(crate) fn header(&self) -> String {
        format!(
            "00-{}-{}-{}",
            hex(&self.trace_id),
            hex(&self.span_id),
            if self.sampled { "01" } else { "00" }
        )
    }

    pub(crate) fn trace_id(&self) -> String {
        hex(&self.trace_id)
    }

    /// This call's id in logs, the same as the span id the upstream sees.
    pub(crate) fn request_id(&self) -> String {
        hex(&self.span_id)
    }
}

/// The trace id and sampled flag of a valid `traceparent`. Versions after `00` are read
/// as `00` is, as the specification asks; `ff` and all-zero ids are invalid.
fn parse_traceparent(text: &str) -> Option<([u8; 16], bool)> {
    let bytes = text.as_bytes();
    if bytes.len() < 55 || (bytes.len() > 55 && (text.starts_with("00") || bytes[55] != b'-')) {
        return None;
    }
    let field = |range: std::ops::Range<usize>| -> Option<Vec<u8>> {
        let part = &text[range];
        if !part.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return None;
        }
        (0..part.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&part[i..i + 2], 16).ok())
            .collect()
    };
    if bytes[2] != b'-' || bytes[35] != b'-' || bytes[52] != b'-' {
        return None;
    }
    let version = field(0..2)?;
    let trace = field(3..35)?;
    let parent = field(36..52)?;
    let flags = field(53..55)?;
    if version[0] == 0xff || trace.iter().all(|&b| b == 0) || parent.iter().all(|&b| b == 0) {
        return None;
    }
    let trace_id: [u8; 16] = trace.try_into().ok()?;
    Some((trace_id, flags[0] & 1 == 1))
}

fn fill_random(bytes: &mut [u8]) {
    // Ids, not keys: should the OS source fail, a clock-derived id still tells calls apart.
    if getrandom::fill(bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        for (byte, source) in bytes.iter_mut().zip(nanos.to_le_bytes().iter().cycle()) {
            *byte = *source;
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(text, "{byte:02x}");
    }
    text
}

/// Where a call came from and went, for its log line.
#[derive(Debug)]
pub(crate) struct CallSite<'a> {
    pub tool: &'static crate::api::ToolDef,
    pub mcp_id: &'a rmcp::model::RequestId,
    pub caller: Option<&'a str>,
    pub trace: &'a Trace,
}

/// The call's one log line, and its metrics.
pub(crate) fn call_finished(site: &CallSite<'_>, record: &Record, elapsed: Duration) {
    let tool = site.tool;
    let outcome = record.outcome();
    let latency_ms = elapsed.as_secs_f64() * 1000.0;
    let error = record.error.map(ErrorClass::as_str);
    // A failure on the upstream's side, or one the operator must fix, is a warning; the
    // agent's own mistakes and refusals are part of normal traffic.
    macro_rules! line {
        ($level:ident) => {
            tracing::$level!(
                target: "cast::calls",
                request_id = %site.trace.request_id(),
                mcp_id = %site.mcp_id,
                tool = tool.name,
                method = tool.method.as_str(),
                path = tool.path_template,
                status = record.status,
                attempts = record.attempts,
                latency_ms = (latency_ms * 1000.0).round() / 1000.0,
                bytes = record.bytes,
                outcome,
                error,
                caller = site.caller,
                trace_id = %site.trace.trace_id(),
                "tool call"
            )
        };
    }
    match record.error {
        Some(
            ErrorClass::Timeout
            | ErrorClass::Transport
            | ErrorClass::ServerError
            | ErrorClass::Credential
            | ErrorClass::Refused
            | ErrorClass::Busy,
        ) => line!(warn),
        _ => line!(info),
    }
    metrics::counter!(CALLS, "tool" => tool.name, "outcome" => outcome).increment(1);
    if let Some(error) = error {
        metrics::counter!(ERRORS, "tool" => tool.name, "class" => error).increment(1);
    }
    metrics::histogram!(DURATION, "tool" => tool.name).record(elapsed.as_secs_f64());
}

pub(crate) fn retried(tool: &'static str) {
    metrics::counter!(RETRIES, "tool" => tool).increment(1);
}

pub(crate) fn credential_reloaded(ok: bool) {
    metrics::counter!(RELOADS, "outcome" => if ok { "ok" } else { "failed" }).increment(1);
}

pub(crate) fn inbound_refused(reason: &'static str) {
    metrics::counter!(REFUSALS, "reason" => reason).increment(1);
}

/// The process's metrics, rendered for `GET /metrics`.
#[derive(Clone)]
pub(crate) struct Metrics(metrics_exporter_prometheus::PrometheusHandle);

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Metrics {
    /// Installs the process-wide recorder; once per process (a second server in the same
    /// process gets `None` and serves no `/metrics`).
    pub(crate) fn install() -> Option<Self> {
        use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(DURATION.to_owned()), DURATION_BUCKETS)
            .ok()?
            .install_recorder()
            .ok()?;
        metrics::describe_counter!(CALLS, "Tool calls, by tool and outcome (ok, error, asked).");
        metrics::describe_counter!(ERRORS, "Failed tool calls, by tool and error class.");
        metrics::describe_histogram!(DURATION, metrics::Unit::Seconds, "Tool call latency, by tool.");
        metrics::describe_counter!(RESPONSES, "Upstream responses, by status class (every try).");
        metrics::describe_counter!(RETRIES, "Upstream tries after the first, by tool.");
        metrics::describe_gauge!(IN_FLIGHT, "Tool calls running now.");
        metrics::describe_counter!(RELOADS, "Replaced credential files loaded (ok) or kept out (failed).");
        metrics::describe_counter!(REFUSALS, "HTTP requests refused by inbound auth, by reason.");
        Some(Self(handle))
    }

    pub(crate) fn render(&self, calls_in_flight: usize) -> String {
        metrics::gauge!(IN_FLIGHT).set(calls_in_flight as f64);
        self.0.run_upkeep();
        self.0.render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_traceparent_is_continued_and_anything_else_starts_a_trace() {
        let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let trace = Trace::continuing(Some(parent));
        assert_eq!(trace.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        let header = trace.header();
        assert!(header.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"), "{header}");
        assert!(header.ends_with("-01"), "sampled stays sampled: {header}");
        assert_ne!(
            &header[36..52],
            "00f067aa0ba902b7",
            "the upstream's parent is this call's span"
        );
        assert_eq!(&header[36..52], trace.request_id());

        for bad in [
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\r\nx-api-key: 1",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "",
        ] {
            let fresh = Trace::continuing(Some(bad));
            assert_ne!(fresh.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736", "{bad:?}");
            assert!(fresh.header().ends_with("-00"), "{bad:?}");
            assert_eq!(fresh.header().len(), 55);
        }
        // A later version with more fields is read as version 00.
        let future = Trace::continuing(Some("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-extra"));
        assert_eq!(future.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
    }

    #[test]
    fn statuses_fall_into_classes() {
        assert_eq!(ErrorClass::of_status(200), None);
        assert_eq!(ErrorClass::of_status(304), None);
        assert_eq!(ErrorClass::of_status(403), Some(ErrorClass::Unauthorized));
        assert_eq!(ErrorClass::of_status(404), Some(ErrorClass::ClientError));
        assert_eq!(ErrorClass::of_status(503), Some(ErrorClass::ServerError));
    }
}
