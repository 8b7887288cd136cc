//! overlayfs root filesystems over unpacked layer directories.
//!
//! Many layers: mount(2) copies at most one page (4096 bytes) of option
//! data, so `lowerdir=a:b:...` with long store paths stops fitting after a
//! few dozen layers. berth therefore:
//! 1. prefers the new mount API: fsopen("overlay") and one
//!    `fsconfig(FSCONFIG_SET_STRING, "lowerdir+", path)` per layer (Linux
//!    6.8), which has no total length limit and needs no escaping (each
//!    value is capped at 256 bytes, so longer paths go as `/proc/self/fd/N`);
//! 2. falls back, when fsopen or `lowerdir+` is missing (6.5 to 6.7 refuse
//!    the key; before 6.5 the legacy context takes it and the final create
//!    fails with EINVAL and an empty log, as on Debian 12's 6.1 kernel),
//!    to classic mount(2): plain paths when they fit in a page, otherwise
//!    each layer opened as an `O_PATH` fd and named `/proc/self/fd/N`
//!    (~18 bytes a layer, so 200+ layers fit). overlayfs resolves the magic
//!    link at mount time and keeps its own reference. This avoids Docker's
//!    `l/<id>` symlink farm and its chdir in a forked child: no extra state
//!    to clean up, and no process-wide cwd change in a threaded caller.
//!
//! overlayfs refuses a single lower without an upper ("at least 2 lowerdir
//! are needed while upperdir nonexistent"), so that case is a read-only
//! bind mount of the layer instead, which shows the same tree.

use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::Mode;

use crate::sys::mount_api;

/// Bytes of option data mount(2) copies: one page, NUL included.
const MOUNT_DATA_MAX: usize = 4096;
/// Bytes, NUL included, fsconfig(2) copies of a string value.
const FSCONFIG_STRING_MAX: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum OverlayError {
    #[error("overlay on {target}: no lower layers given")]
    NoLayers { target: PathBuf },
    #[error("overlay on {target}: an upper dir needs a work dir, and a work dir an upper")]
    UpperWithoutWork { target: PathBuf },
    #[error("fsopen(\"overlay\"): {0}")]
    Fsopen(io::Error),
    #[error("overlay on {target}: set {key}={value}: {source}{log}")]
    Fsconfig {
        target: PathBuf,
        key: &'static str,
        value: PathBuf,
        source: io::Error,
        log: String,
    },
    #[error("overlay on {target}: create superblock: {source}{log}")]
    Create {
        target: PathBuf,
        source: io::Error,
        log: String,
    },
    #[error("overlay on {target}: fsmount: {source}")]
    Fsmount { target: PathBuf, source: io::Error },
    #[error("overlay on {target}: move_mount: {source}")]
    MoveMount { target: PathBuf, source: io::Error },
    #[error("overlay on {target}: open layer {path}: {source}")]
    OpenLayer {
        target: PathBuf,
        path: PathBuf,
        source: io::Error,
    },
    #[error(
        "overlay on {target}: {count} layers need {len} bytes of mount options, over one page"
    )]
    TooManyLayers {
        target: PathBuf,
        count: usize,
        len: usize,
    },
    #[error("mount overlay on {target}: {source}")]
    Mount { target: PathBuf, source: io::Error },
    #[error("bind {lower} read-only on {target}: {source}")]
    Bind {
        lower: PathBuf,
        target: PathBuf,
        source: io::Error,
    },
    #[error("unmount {target}: {source}")]
    Unmount { target: PathBuf, source: io::Error },
}

/// Mounts an overlay of `lowers` (top-most first, as overlayfs orders them)
/// on `target`. Without `upper` and `work` the mount is read-only.
pub fn mount_overlay(
    lowers: &[PathBuf],
    upper: Option<&Path>,
    work: Option<&Path>,
    target: &Path,
) -> Result<(), OverlayError> {
    let rw = match (upper, work) {
        (Some(u), Some(w)) => Some((u, w)),
        (None, None) => None,
        _ => {
            return Err(OverlayError::UpperWithoutWork {
                target: target.into(),
            })
        }
    };
    match (lowers, rw) {
        ([], _) => Err(OverlayError::NoLayers {
            target: target.into(),
        }),
        ([only], None) => bind_read_only(only, target),
        _ => match mount_new_api(lowers, rw, target) {
            Err(NewApi::Unsupported) => mount_classic(lowers, rw, target),
            Err(NewApi::Failed(e)) => Err(e),
            Ok(()) => Ok(()),
        },
    }
}

