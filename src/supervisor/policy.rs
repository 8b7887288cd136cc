//! Restart policies and the restart decision, in the shape of moby's
//! restartmanager: a pure function of what happened, table-tested.

use std::time::Duration;

/// `--restart no|on-failure[:N]|always|unless-stopped`
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", tag = "name")]
pub enum Policy {
    No,
    OnFailure { max_retries: Option<u32> },
    Always,
    UnlessStopped,
}

impl std::str::FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            None if s == "no" || s.is_empty() => Ok(Policy::No),
            None if s == "always" => Ok(Policy::Always),
            None if s == "unless-stopped" => Ok(Policy::UnlessStopped),
            None if s == "on-failure" => Ok(Policy::OnFailure { max_retries: None }),
            Some(("on-failure", n)) => n
                .parse()
                .map(|n| Policy::OnFailure {
                    max_retries: Some(n),
                })
                .map_err(|_| format!("invalid restart policy {s:?}: retry count must be a number")),
            _ => Err(format!(
                "invalid restart policy {s:?} (no, on-failure[:N], always, unless-stopped)"
            )),
        }
    }
}

pub const BACKOFF_START: Duration = Duration::from_millis(100);
pub const BACKOFF_CAP: Duration = Duration::from_secs(60);
/// A run at least this long resets the backoff (and counts as healthy).
pub const RESET_AFTER: Duration = Duration::from_secs(10);

/// What happened to the container's last run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub exit_code: i32,
    pub ran_for: Duration,
    /// `stop`/`kill`/`rm` by the user: never restart after that.
    pub manually_stopped: bool,
    /// Restarts so far (for on-failure:N).
    pub restarts: u32,
    /// The delay used before the previous restart.
    pub last_backoff: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Restart { after: Duration },
    Stop,
}

/// Whether and when to restart. Backoff doubles from 100 ms up to a cap of
/// one minute and starts over after a run of 10 s or more.
pub fn decide(policy: Policy, o: Outcome) -> Decision {
    if o.manually_stopped {
        return Decision::Stop;
    }
    let wanted = match policy {
        Policy::No => false,
        Policy::Always | Policy::UnlessStopped => true,
        Policy::OnFailure { max_retries } => {
            o.exit_code != 0 && max_retries.is_none_or(|m| o.restarts < m)
        }
    };
    if !wanted {
        return Decision::Stop;
    }
    let after = if o.ran_for >= RESET_AFTER || o.last_backoff.is_zero() {
        BACKOFF_START
    } else {
        (o.last_backoff * 2).min(BACKOFF_CAP)
    };
    Decision::Restart { after }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn o(exit_code: i32, ran_ms: u64, manual: bool, restarts: u32, last_ms: u64) -> Outcome {
        Outcome {
            exit_code,
            ran_for: Duration::from_millis(ran_ms),
            manually_stopped: manual,
            restarts,
            last_backoff: Duration::from_millis(last_ms),
        }
    }

    fn restart(ms: u64) -> Decision {
        Decision::Restart {
            after: Duration::from_millis(ms),
        }
    }

    #[test]
    fn decision_table() {
        let on3 = Policy::OnFailure {
            max_retries: Some(3),
        };
        let cases = [
            (Policy::No, o(1, 50, false, 0, 0), Decision::Stop),
            (Policy::Always, o(0, 50, false, 0, 0), restart(100)),
            (Policy::Always, o(0, 50, false, 1, 100), restart(200)),
            (Policy::Always, o(0, 50, false, 9, 40_000), restart(60_000)),
            (Policy::Always, o(0, 50, false, 9, 60_000), restart(60_000)),
            (Policy::Always, o(0, 10_000, false, 9, 60_000), restart(100)),
            (Policy::Always, o(1, 50, true, 0, 0), Decision::Stop),
            (Policy::UnlessStopped, o(0, 50, false, 0, 0), restart(100)),
            (Policy::UnlessStopped, o(0, 50, true, 0, 0), Decision::Stop),
            (on3, o(0, 50, false, 0, 0), Decision::Stop),
            (on3, o(1, 50, false, 0, 0), restart(100)),
            (on3, o(1, 50, false, 2, 200), restart(400)),
            (on3, o(1, 50, false, 3, 400), Decision::Stop),
            (
                Policy::OnFailure { max_retries: None },
                o(137, 50, false, 99, 800),
                restart(1600),
            ),
        ];
        for (p, out, want) in cases {
            assert_eq!(decide(p, out), want, "{p:?} {out:?}");
        }
    }

    #[test]
    fn parsing() {
        assert_eq!("no".parse(), Ok(Policy::No));
        assert_eq!("always".parse(), Ok(Policy::Always));
        assert_eq!("unless-stopped".parse(), Ok(Policy::UnlessStopped));
        assert_eq!(
            "on-failure".parse(),
            Ok(Policy::OnFailure { max_retries: None })
        );
        assert_eq!(
            "on-failure:3".parse(),
            Ok(Policy::OnFailure {
                max_retries: Some(3)
            })
        );
        assert!("on-failure:x".parse::<Policy>().is_err());
        assert!("sometimes".parse::<Policy>().is_err());
    }
}
