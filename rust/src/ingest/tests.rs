use super::*;

use crate::test_data as data;

/// A Claude Code sample of the conformance data (tests check `data::have_data()` first).
fn sample(name: &str) -> Vec<u8> {
    let path = data::data_dir().join("claude_code_samples").join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "test data {} is missing ({e}); the data folder is incomplete",
            path.display()
        )
    })
}

fn expected() -> serde_json::Value {
    serde_json::from_slice(&sample("expected.json")).expect("expected.json is valid JSON")
}

fn strings(v: &serde_json::Value, key: &str) -> Vec<String> {
    v[key]
        .as_array()
        .unwrap_or_else(|| panic!("expected.json has no array {key:?}"))
        .iter()
        .map(|s| s.as_str().expect("a string").to_owned())
        .collect()
}

fn opts() -> ParserOptions {
    ParserOptions::default()
}

fn run(data: &[u8], opts: ParserOptions) -> (Vec<Event>, Parser) {
    let mut p = Parser::new(opts);
    let mut out = Vec::new();
    p.feed(data, &mut out);
    p.finish(&mut out);
    (out, p)
}

fn run_chunks(
    data: &[u8],
    cuts: &[usize],
    opts: ParserOptions,
    backend: JsonBackend,
) -> Vec<Event> {
    let mut p = Parser::with_backend(opts, backend);
    let mut out = Vec::new();
    let mut at = 0;
    for &c in cuts {
        p.feed(&data[at..c], &mut out);
        at = c;
    }
    p.feed(&data[at..], &mut out);
    p.finish(&mut out);
    out
}

fn counter(p: &Parser, name: &str) -> u64 {
    p.counters()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no counter {name}"))
        .1
}

/// The text of each message (Text events joined), in order of first appearance.
fn messages(events: &[Event]) -> Vec<(String, String)> {
    let mut msgs: Vec<(String, String)> = Vec::new();
    for e in events.iter().filter(|e| e.kind == EventKind::Text) {
        match msgs.iter_mut().find(|(id, _)| *id == e.message_id) {
            Some((_, text)) => text.push_str(&e.text),
            None => msgs.push((e.message_id.clone(), e.text.clone())),
        }
    }
    msgs
}

fn spoken(events: &[Event]) -> String {
    let texts: Vec<String> = messages(events).into_iter().map(|(_, t)| t).collect();
    texts.join("\n")
}

