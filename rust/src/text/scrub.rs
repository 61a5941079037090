//! Plain-text cleanup for speech: what is left of Markdown after the parser has consumed the
//! syntax still carries things a voice would read out loud ("asterisk", "h t t p colon slash
//! slash", emoji names). These writers append cleaned text to a line buffer.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// Characters that only ever reach speech as markup noise; replaced by a space so the words
/// on either side stay apart ("foo*bar" is two words to the reader too).
#[inline]
fn is_markup_char(c: char) -> bool {
    matches!(
        c,
        '*' | '`' | '|' | '#' | '[' | ']' | '\\' | '~' | '<' | '>' | '{' | '}' | '^' | '_'
    )
}

/// Emoji and decorative symbols: pictographs, dingbats, box drawing, arrows, bullets,
/// variation selectors and joiners. Currency, math and a few spoken symbols stay.
fn is_decorative(c: char) -> bool {
    if c.is_ascii() {
        return false;
    }
    match c {
        '°' | '©' | '®' | '™' => false,
        '\u{2190}'..='\u{21FF}' | '\u{27F0}'..='\u{27FF}' | '\u{2900}'..='\u{297F}' => true,
        '•' | '‣' | '⁃' | '∙' | '\u{200D}' | '\u{20E3}' | '\u{FE00}'..='\u{FE0F}' => true,
        '\u{E0020}'..='\u{E007F}' => true,
        _ => matches!(
            c.general_category(),
            GeneralCategory::OtherSymbol
                | GeneralCategory::ModifierSymbol
                | GeneralCategory::PrivateUse
                | GeneralCategory::Surrogate
                | GeneralCategory::Control
        ),
    }
}

/// Punctuation that attaches to the word before it: a space left there by a dropped symbol
/// ("Done ✅.") is removed.
#[inline]
fn attaches_left(c: char) -> bool {
    matches!(c, '.' | ',' | '!' | '?' | ';' | ':' | ')')
}

/// Appends one character with whitespace collapsed and no space at the start of a line.
#[inline]
fn push_char(out: &mut String, line_start: usize, c: char) {
    if c.is_whitespace() {
        if out.len() > line_start && !out.ends_with(' ') {
            out.push(' ');
        }
    } else if attaches_left(c) && out.len() > line_start + 1 && out.ends_with(' ') {
        out.pop();
        out.push(c);
    } else if c == ')' && out.ends_with('(') {
        // "foo()" in prose: empty parentheses say nothing.
        out.pop();
    } else {
        out.push(c);
    }
}

/// Appends prose: URLs become their host, markup characters and emoji are dropped.
pub(crate) fn push_text(out: &mut String, line_start: usize, text: &str) {
    let mut rest = text;
    let mut prev = None;
    while let Some((before, url, after)) = find_url(rest) {
        push_plain(out, line_start, before, prev, url.bytes().next());
        push_host(out, line_start, url);
        prev = url.bytes().last();
        rest = after;
    }
    push_plain(out, line_start, rest, prev, None);
}

/// ASCII that is copied as is: no markup, no whitespace, nothing that attaches left.
#[inline]
const fn is_plain_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'\'' | b'"' | b'(' | b'$' | b'%' | b'&' | b'+' | b'@')
}

/// Classes of `RUN`.
const PLAIN: u8 = 1;
const AFTER_WORD: u8 = 2;

/// The bytes `push_plain` copies as is: `PLAIN` anywhere ([`is_plain_byte`]), `AFTER_WORD`
/// right after a byte it copied that is not a space, so that `out` ends with that byte:
/// a single space (`push_char` adds one then) and punctuation that attaches left (it only
/// moves left over a space). A word and its punctuation and space go in with one copy.
static RUN: [u8; 256] = {
    let mut t = [0; 256];
    let mut b = 0;
    while b < 256 {
        if is_plain_byte(b as u8) {
            t[b] = PLAIN;
        }
        b += 1;
    }
    let after = b" .,!?;:";
    let mut k = 0;
    while k < after.len() {
        t[after[k] as usize] = AFTER_WORD;
        k += 1;
    }
    t
};

