//! Sealed credential files: a secret encrypted with AES-256-GCM under a master key.
//!
//! Layout (all lengths in bytes):
//!
//! ```text
//! "CASTSEAL" (8) | version = 2 (1) | purpose len (1) | purpose | label len (1) | label | created (8, BE) | nonce (12) | ciphertext + tag
//! ```
//!
//! Everything before the nonce is the GCM associated data, so the purpose and
//! the label (the header the secret is sent in) cannot be changed without the
//! tag failing: a key sealed for `X-Api-Key` cannot be relabelled and replayed
//! as a bearer token. The nonce is random per seal; a master key seals few
//! files, far below the 2^32 messages where random 96-bit nonces get risky.

use std::{
    fmt,
    io::Write,
    path::{Path, PathBuf},
};

use aes_gcm::{
    Aes256Gcm, Key, KeyInit, Nonce,
    aead::{Aead, Generate, Payload},
};
use base64::Engine as _;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::secret::Secret;

const MAGIC: &[u8; 8] = b"CASTSEAL";
/// Version 2 adds the creation time (seconds since the Unix epoch) after the label;
/// version 1 files are still read.
const VERSION: u8 = 2;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Shorter secrets are refused when sealing: they are guessable, and redacting them
/// from responses would also blank out ordinary text.
pub const MIN_SECRET_LEN: usize = 8;

/// The purpose every upstream credential is sealed with.
pub const PURPOSE_UPSTREAM: &str = "upstream-credential";

/// Environment variable holding the base64 master key.
pub const MASTER_KEY_ENV: &str = "CAST_MASTER_KEY";
/// Environment variable naming a file that holds the base64 master key.
pub const MASTER_KEY_FILE_ENV: &str = "CAST_MASTER_KEY_FILE";

/// Why a sealed file or a master key could not be used. No variant ever carries secret material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// Neither `CAST_MASTER_KEY` nor `CAST_MASTER_KEY_FILE` is set.
    #[error(
        "no master key: set {MASTER_KEY_ENV} (base64, 32 bytes) or {MASTER_KEY_FILE_ENV}; create one with `cast-codegen secret new-master-key`"
    )]
    NoMasterKey,
    /// The master key is not 32 bytes of base64.
    #[error("the master key from {origin} is not valid: {reason}")]
    BadMasterKey {
        /// Where the key came from (an environment variable or a file path), never the key.
        origin: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a Cast sealed file, or is cut short.
    #[error("{}: not a Cast sealed file ({reason})", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The file was written by a newer Cast.
    #[error("{}: sealed-file version {version} is not supported (this build reads version {VERSION})", path.display())]
    UnsupportedVersion {
        /// The file.
        path: PathBuf,
        /// The version found.
        version: u8,
    },
    /// Authentication failed: another master key, or the file was modified.
    #[error(
        "{}: cannot decrypt: the master key is not the one this file was sealed with, or the file was modified",
        path.display()
    )]
    Decrypt {
        /// The file.
        path: PathBuf,
    },
    /// The file was sealed for another header or purpose.
    #[error(
        "{}: sealed for {found_purpose} `{found_label}`, but this server needs {expected_purpose} `{expected_label}`; reseal it with `cast-codegen secret seal --header {expected_label}`",
        path.display()
    )]
    WrongLabel {
        /// The file.
        path: PathBuf,
        /// Purpose in the file.
        found_purpose: String,
        /// Label in the file.
        found_label: String,
        /// Purpose expected.
        expected_purpose: String,
        /// Label expected.
        expected_label: String,
    },
}

/// The 256-bit key that seals and opens credential files.
///
/// `Clone` copies the key within this process only (each loaded credential keeps
/// one to reopen its file on rotation); copies are zeroized on drop too.
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

impl MasterKey {
    /// A fresh random key from the operating system's generator.
    pub fn generate() -> Self {
        let key = Key::<Aes256Gcm>::generate();
        let mut bytes = Zeroizing::new([0u8; 32]);
        bytes.copy_from_slice(&key);
        Self(bytes)
    }

