//! Lifecycle operations on engine containers: start, stop, kill, rm, and
//! the status line `ls` shows.

use super::record::{human, now_epoch, Phase, Record};
use super::{Engine, EngineError, Result};
use crate::state::status::{liveness, Liveness};
use std::time::{Duration, Instant};

/// Is the recorded supervisor still the same live process?
pub fn supervisor_alive(r: &Record) -> bool {
    r.state
        .supervisor
        .is_some_and(|(pid, st)| liveness(pid, st) == Liveness::Alive)
}

/// Is the container's init running (per the runtime's state)?
pub fn init_alive(e: &Engine, r: &Record) -> bool {
    crate::lifecycle::query::state(&e.runtime(), &r.id)
        .map(|s| {
            matches!(
                s.status,
                crate::state::Status::Running
                    | crate::state::Status::Paused
                    | crate::state::Status::Created
            )
        })
        .unwrap_or(false)
}

/// `Up 5 minutes`, `Exited (1) 3 seconds ago`, `Restarting (1) ...`:
/// from the record and what the kernel says now, so a killed supervisor
/// shows as it is.
pub fn status_line(e: &Engine, r: &Record) -> String {
    let now = now_epoch();
    let up = || human(now.saturating_sub(r.state.started_epoch.unwrap_or(now)));
    let ago = || human(now.saturating_sub(r.state.finished_epoch.unwrap_or(now)));
    let code = r.state.exit_code.map_or("?".to_string(), |c| c.to_string());
    match (init_alive(e, r), supervisor_alive(r), r.state.phase) {
        (true, true, _) => format!("Up {}", up()),
        (true, false, _) => format!("Up {} (no supervisor)", up()),
        (false, true, Phase::Restarting) => format!("Restarting ({code}) {} ago", ago()),
        (false, _, Phase::Created) => "Created".into(),
        (false, _, Phase::Exited) => format!("Exited ({code}) {} ago", ago()),
        (false, true, _) => "Starting".into(),
        (false, false, _) => "Exited (unknown: supervisor gone)".into(),
    }
}

/// Unmounts the rootfs of a container that has stopped; one whose init a
/// failure left running keeps it until `rm`.
pub fn release_stopped_rootfs(e: &Engine, r: &Record) -> Result<()> {
    if init_alive(e, r) {
        return Ok(());
    }
    super::create::release_rootfs(e, &r.id)
}

pub fn is_running(e: &Engine, r: &Record) -> bool {
    init_alive(e, r) || (supervisor_alive(r) && r.state.phase == Phase::Restarting)
}

/// Starts a created or exited container under a new supervisor.
pub fn start(e: &Engine, key: &str) -> Result<Record> {
    let r = start_foreground(e, key)?;
    crate::supervisor::monitor::spawn(e, &r.id)?;
    e.load(&r.id)
}

/// Stop signal, then SIGKILL after `timeout`; the policy will not restart it.
pub fn stop(e: &Engine, key: &str, timeout: Option<u64>) -> Result<Record> {
    let r = e.find(key)?;
    e.update(&r.id, |r| r.state.manually_stopped = true)?;
    let rt = e.runtime();
    let t = Duration::from_secs(timeout.unwrap_or(r.stop_timeout));
    if init_alive(e, &r) {
        let sig = crate::signal::parse(&r.stop_signal).unwrap_or(libc::SIGTERM);
        let _ = crate::lifecycle::kill::kill(&rt, &r.id, sig, false);
        if !wait(t, || !init_alive(e, &r)) {
            let _ = crate::lifecycle::kill::kill(&rt, &r.id, libc::SIGKILL, true);
            wait(Duration::from_secs(10), || !init_alive(e, &r));
        }
    }
    // The supervisor records the exit and returns; without one, do it here.
    if !wait(Duration::from_secs(10), || {
        !supervisor_alive(&e.load(&r.id).unwrap_or(r.clone()))
    }) {
        kill_supervisor(&r);
    }
    let _ = crate::lifecycle::delete::delete(&rt, &r.id, true);
    // Normally the supervisor has unmounted the rootfs; not if it was gone.
    e.update(&r.id, |x| {
        if x.state.phase != Phase::Exited {
            x.state.phase = Phase::Exited;
            x.state.finished_epoch = Some(now_epoch());
        }
        x.state.supervisor = None;
        super::create::release_rootfs(e, &x.id)
    })??;
    e.load(&r.id)
}

