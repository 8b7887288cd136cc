//! The container process as `process` in config.json describes it: args,
//! env, cwd, user, umask, rlimits, capabilities, no_new_privs, oom score,
//! terminal (console socket and foreground relay), preserved and leaked
//! fds, and the six OCI hooks around it.
mod common;
use common::*;

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{IoSliceMut, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------- helpers

/// Runs `args` in a container built from the default bundle after `edit`;
/// asserts exit 0 and returns stdout.
fn output_with(args: &[&str], edit: impl FnOnce(&mut Bundle)) -> String {
    let rt = Runtime::new();
    let mut b = Bundle::new(args);
    edit(&mut b);
    rt.output_of(&b)
}

fn lines(s: &str) -> Vec<&str> {
    s.lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect()
}

/// The `CapXxx:` lines of `probe caps` (or /proc/PID/status) as masks.
fn cap_masks(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            if !k.starts_with("Cap") {
                return None;
            }
            Some((k.to_string(), u64::from_str_radix(v.trim(), 16).ok()?))
        })
        .collect()
}

fn mask(caps: &[u32]) -> u64 {
    caps.iter().fold(0, |m, c| m | 1u64 << c)
}

const CAP_CHOWN: u32 = 0;
const CAP_KILL: u32 = 5;
const CAP_NET_BIND_SERVICE: u32 = 10;
const CAP_SYS_ADMIN: u32 = 21;
const CAP_AUDIT_WRITE: u32 = 29;

/// What a detached `create` left behind: its status, its stderr, and the
/// files the container's stdout/stderr go to. A container's init keeps the
/// stdio of `create`, so pipes would block a reader until it exits: runc
/// clients pass files or ptys, and so do these tests.
struct Detached {
    status: ExitStatus,
    stderr: String,
    out: PathBuf,
}

fn create_detached(rt: &Runtime, b: &Bundle, id: &str, extra: &[&str], io: &TempDir) -> Detached {
    let out = io.path().join(format!("{id}.out"));
    let err = io.path().join(format!("{id}.err"));
    let mut args = vec!["create", "--bundle", b.dir()];
    args.extend_from_slice(extra);
    args.push(id);
    let status = rt
        .cmd(&args)
        .stdout(File::create(&out).unwrap())
        .stderr(File::create(&err).unwrap())
        .status()
        .expect("spawn berth create");
    let stderr = std::fs::read_to_string(&err).unwrap_or_default();
    Detached {
        status,
        stderr,
        out,
    }
}

