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
//! Rendering again at every possible sentence end costs little: a plain chunk (paragraph,
//! list item, heading, table) renders without a parser (`simple.rs`), a provisional render
//! of one resumes from a checkpoint of the last (`simple::Resume`), and the segmenter goes
//! on from the sentence its last scan left pending (`segment::scan_from`).

use super::blocks::{self, Cut, Fence, LineEnd};
use super::markdown;
use super::prefix;
use super::segment::{self, Scan};
use super::simple;

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
    rendered: String,
    /// The text the last scan of the open chunk saw, and where that scan can go on from.
    scanned: String,
    scan_from: Option<segment::Resume>,
    /// `rendered` holds the rendering of `buf[chunk..upto]` for this `(chunk, upto)`, with
    /// what `render` changed after it (period dropped, space added): a final rendering of
    /// the same text (`finish` after the provisional look at a whole feed) reuses it.
    last_render: Option<(usize, usize)>,
    last_added: bool,
    last_popped: bool,
    last_space: bool,
    scratch: String,
    /// The open chunk's rendering so far, when it is a plain block (`simple::Resume`).
    resume: simple::Resume,
    scan: Scan,
    /// Where to look for the next line break in `buf` (bytes before it have none).
    nl_from: usize,
    /// What `watch` has seen of the open chunk: 0 only whitespace, 1 whitespace then up to
    /// nine digits (a list marker may follow), 2 anything else. A line break or "1." there
    /// ends no sentence, so it arms nothing.
    lead: u8,
    lead_digits: u8,
    /// Trigger state over the raw input: 1 after a terminator, 2 after terminator + space,
    /// 3 in the next word (which must be complete for the segmenter to decide).
    armed: u8,
    trigger: bool,
    /// The last provisional scan stopped waiting for the next word.
    need_more: bool,
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
            rendered: String::new(),
            scanned: String::new(),
            scan_from: None,
            last_render: None,
            last_added: false,
            last_popped: false,
            last_space: false,
            scratch: String::new(),
            resume: simple::Resume::default(),
            scan: Scan::default(),
            nl_from: 0,
            lead: 0,
            lead_digits: 0,
            armed: 0,
            trigger: false,
            need_more: false,
            emitted_any: false,
            fragment: None,
        }
    }

    /// Appends Markdown; pushes every sentence whose end is now certain.
    pub fn feed(&mut self, markdown: &str, out: &mut Vec<Piece>) {
        if markdown.is_empty() {
            return;
        }
        self.watch(markdown);
        self.buf.push_str(markdown);
        self.lines(out);
        if self.trigger && self.fence.is_none() {
            self.trigger = false;
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
        std::mem::swap(&mut fresh.rendered, &mut self.rendered);
        std::mem::swap(&mut fresh.scanned, &mut self.scanned);
        std::mem::swap(&mut fresh.scratch, &mut self.scratch);
        std::mem::swap(&mut fresh.scan, &mut self.scan);
        std::mem::swap(&mut fresh.resume, &mut self.resume);
        fresh.buf.clear();
        fresh.resume.clear();
        *self = fresh;
    }

    /// Cheap look at the raw delta: a sentence end may have become certain only after a
    /// terminator (or line break), whitespace, and then a whole word.
    fn watch(&mut self, delta: &str) {
        let comma = self.opts.early_fragment && !self.emitted_any && self.fragment.is_none();
        let bytes = delta.as_bytes();
        let mut i = 0;
        while i < bytes.len() && !self.trigger {
            if self.armed == 0 && self.lead == 2 && !self.need_more {
                // Only a terminator or a line break changes anything now.
                let arms = &ARMS[usize::from(comma)];
                match bytes[i..].iter().position(|&b| arms[usize::from(b)]) {
                    Some(p) => i += p,
                    None => {
                        i = bytes.len();
                        break;
                    }
                }
            }
            self.step(bytes[i], comma);
            i += 1;
        }
        // Triggered: only the state at the end matters, and it depends on the tail alone.
        if i < bytes.len() {
            let arms = &ARMS[usize::from(comma)];
            let tail = bytes[i..]
                .iter()
                .rposition(|&b| arms[usize::from(b)])
                .map_or(i, |p| i + p);
            if tail > i || is_term(bytes[i], comma) || bytes[i] == b'\n' {
                self.armed = 0;
                for &b in &bytes[tail..] {
                    self.step(b, comma);
                }
            } else if !(self.armed == 0 && self.lead == 2 && !self.need_more) {
                // (In that state only a terminator or line break, of which there is none
                // here, would change anything.)
                for &b in &bytes[i..] {
                    self.step(b, comma);
                }
            }
            self.trigger = true;
        }
    }

    #[inline]
    fn step(&mut self, b: u8, comma: bool) {
        if self.lead < 2 {
            // The start of the open chunk: no sentence before a line break there, and "1."
            // is a list marker the renderer drops.
            match b {
                b' ' | b'\t' | b'\r' | b'\n' if self.lead == 0 => return,
                b'0'..=b'9' if self.lead_digits < 9 => {
                    self.lead = 1;
                    self.lead_digits += 1;
                    return;
                }
                b'.' | b')' if self.lead == 1 => {
                    self.lead = 2;
                    return;
                }
                _ => self.lead = 2,
            }
        }
        let term = is_term(b, comma);
        match self.armed {
            _ if b == b'\n' => self.armed = 2,
            0 => {
                if term {
                    self.armed = 1;
                }
            }
            1 => {
                if b == b' ' || b == b'\t' {
                    self.armed = 2;
                } else if !(term || matches!(b, b'"' | b'\'' | b')' | b']' | b'*' | b'_' | b'`')) {
                    self.armed = 0;
                }
            }
            2 => {
                if b != b' ' && b != b'\t' && b != b'\r' {
                    self.armed = 3;
                }
            }
            // In the next word: once it ends, the segmenter can decide.
            _ => {
                if !(b.is_ascii_alphanumeric() || b >= 0x80) {
                    self.trigger = true;
                    self.armed = u8::from(term);
                }
            }
        }
        if self.need_more && !b.is_ascii_alphanumeric() {
            self.trigger = true;
        }
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
        let scan = self.render(upto, true);
        self.emit(&scan, out);
        self.scan = scan;
        self.said_all = true;
    }

    /// The chunk `buf[..upto]` is complete: says the rest of it and drops it from `buf`.
    fn finalize(&mut self, upto: usize, out: &mut Vec<Piece>) {
        // Nothing new since the blank-line flush: everything was said then.
        let new_text = !self.buf[self.line_start.min(upto)..upto].trim().is_empty();
        // A chunk that is one fenced code block renders to nothing: no need to parse it.
        if !self.code_only && (new_text || (!self.said_all && self.has_text)) {
            let scan = self.render(upto, true);
            self.emit(&scan, out);
            self.scan = scan;
        }
        self.chunk = upto;
        self.resume.clear();
        self.scan_from = None;
        self.code_only = false;
        if self.chunk >= 4096 && self.chunk > self.buf.len() / 2 && upto <= self.line_start {
            self.buf.drain(..self.chunk);
            self.line_start -= self.chunk;
            self.nl_from -= self.chunk;
            self.chunk = 0;
            self.last_render = None;
        }
        self.done = 0;
        self.has_text = false;
        self.said_all = false;
        self.need_more = false;
        // Whether the new chunk needs a provisional look depends on its own text only.
        // (A long rest is a whole feed in progress: one provisional look at its end anyway.)
        if self.buf.len() - self.chunk <= 256 {
            self.trigger = false;
            self.armed = 0;
            self.lead = 0;
            self.lead_digits = 0;
            let rest = std::mem::take(&mut self.buf);
            self.watch(&rest[self.chunk..]);
            self.buf = rest;
        } else {
            self.lead = 2;
        }
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
        let scan = self.render(upto, false);
        self.emit(&scan, out);
        // Waiting on the next word after an abbreviation: any next byte may settle it. A
        // bare terminator at the end waits for a next sentence, which `watch` sees coming.
        let tail = &self.rendered[scan.decided..];
        self.need_more = !tail
            .trim_start_matches(|c| segment::is_terminator(c) || segment::is_closer(c))
            .trim()
            .is_empty();
        if self.opts.early_fragment && !self.emitted_any && self.fragment.is_none() {
            let (a, b) = (scan.pending, scan.decided);
            // A comma may be waiting for its next word to complete.
            self.need_more |= self.rendered[a..b].contains(',');
            if let Some(frag) =
                fragment_in(&self.rendered[a..b], self.opts.min_fragment_words, false)
            {
                out.push(Piece {
                    text: frag.to_owned(),
                    fragment: true,
                });
                self.fragment = Some(frag.to_owned());
            }
        }
        self.scan = scan;
    }

    /// `buf[..upto]` has something besides blank lines.
    fn has_text_upto(&self, upto: usize) -> bool {
        self.has_text || !self.buf[self.line_start.min(upto)..upto].trim().is_empty()
    }

    fn render(&mut self, upto: usize, complete: bool) -> Scan {
        let added_period = if self.last_render == Some((self.chunk, upto)) {
            // Same Markdown as last time: undo what that call changed after rendering.
            if self.last_space {
                self.rendered.pop();
            }
            if self.last_popped {
                self.rendered.push('.');
            }
            // The scan saw this text with the changes undone above: scan it afresh.
            self.scan_from = None;
            self.last_added
        } else {
            // Keep the text the last scan saw, to check the new one against it.
            std::mem::swap(&mut self.rendered, &mut self.scanned);
            self.rendered.clear();
            let md = &self.buf[self.chunk..upto];
            // A provisional rendering will be followed by another: keep a checkpoint. The
            // final one uses a checkpoint if there is one.
            let added = if complete && !self.resume.is_set() {
                markdown::render_with(md, &mut self.rendered, &mut self.scratch)
            } else {
                markdown::render_resuming(
                    md,
                    &mut self.rendered,
                    &mut self.scratch,
                    &mut self.resume,
                )
            };
            self.last_render = Some((self.chunk, upto));
            self.last_added = added;
            added
        };
        self.last_popped = added_period && !complete;
        if self.last_popped {
            self.rendered.pop(); // the last item, heading or row may go on
        }
        // The renderer trims the end of a block; in a prefix, a space typed after the last
        // word says that word is complete, which the segmenter needs to know.
        let src = &self.buf.as_bytes()[self.chunk..upto];
        let body = src.len()
            - src
                .iter()
                .rev()
                .take_while(|&&c| c == b' ' || c == b'\t')
                .count();
        let typed_space = !complete && body < src.len() && body > 0 && src[body - 1] != b'\n';
        self.last_space =
            typed_space && !self.rendered.is_empty() && !self.rendered.ends_with('\n');
        if self.last_space {
            self.rendered.push(' ');
        }
        let mut scan = std::mem::take(&mut self.scan);
        // Where the last scan of this chunk stopped, if the text is the same up to there and
        // through the word there (which decided the split before it): go on from there
        // (`segment::scan_from`).
        let from = self.scan_from.take().filter(|f| {
            let (new, old) = (self.rendered.as_bytes(), self.scanned.as_bytes());
            let Some(after) = old.get(f.start..) else {
                return false;
            };
            let word = after.iter().position(|c| !c.is_ascii_whitespace());
            let same = word
                .and_then(|w| {
                    after[w..]
                        .iter()
                        .position(u8::is_ascii_whitespace)
                        .map(|e| w + e)
                })
                .map_or(old.len(), |e| f.start + e + 1);
            same <= new.len() && new[..same] == old[..same]
        });
        match from {
            Some(f) => segment::scan_from(&self.rendered, complete, &mut scan, f),
            None => segment::scan_into(&self.rendered, complete, &mut scan),
        }
        self.scan_from = scan.resume;
        scan
    }

    fn emit(&mut self, scan: &Scan, out: &mut Vec<Piece>) {
        for &(a, b) in scan.spans.iter().skip(self.done) {
            let sentence = &self.rendered[a..b];
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

/// [`is_term`] or a line break, looked up (without, with commas): `watch` skips to these.
static ARMS: [[bool; 256]; 2] = {
    let mut t = [[false; 256]; 2];
    let mut b = 0;
    while b < 256 {
        t[0][b] = is_term(b as u8, false) || b == b'\n' as usize;
        t[1][b] = is_term(b as u8, true) || b == b'\n' as usize;
        b += 1;
    }
    t
};

/// A byte after which (and whitespace) a sentence end may become certain. A table's cell
/// pipe becomes ", " when rendered, so it counts as a comma; a row ends at its line break.
#[inline]
const fn is_term(b: u8, comma: bool) -> bool {
    matches!(b, b'.' | b'!' | b'?') || (comma && matches!(b, b',' | b'|'))
}

/// The first clause of `text` ending at a comma after at least `min_words` words, when more
/// text certainly follows the comma (`complete`: `text` is a whole sentence).
fn fragment_in(text: &str, min_words: usize, complete: bool) -> Option<&str> {
    let b = text.as_bytes();
    let mut words = 0;
    let mut in_word = false;
    for (i, &c) in b.iter().enumerate() {
        if c.is_ascii_whitespace() {
            in_word = false;
            continue;
        }
        if !in_word {
            in_word = true;
            words += 1;
        }
        if c == b',' && words >= min_words {
            // More text certainly follows: a whole word after the comma (a first character
            // alone may still change as the text grows).
            let after = &text[i + 1..];
            let rest = after.trim_start();
            let word_done = rest.find(char::is_whitespace).is_some() || complete;
            if rest.len() < after.len() && !rest.is_empty() && word_done {
                return Some(&text[..=i]);
            }
        }
    }
    None
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
