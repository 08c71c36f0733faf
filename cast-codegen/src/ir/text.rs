//! Text an agent reads: descriptions as Markdown, and a description for an operation
//! whose spec gave none.

use std::borrow::Cow;

use super::naming;

/// Tags whose presence makes a paragraph HTML rather than Markdown that mentions `<`.
const HTML_TAGS: &[&str] = &[
    "a",
    "b",
    "blockquote",
    "br",
    "code",
    "dd",
    "div",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "li",
    "ol",
    "p",
    "pre",
    "span",
    "strong",
    "sub",
    "sup",
    "table",
    "td",
    "th",
    "tr",
    "u",
    "ul",
];

fn has_html(text: &str) -> bool {
    text.match_indices('<').any(|(at, _)| {
        let rest = text[at + 1..].trim_start_matches('/');
        let name_len = rest.bytes().take_while(u8::is_ascii_alphanumeric).count();
        let after = rest.as_bytes().get(name_len).copied();
        HTML_TAGS.contains(&rest[..name_len].to_ascii_lowercase().as_str())
            && matches!(after, Some(b'>' | b' ' | b'/' | b'\n'))
    })
}

/// `text` with its HTML paragraphs as Markdown (Asana's `<b>Required scope: </b><code>…`).
/// Paragraphs are converted one at a time, so the Markdown around them keeps its line
/// breaks, which an HTML parser would fold into spaces.
pub fn markdown(text: &str) -> Cow<'_, str> {
    if !has_html(text) {
        return Cow::Borrowed(text);
    }
    let paragraphs: Vec<Cow<'_, str>> = text
        .split("\n\n")
        .map(|paragraph| match has_html(paragraph) {
            true => match htmd::convert(paragraph) {
                Ok(converted) if !converted.trim().is_empty() => Cow::Owned(converted.trim().to_owned()),
                _ => Cow::Borrowed(paragraph),
            },
            false => Cow::Borrowed(paragraph),
        })
        .collect();
    Cow::Owned(paragraphs.join("\n\n"))
}

/// A first sentence for an operation that has no summary and no description: its
/// operationId in words (Twilio's `ListSipCredential` is "List sip credential"), else its
/// method and the nouns of its path, then the route itself.
pub fn generated_description(operation_id: Option<&str>, method: &str, path: &str) -> String {
    let from_id = operation_id
        .filter(|id| id.is_ascii())
        .map(naming::words)
        .filter(|words| !words.is_empty());
    let sentence = match from_id {
        Some(words) => sentence(&words),
        None => route_sentence(method, path),
    };
    format!("{sentence} (`{} {path}`).", method.to_ascii_uppercase())
}

fn sentence(words: &[String]) -> String {
    let mut out = String::new();
    for (i, word) in words.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        // Acronyms stay as written (`URL`); other words are lower case after the first.
        let acronym = word.len() > 1 && word.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        match (i, acronym) {
            (_, true) => out.push_str(word),
            (0, false) => {
                let lower = word.to_ascii_lowercase();
                let mut chars = lower.chars();
                if let Some(first) = chars.next() {
                    out.push(first.to_ascii_uppercase());
                    out.push_str(chars.as_str());
                }
            }
            (_, false) => out.push_str(&word.to_ascii_lowercase()),
        }
    }
    out
}

/// `GET /api/v3/movie/{id}` is "Get movie by `id`": version and date segments and file
/// extensions say nothing about what the operation does.
fn route_sentence(method: &str, path: &str) -> String {
    let verb = match method.to_ascii_lowercase().as_str() {
        "get" => "Get",
        "put" => "Replace",
        "patch" => "Update",
        "delete" => "Delete",
        "head" => "Check",
        "options" => "Ask the options of",
        _ => "Send to",
    };
    // The nouns after the last parameter name what is acted on (`/repos/{o}/{r}/issues`);
    // a path that ends in a parameter acts on one of the noun before it.
    let (mut since_param, mut last_noun, mut by) = (Vec::new(), None, None);
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        if let Some(param) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            by = Some(param.to_owned());
            since_param.clear();
            continue;
        }
        let segment = segment.split('.').next().unwrap_or(segment);
        let version = segment.len() > 1
            && segment.starts_with(['v', 'V'])
            && segment[1..].bytes().all(|b| b.is_ascii_digit() || b == b'.');
        let dated = segment.bytes().all(|b| b.is_ascii_digit() || b == b'-');
        if segment.is_empty() || version || dated || segment.eq_ignore_ascii_case("api") {
            continue;
        }
        let noun = naming::words(segment).join(" ").to_ascii_lowercase();
        by = None;
        since_param.push(noun.clone());
        last_noun = Some(noun);
    }
    match (since_param.is_empty(), last_noun, by) {
        (false, _, _) => format!("{verb} {}", since_param.join(" ")),
        (true, Some(noun), Some(param)) => format!("{verb} {noun} by `{param}`"),
        (true, None, Some(param)) => format!("{verb} by `{param}`"),
        (true, _, None) => format!("{verb} the API root"),
    }
}

