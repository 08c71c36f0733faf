//! Keeping secrets out of everything an untrusted party sends back.
//!
//! An upstream may echo the credential it received (a debug endpoint, an error that
//! quotes the request), and not always as sent: JSON encoders escape characters
//! (`\u0063`, `\/`), a proxy may base64 a whole header block, a framework may
//! percent-encode. [`Needles`] holds every form of each secret and removes them in one
//! pass over the bytes; inside JSON string literals it compares the *decoded* text, so
//! no escape sequence can smuggle a secret past it.

use aho_corasick::AhoCorasick;
use base64::Engine as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use zeroize::Zeroizing;

/// What a secret is replaced with.
pub(crate) const REDACTED: &str = "[redacted]";

/// `encodeURIComponent` leaves these unescaped besides the RFC 3986 unreserved set.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*');

/// The secrets of one request in every form they could come back in.
///
/// Every copy is wiped when the set is dropped.
#[derive(Default)]
pub(crate) struct Needles {
    forms: Vec<Zeroizing<Vec<u8>>>,
    matcher: Option<AhoCorasick>,
}

impl std::fmt::Debug for Needles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Needles({} forms)", self.forms.len())
    }
}

impl Needles {
    /// A set holding `secrets`, each in every form.
    pub(crate) fn of<'a>(secrets: impl IntoIterator<Item = &'a str>) -> Self {
        let mut needles = Self::default();
        for secret in secrets {
            needles.add(secret);
        }
        needles.build();
        needles
    }

    fn add(&mut self, secret: &str) {
        if secret.is_empty() {
            return;
        }
        let mut push = |form: Vec<u8>| {
            if !form.is_empty() && !self.forms.iter().any(|f| **f == form) {
                self.forms.push(Zeroizing::new(form));
            }
        };
        push(secret.as_bytes().to_vec());
        for set in [NON_ALPHANUMERIC, crate::style::COMPONENT, URI_COMPONENT] {
            let upper = Zeroizing::new(utf8_percent_encode(secret, set).to_string());
            push(upper.as_bytes().to_vec());
            push(lower_hex_escapes(&upper).into_bytes());
            // `application/x-www-form-urlencoded` writes spaces as `+`.
            push(upper.replace("%20", "+").into_bytes());
        }
        for engine in [
            &base64::engine::general_purpose::STANDARD_NO_PAD,
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ] {
            for form in base64_cores(engine, secret.as_bytes()) {
                push(form.as_bytes().to_vec());
            }
        }
    }

    fn build(&mut self) {
        self.matcher = if self.forms.is_empty() {
            None
        } else {
            // Leftmost-longest: where one form is a prefix of another, the longer goes.
            AhoCorasick::builder()
                .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                .build(self.forms.iter().map(|f| f.as_slice()))
                .ok()
        };
    }

    /// The length of the longest form a secret can take on the wire, JSON escapes
    /// included (`\u00XX` is six bytes for one): reading this much past a cut means
    /// that a secret straddling it is still seen whole.
    pub(crate) fn lookahead(&self) -> usize {
        self.forms.iter().map(|f| f.len() * 6).max().unwrap_or(0)
    }

    /// Whether `bytes` holds a secret in any form, raw or JSON-escaped.
    #[cfg(test)]
    pub(crate) fn found_in(&self, bytes: &[u8]) -> bool {
        self.redact(bytes) != bytes
    }

    /// Removes every secret from `bytes`: each form as it stands, then each secret
    /// hidden behind JSON string escapes.
    pub(crate) fn redact(&self, bytes: &[u8]) -> Vec<u8> {
        let Some(matcher) = &self.matcher else {
            return bytes.to_vec();
        };
        let plain = replace_all(matcher, bytes);
        if !plain.contains(&b'\\') {
            return plain;
        }
        redact_escaped(matcher, &plain)
    }

    /// [`Needles::redact`] for text.
    pub(crate) fn redact_str(&self, text: &str) -> String {
        if self.matcher.is_none() {
            return text.to_owned();
        }
        // Redaction replaces whole matches of valid UTF-8 forms with ASCII, and escaped
        // literals with JSON text: the result stays UTF-8.
        String::from_utf8_lossy(&self.redact(text.as_bytes())).into_owned()
    }
}

fn lower_hex_escapes(encoded: &str) -> String {
    let mut out = String::with_capacity(encoded.len());
    let mut rest = encoded;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        let escape = rest.get(at..at + 3).unwrap_or(&rest[at..]);
        out.push_str(&escape.to_ascii_lowercase());
        rest = &rest[at + escape.len()..];
    }
    out.push_str(rest);
    out
}

