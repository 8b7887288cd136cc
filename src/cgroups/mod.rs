//! cgroups on v1, v2 and hybrid hosts, by direct cgroupfs writes.
//!
//! cgroups-rs is not used: it treats a hybrid host (v1 controllers plus a
//! cgroup2 mount at /sys/fs/cgroup/unified, as on these machines) as pure
//! v1, hard-codes /sys/fs/cgroup for v2, and pulls in D-Bus. The files are
//! few and documented; `detect` and `resources` are pure and unit-tested,
//! this module does the writes, and every root is a parameter so tests can
//! point it at a tempdir.

pub mod detect;
pub mod devices_bpf;
pub mod resources;
pub mod stats;

use detect::Layout;
use resources::Write;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("read {path}: {err}")]
    Read { path: PathBuf, err: std::io::Error },
    #[error("create cgroup {path}: {err}")]
    Create { path: PathBuf, err: std::io::Error },
    #[error("cgroup: write {value:?} to {path}: {err}")]
    Write {
        path: PathBuf,
        value: String,
        err: std::io::Error,
    },
    #[error("cgroup controller {controller} is not available on this host (needed for {what})")]
    NoController { controller: String, what: String },
    #[error("cgroup: {0}")]
    Invalid(String),
    #[error("remove cgroup {path}: {err}")]
    Remove { path: PathBuf, err: std::io::Error },
}

/// One directory of the container's cgroup, in one hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dir {
    pub path: PathBuf,
    pub v2: bool,
    /// Controllers of this hierarchy (v1: from the mount; v2: enabled ones).
    pub controllers: Vec<String>,
}

/// The container's cgroup: one directory per hierarchy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cgroup {
    pub dirs: Vec<Dir>,
}

/// The hierarchies of this host and the caller's own place in them.
pub fn host_layout() -> Result<Layout, CgroupError> {
    let read = |p: &str| {
        std::fs::read_to_string(p).map_err(|err| CgroupError::Read {
            path: p.into(),
            err,
        })
    };
    Ok(detect::parse(
        &read("/proc/self/mountinfo")?,
        &read("/proc/self/cgroup")?,
    ))
}

