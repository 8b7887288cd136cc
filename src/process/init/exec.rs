//! The last steps: resolve the program, wait for `start`, exec.

use crate::process::protocol::InitError;
use crate::spec::plan::{InitPlan, ProcessPlan};
use crate::state::{OciState, Status};
use oci_spec::runtime::Hook;
use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What `prepare` hands to `wait_and_exec`.
pub struct Program {
    pub path: CString,
    pub env: Vec<CString>,
    pub host_pid: i32,
    /// The sealed trampoline the program is exec'd through (CVE-2019-5736).
    pub trampoline: Option<OwnedFd>,
}

/// Finds the program like execvp, with the container's PATH, and fails at
/// create time (not after `start`) when it is missing, as runc does.
pub fn resolve(
    p: &ProcessPlan,
    host_pid: i32,
    trampoline: Option<OwnedFd>,
) -> Result<Program, InitError> {
    let arg0 = p.args[0].to_string_lossy().into_owned();
    let path = if arg0.contains('/') {
        let path = PathBuf::from(&arg0);
        check_exec(&path).map_err(|e| InitError::new(format!("exec: {arg0:?}"), e))?;
        path
    } else {
        let dirs = env_value(&p.env, "PATH").unwrap_or_else(|| {
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()
        });
        dirs.split(':')
            .map(|d| Path::new(if d.is_empty() { "." } else { d }).join(&arg0))
            .find(|c| check_exec(c).is_ok())
            .ok_or_else(|| {
                InitError::new(
                    format!("exec: {arg0:?}"),
                    "executable file not found in $PATH",
                )
            })?
    };
    let mut env = p.env.clone();
    if env_value(&env, "HOME").is_none() {
        let home = home_of(p.uid).unwrap_or_else(|| "/".into());
        env.push(CString::new(format!("HOME={home}")).unwrap_or_default());
    }
    Ok(Program {
        path: CString::new(path.as_os_str().as_bytes()).map_err(|e| InitError::new("exec", e))?,
        env,
        host_pid,
        trampoline,
    })
}

fn check_exec(path: &Path) -> std::io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if meta.is_dir() {
        return Err(std::io::Error::from_raw_os_error(libc::EISDIR));
    }
    nix::unistd::access(path, nix::unistd::AccessFlags::X_OK).map_err(std::io::Error::from)
}

fn env_value(env: &[CString], key: &str) -> Option<String> {
    env.iter().find_map(|kv| {
        let kv = kv.to_str().ok()?;
        kv.strip_prefix(key)?.strip_prefix('=').map(String::from)
    })
}

/// The home directory of `uid` from the container's /etc/passwd.
fn home_of(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 5 && f[2].parse() == Ok(uid)).then(|| f[5].to_string())
    })
}

fn state_json(plan: &InitPlan, pid: i32, status: Status) -> String {
    OciState::new(&plan.id, status, pid, &plan.bundle, &plan.annotations).to_json()
}

pub fn run_hooks(
    plan: &InitPlan,
    hooks: &[Hook],
    pid: i32,
    status: Status,
) -> Result<(), InitError> {
    if hooks.is_empty() {
        return Ok(());
    }
    let phase = if status == Status::Creating {
        "createContainer"
    } else {
        "startContainer"
    };
    crate::hooks::run_all(hooks, &state_json(plan, pid, status), phase)
        .map_err(|e| InitError::new("hook", e))
}

/// Blocks until `start` writes into exec.fifo, runs the startContainer
/// hooks, closes every fd the container should not get, and execs.
pub fn wait_and_exec(plan: &InitPlan, fifo: OwnedFd, prog: Program) -> ! {
    let mut b = [0u8; 1];
    loop {
        match nix::unistd::read(fifo.as_raw_fd(), &mut b) {
            Err(nix::errno::Errno::EINTR) => continue,
            Ok(1) => break,
            _ => fail("wait for start on exec.fifo", "read failed", 1),
        }
    }
    drop(fifo);
    // runtime-spec: startContainer hooks see the state before the program
    // runs, i.e. still "created" (runc does the same).
    if let Err(e) = run_hooks(
        plan,
        &plan.start_container_hooks,
        prog.host_pid,
        Status::Created,
    ) {
        fail("startContainer", e, 1);
    }
    exec_now(&plan.process, &prog)
}

/// Closes every fd the program should not get, loads the seccomp filter
/// (with no_new_privs: as late as possible, so it only has to allow
/// execve), and execs. Shared by the init and by `exec`.
pub fn exec_now(p: &ProcessPlan, prog: &Program) -> ! {
    if let Err(e) = crate::sys::fs::cloexec_from(3 + p.preserve_fds) {
        fail("close fds", e, 1);
    }
    if p.no_new_privs {
        if let Err(e) = super::creds::load_seccomp(p) {
            fail("seccomp", e, 1);
        }
    }
    let args: Vec<&CStr> = p.args.iter().map(|a| a.as_c_str()).collect();
    let env: Vec<&CStr> = prog.env.iter().map(|a| a.as_c_str()).collect();
    let e = match &prog.trampoline {
        Some(t) => match crate::process::trampoline::exec(t, &prog.path, &args, &env) {
            // A seccomp profile that forbids execveat: exec directly.
            nix::errno::Errno::EPERM | nix::errno::Errno::ENOSYS => {
                nix::unistd::execve(&prog.path, &args, &env).unwrap_err()
            }
            e => e,
        },
        None => nix::unistd::execve(&prog.path, &args, &env).unwrap_err(),
    };
    let code = if e == nix::errno::Errno::ENOENT {
        127
    } else {
        126
    };
    fail(&format!("exec {}", prog.path.to_string_lossy()), e, code)
}

/// After `Ready` the parent is gone; stderr is all that is left.
fn fail(step: &str, e: impl std::fmt::Display, code: i32) -> ! {
    eprintln!("berth: container init: {step}: {e}");
    std::process::exit(code)
}

/// CVE-2019-5736, the child's part: not dumpable until the final execve,
/// so container processes cannot open /proc/<pid>/exe (the host binary)
/// or ptrace it; and the sealed trampoline the program is exec'd through
/// (made now, before seccomp or capability changes might forbid it).
pub fn shield() -> Result<Option<OwnedFd>, InitError> {
    nix::sys::prctl::set_dumpable(false)
        .map_err(|e| InitError::new("prctl(PR_SET_DUMPABLE)", e))?;
    Ok(crate::process::trampoline::sealed().ok())
}

/// The end of a child's set-up: exec the program, or report the failed
/// step to the parent and exit 1.
pub fn finish(
    prepared: Result<Program, InitError>,
    sync: super::super::channel::Channel,
    exec: impl FnOnce(Program) -> std::convert::Infallible,
) -> ! {
    match prepared {
        Ok(prog) => {
            drop(sync);
            match exec(prog) {}
        }
        Err(e) => {
            let _ = sync.send_to_parent(&crate::process::protocol::ChildMsg::Failed(e));
            std::process::exit(1)
        }
    }
}