/// Words too common to tell operations apart.
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "as", "at", "be", "by", "for", "from", "in", "is", "it", "of", "on", "or", "the", "this", "to",
    "with",
];

/// What catalog search finds a tool by, as `weight:term` pairs: its name's words (3), its
/// tags' and summary's (2), its arguments' names and its description's first sentence
/// (1). Each term once, at its highest weight.
pub fn search_terms(tool: &super::ToolIr) -> String {
    let mut terms: Vec<(String, u8)> = Vec::new();
    let mut add = |text: &str, weight: u8| {
        for word in naming::words(text) {
            let word = word.to_ascii_lowercase();
            if STOP_WORDS.contains(&word.as_str()) || word.is_empty() {
                continue;
            }
            match terms.iter_mut().find(|(term, _)| *term == word) {
                Some((_, w)) => *w = (*w).max(weight),
                None => terms.push((word, weight)),
            }
        }
    };
    add(&tool.name, 3);
    for tag in &tool.tags {
        add(tag, 2);
    }
    if let Some(title) = &tool.title {
        add(title, 2);
    }
    let first = tool.description.split(". ").next().unwrap_or_default();
    add(first, 1);
    for arg in &tool.args {
        add(&arg.name.arg, 1);
    }
    terms
        .iter()
        .map(|(term, weight)| format!("{weight}:{term}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The spec's word on one area of the API (`tags`).
#[derive(Debug, Clone, Copy)]
pub struct Area<'a> {
    /// The tag.
    pub name: &'a str,
    /// Its description.
    pub description: Option<&'a str>,
}

/// The server's `instructions`: what the API is, then one line per area (tag, or first
/// path segment for untagged tools) with its size, what the spec says of it and the tools
/// to reach for, within `budget` bytes. Clients that defer tool schemas (Claude Code,
/// Codex) show the model this and the tool names alone.
pub fn instructions(
    title: &str,
    description: Option<&str>,
    areas: &[Area<'_>],
    tools: &[&super::ToolIr],
    budget: usize,
) -> String {
    let about = description
        .map(|d| first_sentences(&markdown(d), 400))
        .filter(|d| !d.is_empty());
    let mut out = about.unwrap_or_else(|| format!("{title}."));
    // Groups in the spec's tag order, then in order of first use.
    let mut groups: Vec<(String, Vec<&super::ToolIr>)> = Vec::new();
    for tool in tools {
        let key = tool.tags.first().cloned().unwrap_or_else(|| {
            let segment = tool.path.split('/').find(|s| !s.is_empty() && !s.starts_with('{'));
            segment.unwrap_or("/").to_owned()
        });
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, members)) => members.push(tool),
            None => groups.push((key, vec![tool])),
        }
    }
    let rank = |key: &str| areas.iter().position(|a| a.name == key).unwrap_or(usize::MAX);
    groups.sort_by_key(|(key, _)| rank(key));
    if groups.is_empty() {
        return truncate_at_char(&out, budget).to_owned();
    }
    out.push_str(&format!("\n\n{} tools in {} areas:", tools.len(), groups.len()));
    // Each area with what the spec says of it and three tools to reach for; when that is
    // too long for every area to be named, one tool each, then without the spec's words,
    // so that no area goes unmentioned.
    let lines = |examples_per_area: usize, said_too: bool| -> Vec<String> {
        groups
            .iter()
            .map(|(key, members)| {
                let mut examples: Vec<&super::ToolIr> = members.clone();
                // Read-only tools first: the ones an agent reaches for to find its way.
                examples.sort_by_key(|t| !t.annotations.read_only);
                let names: Vec<String> = examples
                    .iter()
                    .take(examples_per_area)
                    .map(|t| format!("`{}`", t.name))
                    .collect();
                let said = areas
                    .iter()
                    .find(|a| a.name == key)
                    .and_then(|a| a.description)
                    .map(|d| first_sentences(&markdown(d), 120))
                    .filter(|d| said_too && !d.is_empty());
                match said {
                    Some(said) => {
                        let stop = if said.ends_with(['.', '!', '?', '…']) {
                            ""
                        } else {
                            "."
                        };
                        format!(
                            "\n- {key} ({}): {said}{stop} Tools: {}",
                            members.len(),
                            names.join(", ")
                        )
                    }
                    None => format!("\n- {key} ({}): {}", members.len(), names.join(", ")),
                }
            })
            .collect()
    };
    let fits = |lines: &Vec<String>| out.len() + lines.iter().map(String::len).sum::<usize>() <= budget;
    let chosen = [(3, true), (1, true)]
        .into_iter()
        .map(|(examples, said)| lines(examples, said))
        .find(fits)
        .unwrap_or_else(|| lines(1, false));
    for (shown, line) in chosen.iter().enumerate() {
        let tail = format!("\n- … {} more areas; tools/list has every tool.", groups.len() - shown);
        let last = shown + 1 == chosen.len();
        if out.len() + line.len() + if last { 0 } else { tail.len() } > budget {
            if out.len() + tail.len() <= budget {
                out.push_str(&tail);
            }
            break;
        }
        out.push_str(line);
    }
    truncate_at_char(&out, budget).to_owned()
}