/// The expected.json normalization: lowercase, letters/digits/spaces only, spaces collapsed.
fn normalize(s: &str) -> String {
    let mapped: String = s
        .to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    mapped.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What a listener would hear of the Markdown, roughly: its text without link targets or
/// markup (pulldown-cmark's text events). The real rendering is the text stage's job.
fn heard(markdown: &str) -> String {
    use pulldown_cmark::{Event as Md, Parser as MdParser, TagEnd};
    let mut out = String::new();
    for ev in MdParser::new(markdown) {
        match ev {
            Md::Text(t) | Md::Code(t) => out.push_str(&t),
            Md::SoftBreak
            | Md::HardBreak
            | Md::End(TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::Item) => out.push(' '),
            _ => {}
        }
    }
    out
}

fn assert_says_in_order(spoken: &str, phrases: &[String]) {
    let norm = normalize(&heard(spoken));
    let mut from = 0;
    for phrase in phrases {
        match norm[from..].find(phrase.as_str()) {
            Some(i) => from += i + phrase.len(),
            None => panic!("{phrase:?} not spoken (in order) in {norm:?}"),
        }
    }
}

/// must_not_say strings that are not part of the answer's own Markdown source: ingest must
/// never produce them (the rest, e.g. "```", are removed later by the text stage).
fn ingest_must_not_say() -> Vec<String> {
    let full = sample("session.full.jsonl");
    let last = full
        .split(|&b| b == b'\n')
        .rfind(|l| !l.is_empty())
        .expect("session.full.jsonl has lines");
    let result: serde_json::Value = serde_json::from_slice(last).expect("result line");
    let answer = result["result"]
        .as_str()
        .expect("result text")
        .to_lowercase();
    let phrases: Vec<String> = strings(&expected(), "must_not_say")
        .into_iter()
        .filter(|p| !answer.contains(&p.to_lowercase()))
        .collect();
    assert!(
        phrases.iter().any(|p| p == "subagent") && phrases.iter().any(|p| p == "grep"),
        "expected subagent/tool phrases among {phrases:?}"
    );
    phrases
}

fn assert_says_nothing_of(spoken: &str, phrases: &[String]) {
    let lower = spoken.to_lowercase();
    for p in phrases {
        assert!(
            !lower.contains(&p.to_lowercase()),
            "{p:?} was spoken: {spoken:?}"
        );
    }
}

fn assert_clean(p: &Parser) {
    for name in [
        "malformed_json",
        "invalid_utf8",
        "too_long",
        "too_deep",
        "unknown_type",
    ] {
        assert_eq!(counter(p, name), 0, "{name}");
    }
}

fn kinds(events: &[Event]) -> Vec<(EventKind, &str, u32)> {
    events
        .iter()
        .filter(|e| e.kind != EventKind::Text)
        .map(|e| (e.kind, e.message_id.as_str(), e.block))
        .collect()
}

#[test]
fn partial_session_speaks_the_answer_once() {
    if !data::have_data() {
        return;
    }
    let exp = expected();
    let (events, p) = run(&sample("session.partial.jsonl"), opts());
    let text = spoken(&events);
    assert_says_in_order(&text, &strings(&exp, "must_say_in_order"));
    assert_says_nothing_of(&text, &ingest_must_not_say());
    assert_clean(&p);
    // Two top-level messages, each spoken once from its deltas.
    let msgs = messages(&events);
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert_eq!(
        msgs[0],
        (
            "msg_017731af10506bf2efc6f877".into(),
            "I'll check the build profile first.".into()
        )
    );
    let answer = std::str::from_utf8(&sample("session.short.jsonl"))
        .map(|s| serde_json::from_str::<serde_json::Value>(s).expect("short line"))
        .expect("utf-8")["content"][0]["text"]
        .as_str()
        .expect("text")
        .to_owned();
    assert_eq!(msgs[1].1, answer);
    assert_eq!(
        kinds(&events),
        vec![
            (EventKind::BlockEnd, "msg_017731af10506bf2efc6f877", 1),
            (EventKind::MessageEnd, "msg_017731af10506bf2efc6f877", 0),
            (EventKind::BlockEnd, "msg_01e7a46309973f798626b1cf", 0),
            (EventKind::MessageEnd, "msg_01e7a46309973f798626b1cf", 0),
        ]
    );
    // MessageEnd comes from message_stop lines (47 and 159).
    let ends: Vec<u64> = events
        .iter()
        .filter(|e| e.kind == EventKind::MessageEnd)
        .map(|e| e.line)
        .collect();
    assert_eq!(ends, vec![47, 159]);
    // The first delta "I'll che" is line 21.
    assert_eq!((events[0].line, events[0].text.as_str()), (21, "I'll che"));
    // Four top-level assistant lines repeat streamed messages; the subagent's 13 lines (49-61) are skipped.
    assert_eq!(counter(&p, "skipped_duplicate"), 4);
    assert_eq!(counter(&p, "skipped_subagent"), 13);
    assert_eq!(counter(&p, "lines"), 160);
    assert_eq!(counter(&p, "events"), events.len() as u64);
}

#[test]
fn full_session_speaks_whole_assistant_lines() {
    if !data::have_data() {
        return;
    }
    let exp = expected();
    let (events, p) = run(&sample("session.full.jsonl"), opts());
    let text = spoken(&events);
    assert_says_in_order(&text, &strings(&exp, "must_say_in_order"));
    assert_says_nothing_of(&text, &ingest_must_not_say());
    assert_clean(&p);
    let a = "msg_01d23f0824128b2f330c5c7f";
    let b = "msg_01d0eda82f8f6d05584ef8aa";
    let got: Vec<(EventKind, &str, u32, u64)> = events
        .iter()
        .map(|e| (e.kind, e.message_id.as_str(), e.block, e.line))
        .collect();
    assert_eq!(
        got,
        vec![
            // Block 0 is the thinking line; the text is block 1 of the same message.
            (EventKind::Text, a, 1, 3),
            (EventKind::BlockEnd, a, 1, 3),
            // Superseded by the user (tool result) line.
            (EventKind::MessageEnd, a, 0, 5),
            (EventKind::Text, b, 0, 7),
            (EventKind::BlockEnd, b, 0, 7),
            // Ended by the result line, whose text is not spoken again.
            (EventKind::MessageEnd, b, 0, 8),
        ]
    );
    assert_eq!(counter(&p, "skipped_subagent"), 1);
    assert_eq!(counter(&p, "skipped_duplicate"), 0);
}

#[test]
fn short_form_is_one_message_per_line() {
    if !data::have_data() {
        return;
    }
    let exp = expected();
    let (events, p) = run(&sample("session.short.jsonl"), opts());
    assert_says_in_order(&spoken(&events), &strings(&exp, "must_say_in_order")[1..]);
    assert_clean(&p);
    assert_eq!(
        kinds(&events),
        vec![
            (EventKind::BlockEnd, "short-1", 0),
            (EventKind::MessageEnd, "short-1", 0)
        ]
    );
    let twice = [sample("session.short.jsonl"), sample("session.short.jsonl")].concat();
    let (events, _) = run(&twice, opts());
    let ids: Vec<String> = messages(&events).into_iter().map(|(id, _)| id).collect();
    assert_eq!(ids, vec!["short-1", "short-2"]);
}

#[test]
fn byte_by_byte_equals_whole_file() {
    if !data::have_data() {
        return;
    }
    for name in [
        "session.partial.jsonl",
        "session.full.jsonl",
        "session.short.jsonl",
    ] {
        let data = sample(name);
        for o in [
            opts(),
            ParserOptions {
                speak_tools: true,
                speak_subagents: true,
                ..opts()
            },
        ] {
            let (whole, _) = run(&data, o.clone());
            let cuts: Vec<usize> = (1..data.len()).collect();
            let bytewise = run_chunks(&data, &cuts, o, JsonBackend::SimdJson);
            assert_eq!(whole, bytewise, "{name}");
        }
    }
}

/// Tiny xorshift PRNG: reproducible random cut points without a dependency.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn random_cuts(rng: &mut Rng, len: usize) -> Vec<usize> {
    let mut cuts: Vec<usize> = (0..rng.below(40) + 1).map(|_| rng.below(len + 1)).collect();
    cuts.sort_unstable();
    cuts
}