/// The base64 characters that encode `secret` alone, at each of the three byte
/// alignments it can have inside a longer base64 text (a whole header block, a
/// `user:password` pair): characters that also carry bits of the neighbouring bytes
/// are left out, so the core is found whatever surrounds the secret.
fn base64_cores(engine: &base64::engine::GeneralPurpose, secret: &[u8]) -> Vec<Zeroizing<String>> {
    let mut cores = Vec::with_capacity(3);
    for shift in 0..3usize {
        let mut shifted = Zeroizing::new(vec![0u8; shift]);
        shifted.extend_from_slice(secret);
        let encoded = Zeroizing::new(engine.encode(shifted.as_slice()));
        // The characters touching the `shift` prefix bytes: 0, 2 or 3.
        let skip = [0, 2, 3][shift];
        // The last character mixes in whatever follows unless the bytes end a 3-byte group.
        let end = if shifted.len() % 3 == 0 {
            encoded.len()
        } else {
            encoded.len() - 1
        };
        if end > skip {
            cores.push(Zeroizing::new(encoded[skip..end].to_owned()));
        }
    }
    // The aligned form whole, padding and the final character included, as `Basic` sends it.
    cores.push(Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(secret)));
    cores.retain(|core| core.len() >= 4.min(secret.len()));
    cores
}

fn replace_all(matcher: &AhoCorasick, bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut last = 0;
    for found in matcher.find_iter(bytes) {
        out.extend_from_slice(&bytes[last..found.start()]);
        out.extend_from_slice(REDACTED.as_bytes());
        last = found.end();
    }
    out.extend_from_slice(&bytes[last..]);
    out
}

/// Decodes every JSON string escape in `bytes` (inside string literals or not: a text
/// body can carry them bare), finds secrets in the decoded view, and replaces the
/// source bytes each one came from. Everything else stays byte for byte, so JSON stays
/// valid: a secret found inside a string literal is replaced inside it.
fn redact_escaped(matcher: &AhoCorasick, bytes: &[u8]) -> Vec<u8> {
    let (decoded, starts) = unescape(bytes);
    let mut out = Vec::with_capacity(bytes.len());
    let mut last = 0;
    for found in matcher.find_iter(decoded.as_slice()) {
        let start = starts[found.start()];
        let end = starts.get(found.end()).copied().unwrap_or(bytes.len());
        if start < last {
            continue;
        }
        out.extend_from_slice(&bytes[last..start]);
        out.extend_from_slice(REDACTED.as_bytes());
        last = end;
    }
    out.extend_from_slice(&bytes[last..]);
    out
}

