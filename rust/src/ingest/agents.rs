//! The JSON streams of other coding agents, next to Claude Code's (auto mode tells them
//! apart by their `type` values, which do not overlap):
//!
//! - Codex CLI, `codex exec --json`: `item.completed` lines whose `item.type` is
//!   `agent_message` carry a whole answer paragraph in `item.text`; reasoning, commands,
//!   file changes, MCP calls and to-do lists are never spoken (tools only by name, if asked).
//! - Gemini CLI, `gemini --output-format stream-json`: `message` lines with
//!   `role == "assistant"` carry the answer in `content`, in `delta` chunks; a message ends at
//!   the next tool call, user message, or `result`. Gemini gives messages no id, so each
//!   gets `gemini-<n>`.

use super::session::Handled;
use super::view::View;
use super::{Event, EventKind};

#[derive(Default)]
pub(crate) struct Agents {
    /// The Gemini assistant message being streamed, by its made-up id.
    gemini_open: Option<String>,
    gemini_messages: u64,
}

fn push(out: &mut Vec<Event>, kind: EventKind, id: &str, text: &str, line: u64) {
    out.push(Event {
        kind,
        message_id: id.to_owned(),
        block: 0,
        text: text.to_owned(),
        line,
    });
}

impl Agents {
    /// Handle a line of type `ty` if it is Codex's or Gemini's; `None` if it is neither.
    pub(crate) fn handle<'a, V: View<'a>>(
        &mut self,
        ty: &str,
        root: V,
        speak_tools: bool,
        line: u64,
        out: &mut Vec<Event>,
    ) -> Option<Handled> {
        Some(match ty {
            "item.completed" => codex_item(root, line, out),
            "item.started" => {
                if speak_tools {
                    codex_tool(root, line, out);
                }
                Handled::Ignored
            }
            "thread.started" | "turn.started" | "turn.completed" | "turn.failed"
            | "item.updated" => Handled::Ignored,
            "message" => self.gemini_message(root, line, out),
            "tool_use" => {
                self.close(line, out);
                if let (true, Some(name)) = (speak_tools, root.get_str("tool_name")) {
                    push(out, EventKind::Tool, "gemini-tool", name, line);
                }
                Handled::Ignored
            }
            "tool_result" | "init" | "error" => {
                self.close(line, out);
                Handled::Ignored
            }
            _ => return None,
        })
    }

    /// End of a turn or of input: a Gemini message still open is complete.
    pub(crate) fn close(&mut self, line: u64, out: &mut Vec<Event>) {
        if let Some(id) = self.gemini_open.take() {
            push(out, EventKind::BlockEnd, &id, "", line);
            push(out, EventKind::MessageEnd, &id, "", line);
        }
    }

    fn gemini_message<'a, V: View<'a>>(
        &mut self,
        root: V,
        line: u64,
        out: &mut Vec<Event>,
    ) -> Handled {
        if root.get_str("role") != Some("assistant") {
            self.close(line, out); // the user's turn: whatever the assistant said is over
            return Handled::Ignored;
        }
        // Gemini writes `"delta": true` on streamed chunks and leaves it out otherwise.
        let delta = root.get("delta").is_some();
        if !delta {
            self.close(line, out); // a whole message stands alone
        }
        if self.gemini_open.is_none() {
            self.gemini_messages += 1;
            self.gemini_open = Some(format!("gemini-{}", self.gemini_messages));
        }
        let id = self.gemini_open.clone().unwrap_or_default();
        if let Some(text) = root.get_str("content").filter(|t| !t.is_empty()) {
            push(out, EventKind::Text, &id, text, line);
        }
        if !delta {
            self.close(line, out);
        }
        Handled::Used
    }
}

fn codex_item<'a, V: View<'a>>(root: V, line: u64, out: &mut Vec<Event>) -> Handled {
    let Some(item) = root.get("item") else {
        return Handled::Unknown("item.completed without item".to_owned());
    };
    if item.get_str("type") != Some("agent_message") {
        return Handled::Ignored;
    }
    let id = format!("codex-{}", item.get_str("id").unwrap_or(""));
    if let Some(text) = item.get_str("text").filter(|t| !t.is_empty()) {
        push(out, EventKind::Text, &id, text, line);
        push(out, EventKind::BlockEnd, &id, "", line);
    }
    push(out, EventKind::MessageEnd, &id, "", line);
    Handled::Used
}