    /// Parses a base64 key (standard alphabet, padding optional, surrounding whitespace ignored).
    /// `origin` names where it came from, for the error message.
    pub fn from_base64(text: &str, origin: &str) -> Result<Self, SealError> {
        let bad = |reason| SealError::BadMasterKey {
            origin: origin.to_owned(),
            reason,
        };
        let decoded = Zeroizing::new(
            base64::engine::general_purpose::STANDARD_NO_PAD
                .decode(text.trim().trim_end_matches('='))
                .map_err(|_| bad("it is not base64"))?,
        );
        let bytes: [u8; 32] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| bad("it must decode to exactly 32 bytes"))?;
        Ok(Self(Zeroizing::new(bytes)))
    }

    /// Reads the key from `CAST_MASTER_KEY`, else from the file named by `CAST_MASTER_KEY_FILE`.
    pub fn from_env() -> Result<Self, SealError> {
        if let Ok(text) = std::env::var(MASTER_KEY_ENV) {
            return Self::from_base64(&Zeroizing::new(text), MASTER_KEY_ENV);
        }
        if let Some(path) = std::env::var_os(MASTER_KEY_FILE_ENV) {
            let path = PathBuf::from(path);
            let text = Zeroizing::new(std::fs::read_to_string(&path).map_err(|source| SealError::Io {
                path: path.clone(),
                source,
            })?);
            return Self::from_base64(&text, &path.display().to_string());
        }
        Err(SealError::NoMasterKey)
    }

    /// A key for another purpose, derived from this one (HMAC-SHA-256 keyed by the master
    /// key over `purpose`), so one secret serves every use and no two uses share a key.
    pub(crate) fn derive(&self, purpose: &[u8]) -> Zeroizing<[u8; 32]> {
        use hmac::{KeyInit as _, Mac as _};
        let mut derived = Zeroizing::new([0u8; 32]);
        // HMAC takes a key of any length, so this cannot fail.
        if let Ok(mac) = hmac::Hmac::<Sha256>::new_from_slice(&*self.0) {
            derived.copy_from_slice(&mac.chain_update(purpose).finalize().into_bytes());
        }
        derived
    }

    /// The key as base64, for `secret new-master-key` to print once.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(*self.0))
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&Key::<Aes256Gcm>::from(*self.0))
    }
}

/// What a sealed file says about itself without being decrypted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedHeader {
    /// What the secret is for, e.g. [`PURPOSE_UPSTREAM`].
    pub purpose: String,
    /// The header it is sent in, e.g. `X-Api-Key` or `Authorization`.
    pub label: String,
}

fn header_bytes(purpose: &str, label: &str, created: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(19 + purpose.len() + label.len());
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    for field in [purpose, label] {
        // Callers pass short identifiers; `seal` rejects longer ones before we get here.
        out.push(field.len() as u8);
        out.extend_from_slice(field.as_bytes());
    }
    out.extend_from_slice(&created.to_be_bytes());
    out
}

/// Encrypts `secret` into the sealed-file format.
///
/// # Panics
/// Never for inputs that pass [`check_label`]; longer fields are rejected by it.
pub fn seal(master: &MasterKey, header: &SealedHeader, secret: &Secret) -> Result<Vec<u8>, &'static str> {
    check_label(&header.purpose)?;
    check_label(&header.label)?;
    if secret.expose().len() < MIN_SECRET_LEN {
        return Err(
            "the secret is shorter than 8 bytes: real API keys and tokens are longer; check that the whole value was piped in (for Basic auth seal `user:password`)",
        );
    }
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let aad = header_bytes(&header.purpose, &header.label, created);
    let nonce = Nonce::generate();
    let ciphertext = master
        .cipher()
        .encrypt(
            &nonce,
            Payload {
                msg: secret.expose().as_bytes(),
                aad: &aad,
            },
        )
        .map_err(|_| "encryption failed")?;
    let mut out = aad;
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// Rejects purposes and labels that do not fit the format or could not be a header name.
pub fn check_label(field: &str) -> Result<(), &'static str> {
    if field.is_empty() || field.len() > 255 {
        return Err("must be 1 to 255 characters");
    }
    if !field.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        return Err("may hold only ASCII letters, digits, `-`, `_` and `.`");
    }
    Ok(())
}