/// `prev`/`next`: the bytes around `text` in the text it was cut from (a URL cut off),
/// so that "_" reads the same whether or not a URL has formed next to it yet.
fn push_plain(out: &mut String, line_start: usize, text: &str, prev: Option<u8>, next: Option<u8>) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        // Fast path: a run of letters, digits and harmless punctuation goes in as is, and
        // with it what `push_char` would copy as is after such a byte (see `RUN`).
        if is_plain_byte(b) {
            // (`out` below `line_start` never happens; then only plain bytes, to be safe.)
            let after_word = if out.len() >= line_start {
                AFTER_WORD
            } else {
                PLAIN
            };
            let mut j = i + 1;
            while j < bytes.len() {
                let class = RUN[usize::from(bytes[j])];
                if !(class == PLAIN || (class == after_word && bytes[j - 1] != b' ')) {
                    break;
                }
                j += 1;
            }
            out.push_str(&text[i..j]);
            i = j;
            continue;
        }
        i = push_special(out, line_start, text, i, prev, next);
    }
}

/// Writes what starts at `text[i]`, a byte that is not [`is_plain_byte`]; returns where the
/// next thing starts.
#[inline]
fn push_special(
    out: &mut String,
    line_start: usize,
    text: &str,
    i: usize,
    prev: Option<u8>,
    next: Option<u8>,
) -> usize {
    let bytes = text.as_bytes();
    let b = bytes[i];
    if b < 0x80 {
        let c = b as char;
        // Runs like "--", "==", "//" are rules and comment markers, never words.
        if matches!(c, '-' | '=' | '/') && bytes.get(i + 1) == Some(&b) {
            let mut j = i;
            while j < bytes.len() && bytes[j] == b {
                j += 1;
            }
            push_char(out, line_start, ' ');
            return j;
        }
        if matches!(c, '*' | '~' | '_') {
            // Emphasis delimiters vanish without a trace once matched, so a literal one
            // must too, or a streamed prefix (still unmatched) would differ from the
            // whole. Only "_" inside a word, which can never be emphasis, splits it
            // ("max_tokens" reads "max tokens").
            let word = |k: Option<u8>| k.is_some_and(|k| k.is_ascii_alphanumeric());
            let before = if i > 0 { Some(bytes[i - 1]) } else { prev };
            let after = bytes.get(i + 1).copied().or(next);
            if c == '_' && word(before) && word(after) {
                push_char(out, line_start, ' ');
            }
        } else if is_markup_char(c) || (c.is_ascii_control() && c != '\n' && c != '\t') {
            push_char(out, line_start, ' ');
        } else {
            push_char(out, line_start, c);
        }
        i + 1
    } else {
        let c = text[i..].chars().next().unwrap_or(' ');
        if is_decorative(c) {
            push_char(out, line_start, ' ');
        } else {
            push_char(out, line_start, c);
        }
        i + c.len_utf8()
    }
}

/// Appends inline code as words: identifiers, numbers, file names and versions stay
/// ("main.rs", "v2.1.0", "codegen-units"); operators and brackets become pauses-free spaces.
pub(crate) fn push_code_words(out: &mut String, line_start: usize, code: &str) {
    let mut rest = code;
    while let Some((before, url, after)) = find_url(rest) {
        push_code_plain(out, line_start, before);
        push_host(out, line_start, url);
        rest = after;
    }
    push_code_plain(out, line_start, rest);
}

fn push_code_plain(out: &mut String, line_start: usize, code: &str) {
    let mut prev: Option<char> = None;
    let mut it = code.chars().peekable();
    while let Some(c) = it.next() {
        let keep = if c.is_alphanumeric() {
            true
        } else if matches!(c, '.' | '-' | '\'') {
            // Joiners inside a word only: "main.rs", "day-to-day", "don't".
            prev.is_some_and(char::is_alphanumeric)
                && it.peek().is_some_and(|n| n.is_alphanumeric())
        } else {
            false
        };
        if keep && !is_decorative(c) {
            out.push(c);
        } else {
            push_char(out, line_start, ' ');
        }
        prev = Some(c);
    }
}

/// Speaks a URL as its host without "www.": "https://www.github.com/a/b" -> "github.com".
fn push_host(out: &mut String, line_start: usize, url: &str) {
    let host = url_host(url);
    if !host.is_empty() {
        push_plain(out, line_start, host, None, None);
    }
}

