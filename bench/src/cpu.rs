//! CPU time of a process from `/proc/<pid>/stat`, to say how busy the server and the load generator were.
//!
//! Used to give each cache and claims measurement its `server_cpu_pct` and `driver_cpu_pct` (100 = one core
//! busy for the whole window), so a reader can tell a saturated server from a starved load generator on this
//! 2-core machine. Linux only; anywhere else the figures are simply absent. It is a sample, not a profiler.

use std::time::Instant;

/// Clock ticks per second of `/proc/<pid>/stat` (USER_HZ, 100 on every Linux this runs on).
const TICKS_PER_SEC: f64 = 100.0;

/// User plus system CPU seconds used so far by `pid` (this process when `None`), with its threads.
pub fn cpu_secs(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(pid) => format!("/proc/{pid}/stat"),
        None => "/proc/self/stat".to_owned(),
    };
    parse_stat(&std::fs::read_to_string(path).ok()?)
}

/// utime + stime (fields 14 and 15) of a stat line; the command name in parentheses may hold spaces.
fn parse_stat(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name, field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) as f64 / TICKS_PER_SEC)
}

/// A CPU reading of one process at one moment.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    at: Instant,
    secs: Option<f64>,
}

impl Sample {
    pub fn take(pid: Option<u32>) -> Self {
        Self { at: Instant::now(), secs: cpu_secs(pid) }
    }

    /// Percent of one core used between `self` and `later`.
    pub fn pct_until(&self, later: &Sample) -> Option<f64> {
        let wall = later.at.duration_since(self.at).as_secs_f64();
        let used = later.secs? - self.secs?;
        (wall > 0.0).then(|| 100.0 * used / wall)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utime_and_stime_are_read_after_the_name() {
        let line = "1234 (tokio (runtime) w) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0";
        assert_eq!(parse_stat(line), Some(3.0));
    }

    #[test]
    fn this_process_has_a_reading() {
        assert!(cpu_secs(None).is_some());
    }
}