fn status_of(rt: &Runtime, id: &str) -> String {
    rt.state(id)["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

fn wait_stopped(rt: &Runtime, id: &str) {
    assert!(
        wait_for(10.0, || status_of(rt, id) == "stopped"),
        "container {id} did not stop: {}",
        rt.state(id)
    );
}

/// create (stdio to files) + start + wait until stopped; returns stdout.
fn create_start_output(rt: &Runtime, b: &Bundle) -> String {
    let io = TempDir::new("io");
    let id = unique("cs");
    let d = create_detached(rt, b, &id, &[], &io);
    assert!(d.status.success(), "create failed: {}", d.stderr);
    rt.ok(&["start", &id]);
    wait_stopped(rt, &id);
    let out = std::fs::read_to_string(&d.out).unwrap();
    rt.ok(&["delete", &id]);
    out
}

fn write_script(path: &Path, body: &str) {
    std::fs::write(path, body).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Asserts a failed create/run: exit code 1, exactly one line on stderr,
/// containing every `needle`, and no container left in the root.
fn assert_one_line_failure(rt: &Runtime, args: &[&str], needles: &[&str]) -> String {
    let out = rt.run(args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(1),
        "berth {args:?}: expected exit 1, stderr={stderr}"
    );
    assert_eq!(
        lines(&stderr).len(),
        1,
        "berth {args:?}: expected one error line, got: {stderr:?}"
    );
    for n in needles {
        assert!(
            stderr.contains(n),
            "berth {args:?}: stderr should mention {n:?}: {stderr}"
        );
    }
    assert!(
        rt.ids().is_empty(),
        "a failed {args:?} left state behind: {:?}",
        rt.ids()
    );
    stderr
}

// ---------------------------------------------------- 1. args, env, cwd

#[test]
fn env_vars_are_visible_in_order() {
    let out = output_with(&["/bin/probe", "env"], |b| {
        b.set(
            "/process/env",
            json!([
                "PATH=/bin:/usr/bin",
                "FOO=bar baz",
                "EMPTY=",
                "HOME=/h",
                "LAST=x=y"
            ]),
        );
    });
    assert_eq!(
        lines(&out),
        [
            "PATH=/bin:/usr/bin",
            "FOO=bar baz",
            "EMPTY=",
            "HOME=/h",
            "LAST=x=y"
        ]
    );
}

#[test]
fn args_are_passed_verbatim() {
    let out = output_with(&["/bin/probe", "echo", "a  b", "", "*", "$HOME"], |_| {});
    assert_eq!(out, "a  b  * $HOME\n");
}

#[test]
fn cwd_is_honoured() {
    let out = output_with(&["/bin/probe", "cwd"], |b| {
        b.set("/process/cwd", json!("/tmp"));
    });
    assert_eq!(out.trim(), "/tmp");
}

#[test]
fn cwd_missing_from_image_is_created() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["/bin/probe", "cwd"]);
    let rootfs = b.private_rootfs();
    assert!(!rootfs.join("made/by/berth").exists());
    b.set("/process/cwd", json!("/made/by/berth"));
    assert_eq!(rt.output_of(&b).trim(), "/made/by/berth");
    assert!(
        rootfs.join("made/by/berth").is_dir(),
        "cwd should now exist in the rootfs"
    );
}

#[test]
fn home_from_passwd_for_non_root_user() {
    let out = output_with(&["/bin/probe", "env"], |b| {
        b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
    });
    let homes: Vec<_> = lines(&out)
        .into_iter()
        .filter(|l| l.starts_with("HOME="))
        .collect();
    assert_eq!(homes, ["HOME=/home/user"], "env: {out}");
}

#[test]
fn home_from_passwd_for_root() {
    let out = output_with(&["/bin/probe", "env"], |_| {});
    let homes: Vec<_> = lines(&out)
        .into_iter()
        .filter(|l| l.starts_with("HOME="))
        .collect();
    assert_eq!(homes, ["HOME=/root"], "env: {out}");
}

#[test]
fn home_from_env_is_kept() {
    let out = output_with(&["/bin/probe", "env"], |b| {
        b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
        b.push("/process/env", json!("HOME=/custom/home"));
    });
    let homes: Vec<_> = lines(&out)
        .into_iter()
        .filter(|l| l.starts_with("HOME="))
        .collect();
    assert_eq!(homes, ["HOME=/custom/home"], "env: {out}");
}

// ------------------------------------------------------------- 2. user

#[test]
fn user_uid_gid_and_additional_gids() {
    let out = output_with(&["/bin/probe", "id"], |b| {
        b.set(
            "/process/user",
            json!({"uid": 1000, "gid": 1000, "additionalGids": [100, 2000]}),
        );
    });
    assert_eq!(out.trim(), "uid=1000 gid=1000 groups=100,2000");
}

#[test]
fn root_user_has_no_supplementary_groups() {
    let out = output_with(&["/bin/probe", "id"], |_| {});
    assert_eq!(out.trim(), "uid=0 gid=0 groups=");
}

#[test]
fn umask_from_config() {
    let out = output_with(&["/bin/probe", "status", "Umask"], |b| {
        // 23 decimal = 0o27.
        b.set(
            "/process/user",
            json!({"uid": 1000, "gid": 1000, "umask": 23}),
        );
    });
    assert_eq!(out.trim(), "0027");
}

#[test]
fn umask_defaults_to_0022() {
    let out = output_with(&["/bin/probe", "status", "Umask"], |_| {});
    assert_eq!(out.trim(), "0022");
}

// ---------------------------------------------------------- 3. rlimits

#[test]
fn rlimit_nofile_soft_and_hard() {
    let out = output_with(&["/bin/probe", "limit", "nofile"], |b| {
        b.set(
            "/process/rlimits",
            json!([{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 4096}]),
        );
    });
    assert_eq!(out.trim(), "512 4096");
}

#[test]
fn rlimit_core_soft_and_hard() {
    let out = output_with(&["/bin/probe", "limit", "core"], |b| {
        b.set(
            "/process/rlimits",
            json!([
                {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024},
                {"type": "RLIMIT_CORE", "soft": 1000, "hard": 2000}
            ]),
        );
    });
    assert_eq!(out.trim(), "1000 2000");
}

/// Whether this test process holds CAP_SYS_RESOURCE. Root on the CI
/// machines does not (their sandbox drops it); root in the test VM does.
/// Tests of limits that need it assert the refusal without it and the
/// applied value with it.
fn have_cap_sys_resource() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let eff = status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .expect("CapEff in /proc/self/status");
    const CAP_SYS_RESOURCE: u32 = 24;
    u64::from_str_radix(eff.trim(), 16).unwrap() & (1 << CAP_SYS_RESOURCE) != 0
}

fn nofile_above_host_hard_limit() -> Bundle {
    let mut b = Bundle::new(&["/bin/probe", "limit", "nofile"]);
    b.set(
        "/process/rlimits",
        json!([{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1048576}]),
    );
    b
}

#[test]
fn rlimit_above_host_hard_limit_fails_create_with_one_clear_line() {
    let rt = Runtime::new();
    let b = nofile_above_host_hard_limit();
    if have_cap_sys_resource() {
        assert_eq!(create_start_output(&rt, &b).trim(), "1024 1048576");
        return;
    }
    let id = unique("rl");
    assert_one_line_failure(
        &rt,
        &["create", "--bundle", b.dir(), &id],
        &["RLIMIT_NOFILE", "CAP_SYS_RESOURCE"],
    );
}

#[test]
fn rlimit_above_host_hard_limit_fails_run_with_one_clear_line() {
    let rt = Runtime::new();
    let b = nofile_above_host_hard_limit();
    if have_cap_sys_resource() {
        assert_eq!(rt.output_of(&b).trim(), "1024 1048576");
        return;
    }
    let id = unique("rl");
    assert_one_line_failure(
        &rt,
        &["run", "--bundle", b.dir(), &id],
        &["RLIMIT_NOFILE", "CAP_SYS_RESOURCE"],
    );
}

