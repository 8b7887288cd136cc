//! The runtime verbs, as orchestration over `spec`, `state` and `process`.

pub mod create;
pub mod delete;
pub mod exec;
pub mod kill;
pub mod pause;
pub mod query;
pub mod run;
pub mod start;
pub(crate) mod tty_relay;
pub mod update;

use crate::process::spawn::SpawnError;
use crate::spec::load::LoadError;
use crate::spec::plan::PlanError;
use crate::state::store::StoreError;

/// One error per failed verb, phrased the way runc phrases it where
/// clients (containerd's shim, conmon) match on the text.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    #[error(transparent)]
    Cgroup(#[from] crate::cgroups::CgroupError),
    #[error("{0}")]
    State(String),
    #[error("{what}: {err}")]
    Io { what: String, err: std::io::Error },
    #[error("{0}")]
    Usage(String),
}

impl Error {
    pub fn io(what: impl Into<String>, err: impl Into<std::io::Error>) -> Self {
        Error::Io {
            what: what.into(),
            err: err.into(),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Opens (locked) and loads a container that is not stopped; otherwise the
/// runc error clients match on: "container not running".
pub(crate) fn load_live(
    store: &crate::state::store::Store,
    id: &str,
) -> Result<(crate::state::store::ContainerDir, crate::state::Container)> {
    let dir = store.open(id)?;
    let not_running = || Error::State("container not running".into());
    let c = dir.load()?.ok_or_else(not_running)?;
    if dir.status(Some(&c)) == crate::state::Status::Stopped {
        return Err(not_running());
    }
    Ok((dir, c))
}
