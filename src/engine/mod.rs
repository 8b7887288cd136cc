//! The engine: images run as supervised containers, without a daemon.
//!
//! Each container lives in `<image-root>/containers/<id>/`: `record.json`
//! (what was asked and what happened), `bundle/` (config.json and the
//! overlay rootfs, mounted while the container runs or waits to be
//! restarted, unmounted once it has stopped), `upper/` + `work/` (its
//! writable layer, kept across restarts until `rm`) and `container.log`.
//! A per-container supervisor process, forked at `run -d` / `start`, is
//! the parent of the container's init: it reaps it, logs its output and
//! applies the restart policy.

pub mod create;
pub mod ops;
pub mod record;
pub mod spec;

use std::path::{Path, PathBuf};

/// Where the engine keeps things; the runtime's state goes to `run_root`.
#[derive(Debug, Clone)]
pub struct Engine {
    pub image_root: PathBuf,
    pub run_root: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("{0}")]
    Msg(String),
    #[error("no such container: {0}")]
    NoSuch(String),
    #[error("{what} {path}: {err}")]
    Io {
        what: &'static str,
        path: PathBuf,
        err: std::io::Error,
    },
    #[error(transparent)]
    Runtime(#[from] crate::lifecycle::Error),
}

pub type Result<T> = std::result::Result<T, EngineError>;

impl Engine {
    pub fn containers(&self) -> PathBuf {
        self.image_root.join("containers")
    }
    pub fn dir(&self, id: &str) -> PathBuf {
        self.containers().join(id)
    }
    pub fn volumes(&self) -> PathBuf {
        self.image_root.join("volumes")
    }
    pub fn runtime(&self) -> crate::state::store::Store {
        crate::state::store::Store::new(&self.run_root)
    }
}

pub fn io(what: &'static str, path: &Path, err: std::io::Error) -> EngineError {
    EngineError::Io {
        what,
        path: path.to_path_buf(),
        err,
    }
}

/// A new 12-hex-digit container id.
pub fn new_id() -> String {
    let mut b = [0u8; 6];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut b);
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}
