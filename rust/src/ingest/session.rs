//! What a Claude Code session says: the state machine over parsed stream-json lines.
//!
//! Spoken: top-level assistant text only, from `stream_event` text deltas when partial
//! messages are on, else from whole `assistant` lines. An `assistant` line whose message was
//! already streamed is a repeat and is skipped; so is the `result` line. Lines of subagents
//! (non-null `parent_tool_use_id`) are skipped unless asked for; each parent then keeps its
//! own open-message state, since a subagent may stream while the main agent waits.

use std::collections::VecDeque;

use super::agents::Agents;
use super::view::View;
use super::{Event, EventKind};

/// What became of a parsed line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Handled {
    Used,
    /// Understood, deliberately not spoken (system lines, thinking, pings, ...).
    Ignored,
    SkippedSubagent,
    SkippedDuplicate,
    /// A line or stream event type we do not know (named for the one warning).
    Unknown(String),
}

#[derive(Default, Clone, Copy)]
pub(crate) struct SessionCounts {
    pub skipped_subagent: u64,
    pub skipped_duplicate: u64,
}

/// A message being streamed through `stream_event` lines.
struct Streamed {
    id: String,
    /// Indices of text blocks started and not yet stopped, in start order.
    open_text: Vec<u32>,
}

/// A message arriving as whole `assistant` lines (one or more content blocks each).
struct Whole {
    id: String,
    next_block: u32,
}

/// Open-message state of one agent (the main one, or a subagent by its parent tool id).
struct Context {
    parent: Option<String>,
    streamed: Option<Streamed>,
    whole: Option<Whole>,
}

/// The last few ids seen, for "already streamed" and "tool already announced" checks.
struct Recent {
    ids: VecDeque<String>,
}

impl Recent {
    const CAP: usize = 64;

    fn new() -> Self {
        Self {
            ids: VecDeque::with_capacity(Self::CAP),
        }
    }
    fn contains(&self, id: &str) -> bool {
        self.ids.iter().any(|x| x == id)
    }
    fn insert(&mut self, id: &str) {
        if self.contains(id) {
            return;
        }
        if self.ids.len() == Self::CAP {
            self.ids.pop_front();
        }
        self.ids.push_back(id.to_owned());
    }
}

pub(crate) struct Session {
    speak_tools: bool,
    speak_subagents: bool,
    /// Index 0 is always the main agent.
    contexts: Vec<Context>,
    streamed_ids: Recent,
    spoken_tools: Recent,
    short_lines: u64,
    counts: SessionCounts,
    /// Codex CLI and Gemini CLI lines.
    agents: Agents,
}

fn event(kind: EventKind, id: &str, block: u32, text: &str, line: u64) -> Event {
    Event {
        kind,
        message_id: id.to_owned(),
        block,
        text: text.to_owned(),
        line,
    }
}

impl Context {
    fn new(parent: Option<&str>) -> Self {
        Self {
            parent: parent.map(str::to_owned),
            streamed: None,
            whole: None,
        }
    }

    fn close_streamed(&mut self, line: u64, out: &mut Vec<Event>) {
        if let Some(m) = self.streamed.take() {
            for &b in &m.open_text {
                out.push(event(EventKind::BlockEnd, &m.id, b, "", line));
            }
            out.push(event(EventKind::MessageEnd, &m.id, 0, "", line));
        }
    }

    fn close_whole(&mut self, line: u64, out: &mut Vec<Event>) {
        if let Some(m) = self.whole.take() {
            out.push(event(EventKind::MessageEnd, &m.id, 0, "", line));
        }
    }

    fn close(&mut self, line: u64, out: &mut Vec<Event>) {
        self.close_streamed(line, out);
        self.close_whole(line, out);
    }
}

impl Session {
    pub(crate) fn new(speak_tools: bool, speak_subagents: bool) -> Self {
        Self {
            speak_tools,
            speak_subagents,
            contexts: vec![Context::new(None)],
            streamed_ids: Recent::new(),
            spoken_tools: Recent::new(),
            short_lines: 0,
            counts: SessionCounts::default(),
            agents: Agents::default(),
        }
    }

    pub(crate) fn counts(&self) -> SessionCounts {
        self.counts
    }