// ----------------------------------------------------- 4. capabilities

/// The capability sets of a root process in the runtime-spec example
/// style, all five different.
fn distinct_cap_sets(b: &mut Bundle) {
    b.set(
        "/process/capabilities",
        json!({
            "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_SYS_ADMIN", "CAP_AUDIT_WRITE"],
            "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "effective": ["CAP_CHOWN", "CAP_KILL"],
            "inheritable": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
            "ambient": ["CAP_NET_BIND_SERVICE"]
        }),
    );
}

#[test]
fn capability_sets_are_applied_exactly_before_exec() {
    // Between create and start the init has set every capability set and
    // waits: /proc/PID/status shows the configured masks before execve's
    // transformation.
    let rt = Runtime::new();
    let io = TempDir::new("io");
    let mut b = Bundle::new(&["/bin/probe", "caps"]);
    distinct_cap_sets(&mut b);
    let id = unique("caps");
    let d = create_detached(&rt, &b, &id, &[], &io);
    assert!(d.status.success(), "create failed: {}", d.stderr);
    let pid = rt.state(&id)["pid"].as_i64().unwrap();
    let m = cap_masks(&std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap());
    assert_eq!(
        m["CapBnd"],
        mask(&[
            CAP_CHOWN,
            CAP_KILL,
            CAP_NET_BIND_SERVICE,
            CAP_SYS_ADMIN,
            CAP_AUDIT_WRITE
        ])
    );
    assert_eq!(
        m["CapPrm"],
        mask(&[CAP_CHOWN, CAP_KILL, CAP_NET_BIND_SERVICE])
    );
    assert_eq!(m["CapEff"], mask(&[CAP_CHOWN, CAP_KILL]));
    assert_eq!(m["CapInh"], mask(&[CAP_KILL, CAP_NET_BIND_SERVICE]));
    assert_eq!(m["CapAmb"], mask(&[CAP_NET_BIND_SERVICE]));
    rt.ok(&["delete", "--force", &id]);
}

#[test]
fn capability_sets_seen_by_root_process_with_no_new_privs() {
    // After execve as uid 0 without file capabilities the kernel computes
    // P' = E' = bounding | inheritable | ambient, and no_new_privs caps P'
    // at the permitted set held before execve: so P' = E' = permitted.
    // Bounding, inheritable and ambient stay as configured.
    let out = output_with(&["/bin/probe", "caps"], |b| {
        distinct_cap_sets(b);
        b.set("/process/noNewPrivileges", json!(true));
    });
    let m = cap_masks(&out);
    let prm = mask(&[CAP_CHOWN, CAP_KILL, CAP_NET_BIND_SERVICE]);
    assert_eq!(
        m["CapBnd"],
        mask(&[
            CAP_CHOWN,
            CAP_KILL,
            CAP_NET_BIND_SERVICE,
            CAP_SYS_ADMIN,
            CAP_AUDIT_WRITE
        ]),
        "{out}"
    );
    assert_eq!(
        m["CapInh"],
        mask(&[CAP_KILL, CAP_NET_BIND_SERVICE]),
        "{out}"
    );
    assert_eq!(m["CapAmb"], mask(&[CAP_NET_BIND_SERVICE]), "{out}");
    assert_eq!(m["CapPrm"], prm, "{out}");
    assert_eq!(m["CapEff"], prm, "{out}");
}

#[test]
fn capability_sets_seen_by_root_process_without_no_new_privs() {
    // Without no_new_privs, root's execve grants P' = E' = the bounding set
    // (inheritable and ambient are subsets of it here).
    let out = output_with(&["/bin/probe", "caps"], |b| {
        distinct_cap_sets(b);
        b.set("/process/noNewPrivileges", json!(false));
    });
    let m = cap_masks(&out);
    let bnd = mask(&[
        CAP_CHOWN,
        CAP_KILL,
        CAP_NET_BIND_SERVICE,
        CAP_SYS_ADMIN,
        CAP_AUDIT_WRITE,
    ]);
    assert_eq!(m["CapBnd"], bnd, "{out}");
    assert_eq!(
        m["CapInh"],
        mask(&[CAP_KILL, CAP_NET_BIND_SERVICE]),
        "{out}"
    );
    assert_eq!(m["CapAmb"], mask(&[CAP_NET_BIND_SERVICE]), "{out}");
    assert_eq!(m["CapPrm"], bnd, "{out}");
    assert_eq!(m["CapEff"], bnd, "{out}");
}

#[test]
fn empty_capability_sets_give_all_zero() {
    let out = output_with(&["/bin/probe", "caps"], |b| {
        b.set(
            "/process/capabilities",
            json!({"bounding": [], "effective": [], "permitted": [], "inheritable": [], "ambient": []}),
        );
    });
    let m = cap_masks(&out);
    assert_eq!(m.len(), 5, "{out}");
    for (k, v) in &m {
        assert_eq!(*v, 0, "{k} should be 0: {out}");
    }
}