/// The host part of a URL or "www." address.
pub(crate) fn url_host(url: &str) -> &str {
    let rest = match url.find("://") {
        Some(p) => &url[p + 3..],
        None => url,
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let mut auth = &rest[..end];
    if let Some(at) = auth.rfind('@') {
        auth = &auth[at + 1..];
    }
    if let Some(colon) = auth.find(':') {
        auth = &auth[..colon];
    }
    // Bytes, not `&auth[..4]`: a host may have a multi-byte character there.
    let lower_www = auth.len() >= 4 && auth.as_bytes()[..4].eq_ignore_ascii_case(b"www.");
    if lower_www {
        &auth[4..]
    } else {
        auth
    }
}

#[inline]
fn is_scheme_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'.' | b'-')
}

#[inline]
fn is_url_char(c: char) -> bool {
    !c.is_whitespace() && !matches!(c, '<' | '>' | '"' | '`' | '|' | '[' | ']')
}

/// Finds the first URL ("scheme://..." or "www....") in `text`: (before, url, after).
/// Trailing sentence punctuation is not part of the URL, as in GFM's autolink rule.
fn find_url(text: &str) -> Option<(&str, &str, &str)> {
    let bytes = text.as_bytes();
    let mut from = 0;
    loop {
        let (start, body, is_sep) = next_url_start(bytes, from)?;
        let mut end = body;
        for (i, c) in text[body..].char_indices() {
            if !is_url_char(c) {
                break;
            }
            end = body + i + c.len_utf8();
        }
        while end > body
            && matches!(
                bytes[end - 1],
                b'.' | b',' | b':' | b';' | b'!' | b'?' | b'\'' | b')' | b'*' | b'_' | b'~'
            )
        {
            end -= 1;
        }
        if is_sep || end > body {
            return Some((&text[..start], &text[start..end], &text[end..]));
        }
        from = body;
    }
}

/// The next "scheme://" or word-initial "www." from `from`: (url start, body start, is scheme).
fn next_url_start(b: &[u8], from: usize) -> Option<(usize, usize, bool)> {
    let mut i = from;
    while let Some(p) = memchr::memchr2(b':', b'w', &b[i..]) {
        let p = p + i;
        if b[p] == b':' && b[p + 1..].starts_with(b"//") {
            let mut st = p;
            while st > 0 && is_scheme_char(b[st - 1]) {
                st -= 1;
            }
            while st < p && !b[st].is_ascii_alphabetic() {
                st += 1;
            }
            return Some((st, p + 3, true));
        }
        if b[p] == b'w'
            && b[p..].starts_with(b"www.")
            && (p == 0 || !(b[p - 1].is_ascii_alphanumeric() || b[p - 1] == b'.'))
        {
            return Some((p, p + 4, false));
        }
        i = p + 1;
    }
    None
}

/// Strips HTML down to its text: tags and comments go, `<img alt>` speaks its alt text,
/// `<pre>`, `<script>`, `<style>` and `<textarea>` content is code and goes too. Entities
/// are decoded. Unterminated constructs swallow the rest, so a streamed prefix never
/// speaks what the complete HTML would hide. `raw` is the code element left open by earlier
/// HTML (its content runs on through the Markdown that follows, as in a browser): until its
/// close tag, nothing is said.
pub(crate) fn push_html(
    out: &mut String,
    line_start: usize,
    html: &str,
    raw: &mut Option<&'static str>,
) {
    let bytes = html.as_bytes();
    let mut i = 0;
    if let Some(name) = *raw {
        match find_ci(html, 0, &format!("</{name}")) {
            Some(p) => {
                i = html[p..].find('>').map_or(html.len(), |q| p + q + 1);
                *raw = None;
            }
            None => return,
        }
    }
    let mut text_from = i;
    while i < bytes.len() {
        if bytes[i] != b'<' {
            i += 1;
            continue;
        }
        let Some(tag) = html_construct_end(html, i) else {
            i += 1;
            continue;
        };
        if tag.unclosed.is_some() {
            *raw = tag.unclosed;
        }
        push_decoded(out, line_start, &html[text_from..i]);
        if tag.separates {
            push_char(out, line_start, ' ');
        }
        if let Some(alt) = tag.alt {
            push_decoded(out, line_start, alt);
            push_char(out, line_start, ' ');
        }
        i = tag.end;
        text_from = tag.end;
    }
    push_decoded(out, line_start, &html[text_from..]);
}