impl Cgroup {
    /// Where the container's cgroup goes: an absolute `cgroupsPath` is
    /// taken from each hierarchy's root; a relative one (or the id, when
    /// unset, as runc does) from the caller's own cgroup.
    pub fn resolve(
        layout: &Layout,
        cgroups_path: Option<&Path>,
        id: &str,
    ) -> Result<Cgroup, CgroupError> {
        let rel = cgroups_path
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from(id));
        if rel
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            return Err(CgroupError::Invalid(format!(
                "cgroupsPath {} must not contain '..'",
                rel.display()
            )));
        }
        let dirs = layout
            .hierarchies
            .iter()
            .map(|h| {
                let base = if rel.is_absolute() {
                    h.mount.clone()
                } else if h.v2 {
                    // v2's no-internal-processes rule: our own cgroup may hold
                    // processes (a login scope), and then no controller can be
                    // enabled below it. Use its parent, as runc does.
                    let own = Path::new(&h.own);
                    let parent = own.parent().unwrap_or(own);
                    h.mount.join(parent.strip_prefix("/").unwrap_or(parent))
                } else {
                    h.mount.join(h.own.trim_start_matches('/'))
                };
                Dir {
                    path: base.join(rel.strip_prefix("/").unwrap_or(&rel)),
                    v2: h.v2,
                    controllers: h.controllers.clone(),
                }
            })
            .collect();
        Ok(Cgroup { dirs })
    }

    fn dir_for(&self, controller: &str) -> Option<&Dir> {
        if controller.is_empty() {
            return self.v2_dir();
        }
        // A controller bound to v1 wins; v2 hosts what v1 does not.
        self.dirs
            .iter()
            .find(|d| !d.v2 && d.controllers.iter().any(|c| c == controller))
            .or_else(|| {
                self.dirs
                    .iter()
                    .find(|d| d.v2 && d.controllers.iter().any(|c| c == controller))
            })
    }

    pub fn v2_dir(&self) -> Option<&Dir> {
        self.dirs.iter().find(|d| d.v2)
    }

    /// Creates every directory (v2: enabling controllers on the way).
    pub fn create(&mut self) -> Result<(), CgroupError> {
        for d in &mut self.dirs {
            std::fs::create_dir_all(&d.path).map_err(|err| CgroupError::Create {
                path: d.path.clone(),
                err,
            })?;
            if d.v2 {
                detect::enable_v2_controllers(&d.path);
                d.controllers = detect::v2_controllers(&d.path);
            } else if d.controllers.iter().any(|c| c == "cpuset") {
                detect::inherit_cpuset(&d.path)?;
            }
        }
        Ok(())
    }

    /// Applies resource writes; a controller the host lacks is an error.
    pub fn apply(&self, writes: &[Write]) -> Result<(), CgroupError> {
        for w in writes {
            let dir = match self.dir_for(&w.controller) {
                Some(d) => d,
                None if w.optional => continue,
                None => {
                    return Err(CgroupError::NoController {
                        controller: w.controller.clone(),
                        what: w.what.clone(),
                    })
                }
            };
            let target = if dir.v2 { &w.v2 } else { &w.v1 };
            match target {
                Some((file, value)) => {
                    let path = dir.path.join(file);
                    if !path.exists() {
                        return Err(CgroupError::Invalid(format!(
                            "{}: {} does not exist (not supported by this host's kernel or controller)",
                            w.what,
                            path.display()
                        )));
                    }
                    write_file(&path, value)?
                }
                None if w.optional => {}
                None => {
                    let version = if dir.v2 { "cgroup v2" } else { "cgroup v1" };
                    return Err(CgroupError::Invalid(format!(
                        "{} is not supported on {version}",
                        w.what
                    )));
                }
            }
        }
        Ok(())
    }

    /// Moves `pid` into every hierarchy's directory but, with `skip_v2`,
    /// the v2 one (it was born there: CLONE_INTO_CGROUP).
    pub fn add(&self, pid: i32, skip_v2: bool) -> Result<(), CgroupError> {
        for d in self.dirs.iter().filter(|d| !(skip_v2 && d.v2)) {
            write_file(&d.path.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// The v2 directory opened for CLONE_INTO_CGROUP, when there is one.
    pub fn open_v2(&self) -> Option<std::os::fd::OwnedFd> {
        use std::os::unix::fs::OpenOptionsExt;
        let d = self.v2_dir()?;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_DIRECTORY)
            .open(&d.path)
            .ok()
            .map(Into::into)
    }

    /// Pids in the container's cgroup (from the first directory that has
    /// them all: v1 pids/freezer or v2).
    pub fn pids(&self) -> Vec<i32> {
        let dir = self
            .dir_for("pids")
            .or_else(|| self.dir_for("freezer"))
            .or_else(|| self.v2_dir())
            .or(self.dirs.first());
        let Some(d) = dir else { return vec![] };
        std::fs::read_to_string(d.path.join("cgroup.procs"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect()
    }

    /// Freezes (`true`) or thaws the container: v1 freezer or v2 cgroup.freeze.
    pub fn set_frozen(&self, frozen: bool) -> Result<(), CgroupError> {
        if let Some(d) = self
            .dirs
            .iter()
            .find(|d| !d.v2 && d.controllers.iter().any(|c| c == "freezer"))
        {
            let v = if frozen { "FROZEN" } else { "THAWED" };
            write_file(&d.path.join("freezer.state"), v)?;
            // FREEZING is transient; wait (briefly) for the final state.
            for _ in 0..500 {
                if std::fs::read_to_string(d.path.join("freezer.state"))
                    .unwrap_or_default()
                    .trim()
                    == v
                {
                    return Ok(());
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            return Err(CgroupError::Invalid(format!("freezer did not reach {v}")));
        }
        match self.v2_dir() {
            Some(d) if d.path.join("cgroup.freeze").exists() => write_file(
                &d.path.join("cgroup.freeze"),
                if frozen { "1" } else { "0" },
            ),
            _ => Err(CgroupError::NoController {
                controller: "freezer".into(),
                what: "pause/resume".into(),
            }),
        }
    }

    pub fn is_frozen(&self) -> bool {
        if let Some(d) = self
            .dirs
            .iter()
            .find(|d| !d.v2 && d.controllers.iter().any(|c| c == "freezer"))
        {
            return std::fs::read_to_string(d.path.join("freezer.state"))
                .is_ok_and(|s| s.trim() != "THAWED");
        }
        self.v2_dir()
            .and_then(|d| std::fs::read_to_string(d.path.join("cgroup.freeze")).ok())
            .is_some_and(|s| s.trim() == "1")
    }

    /// Removes every directory (the processes must be gone). EBUSY right
    /// after the last process died is retried for a moment.
    pub fn destroy(&self) -> Result<(), CgroupError> {
        for d in &self.dirs {
            let mut tries = 0;
            loop {
                match std::fs::remove_dir(&d.path) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 200 => {
                        tries += 1;
                        std::thread::sleep(std::time::Duration::from_millis(5));
                    }
                    Err(err) => {
                        return Err(CgroupError::Remove {
                            path: d.path.clone(),
                            err,
                        })
                    }
                }
            }
        }
        Ok(())
    }
}

pub fn write_file(path: &Path, value: &str) -> Result<(), CgroupError> {
    std::fs::write(path, value).map_err(|err| CgroupError::Write {
        path: path.to_path_buf(),
        value: value.to_string(),
        err,
    })
}

/// Reads a one-line cgroup file.
pub fn read_value(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

impl Cgroup {
    /// On a host without a v1 devices controller, enforce the device
    /// rules with an eBPF program on the v2 cgroup.
    pub fn apply_device_filter(
        &self,
        rules: &[oci_spec::runtime::LinuxDeviceCgroup],
    ) -> Result<(), CgroupError> {
        if self.dir_for("devices").is_some() {
            return Ok(()); // v1: written as devices.allow/deny by `apply`.
        }
        let (Some(dir), Some(prog)) = (self.v2_dir(), devices_bpf::program(rules)) else {
            return Ok(());
        };
        let bytes: Vec<u8> = prog.iter().flat_map(|i| i.bytes()).collect();
        let bpf_err = |what: &str, err: std::io::Error| CgroupError::Write {
            path: dir.path.clone(),
            value: format!("device filter ({what})"),
            err,
        };
        let fd = crate::sys::bpf::load_device_program(&bytes)
            .map_err(|e| bpf_err("load BPF program", e))?;
        let cg = std::fs::File::open(&dir.path).map_err(|e| bpf_err("open cgroup", e))?;
        use std::os::fd::AsFd;
        crate::sys::bpf::attach_device_program(cg.as_fd(), fd.as_fd())
            .map_err(|e| bpf_err("attach BPF program", e))
    }
}