/// The cleartext part of a sealed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderInfo {
    /// Purpose and label.
    pub header: SealedHeader,
    /// When it was sealed (seconds since the Unix epoch; `None` for version 1 files).
    pub created: Option<u64>,
    /// Length of the header in bytes (the associated data).
    pub len: usize,
}

/// Reads the cleartext header of sealed bytes. `path` is only used in errors.
pub fn read_header(bytes: &[u8], path: &Path) -> Result<HeaderInfo, SealError> {
    let malformed = |reason| SealError::Malformed {
        path: path.to_owned(),
        reason,
    };
    let rest = bytes
        .strip_prefix(MAGIC.as_slice())
        .ok_or_else(|| malformed("missing CASTSEAL magic"))?;
    let (&version, mut rest) = rest.split_first().ok_or_else(|| malformed("truncated header"))?;
    if version != VERSION && version != 1 {
        return Err(SealError::UnsupportedVersion {
            path: path.to_owned(),
            version,
        });
    }
    let mut fields = [String::new(), String::new()];
    for field in &mut fields {
        let (&len, tail) = rest.split_first().ok_or_else(|| malformed("truncated header"))?;
        let len = usize::from(len);
        if tail.len() < len {
            return Err(malformed("truncated header"));
        }
        *field = std::str::from_utf8(&tail[..len])
            .map_err(|_| malformed("header is not UTF-8"))?
            .to_owned();
        rest = &tail[len..];
    }
    let [purpose, label] = fields;
    let created = if version >= 2 {
        let (stamp, tail) = rest
            .split_first_chunk::<8>()
            .ok_or_else(|| malformed("truncated header"))?;
        rest = tail;
        Some(u64::from_be_bytes(*stamp))
    } else {
        None
    };
    Ok(HeaderInfo {
        header: SealedHeader { purpose, label },
        created,
        len: bytes.len() - rest.len(),
    })
}

