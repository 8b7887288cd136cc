//! `pause`, `resume` (cgroup freezer) and `ps`.

use super::{Error, Result};
use crate::state::store::Store;
use crate::state::Status;

pub fn pause(store: &Store, id: &str) -> Result<()> {
    let dir = store.open(id)?;
    let c = dir
        .load()?
        .ok_or_else(|| Error::State("container not running".into()))?;
    match dir.status(Some(&c)) {
        Status::Running | Status::Created => Ok(c.cgroup.set_frozen(true)?),
        Status::Paused => Err(Error::State("container already paused".into())),
        _ => Err(Error::State("container not running".into())),
    }
}

pub fn resume(store: &Store, id: &str) -> Result<()> {
    let dir = store.open(id)?;
    let c = dir
        .load()?
        .ok_or_else(|| Error::State("container not paused".into()))?;
    match dir.status(Some(&c)) {
        Status::Paused => Ok(c.cgroup.set_frozen(false)?),
        _ => Err(Error::State("container not paused".into())),
    }
}

/// Host pids of the container's processes.
pub fn pids(store: &Store, id: &str) -> Result<Vec<i32>> {
    let c = store
        .peek(id)?
        .ok_or_else(|| Error::State("container not running".into()))?;
    let mut pids = c.cgroup.pids();
    if pids.is_empty() {
        pids = super::kill::container_pids(&c);
        pids.retain(|p| std::path::Path::new(&format!("/proc/{p}")).exists());
    }
    pids.sort_unstable();
    Ok(pids)
}