    /// Close every open message (end of input).
    pub(crate) fn finish(&mut self, line: u64, out: &mut Vec<Event>) {
        for ctx in &mut self.contexts {
            ctx.close(line, out);
        }
        self.contexts.truncate(1);
        self.agents.close(line, out);
    }

    pub(crate) fn handle<'a, V: View<'a>>(
        &mut self,
        root: V,
        line: u64,
        out: &mut Vec<Event>,
    ) -> Handled {
        let Some(ty) = root.get("type") else {
            return self.short_form(root, line, out);
        };
        let Some(ty) = ty.str() else {
            return Handled::Unknown("(non-string type)".to_owned());
        };
        let parent = root.get_str("parent_tool_use_id");
        let ctx = match ty {
            "stream_event" | "assistant" | "user" => {
                if parent.is_some() && !self.speak_subagents {
                    self.counts.skipped_subagent += 1;
                    return Handled::SkippedSubagent;
                }
                self.context(parent)
            }
            "result" => {
                // Repeats the final answer: never spoken, but it ends the turn.
                for ctx in &mut self.contexts {
                    ctx.close(line, out);
                }
                self.agents.close(line, out); // Gemini ends its turn with `result` too
                return Handled::Ignored;
            }
            "system" => return Handled::Ignored,
            other => {
                let tools = self.speak_tools;
                return (self.agents.handle(other, root, tools, line, out))
                    .unwrap_or_else(|| Handled::Unknown(format!("{other:?}")));
            }
        };
        match ty {
            "stream_event" => match root.get("event") {
                Some(ev) => self.stream_event(ctx, ev, line, out),
                None => Handled::Unknown("stream_event without event".to_owned()),
            },
            "assistant" => self.assistant(ctx, root, line, out),
            _ => {
                // A user turn (tool results): the assistant message before it is over.
                self.contexts[ctx].close_whole(line, out);
                Handled::Ignored
            }
        }
    }

    fn context(&mut self, parent: Option<&str>) -> usize {
        if let Some(i) = self
            .contexts
            .iter()
            .position(|c| c.parent.as_deref() == parent)
        {
            return i;
        }
        self.contexts.push(Context::new(parent));
        self.contexts.len() - 1
    }

    fn stream_event<'a, V: View<'a>>(
        &mut self,
        ci: usize,
        ev: V,
        line: u64,
        out: &mut Vec<Event>,
    ) -> Handled {
        let Some(ty) = ev.get_str("type") else {
            return Handled::Unknown("stream_event without type".to_owned());
        };
        let index = || ev.get("index").and_then(View::u64).unwrap_or(0) as u32;
        let ctx = &mut self.contexts[ci];
        match ty {
            // The hot path first: most lines of a partial session are deltas.
            "content_block_delta" => {
                let Some(delta) = ev.get("delta") else {
                    return Handled::Ignored;
                };
                if delta.get_str("type") != Some("text_delta") {
                    return Handled::Ignored;
                }
                let text = delta.get_str("text").unwrap_or("");
                let b = index();
                let m = streamed(ctx);
                if !m.open_text.contains(&b) {
                    m.open_text.push(b);
                }
                if !text.is_empty() {
                    out.push(event(EventKind::Text, &m.id, b, text, line));
                }
                Handled::Used
            }
            "content_block_start" => {
                let b = index();
                let Some(block) = ev.get("content_block") else {
                    return Handled::Ignored;
                };
                match block.get_str("type") {
                    Some("text") => {
                        let m = streamed(ctx);
                        if !m.open_text.contains(&b) {
                            m.open_text.push(b);
                        }
                        let text = block.get_str("text").unwrap_or("");
                        if !text.is_empty() {
                            out.push(event(EventKind::Text, &m.id, b, text, line));
                        }
                        Handled::Used
                    }
                    Some("tool_use" | "server_tool_use") => {
                        let id = streamed(ctx).id.clone();
                        self.tool(block, &id, b, line, out);
                        Handled::Used
                    }
                    _ => Handled::Ignored,
                }
            }
            "content_block_stop" => {
                let b = index();
                if let Some(m) = ctx.streamed.as_mut() {
                    if let Some(pos) = m.open_text.iter().position(|&x| x == b) {
                        m.open_text.remove(pos);
                        out.push(event(EventKind::BlockEnd, &m.id, b, "", line));
                        return Handled::Used;
                    }
                }
                Handled::Ignored
            }
            "message_start" => {
                let id = ev
                    .get("message")
                    .and_then(|m| m.get_str("id"))
                    .unwrap_or("");
                ctx.close(line, out);
                ctx.streamed = Some(Streamed {
                    id: id.to_owned(),
                    open_text: Vec::new(),
                });
                self.streamed_ids.insert(id);
                Handled::Used
            }
            "message_stop" => {
                ctx.close_streamed(line, out);
                Handled::Used
            }
            "message_delta" | "ping" | "error" => Handled::Ignored,
            other => Handled::Unknown(format!("stream_event {other:?}")),
        }
    }