/// Unmounts `target`, detaching lazily if it is busy.
pub fn unmount(target: &Path) -> Result<(), OverlayError> {
    let err = |e: Errno| OverlayError::Unmount {
        target: target.into(),
        source: e.into(),
    };
    match nix::mount::umount2(target, MntFlags::UMOUNT_NOFOLLOW) {
        Err(Errno::EBUSY) => {
            nix::mount::umount2(target, MntFlags::MNT_DETACH | MntFlags::UMOUNT_NOFOLLOW)
                .map_err(err)
        }
        other => other.map_err(err),
    }
}

fn bind_read_only(lower: &Path, target: &Path) -> Result<(), OverlayError> {
    let err = |e: Errno| OverlayError::Bind {
        lower: lower.into(),
        target: target.into(),
        source: e.into(),
    };
    let none: Option<&str> = None;
    nix::mount::mount(Some(lower), target, none, MsFlags::MS_BIND, none).map_err(err)?;
    // MS_RDONLY is ignored on the initial bind; it takes a remount.
    let ro = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    if let Err(e) = nix::mount::mount(none, target, none, ro, none) {
        let _ = nix::mount::umount2(target, MntFlags::MNT_DETACH);
        return Err(err(e));
    }
    Ok(())
}

enum NewApi {
    /// No fsopen or no `lowerdir+`: try mount(2).
    Unsupported,
    Failed(OverlayError),
}

impl From<OverlayError> for NewApi {
    fn from(e: OverlayError) -> Self {
        NewApi::Failed(e)
    }
}

fn mount_new_api(
    lowers: &[PathBuf],
    rw: Option<(&Path, &Path)>,
    target: &Path,
) -> Result<(), NewApi> {
    let fs = match mount_api::fsopen("overlay") {
        Ok(fs) => fs,
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EPERM)) => {
            return Err(NewApi::Unsupported)
        }
        Err(e) => return Err(OverlayError::Fsopen(e).into()),
    };
    // Held open until the superblock exists: they back /proc/self/fd names.
    let _fds = configure(&fs, lowers, rw, target)?;
    mount_api::fsconfig_create(fs.as_fd()).map_err(|source| {
        let log = kernel_log(&fs);
        // Before 6.5 overlayfs has no fs_context parser: the kernel's
        // legacy context takes any key, `lowerdir+` included, and only the
        // final option string is refused, with EINVAL and nothing logged.
        if source.raw_os_error() == Some(libc::EINVAL) && log.is_empty() {
            return NewApi::Unsupported;
        }
        OverlayError::Create {
            target: target.into(),
            source,
            log,
        }
        .into()
    })?;
    let mnt = mount_api::fsmount(fs.as_fd()).map_err(|source| OverlayError::Fsmount {
        target: target.into(),
        source,
    })?;
    mount_api::move_mount_to(mnt.as_fd(), target).map_err(|source| {
        OverlayError::MoveMount {
            target: target.into(),
            source,
        }
        .into()
    })
}

/// Sets the layers, then upper and work, on the overlay context `fs`.
fn configure(
    fs: &OwnedFd,
    lowers: &[PathBuf],
    rw: Option<(&Path, &Path)>,
    target: &Path,
) -> Result<Vec<OwnedFd>, NewApi> {
    let set = |key: &'static str, value: &Path| {
        mount_api::fsconfig_string(fs.as_fd(), key, value).map_err(|source| {
            let (value, log) = (value.into(), kernel_log(fs));
            OverlayError::Fsconfig {
                target: target.into(),
                key,
                value,
                source,
                log,
            }
        })
    };
    let mut fds = Vec::new();
    // overlayfs stacks `lowerdir+` in call order, top-most first.
    for (i, lower) in lowers.iter().enumerate() {
        let lower = fsconfig_path(lower, &mut fds, target)?;
        match set("lowerdir+", &lower) {
            // Before 6.8 the key is unknown: EINVAL on the very first one.
            Err(OverlayError::Fsconfig { source, .. })
                if i == 0 && source.raw_os_error() == Some(libc::EINVAL) =>
            {
                return Err(NewApi::Unsupported)
            }
            other => other?,
        }
    }
    if let Some((upper, work)) = rw {
        set("upperdir", &fsconfig_path(upper, &mut fds, target)?)?;
        set("workdir", &fsconfig_path(work, &mut fds, target)?)?;
    }
    Ok(fds)
}