fn push_decoded(out: &mut String, line_start: usize, text: &str) {
    if text.contains('&') {
        let decoded = html_escape::decode_html_entities(text);
        push_text(out, line_start, &decoded);
    } else {
        push_text(out, line_start, text);
    }
}

fn find_ci(hay: &str, from: usize, needle: &str) -> Option<usize> {
    let h = hay.as_bytes();
    let n = needle.as_bytes();
    if n.len() > h.len() {
        return None;
    }
    (from..=h.len() - n.len()).find(|&p| h[p..p + n.len()].eq_ignore_ascii_case(n))
}

/// Block-level elements (CommonMark's HTML block names) and links separate words; inline
/// tags like `<em>` do not ("foo<em>bar</em>" reads "foobar").
const SEPARATING_TAGS: &[&str] = &[
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

const CODE_ELEMENTS: [&str; 4] = ["pre", "script", "style", "textarea"];

struct HtmlTag<'a> {
    end: usize,
    alt: Option<&'a str>,
    separates: bool,
    /// A code element opened here and not closed in this HTML.
    unclosed: Option<&'static str>,
}

/// If a tag-like construct starts at `i` (a `<`): where it ends (past the content of
/// elements whose content is code), its alt text for `<img>`, and whether it separates words.
fn html_construct_end(html: &str, i: usize) -> Option<HtmlTag<'_>> {
    let rest = &html[i..];
    let len = html.len();
    let after = |needle: &str| {
        let end = html[i..].find(needle).map_or(len, |p| i + p + needle.len());
        Some(HtmlTag {
            end,
            alt: None,
            separates: true,
            unclosed: None,
        })
    };
    if rest.starts_with("<!--") {
        return after("-->");
    }
    if rest.starts_with("<?") {
        return after("?>");
    }
    if rest.starts_with("<![CDATA[") {
        return after("]]>");
    }
    let b = rest.as_bytes();
    if rest.starts_with("<!") && b.get(2).is_some_and(u8::is_ascii_alphabetic) {
        return after(">");
    }
    let closing = b.get(1) == Some(&b'/');
    let name_at = if closing { 2 } else { 1 };
    if !b.get(name_at).is_some_and(u8::is_ascii_alphabetic) {
        return None;
    }
    let name_end = b[name_at..]
        .iter()
        .position(|c| !(c.is_ascii_alphanumeric() || *c == b'-'))
        .map_or(b.len(), |p| p + name_at);
    let name = &rest[name_at..name_end];
    // The tag ends at the first '>' outside a quoted attribute value.
    let mut quote = None;
    let mut tag_end = len;
    for (k, &c) in b.iter().enumerate().skip(name_end) {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None if c == b'"' || c == b'\'' => quote = Some(c),
            None if c == b'>' => {
                tag_end = i + k + 1;
                break;
            }
            None => {}
        }
    }
    let tag = &html[i..tag_end];
    let separates = SEPARATING_TAGS.iter().any(|t| name.eq_ignore_ascii_case(t));
    if !closing && name.eq_ignore_ascii_case("img") {
        let alt = attr_value(tag, "alt");
        return Some(HtmlTag {
            end: tag_end,
            alt,
            separates: true,
            unclosed: None,
        });
    }
    let mut end = tag_end;
    let mut unclosed = None;
    let code = CODE_ELEMENTS.iter().find(|r| name.eq_ignore_ascii_case(r));
    if let (false, Some(code)) = (closing, code) {
        let close = format!("</{name}");
        end = match find_ci(html, tag_end, &close) {
            Some(p) => html[p..].find('>').map_or(len, |q| p + q + 1),
            None => {
                unclosed = Some(*code);
                len
            }
        };
    }
    Some(HtmlTag {
        end,
        alt: None,
        separates,
        unclosed,
    })
}