#[test]
fn non_root_user_keeps_ambient_capability_effective() {
    let out = output_with(&["/bin/probe", "caps"], |b| {
        b.set("/process/user", json!({"uid": 1000, "gid": 1000}));
        b.set(
            "/process/capabilities",
            json!({
                "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_NET_BIND_SERVICE"],
                "inheritable": ["CAP_NET_BIND_SERVICE"],
                "ambient": ["CAP_NET_BIND_SERVICE"]
            }),
        );
    });
    let m = cap_masks(&out);
    let nbs = mask(&[CAP_NET_BIND_SERVICE]);
    assert_eq!(m["CapEff"], nbs, "{out}");
    assert_eq!(m["CapPrm"], nbs, "{out}");
    assert_eq!(m["CapInh"], nbs, "{out}");
    assert_eq!(m["CapAmb"], nbs, "{out}");
    assert_eq!(
        m["CapBnd"],
        mask(&[CAP_KILL, CAP_NET_BIND_SERVICE]),
        "{out}"
    );
}

#[test]
fn unknown_capability_is_refused_at_create() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["/bin/probe", "caps"]);
    b.push("/process/capabilities/bounding", json!("CAP_BOGUS"));
    let id = unique("bogus");
    let err = rt.fails(&["create", "--bundle", b.dir(), &id]);
    assert!(
        err.contains("CAP_BOGUS"),
        "error should name the capability: {err}"
    );
    assert_eq!(lines(&err).len(), 1, "one error line: {err:?}");
    assert!(rt.ids().is_empty(), "no state: {:?}", rt.ids());
}

// -------------------------------------------------- 5. noNewPrivileges

#[test]
fn no_new_privileges_true_sets_the_flag() {
    let out = output_with(&["/bin/probe", "status", "NoNewPrivs"], |b| {
        b.set("/process/noNewPrivileges", json!(true));
    });
    assert_eq!(out.trim(), "1");
}

#[test]
fn no_new_privileges_false_leaves_the_flag_clear() {
    let out = output_with(&["/bin/probe", "status", "NoNewPrivs"], |b| {
        b.set("/process/noNewPrivileges", json!(false));
    });
    assert_eq!(out.trim(), "0");
}

// ------------------------------------------------------ 6. oomScoreAdj

#[test]
fn oom_score_adj_positive_is_applied() {
    let out = output_with(&["/bin/probe", "oom"], |b| {
        b.set("/process/oomScoreAdj", json!(500));
    });
    assert_eq!(out.trim(), "500");
}

#[test]
fn oom_score_adj_negative_fails_without_cap_sys_resource() {
    // Lowering oom_score_adj below the current value needs
    // CAP_SYS_RESOURCE.
    let rt = Runtime::new();
    let own: i32 = std::fs::read_to_string("/proc/self/oom_score_adj")
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let mut b = Bundle::new(&["/bin/probe", "oom"]);
    b.set("/process/oomScoreAdj", json!(own - 500));
    if have_cap_sys_resource() {
        assert_eq!(rt.output_of(&b).trim(), (own - 500).to_string());
        return;
    }
    let id = unique("oom");
    assert_one_line_failure(
        &rt,
        &["run", "--bundle", b.dir(), &id],
        &["oomScoreAdj", "CAP_SYS_RESOURCE"],
    );
}

// ------------------------------------------- 7. terminal, console socket

/// A console-socket server: accepts one connection and receives the fd
/// and payload sent with it.
struct ConsoleServer {
    _dir: TempDir,
    path: PathBuf,
    handle: std::thread::JoinHandle<Result<(OwnedFd, String), String>>,
}

impl ConsoleServer {
    fn new() -> ConsoleServer {
        let dir = TempDir::new("console");
        let path = dir.path().join("console.sock");
        let listener = UnixListener::bind(&path).unwrap();
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().map_err(|e| format!("accept: {e}"))?;
            recv_fd(stream.as_raw_fd())
        });
        ConsoleServer {
            _dir: dir,
            path,
            handle,
        }
    }

    fn path(&self) -> &str {
        self.path.to_str().unwrap()
    }

    /// Waits (bounded) for the fd the runtime sent.
    fn received(self) -> (OwnedFd, String) {
        assert!(
            wait_for(10.0, || self.handle.is_finished()),
            "no connection on the console socket"
        );
        self.handle.join().unwrap().expect("receive pty master")
    }
}

fn recv_fd(sock: RawFd) -> Result<(OwnedFd, String), String> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut buf = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([RawFd; 2]);
    // MSG_CMSG_CLOEXEC: other tests fork berth concurrently; the master
    // must not leak into them.
    let msg = recvmsg::<()>(sock, &mut iov, Some(&mut cmsg), MsgFlags::MSG_CMSG_CLOEXEC)
        .map_err(|e| format!("recvmsg: {e}"))?;
    let n = msg.bytes;
    let mut fds = Vec::new();
    for c in msg.cmsgs().map_err(|e| format!("cmsgs: {e}"))? {
        if let ControlMessageOwned::ScmRights(v) = c {
            fds.extend(v);
        }
    }
    let owned: Vec<OwnedFd> = fds
        .into_iter()
        // SAFETY: each fd was just installed in this process by recvmsg
        // (SCM_RIGHTS) and is owned by nothing else.
        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) })
        .collect();
    if owned.len() != 1 {
        return Err(format!("expected exactly one fd, got {}", owned.len()));
    }
    let payload = String::from_utf8_lossy(&buf[..n]).into_owned();
    Ok((owned.into_iter().next().unwrap(), payload))
}

