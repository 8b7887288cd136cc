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
        let state = c.oci_state(Status::Running).to_json();
        // runtime-spec: a failing poststart hook is a warning, not an error.
        if let Err(e) = crate::hooks::run_all(&c.poststart, &state, "poststart") {
            crate::logging::warn(&e.to_string());
        }
    }
    Ok(())
}
