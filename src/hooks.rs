//! Running OCI hooks: the state JSON on stdin, `timeout` enforced.

use oci_spec::runtime::Hook;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{phase} hook {path}: {err}")]
    Spawn {
        phase: &'static str,
        path: String,
        err: std::io::Error,
    },
    #[error("{phase} hook {path}: {status}")]
    Failed {
        phase: &'static str,
        path: String,
        status: std::process::ExitStatus,
    },
    #[error("{phase} hook {path}: timed out after {secs}s")]
    Timeout {
        phase: &'static str,
        path: String,
        secs: i64,
    },
}

/// Runs `hooks` in order; the first failure stops the rest.
pub fn run_all(hooks: &[Hook], state: &str, phase: &'static str) -> Result<(), HookError> {
    hooks.iter().try_for_each(|h| run_one(h, state, phase))
}

fn run_one(h: &Hook, state: &str, phase: &'static str) -> Result<(), HookError> {
    let path = h.path().display().to_string();
    let spawn_err = |err| HookError::Spawn {
        phase,
        path: path.clone(),
        err,
    };
    let mut cmd = Command::new(h.path());
    if let Some(args) = h.args().as_ref().filter(|a| !a.is_empty()) {
        cmd.arg0(&args[0]).args(&args[1..]);
    }
    cmd.env_clear();
    for kv in h.env().iter().flatten() {
        let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
        cmd.env(k, v);
    }
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().map_err(spawn_err)?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is fine (EPIPE is ignored).
        let _ = stdin.write_all(state.as_bytes());
    }
    let status = match h.timeout() {
        Some(secs) if secs > 0 => wait_timeout(&mut child, secs).map_err(spawn_err)?,
        _ => Some(child.wait().map_err(spawn_err)?),
    };
    match status {
        None => {
            let _ = child.kill();
            let _ = child.wait();
            Err(HookError::Timeout {
                phase,
                path,
                secs: h.timeout().unwrap_or(0),
            })
        }
        Some(s) if s.success() => Ok(()),
        Some(status) => Err(HookError::Failed {
            phase,
            path,
            status,
        }),
    }
}

/// Waits for `child` at most `secs` seconds: poll(2) on a pidfd, no threads.
fn wait_timeout(
    child: &mut std::process::Child,
    secs: i64,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let pidfd = crate::sys::misc::pidfd_open(child.id() as i32)?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs as u64);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        let ms =
            PollTimeout::try_from(left.as_millis().min(60_000) as i32).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, ms) {
            Ok(0) | Err(nix::errno::Errno::EINTR) => continue,
            Ok(_) => return child.wait().map(Some),
            Err(e) => return Err(e.into()),
        }
    }
}