/// Reads a pty master until the slave side is gone (EIO) or `secs` pass.
fn read_pty(master: OwnedFd, secs: u64) -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut f = File::from(master);
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = f.read(&mut buf) {
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        let _ = tx.send(out);
    });
    let out = rx
        .recv_timeout(Duration::from_secs(secs))
        .unwrap_or_default();
    String::from_utf8_lossy(&out).into_owned()
}

fn terminal_bundle(args: &[&str]) -> Bundle {
    let mut b = Bundle::new(args);
    b.set("/process/terminal", json!(true));
    b
}

#[test]
fn console_socket_receives_pty_master_and_stdio_is_a_tty() {
    let rt = Runtime::new();
    let b = terminal_bundle(&["/bin/probe", "isatty"]);
    let server = ConsoleServer::new();
    let id = unique("tty");
    let out = rt.run(&[
        "create",
        "--bundle",
        b.dir(),
        "--console-socket",
        server.path(),
        &id,
    ]);
    assert!(
        out.status.success(),
        "create: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (master, payload) = server.received();
    assert!(
        payload.trim_end_matches('\0').starts_with("/dev/pts/"),
        "payload should be the pty's /dev/pts path: {payload:?}"
    );
    rt.ok(&["start", &id]);
    let text = read_pty(master, 10);
    assert!(text.contains("0:yes 1:yes 2:yes"), "pty output: {text:?}");
    wait_stopped(&rt, &id);
    rt.ok(&["delete", &id]);
}

#[test]
fn terminal_without_console_socket_is_refused_by_create() {
    let rt = Runtime::new();
    let b = terminal_bundle(&["/bin/probe", "isatty"]);
    let id = unique("tty");
    let err = rt.fails(&["create", "--bundle", b.dir(), &id]);
    assert!(
        err.contains("console socket"),
        "error should say a console socket is needed: {err}"
    );
    assert!(rt.ids().is_empty(), "no state: {:?}", rt.ids());
}

#[test]
fn console_socket_without_terminal_is_refused() {
    let rt = Runtime::new();
    let b = Bundle::new(&["/bin/probe", "isatty"]);
    let server = ConsoleServer::new();
    let id = unique("tty");
    let err = rt.fails(&[
        "create",
        "--bundle",
        b.dir(),
        "--console-socket",
        server.path(),
        &id,
    ]);
    assert!(
        err.contains("console socket"),
        "error should name the console socket: {err}"
    );
    assert!(rt.ids().is_empty(), "no state: {:?}", rt.ids());
}

// ---------------------------------------- 8. foreground run with a pty

#[test]
fn foreground_run_relays_the_pty() {
    let rt = Runtime::new();
    let b = terminal_bundle(&["/bin/probe", "isatty"]);
    let (code, out, err) = rt.run_bundle(&b, &unique("fg"));
    assert_eq!(code, 0, "run failed: {err}");
    assert!(
        out.contains("0:yes 1:yes 2:yes"),
        "relayed output: {out:?} stderr={err}"
    );
    assert!(rt.ids().is_empty(), "run leaves no state: {:?}", rt.ids());
}

#[test]
fn foreground_run_relays_pty_with_piped_stdin() {
    let rt = Runtime::new();
    let b = terminal_bundle(&["/bin/sh", "-c", "read line; echo got:$line"]);
    let id = unique("fg");
    let mut child = rt
        .cmd(&["run", "--bundle", b.dir(), &id])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"hello\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("got:hello"), "relayed output: {text:?}");
}

// ------------------------------------------------------ 9. preserve-fds

/// Runs berth through `sh` so that fd 3 is open on `file` (not
/// close-on-exec) when berth starts.
fn run_with_fd3(
    rt: &Runtime,
    b: &Bundle,
    file: &Path,
    preserve: Option<&str>,
) -> (i32, String, String) {
    let id = unique("pfd");
    let script = r#"exec 3<"$1"; shift; exec "$@""#;
    let mut args: Vec<String> = vec![
        berth_bin().display().to_string(),
        "--root".into(),
        rt.root.path().display().to_string(),
        "run".into(),
        "--bundle".into(),
        b.dir().into(),
    ];
    if let Some(n) = preserve {
        args.push("--preserve-fds".into());
        args.push(n.into());
    }
    args.push(id);
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("sh")
        .arg(file)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fd_numbers(out: &str) -> Vec<u32> {
    lines(out)
        .iter()
        .filter_map(|l| l.split(" -> ").next()?.trim().parse().ok())
        .collect()
}

#[test]
fn preserve_fds_passes_fd_3() {
    let rt = Runtime::new();
    let tmp = TempDir::new("pfd");
    let marker = tmp.path().join("preserved-marker");
    std::fs::write(&marker, "x").unwrap();
    let b = Bundle::new(&["/bin/probe", "fds"]);
    let (code, out, err) = run_with_fd3(&rt, &b, &marker, Some("1"));
    assert_eq!(code, 0, "run failed: {err}");
    assert_eq!(fd_numbers(&out), [0, 1, 2, 3], "fds: {out}");
    let fd3 = lines(&out)
        .into_iter()
        .find(|l| l.starts_with("3 -> "))
        .unwrap();
    assert!(
        fd3.ends_with("preserved-marker"),
        "fd 3 should be the marker file: {fd3}"
    );
}

#[test]
fn without_preserve_fds_fd_3_is_closed() {
    let rt = Runtime::new();
    let tmp = TempDir::new("pfd");
    let marker = tmp.path().join("preserved-marker");
    std::fs::write(&marker, "x").unwrap();
    let b = Bundle::new(&["/bin/probe", "fds"]);
    let (code, out, err) = run_with_fd3(&rt, &b, &marker, None);
    assert_eq!(code, 0, "run failed: {err}");
    assert_eq!(fd_numbers(&out), [0, 1, 2], "fds: {out}");
    assert!(!out.contains("preserved-marker"), "fds: {out}");
}

// ------------------------------------------- 10. fd leaks, CVE-2024-21626

#[test]
fn run_leaks_no_runtime_fds() {
    let out = output_with(&["/bin/probe", "fds"], |_| {});
    assert_eq!(fd_numbers(&out), [0, 1, 2], "only stdio may be open: {out}");
}

#[test]
fn create_start_leaks_no_runtime_fds() {
    let rt = Runtime::new();
    let b = Bundle::new(&["/bin/probe", "fds"]);
    let out = create_start_output(&rt, &b);
    assert_eq!(fd_numbers(&out), [0, 1, 2], "only stdio may be open: {out}");
    assert!(!out.contains("exec.fifo"), "{out}");
    assert!(!out.contains("socket:"), "{out}");
}

#[test]
fn proc_cwd_links_resolve_inside_the_container() {
    let out = output_with(
        &[
            "/bin/sh",
            "-c",
            "/bin/probe readlink /proc/self/cwd; /bin/probe readlink /proc/1/cwd",
        ],
        |b| {
            b.set("/process/cwd", json!("/tmp"));
        },
    );
    assert_eq!(lines(&out), ["/tmp", "/tmp"], "cwd links: {out}");
}

// ------------------------------------------------------------- 11. hooks

/// A hook script (for the host's /bin/sh or busybox sh) that appends
/// `$1 TAB $2 TAB $HOOK_ENV TAB <state JSON>` to $HOOK_LOG.
const HOOK_SCRIPT: &str = "#!/bin/sh\nstate=$(cat)\nprintf '%s\\t%s\\t%s\\t%s\\n' \"$1\" \"$2\" \"$HOOK_ENV\" \"$state\" >> \"$HOOK_LOG\"\n";

fn hook(path: &Path, phase: &str, log: &Path) -> Value {
    json!({
        "path": path,
        "args": ["hook", phase, "two words"],
        "env": [
            "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
            format!("HOOK_ENV=env-{phase}"),
            format!("HOOK_LOG={}", log.display()),
        ]
    })
}

struct HookEntry {
    phase: String,
    arg2: String,
    env: String,
    state: Value,
}

fn read_hook_log(log: &Path) -> Vec<HookEntry> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.splitn(4, '\t').collect();
            assert_eq!(f.len(), 4, "malformed hook log line: {l:?}");
            HookEntry {
                phase: f[0].into(),
                arg2: f[1].into(),
                env: f[2].into(),
                state: serde_json::from_str(f[3])
                    .unwrap_or_else(|e| panic!("state of {}: {e}: {}", f[0], f[3])),
            }
        })
        .collect()
}