/// Every kind of line, good and bad, in one stream.
fn mixed_input() -> Vec<u8> {
    let mut data = sample("session.partial.jsonl");
    data.extend_from_slice(b"{\"type\":\"assistant\", broken\n");
    data.extend_from_slice(
        "{\"content\":[{\"type\":\"text\",\"text\":\"caf\u{e9} \u{1F3B5} \u{4E16}\u{754C}\"}]}\r\n"
            .as_bytes(),
    );
    data.extend_from_slice(b"{\"type\":\"rate_limit_event\",\"x\":1}\n");
    data.extend_from_slice(b"{\"content\":[{\"type\":\"text\",\"text\":\"bad \xff byte\"}]}\n");
    data.extend_from_slice(b"{\"type\":\"system\",\"x\":");
    data.extend_from_slice(&[b'['; 300]);
    data.extend_from_slice(&[b']'; 300]);
    data.extend_from_slice(b"}\n");
    data.extend_from_slice(&[b'x'; 5000]);
    data.extend_from_slice(b"\nplain text line\n\nafter blank\n");
    data.extend_from_slice(&sample("session.full.jsonl"));
    data.extend_from_slice(b"unterminated");
    data
}

#[test]
fn random_splits_give_the_same_events() {
    if !data::have_data() {
        return;
    }
    let data = mixed_input();
    let o = ParserOptions {
        max_line_bytes: 4096,
        speak_tools: true,
        ..opts()
    };
    let (whole, p) = run(&data, o.clone());
    let bad: Vec<u64> = [
        "too_long",
        "too_deep",
        "invalid_utf8",
        "unknown_type",
        "malformed_json",
    ]
    .iter()
    .map(|n| counter(&p, n))
    .collect();
    assert_eq!(bad, vec![1, 1, 1, 1, 1]);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..300 {
        let cuts = random_cuts(&mut rng, data.len());
        assert_eq!(
            whole,
            run_chunks(&data, &cuts, o.clone(), JsonBackend::SimdJson),
            "cuts {cuts:?}"
        );
    }
}

