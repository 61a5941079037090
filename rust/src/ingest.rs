//! Ingest: bytes from stdin, split anywhere, to typed events (what the assistant says).
//!
//! [`Parser::feed`] takes chunks cut at arbitrary points (even inside a UTF-8 character),
//! frames them into lines, and turns each complete line into [`Event`]s. Per line the input
//! is Claude Code `stream-json` (with or without partial messages), Codex CLI's
//! `exec --json` or Gemini CLI's `stream-json` (agents.rs), the short form
//! `{"content":[{"type":"text","text":…}]}`, or plain text; auto mode tells them apart by
//! the first non-blank byte (`{` means JSON).
//!
//! Bad input is normal input: malformed JSON, invalid UTF-8, over-long lines, too-deep
//! nesting and unknown types are each skipped, counted, and reported once per kind through
//! [`Parser::take_warnings`]; the next valid line is always parsed.
//!
//! Per JSON line: `json` decodes it and returns the value, `session` (the stream-json state
//! machine) reads the value through the `view` trait and says what became of the line.

use std::str::FromStr;

use crate::error::Error;

mod agents;
mod json;
mod session;
#[cfg(test)]
mod tests;
mod view;

pub use json::JsonBackend;

use json::{JsonError, JsonLine, Parsed, Spare};
use session::{Handled, Session};

/// How to read each input line.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum InputFormat {
    /// JSON when the line starts with `{` (after whitespace), plain text otherwise.
    #[default]
    Auto,
    /// Every line is JSON (stream-json or the short form); anything else is malformed.
    StreamJson,
    /// Every line is plain text, spoken as is.
    Text,
}

impl FromStr for InputFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "auto" => Ok(Self::Auto),
            "stream-json" => Ok(Self::StreamJson),
            "text" => Ok(Self::Text),
            other => Err(Error::InvalidArgument(format!(
                "unknown input format {other:?}; expected \"auto\", \"stream-json\" or \"text\""
            ))),
        }
    }
}

/// What to parse and what to speak.
#[derive(Clone, Debug)]
pub struct ParserOptions {
    pub input: InputFormat,
    /// Emit [`EventKind::Tool`] with the tool name when the assistant starts a tool call.
    pub speak_tools: bool,
    /// Also speak messages of subagents (lines with a non-null `parent_tool_use_id`).
    pub speak_subagents: bool,
    /// Longer lines are dropped (and counted) without being buffered past this size.
    pub max_line_bytes: usize,
    /// Deeper JSON nesting is rejected (and counted).
    pub max_depth: usize,
}