fn kill_supervisor(r: &Record) {
    if let Some((pid, st)) = r.state.supervisor {
        if liveness(pid, st) == Liveness::Alive {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

fn wait(t: Duration, mut done: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + t;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `container kill`: a signal to the init; counts as a manual stop.
pub fn kill(e: &Engine, key: &str, sig: i32) -> Result<()> {
    let r = e.find(key)?;
    if !init_alive(e, &r) {
        return Err(EngineError::Msg(format!(
            "container {} is not running",
            r.name
        )));
    }
    e.update(&r.id, |r| r.state.manually_stopped = true)?;
    crate::lifecycle::kill::kill(&e.runtime(), &r.id, sig, false)?;
    Ok(())
}

/// `container rm [-f]`: its OCI container, supervisor, rootfs, writable
/// layer and record.
pub fn rm(e: &Engine, key: &str, force: bool) -> Result<()> {
    let r = e.find(key)?;
    if is_running(e, &r) {
        if !force {
            return Err(EngineError::Msg(format!(
                "cannot remove running container {}: stop it first or use rm -f",
                r.name
            )));
        }
        stop(e, &r.id, Some(0))?;
    }
    kill_supervisor(&e.load(&r.id).unwrap_or(r.clone()));
    let _ = crate::lifecycle::delete::delete(&e.runtime(), &r.id, true);
    remove_files(e, &r.id)
}

/// Unmounts the rootfs (mounted or not: a supervisor killed before it
/// could unmount leaves it mounted) and removes the container's dir.
pub fn remove_files(e: &Engine, id: &str) -> Result<()> {
    super::create::release_rootfs(e, id)?;
    let dir = e.dir(id);
    std::fs::remove_dir_all(&dir).map_err(|err| super::io("remove", &dir, err))
}

/// Brings back every container whose policy says so (for boot).
pub fn start_restartable(e: &Engine) -> Vec<(String, Result<Record>)> {
    use crate::supervisor::policy::Policy;
    e.list()
        .into_iter()
        .filter(|r| match r.policy {
            Policy::Always => true,
            Policy::UnlessStopped => !r.state.manually_stopped,
            // Only a failure that still has retries left.
            Policy::OnFailure { max_retries } => {
                !r.state.manually_stopped
                    && r.state.exit_code != Some(0)
                    && max_retries.is_none_or(|m| r.state.restarts < m)
            }
            Policy::No => false,
        })
        .filter(|r| !supervisor_alive(r) && !init_alive(e, r))
        .map(|r| (r.name.clone(), start(e, &r.id)))
        .collect()
}

/// `container run` without `-d`: berth itself is the parent of the init
/// (stdio passed through, signals forwarded, the container's exit code).
pub fn run_foreground(e: &Engine, r: &Record, interactive: bool) -> Result<i32> {
    let me = nix::unistd::getpid().as_raw();
    e.update(&r.id, |x| {
        x.state.phase = Phase::Running;
        x.state.started_at = Some(crate::timefmt::now_rfc3339());
        x.state.started_epoch = Some(now_epoch());
        x.state.supervisor = Some((me, crate::state::status::start_time(me)));
    })?;
    if !interactive && !r.tty {
        if let Ok(null) = std::fs::File::open("/dev/null") {
            let _ = nix::unistd::dup2(std::os::fd::AsRawFd::as_raw_fd(&null), 0);
        }
    }
    let opts = crate::lifecycle::run::RunOpts {
        create: crate::lifecycle::create::CreateOpts {
            id: r.id.clone(),
            bundle: e.dir(&r.id).join("bundle"),
            ..Default::default()
        },
        detach: false,
        keep: false,
    };
    let res = crate::lifecycle::run::run(&e.runtime(), &opts);
    let code = res.as_ref().map_or(None, |c| Some(*c));
    // Stopped: unmount the rootfs, as the supervisor does (`start` mounts
    // it again), unless a failure left the init running.
    let unmounted = e.update(&r.id, |x| {
        x.state.phase = Phase::Exited;
        x.state.exit_code = code.or(Some(125));
        x.state.finished_epoch = Some(now_epoch());
        x.state.finished_at = Some(crate::timefmt::now_rfc3339());
        x.state.supervisor = None;
        release_stopped_rootfs(e, x)
    });
    if r.auto_remove {
        let _ = remove_files(e, &r.id);
    } else if let Ok(Err(err)) = unmounted {
        // The exit code stays the container's; `rm` unmounts it later.
        eprintln!("berth: {err}");
    }
    Ok(res?)
}

/// `container supervise NAME`: the checks of `start`, for a supervisor
/// that runs in the foreground (under systemd).
pub fn start_foreground(e: &Engine, key: &str) -> Result<Record> {
    let r = e.find(key)?;
    if supervisor_alive(&r) || init_alive(e, &r) {
        return Err(EngineError::Msg(format!(
            "container {} is already running",
            r.name
        )));
    }
    e.update(&r.id, |r| r.state.manually_stopped = false)?;
    e.load(&r.id)
}
