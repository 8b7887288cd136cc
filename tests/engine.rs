//! The engine, driven the way a user drives it: `berth container run`,
//! `ls`, `logs`, `stop`, `start`, `restart`, `kill`, `rm`, `exec`,
//! `generate-systemd` and `start --all-restartable`, on the fixture image
//! (`rootfs-fixtures/build-image.sh`: busybox + /bin/probe).
//!
//! Every test has its own runtime state root (`--root`) and image store
//! (`--image-root`), imports the fixture image into it, and on drop
//! force-removes every container it made, unmounts what is left under its
//! dirs and removes them. berth's own stdout/stderr always go to files and
//! every call has a deadline, so a detached supervisor that kept a pipe open
//! could never hang a test.
mod common;
use common::*;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

/// The fixture image's name, as build-image.sh tags it.
const IMG: &str = "localhost/berth-busybox:latest";
/// Deadline of one berth call.
const DEADLINE: Duration = Duration::from_secs(60);

static BUILD: Once = Once::new();
static OUTS: AtomicUsize = AtomicUsize::new(0);

fn fixture_out() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("rootfs-fixtures/out")
}

/// The oci-archive of the fixture image, built once if missing.
fn fixture_tar() -> PathBuf {
    let tar = fixture_out().join("busybox-oci.tar");
    BUILD.call_once(|| {
        let docker = fixture_out().join("busybox-docker.tar");
        if !tar.exists() || !docker.exists() {
            let script =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("rootfs-fixtures/build-image.sh");
            let st = Command::new(&script)
                .stdin(Stdio::null())
                .status()
                .expect("run build-image.sh");
            assert!(st.success(), "rootfs-fixtures/build-image.sh failed");
        }
    });
    assert!(tar.exists(), "fixture image missing at {}", tar.display());
    tar
}

/// What one berth call did.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Out {
    fn ok(&self) -> bool {
        self.code == 0
    }
}

/// A child of ours whose stdout/stderr go to files.
struct Running {
    child: Child,
    out: PathBuf,
    err: PathBuf,
    started: Instant,
}

impl Running {
    /// Waits up to `limit`; kills the child (by its pid) and panics past it.
    fn wait(mut self, limit: Duration) -> Out {
        let end = self.started + limit;
        let status = loop {
            if let Some(st) = self.child.try_wait().expect("try_wait") {
                break st;
            }
            if Instant::now() >= end {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("berth call still running after {limit:?}: killed it");
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let elapsed = self.started.elapsed();
        let read =
            |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
        let o = Out {
            code: status.code().unwrap_or(-1),
            stdout: read(&self.out),
            stderr: read(&self.err),
            elapsed,
        };
        let _ = std::fs::remove_file(&self.out);
        let _ = std::fs::remove_file(&self.err);
        o
    }
}

/// One test's engine: its own state root, image store and output dir.
struct Engine {
    run: TempDir,
    img: TempDir,
    io: TempDir,
}

impl Engine {
    /// A fresh engine with the fixture image imported.
    fn new() -> Engine {
        require_root();
        let tar = fixture_tar();
        let e = Engine {
            run: TempDir::new("eng-run"),
            img: TempDir::new("eng-img"),
            io: TempDir::new("eng-io"),
        };
        let o = e.berth(&["image", "import", tar.to_str().unwrap()]);
        assert!(o.ok(), "image import failed: {o:?}");
        e
    }

    fn img_root(&self) -> &Path {
        self.img.path()
    }

    /// `berth --root R --image-root I ARGS...`, not yet started.
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(berth_bin());
        c.arg("--root")
            .arg(self.run.path())
            .arg("--image-root")
            .arg(self.img.path())
            .args(args)
            .stdin(Stdio::null());
        c
    }

    /// Starts `c` with stdout/stderr on files of our own.
    fn spawn_cmd(&self, mut c: Command) -> Running {
        let n = OUTS.fetch_add(1, Ordering::SeqCst);
        let out = self.io.path().join(format!("{n}.out"));
        let err = self.io.path().join(format!("{n}.err"));
        c.stdout(std::fs::File::create(&out).unwrap());
        c.stderr(std::fs::File::create(&err).unwrap());
        let started = Instant::now();
        let child = c.spawn().expect("spawn berth");
        Running {
            child,
            out,
            err,
            started,
        }
    }

    /// `berth ... ARGS` to completion.
    fn berth(&self, args: &[&str]) -> Out {
        self.spawn_cmd(self.command(args)).wait(DEADLINE)
    }

    /// `berth ... container ARGS` to completion.
    fn cmd(&self, args: &[&str]) -> Out {
        let mut a = vec!["container"];
        a.extend_from_slice(args);
        self.berth(&a)
    }

    /// `container ARGS`, asserting success; its stdout.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.cmd(args);
        assert!(o.ok(), "berth container {args:?} failed: {o:?}");
        o.stdout
    }

    /// `container ARGS`, asserting failure; the whole result.
    fn fails(&self, args: &[&str]) -> Out {
        let o = self.cmd(args);
        assert!(
            !o.ok(),
            "berth container {args:?} should have failed: {o:?}"
        );
        o
    }

    /// `container run --rm IMG ARGS...` in the foreground.
    fn run_rm(&self, flags: &[&str], args: &[&str]) -> Out {
        let mut a = vec!["run", "--rm"];
        a.extend_from_slice(flags);
        a.push(IMG);
        a.extend_from_slice(args);
        self.cmd(&a)
    }

    /// `container run -d --name NAME FLAGS IMG ARGS`; the printed id.
    fn detach(&self, name: &str, flags: &[&str], args: &[&str]) -> String {
        let mut a = vec!["run", "-d", "--name", name];
        a.extend_from_slice(flags);
        a.push(IMG);
        a.extend_from_slice(args);
        let out = self.ok(&a);
        let id = out.trim().to_string();
        assert!(
            id.len() >= 12 && id.chars().all(|c| c.is_ascii_hexdigit()),
            "run -d should print an id, printed {out:?}"
        );
        id
    }

    /// `ls -a --format json`.
    fn ls_all(&self) -> Vec<Value> {
        let out = self.ok(&["ls", "-a", "--format", "json"]);
        let v: Value =
            serde_json::from_str(&out).unwrap_or_else(|e| panic!("ls json {out:?}: {e}"));
        v.as_array().cloned().unwrap_or_default()
    }

    /// The `ls -a --format json` row of a container.
    fn row(&self, name: &str) -> Value {
        self.ls_all()
            .into_iter()
            .find(|r| r["name"] == name || r["id"] == name)
            .unwrap_or_else(|| panic!("no container {name} in ls -a"))
    }