/// A bundle with a private rootfs holding the in-container hook script at
/// /berth-start-hook.sh, and the host dir `logdir` bind-mounted at
/// /hooklog. Returns (bundle, host hook script path).
fn hook_bundle(args: &[&str], logdir: &Path) -> (Bundle, PathBuf) {
    let mut b = Bundle::new(args);
    let rootfs = b.private_rootfs();
    write_script(&rootfs.join("berth-start-hook.sh"), HOOK_SCRIPT);
    let host_script = logdir.join("hook.sh");
    write_script(&host_script, HOOK_SCRIPT);
    b.push(
        "/mounts",
        json!({"destination": "/hooklog", "type": "bind", "source": logdir, "options": ["rbind", "rw"]}),
    );
    (b, host_script)
}

fn all_hooks(b: &mut Bundle, host_script: &Path, log: &Path) {
    b.set(
        "/hooks",
        json!({
            "prestart": [hook(host_script, "prestart", log)],
            "createRuntime": [hook(host_script, "createRuntime", log)],
            "createContainer": [hook(host_script, "createContainer", log)],
            "startContainer": [hook(Path::new("/berth-start-hook.sh"), "startContainer", Path::new("/hooklog/log"))],
            "poststart": [hook(host_script, "poststart", log)],
            "poststop": [hook(host_script, "poststop", log)],
        }),
    );
}

