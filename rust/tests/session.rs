//! The real session sample: the assistant's last answer, shaped as it streams, must say the
//! expected phrases in order and none of the forbidden strings.

mod common;

use stream_tts_core::ShaperOptions;

/// Lower case, letters and digits only, single spaces (the rule in expected.json's note).
fn normalize(text: &str) -> String {
    common::words(text).join(" ")
}

fn answer_text() -> String {
    let raw = common::read_data("claude_code_samples/session.short.jsonl");
    let mut text = String::new();
    for line in raw.lines().filter(|l| !l.trim().is_empty()) {
        let v: serde_json::Value = serde_json::from_str(line).expect("session.short.jsonl line");
        for block in v["content"].as_array().expect("content array") {
            if block["type"] == "text" {
                text.push_str(block["text"].as_str().expect("text field"));
            }
        }
    }
    assert!(!text.is_empty(), "no text blocks in session.short.jsonl");
    text
}

#[test]
fn session_short_says_expected_phrases() {
    if !common::have_data() {
        return;
    }
    let expected = common::read_json("claude_code_samples/expected.json");
    let must_say: Vec<&str> = expected["must_say_in_order"]
        .as_array()
        .expect("must_say_in_order")
        .iter()
        .skip(1) // the first phrase belongs to an earlier message, not in the short sample
        .map(|p| p.as_str().expect("phrase"))
        .collect();
    let must_not: Vec<String> = expected["must_not_say"]
        .as_array()
        .expect("must_not_say")
        .iter()
        .map(|p| p.as_str().expect("string").to_lowercase())
        .collect();
    let text = answer_text();
    for opts in [
        ShaperOptions::default(),
        ShaperOptions {
            early_fragment: true,
            min_fragment_words: 6,
        },
    ] {
        for (name, chunks) in [
            ("whole", vec![text.as_str()]),
            ("deltas", common::random_split(&text, 7, 24)),
        ] {
            let pieces = common::shape(&opts, chunks);
            let spoken: Vec<&str> = pieces.iter().map(|p| p.text.as_str()).collect();
            let joined = spoken.join(" ");
            let norm = normalize(&joined);
            let mut at = 0;
            for phrase in &must_say {
                match norm[at..].find(phrase) {
                    Some(p) => at += p + phrase.len(),
                    None => panic!("{name}: {phrase:?} not said in order; spoken: {spoken:#?}"),
                }
            }
            let lower = joined.to_lowercase();
            for bad in &must_not {
                assert!(
                    !lower.contains(bad.as_str()),
                    "{name}: said {bad:?}: {spoken:#?}"
                );
            }
        }
    }
}
