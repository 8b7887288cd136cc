//! Process attributes: oom score, rlimits, user and groups, capabilities,
//! no_new_privs, umask, working directory.

use crate::process::protocol::InitError;
use crate::spec::plan::{CapPlan, ProcessPlan, Rlimit};
use caps::{CapSet, CapsHashSet};
use nix::errno::Errno;
use nix::unistd::{setgroups, setresgid, setresuid, Gid, Uid};

fn err(step: impl Into<String>, e: impl std::fmt::Display) -> InitError {
    InitError::new(step, e)
}

pub fn set_oom_score_adj(v: Option<i32>) -> Result<(), InitError> {
    let Some(v) = v else { return Ok(()) };
    std::fs::write("/proc/self/oom_score_adj", v.to_string()).map_err(|e| {
        let hint = if e.raw_os_error() == Some(libc::EACCES) {
            " (lowering the score needs CAP_SYS_RESOURCE)"
        } else {
            ""
        };
        err(format!("set oomScoreAdj {v}{hint}"), e)
    })
}

/// setrlimit for each configured limit. Raising a hard limit above the
/// current one needs CAP_SYS_RESOURCE; say so instead of a bare EPERM.
pub fn set_rlimits(limits: &[Rlimit]) -> Result<(), InitError> {
    for r in limits {
        let res = r.resource;
        let cur = nix::sys::resource::getrlimit(res).ok();
        match nix::sys::resource::setrlimit(res, r.soft, r.hard) {
            Ok(()) => {}
            Err(Errno::EPERM) => {
                let hard = cur.map(|c| c.1.to_string()).unwrap_or_else(|| "?".into());
                return Err(err(
                    format!("setrlimit {} soft={} hard={}", r.name, r.soft, r.hard),
                    format!("not permitted: the current hard limit is {hard} and raising it needs CAP_SYS_RESOURCE"),
                ));
            }
            Err(e) => {
                return Err(err(
                    format!("setrlimit {} soft={} hard={}", r.name, r.soft, r.hard),
                    e,
                ))
            }
        }
    }
    Ok(())
}

/// Creates process.cwd if the image lacks it (runc does the same); before
/// the root may become read-only.
pub fn ensure_cwd(p: &ProcessPlan) -> Result<(), InitError> {
    std::fs::create_dir_all(&p.cwd).map_err(|e| err(format!("create cwd {}", p.cwd.display()), e))
}

/// Drops the bounding set, switches to the configured user while keeping
/// the permitted set, then sets the configured capability sets.
pub fn switch_user(p: &ProcessPlan) -> Result<(), InitError> {
    let early_cd = nix::unistd::chdir(&p.cwd);
    let supported = caps::runtime::thread_all_supported();
    if let Some(c) = &p.caps {
        for cap in supported.iter() {
            if c.bounding & (1 << cap.index()) == 0 {
                caps::drop(None, CapSet::Bounding, *cap)
                    .map_err(|e| err(format!("drop {cap} from bounding set"), e))?;
            }
        }
    }
    nix::sys::prctl::set_keepcaps(true).map_err(|e| err("set keepcaps", e))?;
    let groups: Vec<Gid> = p
        .additional_gids
        .iter()
        .map(|g| Gid::from_raw(*g))
        .collect();
    match setgroups(&groups) {
        // setgroups is denied in user namespaces with setgroups=deny.
        Err(Errno::EPERM) if groups.is_empty() => {}
        r => r.map_err(|e| err(format!("setgroups {:?}", p.additional_gids), e))?,
    }
    let (g, u) = (Gid::from_raw(p.gid), Uid::from_raw(p.uid));
    setresgid(g, g, g).map_err(|e| err(format!("setresgid {}", p.gid), e))?;
    setresuid(u, u, u).map_err(|e| err(format!("setresuid {}", p.uid), e))?;
    nix::sys::prctl::set_keepcaps(false).map_err(|e| err("clear keepcaps", e))?;
    if let Some(c) = &p.caps {
        apply_caps(c, &supported)?;
    }
    if early_cd.is_err() {
        nix::unistd::chdir(&p.cwd)
            .map_err(|e| err(format!("chdir to cwd {}", p.cwd.display()), e))?;
    }
    if p.no_new_privs {
        nix::sys::prctl::set_no_new_privs().map_err(|e| err("set no_new_privs", e))?;
    }
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(
        p.umask.unwrap_or(0o022),
    ));
    Ok(())
}

fn to_set(mask: u64, supported: &CapsHashSet) -> CapsHashSet {
    supported
        .iter()
        .filter(|c| mask & (1 << c.index()) != 0)
        .copied()
        .collect()
}

fn apply_caps(c: &CapPlan, supported: &CapsHashSet) -> Result<(), InitError> {
    // E must stay a subset of P at every step: shrink E, then set P, then E.
    caps::clear(None, CapSet::Effective).map_err(|e| err("clear effective capabilities", e))?;
    caps::set(None, CapSet::Permitted, &to_set(c.permitted, supported))
        .map_err(|e| err("set permitted capabilities", e))?;
    caps::set(None, CapSet::Inheritable, &to_set(c.inheritable, supported))
        .map_err(|e| err("set inheritable capabilities", e))?;
    caps::set(None, CapSet::Effective, &to_set(c.effective, supported))
        .map_err(|e| err("set effective capabilities", e))?;
    // An ambient capability must also be permitted and inheritable; runc's
    // default spec lists ambient caps without inheritable ones, and runc
    // skips those with a warning. So do we (there is no log here: skip).
    caps::clear(None, CapSet::Ambient).map_err(|e| err("clear ambient capabilities", e))?;
    for cap in to_set(c.ambient, supported) {
        let allowed = c.permitted & c.inheritable & (1 << cap.index()) != 0;
        if allowed {
            caps::raise(None, CapSet::Ambient, cap)
                .map_err(|e| err(format!("raise ambient {cap}"), e))?;
        }
    }
    Ok(())
}

/// Loads the compiled seccomp filter, if any.
pub fn load_seccomp(p: &ProcessPlan) -> Result<(), InitError> {
    match &p.seccomp {
        Some(prog) => crate::sys::seccomp::load_filter(&prog.bpf, prog.flags)
            .map_err(|e| err("load seccomp filter", e)),
        None => Ok(()),
    }
}