    fn assistant<'a, V: View<'a>>(
        &mut self,
        ci: usize,
        root: V,
        line: u64,
        out: &mut Vec<Event>,
    ) -> Handled {
        let Some(msg) = root.get("message") else {
            return Handled::Unknown("assistant without message".to_owned());
        };
        let id = msg.get_str("id").unwrap_or("");
        if self.streamed_ids.contains(id) {
            // Already spoken from its deltas; the whole text may differ slightly.
            self.counts.skipped_duplicate += 1;
            return Handled::SkippedDuplicate;
        }
        let ctx = &mut self.contexts[ci];
        if ctx.whole.as_ref().is_some_and(|m| m.id != id) {
            ctx.close_whole(line, out);
        }
        let whole = ctx.whole.get_or_insert_with(|| Whole {
            id: id.to_owned(),
            next_block: 0,
        });
        let first = whole.next_block;
        let count = self.blocks(msg, id, first, line, out);
        if let Some(w) = self.contexts[ci].whole.as_mut() {
            w.next_block = first + count;
        }
        Handled::Used
    }

    /// Lines without `type`: the short form `{"content":[{"type":"text","text":…}]}`,
    /// one whole message per line.
    fn short_form<'a, V: View<'a>>(&mut self, root: V, line: u64, out: &mut Vec<Event>) -> Handled {
        if root.get("content").and_then(View::items).is_none() {
            return Handled::Unknown("(no type)".to_owned());
        }
        self.short_lines += 1;
        let id = format!("short-{}", self.short_lines);
        self.blocks(root, &id, 0, line, out);
        out.push(event(EventKind::MessageEnd, &id, 0, "", line));
        Handled::Used
    }

    /// Speak the content blocks of a whole message; returns how many blocks there were.
    fn blocks<'a, V: View<'a>>(
        &mut self,
        msg: V,
        id: &str,
        first: u32,
        line: u64,
        out: &mut Vec<Event>,
    ) -> u32 {
        let mut b = first;
        if let Some(items) = msg.get("content").and_then(View::items) {
            for block in items {
                match block.get_str("type") {
                    Some("text") => {
                        if let Some(text) = block.get_str("text").filter(|t| !t.is_empty()) {
                            out.push(event(EventKind::Text, id, b, text, line));
                            out.push(event(EventKind::BlockEnd, id, b, "", line));
                        }
                    }
                    Some("tool_use" | "server_tool_use") => self.tool(block, id, b, line, out),
                    _ => {}
                }
                b += 1;
            }
        }
        b - first
    }

    fn tool<'a, V: View<'a>>(
        &mut self,
        block: V,
        id: &str,
        b: u32,
        line: u64,
        out: &mut Vec<Event>,
    ) {
        if !self.speak_tools {
            return;
        }
        let Some(name) = block.get_str("name") else {
            return;
        };
        if let Some(tool_id) = block.get_str("id") {
            if self.spoken_tools.contains(tool_id) {
                return;
            }
            self.spoken_tools.insert(tool_id);
        }
        out.push(event(EventKind::Tool, id, b, name, line));
    }
}

/// The message being streamed, or a nameless one if deltas arrive without `message_start`.
fn streamed(ctx: &mut Context) -> &mut Streamed {
    ctx.streamed.get_or_insert_with(|| Streamed {
        id: String::new(),
        open_text: Vec::new(),
    })
}
