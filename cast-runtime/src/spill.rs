//! Whole bodies of cut results, kept a short while so the agent can still read them:
//! a result over `--max-response-bytes` carries a `resource_link` to its whole body,
//! which `resources/read` returns to the caller it was made for and nobody else.
//!
//! Memory is bounded: every body held, and every body being read in the hope of holding
//! it, holds permits of one semaphore (one per KiB of `--spill-memory-bytes`). When there
//! is no room the oldest bodies go first; a body larger than `--spill-max-bytes` is never
//! held (the result is cut as it always was).

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Bodies up to this size are held whole by default (`--spill-max-bytes`).
pub const DEFAULT_SPILL_MAX_BYTES: usize = 16 * 1024 * 1024;
/// All held bodies together at most, by default (`--spill-memory-bytes`).
pub const DEFAULT_SPILL_MEMORY_BYTES: usize = 64 * 1024 * 1024;
/// How long a body is held, by default (`--spill-ttl-secs`).
pub const DEFAULT_SPILL_TTL: Duration = Duration::from_secs(5 * 60);
/// Where held bodies live, as MCP resource URIs.
const SCHEME: &str = "cast://result/";

/// How spilling is configured.
#[derive(Debug, Clone, Copy)]
pub struct SpillConfig {
    /// The largest body held whole; 0 holds none.
    pub max_bytes: usize,
    /// All held bodies together at most.
    pub memory_bytes: usize,
    /// How long each is held.
    pub ttl: Duration,
}

impl Default for SpillConfig {
    fn default() -> Self {
        Self {
            max_bytes: DEFAULT_SPILL_MAX_BYTES,
            memory_bytes: DEFAULT_SPILL_MEMORY_BYTES,
            ttl: DEFAULT_SPILL_TTL,
        }
    }
}

/// Room for one body, taken before it is read past the result's cap.
#[derive(Debug)]
pub(crate) struct Room(OwnedSemaphorePermit);

/// A held body, as the result points at it.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub(crate) uri: String,
    pub(crate) bytes: usize,
}

/// A body held for `resources/read`.
#[derive(Debug, Clone)]
pub(crate) struct Held {
    pub(crate) uri: String,
    pub(crate) tool: &'static str,
    pub(crate) media: String,
    pub(crate) body: Arc<Vec<u8>>,
}

struct Entry {
    held: Held,
    /// The inbound caller it was made for (`None` without inbound auth).
    owner: Option<Arc<str>>,
    expires: Instant,
    _room: OwnedSemaphorePermit,
}

/// The held bodies of one server.
pub(crate) struct Spills {
    config: SpillConfig,
    memory: Arc<Semaphore>,
    /// Oldest first.
    entries: Mutex<VecDeque<Entry>>,
}

impl std::fmt::Debug for Spills {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spills")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

fn kib(bytes: usize) -> usize {
    bytes.div_ceil(1024)
}

impl Spills {
    pub(crate) fn new(config: SpillConfig) -> Self {
        let permits = kib(config.memory_bytes).min(Semaphore::MAX_PERMITS);
        Self {
            config,
            memory: Arc::new(Semaphore::new(permits)),
            entries: Mutex::new(VecDeque::new()),
        }
    }

