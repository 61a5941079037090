//! The byte watcher: a cheap look at each raw Markdown delta that says when a sentence end
//! may have become certain, so the shaper renders the open chunk only then. That takes a
//! terminator (or a line break), whitespace, and then a whole next word; with early
//! fragments on, a comma (or a table's cell pipe) counts as a terminator too.

/// The watcher over one open chunk.
#[derive(Clone, Default)]
pub(crate) struct Watch {
    /// What it has seen of the open chunk: 0 only whitespace, 1 whitespace then up to nine
    /// digits (a list marker may follow), 2 anything else. A line break or "1." there ends
    /// no sentence, so it arms nothing.
    lead: u8,
    lead_digits: u8,
    /// 1 after a terminator, 2 after terminator + space, 3 in the next word (which must be
    /// complete for the segmenter to decide).
    armed: u8,
    trigger: bool,
    /// The last provisional scan stopped waiting for the next word: any byte but a word
    /// character may settle it.
    pub(crate) need_more: bool,
}

impl Watch {
    /// Whether a sentence end may have become certain since the last call.
    #[inline]
    pub(crate) fn take_trigger(&mut self) -> bool {
        std::mem::take(&mut self.trigger)
    }

    /// A new chunk starts: watch `text`, what is known of it so far, or (`None`: a long
    /// rest, a whole feed in progress) take it as text already.
    pub(crate) fn new_chunk(&mut self, text: Option<&str>, comma: bool) {
        self.need_more = false;
        match text {
            Some(text) => {
                self.trigger = false;
                self.armed = 0;
                self.lead = 0;
                self.lead_digits = 0;
                self.feed(text, comma);
            }
            None => self.lead = 2,
        }
    }

    /// Looks at a raw delta; `comma`: a comma may end the early fragment.
    pub(crate) fn feed(&mut self, delta: &str, comma: bool) {
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
}

/// [`is_term`] or a line break, looked up (without, with commas): `feed` skips to these.
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
