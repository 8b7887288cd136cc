//! Shared harness for the integration tests: they drive the real `berth`
//! binary as root against the busybox + probe rootfs that
//! `rootfs-fixtures/build.sh` builds. Each test gets its own state root and
//! bundle under a unique temp dir, removed (containers force-deleted) on drop.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static SEQ: AtomicUsize = AtomicUsize::new(0);

pub fn berth_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_berth"))
}

/// These tests create namespaces, mounts and devices: they need root and
/// fail loudly without it rather than pass vacuously.
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "integration tests need root (they create namespaces and mounts); run them as root"
    );
}

/// The fixture rootfs, built by rootfs-fixtures/build.sh.
pub fn fixture_rootfs() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("rootfs-fixtures/out/rootfs");
    assert!(
        p.join("bin/probe").exists(),
        "fixture rootfs missing at {}: run rootfs-fixtures/build.sh first",
        p.display()
    );
    p
}

/// A unique name for this test process and call.
pub fn unique(tag: &str) -> String {
    format!(
        "{tag}-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst)
    )
}

/// A temp directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("berth-test-{}", unique(tag)));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The directory of compiled seccomp filters in a state root.
pub const SECCOMP_CACHE: &str = "seccomp@cache";

/// A state root of our own; every container left in it is force-deleted
/// on drop.
pub struct Runtime {
    pub root: TempDir,
}

impl Runtime {
    pub fn new() -> Runtime {
        require_root();
        Runtime {
            root: TempDir::new("root"),
        }
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(berth_bin());
        c.arg("--root").arg(self.root.path()).args(args);
        c.stdin(Stdio::null());
        c
    }

    /// Runs berth with `args` and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("spawn berth")
    }

    /// Runs berth and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "berth {args:?} failed ({}): stdout={} stderr={}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs berth, asserts failure, returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            !out.status.success(),
            "berth {args:?} should have failed: stdout={} stderr={}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `berth state ID` parsed.
    pub fn state(&self, id: &str) -> Value {
        serde_json::from_str(&self.ok(&["state", id])).expect("state is JSON")
    }

    /// Foreground `run` of a bundle: (exit code, stdout, stderr).
    pub fn run_bundle(&self, b: &Bundle, id: &str) -> (i32, String, String) {
        let out = self.run(&["run", "--bundle", b.dir(), id]);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs a bundle in the foreground and asserts exit 0; returns stdout.
    pub fn output_of(&self, b: &Bundle) -> String {
        let id = unique("c");
        let (code, out, err) = self.run_bundle(b, &id);
        assert_eq!(code, 0, "run failed: stdout={out} stderr={err}");
        out
    }

    /// Every entry of the root but the seccomp filter cache
    /// (`seccomp@cache`, shared by the containers and kept).
    pub fn ids(&self) -> Vec<String> {
        std::fs::read_dir(self.root.path())
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n != SECCOMP_CACHE)
            .collect()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        for id in self.ids() {
            let _ = self.run(&["delete", "--force", &id]);
        }
    }
}

/// A bundle directory with a config.json (runc's default spec, no
/// terminal, the shared fixture rootfs read-only).
pub struct Bundle {
    pub dir: TempDir,
    pub config: Value,
}

impl Bundle {
    pub fn new(args: &[&str]) -> Bundle {
        let dir = TempDir::new("bundle");
        let config = default_config(&fixture_rootfs(), args);
        let b = Bundle { dir, config };
        b.write();
        b
    }

    pub fn dir(&self) -> &str {
        self.dir.path().to_str().unwrap()
    }

    /// Replaces the value at a JSON pointer (creating objects on the way)
    /// and rewrites config.json.
    pub fn set(&mut self, pointer: &str, v: Value) -> &mut Self {
        let mut cur = &mut self.config;
        let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
        for (i, p) in parts.iter().enumerate() {
            if i + 1 == parts.len() {
                cur[*p] = v;
                break;
            }
            if cur.get(*p).is_none() {
                cur[*p] = json!({});
            }
            cur = cur.get_mut(*p).unwrap();
        }
        self.write();
        self
    }

