//! Streaming Markdown to sentences: feed deltas split anywhere, get each sentence the moment
//! its end is certain.
//!
//! The Markdown is cut into chunks of complete blocks at line starts where nothing later can
//! change how the text before renders: after a blank line when the next line starts at column
//! 0, before an ATX heading, a fence or a list item at column 0, and after a heading line or a
//! closing fence. A complete chunk is rendered once and all its sentences go out. The open
//! chunk is rendered provisionally (only when a sentence end may have become certain) and
//! only sentences followed by the start of another go out; we count how many went out, so
//! the final rendering continues where the provisional one stopped. Inside an open code fence
//! nothing is rendered. Where the cuts fall depends only on the text, never on how it was
//! split into deltas, so streamed and whole input give the same sentences.
//!
//! The line rules that place the cuts are in `blocks`; `watch` says when a sentence end may
//! have become certain; `prefix` says how much of the open chunk may be rendered yet;
//! `render_cache` makes rendering it again at every such point cheap.

use super::blocks::{self, Cut, Fence, LineEnd};
use super::clause;
use super::prefix;
use super::render_cache::RenderCache;
use super::segment;
use super::watch::Watch;

/// Options of a [`Shaper`].
#[derive(Clone, Debug)]
pub struct ShaperOptions {
    /// Emit the first clause of a long first sentence early, cut at a comma.
    pub early_fragment: bool,
    /// Words the early clause needs before its comma.
    pub min_fragment_words: usize,
}

impl Default for ShaperOptions {
    fn default() -> Self {
        ShaperOptions {
            early_fragment: false,
            min_fragment_words: 6,
        }
    }
}

/// A sentence to speak, or (with `fragment`) the early first clause of one.
#[derive(Clone, Debug, PartialEq)]
pub struct Piece {
    pub text: String,
    pub fragment: bool,
}

#[derive(Clone, Copy, Debug)]
struct OpenFence {
    fence: Fence,
    /// Opened at the top level (not inside a list item or quote): its close ends a chunk.
    top: bool,
}

/// Streaming Markdown-to-sentences for one content block.
#[derive(Clone)]
pub struct Shaper {
    opts: ShaperOptions,
    /// Markdown received: said chunks, the open chunk from `chunk`, then the line being
    /// received. Compacted now and then rather than on every cut.
    buf: String,
    chunk: usize,
    /// Start of the line being received, in `buf`.
    line_start: usize,
    /// Whether the chunk cut before the line being received has been decided.
    line_decided: bool,
    fence: Option<OpenFence>,
    prev_blank: bool,
    /// The open chunk has a complete line that is not blank.
    has_text: bool,
    /// The open chunk is (blank lines and) a top-level fenced code block opened on its first
    /// line with text, and nothing after its closing fence.
    code_only: bool,
    /// Sentences of the open chunk already emitted.
    done: usize,
    /// Everything in the open chunk up to `line_start` has been said (blank-line flush).
    said_all: bool,
    /// Renderings of the open chunk.
    cache: RenderCache,
    /// Where to look for the next line break in `buf` (bytes before it have none).
    nl_from: usize,
    /// Says when a sentence end may have become certain.
    watch: Watch,
    emitted_any: bool,
    /// Text of the early fragment already emitted for the first sentence.
    fragment: Option<String>,
}

impl Default for Shaper {
    fn default() -> Self {
        Shaper::new(ShaperOptions::default())
    }
}

impl Shaper {
    pub fn new(opts: ShaperOptions) -> Shaper {
        Shaper {
            opts,
            buf: String::new(),
            chunk: 0,
            line_start: 0,
            line_decided: false,
            fence: None,
            prev_blank: false,
            has_text: false,
            code_only: false,
            done: 0,
            said_all: false,
            cache: RenderCache::default(),
            nl_from: 0,
            watch: Watch::default(),
            emitted_any: false,
            fragment: None,
        }
    }

    /// Appends Markdown; pushes every sentence whose end is now certain.
    pub fn feed(&mut self, markdown: &str, out: &mut Vec<Piece>) {
        if markdown.is_empty() {
            return;
        }
        let comma = self.fragment_possible();
        self.watch.feed(markdown, comma);
        self.buf.push_str(markdown);
        self.lines(out);
        if self.fence.is_none() && self.watch.take_trigger() {
            self.provisional(out);
        }
    }

    /// End of the block: pushes what is left, then starts afresh for the next block.
    pub fn finish(&mut self, out: &mut Vec<Piece>) {
        let end = self.buf.len();
        self.finalize(end, out);
        self.reset();
    }

    /// Drops anything pending (interruption).
    pub fn reset(&mut self) {
        // Keep the buffers' capacity: a shaper lives for many blocks.
        let mut fresh = Shaper::new(self.opts.clone());
        std::mem::swap(&mut fresh.buf, &mut self.buf);
        std::mem::swap(&mut fresh.cache, &mut self.cache);
        fresh.buf.clear();
        fresh.cache.reset();
        *self = fresh;
    }