    fn status(&self, name: &str) -> String {
        self.row(name)["status"].as_str().unwrap_or("").to_string()
    }

    fn restarts(&self, name: &str) -> u64 {
        self.row(name)["restarts"].as_u64().unwrap_or(0)
    }

    fn inspect(&self, name: &str) -> Value {
        let out = self.ok(&["inspect", name]);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("inspect json {out:?}: {e}"))
    }

    /// The supervisor's pid, from `inspect` .state.supervisor[0].
    fn supervisor_pid(&self, name: &str) -> Option<i32> {
        self.inspect(name)["state"]["supervisor"][0]
            .as_i64()
            .map(|p| p as i32)
    }

    /// The host pid of the init, from `berth --root R state ID`.
    fn init_pid(&self, id: &str) -> Option<i32> {
        let o = self.berth(&["state", id]);
        if !o.ok() {
            return None;
        }
        let v: Value = serde_json::from_str(&o.stdout).ok()?;
        if v["status"] != "running" {
            return None;
        }
        v["pid"].as_i64().map(|p| p as i32).filter(|p| *p > 0)
    }

    fn logs(&self, args: &[&str]) -> Out {
        let mut a = vec!["logs"];
        a.extend_from_slice(args);
        self.cmd(&a)
    }

    /// Where container `id`'s overlay rootfs is mounted.
    fn rootfs(&self, id: &str) -> PathBuf {
        self.img_root()
            .join("containers")
            .join(id)
            .join("bundle/rootfs")
    }

    /// Is container `id`'s rootfs mounted, as the host (this test process,
    /// in the mount namespace berth was started from) sees it?
    fn rootfs_mounted(&self, id: &str) -> bool {
        mountinfo_line(&self.rootfs(id)).is_some()
    }

    /// Waits until `name`'s status starts with `status` and no supervisor
    /// is recorded (it clears itself last, after unmounting the rootfs).
    fn wait_stopped(&self, name: &str, status: &str) {
        assert!(
            wait_for(20.0, || self.status(name).starts_with(status)
                && self.supervisor_pid(name).is_none()),
            "{name} did not stop with {status:?}: {:?}",
            self.row(name)
        );
    }

    /// Mount points under this engine's dirs, from /proc/self/mountinfo.
    fn mounts(&self) -> Vec<String> {
        mounts_under(&[self.img.path(), self.run.path()])
    }

    fn container_dirs(&self) -> Vec<String> {
        list_dir(&self.img.path().join("containers"))
            .into_iter()
            .filter(|n| !n.starts_with('.'))
            .collect()
    }

    /// Asserts no trace of any container: ls -a empty, containers/ and the
    /// runtime state root empty, nothing mounted under our dirs.
    fn assert_empty(&self, what: &str) {
        assert_eq!(
            self.ls_all(),
            Vec::<Value>::new(),
            "{what}: ls -a not empty"
        );
        assert_eq!(
            self.container_dirs(),
            Vec::<String>::new(),
            "{what}: containers/ not empty"
        );
        let state: Vec<String> = list_dir(self.run.path())
            .into_iter()
            .filter(|n| n != SECCOMP_CACHE)
            .collect();
        assert_eq!(state, Vec::<String>::new(), "{what}: runtime state left");
        assert_eq!(self.mounts(), Vec::<String>::new(), "{what}: mounts left");
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        let out = self
            .spawn_cmd(self.command(&["container", "ls", "-a", "--format", "json"]))
            .wait(DEADLINE);
        let rows: Vec<Value> = serde_json::from_str(&out.stdout).unwrap_or_default();
        for r in rows {
            if let Some(id) = r["id"].as_str() {
                let _ = self
                    .spawn_cmd(self.command(&["container", "rm", "-f", id]))
                    .wait(DEADLINE);
            }
        }
        for id in list_dir(self.run.path()) {
            let _ = self
                .spawn_cmd(self.command(&["delete", "--force", &id]))
                .wait(DEADLINE);
        }
        let mut left = self.mounts();
        left.sort_by_key(|m| std::cmp::Reverse(m.len()));
        for m in left {
            let _ = Command::new("umount").arg("-l").arg(&m).status();
        }
    }
}

fn list_dir(p: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(p)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    v.sort();
    v
}

/// Mount points (field 5 of /proc/self/mountinfo) under any of `roots`.
fn mounts_under(roots: &[&Path]) -> Vec<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|m| roots.iter().any(|r| Path::new(m).starts_with(r)))
        .map(String::from)
        .collect()
}

/// The full mountinfo line whose mount point is `target`.
fn mountinfo_line(target: &Path) -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    text.lines()
        .find(|l| l.split(' ').nth(4) == target.to_str())
        .map(String::from)
}

/// Directories under /sys/fs/cgroup named `id` (any depth up to 8).
fn cgroup_dirs_named(id: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, id: &str, depth: usize, out: &mut Vec<PathBuf>) {
        if depth > 8 {
            return;
        }
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if !ft.is_dir() {
                continue;
            }
            let p = e.path();
            if e.file_name().to_string_lossy() == id {
                out.push(p.clone());
            }
            walk(&p, id, depth + 1, out);
        }
    }
    let mut out = Vec::new();
    walk(Path::new("/sys/fs/cgroup"), id, 0, &mut out);
    out
}

/// Is `pid` a live (not zombie) process?
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => {
            let state = s
                .rsplit_once(')')
                .map(|(_, r)| r.trim_start())
                .unwrap_or("");
            !state.starts_with('Z') && !state.starts_with('X')
        }
        Err(_) => false,
    }
}