    pub fn args(&mut self, args: &[&str]) -> &mut Self {
        self.set("/process/args", json!(args))
    }

    /// Appends to an array at a JSON pointer.
    pub fn push(&mut self, pointer: &str, v: Value) -> &mut Self {
        let arr = self.config.pointer_mut(pointer).expect("pointer exists");
        arr.as_array_mut().expect("array").push(v);
        self.write();
        self
    }

    /// Gives the bundle a private, writable copy of the fixture rootfs.
    pub fn private_rootfs(&mut self) -> PathBuf {
        let dst = self.dir.path().join("rootfs");
        let st = Command::new("cp")
            .arg("-a")
            .arg(fixture_rootfs())
            .arg(&dst)
            .status()
            .unwrap();
        assert!(st.success(), "copy rootfs");
        self.set("/root", json!({"path": "rootfs", "readonly": false}));
        dst
    }

    pub fn write(&self) {
        let text = serde_json::to_string_pretty(&self.config).unwrap();
        std::fs::write(self.dir.path().join("config.json"), text).unwrap();
    }
}

/// runc's default spec (as `runc spec` writes it), terminal off.
pub fn default_config(rootfs: &Path, args: &[&str]) -> Value {
    json!({
        "ociVersion": "1.0.2",
        "process": {
            "terminal": false,
            "user": {"uid": 0, "gid": 0},
            "args": args,
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"],
            "cwd": "/",
            "capabilities": {
                "bounding": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "permitted": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "ambient": ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": rootfs, "readonly": true},
        "hostname": "berth-test",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "namespaces": [{"type": "pid"}, {"type": "network"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]
        }
    })
}

/// Waits up to `secs` for `cond`.
pub fn wait_for(secs: f64, mut cond: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + std::time::Duration::from_secs_f64(secs);
    while std::time::Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    cond()
}

/// The result of one berth invocation.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn wait_child(child: &mut Child, secs: f64, what: &str) -> ExitStatus {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return st;
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not finish within {secs} s");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

pub fn exit_code(st: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}

/// Runs `cmd` with stdout and stderr in files (a container created by the
/// command inherits them; a pipe would keep us waiting for as long as the
/// container lives). `stdin`: bytes piped in. `stdout_to`: keep stdout in
/// that file.
pub fn exec_io(mut cmd: Command, stdin: Option<&[u8]>, stdout_to: Option<&Path>) -> Out {
    let tmp = TempDir::new("io");
    let out_path = stdout_to.map_or_else(|| tmp.path().join("stdout"), Path::to_path_buf);
    let err_path = tmp.path().join("stderr");
    cmd.stdout(File::create(&out_path).unwrap());
    cmd.stderr(File::create(&err_path).unwrap());
    if stdin.is_some() {
        cmd.stdin(Stdio::piped());
    }
    let what = format!("{cmd:?}");
    let mut child = cmd.spawn().expect("spawn berth");
    if let Some(data) = stdin {
        let mut w = child.stdin.take().unwrap();
        w.write_all(data).unwrap();
    }
    let st = wait_child(&mut child, 60.0, &what);
    Out {
        code: exit_code(st),
        stdout: std::fs::read_to_string(&out_path).unwrap(),
        stderr: std::fs::read_to_string(&err_path).unwrap(),
    }
}

pub fn exec(rt: &Runtime, args: &[&str]) -> Out {
    exec_io(rt.cmd(args), None, None)
}

/// The `status` field of `berth state ID`.
pub fn status(rt: &Runtime, id: &str) -> String {
    rt.state(id)["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Waits up to 10 s for the container to reach `want`.
pub fn wait_status(rt: &Runtime, id: &str, want: &str) -> bool {
    wait_for(10.0, || status(rt, id) == want)
}
