//! Where the conformance data lives (CommonMark spec, golden rules, Claude Code samples), and
//! what a test does when it is absent. The data is never copied into the repository.

use std::io::Write;
use std::path::PathBuf;

/// `$STREAM_TTS_DATA`, else `../shared/data` beside the repository root.
pub fn data_dir() -> PathBuf {
    std::env::var_os("STREAM_TTS_DATA")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"))
}

/// Whether the data is here. When it is not, the calling test should return: this writes one
/// line saying it is skipped, or fails when `STREAM_TTS_REQUIRE_DATA` is set (CI sets it, so
/// the data-driven suites always run there).
pub fn have_data() -> bool {
    let dir = data_dir();
    if dir.is_dir() {
        return true;
    }
    let why = format!(
        "conformance data not found at {} (set STREAM_TTS_DATA to its folder; docs/testing.md)",
        dir.display()
    );
    if std::env::var_os("STREAM_TTS_REQUIRE_DATA").is_some_and(|v| !v.is_empty() && v != "0") {
        panic!("{why}, and STREAM_TTS_REQUIRE_DATA is set");
    }
    let test = std::thread::current().name().unwrap_or("a test").to_owned();
    // Straight to stderr: cargo test swallows the print macros of a passing test.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}");
    false
}