#[test]
fn hooks_run_in_order_with_state_args_and_env() {
    let rt = Runtime::new();
    let logdir = TempDir::new("hooklog");
    let log = logdir.path().join("log");
    let (mut b, host_script) = hook_bundle(&["/bin/probe", "echo", "hi"], logdir.path());
    assert!(
        !Path::new("/berth-start-hook.sh").exists(),
        "startContainer's path must exist only in the container"
    );
    all_hooks(&mut b, &host_script, &log);
    let io = TempDir::new("io");
    let id = unique("hooks");
    let d = create_detached(&rt, &b, &id, &[], &io);
    assert!(d.status.success(), "create failed: {}", d.stderr);
    let pid = rt.state(&id)["pid"].as_i64().unwrap();
    rt.ok(&["start", &id]);
    wait_stopped(&rt, &id);
    rt.ok(&["delete", &id]);

    let entries = read_hook_log(&log);
    let phases: Vec<&str> = entries.iter().map(|e| e.phase.as_str()).collect();
    assert_eq!(phases.len(), 6, "each hook runs once: {phases:?}");
    assert_eq!(
        phases[..3],
        ["prestart", "createRuntime", "createContainer"],
        "{phases:?}"
    );
    let mut middle = phases[3..5].to_vec();
    middle.sort();
    assert_eq!(middle, ["poststart", "startContainer"], "{phases:?}");
    assert_eq!(phases[5], "poststop", "{phases:?}");

    let expected_status = |phase: &str| match phase {
        "prestart" | "createRuntime" | "createContainer" => "creating",
        // runtime-spec: startContainer runs before the user process is
        // executed, so the container is still "created" (runc passes
        // StateCreated too).
        "startContainer" => "created",
        "poststart" => "running",
        _ => "stopped",
    };
    let mut wrong = Vec::new();
    for e in &entries {
        assert_eq!(e.arg2, "two words", "args of {}", e.phase);
        assert_eq!(e.env, format!("env-{}", e.phase), "env of {}", e.phase);
        assert_eq!(e.state["id"], json!(id), "id in {} state", e.phase);
        assert_eq!(
            e.state["bundle"],
            json!(b.dir()),
            "bundle in {} state",
            e.phase
        );
        assert!(
            e.state["ociVersion"].is_string(),
            "ociVersion in {} state",
            e.phase
        );
        if e.phase != "poststop" {
            assert_eq!(
                e.state["pid"],
                json!(pid),
                "pid in {} state: {}",
                e.phase,
                e.state
            );
        }
        if e.state["status"] != json!(expected_status(&e.phase)) {
            wrong.push(format!(
                "{}: status {} (expected {})",
                e.phase,
                e.state["status"],
                expected_status(&e.phase)
            ));
        }
    }
    assert!(wrong.is_empty(), "wrong status in hook state: {wrong:?}");
}

#[test]
fn poststart_runs_after_start_container_hooks_finish() {
    // runtime-spec lifecycle: startContainer hooks run before the user
    // process is executed (step 6-7); poststart hooks after it (step 8).
    // A slow startContainer hook makes a race visible.
    let rt = Runtime::new();
    let logdir = TempDir::new("hooklog");
    let log = logdir.path().join("log");
    let (mut b, host_script) = hook_bundle(&["/bin/probe", "echo", "hi"], logdir.path());
    let rootfs = b.dir.path().join("rootfs");
    write_script(
        &rootfs.join("berth-start-hook.sh"),
        &HOOK_SCRIPT.replace("state=$(cat)", "state=$(cat)\nsleep 1"),
    );
    b.set(
        "/hooks",
        json!({
            "startContainer": [hook(Path::new("/berth-start-hook.sh"), "startContainer", Path::new("/hooklog/log"))],
            "poststart": [hook(&host_script, "poststart", &log)],
        }),
    );
    let io = TempDir::new("io");
    let id = unique("order");
    let d = create_detached(&rt, &b, &id, &[], &io);
    assert!(d.status.success(), "create failed: {}", d.stderr);
    rt.ok(&["start", &id]);
    wait_stopped(&rt, &id);
    rt.ok(&["delete", &id]);
    let phases: Vec<String> = read_hook_log(&log).into_iter().map(|e| e.phase).collect();
    assert_eq!(phases, ["startContainer", "poststart"]);
}

#[test]
fn create_container_hook_runs_in_container_namespaces() {
    let rt = Runtime::new();
    let logdir = TempDir::new("hooklog");
    let ns_log = logdir.path().join("ns");
    let script = logdir.path().join("ns.sh");
    write_script(
        &script,
        &format!(
            "#!/bin/sh\ncat >/dev/null\nfor ns in mnt net uts; do readlink /proc/self/ns/$ns; done > {}\n",
            ns_log.display()
        ),
    );
    let mut b = Bundle::new(&["/bin/probe", "echo", "hi"]);
    b.set(
        "/hooks",
        json!({"createContainer": [{"path": script, "env": ["PATH=/usr/bin:/bin"]}]}),
    );
    let io = TempDir::new("io");
    let id = unique("ns");
    let d = create_detached(&rt, &b, &id, &[], &io);
    assert!(d.status.success(), "create failed: {}", d.stderr);
    let pid = rt.state(&id)["pid"].as_i64().unwrap();
    let want: Vec<String> = ["mnt", "net", "uts"]
        .iter()
        .map(|ns| {
            std::fs::read_link(format!("/proc/{pid}/ns/{ns}"))
                .unwrap()
                .display()
                .to_string()
        })
        .collect();
    let host_mnt = std::fs::read_link("/proc/self/ns/mnt")
        .unwrap()
        .display()
        .to_string();
    rt.ok(&["delete", "--force", &id]);
    let got = std::fs::read_to_string(&ns_log).unwrap();
    assert_eq!(lines(&got), want, "createContainer hook namespaces");
    assert_ne!(
        want[0], host_mnt,
        "the container has its own mount namespace"
    );
}

