//! /dev inside the container: device nodes, and the standard symlinks.

use super::mounts::{ensure, fd_path, Root};
use crate::process::protocol::InitError;
use crate::spec::plan::{DevicePlan, RootfsPlan};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{makedev, mknodat, Mode, SFlag};
use nix::unistd::{fchownat, symlinkat, Gid, Uid};
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;

const SYMLINKS: &[(&str, &str)] = &[
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
];

pub fn create(root: &Root, plan: &RootfsPlan) -> Result<(), InitError> {
    for d in &plan.devices {
        if plan.bind_devices {
            bind_device(root, d)?;
        } else {
            mknod_device(root, d)?;
        }
    }
    if !plan.setup_dev {
        return Ok(());
    }
    let mut links: Vec<(&str, &str)> = SYMLINKS.to_vec();
    links.push(("pts/ptmx", "/dev/ptmx"));
    if Path::new("/proc/kcore").exists() {
        links.push(("/proc/kcore", "/dev/core"));
    }
    for (target, link) in links {
        make_symlink(root, target, Path::new(link))?;
    }
    Ok(())
}

fn split(path: &Path) -> (&Path, &std::ffi::OsStr) {
    (
        path.parent().unwrap_or(Path::new("/")),
        path.file_name().unwrap_or_default(),
    )
}

fn make_symlink(root: &Root, target: &str, link: &Path) -> Result<(), InitError> {
    let (dir, name) = split(link);
    let step = || format!("symlink {} -> {target}", link.display());
    let dirfd = ensure(root.fd.as_fd(), dir, false).map_err(|e| InitError::new(step(), e))?;
    match symlinkat(target, Some(dirfd.as_raw_fd()), name) {
        Ok(()) | Err(nix::errno::Errno::EEXIST) => Ok(()),
        Err(e) => Err(InitError::new(step(), e)),
    }
}

fn mknod_device(root: &Root, d: &DevicePlan) -> Result<(), InitError> {
    let (dir, name) = split(&d.path);
    let step = || format!("create device {}", d.path.display());
    let dirfd = ensure(root.fd.as_fd(), dir, false).map_err(|e| InitError::new(step(), e))?;
    let kind = SFlag::from_bits_truncate(d.kind);
    let mode = Mode::from_bits_truncate(d.mode);
    // A device listed in config.json replaces whatever the image put there.
    let _ = nix::unistd::unlinkat(
        Some(dirfd.as_raw_fd()),
        name,
        nix::unistd::UnlinkatFlags::NoRemoveDir,
    );
    mknodat(
        Some(dirfd.as_raw_fd()),
        name,
        kind,
        mode,
        makedev(d.major, d.minor),
    )
    .map_err(|e| InitError::new(step(), e))?;
    fchownat(
        Some(dirfd.as_raw_fd()),
        name,
        Some(Uid::from_raw(d.uid)),
        Some(Gid::from_raw(d.gid)),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .map_err(|e| InitError::new(step(), e))
}

/// In a user namespace mknod is not allowed: bind the host's node instead.
fn bind_device(root: &Root, d: &DevicePlan) -> Result<(), InitError> {
    let step = || format!("bind device {}", d.path.display());
    let target = ensure(root.fd.as_fd(), &d.path, true).map_err(|e| InitError::new(step(), e))?;
    mount(
        Some(&d.path),
        fd_path(&target).as_str(),
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| InitError::new(step(), e))
}