fn kill9(pid: i32) {
    assert!(pid > 1, "refusing to kill pid {pid}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap_or_else(|e| panic!("kill -9 {pid}: {e}"));
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().map(|l| l.trim_end_matches('\r')).collect()
}

/// Asserts a foreground run exited `code` with `stdout` exactly.
fn assert_run(o: &Out, code: i32, stdout: &str) {
    assert_eq!(o.code, code, "exit code: {o:?}");
    assert_eq!(o.stdout, stdout, "stdout: {o:?}");
}

// ---------------------------------------------------------------------------
// 1. Foreground run
// ---------------------------------------------------------------------------

#[test]
fn t1_foreground_output_and_exit_codes() {
    let e = Engine::new();
    assert_run(
        &e.run_rm(&[], &["probe", "echo", "hello", "world"]),
        0,
        "hello world\n",
    );
    assert_run(&e.run_rm(&[], &["probe", "exit", "3"]), 3, "");
    assert_run(
        &e.run_rm(&[], &["sh", "-c", "echo a; echo b >&2; exit 0"]),
        0,
        "a\n",
    );
    let o = e.run_rm(&[], &["sh", "-c", "echo b >&2"]);
    assert_eq!(o.stderr, "b\n", "stderr passes through: {o:?}");
}

#[test]
fn t1_foreground_rm_leaves_nothing() {
    let e = Engine::new();
    assert_run(&e.run_rm(&[], &["probe", "echo", "x"]), 0, "x\n");
    assert_run(&e.run_rm(&[], &["probe", "exit", "3"]), 3, "");
    e.assert_empty("after run --rm");
}

#[test]
fn t1_env_flags() {
    let e = Engine::new();
    let env_file = e.io.path().join("vars.env");
    std::fs::write(&env_file, "# comment\nFROM_FILE=yes\n\nOVERRIDE=file\n").unwrap();
    let mut c = e.command(&[
        "container",
        "run",
        "--rm",
        "-e",
        "K=V",
        "-e",
        "BERTH_T_CALLER",
        "--env-file",
        env_file.to_str().unwrap(),
        "-e",
        "OVERRIDE=flag",
        IMG,
        "probe",
        "env",
    ]);
    c.env("BERTH_T_CALLER", "from-caller");
    let o = e.spawn_cmd(c).wait(DEADLINE);
    assert_eq!(o.code, 0, "{o:?}");
    let env = lines(&o.stdout);
    for want in [
        "K=V",
        "BERTH_T_CALLER=from-caller",
        "FROM_FILE=yes",
        "OVERRIDE=flag",
    ] {
        assert!(env.contains(&want), "{want} missing from {env:?}");
    }
    assert!(
        !env.contains(&"OVERRIDE=file"),
        "-e must override --env-file: {env:?}"
    );
    assert!(
        env.iter().any(|l| l.starts_with("PATH=")),
        "the image's PATH is kept: {env:?}"
    );
}

#[test]
fn t1_config_injects_a_host_file_read_only() {
    let e = Engine::new();
    let src = e.io.path().join("app.conf");
    std::fs::write(&src, "setting=1\n").unwrap();
    let spec = format!("{}:/etc/app.conf:ro", src.display());
    assert_run(
        &e.run_rm(&["--config", &spec], &["probe", "cat", "/etc/app.conf"]),
        0,
        "setting=1\n",
    );
    let o = e.run_rm(
        &["--config", &spec],
        &["probe", "write", "/etc/app.conf", "changed"],
    );
    assert_eq!(o.code, 1, "write to a :ro config must fail: {o:?}");
    assert!(o.stderr.contains("EROFS"), "want EROFS: {o:?}");
    assert_eq!(std::fs::read_to_string(&src).unwrap(), "setting=1\n");
    // The image is unchanged: a container without --config does not see it.
    let o = e.run_rm(&[], &["probe", "cat", "/etc/app.conf"]);
    assert_eq!(
        o.code, 1,
        "another container must not see the config: {o:?}"
    );
    assert!(o.stderr.contains("ENOENT"), "{o:?}");
    for layer in list_dir(&e.img_root().join("layers")) {
        let p = e.img_root().join("layers").join(layer).join("etc/app.conf");
        assert!(
            !p.exists(),
            "config leaked into the image layer: {}",
            p.display()
        );
    }
}

#[test]
fn t1_bind_mount_and_named_volume() {
    let e = Engine::new();
    let host = e.io.path().join("hostdir");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("in"), "from-host").unwrap();
    let bind = format!("{}:/data", host.display());
    assert_run(
        &e.run_rm(&["-v", &bind], &["probe", "cat", "/data/in"]),
        0,
        "from-host",
    );
    assert_run(
        &e.run_rm(&["-v", &bind], &["probe", "write", "/data/out", "from-ctr"]),
        0,
        "ok\n",
    );
    assert_eq!(
        std::fs::read_to_string(host.join("out")).unwrap(),
        "from-ctr"
    );

    assert_run(
        &e.run_rm(
            &["-v", "vol1:/data"],
            &["probe", "write", "/data/f", "persisted"],
        ),
        0,
        "ok\n",
    );
    assert_run(
        &e.run_rm(&["-v", "vol1:/data"], &["probe", "cat", "/data/f"]),
        0,
        "persisted",
    );
    let on_host = e.img_root().join("volumes/vol1/f");
    assert_eq!(
        std::fs::read_to_string(&on_host).unwrap_or_default(),
        "persisted",
        "volume file at {}",
        on_host.display()
    );
    e.assert_empty("after volume runs");
}

