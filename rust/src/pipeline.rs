//! The joined text stage: stdin bytes -> events -> speakable sentences, in one call per chunk.
//!
//! One `Shaper` per open content block keeps interleaved blocks apart; a block's end flushes
//! its shaper so the last sentence of a block is spoken without waiting for more text.

use std::collections::HashMap;

use crate::ingest::{Event, EventKind, Parser, ParserOptions};
use crate::text::segment;
use crate::text::shaper::{Piece, Shaper, ShaperOptions};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SentenceKind {
    Text,
    Tool,
}

impl SentenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SentenceKind::Text => "text",
            SentenceKind::Tool => "tool",
        }
    }
}

/// A sentence ready for speech, with where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Sentence {
    pub text: String,
    pub message_id: String,
    /// 1-based input line whose arrival completed this sentence.
    pub line: u64,
    /// First sentence of its message: a new message starts here.
    pub first: bool,
    /// An early first clause of a long first sentence.
    pub fragment: bool,
    pub kind: SentenceKind,
}

/// The sentence a block is probably ending: its terminator has arrived, the word after it
/// that makes the end certain has not. Speech may start on it early and keep what it made
/// if the sentence comes out the same.
#[derive(Clone, Debug, PartialEq)]
pub struct Guess {
    pub message_id: String,
    pub text: String,
}

pub struct TextPipeline {
    parser: Parser,
    speculate: bool,
    guess: Option<Guess>,
    probe: Vec<Piece>,
    shaper_opts: ShaperOptions,
    shapers: HashMap<(String, u32), Shaper>,
    events: Vec<Event>,
    pieces: Vec<Piece>,
    /// Message that spoke last, so the first sentence of the next one is marked.
    last_message: Option<String>,
    sentences: u64,
}

impl TextPipeline {
    pub fn new(parser: ParserOptions, shaper: ShaperOptions) -> Self {
        Self {
            parser: Parser::new(parser),
            speculate: false,
            guess: None,
            probe: Vec::new(),
            shaper_opts: shaper,
            shapers: HashMap::new(),
            events: Vec::new(),
            pieces: Vec::new(),
            last_message: None,
            sentences: 0,
        }
    }

    /// Feed a chunk of input (split anywhere); append every sentence now certain to `out`.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<Sentence>) {
        let mut events = std::mem::take(&mut self.events);
        self.parser.feed(data, &mut events);
        self.handle(&mut events, out);
        self.events = events;
    }

    /// Guess sentences (see [`Guess`]) as terminators arrive; off by default.
    pub fn set_speculate(&mut self, on: bool) {
        self.speculate = on;
        self.guess = None;
    }

    /// The latest guess since the last call, if any.
    pub fn take_guess(&mut self) -> Option<Guess> {
        self.guess.take()
    }

    /// End of input: flush every open block.
    pub fn finish(&mut self, out: &mut Vec<Sentence>) {
        let mut events = std::mem::take(&mut self.events);
        self.parser.finish(&mut events);
        self.handle(&mut events, out);
        // Blocks the input never closed still get spoken, in a stable order.
        let mut open: Vec<_> = self.shapers.keys().cloned().collect();
        open.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.cmp(&b.1)));
        let line = self.parser_line();
        for key in open {
            if let Some(mut shaper) = self.shapers.remove(&key) {
                shaper.finish(&mut self.pieces);
                self.emit(&key.0, line, out);
            }
        }
        self.events = events;
    }

    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        let mut c = self.parser.counters();
        c.push(("sentences", self.sentences));
        c
    }

    pub fn take_warnings(&mut self) -> Vec<String> {
        self.parser.take_warnings()
    }

    fn parser_line(&self) -> u64 {
        self.parser
            .counters()
            .iter()
            .find(|(k, _)| *k == "lines")
            .map_or(0, |(_, v)| *v)
    }

    fn handle(&mut self, events: &mut Vec<Event>, out: &mut Vec<Sentence>) {
        for ev in events.drain(..) {
            match ev.kind {
                EventKind::Text => {
                    let key = (ev.message_id, ev.block);
                    let shaper = self
                        .shapers
                        .entry(key.clone())
                        .or_insert_with(|| Shaper::new(self.shaper_opts.clone()));
                    shaper.feed(&ev.text, &mut self.pieces);
                    if self.speculate && ev.text.bytes().any(|b| matches!(b, b'.' | b'!' | b'?')) {
                        // What the block would say if it ended here: its first unsaid
                        // sentence is the one the terminator probably ends.
                        shaper.clone().finish(&mut self.probe);
                        let ends = |p: &&Piece| segment::ends_with_terminator(&p.text, false);
                        if let Some(p) = self.probe.first().filter(|p| !p.fragment && ends(p)) {
                            self.guess = Some(Guess {
                                message_id: key.0.clone(),
                                text: p.text.clone(),
                            });
                        }
                        self.probe.clear();
                    }
                    self.emit(&key.0, ev.line, out);
                }
                EventKind::BlockEnd => {
                    let key = (ev.message_id, ev.block);
                    if let Some(mut shaper) = self.shapers.remove(&key) {
                        shaper.finish(&mut self.pieces);
                        self.emit(&key.0, ev.line, out);
                    }
                }
                EventKind::MessageEnd => {
                    let mut blocks: Vec<u32> = self
                        .shapers
                        .keys()
                        .filter(|k| k.0 == ev.message_id)
                        .map(|k| k.1)
                        .collect();
                    blocks.sort_unstable();
                    for block in blocks {
                        if let Some(mut shaper) =
                            self.shapers.remove(&(ev.message_id.clone(), block))
                        {
                            shaper.finish(&mut self.pieces);
                            self.emit(&ev.message_id, ev.line, out);
                        }
                    }
                }
                EventKind::Tool => {
                    let name = ev.text.trim();
                    if !name.is_empty() {
                        self.pieces.push(Piece {
                            text: format!("Running {name}."),
                            fragment: false,
                        });
                        self.emit_kind(&ev.message_id, ev.line, SentenceKind::Tool, out);
                    }
                }
            }
        }
    }

    fn emit(&mut self, message_id: &str, line: u64, out: &mut Vec<Sentence>) {
        self.emit_kind(message_id, line, SentenceKind::Text, out);
    }

    fn emit_kind(
        &mut self,
        message_id: &str,
        line: u64,
        kind: SentenceKind,
        out: &mut Vec<Sentence>,
    ) {
        for piece in self.pieces.drain(..) {
            if piece.text.trim().is_empty() {
                continue;
            }
            let first = self.last_message.as_deref() != Some(message_id);
            if first {
                self.last_message = Some(message_id.to_owned());
            }
            self.sentences += 1;
            out.push(Sentence {
                text: piece.text,
                message_id: message_id.to_owned(),
                line,
                first,
                fragment: piece.fragment,
                kind,
            });
        }
    }
}