    /// Whether the early fragment may still come (a comma then arms the watcher).
    fn fragment_possible(&self) -> bool {
        self.opts.early_fragment && !self.emitted_any && self.fragment.is_none()
    }

    /// Walks the lines received so far: decides chunk cuts and tracks fences and blanks.
    fn lines(&mut self, out: &mut Vec<Piece>) {
        loop {
            // Only the bytes not searched before: a long line arrives in many deltas.
            let from = self.nl_from.max(self.line_start);
            let nl = memchr::memchr(b'\n', &self.buf.as_bytes()[from..])
                .map(|p| from + p - self.line_start);
            self.nl_from = nl.map_or(self.buf.len(), |p| self.line_start + p);
            if !self.line_decided {
                let line = match nl {
                    Some(p) => &self.buf[self.line_start..self.line_start + p],
                    None => &self.buf[self.line_start..],
                };
                let cut = if self.fence.is_some() || !self.has_text {
                    Cut::No
                } else {
                    let chunk = &self.buf[self.chunk..];
                    blocks::cut_before(chunk, line, nl.is_some(), self.prev_blank)
                };
                match cut {
                    Cut::NeedMore => return,
                    Cut::Yes => {
                        let at = self.line_start;
                        self.finalize(at, out);
                    }
                    Cut::No => {}
                }
                self.line_decided = true;
            }
            let Some(p) = nl else { return };
            let line_end = self.line_start + p;
            let cut_after = self.end_of_line(line_end);
            self.line_start = line_end + 1;
            self.line_decided = false;
            if cut_after {
                let at = self.line_start;
                self.finalize(at, out);
            } else if self.prev_blank && self.fence.is_none() {
                self.flush_blank(out);
            }
        }
    }

    /// A line is complete: updates fence and blank state; true when the chunk ends after it.
    fn end_of_line(&mut self, line_end: usize) -> bool {
        let line = &self.buf[self.line_start..line_end];
        let blank = line.trim().is_empty();
        let had_text = self.has_text;
        self.has_text |= !blank;
        self.said_all &= blank;
        match blocks::line_end(line, self.fence.map(|f| f.fence)) {
            LineEnd::ClosesFence { top } => {
                let opened_top = self.fence.take().is_some_and(|f| f.top);
                self.prev_blank = false;
                let cut = opened_top && top;
                // Closed without ending the chunk: text may follow in it.
                self.code_only &= cut;
                cut
            }
            LineEnd::OpensFence { fence, top } => {
                self.fence = Some(OpenFence { fence, top });
                self.prev_blank = false;
                self.code_only = top && !had_text;
                false
            }
            end => {
                self.prev_blank = blank;
                matches!(end, LineEnd::Heading)
            }
        }
    }

    /// After a blank line the open chunk's text is final as far as it goes: say its last
    /// sentence now rather than when the next block starts.
    fn flush_blank(&mut self, out: &mut Vec<Piece>) {
        let upto = self.line_start;
        if self.said_all || !self.has_text {
            return;
        }
        self.cache.render(&self.buf, self.chunk, upto, true);
        self.emit(out);
        self.said_all = true;
    }

    /// The chunk `buf[..upto]` is complete: says the rest of it and drops it from `buf`.
    fn finalize(&mut self, upto: usize, out: &mut Vec<Piece>) {
        // Nothing new since the blank-line flush: everything was said then.
        let new_text = !self.buf[self.line_start.min(upto)..upto].trim().is_empty();
        // A chunk that is one fenced code block renders to nothing: no need to parse it.
        if !self.code_only && (new_text || (!self.said_all && self.has_text)) {
            self.cache.render(&self.buf, self.chunk, upto, true);
            self.emit(out);
        }
        self.chunk = upto;
        self.cache.new_chunk();
        self.code_only = false;
        if self.chunk >= 4096 && self.chunk > self.buf.len() / 2 && upto <= self.line_start {
            self.buf.drain(..self.chunk);
            self.line_start -= self.chunk;
            self.nl_from -= self.chunk;
            self.chunk = 0;
            self.cache.moved();
        }
        self.done = 0;
        self.has_text = false;
        self.said_all = false;
        // Whether the new chunk needs a provisional look depends on its own text only.
        // (A long rest is a whole feed in progress: one provisional look at its end anyway.)
        let rest = &self.buf[self.chunk..];
        let comma = self.fragment_possible();
        self.watch
            .new_chunk((rest.len() <= 256).then_some(rest), comma);
    }