#[test]
fn t1_process_flags() {
    let e = Engine::new();
    assert_run(
        &e.run_rm(&["--workdir", "/tmp"], &["probe", "cwd"]),
        0,
        "/tmp\n",
    );
    let o = e.run_rm(&["--user", "1000:1000"], &["probe", "id"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.starts_with("uid=1000 gid=1000 "), "{o:?}");
    assert_run(
        &e.run_rm(
            &["--entrypoint", "/bin/probe"],
            &["echo", "via", "entrypoint"],
        ),
        0,
        "via entrypoint\n",
    );
    assert_run(
        &e.run_rm(&["--hostname", "myhost"], &["probe", "hostname"]),
        0,
        "myhost\n",
    );
    let o = e.run_rm(&["--read-only"], &["probe", "write", "/newfile", "x"]);
    assert_eq!(o.code, 1, "write to / with --read-only must fail: {o:?}");
    assert!(o.stderr.contains("EROFS"), "want EROFS: {o:?}");
    assert_run(
        &e.run_rm(&[], &["probe", "write", "/newfile", "x"]),
        0,
        "ok\n",
    );
}

#[test]
fn t1_resource_limits() {
    let e = Engine::new();
    let o = e.run_rm(&["--memory", "32m"], &["probe", "alloc", "64"]);
    assert_eq!(
        o.code, 137,
        "64 MiB in a 32m container must be OOM-killed: {o:?}"
    );
    assert_run(
        &e.run_rm(&["--memory", "32m"], &["probe", "alloc", "8"]),
        0,
        "allocated\n",
    );
    let o = e.run_rm(&["--pids-limit", "10"], &["probe", "fork", "20"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        o.stdout.contains("error=EAGAIN"),
        "fork past --pids-limit must fail: {o:?}"
    );
    assert_run(&e.run_rm(&[], &["probe", "fork", "20"]), 0, "forked=20\n");
}

#[test]
fn t1_cap_drop_all() {
    let e = Engine::new();
    assert_run(
        &e.run_rm(&["--cap-drop", "ALL"], &["probe", "status", "CapEff"]),
        0,
        "0000000000000000\n",
    );
    let o = e.run_rm(&[], &["probe", "status", "CapEff"]);
    assert_ne!(
        o.stdout, "0000000000000000\n",
        "default caps are not empty: {o:?}"
    );
}

#[test]
fn t1_seccomp_default_and_unconfined() {
    let e = Engine::new();
    // Docker's default profile, for the default caps: keyctl and unshare
    // are not on its allowlist (EPERM); ptrace is (kernel >= 4.8), and so
    // is getpid. --cap-add SYS_ADMIN brings unshare back, as in Docker.
    let sys = |flags: &[&str], name: &str| e.run_rm(flags, &["probe", "syscall", name]).stdout;
    assert_eq!(
        sys(&[], "keyctl"),
        "error: EPERM\n",
        "default profile blocks keyctl"
    );
    assert_eq!(
        sys(&[], "unshare"),
        "error: EPERM\n",
        "default profile blocks unshare"
    );
    assert_eq!(
        sys(&[], "ptrace"),
        "error: ESRCH\n",
        "default profile lets ptrace reach the kernel"
    );
    assert_eq!(
        sys(&["--cap-add", "SYS_ADMIN"], "unshare"),
        "ok\n",
        "CAP_SYS_ADMIN unlocks unshare"
    );
    assert_eq!(sys(&[], "getpid"), "ok\n", "default profile allows getpid");
    let un = ["--security-opt", "seccomp=unconfined"];
    assert_ne!(
        sys(&un, "keyctl"),
        "error: EPERM\n",
        "unconfined lets keyctl through"
    );
    assert_eq!(
        sys(&un, "ptrace"),
        "error: ESRCH\n",
        "unconfined: ptrace reaches the kernel"
    );
    assert_eq!(sys(&un, "getpid"), "ok\n");
    let o = e.run_rm(&un, &["probe", "status", "Seccomp"]);
    assert_eq!(o.stdout, "0\n", "unconfined: no filter at all: {o:?}");
    let o = e.run_rm(&[], &["probe", "status", "Seccomp"]);
    assert_eq!(o.stdout, "2\n", "default: a filter: {o:?}");
}

#[test]
fn t1_seccomp_file_in_docker_format_is_resolved_for_the_caps() {
    // A profile in Docker's format (archMap, excludes by capability), as
    // `docker run --security-opt seccomp=FILE` takes.
    let e = Engine::new();
    let dir = TempDir::new("eng-sc");
    let file = dir.path().join("profile.json");
    let native = match std::env::consts::ARCH {
        "x86_64" => "SCMP_ARCH_X86_64",
        "aarch64" => "SCMP_ARCH_AARCH64",
        a => panic!("no seccomp architecture name for {a}"),
    };
    let profile = serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "archMap": [{"architecture": native, "subArchitectures": []}],
        "syscalls": [{"names": ["getpid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38,
                      "excludes": {"caps": ["CAP_SYS_ADMIN"]}}]
    });
    std::fs::write(&file, profile.to_string()).unwrap();
    let opt = format!("seccomp={}", file.display());
    let sys = |flags: &[&str]| {
        let mut f = vec!["--security-opt", &opt];
        f.extend_from_slice(flags);
        e.run_rm(&f, &["probe", "syscall", "getpid"]).stdout
    };
    assert_eq!(sys(&[]), "error: ENOSYS\n", "the rule applies by default");
    assert_eq!(
        sys(&["--cap-add", "SYS_ADMIN"]),
        "ok\n",
        "excluded for a container with CAP_SYS_ADMIN"
    );
    std::fs::write(
        &file,
        r#"{"defaultAction": "SCMP_ACT_ALLOW", "archMap": [], "architectures": ["SCMP_ARCH_X86"]}"#,
    )
    .unwrap();
    let o = e.run_rm(&["--security-opt", &opt], &["true"]);
    assert_eq!(o.code, 125, "{o:?}");
    assert!(
        o.stderr.contains("either architectures or archMap") && o.stderr.lines().count() == 1,
        "{o:?}"
    );
}

#[test]
fn t1_label_in_inspect() {
    let e = Engine::new();
    let name = unique("lab");
    let o = e.cmd(&[
        "run",
        "--name",
        &name,
        "--label",
        "k=v",
        "--label",
        "team=core",
        IMG,
        "true",
    ]);
    assert_eq!(o.code, 0, "{o:?}");
    let v = e.inspect(&name);
    assert_eq!(v["labels"]["k"], "v", "labels in inspect: {v}");
    assert_eq!(v["labels"]["team"], "core", "labels in inspect: {v}");
    assert!(
        e.status(&name).starts_with("Exited (0)"),
        "{}",
        e.status(&name)
    );
    e.ok(&["rm", &name]);
    e.assert_empty("after rm");
}

// ---------------------------------------------------------------------------
// 2. Image given as an archive path
// ---------------------------------------------------------------------------

#[test]
fn t2_archive_paths_are_imported_and_run() {
    require_root();
    fixture_tar();
    for archive in ["busybox-oci.tar", "busybox-docker.tar"] {
        // A store without the image: the path alone must do.
        let run = TempDir::new("arch-run");
        let img = TempDir::new("arch-img");
        let e = Engine {
            run,
            img,
            io: TempDir::new("arch-io"),
        };
        let path = fixture_out().join(archive);
        let o = e.cmd(&[
            "run",
            "--rm",
            path.to_str().unwrap(),
            "probe",
            "echo",
            archive,
        ]);
        assert_eq!(o.code, 0, "run of {archive}: {o:?}");
        assert_eq!(o.stdout, format!("{archive}\n"), "{o:?}");
        let ls = e.berth(&["image", "ls"]);
        assert!(
            ls.stdout.contains(IMG),
            "{archive} imported as {IMG}: {ls:?}"
        );
        e.assert_empty(archive);
    }
}

// ---------------------------------------------------------------------------
// 3. Exit codes of failures
// ---------------------------------------------------------------------------

#[test]
fn t3_exit_codes_one_line_nothing_left() {
    let e = Engine::new();
    let keep = unique("keep");
    e.detach(&keep, &[], &["probe", "pause"]);
    let before = e.ls_all();
    let cfg_missing = format!("{}:/etc/x:ro", e.io.path().join("missing").display());
    let cases: Vec<(&str, Vec<&str>, i32)> = vec![
        (
            "missing image",
            vec!["run", "--rm", "localhost/no-such-image:1", "true"],
            125,
        ),
        (
            "bad --memory",
            vec!["run", "--rm", "--memory", "lots", IMG, "true"],
            125,
        ),
        (
            "bad --restart",
            vec!["run", "--restart", "sometimes", IMG, "true"],
            125,
        ),
        (
            "bad --cpus",
            vec!["run", "--rm", "--cpus", "abc", IMG, "true"],
            125,
        ),
        (
            "name in use",
            vec!["run", "--rm", "--name", &keep, IMG, "true"],
            125,
        ),
        (
            "--config source missing",
            vec!["run", "--rm", "--config", &cfg_missing, IMG, "true"],
            125,
        ),
        (
            "volume name with /",
            vec!["run", "--rm", "-v", "a/b:/data", IMG, "true"],
            125,
        ),
        (
            "volume name ..",
            vec!["run", "--rm", "-v", "..:/data", IMG, "true"],
            125,
        ),
        (
            "command not found",
            vec!["run", "--rm", IMG, "no-such-command"],
            127,
        ),
        (
            "not executable",
            vec!["run", "--rm", IMG, "/etc/passwd"],
            126,
        ),
        (
            "detached, command not found",
            vec!["run", "-d", IMG, "no-such-command"],
            127,
        ),
    ];
    let mut failures = Vec::new();
    for (what, args, code) in cases {
        let o = e.cmd(&args);
        let err_lines = lines(&o.stderr)
            .into_iter()
            .filter(|l| !l.is_empty())
            .count();
        if o.code != code {
            failures.push(format!(
                "{what}: {args:?}: exit {} (want {code}); stderr={:?}",
                o.code, o.stderr
            ));
        }
        if err_lines != 1 {
            failures.push(format!(
                "{what}: {args:?}: {err_lines} stderr lines (want 1): {:?}",
                o.stderr
            ));
        }
        if !o.stdout.is_empty() {
            failures.push(format!(
                "{what}: {args:?}: stdout not empty: {:?}",
                o.stdout
            ));
        }
        let after = e.ls_all();
        if after.len() != before.len() {
            failures.push(format!(
                "{what}: {args:?}: left a container behind: {after:?}"
            ));
            for r in &after {
                if r["name"] != keep.as_str() {
                    let _ = e.cmd(&["rm", "-f", r["id"].as_str().unwrap_or("")]);
                }
            }
        }
        let dirs = e.container_dirs().len();
        if dirs != before.len() {
            failures.push(format!(
                "{what}: {args:?}: {dirs} container dirs (want {})",
                before.len()
            ));
        }
        let mounts = e.mounts().len();
        if mounts != before.len() {
            failures.push(format!(
                "{what}: {args:?}: {mounts} mounts (want {})",
                before.len()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "exit-code failures:\n{}",
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------
// 4. Detached containers
// ---------------------------------------------------------------------------

#[test]
fn t4_detached_ls_and_logs() {
    let e = Engine::new();
    let n = unique("n");
    let id = e.detach(&n, &[], &["probe", "pause"]);
    let ls = e.ok(&["ls"]);
    let row = ls
        .lines()
        .find(|l| l.contains(&n))
        .unwrap_or_else(|| panic!("{n} not in ls: {ls}"));
    assert!(row.starts_with(&id[..12]), "ls shows the id: {row}");
    assert!(row.contains(" Up "), "ls shows Up: {row}");
    assert!(e.status(&n).starts_with("Up"), "{}", e.status(&n));

    let lg = unique("lg");
    e.detach(
        &lg,
        &[],
        &[
            "sh",
            "-c",
            "echo out; echo err >&2; echo out2; sleep 0.5; echo last; sleep 100",
        ],
    );
    assert!(
        wait_for(10.0, || e.logs(&[&lg]).stdout == "out\nout2\nlast\n"),
        "logs: {:?}",
        e.logs(&[&lg])
    );
    let o = e.logs(&[&lg]);
    assert_eq!(
        o.stdout, "out\nout2\nlast\n",
        "stdout lines to stdout: {o:?}"
    );
    assert_eq!(o.stderr, "err\n", "stderr lines to stderr: {o:?}");
    let o = e.logs(&["--tail", "1", &lg]);
    assert_eq!(
        (o.stdout.as_str(), o.stderr.as_str()),
        ("last\n", ""),
        "--tail 1: {o:?}"
    );

    // logs -f follows and returns once the container exits.
    let fl = unique("fl");
    e.detach(
        &fl,
        &[],
        &["sh", "-c", "echo first; sleep 1.5; echo second"],
    );
    let follow = e.spawn_cmd(e.command(&["container", "logs", "-f", &fl]));
    let o = follow.wait(Duration::from_secs(20));
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(o.stdout, "first\nsecond\n", "logs -f: {o:?}");
    assert!(
        o.elapsed >= Duration::from_millis(1000),
        "logs -f returned early: {o:?}"
    );
    assert!(e.status(&fl).starts_with("Exited (0)"), "{}", e.status(&fl));
}

#[test]
fn t4_stop_timeouts_and_policy() {
    let e = Engine::new();
    // probe pause installs no handler: as pid 1 it ignores SIGTERM.
    let p = unique("p");
    e.detach(&p, &[], &["probe", "pause"]);
    let o = e.cmd(&["stop", "-t", "1", &p]);
    assert!(o.ok(), "{o:?}");
    assert!(
        o.elapsed >= Duration::from_secs(1),
        "stop -t 1 took {:?}",
        o.elapsed
    );
    assert!(
        o.elapsed < Duration::from_secs(8),
        "stop -t 1 took {:?}",
        o.elapsed
    );
    assert!(e.status(&p).starts_with("Exited (137)"), "{}", e.status(&p));

    let t = unique("t");
    e.detach(&t, &[], &["probe", "trap", "TERM"]);
    assert!(wait_for(10.0, || e.logs(&[&t]).stdout.contains("ready")));
    let o = e.cmd(&["stop", &t]);
    assert!(o.ok(), "{o:?}");
    assert!(
        o.elapsed < Duration::from_secs(5),
        "stop of a TERM handler took {:?}",
        o.elapsed
    );
    assert!(e.status(&t).starts_with("Exited (0)"), "{}", e.status(&t));

    // A stopped --restart always container stays stopped.
    let a = unique("a");
    e.detach(&a, &["--restart", "always"], &["probe", "pause"]);
    e.ok(&["stop", "-t", "1", &a]);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(e.status(&a).starts_with("Exited (137)"), "{}", e.status(&a));
    assert_eq!(e.restarts(&a), 0);
    assert_eq!(e.supervisor_pid(&a), None, "no supervisor after stop");
}

#[test]
fn t4_start_restart_kill_reuse_the_layer() {
    let e = Engine::new();
    let n = unique("s");
    let id = e.detach(
        &n,
        &[],
        &["sh", "-c", "echo run >> /marker; exec probe trap TERM"],
    );
    assert!(wait_for(10.0, || e.logs(&[&n]).stdout.contains("ready")));
    e.ok(&["stop", &n]);
    assert!(e.status(&n).starts_with("Exited"), "{}", e.status(&n));
    let first_pid = e.init_pid(&id);
    assert_eq!(first_pid, None, "no init after stop");
    e.ok(&["start", &n]);
    assert!(e.status(&n).starts_with("Up"), "{}", e.status(&n));
    assert_eq!(
        e.ok(&["exec", &n, "probe", "cat", "/marker"]),
        "run\nrun\n",
        "start reuses the writable layer"
    );
    let pid1 = e.init_pid(&id).expect("running init");
    e.ok(&["restart", "-t", "5", &n]);
    assert!(e.status(&n).starts_with("Up"), "{}", e.status(&n));
    let pid2 = e.init_pid(&id).expect("running init after restart");
    assert_ne!(pid1, pid2, "restart makes a new init");
    assert_eq!(
        e.ok(&["exec", &n, "probe", "cat", "/marker"]),
        "run\nrun\nrun\n"
    );
    assert!(!alive(pid1), "old init gone");

    let u = unique("u");
    e.detach(&u, &[], &["probe", "trap", "USR1"]);
    assert!(wait_for(10.0, || e.logs(&[&u]).stdout.contains("ready")));
    e.ok(&["kill", "-s", "USR1", &u]);
    assert!(
        wait_for(10.0, || e.logs(&[&u]).stdout.contains("got SIGUSR1")),
        "logs: {:?}",
        e.logs(&[&u])
    );
    assert!(
        wait_for(10.0, || e.status(&u).starts_with("Exited (0)")),
        "{}",
        e.status(&u)
    );
}

#[test]
fn t4_rm_running_needs_force_and_cleans_up() {
    let e = Engine::new();
    let n = unique("r");
    let id = e.detach(&n, &[], &["probe", "pause"]);
    let sup = e.supervisor_pid(&n).expect("supervisor pid");
    let init = e.init_pid(&id).expect("init pid");
    assert!(
        !cgroup_dirs_named(&id).is_empty(),
        "a running container has cgroups named {id}"
    );
    let o = e.fails(&["rm", &n]);
    assert_eq!(lines(&o.stderr).len(), 1, "{o:?}");
    assert!(
        e.status(&n).starts_with("Up"),
        "rm without -f left it running: {}",
        e.status(&n)
    );
    e.ok(&["rm", "-f", &n]);
    assert!(!alive(sup), "supervisor {sup} still alive");
    assert!(!alive(init), "init {init} still alive");
    assert_eq!(
        cgroup_dirs_named(&id),
        Vec::<PathBuf>::new(),
        "cgroup dirs left"
    );
    e.assert_empty("after rm -f");
}

#[test]
fn t4_exited_container_unmounts_rootfs_and_start_mounts_it_again() {
    let e = Engine::new();
    let n = unique("um");
    let id = e.detach(
        &n,
        &["--restart", "no"],
        &["sh", "-c", "echo ran >> /ran; cat /ran; exit 1"],
    );
    e.wait_stopped(&n, "Exited (1)");
    assert!(
        !e.rootfs_mounted(&id),
        "rootfs of exited {n} still mounted: {:?}",
        mountinfo_line(&e.rootfs(&id))
    );
    let dir = e.img_root().join("containers").join(&id);
    assert!(dir.join("upper").is_dir(), "upper/ kept after unmount");
    assert!(dir.join("work").is_dir(), "work/ kept after unmount");

    e.ok(&["start", &n]);
    e.wait_stopped(&n, "Exited (1)");
    assert_eq!(
        e.logs(&[&n]).stdout,
        "ran\nran\nran\n",
        "the second run sees the first one's writes"
    );
    assert!(!e.rootfs_mounted(&id), "rootfs mounted after the 2nd exit");

    // While it runs, the rootfs is mounted (the check above is not vacuous).
    let p = unique("um-up");
    let pid = e.detach(&p, &[], &["probe", "pause"]);
    assert!(e.rootfs_mounted(&pid), "rootfs of running {p} not mounted");
    e.ok(&["stop", "-t", "1", &p]);
    assert!(!e.rootfs_mounted(&pid), "rootfs mounted after stop");

    e.ok(&["rm", &n, &p]);
    e.assert_empty("after rm of stopped containers");
}

#[test]
fn t4_foreground_run_unmounts_rootfs() {
    let e = Engine::new();
    let n = unique("fg");
    let o = e.cmd(&["run", "--name", &n, IMG, "sh", "-c", "echo fg; exit 4"]);
    assert_run(&o, 4, "fg\n");
    let id = e.row(&n)["id"].as_str().expect("id").to_string();
    assert!(e.status(&n).starts_with("Exited (4)"), "{:?}", e.row(&n));
    assert!(
        !e.rootfs_mounted(&id),
        "rootfs mounted after a foreground run"
    );
    e.ok(&["start", &n]);
    e.wait_stopped(&n, "Exited (4)");
    assert_eq!(e.logs(&[&n]).stdout, "fg\n", "start runs it again");
    assert!(!e.rootfs_mounted(&id), "rootfs mounted after start + exit");
    e.ok(&["rm", &n]);
    e.assert_empty("after rm of a foreground container");
}

// ---------------------------------------------------------------------------
// 5. Restart policies
// ---------------------------------------------------------------------------

#[test]
fn t5_on_failure_max_retries() {
    let e = Engine::new();
    let n = unique("of");
    e.detach(&n, &["--restart", "on-failure:3"], &["sh", "-c", "exit 1"]);
    assert!(
        wait_for(20.0, || {
            let r = e.row(&n);
            r["restarts"] == 3 && r["status"].as_str().unwrap_or("").starts_with("Exited (1)")
        }),
        "{:?}",
        e.row(&n)
    );
    assert!(
        wait_for(10.0, || e.supervisor_pid(&n).is_none()),
        "supervisor still there"
    );
    std::thread::sleep(Duration::from_millis(1500));
    let r = e.row(&n);
    assert_eq!(r["restarts"], 3, "{r}");
    assert!(
        r["status"].as_str().unwrap_or("").starts_with("Exited (1)"),
        "{r}"
    );
}

#[test]
fn t5_on_failure_final_exit_unmounts_rootfs() {
    let e = Engine::new();
    let n = unique("ofu");
    let id = e.detach(
        &n,
        &["--restart", "on-failure:2"],
        &["sh", "-c", "echo try; exit 1"],
    );
    e.wait_stopped(&n, "Exited (1)");
    assert_eq!(e.restarts(&n), 2, "{:?}", e.row(&n));
    assert_eq!(e.logs(&[&n]).stdout, "try\ntry\ntry\n");
    assert!(
        !e.rootfs_mounted(&id),
        "rootfs mounted after the last retry: {:?}",
        mountinfo_line(&e.rootfs(&id))
    );
    e.ok(&["rm", &n]);
    e.assert_empty("after rm");
}

#[test]
fn t5_killed_supervisor_leaves_rootfs_to_stop_and_rm() {
    let e = Engine::new();
    // Supervisor and init killed: nobody unmounted; rm (no -f) does.
    let a = unique("ksa");
    let ida = e.detach(&a, &[], &["probe", "pause"]);
    let sup = e.supervisor_pid(&a).expect("supervisor pid");
    let init = e.init_pid(&ida).expect("init pid");
    kill9(sup);
    assert!(wait_for(5.0, || !alive(sup)));
    kill9(init);
    assert!(wait_for(5.0, || !alive(init)));
    assert!(e.rootfs_mounted(&ida), "killed before it could unmount");
    e.ok(&["rm", &a]);

    // Supervisor killed, init running: stop unmounts, start mounts again.
    let b = unique("ksb");
    let idb = e.detach(&b, &[], &["probe", "pause"]);
    let sup = e.supervisor_pid(&b).expect("supervisor pid");
    kill9(sup);
    assert!(wait_for(5.0, || !alive(sup)));
    e.ok(&["stop", "-t", "1", &b]);
    assert!(!e.rootfs_mounted(&idb), "rootfs mounted after stop");
    e.ok(&["start", &b]);
    assert!(e.status(&b).starts_with("Up"), "{:?}", e.row(&b));
    assert!(e.rootfs_mounted(&idb), "start mounts the rootfs again");
    e.ok(&["rm", "-f", &b]);
    e.assert_empty("after rm of containers whose supervisor was killed");
}

#[test]
fn t5_always_keeps_restarting_no_does_not() {
    let e = Engine::new();
    let a = unique("al");
    e.detach(
        &a,
        &["--restart", "always"],
        &["sh", "-c", "sleep 0.2; exit 0"],
    );
    assert!(wait_for(20.0, || e.restarts(&a) >= 2), "{:?}", e.row(&a));
    let r1 = e.restarts(&a);
    assert!(
        wait_for(20.0, || e.restarts(&a) > r1),
        "restarts grow: {:?}",
        e.row(&a)
    );

    let no = unique("no");
    e.detach(&no, &["--restart", "no"], &["sh", "-c", "exit 1"]);
    assert!(
        wait_for(10.0, || e.status(&no).starts_with("Exited (1)")),
        "{:?}",
        e.row(&no)
    );
    std::thread::sleep(Duration::from_millis(1000));
    assert_eq!(e.restarts(&no), 0, "{:?}", e.row(&no));
    assert!(e.status(&no).starts_with("Exited (1)"), "{:?}", e.row(&no));
}

#[test]
fn t5_killed_init_is_restarted() {
    let e = Engine::new();
    let n = unique("k9");
    let id = e.detach(&n, &["--restart", "always"], &["probe", "pause"]);
    let pid = e.init_pid(&id).expect("init pid");
    kill9(pid);
    assert!(
        wait_for(15.0, || e.init_pid(&id).is_some_and(|p| p != pid)
            && e.status(&n).starts_with("Up")),
        "not restarted: {:?}",
        e.row(&n)
    );
    assert!(e.restarts(&n) >= 1, "{:?}", e.row(&n));
    assert_eq!(e.row(&n)["exitCode"], Value::Null, "{:?}", e.row(&n));
}

#[test]
fn t5_killed_supervisor_then_rm_f() {
    let e = Engine::new();
    let n = unique("ks");
    let id = e.detach(&n, &["--restart", "always"], &["probe", "pause"]);
    let sup = e.supervisor_pid(&n).expect("supervisor pid");
    let init = e.init_pid(&id).expect("init pid");
    kill9(sup);
    assert!(wait_for(5.0, || !alive(sup)));
    let ls = e.ok(&["ls"]);
    assert!(
        ls.lines()
            .any(|l| l.contains(&n) && l.contains("(no supervisor)")),
        "ls: {ls}"
    );
    assert!(alive(init), "the init outlives its supervisor");
    e.ok(&["rm", "-f", &n]);
    assert!(!alive(init), "init {init} still alive after rm -f");
    assert_eq!(
        cgroup_dirs_named(&id),
        Vec::<PathBuf>::new(),
        "cgroup dirs left"
    );
    e.assert_empty("after rm -f of an unsupervised container");
}

#[test]
fn t5_stop_during_backoff() {
    let e = Engine::new();
    let n = unique("bo");
    let id = e.detach(&n, &["--restart", "always"], &["sh", "-c", "exit 1"]);
    // After 4 quick failures the next backoff is 1.6 s: it is mostly waiting.
    assert!(wait_for(20.0, || e.restarts(&n) >= 4), "{:?}", e.row(&n));
    assert!(
        wait_for(10.0, || e.status(&n).starts_with("Restarting")),
        "{:?}",
        e.row(&n)
    );
    assert!(e.rootfs_mounted(&id), "rootfs unmounted during backoff");
    let o = e.cmd(&["stop", &n]);
    assert!(o.ok(), "{o:?}");
    assert!(!e.rootfs_mounted(&id), "rootfs mounted after stop");
    let r = e.restarts(&n);
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(e.restarts(&n), r, "restarted after stop: {:?}", e.row(&n));
    assert!(e.status(&n).starts_with("Exited"), "{:?}", e.row(&n));
    assert_eq!(e.supervisor_pid(&n), None, "supervisor still recorded");
    assert!(!e.rootfs_mounted(&id), "rootfs mounted again after stop");
}

// ---------------------------------------------------------------------------
// 6. exec
// ---------------------------------------------------------------------------

#[test]
fn t6_exec_output_exit_code_and_tty() {
    let e = Engine::new();
    let n = unique("x");
    e.detach(&n, &[], &["probe", "pause"]);
    assert_eq!(
        e.ok(&["exec", &n, "probe", "echo", "in", "there"]),
        "in there\n"
    );
    let o = e.cmd(&["exec", &n, "sh", "-c", "echo o; exit 5"]);
    assert_eq!((o.code, o.stdout.as_str()), (5, "o\n"), "{o:?}");
    let o = e.cmd(&["exec", &n, "probe", "isatty"]);
    assert_eq!(o.stdout, "0:no 1:no 2:no\n", "{o:?}");
    let o = e.cmd(&["exec", "-t", &n, "probe", "isatty"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(lines(&o.stdout), ["0:yes 1:yes 2:yes"], "{o:?}");
    let o = e.cmd(&["exec", &n, "no-such-command"]);
    assert_eq!(o.code, 127, "exec of a missing command: {o:?}");
}

// ---------------------------------------------------------------------------
// 7. systemd units and boot
// ---------------------------------------------------------------------------

#[test]
fn t7_generate_systemd() {
    let e = Engine::new();
    for (policy, want) in [
        ("always", "always"),
        ("on-failure:2", "on-failure"),
        ("no", "no"),
    ] {
        let n = unique("sd");
        let id = e.detach(
            &n,
            &["--restart", policy, "--stop-timeout", "7"],
            &["probe", "pause"],
        );
        let unit = e.ok(&["generate-systemd", &n]);
        let line = |k: &str| {
            unit.lines()
                .find(|l| l.starts_with(k))
                .unwrap_or_else(|| panic!("no {k} in unit:\n{unit}"))
                .to_string()
        };
        let start = line("ExecStart=");
        assert!(start.contains("container supervise"), "{start}");
        assert!(start.contains(&id) || start.contains(&n), "{start}");
        assert!(
            start.contains(&e.img_root().display().to_string()),
            "{start}"
        );
        let stop = line("ExecStop=");
        assert!(stop.contains("container stop -t 7"), "{stop}");
        assert_eq!(line("Restart="), format!("Restart={want}"), "{policy}");
        let t: u64 = line("TimeoutStopSec=")["TimeoutStopSec=".len()..]
            .trim()
            .parse()
            .expect("TimeoutStopSec is a number");
        assert!(
            t > 7,
            "TimeoutStopSec {t} leaves no room for the stop timeout"
        );
        assert!(unit.contains("[Install]"), "{unit}");
    }
}

#[test]
fn t7_start_all_restartable_after_reboot() {
    let e = Engine::new();
    let a = unique("boot-always");
    let n = unique("boot-no");
    let ida = e.detach(&a, &["--restart", "always"], &["probe", "pause"]);
    let idn = e.detach(&n, &["--restart", "no"], &["probe", "pause"]);
    // A "reboot": supervisors first (so nothing restarts), then the inits.
    for (name, id) in [(&a, &ida), (&n, &idn)] {
        let sup = e.supervisor_pid(name).expect("supervisor");
        let init = e.init_pid(id).expect("init");
        kill9(sup);
        assert!(wait_for(5.0, || !alive(sup)));
        kill9(init);
        assert!(wait_for(5.0, || !alive(init)));
    }
    assert!(!e.status(&a).starts_with("Up"), "{:?}", e.row(&a));
    let o = e.cmd(&["start", "--all-restartable"]);
    assert!(o.ok(), "{o:?}");
    assert!(lines(&o.stdout).contains(&a.as_str()), "{o:?}");
    assert!(!lines(&o.stdout).contains(&n.as_str()), "{o:?}");
    assert!(e.status(&a).starts_with("Up"), "{:?}", e.row(&a));
    assert!(e.init_pid(&ida).is_some());
    assert!(e.supervisor_pid(&a).is_some_and(alive));
    assert!(!e.status(&n).starts_with("Up"), "{:?}", e.row(&n));
    assert_eq!(e.init_pid(&idn), None);
}

// ---------------------------------------------------------------------------
// 8. Many copies of one image
// ---------------------------------------------------------------------------

#[test]
fn t8_many_copies_share_layers_not_upper() {
    let e = Engine::new();
    let layers_before = list_dir(&e.img_root().join("layers"));
    let names: Vec<String> = (0..5).map(|i| unique(&format!("copy{i}"))).collect();
    let ids: Vec<String> = std::thread::scope(|s| {
        let hs: Vec<_> = names
            .iter()
            .map(|n| s.spawn(|| e.detach(n, &[], &["probe", "pause"])))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for (i, n) in names.iter().enumerate() {
        assert!(e.status(n).starts_with("Up"), "{n}: {:?}", e.row(n));
        assert_eq!(
            e.ok(&["exec", n, "probe", "write", &format!("/own-{i}"), n]),
            "ok\n"
        );
    }
    for (i, n) in names.iter().enumerate() {
        let ls = e.ok(&["exec", n, "probe", "ls", "/"]);
        let own: Vec<&str> = ls.lines().filter(|l| l.starts_with("own-")).collect();
        assert_eq!(own, [format!("own-{i}").as_str()], "{n} sees {own:?}");
        assert_eq!(e.ok(&["exec", n, "probe", "cat", &format!("/own-{i}")]), *n);
    }
    assert_eq!(
        list_dir(&e.img_root().join("layers")),
        layers_before,
        "layers/ changed"
    );
    let mut lowers = Vec::new();
    let mut uppers = Vec::new();
    for id in &ids {
        let target = e
            .img_root()
            .join("containers")
            .join(id)
            .join("bundle/rootfs");
        let line =
            mountinfo_line(&target).unwrap_or_else(|| panic!("{} not mounted", target.display()));
        let opts = line.rsplit(' ').next().unwrap_or("");
        let lower: Vec<&str> = opts
            .split(',')
            .filter(|o| o.starts_with("lowerdir"))
            .flat_map(|o| {
                o.split_once('=')
                    .map(|(_, v)| v)
                    .into_iter()
                    .flat_map(|v| v.split(':'))
            })
            .collect();
        assert!(!lower.is_empty(), "no lowerdir in {line}");
        for l in &lower {
            assert!(
                Path::new(l).starts_with(e.img_root().join("layers")),
                "lowerdir {l} is not an image layer"
            );
        }
        lowers.push(lower.join(":"));
        let upper = opts
            .split(',')
            .find_map(|o| o.strip_prefix("upperdir="))
            .unwrap_or("")
            .to_string();
        assert!(upper.contains(id.as_str()), "{id}'s upperdir {upper}");
        uppers.push(upper);
    }
    assert!(
        lowers.windows(2).all(|w| w[0] == w[1]),
        "lowerdirs differ: {lowers:?}"
    );
    uppers.sort();
    uppers.dedup();
    assert_eq!(uppers.len(), 5, "each its own upper dir");
}
