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
pub(crate) struct FileStamp {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    inode: u64,
    #[cfg(unix)]
    ctime_ns: i64,
}

impl FileStamp {
    pub(crate) fn of(path: &Path) -> std::io::Result<Self> {
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
    master: MasterKey,
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
    expected: SealedHeader,
    /// Where the master key came from, when it is a file: a replaced credential that the
    /// key in memory cannot open is retried with the file's key (master-key rotation).
    master_file: Option<PathBuf>,
    loaded: RwLock<Loaded>,
    /// Whether the file was last found missing or unreadable (warned once per absence).
    missing: std::sync::atomic::AtomicBool,
    /// Why the file's current version could not be loaded, if it could not.
    failed: RwLock<Option<String>>,
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
            expected,
            master_file: None,
            loaded: RwLock::new(Loaded { stamp, secret, master }),
            missing: std::sync::atomic::AtomicBool::new(false),
            failed: RwLock::new(None),
        })
    }

    /// Rereads the master key from this file when a replaced credential does not open
    /// with the key in memory, so a master-key rotation needs no restart.
    pub fn with_master_file(mut self, path: Option<PathBuf>) -> Self {
        self.master_file = path;
        self
    }

    /// Seals `value` into the file (atomically) and uses it from now on; for values the
    /// server itself renews, such as a rotated OAuth refresh token.
    pub fn replace(&self, value: &Secret) -> Result<(), SealError> {
        let mut loaded = self.loaded.write().unwrap_or_else(|e| e.into_inner());
        let bytes = sealed::seal(&loaded.master, &self.expected, value).map_err(|reason| SealError::Malformed {
            path: self.path.clone(),
            reason,
        })?;
        sealed::write_atomic(&self.path, &bytes)?;
        loaded.stamp = FileStamp::of(&self.path).map_err(|source| SealError::Io {
            path: self.path.clone(),
            source,
        })?;
        loaded.secret = Arc::new(value.clone());
        Ok(())
    }

    /// The file this credential comes from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file is there and its current version is the one in use (`/readyz`):
    /// a server whose credential file went missing or was replaced by one it cannot open
    /// still calls with the previous credential, but should not take new traffic.
    pub(crate) fn ready(&self) -> Result<(), String> {
        let _ = self.current();
        if self.missing.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(format!("the credential file {} is missing", self.path.display()));
        }
        match &*self.failed.read().unwrap_or_else(|e| e.into_inner()) {
            Some(why) => Err(format!(
                "the credential file {} cannot be used: {why}",
                self.path.display()
            )),
            None => Ok(()),
        }
    }

    /// The current credential, reloading it first if the file changed. If the file is
    /// gone or unreadable, the previous credential stays in use and a warning says so once.
    pub fn current(&self) -> Arc<Secret> {
        let stamp = match FileStamp::of(&self.path) {
            Ok(stamp) => {
                self.missing.store(false, std::sync::atomic::Ordering::Relaxed);
                stamp
            }
            Err(err) => {
                if !self.missing.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    tracing::warn!(
                        file = %self.path.display(),
                        "cannot read the credential file ({err}); keeping the previous credential until it is back"
                    );
                }
                return self.loaded.read().unwrap_or_else(|e| e.into_inner()).secret.clone();
            }
        };
        {
            let loaded = self.loaded.read().unwrap_or_else(|e| e.into_inner());
            if stamp == loaded.stamp {
                return loaded.secret.clone();
            }
        }
        let mut loaded = self.loaded.write().unwrap_or_else(|e| e.into_inner());
        if loaded.stamp != stamp {
            let mut opened = sealed::open_file(&loaded.master, &self.path, &self.expected);
            if matches!(opened, Err(SealError::Decrypt { .. }))
                && let Some(file) = &self.master_file
            {
                match std::fs::read_to_string(file)
                    .map_err(|e| e.to_string())
                    .and_then(|text| {
                        MasterKey::from_base64(&zeroize::Zeroizing::new(text), &file.display().to_string())
                            .map_err(|e| e.to_string())
                    }) {
                    Ok(master) => {
                        opened = sealed::open_file(&master, &self.path, &self.expected);
                        if opened.is_ok() {
                            tracing::info!(file = %file.display(), "master key reloaded");
                            loaded.master = master;
                        }
                    }
                    Err(err) => tracing::warn!("cannot reload the master key: {err}"),
                }
            }
            match opened {
                Ok(secret) => {
                    tracing::info!(
                        file = %self.path.display(),
                        fingerprint = %sealed::fingerprint(&loaded.master, &secret),
                        "credential rotated"
                    );
                    crate::observe::credential_reloaded(true);
                    loaded.stamp = stamp;
                    loaded.secret = Arc::new(secret);
                    *self.failed.write().unwrap_or_else(|e| e.into_inner()) = None;
                }
                Err(err) => {
                    tracing::warn!("keeping the previous credential: {err}");
                    crate::observe::credential_reloaded(false);
                    *self.failed.write().unwrap_or_else(|e| e.into_inner()) = Some(err.to_string());
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

    #[cfg(unix)]
    #[test]
    fn follows_a_kubernetes_style_symlink_swap() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().expect("tempdir");
        let master = MasterKey::generate();
        let header = SealedHeader {
            purpose: PURPOSE_UPSTREAM.into(),
            label: "X-Api-Key".into(),
        };
        // Kubernetes mounts: key.sealed -> ..data/key.sealed, ..data -> ..2026_11_26_v1
        for (version, value) in [("v1", "first-key"), ("v2", "second-key")] {
            let folder = dir.path().join(format!("..{version}"));
            std::fs::create_dir(&folder).expect("mkdir");
            let bytes = seal(&master, &header, &Secret::new(value)).expect("seal");
            write_atomic(&folder.join("key.sealed"), &bytes).expect("write");
        }
        symlink("..v1", dir.path().join("..data")).expect("link");
        symlink("..data/key.sealed", dir.path().join("key.sealed")).expect("link");
        let credential = SealedCredential::open(dir.path().join("key.sealed"), master.clone(), header).expect("open");
        assert_eq!(credential.current().expose(), "first-key");
        // The kubelet swaps `..data` atomically with a rename.
        symlink("..v2", dir.path().join("..data_tmp")).expect("link");
        std::fs::rename(dir.path().join("..data_tmp"), dir.path().join("..data")).expect("swap");
        assert_eq!(credential.current().expose(), "second-key");
    }

    #[test]
    fn a_new_master_key_file_is_picked_up_with_the_rekeyed_credential() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, master_path) = (dir.path().join("key.sealed"), dir.path().join("master.key"));
        let header = SealedHeader {
            purpose: PURPOSE_UPSTREAM.into(),
            label: "X-Api-Key".into(),
        };
        let old = MasterKey::generate();
        write_atomic(&master_path, old.to_base64().as_bytes()).expect("write");
        write_atomic(&path, &seal(&old, &header, &Secret::new("value-one")).expect("seal")).expect("write");
        let credential = SealedCredential::open(path.clone(), old, header.clone())
            .expect("open")
            .with_master_file(Some(master_path.clone()));
        // Rotation: the new master key replaces the file first, then the credential is resealed.
        let new = MasterKey::generate();
        write_atomic(&master_path, new.to_base64().as_bytes()).expect("write");
        write_atomic(&path, &seal(&new, &header, &Secret::new("value-two")).expect("seal")).expect("write");
        assert_eq!(credential.current().expose(), "value-two");
    }

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
        write("old-key-1");
        let key = MasterKey::from_base64(&master.to_base64(), "test").expect("key");
        let credential = SealedCredential::open(path.clone(), key, header.clone()).expect("open");
        assert_eq!(credential.current().expose(), "old-key-1");
        write("new-key-2");
        assert_eq!(credential.current().expose(), "new-key-2");
        std::fs::write(&path, b"CASTSEAL garbage").expect("write garbage");
        assert_eq!(
            credential.current().expose(),
            "new-key-2",
            "a bad replacement keeps the last good key"
        );
        write("newer-key-3");
        assert_eq!(credential.current().expose(), "newer-key-3");
    }
}