    /// Renders the open chunk as far as it is known and says what is certain.
    fn provisional(&mut self, out: &mut Vec<Piece>) {
        let upto = if self.line_decided {
            self.buf.len()
        } else {
            self.line_start
        };
        // What may still read differently as the text grows (an open code span, a possible
        // table header, an entity or tag being typed) is left out.
        let upto = self.chunk + prefix::stable_len(&self.buf[self.chunk..upto]);
        if !self.has_text_upto(upto) {
            return;
        }
        self.cache.render(&self.buf, self.chunk, upto, false);
        self.emit(out);
        // Waiting on the next word after an abbreviation: any next byte may settle it. A
        // bare terminator at the end waits for a next sentence, which `watch` sees coming.
        let (text, scan) = (self.cache.text(), self.cache.scan());
        let tail = &text[scan.decided..];
        self.watch.need_more = !tail
            .trim_start_matches(|c| segment::is_terminator(c) || segment::is_closer(c))
            .trim()
            .is_empty();
        if self.fragment_possible() {
            let (a, b) = (scan.pending, scan.decided);
            // A comma may be waiting for its next word to complete.
            self.watch.need_more |= text[a..b].contains(',');
            if let Some(frag) = fragment_in(&text[a..b], self.opts.min_fragment_words, false) {
                out.push(Piece {
                    text: frag.to_owned(),
                    fragment: true,
                });
                self.fragment = Some(frag.to_owned());
            }
        }
    }

    /// `buf[..upto]` has something besides blank lines.
    fn has_text_upto(&self, upto: usize) -> bool {
        self.has_text || !self.buf[self.line_start.min(upto)..upto].trim().is_empty()
    }

    /// Pushes the sentences of the last rendering not pushed yet.
    fn emit(&mut self, out: &mut Vec<Piece>) {
        let (text, scan) = (self.cache.text(), self.cache.scan());
        for &(a, b) in scan.spans.iter().skip(self.done) {
            let sentence = &text[a..b];
            if self.emitted_any {
                out.push(Piece {
                    text: sentence.to_owned(),
                    fragment: false,
                });
                continue;
            }
            self.emitted_any = true;
            if self.fragment.is_none() && self.opts.early_fragment {
                if let Some(frag) = fragment_in(sentence, self.opts.min_fragment_words, true) {
                    self.fragment = Some(frag.to_owned());
                    out.push(Piece {
                        text: frag.to_owned(),
                        fragment: true,
                    });
                }
            }
            let rest = match &self.fragment {
                Some(f) if sentence.starts_with(f.as_str()) => sentence[f.len()..].trim_start(),
                _ => sentence,
            };
            if !rest.is_empty() {
                out.push(Piece {
                    text: rest.to_owned(),
                    fragment: false,
                });
            }
        }
        self.done = self.done.max(scan.spans.len());
    }
}

/// The first clause of `text` by the clause rule ([`clause::first_break`]), when more text
/// certainly follows it (`complete`: `text` is a whole sentence).
fn fragment_in(text: &str, min_words: usize, complete: bool) -> Option<&str> {
    let end = clause::first_break(text, min_words)?;
    // A whole word after the break (a first character alone may still change as it grows).
    let word_done = complete || text[end..].trim_start().contains(char::is_whitespace);
    word_done.then(|| &text[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(pieces: &[Piece]) -> Vec<&str> {
        pieces.iter().map(|p| p.text.as_str()).collect()
    }

    #[test]
    fn emits_when_next_sentence_starts() {
        let mut s = Shaper::default();
        let mut out = Vec::new();
        s.feed("Hello there. How", &mut out);
        assert!(out.is_empty(), "the next word may still change");
        s.feed(" are you", &mut out);
        assert_eq!(texts(&out), ["Hello there."]);
        s.feed("?\n\n", &mut out);
        assert_eq!(texts(&out), ["Hello there.", "How are you?"]);
    }

    #[test]
    fn nothing_inside_open_fence() {
        let mut s = Shaper::default();
        let mut out = Vec::new();
        s.feed("Run it:\n\n```sh\necho. Hi there. And\n", &mut out);
        assert_eq!(texts(&out), ["Run it:"]);
        s.feed("```\nDone. Next one", &mut out);
        assert_eq!(texts(&out), ["Run it:", "Done."]);
        s.finish(&mut out);
        assert_eq!(texts(&out), ["Run it:", "Done.", "Next one"]);
    }

    #[test]
    fn early_fragment() {
        let opts = ShaperOptions {
            early_fragment: true,
            min_fragment_words: 4,
        };
        let mut s = Shaper::new(opts);
        let mut out = Vec::new();
        s.feed("The release profile uses fat LTO, so the", &mut out);
        assert_eq!(
            out,
            [Piece {
                text: "The release profile uses fat LTO,".into(),
                fragment: true
            }]
        );
        s.feed(" linker works. Next one, with a comma here, ok.", &mut out);
        s.finish(&mut out);
        assert_eq!(
            texts(&out),
            [
                "The release profile uses fat LTO,",
                "so the linker works.",
                "Next one, with a comma here, ok."
            ]
        );
    }
}
