//! The upstream credential, reloaded when its sealed file is replaced.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
    time::SystemTime,
};

use crate::{
    sealed::{self, MasterKey, SealError, SealedHeader},
    secret::Secret,
};

/// Identifies one version of a file without reading it. `metadata` follows
/// symlinks, so a Kubernetes secret mount (a `..data` symlink swapped on update)
/// shows up as a change too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    inode: u64,
    #[cfg(unix)]
    ctime_ns: i64,
}

impl FileStamp {
    fn of(path: &Path) -> std::io::Result<Self> {
        let meta = std::fs::metadata(path)?;
        Ok(Self {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            inode: std::os::unix::fs::MetadataExt::ino(&meta),
            #[cfg(unix)]
            ctime_ns: std::os::unix::fs::MetadataExt::ctime(&meta)
                .saturating_mul(1_000_000_000)
                .saturating_add(std::os::unix::fs::MetadataExt::ctime_nsec(&meta)),
        })
    }
}

#[derive(Debug)]
struct Loaded {
    stamp: FileStamp,
    secret: Arc<Secret>,
}

/// A sealed credential file, opened at start and reopened whenever it changes.
///
/// Each call costs one `stat`; the file is decrypted again only when it changed.
/// If a replacement cannot be opened (half-copied, wrong master key), the last
/// good credential stays in use and the problem is logged, so rotation never
/// drops a call; the new file is retried on the next call.
#[derive(Debug)]
pub struct SealedCredential {
    path: PathBuf,
    master: MasterKey,
    expected: SealedHeader,
    loaded: RwLock<Loaded>,
}

impl SealedCredential {
    /// Opens `path` now, so that a wrong master key or a bad file stops the server at start.
    pub fn open(path: PathBuf, master: MasterKey, expected: SealedHeader) -> Result<Self, SealError> {
        let stamp = FileStamp::of(&path).map_err(|source| SealError::Io {
            path: path.clone(),
            source,
        })?;
        let secret = Arc::new(sealed::open_file(&master, &path, &expected)?);
        Ok(Self {
            path,
            master,
            expected,
            loaded: RwLock::new(Loaded { stamp, secret }),
        })
    }

    /// The file this credential comes from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The current credential, reloading it first if the file changed.
    pub fn current(&self) -> Arc<Secret> {
        let stamp = FileStamp::of(&self.path).ok();
        {
            let loaded = self.loaded.read().unwrap_or_else(|e| e.into_inner());
            if stamp.is_none() || stamp == Some(loaded.stamp) {
                return loaded.secret.clone();
            }
        }
        let Some(stamp) = stamp else {
            unreachable!("handled above")
        };
        let mut loaded = self.loaded.write().unwrap_or_else(|e| e.into_inner());
        if loaded.stamp != stamp {
            match sealed::open_file(&self.master, &self.path, &self.expected) {
                Ok(secret) => {
                    tracing::info!(
                        file = %self.path.display(),
                        fingerprint = %sealed::fingerprint(&secret),
                        "credential rotated"
                    );
                    *loaded = Loaded {
                        stamp,
                        secret: Arc::new(secret),
                    };
                }
                Err(err) => {
                    tracing::warn!("keeping the previous credential: {err}");
                }
            }
        }
        loaded.secret.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sealed::{PURPOSE_UPSTREAM, seal, write_atomic};

    #[test]
    fn picks_up_replacement_and_survives_a_bad_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("key.sealed");
        let master = MasterKey::generate();
        let header = SealedHeader {
            purpose: PURPOSE_UPSTREAM.into(),
            label: "X-Api-Key".into(),
        };
        let write = |value: &str| {
            let bytes = seal(&master, &header, &Secret::new(value)).expect("seal");
            write_atomic(&path, &bytes).expect("write");
        };
        write("old");
        let key = MasterKey::from_base64(&master.to_base64(), "test").expect("key");
        let credential = SealedCredential::open(path.clone(), key, header.clone()).expect("open");
        assert_eq!(credential.current().expose(), "old");
        write("new");
        assert_eq!(credential.current().expose(), "new");
        std::fs::write(&path, b"CASTSEAL garbage").expect("write garbage");
        assert_eq!(
            credential.current().expose(),
            "new",
            "a bad replacement keeps the last good key"
        );
        write("newer");
        assert_eq!(credential.current().expose(), "newer");
    }
}
