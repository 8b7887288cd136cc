//! `start`: release the waiting init through exec.fifo, then poststart.

use super::{Error, Result};
use crate::state::store::{ContainerDir, Store};
use crate::state::{Container, Status};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

pub fn start(store: &Store, id: &str) -> Result<()> {
    let dir = store.open(id)?;
    let c = dir.load()?.ok_or_else(|| {
        Error::State(format!(
            "cannot start container {id}: it is still being created"
        ))
    })?;
    start_locked(&dir, &c)
}

pub fn start_locked(dir: &ContainerDir, c: &Container) -> Result<()> {
    match dir.status(Some(c)) {
        Status::Created => {}
        Status::Stopped => {
            return Err(Error::State(
                "cannot start a container that has stopped".into(),
            ))
        }
        Status::Running | Status::Paused => {
            return Err(Error::State(
                "cannot start an already running container".into(),
            ))
        }
        Status::Creating => {
            return Err(Error::State(
                "cannot start a container that is still being created".into(),
            ))
        }
    }
    let fifo = dir.fifo_path();
    let fd = match nix::fcntl::open(
        &fifo,
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => crate::sys::fs::own(fd),
        // No reader: the init died after create.
        Err(nix::errno::Errno::ENXIO) => {
            return Err(Error::State(
                "cannot start a container that has stopped".into(),
            ))
        }
        Err(e) => return Err(Error::io("open exec fifo", e)),
    };
    nix::unistd::write(&fd, &[0u8]).map_err(|e| Error::io("write exec fifo", e))?;
    drop(fd);
    std::fs::remove_file(&fifo).map_err(|e| Error::io("remove exec fifo", e))?;
    if !c.poststart.is_empty() {
        // poststart runs after the user's program started: wait for the
        // init's execve (startContainer hooks run before it).
        wait_for_exec(c);
        let state = c.oci_state(Status::Running).to_json();
        // runtime-spec: a failing poststart hook is a warning, not an error.
        if let Err(e) = crate::hooks::run_all(&c.poststart, &state, "poststart") {
            crate::logging::warn(&e.to_string());
        }
    }
    Ok(())
}

/// Waits until the init no longer runs the berth binary (it exec'd the
/// user's program) or is gone.
fn wait_for_exec(c: &Container) {
    use std::os::unix::fs::MetadataExt;
    let Ok(me) = std::fs::metadata("/proc/self/exe") else {
        return;
    };
    let exe = format!("/proc/{}/exe", c.pid);
    loop {
        match std::fs::metadata(&exe) {
            Ok(m) if m.dev() == me.dev() && m.ino() == me.ino() => {}
            _ => return,
        }
        if crate::state::status::liveness(c.pid, c.start_time)
            == crate::state::status::Liveness::Dead
        {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
}