#[test]
fn chunks_split_inside_multibyte_characters() {
    let text = "caf\u{e9} \u{2014} \u{4E16}\u{754C} \u{1F3B5}!";
    let line = format!(
        "{{\"type\":\"stream_event\",\"event\":{{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"{text}\"}}}},\"parent_tool_use_id\":null}}\n"
    );
    let plain = format!("{text}\n");
    for (data, input) in [
        (line.as_bytes(), InputFormat::Auto),
        (plain.as_bytes(), InputFormat::Text),
    ] {
        let o = ParserOptions { input, ..opts() };
        let (whole, p) = run(data, o.clone());
        assert_clean(&p);
        assert!(whole[0].text.starts_with(text), "{whole:?}");
        let start = data.iter().position(|&b| b >= 0x80).expect("non-ASCII");
        for cut in start..data.len() {
            assert_eq!(
                whole,
                run_chunks(data, &[cut], o.clone(), JsonBackend::SimdJson),
                "cut {cut}"
            );
        }
    }
}

const VALID: &[u8] = b"{\"content\":[{\"type\":\"text\",\"text\":\"still here\"}]}\n";

/// A bad line, then a valid one: the bad one is counted and warned about, the valid one spoken.
fn check_bad_line(bad: &[u8], o: ParserOptions, counter_name: &str) {
    for backend in [JsonBackend::SimdJson, JsonBackend::SerdeJson] {
        let data = [bad, VALID, bad, VALID].concat();
        let mut p = Parser::with_backend(o.clone(), backend);
        let mut out = Vec::new();
        // In small chunks too, so over-long lines go through the discarding path.
        for chunk in data.chunks(7) {
            p.feed(chunk, &mut out);
        }
        p.finish(&mut out);
        assert_eq!(counter(&p, counter_name), 2, "{counter_name} {backend:?}");
        let texts: Vec<&str> = out
            .iter()
            .filter(|e| e.kind == EventKind::Text)
            .map(|e| e.text.as_str())
            .collect();
        assert_eq!(
            texts,
            vec!["still here", "still here"],
            "{counter_name} {backend:?}"
        );
        let warnings = p.take_warnings();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].starts_with("line 1: "), "{warnings:?}");
        assert!(p.take_warnings().is_empty());
        assert!(
            p.pending.capacity() <= o.max_line_bytes.max(64) * 2,
            "buffered {}",
            p.pending.capacity()
        );
    }
}

#[test]
fn malformed_json_is_counted_and_skipped() {
    check_bad_line(b"{\"type\":\"assistant\",\n", opts(), "malformed_json");
    check_bad_line(b"{\"a\":1} trailing\n", opts(), "malformed_json");
    let strict = ParserOptions {
        input: InputFormat::StreamJson,
        ..opts()
    };
    check_bad_line(b"not json at all\n", strict, "malformed_json");
}

#[test]
fn invalid_utf8_is_counted_and_skipped() {
    check_bad_line(
        b"{\"content\":[{\"type\":\"text\",\"text\":\"\xc3\x28\"}]}\n",
        opts(),
        "invalid_utf8",
    );
    check_bad_line(b"plain \xff text\n", opts(), "invalid_utf8");
}

