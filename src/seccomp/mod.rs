//! OCI `linux.seccomp` -> a BPF program, compiled with libseccomp in the
//! parent (multi-arch, per-rule actions, argument conditions, libseccomp's
//! compact filter). The child only loads the bytes (`sys::seccomp`).

pub mod cache;
pub mod docker;

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{LinuxSeccomp, LinuxSyscall};
use std::str::FromStr;

/// `SECCOMP_FILTER_FLAG_*` (linux/seccomp.h).
pub const FLAG_LOG: u32 = 1 << 1;
pub const FLAG_SPEC_ALLOW: u32 = 1 << 2;

/// A compiled filter, ready for seccomp(SECCOMP_SET_MODE_FILTER).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// `struct sock_filter` array, native endian.
    pub bpf: Vec<u8>,
    pub flags: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    #[error("seccomp: {0}")]
    Profile(String),
    #[error("seccomp: libseccomp: {0}")]
    Lib(#[from] libseccomp::error::SeccompError),
}

fn name_of<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// Maps an OCI action (+ errnoRet) to libseccomp's; errno defaults to EPERM.
fn action<T: serde::Serialize>(a: &T, errno: Option<u32>) -> Result<ScmpAction, SeccompError> {
    let name = name_of(a);
    if name == "SCMP_ACT_NOTIFY" {
        return Err(SeccompError::Profile(
            "SCMP_ACT_NOTIFY (seccomp user notification) is not supported by berth".into(),
        ));
    }
    let val = match name.as_str() {
        "SCMP_ACT_ERRNO" => Some(errno.unwrap_or(libc::EPERM as u32) as i32),
        "SCMP_ACT_TRACE" => Some(errno.unwrap_or(libc::EPERM as u32) as i32),
        _ => None,
    };
    ScmpAction::from_str(&name, val)
        .map_err(|_| SeccompError::Profile(format!("unknown action {name:?}")))
}

fn conditions(sc: &LinuxSyscall) -> Result<Vec<ScmpArgCompare>, SeccompError> {
    let mut out = Vec::new();
    for a in sc.args().iter().flatten() {
        let op_name = name_of(&a.op());
        let op = if op_name == "SCMP_CMP_MASKED_EQ" {
            ScmpCompareOp::MaskedEqual(a.value())
        } else {
            ScmpCompareOp::from_str(&op_name)
                .map_err(|_| SeccompError::Profile(format!("unknown operator {op_name:?}")))?
        };
        let datum = if op_name == "SCMP_CMP_MASKED_EQ" {
            a.value_two().unwrap_or(0)
        } else {
            a.value()
        };
        let index = u32::try_from(a.index())
            .ok()
            .filter(|i| *i < 6)
            .ok_or_else(|| {
                SeccompError::Profile(format!("argument index {} out of range (0-5)", a.index()))
            })?;
        out.push(ScmpArgCompare::new(index, op, datum));
    }
    Ok(out)
}

/// Compiles the profile. Syscall names unknown to libseccomp are skipped
/// (as runc does: profiles list syscalls of newer kernels); rules whose
/// action equals the default action are redundant and skipped too.
pub fn compile(s: &LinuxSeccomp) -> Result<Program, SeccompError> {
    let default = action(&s.default_action(), s.default_errno_ret())?;
    let mut ctx = ScmpFilterContext::new(default)?;
    for arch in s.architectures().iter().flatten() {
        let name = name_of(arch);
        let a = ScmpArch::from_str(&name)
            .map_err(|_| SeccompError::Profile(format!("unknown architecture {name:?}")))?;
        if !ctx.is_arch_present(a)? {
            ctx.add_arch(a)?;
        }
    }
    let mut flags = 0;
    for f in s.flags().iter().flatten() {
        match name_of(f).as_str() {
            "SECCOMP_FILTER_FLAG_LOG" => flags |= FLAG_LOG,
            "SECCOMP_FILTER_FLAG_SPEC_ALLOW" => flags |= FLAG_SPEC_ALLOW,
            // Single-threaded at load time: TSYNC changes nothing.
            "SECCOMP_FILTER_FLAG_TSYNC" => {}
            other => return Err(SeccompError::Profile(format!("unsupported flag {other:?}"))),
        }
    }
    for sc in s.syscalls().iter().flatten() {
        // defaultErrnoRet is for the default action only; a rule's own
        // errno defaults to EPERM (runtime-spec config-linux.md, as runc).
        let act = action(&sc.action(), sc.errno_ret())?;
        if act == default {
            continue;
        }
        let conds = conditions(sc)?;
        let mut indexes: Vec<u32> = sc
            .args()
            .iter()
            .flatten()
            .map(|a| a.index() as u32)
            .collect();
        indexes.sort_unstable();
        let repeated = indexes.windows(2).any(|w| w[0] == w[1]);
        for name in sc.names() {
            let Ok(call) = ScmpSyscall::from_name(name) else {
                continue;
            };
            if conds.is_empty() {
                ctx.add_rule(act, call)?;
            } else if repeated {
                // libseccomp refuses two conditions on one argument in a rule:
                // one rule each, OR-ed (runc does the same).
                for c in &conds {
                    ctx.add_rule_conditional(act, call, std::slice::from_ref(c))?;
                }
            } else {
                ctx.add_rule_conditional(act, call, &conds)?;
            }
        }
    }
    Ok(Program {
        bpf: export(&ctx)?,
        flags,
    })
}

/// The BPF bytes, through a memfd (libseccomp writes to an fd).
fn export(ctx: &ScmpFilterContext) -> Result<Vec<u8>, SeccompError> {
    use std::io::{Read, Seek};
    let fd = nix::sys::memfd::memfd_create(
        c"berth-seccomp",
        nix::sys::memfd::MemFdCreateFlag::MFD_CLOEXEC,
    )
    .map_err(|e| SeccompError::Profile(format!("memfd_create: {e}")))?;
    let mut f = std::fs::File::from(fd);
    ctx.export_bpf(&f)?;
    let mut bpf = Vec::new();
    f.rewind()
        .and_then(|_| f.read_to_end(&mut bpf))
        .map_err(|e| SeccompError::Profile(format!("read compiled filter: {e}")))?;
    Ok(bpf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(v: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn compiles_a_small_profile_with_conditions() {
        let p = compile(&profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
                {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_NE"}]},
                {"names": ["clone"], "action": "SCMP_ACT_ERRNO",
                 "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
                {"names": ["no_such_syscall_xyz"], "action": "SCMP_ACT_KILL"},
                {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}
            ]
        })))
        .unwrap();
        assert!(!p.bpf.is_empty() && p.bpf.len() % 8 == 0);
        assert_eq!(p.flags, 0);
    }

    #[test]
    fn notify_is_refused_and_flags_map() {
        let e = compile(&profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
        })))
        .unwrap_err();
        assert!(e.to_string().contains("SCMP_ACT_NOTIFY"), "{e}");
        let p = compile(&profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]
        })))
        .unwrap();
        assert_eq!(p.flags, FLAG_LOG | FLAG_SPEC_ALLOW);
    }

    #[test]
    fn bad_argument_index_is_an_error() {
        let e = compile(&profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                          "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]
        })))
        .unwrap_err();
        assert!(e.to_string().contains("index 7"), "{e}");
    }
}
