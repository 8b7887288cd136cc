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

pub fn mount_cgroup(root: &Root, m: &MountPlan, target: &str) -> Result<(), InitError> {
    let dest = m.dest.display();
    let flags =
        m.flags & !MsFlags::MS_RDONLY | MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
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
    if m.flags.contains(MsFlags::MS_RDONLY) {
        let top = crate::sys::fs::open_in_root(root.fd.as_fd(), Path::new(&m.dest), libc::O_PATH)
            .map_err(|e| InitError::new(format!("reopen {dest}"), e))?;
        let p = super::mounts::fd_path(&top);
        mount(
            None::<&str>,
            p.as_str(),
            None::<&str>,
            MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | flags,
            Some("mode=755"),
        )
        .or_else(|_| remount_bind(&p, MsFlags::MS_RDONLY))
        .map_err(|e| InitError::new(format!("remount {dest} read-only"), e))?;
    }
    Ok(())
}
