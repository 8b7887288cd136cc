//! `delete`: stop what is left, run poststop hooks, remove the state.

use super::{Error, Result};
use crate::state::store::{ContainerDir, Store, StoreError};
use crate::state::{Container, Status};
use std::time::Duration;

pub fn delete(store: &Store, id: &str, force: bool) -> Result<()> {
    let dir = match store.open(id) {
        // runc: `delete --force` of a container that is already gone succeeds.
        Err(StoreError::NotExist(_)) if force => return Ok(()),
        r => r?,
    };
    let Some(c) = dir.load()? else {
        // No record: a create that died half-way (it held the lock we now
        // have). Kill what it may have left in its cgroup, remove both.
        if let Some(cg) = dir.load_cgroup() {
            for pid in cg.pids() {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            cg.destroy()?;
        }
        dir.remove()?;
        return Ok(());
    };
    match dir.status(Some(&c)) {
        Status::Stopped => {}
        Status::Created => stop(&c)?,
        _ if force => stop(&c)?,
        s => {
            return Err(Error::State(format!(
                "cannot delete container {id} that is not stopped: {s}"
            )))
        }
    }
    destroy(dir, &c)
}

/// SIGKILL every process of the container and wait until the init is gone.
fn stop(c: &Container) -> Result<()> {
    for pid in super::kill::container_pids(c) {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    wait_gone(c, Duration::from_secs(10))
}

/// Polls the init's pidfd until it exits (works for non-children).
pub fn wait_gone(c: &Container, timeout: Duration) -> Result<()> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let Ok(pidfd) = crate::sys::misc::pidfd_open(c.pid) else {
        return Ok(());
    };
    if crate::state::status::liveness(c.pid, c.start_time) == crate::state::status::Liveness::Dead {
        return Ok(());
    }
    let ms = PollTimeout::try_from(timeout.as_millis() as i32).unwrap_or(PollTimeout::MAX);
    let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, ms) {
        Ok(0) => Err(Error::State(format!(
            "container {}: init pid {} did not exit after SIGKILL",
            c.id, c.pid
        ))),
        _ => Ok(()),
    }
}

/// Poststop hooks (failures are warnings, per the runtime spec), then the
/// state directory goes.
pub fn destroy(dir: ContainerDir, c: &Container) -> Result<()> {
    if c.cgroup.is_frozen() {
        let _ = c.cgroup.set_frozen(false);
    }
    for pid in c.cgroup.pids() {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    c.cgroup.destroy()?;
    if !c.poststop.is_empty() {
        let state = c.oci_state(Status::Stopped).to_json();
        if let Err(e) = crate::hooks::run_all(&c.poststop, &state, "poststop") {
            crate::logging::warn(&e.to_string());
        }
    }
    dir.remove()?;
    Ok(())
}
