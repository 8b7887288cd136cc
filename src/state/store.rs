//! The state store: `<root>/<id>/state.json`, one directory per container,
//! written by atomic rename and guarded by flock on the directory, so two
//! berth processes on one root never see or write a torn record.

use super::status::{derive, liveness, Status};
use super::Container;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";
pub const CGROUP_FILE: &str = "cgroup.json";
/// A copy of the bundle's config.json, for `exec`.
pub const CONFIG_FILE: &str = "config.json";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("invalid container id format: {0:?} (allowed: letters, digits, '_', '+', '-', '.'; not '.' or '..')")]
    BadId(String),
    #[error("container with id exists: {0}")]
    Exists(String),
    #[error("container does not exist: {0}")]
    NotExist(String),
    #[error("state root {path}: {err}")]
    Root { path: PathBuf, err: std::io::Error },
    #[error("container {id}: {what} {path}: {err}")]
    Io {
        id: String,
        what: &'static str,
        path: PathBuf,
        err: std::io::Error,
    },
    #[error("container {id}: malformed {path}: {err}")]
    Corrupt {
        id: String,
        path: PathBuf,
        err: serde_json::Error,
    },
}

/// runc's rule: `^[\w+\-.]+$`, and not `.` or `..`.
pub fn validate_id(id: &str) -> Result<(), StoreError> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadId(id.into()))
    }
}

pub struct Store {
    root: PathBuf,
}

/// A container's directory, locked for as long as this value lives.
pub struct ContainerDir {
    pub id: String,
    pub path: PathBuf,
    _lock: nix::fcntl::Flock<File>,
}

impl Store {
    pub fn new(root: &Path) -> Self {
        Store {
            root: root.to_path_buf(),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn lock(&self, id: &str, path: PathBuf) -> Result<ContainerDir, StoreError> {
        let f = File::open(&path).map_err(|err| match err.kind() {
            std::io::ErrorKind::NotFound => StoreError::NotExist(id.into()),
            _ => StoreError::Io {
                id: id.into(),
                what: "open",
                path: path.clone(),
                err,
            },
        })?;
        let lock =
            nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, e)| {
                StoreError::Io {
                    id: id.into(),
                    what: "lock",
                    path: path.clone(),
                    err: e.into(),
                }
            })?;
        Ok(ContainerDir {
            id: id.into(),
            path,
            _lock: lock,
        })
    }

    /// Creates and locks the directory of a new container.
    pub fn create(&self, id: &str) -> Result<ContainerDir, StoreError> {
        validate_id(id)?;
        if let Err(err) = std::fs::create_dir_all(&self.root) {
            return Err(StoreError::Root {
                path: self.root.clone(),
                err,
            });
        }
        let path = self.root.join(id);
        match std::fs::create_dir(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(StoreError::Exists(id.into()))
            }
            Err(err) => {
                return Err(StoreError::Io {
                    id: id.into(),
                    what: "create",
                    path,
                    err,
                })
            }
        }
        self.lock(id, path)
    }

    /// Opens and locks an existing container's directory.
    pub fn open(&self, id: &str) -> Result<ContainerDir, StoreError> {
        validate_id(id)?;
        self.lock(id, self.root.join(id))
    }

    /// The compiled seccomp filter cache: in the root, under a name no
    /// container id can have, so `ids` never lists it.
    pub fn seccomp_cache(&self) -> PathBuf {
        self.root.join("seccomp@cache")
    }

    /// Ids of every container directory, sorted.
    pub fn ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = std::fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|id| validate_id(id).is_ok())
            .collect();
        ids.sort();
        ids
    }

    /// Reads a container's record without taking the lock (rename makes
    /// every read see a whole file). `Ok(None)`: still being created.
    pub fn peek(&self, id: &str) -> Result<Option<Container>, StoreError> {
        validate_id(id)?;
        let dir = self.root.join(id);
        if !dir.is_dir() {
            return Err(StoreError::NotExist(id.into()));
        }
        read_record(id, &dir)
    }
}