fn codex_tool<'a, V: View<'a>>(root: V, line: u64, out: &mut Vec<Event>) {
    let Some(item) = root.get("item") else {
        return;
    };
    let name = match item.get_str("type") {
        Some("command_execution") => "shell",
        Some("mcp_tool_call") => item.get_str("tool").unwrap_or("tool"),
        Some("web_search") => "web search",
        _ => return,
    };
    let id = format!("codex-{}", item.get_str("id").unwrap_or(""));
    push(out, EventKind::Tool, &id, name, line);
}

#[cfg(test)]
mod tests {
    use crate::ingest::{Event, EventKind, Parser, ParserOptions};

    fn sample(name: &str) -> Vec<u8> {
        let path = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/agent_samples")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn events(data: &[u8], speak_tools: bool) -> Vec<Event> {
        let mut p = Parser::new(ParserOptions {
            speak_tools,
            ..ParserOptions::default()
        });
        let mut out = Vec::new();
        p.feed(data, &mut out);
        p.finish(&mut out);
        assert_eq!(
            p.take_warnings(),
            Vec::<String>::new(),
            "no line was unknown"
        );
        out
    }

    /// Each message's text, in order.
    fn messages(events: &[Event]) -> Vec<(String, String)> {
        let mut msgs: Vec<(String, String)> = Vec::new();
        for e in events.iter().filter(|e| e.kind == EventKind::Text) {
            match msgs.iter_mut().find(|(id, _)| *id == e.message_id) {
                Some((_, t)) => t.push_str(&e.text),
                None => msgs.push((e.message_id.clone(), e.text.clone())),
            }
        }
        msgs
    }

    fn ends(events: &[Event]) -> Vec<String> {
        events
            .iter()
            .filter(|e| e.kind == EventKind::MessageEnd)
            .map(|e| e.message_id.clone())
            .collect()
    }

    #[test]
    fn codex_agent_messages_only() {
        let ev = events(&sample("codex_exec.jsonl"), false);
        let texts: Vec<String> = messages(&ev).into_iter().map(|(_, t)| t).collect();
        assert_eq!(
            texts,
            [
                "The repository has a README and one text file.",
                "I added **notes.md** with a summary. Run `cat notes.md` to read it.",
            ]
        );
        assert_eq!(ends(&ev), ["codex-item_2", "codex-item_6"]);
        assert!(ev.iter().all(|e| e.kind != EventKind::Tool));
    }

    #[test]
    fn codex_tools_by_name_when_asked() {
        let ev = events(&sample("codex_exec.jsonl"), true);
        let tools: Vec<&str> = ev
            .iter()
            .filter(|e| e.kind == EventKind::Tool)
            .map(|e| e.text.as_str())
            .collect();
        assert_eq!(tools, ["shell", "search"]);
    }

    #[test]
    fn gemini_deltas_joined_and_closed_at_tools_and_result() {
        let ev = events(&sample("gemini_stream.jsonl"), false);
        assert_eq!(
            messages(&ev),
            [
                ("gemini-1".into(), "Let me look at the tests first.".into()),
                (
                    "gemini-2".into(),
                    "All twelve tests pass. The build is green".into()
                ),
            ]
        );
        assert_eq!(ends(&ev), ["gemini-1", "gemini-2"]);
        // The second message ends at `result`, not only at end of input.
        let end = ev
            .iter()
            .find(|e| e.kind == EventKind::MessageEnd && e.message_id == "gemini-2")
            .map(|e| e.line);
        assert_eq!(end, Some(9));
    }

    #[test]
    fn gemini_whole_message_stands_alone() {
        let data = br#"{"type":"message","role":"assistant","content":"One."}
{"type":"message","role":"assistant","content":"Two."}
"#;
        let ev = events(data, false);
        assert_eq!(ends(&ev), ["gemini-1", "gemini-2"]);
        assert_eq!(ev[2].line, 1, "the first message ends on its own line");
    }
}
