//! The render cache: renders and segments the shaper's open chunk again and again as it
//! grows, doing as little twice as it can. A plain block's rendering resumes from a
//! checkpoint of the last one (`simple::Resume`), the segmenter goes on from the sentence
//! its last scan left pending (`segment::scan_from`), and a final rendering of the very text
//! a provisional one saw (`finish` after a whole feed) reuses it.

use super::markdown;
use super::segment::{self, Scan};
use super::simple;

/// The rendering and segmentation of one open chunk, with what makes the next one cheap.
#[derive(Clone, Default)]
pub(crate) struct RenderCache {
    rendered: String,
    scan: Scan,
    /// The text the last scan of the open chunk saw, and where that scan can go on from.
    scanned: String,
    scan_from: Option<segment::Resume>,
    /// `rendered` holds the rendering of `buf[chunk..upto]` for this `(chunk, upto)`, with
    /// what `render` changed after it (period dropped, space added).
    last: Option<(usize, usize)>,
    last_added: bool,
    last_popped: bool,
    last_space: bool,
    scratch: String,
    /// The open chunk's rendering so far, when it is a plain block.
    resume: simple::Resume,
}

impl RenderCache {
    /// The last rendering.
    #[inline]
    pub(crate) fn text(&self) -> &str {
        &self.rendered
    }

    /// The last rendering's sentences.
    #[inline]
    pub(crate) fn scan(&self) -> &Scan {
        &self.scan
    }

    /// The open chunk is a new one: nothing carries over to it.
    #[inline]
    pub(crate) fn new_chunk(&mut self) {
        self.resume.clear();
        self.scan_from = None;
    }

    /// The caller's buffer moved (offsets changed): the last rendering's key means nothing.
    #[inline]
    pub(crate) fn moved(&mut self) {
        self.last = None;
    }

    /// Forgets everything but the buffers' capacity.
    pub(crate) fn reset(&mut self) {
        self.new_chunk();
        self.moved();
        self.last_added = false;
        self.last_popped = false;
        self.last_space = false;
    }

    /// Renders the Markdown `buf[chunk..upto]` and segments it (`complete`: the chunk is
    /// whole; else the rendering is provisional and another, of a longer text, follows).
    pub(crate) fn render(&mut self, buf: &str, chunk: usize, upto: usize, complete: bool) {
        let added_period = if self.last == Some((chunk, upto)) {
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
            let md = &buf[chunk..upto];
            // A provisional rendering will be followed by another: keep a checkpoint. The
            // final one uses a checkpoint if there is one.
            let added = if complete && !self.resume.is_set() {
                markdown::render_with(md, &mut self.rendered, &mut self.scratch)
            } else {
                match simple::render_resuming(md, &mut self.rendered, Some(&mut self.resume)) {
                    Some(added) => added,
                    None => markdown::render_with_parser(md, &mut self.rendered, &mut self.scratch),
                }
            };
            self.last = Some((chunk, upto));
            self.last_added = added;
            added
        };
        self.last_popped = added_period && !complete;
        if self.last_popped {
            self.rendered.pop(); // the last item, heading or row may go on
        }
        // The renderer trims the end of a block; in a prefix, a space typed after the last
        // word says that word is complete, which the segmenter needs to know.
        let src = &buf.as_bytes()[chunk..upto];
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
            Some(f) => segment::scan_from(&self.rendered, complete, &mut self.scan, f),
            None => segment::scan_into(&self.rendered, complete, &mut self.scan),
        }
        self.scan_from = self.scan.resume;
    }
}