#[test]
fn failing_create_runtime_hook_fails_create_and_leaves_nothing() {
    let rt = Runtime::new();
    let logdir = TempDir::new("hooklog");
    let log = logdir.path().join("log");
    let host_script = logdir.path().join("hook.sh");
    write_script(&host_script, HOOK_SCRIPT);
    let failing = logdir.path().join("failing-hook.sh");
    write_script(&failing, "#!/bin/sh\ncat >/dev/null\nexit 1\n");
    let mut b = Bundle::new(&["/bin/probe", "echo", "hi"]);
    b.set(
        "/hooks",
        json!({
            "prestart": [hook(&host_script, "prestart", &log)],
            "createRuntime": [{"path": failing}],
        }),
    );
    let id = unique("hookfail");
    let err = rt.fails(&["create", "--bundle", b.dir(), &id]);
    assert!(
        err.contains("createRuntime"),
        "error should name the phase: {err}"
    );
    assert!(
        err.contains("failing-hook.sh"),
        "error should name the hook: {err}"
    );
    assert!(rt.ids().is_empty(), "no state dir: {:?}", rt.ids());
    let entries = read_hook_log(&log);
    assert_eq!(entries.len(), 1, "the prestart hook ran once");
    let pid = entries[0].state["pid"].as_i64().unwrap();
    assert!(pid > 0);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "container init {pid} should be gone after the failed create"
    );
}

#[test]
fn hook_timeout_fails_create() {
    let rt = Runtime::new();
    let dir = TempDir::new("hookslow");
    let slow = dir.path().join("slow-hook.sh");
    write_script(&slow, "#!/bin/sh\nexec sleep 5\n");
    let mut b = Bundle::new(&["/bin/probe", "echo", "hi"]);
    b.set(
        "/hooks",
        json!({"createRuntime": [{"path": slow, "timeout": 1}]}),
    );
    let id = unique("hookslow");
    let t = Instant::now();
    let err = rt.fails(&["create", "--bundle", b.dir(), &id]);
    assert!(
        t.elapsed() < Duration::from_millis(4500),
        "the hook was not cut short: {:?}",
        t.elapsed()
    );
    assert!(
        err.contains("timed out"),
        "error should say the hook timed out: {err}"
    );
    assert!(
        err.contains("slow-hook.sh"),
        "error should name the hook: {err}"
    );
    assert!(rt.ids().is_empty(), "no state dir: {:?}", rt.ids());
}

#[test]
fn failing_poststart_hook_only_warns() {
    let rt = Runtime::new();
    let dir = TempDir::new("hookwarn");
    let failing = dir.path().join("failing-poststart.sh");
    write_script(&failing, "#!/bin/sh\ncat >/dev/null\nexit 3\n");
    let mut b = Bundle::new(&["/bin/probe", "echo", "hi"]);
    b.set("/hooks", json!({"poststart": [{"path": failing}]}));
    let io = TempDir::new("io");
    let id = unique("hookwarn");
    let d = create_detached(&rt, &b, &id, &[], &io);
    assert!(d.status.success(), "create failed: {}", d.stderr);
    let out = rt.run(&["start", &id]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "start must succeed despite the poststart hook: {stderr}"
    );
    assert!(
        stderr.contains("failing-poststart.sh"),
        "a warning names the hook: {stderr}"
    );
    wait_stopped(&rt, &id);
    assert_eq!(
        std::fs::read_to_string(&d.out).unwrap(),
        "hi\n",
        "the container ran"
    );
    rt.ok(&["delete", &id]);
}

#[test]
fn poststop_hook_runs_on_delete() {
    let rt = Runtime::new();
    let logdir = TempDir::new("hooklog");
    let log = logdir.path().join("log");
    let host_script = logdir.path().join("hook.sh");
    write_script(&host_script, HOOK_SCRIPT);
    let mut b = Bundle::new(&["/bin/probe", "echo", "hi"]);
    b.set(
        "/hooks",
        json!({"poststop": [hook(&host_script, "poststop", &log)]}),
    );
    let io = TempDir::new("io");
    let id = unique("poststop");
    let d = create_detached(&rt, &b, &id, &[], &io);
    assert!(d.status.success(), "create failed: {}", d.stderr);
    rt.ok(&["start", &id]);
    wait_stopped(&rt, &id);
    assert!(
        read_hook_log(&log).is_empty(),
        "poststop must wait for delete"
    );
    rt.ok(&["delete", &id]);
    let entries = read_hook_log(&log);
    assert_eq!(entries.len(), 1, "poststop ran once");
    assert_eq!(entries[0].phase, "poststop");
    assert_eq!(entries[0].state["status"], json!("stopped"));
    assert_eq!(entries[0].state["id"], json!(id));
}