    /// The largest body held whole; 0 when none is.
    pub(crate) fn max_bytes(&self) -> usize {
        if kib(self.config.max_bytes) > kib(self.config.memory_bytes) {
            0
        } else {
            self.config.max_bytes
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, VecDeque<Entry>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Room for a body of up to [`Spills::max_bytes`], making it by letting the oldest
    /// bodies go; `None` when spilling is off or the room is taken by bodies being read.
    pub(crate) fn reserve(&self) -> Option<Room> {
        let wanted = u32::try_from(kib(self.max_bytes())).ok().filter(|&n| n > 0)?;
        loop {
            if let Ok(permit) = self.memory.clone().try_acquire_many_owned(wanted) {
                return Some(Room(permit));
            }
            // Dropping an entry gives its permits back.
            self.entries().pop_front()?;
        }
    }

    /// Holds `body` (already read whole and redacted) for `owner`; what the result links to.
    pub(crate) fn keep(
        &self,
        Room(mut room): Room,
        owner: Option<Arc<str>>,
        tool: &'static str,
        media: String,
        body: Vec<u8>,
    ) -> Option<Link> {
        let mut id = [0u8; 16];
        getrandom::fill(&mut id).ok()?;
        let uri = format!("{SCHEME}{}", id.iter().map(|b| format!("{b:02x}")).collect::<String>());
        // Only what the body takes stays taken.
        let spare = room.num_permits().saturating_sub(kib(body.len()).max(1));
        drop(room.split(spare));
        let link = Link {
            uri: uri.clone(),
            bytes: body.len(),
        };
        let now = Instant::now();
        let mut entries = self.entries();
        entries.retain(|e| e.expires > now);
        entries.push_back(Entry {
            held: Held {
                uri,
                tool,
                media,
                body: Arc::new(body),
            },
            owner,
            expires: now + self.config.ttl,
            _room: room,
        });
        Some(link)
    }

    /// The body at `uri`, when it is held for `owner` and has not expired.
    pub(crate) fn read(&self, uri: &str, owner: Option<&str>) -> Option<Held> {
        let now = Instant::now();
        let mut entries = self.entries();
        entries.retain(|e| e.expires > now);
        entries
            .iter()
            .find(|e| e.held.uri == uri && e.owner.as_deref() == owner)
            .map(|e| e.held.clone())
    }

    /// The bodies held for `owner`, newest first.
    pub(crate) fn list(&self, owner: Option<&str>) -> Vec<Held> {
        let now = Instant::now();
        let mut entries = self.entries();
        entries.retain(|e| e.expires > now);
        entries
            .iter()
            .rev()
            .filter(|e| e.owner.as_deref() == owner)
            .map(|e| e.held.clone())
            .collect()
    }

    /// Bytes held now (for tests of the bound).
    #[cfg(test)]
    fn held_bytes(&self) -> usize {
        self.entries().iter().map(|e| e.held.body.len()).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spills(max: usize, memory: usize, ttl: Duration) -> Spills {
        Spills::new(SpillConfig {
            max_bytes: max,
            memory_bytes: memory,
            ttl,
        })
    }

    fn keep(spills: &Spills, owner: Option<&str>, bytes: usize) -> Link {
        let room = spills.reserve().expect("room");
        spills
            .keep(room, owner.map(Arc::from), "t", "text/plain".into(), vec![b'x'; bytes])
            .expect("kept")
    }

    #[test]
    fn only_its_caller_reads_a_body_and_only_until_it_expires() {
        let spills = spills(1 << 20, 4 << 20, Duration::from_millis(200));
        let mine = keep(&spills, Some("alice"), 10);
        assert!(mine.uri.starts_with(SCHEME) && mine.uri.len() == SCHEME.len() + 32);
        assert_eq!(spills.read(&mine.uri, Some("alice")).expect("held").body.len(), 10);
        assert!(spills.read(&mine.uri, Some("bob")).is_none(), "another caller");
        assert!(spills.read(&mine.uri, None).is_none(), "no caller");
        assert_eq!(spills.list(Some("alice")).len(), 1);
        assert!(spills.list(Some("bob")).is_empty());
        std::thread::sleep(Duration::from_millis(250));
        assert!(spills.read(&mine.uri, Some("alice")).is_none(), "expired");
    }

    #[test]
    fn memory_is_bounded_and_the_oldest_go_first() {
        let spills = spills(1 << 20, 3 << 20, Duration::from_secs(60));
        let links: Vec<Link> = (0..5).map(|_| keep(&spills, None, 1 << 20)).collect();
        assert!(spills.held_bytes() <= 3 << 20, "{}", spills.held_bytes());
        assert!(spills.read(&links[0].uri, None).is_none(), "the oldest went");
        assert!(spills.read(&links[4].uri, None).is_some(), "the newest stays");
        // While bodies are being read, their room is taken too.
        let readers: Vec<Room> = (0..3).filter_map(|_| spills.reserve()).collect();
        assert_eq!(readers.len(), 3);
        assert!(spills.reserve().is_none(), "no room while three are read");
        assert_eq!(spills.held_bytes(), 0, "held bodies made room for them");
    }

    #[test]
    fn off_when_a_body_could_never_fit() {
        assert!(spills(0, 1 << 20, Duration::from_secs(1)).reserve().is_none());
        assert!(spills(2 << 20, 1 << 20, Duration::from_secs(1)).reserve().is_none());
    }
}
