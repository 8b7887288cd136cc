//! Mounting the cgroup filesystem(s) inside the container (mount type
//! "cgroup"): cgroup2 on a unified host, a tmpfs holding one mount per v1
//! hierarchy on v1 and hybrid hosts (as runc does).

use super::mounts::{ensure, remount_bind, Root};
use crate::process::protocol::InitError;
use crate::spec::mounts::MountPlan;
use nix::mount::{mount, MsFlags};
use std::os::fd::AsFd;
use std::path::Path;

/// One cgroup hierarchy mounted on the host: its directory name under
/// /sys/fs/cgroup, fs type and the controller options to mount it with.
struct Hierarchy {
    name: String,
    fstype: String,
    options: String,
}

fn host_hierarchies() -> std::io::Result<Vec<Hierarchy>> {
    let info = std::fs::read_to_string("/proc/self/mountinfo")?;
    let mut out = Vec::new();
    for line in info.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let mp = pre.split(' ').nth(4).unwrap_or("");
        let mut post = post.split(' ');
        let fstype = post.next().unwrap_or("");
        let superopts = post.nth(1).unwrap_or("");
        let Some(name) = mp.strip_prefix("/sys/fs/cgroup/") else {
            continue;
        };
        if (fstype != "cgroup" && fstype != "cgroup2") || name.contains('/') {
            continue;
        }
        let options = superopts
            .split(',')
            .filter(|o| !matches!(*o, "rw" | "ro") && !o.contains("xattr"))
            .collect::<Vec<_>>()
            .join(",");
        out.push(Hierarchy {
            name: name.to_string(),
            fstype: fstype.to_string(),
            options,
        });
    }
    Ok(out)
}

fn is_cgroup2_root() -> bool {
    nix::sys::statfs::statfs("/sys/fs/cgroup")
        .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap_or(false)
}

/// Mounts the cgroup filesystem(s) for a mount of type "cgroup". With a
/// cgroup namespace, fresh mounts show the namespace's view. Without one,
/// a fresh mount would show the host's whole hierarchy, so the container's
/// own cgroup directories are bind-mounted instead (as runc does).
pub fn mount_cgroup(
    root: &Root,
    m: &MountPlan,
    target: &str,
    cgroupns: bool,
) -> Result<(), InitError> {
    if !cgroupns {
        return bind_own_cgroups(root, m, target);
    }
    let dest = m.dest.display();
    let flags = base_flags(m);
    if is_cgroup2_root() {
        return mount(
            Some("cgroup2"),
            target,
            Some("cgroup2"),
            flags | (m.flags & MsFlags::MS_RDONLY),
            None::<&str>,
        )
        .map_err(|e| InitError::new(format!("mount cgroup2 on {dest}"), e));
    }
    mount(
        Some("tmpfs"),
        target,
        Some("tmpfs"),
        flags,
        Some("mode=755"),
    )
    .map_err(|e| InitError::new(format!("mount tmpfs for cgroups on {dest}"), e))?;
    let hier = host_hierarchies().map_err(|e| InitError::new("read /proc/self/mountinfo", e))?;
    for h in hier {
        let sub = m.dest.join(&h.name);
        let fd = ensure(root.fd.as_fd(), &sub, false)
            .map_err(|e| InitError::new(format!("create {}", sub.display()), e))?;
        let data = (!h.options.is_empty()).then_some(h.options.as_str());
        mount(
            Some("cgroup"),
            super::mounts::fd_path(&fd).as_str(),
            Some(h.fstype.as_str()),
            flags | (m.flags & MsFlags::MS_RDONLY),
            data,
        )
        .map_err(|e| InitError::new(format!("mount cgroup {} on {}", h.name, sub.display()), e))?;
    }
    finish_tmpfs(root, m)
}

fn base_flags(m: &MountPlan) -> MsFlags {
    m.flags & !MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC
}

/// No cgroup namespace: bind the container's own cgroup directory of each
/// v1 hierarchy (or the v2 one on a unified host) under the destination.
fn bind_own_cgroups(root: &Root, m: &MountPlan, target: &str) -> Result<(), InitError> {
    let dest = m.dest.display();
    let layout =
        crate::cgroups::host_layout().map_err(|e| InitError::new("read cgroup layout", e))?;
    // Bind onto `at` (a path in the container), then remount the new mount
    // (reopened: the old fd points below it) with the flags.
    let bind = |src: &Path, at: &Path, tgt: &str| -> Result<(), InitError> {
        let what = || format!("bind cgroup {} on {}", src.display(), at.display());
        mount(
            Some(src),
            tgt,
            None::<&str>,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| InitError::new(what(), e))?;
        let top = crate::sys::fs::open_in_root(root.fd.as_fd(), at, libc::O_PATH)
            .map_err(|e| InitError::new(what(), e))?;
        remount_bind(
            &super::mounts::fd_path(&top),
            base_flags(m) | (m.flags & MsFlags::MS_RDONLY),
        )
        .map_err(|e| InitError::new(format!("remount {}", at.display()), e))
    };
    let own = |h: &crate::cgroups::detect::Hierarchy| h.mount.join(h.own.trim_start_matches('/'));
    if layout.is_unified() {
        let h = &layout.hierarchies[0];
        return bind(&own(h), &m.dest, target);
    }
    mount(
        Some("tmpfs"),
        target,
        Some("tmpfs"),
        base_flags(m),
        Some("mode=755"),
    )
    .map_err(|e| InitError::new(format!("mount tmpfs for cgroups on {dest}"), e))?;
    for h in layout.hierarchies.iter().filter(|h| !h.v2) {
        let name = h
            .mount
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let sub = m.dest.join(&name);
        let fd = ensure(root.fd.as_fd(), &sub, false)
            .map_err(|e| InitError::new(format!("create {}", sub.display()), e))?;
        bind(&own(h), &sub, &super::mounts::fd_path(&fd))?;
    }
    finish_tmpfs(root, m)
}

/// The tmpfs holding the hierarchies becomes read-only last.
fn finish_tmpfs(root: &Root, m: &MountPlan) -> Result<(), InitError> {
    if !m.flags.contains(MsFlags::MS_RDONLY) {
        return Ok(());
    }
    let dest = m.dest.display();
    let top = crate::sys::fs::open_in_root(root.fd.as_fd(), Path::new(&m.dest), libc::O_PATH)
        .map_err(|e| InitError::new(format!("reopen {dest}"), e))?;
    let p = super::mounts::fd_path(&top);
    mount(
        None::<&str>,
        p.as_str(),
        None::<&str>,
        MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | base_flags(m),
        Some("mode=755"),
    )
    .or_else(|_| remount_bind(&p, MsFlags::MS_RDONLY))
    .map_err(|e| InitError::new(format!("remount {dest} read-only"), e))
}