/// The value of attribute `name` in a start tag, quoted or not.
fn attr_value<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let bytes = tag.as_bytes();
    let mut from = 0;
    while let Some(p) = find_ci(tag, from, name) {
        from = p + 1;
        let before_ok = p > 0 && bytes[p - 1].is_ascii_whitespace();
        let mut k = p + name.len();
        while k < bytes.len() && bytes[k].is_ascii_whitespace() {
            k += 1;
        }
        if !before_ok || bytes.get(k) != Some(&b'=') {
            continue;
        }
        k += 1;
        while k < bytes.len() && bytes[k].is_ascii_whitespace() {
            k += 1;
        }
        return match bytes.get(k) {
            Some(&q) if q == b'"' || q == b'\'' => {
                let end = tag[k + 1..]
                    .find(q as char)
                    .map_or(tag.len(), |e| k + 1 + e);
                Some(&tag[k + 1..end])
            }
            Some(_) => {
                let end = tag[k..]
                    .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                    .map_or(tag.len(), |e| k + e);
                Some(&tag[k..end])
            }
            None => None,
        };
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> String {
        let mut out = String::new();
        push_text(&mut out, 0, s);
        out.trim_end().to_owned()
    }

    /// `push_plain` without its runs: each byte written on its own.
    fn push_plain_bytewise(out: &mut String, line_start: usize, text: &str) {
        let mut i = 0;
        while i < text.len() {
            let b = text.as_bytes()[i];
            if is_plain_byte(b) {
                out.push(char::from(b));
                i += 1;
            } else {
                i = push_special(out, line_start, text, i, None, None);
            }
        }
    }

    #[test]
    fn runs_same_as_bytewise() {
        // Words, spaces, punctuation that attaches left, markup, emoji, "()", "--", "_".
        const PIECES: &[&str] = &[
            "a", "Zq", "42", " ", "  ", "\t", "\n", ".", ",", "!", "?", ";", ":", ")", "(", "-",
            "--", "_", "*", "~", "`", "#", "'", "\"", "é", "✅", " .", "x.", "\r",
        ];
        let mut rng = fastrand::Rng::with_seed(11);
        for _ in 0..20_000 {
            let n = rng.usize(0..16);
            let text: String = (0..n).map(|_| PIECES[rng.usize(..PIECES.len())]).collect();
            // What is in `out` before matters: a space or a word at its end, or nothing.
            let before = ["", "x", "x ", "x\n", "ab."][rng.usize(..5)];
            let line_start = rng.usize(0..=before.len());
            let (mut a, mut b) = (before.to_owned(), before.to_owned());
            push_plain(&mut a, line_start, &text, None, None);
            push_plain_bytewise(&mut b, line_start, &text);
            assert_eq!(a, b, "{text:?} after {before:?}, line start {line_start}");
        }
    }

    #[test]
    fn urls_become_hosts() {
        assert_eq!(text("see https://www.github.com/a/b."), "see github.com.");
        assert_eq!(
            text("at http://user@host.io:8080/x?q=1, ok"),
            "at host.io, ok"
        );
        assert_eq!(text("www.example.org/path is it"), "example.org is it");
        assert_eq!(text("irc://foo.bar:2233/baz"), "foo.bar");
        assert_eq!(text("x https://,✅y ok"), "x, y ok");
    }

    #[test]
    fn markup_and_emoji_dropped() {
        assert_eq!(text("Done ✅. **Yes** → go 🚀"), "Done. Yes go");
        assert_eq!(text("a // b -- c == d"), "a b c d");
        assert_eq!(text("max_tokens _x_ foo*bar*"), "max tokens x foobar");
        assert_eq!(text("snake_case #1 `x` |y|"), "snake case 1 x y");
        assert_eq!(text("call foo() now, 20°C"), "call foo now, 20°C");
    }

    #[test]
    fn code_words() {
        let mut out = String::new();
        push_code_words(
            &mut out,
            0,
            "lto = \"thin\" --release main.rs v2.1.0 std::fs",
        );
        assert_eq!(out, "lto thin release main.rs v2.1.0 std fs");
    }

    #[test]
    fn html_text() {
        let mut out = String::new();
        push_html(
            &mut out,
            0,
            "<div class=\"a>b\">Hi &amp; <!-- x --> <img alt=\"cat\" src=x>bye<pre>code</pre>",
            &mut None,
        );
        assert_eq!(out.trim_end(), "Hi & cat bye");
        let (mut out, mut raw) = (String::new(), None);
        push_html(&mut out, 0, "a <pre>b", &mut raw);
        assert_eq!(raw, Some("pre"));
        push_html(&mut out, 0, "c</pre> d", &mut raw);
        assert_eq!((out.as_str(), raw), ("a d", None));
    }
}
