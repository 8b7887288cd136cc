//! Joining and creating namespaces from inside the child.

use crate::process::protocol::InitError;
use crate::spec::plan::{InitPlan, NamespacePlan};
use nix::sched::{setns, unshare, CloneFlags};
use nix::unistd::{setresgid, setresuid, Gid, Uid};
use oci_spec::runtime::LinuxNamespaceType;
use std::path::PathBuf;

/// setns(2) into each namespace given by path; the user namespace first so
/// the others are joined with its privileges.
pub fn join(ns: &NamespacePlan) -> Result<(), InitError> {
    join_paths(&ns.join)
}

/// Opens every namespace file first, then joins them in order: once in
/// another mount namespace, paths such as /proc/<pid>/ns/net may name
/// something else or nothing (runc's nsexec opens them all first too).
pub fn join_paths(list: &[(LinuxNamespaceType, PathBuf)]) -> Result<(), InitError> {
    let mut files = Vec::with_capacity(list.len());
    for (typ, path) in list {
        let f = std::fs::File::open(path)
            .map_err(|e| InitError::new(format!("open {typ} namespace {}", path.display()), e))?;
        files.push((*typ, path, f));
    }
    for (typ, path, f) in files {
        setns(f, CloneFlags::from_bits_truncate(typ as i32))
            .map_err(|e| InitError::new(format!("join {typ} namespace {}", path.display()), e))?;
    }
    Ok(())
}

/// In a new user namespace the process starts with the overflow ids until
/// the parent wrote the maps; become (mapped) root for the rest of set-up.
pub fn become_root_in_userns(ns: &NamespacePlan) -> Result<(), InitError> {
    let joined = ns
        .join
        .iter()
        .any(|(t, _)| *t == oci_spec::runtime::LinuxNamespaceType::User);
    if ns.uid_map.is_none() && !joined {
        return Ok(());
    }
    let root_g = Gid::from_raw(0);
    let root_u = Uid::from_raw(0);
    setresgid(root_g, root_g, root_g)
        .map_err(|e| InitError::new("setresgid 0 in user namespace", e))?;
    setresuid(root_u, root_u, root_u)
        .map_err(|e| InitError::new("setresuid 0 in user namespace", e))
}

/// The cgroup namespace is created only now, after the parent placed the
/// process in its cgroup, so that cgroup becomes the namespace's root.
pub fn unshare_cgroup(ns: &NamespacePlan) -> Result<(), InitError> {
    if ns.new_cgroup_ns {
        unshare(CloneFlags::CLONE_NEWCGROUP)
            .map_err(|e| InitError::new("unshare cgroup namespace", e))?;
    }
    Ok(())
}

/// A new session (the container must not share the runtime's controlling
/// terminal) and, unless `--no-new-keyring`, a new session keyring.
pub fn new_session(plan: &InitPlan) -> Result<(), InitError> {
    nix::unistd::setsid().map_err(|e| InitError::new("setsid", e))?;
    if plan.new_keyring {
        match crate::sys::misc::join_new_session_keyring(&plan.id) {
            // Kernels without keyrings, or seccomp'd hosts: runc ignores these too.
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOSYS) | Some(libc::EPERM)) => {}
            Err(e) => return Err(InitError::new("join session keyring", e)),
            Ok(()) => {}
        }
    }
    Ok(())
}

pub fn set_names(plan: &InitPlan) -> Result<(), InitError> {
    if let Some(h) = &plan.hostname {
        nix::unistd::sethostname(h).map_err(|e| InitError::new(format!("sethostname {h:?}"), e))?;
    }
    if let Some(d) = &plan.domainname {
        crate::sys::misc::set_domainname(d)
            .map_err(|e| InitError::new(format!("setdomainname {d:?}"), e))?;
    }
    Ok(())
}
