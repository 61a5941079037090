//! Every CommonMark 0.31.2 spec example, rendered for speech, must (1) keep no markup
//! syntax and (2) say the words of the reference rendering outside code, in order.
//!
//! The reference is the spec's own `html`: tags stripped (`<img>` counts as its `alt` text,
//! which we speak), `<pre>` content dropped (code blocks are not spoken) while inline
//! `<code>` content is kept (inline code is spoken as words), entities decoded, URLs
//! reduced to their host without "www." (we speak a URL as its host), lower-cased, and split
//! into words = runs of alphanumeric characters ("'" separates words on both sides). Outside
//! code, `*` and `~` are dropped without splitting words and `_` splits only between two
//! ASCII letters or digits: matched emphasis delimiters leave no trace in the rendering, so
//! unmatched ones must not either, or a streamed prefix (still unmatched) would differ.
//! We add no words of our own, so the sequences must be equal.

mod common;

use stream_tts_core::speakable;

/// Characters a voice would read out as markup: none may survive.
const FORBIDDEN_CHARS: &[char] = &[
    '*', '`', '|', '#', '[', ']', '<', '>', '\\', '~', '{', '}', '_', '^',
];
/// Sequences that would be read as URL or comment noise.
const FORBIDDEN_SEQS: &[&str] = &["//", "](", "www.", "--", "=="];

/// Why a speakable line still contains markup syntax, if it does.
pub fn markup_left(spoken: &str) -> Option<String> {
    if let Some(c) = spoken.chars().find(|c| FORBIDDEN_CHARS.contains(c)) {
        return Some(format!("character {c:?}"));
    }
    if let Some(s) = FORBIDDEN_SEQS.iter().find(|s| spoken.contains(**s)) {
        return Some(format!("sequence {s:?}"));
    }
    for line in spoken.lines() {
        if line.starts_with("- ") || line.starts_with("+ ") || line.starts_with("= ") {
            return Some(format!("list or rule marker at line start: {line:?}"));
        }
    }
    None
}

/// HTML elements that separate words when rendered (block-level, as listed for CommonMark
/// HTML blocks), plus links and images, whose text we say as a group of its own.
const BLOCK_TAGS: &[&str] = &[
    "a",
    "address",
    "article",
    "aside",
    "base",
    "basefont",
    "blockquote",
    "body",
    "br",
    "caption",
    "center",
    "col",
    "colgroup",
    "dd",
    "details",
    "dialog",
    "dir",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "frame",
    "frameset",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "header",
    "hr",
    "html",
    "iframe",
    "img",
    "legend",
    "li",
    "link",
    "main",
    "menu",
    "menuitem",
    "nav",
    "noframes",
    "ol",
    "optgroup",
    "option",
    "p",
    "param",
    "pre",
    "script",
    "search",
    "section",
    "style",
    "summary",
    "table",
    "tbody",
    "td",
    "textarea",
    "tfoot",
    "th",
    "thead",
    "title",
    "tr",
    "track",
    "ul",
];

/// Elements whose content is code or data, not prose: dropped with their content.
const CODE_TAGS: &[&str] = &["pre", "script", "style", "textarea"];

/// Text of the reference HTML as a reader would see it (see the module comment).
fn reference_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    let mut in_code = false;
    while let Some(lt) = rest.find('<') {
        push_decoded(&mut out, &rest[..lt], in_code);
        rest = &rest[lt..];
        for (open, close) in [
            ("<!--", "-->"),
            ("<?", "?>"),
            ("<![CDATA[", "]]>"),
            ("<!", ">"),
        ] {
            if rest.starts_with(open) {
                let stop = rest.find(close).map_or(rest.len(), |p| p + close.len());
                rest = &rest[stop..];
                out.push(' ');
                break;
            }
        }
        if !rest.starts_with('<') {
            continue;
        }
        let b = rest.as_bytes();
        let name_at = if b.get(1) == Some(&b'/') { 2 } else { 1 };
        if !b.get(name_at).is_some_and(u8::is_ascii_alphabetic) {
            out.push('<'); // not a tag
            rest = &rest[1..];
            continue;
        }
        let tag_end = tag_end(rest);
        let tag = &rest[..tag_end];
        let closing = name_at == 2;
        let name: String = tag[name_at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        rest = &rest[tag_end..];
        if name == "code" {
            in_code = !closing;
        }
        if BLOCK_TAGS.contains(&name.as_str()) {
            out.push(' ');
        }
        if name == "img" {
            if let Some(alt) = attr(tag, "alt") {
                push_decoded(&mut out, alt, false);
                out.push(' ');
            }
        } else if !closing && CODE_TAGS.contains(&name.as_str()) {
            let close = format!("</{name}>");
            let stop = rest.find(&close).map_or(rest.len(), |p| p + close.len());
            rest = &rest[stop..];
        }
    }
    push_decoded(&mut out, rest, in_code);
    out
}