/// Decodes JSON string escapes, leniently: anything that is not a valid escape stays as
/// written. Returns the decoded bytes and, for each, where its source begins.
fn unescape(body: &[u8]) -> (Zeroizing<Vec<u8>>, Vec<usize>) {
    let mut out = Zeroizing::new(Vec::with_capacity(body.len()));
    let mut starts = Vec::with_capacity(body.len());
    let mut i = 0;
    let hex4 = |at: usize| -> Option<u32> {
        let digits = body.get(at..at + 4)?;
        u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
    };
    while i < body.len() {
        let from = i;
        let mut emit = |bytes: &[u8], out: &mut Vec<u8>| {
            out.extend_from_slice(bytes);
            starts.extend(std::iter::repeat_n(from, bytes.len()));
        };
        if body[i] != b'\\' || i + 1 >= body.len() {
            emit(&body[i..=i], &mut out);
            i += 1;
            continue;
        }
        let simple = match body[i + 1] {
            b'"' => Some(b'"'),
            b'\\' => Some(b'\\'),
            b'/' => Some(b'/'),
            b'b' => Some(0x08),
            b'f' => Some(0x0c),
            b'n' => Some(b'\n'),
            b'r' => Some(b'\r'),
            b't' => Some(b'\t'),
            _ => None,
        };
        if let Some(byte) = simple {
            emit(&[byte], &mut out);
            i += 2;
            continue;
        }
        if body[i + 1] == b'u'
            && let Some(unit) = hex4(i + 2)
        {
            let (code, used) = if (0xD800..0xDC00).contains(&unit)
                && body.get(i + 6..i + 8) == Some(b"\\u")
                && let Some(low) = hex4(i + 8)
                && (0xDC00..0xE000).contains(&low)
            {
                (0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00), 12)
            } else {
                (unit, 6)
            };
            if let Some(c) = char::from_u32(code) {
                let mut buffer = [0u8; 4];
                emit(c.encode_utf8(&mut buffer).as_bytes(), &mut out);
                i += used;
                continue;
            }
        }
        emit(&body[i..=i], &mut out);
        i += 1;
    }
    (out, starts)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "cast_4f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3c";

    fn escape_all(text: &str) -> String {
        text.chars().map(|c| format!("\\u{:04x}", c as u32)).collect()
    }

    #[test]
    fn every_encoding_of_the_secret_is_removed() {
        let needles = Needles::of([KEY, "user:p@ss w/rd+"]);
        let b64 = |e: &base64::engine::GeneralPurpose, s: &str| e.encode(s);
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
        let basic = "user:p@ss w/rd+";
        let forms = [
            KEY.to_owned(),
            escape_all(KEY),
            KEY.replace('_', "\\u005F"),
            b64(&STANDARD, basic),
            b64(&STANDARD_NO_PAD, basic),
            b64(&URL_SAFE, basic),
            b64(&URL_SAFE_NO_PAD, basic),
            utf8_percent_encode(basic, crate::style::COMPONENT).to_string(),
            lower_hex_escapes(&utf8_percent_encode(basic, crate::style::COMPONENT).to_string()),
            basic.replace('/', "\\/"),
            // The key inside a longer base64 text, at each alignment.
            b64(&STANDARD, &format!("X-Api-Key: {KEY}\r\n")),
            b64(&STANDARD, &format!("k: {KEY}")),
            b64(&URL_SAFE_NO_PAD, &format!("ab{KEY}cd")),
        ];
        for form in forms {
            let body = format!("{{\"echo\":\"{form}\",\"n\":1}}");
            let clean = needles.redact_str(&body);
            let decoded: serde_json::Value = serde_json::from_str(&clean).expect("still JSON");
            let shown = decoded["echo"].as_str().expect("string").to_owned();
            assert!(shown.contains(REDACTED), "{form} → {clean}");
            assert!(!shown.contains(KEY) && !shown.contains(basic), "{form} → {shown}");
            assert_eq!(decoded["n"], 1);
        }
    }

    #[test]
    fn keys_of_objects_and_text_outside_json_are_covered() {
        let needles = Needles::of([KEY]);
        let body = format!("{{\"{}\":true}} and {KEY} in text", escape_all(KEY));
        let clean = needles.redact_str(&body);
        assert_eq!(clean, "{\"[redacted]\":true} and [redacted] in text");
    }

    #[test]
    fn bare_escapes_in_text_are_covered_and_the_rest_is_kept() {
        let needles = Needles::of([KEY]);
        let body = format!("id \\u00e9 {} end", escape_all(KEY));
        assert_eq!(needles.redact_str(&body), "id \\u00e9 [redacted] end");
    }

    #[test]
    fn a_literal_cut_short_is_still_redacted() {
        let needles = Needles::of([KEY]);
        let body = format!("{{\"a\":\"x{}", escape_all(KEY));
        let clean = needles.redact_str(&body);
        assert_eq!(clean, "{\"a\":\"x[redacted]");
        assert!(needles.lookahead() >= KEY.len() * 6);
    }

    #[test]
    fn text_without_secrets_is_untouched_byte_for_byte() {
        let needles = Needles::of([KEY]);
        for body in [
            "{ \"a\" : \"\\u00e9\\n\" }",
            "plain \"quote",
            "\\\"",
            "",
            "{\"k\":\"cast_4f9a\"}",
        ] {
            assert_eq!(needles.redact_str(body), body);
        }
        assert!(!Needles::of([KEY]).found_in(b"{\"k\":\"\\u0063ast\"}"));
    }

    #[test]
    fn short_secrets_are_redacted_too() {
        let needles = Needles::of(["k3y"]);
        assert_eq!(
            needles.redact_str("a k3y b k3yk3y"),
            "a [redacted] b [redacted][redacted]"
        );
        assert_eq!(Needles::of([""]).redact_str("abc"), "abc");
    }

    #[test]
    fn surrogate_pairs_and_bad_escapes_decode_leniently() {
        assert_eq!(unescape(b"\\ud83d\\ude00").0.as_slice(), "😀".as_bytes());
        assert_eq!(unescape(b"\\uZZZZ\\q\\").0.as_slice(), b"\\uZZZZ\\q\\");
        let needles = Needles::of(["😀secret"]);
        assert!(needles.found_in(b"\"\\ud83d\\ude00secret\""));
    }
}
