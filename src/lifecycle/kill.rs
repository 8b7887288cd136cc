//! `kill`: signal the init, or with `--all` every process of the container.

use super::{Error, Result};
use crate::state::store::Store;
use crate::state::{Container, Status};
use std::os::fd::AsFd;

pub fn kill(store: &Store, id: &str, sig: i32, all: bool) -> Result<()> {
    let (dir, c) = super::load_live(store, id)?;
    let paused = dir.status(Some(&c)) == Status::Paused;
    // A frozen process only acts on a signal once thawed: a SIGKILL to a
    // paused container thaws it afterwards, as runc does.
    let thaw = !paused || sig == libc::SIGKILL;
    if all {
        // Freeze while signalling, so nothing forks past the list (runc's
        // signalAllProcesses); thaw unless the container was paused.
        let frozen = c.cgroup.set_frozen(true).is_ok();
        for pid in container_pids(&c) {
            let _ = signal_pid(pid, sig);
        }
        if frozen && thaw {
            let _ = c.cgroup.set_frozen(false);
        }
        return Ok(());
    }
    signal_init(&c, sig)?;
    if paused && thaw {
        c.cgroup.set_frozen(false)?;
    }
    Ok(())
}

/// Signals the init through a pidfd after re-checking its start time, so a
/// recycled pid is never hit.
pub fn signal_init(c: &Container, sig: i32) -> Result<()> {
    let no_such = || Error::State("container not running: no such process".into());
    let pidfd = crate::sys::misc::pidfd_open(c.pid).map_err(|_| no_such())?;
    if crate::state::status::liveness(c.pid, c.start_time) == crate::state::status::Liveness::Dead {
        return Err(no_such());
    }
    crate::sys::misc::pidfd_signal(pidfd.as_fd(), sig).map_err(|e| match e.raw_os_error() {
        Some(libc::ESRCH) => no_such(),
        _ => Error::io(
            format!("signal {} to pid {}", crate::signal::name(sig), c.pid),
            e,
        ),
    })
}

fn signal_pid(pid: i32, sig: i32) -> nix::Result<()> {
    let s = nix::sys::signal::Signal::try_from(sig).ok();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), s)
}

/// Every process in the container's pid namespace (found by comparing
/// /proc/PID/ns/pid with the init's), init last. Without a pid namespace of
/// its own: every process in its cgroup.
pub fn container_pids(c: &Container) -> Vec<i32> {
    if c.shared_pidns {
        let mut pids = c.cgroup.pids();
        if !pids.contains(&c.pid) {
            pids.push(c.pid);
        }
        return pids;
    }
    let Ok(ns) = std::fs::read_link(format!("/proc/{}/ns/pid", c.pid)) else {
        return vec![];
    };
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| *p != c.pid)
        .filter(|p| std::fs::read_link(format!("/proc/{p}/ns/pid")).is_ok_and(|l| l == ns))
        .collect();
    pids.push(c.pid);
    pids
}