#[test]
fn too_long_lines_are_dropped_without_buffering() {
    let o = ParserOptions {
        max_line_bytes: 100,
        ..opts()
    };
    let long = [vec![b'{'; 1], vec![b' '; 10_000], b"}\n".to_vec()].concat();
    check_bad_line(&long, o.clone(), "too_long");
    // The limit is on the line without its newline: exactly the limit is fine.
    let exact = [
        b"{\"content\":[{\"type\":\"text\",\"text\":\"still here\"}]}".to_vec(),
        vec![b' '; 100],
    ]
    .concat();
    let (events, p) = run(&[&exact[..100], b"\n"].concat(), o.clone());
    assert_eq!((counter(&p, "too_long"), events.len()), (0, 3));
    let (_, p) = run(&[&exact[..101], b"\n"].concat(), o);
    assert_eq!(counter(&p, "too_long"), 1);
}

#[test]
fn too_deep_nesting_is_counted_and_skipped() {
    let deep = |n: usize| {
        [
            b"{\"type\":\"system\",\"x\":".to_vec(),
            vec![b'['; n],
            vec![b']'; n],
            b"}\n".to_vec(),
        ]
        .concat()
    };
    check_bad_line(&deep(200), opts(), "too_deep");
    check_bad_line(
        &deep(20),
        ParserOptions {
            max_depth: 10,
            ..opts()
        },
        "too_deep",
    );
    // 127 arrays inside the object are 128 levels: allowed.
    let (_, p) = run(&deep(127), opts());
    assert_eq!(counter(&p, "too_deep"), 0);
}

#[test]
fn unknown_types_are_counted_quietly() {
    check_bad_line(
        b"{\"type\":\"rate_limit_event\",\"rate_limit_info\":{}}\n",
        opts(),
        "unknown_type",
    );
    check_bad_line(
        b"{\"type\":\"stream_event\",\"event\":{\"type\":\"brand_new\"},\"parent_tool_use_id\":null}\n",
        opts(),
        "unknown_type",
    );
    // System subtypes and new fields are part of the format: not unknown.
    let lines = b"{\"type\":\"system\",\"subtype\":\"hook_started\",\"new_field\":[1]}\n\
{\"type\":\"system\",\"subtype\":\"compact_boundary\"}\n\
{\"type\":\"system\",\"subtype\":\"api_retry\",\"attempt\":2}\n";
    let (events, mut p) = run(lines, opts());
    assert!(events.is_empty());
    assert_clean(&p);
    assert!(p.take_warnings().is_empty());
}

#[test]
fn speak_tools_names_each_tool_once() {
    if !data::have_data() {
        return;
    }
    let o = ParserOptions {
        speak_tools: true,
        ..opts()
    };
    for name in ["session.partial.jsonl", "session.full.jsonl"] {
        let (events, _) = run(&sample(name), o.clone());
        let tools: Vec<(&str, u32)> = events
            .iter()
            .filter(|e| e.kind == EventKind::Tool)
            .map(|e| (e.text.as_str(), e.block))
            .collect();
        assert_eq!(tools, vec![("Bash", 2)], "{name}");
        let (quiet, _) = run(&sample(name), opts());
        assert!(quiet.iter().all(|e| e.kind != EventKind::Tool));
    }
    // The same tool_use id in a later whole line is not announced again.
    let start = b"{\"type\":\"stream_event\",\"event\":{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"Read\",\"input\":{}}},\"parent_tool_use_id\":null}\n";
    let whole = b"{\"type\":\"assistant\",\"message\":{\"id\":\"msg_other\",\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"Read\",\"input\":{}}]},\"parent_tool_use_id\":null}\n";
    let (events, _) = run(&[&start[..], &whole[..]].concat(), o);
    assert_eq!(
        events.iter().filter(|e| e.kind == EventKind::Tool).count(),
        1
    );
}