/// fsconfig(2) copies string values with a 256-byte limit (EINVAL beyond),
/// so a longer path is passed as `/proc/self/fd/N` of an `O_PATH` fd kept
/// in `fds`.
fn fsconfig_path(
    path: &Path,
    fds: &mut Vec<OwnedFd>,
    target: &Path,
) -> Result<PathBuf, OverlayError> {
    if path.as_os_str().len() < FSCONFIG_STRING_MAX {
        return Ok(path.to_path_buf());
    }
    let fd = open_layers(std::slice::from_ref(&path.to_path_buf()), target)?.remove(0);
    let short = PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()));
    fds.push(fd);
    Ok(short)
}

/// The kernel's own explanation of a failed fsconfig, read from the
/// context fd (one message a read); empty when there is none.
fn kernel_log(fs: &OwnedFd) -> String {
    let Ok(mut file) = fs.try_clone().map(std::fs::File::from) else {
        return String::new();
    };
    let mut log = String::new();
    let mut buf = [0u8; 1024];
    for _ in 0..8 {
        match file.read(&mut buf) {
            Ok(n) if n > 0 => {
                log.push_str(" (");
                log.push_str(String::from_utf8_lossy(&buf[..n]).trim_end());
                log.push(')');
            }
            _ => break,
        }
    }
    log
}

fn mount_classic(
    lowers: &[PathBuf],
    rw: Option<(&Path, &Path)>,
    target: &Path,
) -> Result<(), OverlayError> {
    let plain: Vec<String> = lowers.iter().map(|l| l.display().to_string()).collect();
    let mut data = classic_options(&plain, rw);
    // Held open until mount(2) has resolved the /proc/self/fd names.
    let mut fds = Vec::new();
    if data.len() >= MOUNT_DATA_MAX {
        fds = open_layers(lowers, target)?;
        let short: Vec<String> = fds
            .iter()
            .map(|fd| format!("/proc/self/fd/{}", fd.as_raw_fd()))
            .collect();
        data = classic_options(&short, rw);
    }
    if data.len() >= MOUNT_DATA_MAX {
        return Err(OverlayError::TooManyLayers {
            target: target.into(),
            count: lowers.len(),
            len: data.len(),
        });
    }
    let result = nix::mount::mount(
        Some("overlay"),
        target,
        Some("overlay"),
        MsFlags::empty(),
        Some(data.as_str()),
    );
    drop(fds);
    result.map_err(|e| OverlayError::Mount {
        target: target.into(),
        source: e.into(),
    })
}

fn open_layers(lowers: &[PathBuf], target: &Path) -> Result<Vec<OwnedFd>, OverlayError> {
    let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    lowers
        .iter()
        .map(|l| {
            nix::fcntl::open(l.as_path(), flags, Mode::empty())
                .map(crate::sys::fs::own)
                .map_err(|e| OverlayError::OpenLayer {
                    target: target.into(),
                    path: l.clone(),
                    source: e.into(),
                })
        })
        .collect()
}

/// The mount(2) option string; `:` `,` and `\` in paths are escaped with
/// `\`, which overlayfs's own option parser understands.
fn classic_options(lowers: &[String], rw: Option<(&Path, &Path)>) -> String {
    let lower: Vec<String> = lowers.iter().map(|l| escape(l)).collect();
    let mut data = format!("lowerdir={}", lower.join(":"));
    if let Some((upper, work)) = rw {
        data.push_str(&format!(
            ",upperdir={},workdir={}",
            escape(&upper.display().to_string()),
            escape(&work.display().to_string())
        ));
    }
    data
}

fn escape(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for c in path.chars() {
        if matches!(c, '\\' | ':' | ',') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests;
