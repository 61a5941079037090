//! Markdown to the text a voice should read, with pulldown-cmark.
//!
//! The output has one block per line: paragraphs, headings, list items, quote paragraphs and
//! table rows. Headings, list items and table rows end with a period when they have no end
//! punctuation, so the voice pauses there. Code blocks are not spoken; inline code is spoken
//! as words; links speak their text; URLs speak their host ("github.com"); emphasis, HTML
//! and other markup is dropped with its text kept; emoji and decorative symbols are dropped.

use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

use super::scrub;
use super::segment;

/// The pulldown-cmark extensions we render: GFM tables, strikethrough and task lists.
pub(crate) fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS
}

/// Whole-document rendering: Markdown in, speakable text out (one block per line).
pub fn speakable(markdown: &str) -> String {
    let mut out = String::with_capacity(markdown.len());
    render_into(markdown, &mut out);
    out
}

/// Appends the speakable rendering of `markdown` to `out` (lines separated by '\n', no
/// trailing newline added).
pub(crate) fn render_into(markdown: &str, out: &mut String) {
    render_with(markdown, out, &mut String::new());
}

/// [`render_into`] with a reusable scratch buffer (a streaming caller renders often).
/// Returns whether the rendering ends with a period we added (a streaming caller drops it:
/// the block may go on).
pub(crate) fn render_with(markdown: &str, out: &mut String, scratch: &mut String) -> bool {
    // One plain paragraph, item or heading: the same result without a parser.
    if let Some(added) = super::simple::render(markdown, out) {
        return added;
    }
    render_with_parser(markdown, out, scratch)
}

/// [`render_with`] always through pulldown-cmark.
pub(crate) fn render_with_parser(markdown: &str, out: &mut String, scratch: &mut String) -> bool {
    scratch.clear();
    let mut r = Renderer {
        out,
        line_start: 0,
        text: scratch,
        html: String::new(),
        skip: 0,
        items: 0,
        row_has_cell: false,
        raw: None,
        added: None,
    };
    r.line_start = r.out.len();
    for event in Parser::new_ext(markdown, options()) {
        r.event(event);
    }
    r.flush_text();
    r.end_line(false);
    if r.out.ends_with('\n') {
        r.out.pop();
    }
    r.added.is_some_and(|p| p + 1 == r.out.len())
}

struct Renderer<'o> {
    out: &'o mut String,
    line_start: usize,
    /// Consecutive text events, joined so a URL split across events is seen whole.
    text: &'o mut String,
    /// Raw HTML of the current HTML block, stripped when the block ends.
    html: String,
    /// Depth inside code blocks (not spoken).
    skip: u32,
    /// Depth of list items (their paragraphs end with a period).
    items: u32,
    row_has_cell: bool,
    /// A `<pre>`/`<script>`/... left open by raw HTML: what follows is not spoken until it
    /// closes.
    raw: Option<&'static str>,
    /// Where the last period we added is.
    added: Option<usize>,
}

impl Renderer<'_> {
    fn flush_text(&mut self) {
        if !self.text.is_empty() {
            scrub::push_text(self.out, self.line_start, self.text);
            self.text.clear();
        }
    }

    /// Closes the current line: trims it, adds a period if asked, drops it if nothing in it
    /// is a word.
    fn end_line(&mut self, period: bool) {
        self.flush_text();
        while self.out.len() > self.line_start && self.out.ends_with([' ', ',']) {
            self.out.pop();
        }
        let line = &self.out[self.line_start..];
        if !line.chars().any(char::is_alphanumeric) {
            self.out.truncate(self.line_start);
            return;
        }
        if period && !segment::ends_with_terminator(line, true) {
            self.added = Some(self.out.len());
            self.out.push('.');
        }
        self.out.push('\n');
        self.line_start = self.out.len();
    }

    fn event(&mut self, event: Event<'_>) {
        if self.raw.is_some() && matches!(event, Event::Text(_) | Event::Code(_)) {
            return;
        }
        if self.skip > 0 {
            match event {
                Event::Start(Tag::CodeBlock(_)) => self.skip += 1,
                Event::End(TagEnd::CodeBlock) => self.skip -= 1,
                _ => {}
            }
            return;
        }
        match event {
            Event::Text(t) => self.text.push_str(&t),
            Event::Code(code) => {
                self.flush_text();
                scrub::push_code_words(self.out, self.line_start, &code);
            }
            Event::Html(h) => self.html.push_str(&h),
            Event::InlineHtml(h) => {
                self.flush_text();
                scrub::push_html(self.out, self.line_start, &h, &mut self.raw);
            }
            Event::SoftBreak | Event::HardBreak => self.text.push(' '),
            Event::Rule => self.end_line(false),
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            // Task list checkboxes, footnote marks and math are not spoken.
            _ => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::CodeBlock(_) => {
                self.end_line(false);
                self.skip = 1;
            }
            Tag::Paragraph | Tag::BlockQuote(_) | Tag::Table(_) | Tag::HtmlBlock => {
                self.end_line(false)
            }
            Tag::Heading { .. } => self.end_line(false),
            // The text of an item before its nested list is a sentence of its own.
            Tag::List(_) => self.end_line(self.items > 0),
            Tag::Item => {
                self.end_line(self.items > 0);
                self.items += 1;
            }
            Tag::TableHead | Tag::TableRow => {
                self.end_line(false);
                self.row_has_cell = false;
            }
            Tag::TableCell => {
                self.flush_text();
                if self.row_has_cell && self.out.len() > self.line_start {
                    self.out.push_str(", ");
                }
            }
            // A link's or image's text is a word group of its own.
            Tag::Link { .. } | Tag::Image { .. } => self.text.push(' '),
            // Stand-in for the delimiter the parser consumed, dropped like a literal one, so
            // the text reads the same whether or not the emphasis is closed yet.
            Tag::Emphasis | Tag::Strong | Tag::Strikethrough => self.text.push('*'),
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => self.end_line(self.items > 0),
            TagEnd::Heading(_) => self.end_line(true),
            TagEnd::Item => {
                self.end_line(true);
                self.items = self.items.saturating_sub(1);
            }
            TagEnd::BlockQuote(_) | TagEnd::List(_) | TagEnd::Table => self.end_line(false),
            TagEnd::HtmlBlock => {
                self.flush_text();
                let html = std::mem::take(&mut self.html);
                scrub::push_html(self.out, self.line_start, &html, &mut self.raw);
                self.end_line(false);
            }
            TagEnd::TableHead | TagEnd::TableRow => self.end_line(true),
            TagEnd::Link | TagEnd::Image => self.text.push(' '),
            TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough => self.text.push('*'),
            TagEnd::TableCell => {
                self.flush_text();
                while self.out.ends_with([' ', ',']) && self.out.len() > self.line_start {
                    self.out.pop();
                }
                self.row_has_cell = self.out.len() > self.line_start;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::speakable;

    #[test]
    fn blocks_become_lines() {
        let md = "## Why it is slow\n\nThe profile uses **fat LTO** with `codegen-units = 1`, so.\n\n- one\n- two!\n\n```toml\nlto = true\n```\n";
        assert_eq!(
            speakable(md),
            "Why it is slow.\nThe profile uses fat LTO with codegen-units 1, so.\none.\ntwo!"
        );
    }

    #[test]
    fn links_tables_urls() {
        let md = "See [the book](https://x.org/a) or <https://www.github.com/r>.\n\n| a | b |\n|---|---|\n| 1 | |\n| x | y |\n";
        assert_eq!(
            speakable(md),
            "See the book or github.com.\na, b.\n1.\nx, y."
        );
    }
}
