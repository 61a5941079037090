//! The benchmark input: session.partial.jsonl repeated, each copy with its own message and
//! tool ids, to about 10 MB, as one long Claude Code session with partial messages.

use std::path::PathBuf;

const TARGET_BYTES: usize = 10 * 1000 * 1000;

pub fn transcript() -> Vec<u8> {
    // STREAM_TTS_DATA overrides <repo>/../shared/data (to run the built bench elsewhere).
    let data = std::env::var_os("STREAM_TTS_DATA").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"),
        PathBuf::from,
    );
    let path = data.join("claude_code_samples/session.partial.jsonl");
    let session = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "benchmark input {} is missing ({e}); see <repo>/../shared/data/README.md",
            path.display()
        )
    });
    let mut out = String::with_capacity(TARGET_BYTES + session.len());
    let mut copy = 0;
    while out.len() < TARGET_BYTES {
        // Distinct message and tool ids per copy, as in one long session.
        out.push_str(
            &session
                .replace("\"msg_0", &format!("\"msg_{copy:05}_"))
                .replace("\"toolu_0", &format!("\"toolu_{copy:05}_")),
        );
        copy += 1;
    }
    out.into_bytes()
}