fn read_record(id: &str, dir: &Path) -> Result<Option<Container>, StoreError> {
    let path = dir.join(STATE_FILE);
    match std::fs::read(&path) {
        Ok(data) => serde_json::from_slice(&data)
            .map(Some)
            .map_err(|err| StoreError::Corrupt {
                id: id.into(),
                path,
                err,
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(StoreError::Io {
            id: id.into(),
            what: "read",
            path,
            err,
        }),
    }
}

/// The status of a container from its record and the kernel.
pub fn status_of(dir: &Path, c: Option<&Container>) -> Status {
    match c {
        None => Status::Creating,
        Some(c) => derive(
            true,
            liveness(c.pid, c.start_time),
            dir.join(EXEC_FIFO).exists(),
            c.cgroup.is_frozen(),
        ),
    }
}

impl ContainerDir {
    pub fn load(&self) -> Result<Option<Container>, StoreError> {
        read_record(&self.id, &self.path)
    }

    pub fn status(&self, c: Option<&Container>) -> Status {
        status_of(&self.path, c)
    }

    /// Writes the record atomically: a temp file renamed over the old one.
    pub fn save(&self, c: &Container) -> Result<(), StoreError> {
        let tmp = self.path.join(".state.json.tmp");
        let io = |what, err| StoreError::Io {
            id: self.id.clone(),
            what,
            path: tmp.clone(),
            err,
        };
        let data = serde_json::to_vec(c).expect("state serialises");
        let mut f = File::create(&tmp).map_err(|e| io("write", e))?;
        f.write_all(&data).map_err(|e| io("write", e))?;
        std::fs::rename(&tmp, self.path.join(STATE_FILE)).map_err(|e| io("rename", e))
    }

    /// Records the cgroup before it is created, so a `delete` after a
    /// crashed `create` (no state.json yet) can still remove it.
    pub fn save_cgroup(&self, cg: &crate::cgroups::Cgroup) -> Result<(), StoreError> {
        let path = self.path.join(CGROUP_FILE);
        std::fs::write(&path, serde_json::to_vec(cg).expect("cgroup serialises")).map_err(|err| {
            StoreError::Io {
                id: self.id.clone(),
                what: "write",
                path,
                err,
            }
        })
    }

    pub fn load_cgroup(&self) -> Option<crate::cgroups::Cgroup> {
        let data = std::fs::read(self.path.join(CGROUP_FILE)).ok()?;
        serde_json::from_slice(&data).ok()
    }

    pub fn fifo_path(&self) -> PathBuf {
        self.path.join(EXEC_FIFO)
    }

    /// Removes the directory and everything in it.
    pub fn remove(self) -> Result<(), StoreError> {
        std::fs::remove_dir_all(&self.path).map_err(|err| StoreError::Io {
            id: self.id.clone(),
            what: "remove",
            path: self.path.clone(),
            err,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_runc_rules() {
        for ok in ["a", "web-1", "x_y.z+1", "A9"] {
            assert!(validate_id(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "../x", "a b", "é"] {
            assert!(validate_id(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn create_twice_fails_and_records_round_trip() {
        let root = std::env::temp_dir().join(format!("berth-store-{}", std::process::id()));
        let store = Store::new(&root);
        let dir = store.create("c1").unwrap();
        assert!(matches!(store.create("c1"), Err(StoreError::Exists(_))));
        assert!(dir.load().unwrap().is_none());
        let c = Container {
            id: "c1".into(),
            pid: 1,
            start_time: 5,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: "t".into(),
            owner: String::new(),
            annotations: Default::default(),
            poststart: vec![],
            poststop: vec![],
            shared_pidns: false,
            cgroup: Default::default(),
        };
        dir.save(&c).unwrap();
        assert_eq!(dir.load().unwrap().unwrap().start_time, 5);
        assert_eq!(store.ids(), vec!["c1".to_string()]);
        dir.remove().unwrap();
        assert!(matches!(store.open("c1"), Err(StoreError::NotExist(_))));
        std::fs::remove_dir_all(root).unwrap();
    }
}