impl Default for ParserOptions {
    fn default() -> Self {
        Self {
            input: InputFormat::Auto,
            speak_tools: false,
            speak_subagents: false,
            max_line_bytes: 16 * 1024 * 1024,
            max_depth: 128,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EventKind {
    /// A piece of assistant Markdown: a delta, or a whole text block.
    Text,
    /// Text block `block` of `message_id` is complete.
    BlockEnd,
    /// Message `message_id` is complete.
    MessageEnd,
    /// The assistant starts running the tool named in `text`.
    Tool,
}

impl EventKind {
    /// The name Python sees (`Event.kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::BlockEnd => "block_end",
            Self::MessageEnd => "message_end",
            Self::Tool => "tool",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub kind: EventKind,
    /// Messages API id; `"text"` for plain text, `"short-<n>"` for the n-th short-form line.
    pub message_id: String,
    /// Content block index within the message.
    pub block: u32,
    /// Markdown for `Text`, tool name for `Tool`, empty otherwise.
    pub text: String,
    /// 1-based number of the input line this event came from.
    pub line: u64,
}

/// Why a line was skipped; each kind is counted and warned about once.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Skip {
    MalformedJson,
    InvalidUtf8,
    TooLong,
    TooDeep,
    UnknownType,
}

impl Skip {
    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

#[derive(Default, Clone, Copy)]
struct Counts {
    lines: u64,
    events: u64,
    json: u64,
    text: u64,
    blank: u64,
    malformed_json: u64,
    invalid_utf8: u64,
    too_long: u64,
    too_deep: u64,
    unknown_type: u64,
}

/// Message id of plain-text input.
const TEXT_ID: &str = "text";

/// The streaming parser: feed it chunks, collect events.
pub struct Parser {
    opts: ParserOptions,
    /// Bytes of the current, not yet terminated line.
    pending: Vec<u8>,
    /// The current line passed `max_line_bytes`: drop bytes up to the next newline.
    discarding: bool,
    line_no: u64,
    json: JsonLine,
    session: Session,
    /// A plain-text message is open (closed at `finish`).
    text_open: bool,
    counts: Counts,
    warned: u8,
    warnings: Vec<String>,
}

impl Parser {
    /// A parser using the default JSON backend (simd-json).
    pub fn new(opts: ParserOptions) -> Parser {
        Self::with_backend(opts, JsonBackend::default())
    }

    /// A parser with an explicit JSON backend (the benchmark compares them).
    pub fn with_backend(opts: ParserOptions, backend: JsonBackend) -> Parser {
        Parser {
            json: JsonLine::new(backend, opts.max_depth),
            session: Session::new(opts.speak_tools, opts.speak_subagents),
            opts,
            pending: Vec::new(),
            discarding: false,
            line_no: 0,
            text_open: false,
            counts: Counts::default(),
            warned: 0,
            warnings: Vec::new(),
        }
    }

    /// Append the events of every line that `data` completes.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<Event>) {
        let start = out.len();
        let max = self.opts.max_line_bytes;
        let mut rest = data;
        while let Some(nl) = memchr::memchr(b'\n', rest) {
            let seg = &rest[..nl];
            rest = &rest[nl + 1..];
            if self.discarding {
                self.discarding = false;
                self.line_too_long();
            } else if self.pending.is_empty() {
                // Fast path: the whole line is inside this chunk, no copy for framing.
                if seg.len() > max {
                    self.line_too_long();
                } else {
                    self.line(seg, out);
                }
            } else if self.pending.len() + seg.len() > max {
                self.pending.clear();
                self.line_too_long();
            } else {
                let mut line = std::mem::take(&mut self.pending);
                line.extend_from_slice(seg);
                self.line(&line, out);
                if line.capacity() <= json::KEEP_BYTES {
                    line.clear();
                    self.pending = line;
                }
            }
        }
        if !rest.is_empty() && !self.discarding {
            if self.pending.len() + rest.len() > max {
                // Stop buffering now; the line is counted when its newline arrives.
                self.pending = Vec::new();
                self.discarding = true;
            } else {
                self.pending.extend_from_slice(rest);
            }
        }
        self.counts.events += (out.len() - start) as u64;
    }

    /// End of input: parse a last unterminated line, then close whatever is still open.
    pub fn finish(&mut self, out: &mut Vec<Event>) {
        let start = out.len();
        if self.discarding {
            self.discarding = false;
            self.line_too_long();
        } else if !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.line(&line, out);
        }
        let line = self.line_no;
        self.session.finish(line, out);
        if self.text_open {
            self.text_open = false;
            for kind in [EventKind::BlockEnd, EventKind::MessageEnd] {
                out.push(Event {
                    kind,
                    message_id: TEXT_ID.to_owned(),
                    block: 0,
                    text: String::new(),
                    line,
                });
            }
        }
        self.counts.events += (out.len() - start) as u64;
    }

    /// Named counters: lines seen, events emitted, and every kind of skipped line.
    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        let c = &self.counts;
        let s = self.session.counts();
        vec![
            ("lines", c.lines),
            ("events", c.events),
            ("json_lines", c.json),
            ("text_lines", c.text),
            ("blank_lines", c.blank),
            ("malformed_json", c.malformed_json),
            ("invalid_utf8", c.invalid_utf8),
            ("too_long", c.too_long),
            ("too_deep", c.too_deep),
            ("unknown_type", c.unknown_type),
            ("skipped_subagent", s.skipped_subagent),
            ("skipped_duplicate", s.skipped_duplicate),
        ]
    }

