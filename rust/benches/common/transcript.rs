//! The benchmark input: session.partial.jsonl repeated, each copy with its own message and
//! tool ids, to about 10 MB, as one long Claude Code session with partial messages.

use std::io::Write;
use std::path::PathBuf;

#[allow(dead_code)] // the benches use where the data is, not the tests' skip
#[path = "../../tests/common/data.rs"]
mod data;

const TARGET_BYTES: usize = 10 * 1000 * 1000;

pub fn transcript() -> Vec<u8> {
    let mut path = data::data_dir().join("claude_code_samples/session.partial.jsonl");
    if !path.is_file() {
        // A clone without the conformance data: the bundled session has the same shapes, so the
        // benches still run (numbers measured on it are not comparable with the published ones).
        let bundled = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../python/stream_tts/samples/session.jsonl");
        let _ = writeln!(
            std::io::stderr(),
            "benchmark input {} not found; using the bundled {} instead",
            path.display(),
            bundled.display()
        );
        path = bundled;
    }
    let session = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("benchmark input {} is missing ({e})", path.display()));
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