/// End of the tag at the start of `s`: the first '>' outside quoted attribute values.
fn tag_end(s: &str) -> usize {
    let mut quote = None;
    for (i, c) in s.char_indices().skip(1) {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '>' => return i + 1,
            None => {}
        }
    }
    s.len()
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let start = tag.find(&key)? + key.len();
    let end = tag[start..].find('"')? + start;
    Some(&tag[start..end])
}

/// Decoded text; outside code, `*` and `~` join what is around them (matched as emphasis
/// they vanish, so we drop them unmatched too) and `_` splits words only inside a word.
fn push_decoded(out: &mut String, text: &str, in_code: bool) {
    let decoded = html_escape::decode_html_entities(text);
    if in_code {
        out.push_str(&decoded);
        return;
    }
    let chars: Vec<char> = decoded.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '*' | '~' => {}
            '_' => {
                let word = |k: Option<&char>| k.is_some_and(|c| c.is_ascii_alphanumeric());
                if i > 0 && word(chars.get(i - 1)) && word(chars.get(i + 1)) {
                    out.push(' ');
                }
            }
            _ => out.push(c),
        }
    }
}

/// "https://www.x.org/a" -> "x.org": what we chose to speak for a URL.
fn hosts_only(text: &str) -> String {
    let mut out = Vec::new();
    for token in text.split_whitespace() {
        let (before, url) = if let Some(p) = token.find("://") {
            let scheme = token[..p]
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || "+.-".contains(c)))
                .map_or(0, |q| q + 1);
            (&token[..scheme], &token[p + 3..])
        } else if let Some(p) = token.find("www.") {
            (&token[..p], token)
        } else {
            out.push(token.to_owned());
            continue;
        };
        // A URL ends at a bracket, as in our speech (brackets are never URL characters).
        let (url, after) = url.split_at(url.find(['[', ']']).unwrap_or(url.len()));
        let host_end = url.find(['/', '?', '#']).unwrap_or(url.len());
        let mut host = &url[..host_end];
        if let Some(at) = host.rfind('@') {
            host = &host[at + 1..];
        }
        if let Some(c) = host.find(':') {
            host = &host[..c];
        }
        let host = host.strip_prefix("www.").unwrap_or(host);
        out.push(format!("{before} {host} {after}"));
    }
    out.join(" ")
}

#[test]
fn commonmark_spec_examples() {
    if !common::have_data() {
        return;
    }
    let spec = common::read_json("commonmark_spec_0.31.2.json");
    let examples = spec["examples"].as_array().expect("examples array");
    assert_eq!(examples.len(), 655, "CommonMark 0.31.2 has 655 examples");
    let mut failures = Vec::new();
    for ex in examples {
        let n = ex["example"].as_u64().expect("example number");
        let md = ex["markdown"].as_str().expect("markdown");
        let html = ex["html"].as_str().expect("html");
        let spoken = speakable(md);
        if let Some(why) = markup_left(&spoken) {
            failures.push(format!("#{n}: markup left ({why}): {md:?} -> {spoken:?}"));
            continue;
        }
        let want = common::words(&hosts_only(&reference_text(html)));
        let got = common::words(&spoken);
        if got != want {
            failures.push(format!(
                "#{n}: words differ\n  md   {md:?}\n  html {html:?}\n  said {spoken:?}\n  want {want:?}\n  got  {got:?}"
            ));
        }
    }
    println!(
        "commonmark: {}/{} examples pass",
        examples.len() - failures.len(),
        examples.len()
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