#[test]
fn speak_subagents_adds_their_text() {
    if !data::have_data() {
        return;
    }
    let o = ParserOptions {
        speak_subagents: true,
        ..opts()
    };
    for (name, id) in [
        ("session.partial.jsonl", "msg_0166934036d17e44973d4882"),
        ("session.full.jsonl", "msg_010becd7b03898d190f9ebda"),
    ] {
        let (events, p) = run(&sample(name), o.clone());
        let msgs = messages(&events);
        let sub = msgs
            .iter()
            .find(|(m, _)| m == id)
            .unwrap_or_else(|| panic!("{name}: {msgs:?}"));
        assert_eq!(sub.1, "Subagent scratch notes that nobody should hear.");
        assert_eq!(counter(&p, "skipped_subagent"), 0);
        // The main agent's answer is still there, after the subagent's.
        assert_says_in_order(&spoken(&events), &strings(&expected(), "must_say_in_order"));
        let ends = events
            .iter()
            .filter(|e| e.kind == EventKind::MessageEnd && e.message_id == id)
            .count();
        assert_eq!(ends, 1, "{name}");
    }
}

#[test]
fn plain_text_lines_pass_through() {
    let data = b"Hello there.\n\nSecond paragraph\r\nlast";
    for input in [InputFormat::Auto, InputFormat::Text] {
        let (events, p) = run(data, ParserOptions { input, ..opts() });
        let got: Vec<(EventKind, &str, &str, u64)> = events
            .iter()
            .map(|e| (e.kind, e.message_id.as_str(), e.text.as_str(), e.line))
            .collect();
        assert_eq!(
            got,
            vec![
                (EventKind::Text, "text", "Hello there.\n", 1),
                (EventKind::Text, "text", "\n", 2),
                (EventKind::Text, "text", "Second paragraph\n", 3),
                (EventKind::Text, "text", "last\n", 4),
                (EventKind::BlockEnd, "text", "", 4),
                (EventKind::MessageEnd, "text", "", 4),
            ]
        );
        assert_eq!(counter(&p, "text_lines"), 4);
    }
    // --input text reads JSON-looking lines as text too.
    let (events, _) = run(
        b"{\"content\":[]}\n",
        ParserOptions {
            input: InputFormat::Text,
            ..opts()
        },
    );
    assert_eq!(events[0].text, "{\"content\":[]}\n");
    // Blank lines between JSON lines are not text.
    let (events, p) = run(&[VALID, b"\n  \n", VALID].concat(), opts());
    assert_eq!(events.len(), 6);
    assert_eq!(counter(&p, "blank_lines"), 2);
}

#[test]
fn finish_closes_a_cut_off_stream() {
    if !data::have_data() {
        return;
    }
    let data = sample("session.partial.jsonl");
    // Stop in the middle of line 24 (a text delta of block 1).
    let cut: usize = data
        .split_inclusive(|&b| b == b'\n')
        .take(23)
        .map(<[u8]>::len)
        .sum::<usize>()
        + 30;
    let (events, p) = run(&data[..cut], opts());
    assert_eq!(
        counter(&p, "malformed_json"),
        1,
        "the cut line is malformed"
    );
    let id = "msg_017731af10506bf2efc6f877";
    assert_eq!(
        kinds(&events),
        vec![(EventKind::BlockEnd, id, 1), (EventKind::MessageEnd, id, 0)]
    );
}

#[test]
fn serde_backend_gives_the_same_events() {
    if !data::have_data() {
        return;
    }
    let data = mixed_input();
    let o = ParserOptions {
        max_line_bytes: 4096,
        speak_tools: true,
        ..opts()
    };
    let simd = run_chunks(&data, &[], o.clone(), JsonBackend::SimdJson);
    let serde = run_chunks(&data, &[], o, JsonBackend::SerdeJson);
    assert_eq!(simd, serde);
}

#[test]
fn input_format_from_str() {
    assert_eq!("auto".parse::<InputFormat>().ok(), Some(InputFormat::Auto));
    assert_eq!(
        "stream-json".parse::<InputFormat>().ok(),
        Some(InputFormat::StreamJson)
    );
    assert_eq!("text".parse::<InputFormat>().ok(), Some(InputFormat::Text));
    let err = "json".parse::<InputFormat>().unwrap_err().to_string();
    assert!(err.contains("\"json\""), "{err}");
}

