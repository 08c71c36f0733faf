//! Serving over stdin/stdout. A client that closes stdin, or a SIGTERM or SIGINT, ends
//! the session, but calls already received still get their answers (within the
//! shutdown grace) before the process exits.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
    time::Duration,
};

use rmcp::ServiceExt as _;
use tokio::io::{AsyncRead, ReadBuf};

use crate::{serve::shutdown_signal, server::Server};

/// A call read just before the end of input is handed to its task before that task has
/// taken its slot; waiting this long after "nothing in flight" lets it be counted.
const SETTLE: Duration = Duration::from_millis(20);

/// Serves `server` on stdin/stdout until the input ends or a signal arrives.
pub(crate) async fn serve(server: Server, grace: Duration) -> Result<(), String> {
    let input = Draining {
        inner: tokio::io::stdin(),
        state: State::Reading(Box::pin(shutdown_signal())),
        finish: Some(Box::pin(finish(server.clone(), grace))),
    };
    let running = server
        .serve((input, tokio::io::stdout()))
        .await
        .map_err(|e| format!("stdio transport failed: {e}"))?;
    running
        .waiting()
        .await
        .map_err(|e| format!("stdio transport failed: {e}"))?;
    Ok(())
}

/// Waits for the calls in flight, up to `grace`, and says how it went.
async fn finish(server: Server, grace: Duration) {
    tracing::info!(
        target: "cast::stdio",
        calls_in_flight = server.calls_in_flight(),
        grace_secs = grace.as_secs(),
        "input ended: calls in flight may finish"
    );
    let drained = tokio::time::timeout(grace, async {
        loop {
            server.drained().await;
            tokio::time::sleep(SETTLE).await;
            if server.calls_in_flight() == 0 {
                break;
            }
        }
    })
    .await;
    match drained {
        Ok(()) => tracing::info!(target: "cast::stdio", "shut down: every call finished"),
        Err(_) => tracing::warn!(
            target: "cast::stdio",
            calls_cancelled = server.calls_in_flight(),
            "shut down at the end of the grace period: calls still running were cancelled"
        ),
    }
}

type Waiting = Pin<Box<dyn Future<Output = ()> + Send>>;

enum State {
    /// Passing input through; a shutdown signal ends it as if the input had.
    Reading(Waiting),
    /// Input is over: the end is reported once the calls in flight are done.
    Finishing,
    Done,
}

/// Stdin whose end of input is held back until the calls in flight have finished, so
/// that rmcp (which stops serving at end of input) still sends every answer.
struct Draining<R> {
    inner: R,
    state: State,
    finish: Option<Waiting>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Draining<R> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Reading(signal) => {
                    if signal.as_mut().poll(cx).is_ready() {
                        tracing::info!(target: "cast::stdio", "shutdown signal: no new calls are read");
                        this.state = State::Finishing;
                        continue;
                    }
                    let before = buf.filled().len();
                    match Pin::new(&mut this.inner).poll_read(cx, buf) {
                        Poll::Ready(Ok(())) if buf.filled().len() == before => this.state = State::Finishing,
                        other => return other,
                    }
                }
                State::Finishing => {
                    let Some(finish) = this.finish.as_mut() else {
                        this.state = State::Done;
                        continue;
                    };
                    match finish.as_mut().poll(cx) {
                        Poll::Ready(()) => {
                            this.finish = None;
                            this.state = State::Done;
                        }
                        Poll::Pending => return Poll::Pending,
                    }
                }
                State::Done => return Poll::Ready(Ok(())),
            }
        }
    }
}
