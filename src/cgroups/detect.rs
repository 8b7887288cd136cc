//! Which cgroup hierarchies a host has (v1, v2, hybrid) and where the
//! calling process sits in each: parsed from /proc/self/mountinfo and
//! /proc/self/cgroup (pure), plus the small per-directory set-up steps.

use super::{write_file, CgroupError};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hierarchy {
    pub mount: PathBuf,
    pub v2: bool,
    /// v1: the controllers bound to this mount; v2: those available at its root.
    pub controllers: Vec<String>,
    /// The caller's cgroup in this hierarchy, relative to the mount.
    pub own: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Layout {
    pub hierarchies: Vec<Hierarchy>,
}

impl Layout {
    pub fn is_unified(&self) -> bool {
        !self.hierarchies.is_empty() && self.hierarchies.iter().all(|h| h.v2)
    }
}

/// Parses mountinfo + /proc/self/cgroup. Named v1 hierarchies
/// (`name=systemd`) carry no resources and are left alone, as runc does.
pub fn parse(mountinfo: &str, proc_cgroup: &str) -> Layout {
    let mut hierarchies: Vec<Hierarchy> = Vec::new();
    for line in mountinfo.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if pre.len() < 5 || post.len() < 3 {
            continue;
        }
        let (root, mount, fstype, superopts) = (pre[3], pre[4], post[0], post[2]);
        let v2 = match fstype {
            "cgroup2" => true,
            "cgroup" => false,
            _ => continue,
        };
        if hierarchies.iter().any(|h| h.mount == Path::new(mount)) {
            continue;
        }
        let controllers: Vec<String> = if v2 {
            std::fs::read_to_string(Path::new(mount).join("cgroup.controllers"))
                .unwrap_or_default()
                .split_whitespace()
                .map(String::from)
                .collect()
        } else {
            superopts
                .split(',')
                .filter(|o| KNOWN_V1.contains(o))
                .map(String::from)
                .collect()
        };
        if !v2 && controllers.is_empty() {
            continue;
        }
        let own = own_path(proc_cgroup, v2, &controllers);
        let own = match own.strip_prefix(root) {
            Some(rest) if root != "/" => format!("/{}", rest.trim_start_matches('/')),
            _ => own,
        };
        hierarchies.push(Hierarchy {
            mount: PathBuf::from(mount),
            v2,
            controllers,
            own,
        });
    }
    // Two mounts of one v1 hierarchy (cpu and cpu,cpuacct): keep the first.
    let mut seen: Vec<String> = Vec::new();
    hierarchies.retain(|h| {
        let key = h.controllers.join(",");
        if !h.v2 && seen.contains(&key) {
            return false;
        }
        seen.push(key);
        true
    });
    Layout { hierarchies }
}

const KNOWN_V1: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "blkio",
    "pids",
    "net_cls",
    "net_prio",
    "hugetlb",
    "perf_event",
    "rdma",
    "misc",
];

fn own_path(proc_cgroup: &str, v2: bool, controllers: &[String]) -> String {
    for line in proc_cgroup.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctl, path) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or("/"));
        let matches = if v2 {
            ctl.is_empty()
        } else {
            ctl.split(',').any(|c| controllers.iter().any(|x| x == c))
        };
        if matches {
            return path.to_string();
        }
    }
    "/".into()
}

/// Controllers enabled for `dir` (listed in its cgroup.controllers).
pub fn v2_controllers(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("cgroup.controllers"))
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// Enables in every ancestor's cgroup.subtree_control the controllers it
/// has, so they reach `dir`. Best effort: a cgroup with processes of its
/// own refuses (the no-internal-processes rule); `dir` then simply lacks
/// the controller, which `apply` reports if a resource needs it.
pub fn enable_v2_controllers(dir: &Path) {
    let mut chain: Vec<&Path> = dir
        .ancestors()
        .skip(1)
        .take_while(|a| a.join("cgroup.controllers").exists())
        .collect();
    chain.reverse();
    for a in chain {
        for c in v2_controllers(a) {
            let _ = std::fs::write(a.join("cgroup.subtree_control"), format!("+{c}"));
        }
    }
}

/// A new v1 cpuset cgroup starts with empty cpus and mems, and no task can
/// join it; copy them down from the nearest ancestor that has them.
pub fn inherit_cpuset(dir: &Path) -> Result<(), CgroupError> {
    let mut chain: Vec<&Path> = dir
        .ancestors()
        .take_while(|a| a.join("cpuset.cpus").exists())
        .collect();
    chain.reverse();
    for pair in chain.windows(2) {
        for f in ["cpuset.cpus", "cpuset.mems"] {
            let cur = std::fs::read_to_string(pair[1].join(f)).unwrap_or_default();
            if cur.trim().is_empty() {
                let parent =
                    std::fs::read_to_string(pair[0].join(f)).map_err(|err| CgroupError::Read {
                        path: pair[0].join(f),
                        err,
                    })?;
                write_file(&pair[1].join(f), parent.trim())?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HYBRID: &str = "\
30 25 0:26 / /sys/fs/cgroup rw - tmpfs tmpfs rw,mode=755
31 30 0:27 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:28 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
33 30 0:29 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
34 30 0:30 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
35 30 0:31 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
";
    const PROC: &str = "9:name=systemd:/\n8:pids:/\n4:memory:/sess/abc\n1:cpu:/\n0::/\n";

    #[test]
    fn hybrid_host_has_v1_controllers_and_a_v2_mount() {
        let l = parse(HYBRID, PROC);
        let mounts: Vec<_> = l
            .hierarchies
            .iter()
            .map(|h| h.mount.to_str().unwrap().to_string())
            .collect();
        assert_eq!(
            mounts,
            [
                "/sys/fs/cgroup/cpu",
                "/sys/fs/cgroup/memory",
                "/sys/fs/cgroup/unified",
                "/sys/fs/cgroup/pids"
            ]
        );
        let mem = &l.hierarchies[1];
        assert_eq!((mem.v2, mem.own.as_str()), (false, "/sess/abc"));
        assert!(l.hierarchies[2].v2);
        assert!(!l.is_unified());
    }

    #[test]
    fn unified_host() {
        let mi = "30 25 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n";
        let l = parse(mi, "0::/user.slice\n");
        assert!(l.is_unified());
        assert_eq!(l.hierarchies[0].own, "/user.slice");
    }

    #[test]
    fn cgroupns_root_is_stripped() {
        let mi = "31 30 0:27 /outer /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n";
        let l = parse(mi, "4:memory:/outer/inner\n");
        assert_eq!(l.hierarchies[0].own, "/inner");
    }
}
