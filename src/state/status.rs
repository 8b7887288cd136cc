//! Container status, derived from facts (pure, table-tested).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        };
        f.write_str(s)
    }
}

/// What the kernel says about the recorded init process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// The pid exists, with the recorded start time, and is not a zombie.
    Alive,
    /// Gone, a zombie, or the pid now belongs to another process.
    Dead,
}

/// Facts -> status. `fifo_present`: exec.fifo still exists, so `start` has
/// not happened yet. `frozen`: the cgroup freezer says frozen.
pub fn derive(recorded: bool, live: Liveness, fifo_present: bool, frozen: bool) -> Status {
    match (recorded, live) {
        (false, _) => Status::Creating,
        (true, Liveness::Dead) => Status::Stopped,
        (true, Liveness::Alive) if frozen => Status::Paused,
        (true, Liveness::Alive) if fifo_present => Status::Created,
        (true, Liveness::Alive) => Status::Running,
    }
}

/// Parses /proc/PID/stat: (state char, start time). The comm field may hold
/// spaces and parentheses, so split after the last ')'.
pub fn parse_proc_stat(stat: &str) -> Option<(char, u64)> {
    let rest = &stat[stat.rfind(')')? + 2..];
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    // Field 3 is `state`; start time is field 22, i.e. 19 further.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// Reads /proc/PID/stat and compares it with the recorded start time.
pub fn liveness(pid: i32, start_time: u64) -> Liveness {
    if pid <= 0 {
        return Liveness::Dead;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .as_deref()
        .and_then(parse_proc_stat)
    {
        Some((state, start)) if start == start_time && state != 'Z' && state != 'X' => {
            Liveness::Alive
        }
        _ => Liveness::Dead,
    }
}

/// The recorded start time of a live pid (0 if it cannot be read).
pub fn start_time(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .as_deref()
        .and_then(parse_proc_stat)
        .map_or(0, |(_, s)| s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Liveness::*;

    #[test]
    fn status_table() {
        let cases = [
            ((false, Alive, true, false), Status::Creating),
            ((true, Alive, true, false), Status::Created),
            ((true, Alive, false, false), Status::Running),
            ((true, Alive, false, true), Status::Paused),
            ((true, Dead, true, false), Status::Stopped),
            ((true, Dead, false, true), Status::Stopped),
        ];
        for ((rec, live, fifo, frozen), want) in cases {
            assert_eq!(
                derive(rec, live, fifo, frozen),
                want,
                "{rec} {live:?} {fifo} {frozen}"
            );
        }
    }

    #[test]
    fn proc_stat_with_odd_comm() {
        let line =
            "4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(parse_proc_stat(line), Some(('S', 987654)));
        assert_eq!(parse_proc_stat("garbage"), None);
    }

    #[test]
    fn our_own_process_is_alive_and_a_wrong_start_time_is_not() {
        let pid = std::process::id() as i32;
        let st = start_time(pid);
        assert!(st > 0);
        assert_eq!(liveness(pid, st), Alive);
        assert_eq!(liveness(pid, st + 1), Dead);
        assert_eq!(liveness(0, 0), Dead);
    }
}