/// Decrypts sealed bytes. `path` is only used in errors.
pub fn open(master: &MasterKey, bytes: &[u8], path: &Path) -> Result<(SealedHeader, Secret), SealError> {
    let HeaderInfo { header, len, .. } = read_header(bytes, path)?;
    let (aad, rest) = bytes.split_at(len);
    if rest.len() < NONCE_LEN + TAG_LEN {
        return Err(SealError::Malformed {
            path: path.to_owned(),
            reason: "truncated ciphertext",
        });
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let nonce = Nonce::try_from(nonce).map_err(|_| SealError::Malformed {
        path: path.to_owned(),
        reason: "bad nonce",
    })?;
    let plaintext = Zeroizing::new(
        master
            .cipher()
            .decrypt(&nonce, Payload { msg: ciphertext, aad })
            .map_err(|_| SealError::Decrypt { path: path.to_owned() })?,
    );
    let text = std::str::from_utf8(&plaintext).map_err(|_| SealError::Malformed {
        path: path.to_owned(),
        reason: "the sealed value is not UTF-8",
    })?;
    Ok((header, Secret::new(text)))
}

/// Reads and decrypts a sealed file, checking that it was sealed for `expected`.
pub fn open_file(master: &MasterKey, path: &Path, expected: &SealedHeader) -> Result<Secret, SealError> {
    let bytes = std::fs::read(path).map_err(|source| SealError::Io {
        path: path.to_owned(),
        source,
    })?;
    let (header, secret) = open(master, &bytes, path)?;
    if header.purpose != expected.purpose || !header.label.eq_ignore_ascii_case(&expected.label) {
        return Err(SealError::WrongLabel {
            path: path.to_owned(),
            found_purpose: header.purpose,
            found_label: header.label,
            expected_purpose: expected.purpose.clone(),
            expected_label: expected.label.clone(),
        });
    }
    Ok(secret)
}

/// Writes a secret file atomically with mode 0600, so a running server never reads half
/// a file and nothing planted beside it can redirect or expose it.
///
/// The bytes go to a new temporary file in the same folder, with a random name, created
/// exclusively (`O_EXCL`) and without following symlinks (`O_NOFOLLOW`), its mode set on
/// the open handle; it is synced, renamed over `path` (which replaces a symlink there
/// rather than writing through it), and the folder is synced so the rename survives a
/// crash.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SealError> {
    let io = |source| SealError::Io {
        path: path.to_owned(),
        source,
    };
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = path
        .file_name()
        .ok_or_else(|| io(std::io::Error::other("not a file path")))?;
    let mut random = [0u8; 12];
    getrandom::fill(&mut random).map_err(|e| io(std::io::Error::other(e.to_string())))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(".tmp-");
    tmp_name.push(random.iter().map(|b| format!("{b:02x}")).collect::<String>());
    let tmp = dir.join(tmp_name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC);
    }
    let mut file = options.open(&tmp).map_err(io)?;
    let written = (|| {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            // The mode given to open is masked by the umask; set it on the handle itself.
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written.map_err(io)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> std::io::Result<()> {
    Ok(())
}

/// A short, stable identifier of a secret, for `secret inspect` and logs: the first
/// 8 bytes of HMAC-SHA-256 under a key derived from the master key, in hex. Keyed, so
/// that a fingerprint in a log cannot be used to guess a weak secret offline.
pub fn fingerprint(master: &MasterKey, secret: &Secret) -> String {
    use hmac::{KeyInit as _, Mac as _};
    let derived = master.derive(b"cast-fingerprint-key-v2");
    let digest = hmac::Hmac::<Sha256>::new_from_slice(&*derived)
        .map(|mac| mac.chain_update(secret.expose()).finalize().into_bytes().to_vec())
        .unwrap_or_default();
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> SealedHeader {
        SealedHeader {
            purpose: PURPOSE_UPSTREAM.into(),
            label: "X-Api-Key".into(),
        }
    }

    #[test]
    fn round_trip_and_fresh_nonce() {
        let master = MasterKey::generate();
        let secret = Secret::new("cast_00112233445566778899aabbccddeeff");
        let a = seal(&master, &header(), &secret).expect("seal");
        let b = seal(&master, &header(), &secret).expect("seal");
        assert_ne!(a, b, "every seal uses a new nonce");
        let (h, opened) = open(&master, &a, Path::new("k")).expect("open");
        assert_eq!(h, header());
        assert_eq!(opened, secret);
        let needle = secret.expose().as_bytes();
        assert!(
            !a.windows(needle.len()).any(|w| w == needle),
            "cleartext is not in the file"
        );
    }

    #[test]
    fn wrong_key_tamper_truncation_and_relabel_are_errors() {
        let master = MasterKey::generate();
        let secret = Secret::new("cast_00112233445566778899aabbccddeeff");
        let sealed = seal(&master, &header(), &secret).expect("seal");
        let path = Path::new("/run/key.sealed");

        let other = MasterKey::generate();
        let err = open(&other, &sealed, path).expect_err("wrong key");
        assert!(matches!(err, SealError::Decrypt { .. }));
        assert!(err.to_string().starts_with("/run/key.sealed: cannot decrypt"));

        let mut tampered = sealed.clone();
        *tampered.last_mut().expect("non-empty") ^= 1;
        assert!(matches!(open(&master, &tampered, path), Err(SealError::Decrypt { .. })));

        // Relabelling: same length label, so only the tag can catch it.
        let mut relabelled = sealed.clone();
        let at = relabelled.windows(9).position(|w| w == b"X-Api-Key").expect("label");
        relabelled[at..at + 9].copy_from_slice(b"X-Api-Kez");
        assert!(matches!(
            open(&master, &relabelled, path),
            Err(SealError::Decrypt { .. })
        ));

        let header_len = read_header(&sealed, path).expect("header").len;
        for cut in [0, 5, 12, header_len + 20] {
            let err = open(&master, &sealed[..cut], path).expect_err("truncated");
            assert!(matches!(err, SealError::Malformed { .. }), "cut at {cut}: {err}");
        }
        // Cut inside the ciphertext: only the tag can tell.
        let err = open(&master, &sealed[..sealed.len() - 1], path).expect_err("truncated");
        assert!(matches!(err, SealError::Decrypt { .. }));
        let err = open(&other, &sealed, path).expect_err("wrong key");
        assert!(!format!("{err} {err:?}").contains(secret.expose()));
    }

    #[test]
    fn version_2_records_when_it_was_sealed() {
        let master = MasterKey::generate();
        let sealed = seal(&master, &header(), &Secret::new("value-123")).expect("seal");
        let info = read_header(&sealed, Path::new("k")).expect("header");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        assert!(info.created.is_some_and(|t| now.abs_diff(t) < 60));
        // The time is authenticated like the rest of the header.
        let mut moved = sealed.clone();
        moved[info.len - 1] ^= 1;
        assert!(matches!(
            open(&master, &moved, Path::new("k")),
            Err(SealError::Decrypt { .. })
        ));
    }

    #[test]
    fn master_key_parsing_names_origin_not_value() {
        let key = MasterKey::generate();
        let text = key.to_base64();
        assert!(MasterKey::from_base64(&text, "env").is_ok());
        assert!(MasterKey::from_base64(text.trim_end_matches('='), "env").is_ok());
        let err = MasterKey::from_base64("c2hvcnQ=", "CAST_MASTER_KEY").expect_err("short");
        assert_eq!(
            err.to_string(),
            "the master key from CAST_MASTER_KEY is not valid: it must decode to exactly 32 bytes"
        );
        assert_eq!(format!("{key:?}"), "MasterKey([redacted])");
    }

    #[test]
    fn short_secrets_are_refused() {
        let master = MasterKey::generate();
        let err = seal(&master, &header(), &Secret::new("k3y")).expect_err("short");
        assert!(err.contains("shorter than 8 bytes"), "{err}");
        assert!(seal(&master, &header(), &Secret::new("12345678")).is_ok());
    }

    #[test]
    fn fingerprints_are_keyed_short_and_stable() {
        let (a, b) = (MasterKey::generate(), MasterKey::generate());
        let secret = Secret::new("user:password");
        let print = fingerprint(&a, &secret);
        assert_eq!(print.len(), 16);
        assert_eq!(print, fingerprint(&a, &secret), "stable under one master key");
        assert_ne!(
            print,
            fingerprint(&b, &secret),
            "another master key, another fingerprint"
        );
        assert_ne!(print, fingerprint(&a, &Secret::new("user:passwore")));
    }

    #[cfg(unix)]
    #[test]
    fn atomic_write_neither_follows_nor_reuses_what_was_planted() {
        use std::os::unix::fs::{PermissionsExt, symlink};
        let dir = tempfile::tempdir().expect("tempdir");
        let elsewhere = tempfile::tempdir().expect("tempdir");
        let victim = elsewhere.path().join("victim");
        std::fs::write(&victim, b"untouched").expect("write");
        // A symlink where the sealed file goes: the write replaces the link, not its target.
        let path = dir.path().join("key.sealed");
        symlink(&victim, &path).expect("symlink");
        // The temp names an older Cast used, planted world-readable and as a symlink.
        let planted = dir.path().join(format!(".key.sealed.tmp{}", std::process::id()));
        std::fs::write(&planted, b"planted").expect("write");
        std::fs::set_permissions(&planted, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        symlink(&victim, dir.path().join(".key.sealed.tmp")).expect("symlink");

        write_atomic(&path, b"sealed bytes").expect("write");

        assert_eq!(std::fs::read(&victim).expect("read"), b"untouched");
        assert_eq!(std::fs::read(&planted).expect("read"), b"planted");
        let meta = std::fs::symlink_metadata(&path).expect("meta");
        assert!(meta.file_type().is_file(), "the link was replaced by a regular file");
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(&path).expect("read"), b"sealed bytes");
        // Nothing else was left behind: the link, the planted file and the sealed file.
        assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 3);
    }

    #[cfg(unix)]
    #[test]
    fn atomic_write_is_private_whatever_the_umask_or_the_old_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("key.sealed");
        std::fs::write(&path, b"old").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        write_atomic(&path, b"new").expect("write");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn atomic_write_is_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("key.sealed");
        write_atomic(&path, b"abc").expect("write");
        write_atomic(&path, b"defg").expect("rewrite");
        assert_eq!(std::fs::read(&path).expect("read"), b"defg");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            std::fs::read_dir(dir.path()).expect("dir").count(),
            1,
            "no temp file left"
        );
    }
}
