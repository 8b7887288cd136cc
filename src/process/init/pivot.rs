//! Switching into the container's root, then the steps that need the
//! container's view of the filesystem: masks, sysctls, a read-only root.

use super::mounts::{remount_bind, Root};
use crate::process::protocol::InitError;
use crate::spec::plan::RootfsPlan;
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::unistd::{chdir, chroot, fchdir, pivot_root};
use std::os::fd::AsRawFd;
use std::path::Path;

fn err(step: impl Into<String>, e: impl std::fmt::Display) -> InitError {
    InitError::new(step, e)
}

/// pivot_root into the rootfs and detach the old root, or with `--no-pivot`
/// move the rootfs over `/` and chroot (for ramfs roots where pivot_root is
/// impossible; weaker, since the old root stays reachable by an escape).
pub fn enter_root(root: Root, plan: &RootfsPlan) -> Result<(), InitError> {
    let rp = root.path.display().to_string();
    if plan.no_pivot {
        chdir(&root.path).map_err(|e| err(format!("chdir {rp}"), e))?;
        mount(
            Some(&root.path),
            "/",
            None::<&str>,
            MsFlags::MS_MOVE,
            None::<&str>,
        )
        .map_err(|e| err(format!("move {rp} to /"), e))?;
        chroot(".").map_err(|e| err(format!("chroot {rp}"), e))?;
    } else {
        // pivot_root(".", ".") stacks the old root on top of the new one, so
        // no directory for it is needed inside the image (runc's trick); the
        // old root is then made a slave, so unmounting it does not
        // propagate to the host, and lazily detached.
        fchdir(root.fd.as_raw_fd()).map_err(|e| err(format!("chdir {rp}"), e))?;
        pivot_root(".", ".").map_err(|e| err(format!("pivot_root {rp}"), e))?;
        mount(
            None::<&str>,
            ".",
            None::<&str>,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| err("make old root a slave", e))?;
        umount2(".", MntFlags::MNT_DETACH).map_err(|e| err("detach old root", e))?;
    }
    chdir("/").map_err(|e| err("chdir /", e))
}

fn missing(e: &nix::errno::Errno) -> bool {
    matches!(e, nix::errno::Errno::ENOENT | nix::errno::Errno::ENOTDIR)
}

/// maskedPaths: a read-only empty tmpfs over directories, /dev/null over
/// files. readonlyPaths: bind-mounted onto themselves, read-only. Paths the
/// image does not have are skipped, as the spec allows.
pub fn mask_paths(plan: &RootfsPlan) -> Result<(), InitError> {
    for p in &plan.masked {
        let is_dir = match std::fs::metadata(p) {
            Ok(m) => m.is_dir(),
            Err(_) => continue,
        };
        let r = if is_dir {
            mount(
                Some("tmpfs"),
                p,
                Some("tmpfs"),
                MsFlags::MS_RDONLY,
                None::<&str>,
            )
        } else {
            mount(
                Some("/dev/null"),
                p,
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            )
        };
        match r {
            Err(e) if missing(&e) => {}
            r => r.map_err(|e| err(format!("mask {}", p.display()), e))?,
        }
    }
    for p in &plan.readonly_paths {
        match mount(
            Some(p),
            p,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        ) {
            Err(e) if missing(&e) => continue,
            r => r.map_err(|e| err(format!("bind readonly path {}", p.display()), e))?,
        }
        remount_bind(&p.to_string_lossy(), MsFlags::MS_RDONLY | MsFlags::MS_REC)
            .map_err(|e| err(format!("make {} read-only", p.display()), e))?;
    }
    Ok(())
}

pub fn write_sysctl(sysctl: &[(String, String)]) -> Result<(), InitError> {
    for (k, v) in sysctl {
        let path = Path::new("/proc/sys").join(k.replace('.', "/"));
        std::fs::write(&path, v)
            .map_err(|e| err(format!("sysctl {k}={v} ({})", path.display()), e))?;
    }
    Ok(())
}

/// root.readonly: remount the container's `/` read-only, last, after
/// everything that writes into it.
pub fn finish_root(plan: &RootfsPlan) -> Result<(), InitError> {
    if plan.readonly {
        remount_bind("/", MsFlags::MS_RDONLY).map_err(|e| err("remount / read-only", e))?;
    }
    Ok(())
}
