//! The runtime verbs, as orchestration over `spec`, `state` and `process`.

pub mod create;
pub mod delete;
pub mod exec;
pub mod kill;
pub mod pause;
pub mod query;
pub mod run;
pub mod start;
mod tty_relay;
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
