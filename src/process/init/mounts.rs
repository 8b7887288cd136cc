//! The container's mounts, made before pivot_root. Every target is resolved
//! inside the rootfs (openat2 RESOLVE_IN_ROOT), so a symlink in the image
//! cannot send a mount onto the host.

use crate::process::protocol::InitError;
use crate::spec::mounts::{MountKind, MountPlan};
use crate::spec::plan::RootfsPlan;
use crate::sys::fs::{open_in_root, own};
use nix::fcntl::{openat, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{mkdirat, Mode};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// The container's root directory, open, after it became a mount point.
pub struct Root {
    pub fd: OwnedFd,
    pub path: PathBuf,
}

fn err(step: impl Into<String>, e: impl std::fmt::Display) -> InitError {
    InitError::new(step, e)
}

/// `/proc/self/fd/N`: mounting there mounts on exactly the resolved target.
pub fn fd_path(fd: &impl AsRawFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// Sets the propagation of `/`, then bind-mounts the rootfs onto itself so
/// it is a mount point that pivot_root accepts.
pub fn prepare_root(plan: &RootfsPlan) -> Result<Root, InitError> {
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        plan.propagation,
        None::<&str>,
    )
    .map_err(|e| err("set propagation of /", e))?;
    if plan.propagation.contains(MsFlags::MS_SHARED) {
        make_parent_private(&plan.path)?;
    }
    let p = &plan.path;
    mount(
        Some(p),
        p,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .map_err(|e| err(format!("bind rootfs {}", p.display()), e))?;
    let fd = nix::fcntl::open(
        p,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| err(format!("open rootfs {}", p.display()), e))?;
    let fd = own(fd);
    Ok(Root {
        fd,
        path: p.clone(),
    })
}

/// pivot_root refuses a new root whose parent mount is shared; with a shared
/// rootfsPropagation, make the mount holding the rootfs private (runc's
/// rootfsParentMountPrivate).
fn make_parent_private(rootfs: &Path) -> Result<(), InitError> {
    let info =
        std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| err("read mountinfo", e))?;
    let mut best: Option<&str> = None;
    for line in info.lines() {
        let mp = line.split(' ').nth(4).unwrap_or("");
        if rootfs.starts_with(mp) && best.is_none_or(|b| mp.len() > b.len()) {
            best = Some(mp);
        }
    }
    let mp = best.unwrap_or("/");
    mount(
        None::<&str>,
        mp,
        None::<&str>,
        MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(|e| err(format!("make {mp} private"), e))
}

/// Opens `path` inside `root`, creating it (directories, or an empty file as
/// the last component when `file`) if missing.
pub fn ensure(root: BorrowedFd<'_>, path: &Path, file: bool) -> std::io::Result<OwnedFd> {
    match open_in_root(root, path, libc::O_PATH) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
        r => return r,
    }
    let real = mkdir_all_in_root(root, path, file)?;
    open_in_root(root, &real, libc::O_PATH)
}

/// Creates the missing parts of `path` inside `root`, following symlinks
/// the way the container will see them (an absolute link restarts at
/// `root`, `..` stops at `root`), and returns the resolved path. Like
/// runc's securejoin.MkdirAllInRoot: a symlink in the image can redirect
/// creation only to somewhere else inside the rootfs.
fn mkdir_all_in_root(root: BorrowedFd<'_>, path: &Path, file: bool) -> std::io::Result<PathBuf> {
    let mut todo: Vec<std::ffi::OsString> = path.components().rev().filter_map(name).collect();
    let mut done: Vec<std::ffi::OsString> = Vec::new();
    let mut hops = 0;
    while let Some(c) = todo.pop() {
        if c == ".." {
            done.pop();
            continue;
        }
        let here: PathBuf = std::iter::once(std::ffi::OsString::from("/"))
            .chain(done.iter().cloned())
            .collect();
        let dir = open_in_root(root, &here, libc::O_PATH | libc::O_DIRECTORY)?;
        match nix::fcntl::readlinkat(Some(dir.as_raw_fd()), c.as_os_str()) {
            Ok(target) => {
                hops += 1;
                if hops > 40 {
                    return Err(std::io::Error::from_raw_os_error(libc::ELOOP));
                }
                let target = PathBuf::from(target);
                if target.is_absolute() {
                    done.clear();
                }
                todo.extend(target.components().rev().filter_map(name));
                continue;
            }
            Err(nix::errno::Errno::ENOENT) => {
                let made = if todo.is_empty() && file {
                    openat(
                        Some(dir.as_raw_fd()),
                        c.as_os_str(),
                        OFlag::O_CREAT | OFlag::O_WRONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
                        Mode::from_bits_truncate(0o644),
                    )
                    .map(|fd| drop(own(fd)))
                } else {
                    mkdirat(
                        Some(dir.as_raw_fd()),
                        c.as_os_str(),
                        Mode::from_bits_truncate(0o755),
                    )
                };
                match made {
                    Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            // EINVAL: exists and is not a symlink.
            Err(nix::errno::Errno::EINVAL) => {}
            Err(e) => return Err(e.into()),
        }
        done.push(c);
    }
    Ok(std::iter::once(std::ffi::OsString::from("/"))
        .chain(done)
        .collect())
}

fn name(c: Component<'_>) -> Option<std::ffi::OsString> {
    match c {
        Component::Normal(n) => Some(n.to_os_string()),
        Component::ParentDir => Some("..".into()),
        _ => None,
    }
}

pub fn mount_all(root: &Root, plan: &RootfsPlan) -> Result<(), InitError> {
    for m in &plan.mounts {
        mount_one(root, m, plan.cgroupns)?;
    }
    Ok(())
}

fn mount_one(root: &Root, m: &MountPlan, cgroupns: bool) -> Result<(), InitError> {
    let dest = m.dest.display();
    let is_file = match &m.kind {
        MountKind::Bind { source, .. } => {
            let meta = std::fs::metadata(source)
                .map_err(|e| err(format!("mount {dest}: source {}", source.display()), e))?;
            !meta.is_dir()
        }
        _ => false,
    };
    let target = ensure(root.fd.as_fd(), &m.dest, is_file)
        .map_err(|e| err(format!("mount {dest}: create target"), e))?;
    let tp = fd_path(&target);
    match &m.kind {
        MountKind::Bind { source, recursive } => {
            let mut flags = MsFlags::MS_BIND;
            if *recursive {
                flags |= MsFlags::MS_REC;
            }
            mount(Some(source), tp.as_str(), None::<&str>, flags, None::<&str>)
                .map_err(|e| err(format!("bind mount {} on {dest}", source.display()), e))?;
        }
        MountKind::Fs { fstype, source } => {
            // tmpcopyup: keep a handle on what the image has there, to copy
            // it into the tmpfs that is about to hide it.
            let below = if m.copy_up {
                Some(
                    open_in_root(root.fd.as_fd(), &m.dest, libc::O_RDONLY | libc::O_DIRECTORY)
                        .map_err(|e| err(format!("tmpcopyup {dest}"), e))?,
                )
            } else {
                None
            };
            let data = (!m.data.is_empty()).then_some(m.data.as_str());
            mount(
                Some(source.as_str()),
                tp.as_str(),
                Some(fstype.as_str()),
                m.flags,
                data,
            )
            .map_err(|e| err(format!("mount {fstype} on {dest}"), e))?;
            if let Some(below) = below {
                let top =
                    open_in_root(root.fd.as_fd(), &m.dest, libc::O_RDONLY | libc::O_DIRECTORY)
                        .map_err(|e| err(format!("tmpcopyup {dest}"), e))?;
                super::copyup::copy_tree(&below, &top)
                    .map_err(|e| err(format!("tmpcopyup {dest}"), e))?;
            }
        }
        MountKind::Cgroup => super::cgroupfs::mount_cgroup(root, m, &tp, cgroupns)?,
    }
    drop(target);
    if m.bind_remount_flags().is_none() && m.propagation.is_empty() {
        return Ok(());
    }
    // Reopen: the old fd still points below the new mount.
    let top = open_in_root(root.fd.as_fd(), &m.dest, libc::O_PATH)
        .map_err(|e| err(format!("reopen {dest}"), e))?;
    let tp = fd_path(&top);
    if let Some(extra) = m.bind_remount_flags() {
        remount_bind(&tp, extra).map_err(|e| err(format!("remount {dest} ({extra:?})"), e))?;
    }
    for p in &m.propagation {
        mount(None::<&str>, tp.as_str(), None::<&str>, *p, None::<&str>)
            .map_err(|e| err(format!("set propagation of {dest}"), e))?;
    }
    Ok(())
}

/// Remounts a bind mount with `flags`. If the kernel refuses because the
/// source carries locked flags (nosuid/nodev/noexec from a less privileged
/// mount namespace), retry with those kept, as runc does.
pub fn remount_bind(path: &str, flags: MsFlags) -> nix::Result<()> {
    let base = MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    match mount(None::<&str>, path, None::<&str>, base | flags, None::<&str>) {
        Err(nix::errno::Errno::EPERM) => {
            let st = nix::sys::statvfs::statvfs(path)?;
            let f = st.flags();
            use nix::sys::statvfs::FsFlags as F;
            let mut locked = MsFlags::empty();
            for (sf, mf) in [
                (F::ST_NOSUID, MsFlags::MS_NOSUID),
                (F::ST_NODEV, MsFlags::MS_NODEV),
                (F::ST_NOEXEC, MsFlags::MS_NOEXEC),
                (F::ST_NOATIME, MsFlags::MS_NOATIME),
                (F::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
                (F::ST_RELATIME, MsFlags::MS_RELATIME),
            ] {
                if f.contains(sf) {
                    locked |= mf;
                }
            }
            mount(
                None::<&str>,
                path,
                None::<&str>,
                base | flags | locked,
                None::<&str>,
            )
        }
        r => r,
    }
}