    /// Warnings issued since the last call (at most one per kind of bad input, ever).
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    fn line(&mut self, raw: &[u8], out: &mut Vec<Event>) {
        self.line_no += 1;
        self.counts.lines += 1;
        let mut line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if self.line_no == 1 {
            line = line.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(line);
        }
        let first = line.iter().position(|b| !b.is_ascii_whitespace());
        match (self.opts.input, first) {
            (InputFormat::Text, _) => self.text_line(line, out),
            (InputFormat::Auto, None) if self.text_open => self.text_line(line, out),
            (_, None) => self.counts.blank += 1,
            (InputFormat::Auto, Some(i)) if line[i] != b'{' => self.text_line(line, out),
            _ => self.json_line(line, out),
        }
    }

    fn text_line(&mut self, line: &[u8], out: &mut Vec<Event>) {
        let Ok(text) = std::str::from_utf8(line) else {
            self.skip(Skip::InvalidUtf8, "invalid UTF-8");
            return;
        };
        self.counts.text += 1;
        self.text_open = true;
        let mut owned = String::with_capacity(text.len() + 1);
        owned.push_str(text);
        owned.push('\n');
        out.push(Event {
            kind: EventKind::Text,
            message_id: TEXT_ID.to_owned(),
            block: 0,
            text: owned,
            line: self.line_no,
        });
    }

    fn json_line(&mut self, line: &[u8], out: &mut Vec<Event>) {
        let line_no = self.line_no;
        let (handled, spare) = match self.json.parse(line) {
            Ok(parsed) => {
                let handled = match &parsed {
                    Parsed::Tape(tape) => self.session.handle(tape.as_value(), line_no, out),
                    Parsed::Serde(value) => self.session.handle(value, line_no, out),
                };
                (Ok(handled), parsed.into_spare())
            }
            Err(e) => (Err(e), Spare::default()),
        };
        // The value borrowed the decoder's buffers: they go back for the next line.
        self.json.reuse(spare);
        match handled {
            Ok(Handled::Unknown(what)) => {
                self.counts.json += 1;
                self.skip(Skip::UnknownType, &format!("unknown line type {what}"));
            }
            Ok(_) => self.counts.json += 1,
            Err(JsonError::Malformed(why)) => {
                self.skip(Skip::MalformedJson, &format!("malformed JSON ({why})"))
            }
            Err(JsonError::InvalidUtf8) => self.skip(Skip::InvalidUtf8, "invalid UTF-8"),
            Err(JsonError::TooDeep) => {
                let msg = format!("JSON nested deeper than {}", self.opts.max_depth);
                self.skip(Skip::TooDeep, &msg)
            }
        }
    }

    fn line_too_long(&mut self) {
        self.line_no += 1;
        self.counts.lines += 1;
        let msg = format!("line longer than {} bytes", self.opts.max_line_bytes);
        self.skip(Skip::TooLong, &msg);
    }

    fn skip(&mut self, kind: Skip, what: &str) {
        let c = &mut self.counts;
        *match kind {
            Skip::MalformedJson => &mut c.malformed_json,
            Skip::InvalidUtf8 => &mut c.invalid_utf8,
            Skip::TooLong => &mut c.too_long,
            Skip::TooDeep => &mut c.too_deep,
            Skip::UnknownType => &mut c.unknown_type,
        } += 1;
        if self.warned & kind.bit() == 0 {
            self.warned |= kind.bit();
            let tail = if kind == Skip::UnknownType {
                "ignored; further unknown types are counted silently"
            } else {
                "skipped; further such lines are counted silently"
            };
            self.warnings
                .push(format!("line {}: {what}: {tail}", self.line_no));
        }
    }
}