fn stream_line(event: &str, parent: Option<&str>) -> String {
    let parent = parent.map_or("null".to_owned(), |p| format!("\"{p}\""));
    format!("{{\"type\":\"stream_event\",\"event\":{event},\"parent_tool_use_id\":{parent}}}\n")
}

#[test]
fn interleaved_subagent_streams_keep_their_own_state() {
    let start =
        |id: &str| format!("{{\"type\":\"message_start\",\"message\":{{\"id\":\"{id}\"}}}}");
    let delta = |t: &str| {
        format!("{{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"{t}\"}}}}")
    };
    let stop = "{\"type\":\"message_stop\"}";
    let data = [
        stream_line(&start("main"), None),
        stream_line(&delta("Main one. "), None),
        stream_line(&start("sub"), Some("toolu_task")),
        stream_line(&delta("Sub one. "), Some("toolu_task")),
        stream_line(&delta("Main two."), None),
        stream_line(stop, Some("toolu_task")),
        stream_line(stop, None),
    ]
    .concat();
    let (events, _) = run(
        data.as_bytes(),
        ParserOptions {
            speak_subagents: true,
            ..opts()
        },
    );
    assert_eq!(
        messages(&events),
        vec![
            ("main".into(), "Main one. Main two.".into()),
            ("sub".into(), "Sub one. ".into())
        ]
    );
    let ends: Vec<(&str, u64)> = events
        .iter()
        .filter(|e| e.kind == EventKind::MessageEnd)
        .map(|e| (e.message_id.as_str(), e.line))
        .collect();
    assert_eq!(ends, vec![("sub", 6), ("main", 7)]);
    // Without speak_subagents the subagent's lines change nothing.
    let (quiet, p) = run(data.as_bytes(), opts());
    assert_eq!(
        messages(&quiet),
        vec![("main".into(), "Main one. Main two.".into())]
    );
    assert_eq!(counter(&p, "skipped_subagent"), 3);
}

#[test]
fn whole_messages_end_when_superseded_or_cut_off() {
    let line = |id: &str, text: &str| {
        format!("{{\"type\":\"assistant\",\"message\":{{\"id\":\"{id}\",\"content\":[{{\"type\":\"text\",\"text\":\"{text}\"}}]}},\"parent_tool_use_id\":null}}\n")
    };
    let data = [line("a", "One."), line("a", "Two."), line("b", "Three.")].concat();
    let (events, _) = run(data.as_bytes(), opts());
    let got: Vec<(EventKind, &str, u32, u64)> = events
        .iter()
        .map(|e| (e.kind, e.message_id.as_str(), e.block, e.line))
        .collect();
    assert_eq!(
        got,
        vec![
            (EventKind::Text, "a", 0, 1),
            (EventKind::BlockEnd, "a", 0, 1),
            (EventKind::Text, "a", 1, 2),
            (EventKind::BlockEnd, "a", 1, 2),
            (EventKind::MessageEnd, "a", 0, 3),
            (EventKind::Text, "b", 0, 3),
            (EventKind::BlockEnd, "b", 0, 3),
            // No result line: finish() ends it.
            (EventKind::MessageEnd, "b", 0, 3),
        ]
    );
}

#[test]
fn a_huge_line_does_not_pin_its_buffers() {
    let text = "x".repeat(3 << 20);
    let line = format!("{{\"content\":[{{\"type\":\"text\",\"text\":\"{text}\"}}]}}\n");
    let mut p = Parser::new(opts());
    let mut out = Vec::new();
    // Split in two so the line is assembled in `pending` as well.
    let (a, b) = line.as_bytes().split_at(line.len() / 2);
    p.feed(a, &mut out);
    p.feed(b, &mut out);
    p.feed(VALID, &mut out);
    assert_eq!(out[0].text.len(), text.len());
    assert_eq!(out.iter().filter(|e| e.kind == EventKind::Text).count(), 2);
    assert!(
        p.pending.capacity() < json::KEEP_BYTES,
        "pending kept {}",
        p.pending.capacity()
    );
    assert!(
        p.json.buf.capacity() < json::KEEP_BYTES,
        "line buffer kept {}",
        p.json.buf.capacity()
    );
}
