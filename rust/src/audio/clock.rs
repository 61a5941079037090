//! The one clock for every audio timestamp: the same clock as Python's `time.monotonic()`,
//! so times taken in the device callback compare directly with times taken in Python.

/// Seconds on the clock behind Python's `time.monotonic()` (CLOCK_MONOTONIC on Linux,
/// CLOCK_UPTIME_RAW on macOS). A vDSO call: no allocation, no lock, safe in the callback.
#[cfg(unix)]
pub fn monotonic() -> f64 {
    #[cfg(target_os = "macos")]
    const CLOCK: libc::clockid_t = libc::CLOCK_UPTIME_RAW;
    #[cfg(not(target_os = "macos"))]
    const CLOCK: libc::clockid_t = libc::CLOCK_MONOTONIC;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the clock id is a constant the OS supports.
    unsafe { libc::clock_gettime(CLOCK, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Elsewhere: seconds since the first call (not comparable with Python's clock).
#[cfg(not(unix))]
pub fn monotonic() -> f64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advances_with_sleep() {
        let a = monotonic();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let b = monotonic();
        assert!(b - a >= 0.019, "{a} -> {b}");
        assert!(b - a < 1.0, "{a} -> {b}");
    }
}