/// A description within `max` bytes: its first sentence, cut at a word with `…` when even
/// that is longer.
pub fn shortened(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    first_sentences(text, max)
}

/// Whole sentences of `text` up to about `limit` bytes (at least the first, cut at a word).
fn first_sentences(text: &str, limit: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut end = 0;
    for (at, _) in flat.match_indices(". ") {
        if at + 1 > limit {
            break;
        }
        end = at + 1;
    }
    if end == 0 || flat.len() <= limit {
        end = flat.len().min(limit);
        if end < flat.len() {
            let cut = truncate_at_char(&flat, end);
            return match cut.rfind(' ') {
                Some(space) => format!("{}…", &cut[..space]),
                None => cut.to_owned(),
            };
        }
    }
    flat[..end].to_owned()
}

fn truncate_at_char(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_paragraphs_become_markdown_and_markdown_stays() {
        let asana = "<b>Required scope: </b><code>attachments:read</code>\n\nGet the full record.\n\n- a\n- b";
        assert_eq!(
            markdown(asana),
            "**Required scope:** `attachments:read`\n\nGet the full record.\n\n- a\n- b"
        );
        let plain = "Returns items where `a < b` and <id> is the key.";
        assert!(matches!(markdown(plain), Cow::Borrowed(_)));
        assert_eq!(
            markdown("<p>See <a href=\"https://example.com/docs\">the docs</a>.</p>"),
            "See [the docs](https://example.com/docs)."
        );
    }

    #[test]
    fn descriptions_for_operations_without_one() {
        assert_eq!(
            generated_description(
                Some("ListSipCredential"),
                "get",
                "/2010-04-01/Accounts/{AccountSid}/SIP/Credentials.json"
            ),
            "List sip credential (`GET /2010-04-01/Accounts/{AccountSid}/SIP/Credentials.json`)."
        );
        assert_eq!(
            generated_description(None, "get", "/api/v3/movie/{id}"),
            "Get movie by `id` (`GET /api/v3/movie/{id}`)."
        );
        assert_eq!(
            generated_description(Some("节假日列表"), "post", "/holiday/list"),
            "Send to holiday list (`POST /holiday/list`)."
        );
        assert_eq!(
            generated_description(Some("getURLPreview"), "get", "/p"),
            "Get URL preview (`GET /p`)."
        );
    }
}
