//! `--sessions`: rmcp's in-memory session manager, with a cap on how many sessions
//! exist at once and an idle expiry, so clients cannot hold memory without bound.

use std::{sync::Arc, time::Duration};

use futures_core::Stream;
use rmcp::{
    model::{ClientJsonRpcMessage, ServerJsonRpcMessage},
    transport::streamable_http_server::session::{
        RestoreOutcome, ServerSseMessage, SessionId, SessionManager,
        local::{LocalSessionManager, LocalSessionManagerError},
    },
};

/// Sessions at most, by default (`--max-sessions`).
pub const DEFAULT_MAX_SESSIONS: usize = 1000;
/// A session unused this long is closed, by default (`--session-idle-secs`).
pub const DEFAULT_SESSION_IDLE: Duration = Duration::from_secs(300);

/// Why a session manager call failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CappedError {
    #[error("{0} sessions are open, the most this server keeps; close one or retry later")]
    Full(usize),
    #[error(transparent)]
    Local(#[from] LocalSessionManagerError),
}

/// [`LocalSessionManager`] with a cap and an idle expiry.
pub(crate) struct Capped {
    inner: LocalSessionManager,
    max: usize,
}

impl std::fmt::Debug for Capped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capped").field("max", &self.max).finish_non_exhaustive()
    }
}

impl Capped {
    pub(crate) fn new(max: usize, idle: Duration) -> Self {
        let mut inner = LocalSessionManager::default();
        inner.session_config.keep_alive = Some(idle);
        Self { inner, max }
    }

    /// Sessions open now.
    #[cfg(test)]
    pub(crate) async fn open(&self) -> usize {
        self.inner.sessions.read().await.len()
    }
}

impl SessionManager for Capped {
    type Error = CappedError;
    type Transport = <LocalSessionManager as SessionManager>::Transport;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        let open = self.inner.sessions.read().await.len();
        if open >= self.max {
            tracing::warn!(target: "cast::http", sessions = open, "new session refused: the session cap is reached");
            return Err(CappedError::Full(self.max));
        }
        Ok(self.inner.create_session().await?)
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        Ok(self.inner.initialize_session(id, message).await?)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        Ok(self.inner.has_session(id).await?)
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        Ok(self.inner.close_session(id).await?)
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.inner.create_stream(id, message).await?)
    }

    async fn accept_message(&self, id: &SessionId, message: ClientJsonRpcMessage) -> Result<(), Self::Error> {
        Ok(self.inner.accept_message(id, message).await?)
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.inner.create_standalone_stream(id).await?)
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        Ok(self.inner.resume(id, last_event_id).await?)
    }

    async fn restore_session(&self, id: SessionId) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        Ok(self.inner.restore_session(id).await?)
    }

    fn event_store(&self) -> Option<Arc<dyn rmcp::transport::streamable_http_server::session::EventStore>> {
        self.inner.event_store()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_cap_refuses_new_sessions_and_a_closed_one_makes_room() {
        let capped = Capped::new(2, Duration::from_secs(60));
        let (first, _a) = capped.create_session().await.expect("first");
        let (_second, _b) = capped.create_session().await.expect("second");
        let err = capped.create_session().await.err().expect("third is refused");
        assert!(matches!(err, CappedError::Full(2)), "{err}");
        capped.close_session(&first).await.expect("close");
        assert_eq!(capped.open().await, 1);
        assert!(capped.create_session().await.is_ok());
    }
}
