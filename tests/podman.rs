//! podman 4.3 (Debian bookworm) driving berth as its OCI runtime, the way a
//! user would: `podman --runtime <dir>/bin/crun run ...`.
//!
//! Everything lives in one temp dir per test binary (storage, run root,
//! podman's tmpdir, containers.conf, storage.conf, registries.conf), torn
//! down at exit; dirs left by a killed run are cleaned by the next one.
//!
//! The runtime is called `crun` (a symlink to the berth binary) because
//! conmon passes `--log F --log-format=json` to `create` only when the
//! runtime's file name is `runc` or `crun`; a symlink is enough, conmon
//! looks at the basename of the path podman gives it.
//!
//! `BERTH_PODMAN_RUNTIME=/usr/sbin/runc cargo test --test podman` runs the
//! same tests against another runtime, to tell a podman quirk from a berth
//! bug.
//!
//! Not done here: `podman --log-level=debug` (conmon then logs to syslog,
//! and with no syslog on these machines every container stalls ~20 s).
mod common;
use common::*;

use serde_json::Value;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The fixture image, as build-image.sh names it.
const IMG: &str = "localhost/berth-busybox:latest";
/// Generous bound for one podman invocation.
const TIMEOUT: f64 = 90.0;
/// Prefix of the per-process environment dir under the temp dir.
const DIR_PREFIX: &str = "berth-podman-";

// ---------------------------------------------------------------------------
// The podman environment
// ---------------------------------------------------------------------------

struct Podman {
    dir: PathBuf,
    runtime: PathBuf,
}

static ENV: OnceLock<Podman> = OnceLock::new();

/// The shared environment, set up on first use (image loaded).
fn pm() -> &'static Podman {
    ENV.get_or_init(Podman::setup)
}

/// The result of one podman invocation.
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

fn exit_code(st: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}

/// Waits for `child` up to `secs`; on timeout kills it (by its pid) and
/// panics naming `what`.
fn wait_child(child: &mut Child, secs: f64, what: &str) -> ExitStatus {
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

/// Runs `cmd` with stdout/stderr in files (never pipes: conmon and the
/// container could inherit them and keep a reader waiting).
fn run_cmd(mut cmd: Command) -> Out {
    let tmp = TempDir::new("podman-io");
    let out_path = tmp.path().join("stdout");
    let err_path = tmp.path().join("stderr");
    cmd.stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap());
    let what = format!("{cmd:?}");
    let start = Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
    let st = wait_child(&mut child, TIMEOUT, &what);
    Out {
        code: exit_code(st),
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
        elapsed: start.elapsed(),
    }
}

fn conf_path(dir: &Path, name: &str) -> PathBuf {
    dir.join("conf").join(name)
}

/// A podman command in the environment at `dir`, with runtime `runtime`.
fn podman_cmd(dir: &Path, runtime: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("podman");
    c.env("CONTAINERS_CONF", conf_path(dir, "containers.conf"))
        .env("CONTAINERS_STORAGE_CONF", conf_path(dir, "storage.conf"))
        .env(
            "CONTAINERS_REGISTRIES_CONF",
            conf_path(dir, "registries.conf"),
        )
        .arg("--cgroup-manager=cgroupfs")
        .arg("--runtime")
        .arg(runtime)
        .arg("--root")
        .arg(dir.join("root"))
        .arg("--runroot")
        .arg(dir.join("runroot"))
        .arg("--tmpdir")
        .arg(dir.join("tmp"))
        .args(args);
    c
}

fn write_confs(dir: &Path, driver: &str) {
    let d = dir.display();
    let containers = format!(
        r#"[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]

[network]
network_config_dir = "{d}/net"

[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "{d}/events.log"
tmp_dir = "{d}/tmp"
"#
    );
    let storage = format!(
        r#"[storage]
driver = "{driver}"
graphroot = "{d}/root"
runroot = "{d}/runroot"
"#
    );
    let registries = "unqualified-search-registries = []\n";
    std::fs::write(conf_path(dir, "containers.conf"), containers).unwrap();
    std::fs::write(conf_path(dir, "storage.conf"), storage).unwrap();
    std::fs::write(conf_path(dir, "registries.conf"), registries).unwrap();
}

/// The oci-archive of the fixture image, built by build-image.sh if missing.
fn image_archive() -> PathBuf {
    static BUILD: std::sync::Once = std::sync::Once::new();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("rootfs-fixtures");
    let archive = fixtures.join("out/busybox-oci.tar");
    BUILD.call_once(|| {
        if !archive.exists() {
            let st = Command::new(fixtures.join("build-image.sh"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .status()
                .expect("run rootfs-fixtures/build-image.sh");
            assert!(st.success(), "rootfs-fixtures/build-image.sh failed");
        }
    });
    assert!(archive.exists(), "{} missing", archive.display());
    archive
}

impl Podman {
    fn setup() -> Podman {
        require_root();
        let v = Command::new("podman").arg("--version").output();
        assert!(
            v.as_ref().is_ok_and(|o| o.status.success()),
            "podman not found: apt-get install podman (these tests drive podman 4.3)"
        );
        cleanup_stale_dirs();
        let archive = image_archive();

        let dir = std::env::temp_dir().join(format!("{DIR_PREFIX}{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for sub in ["bin", "conf", "root", "runroot", "tmp", "net"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        // conmon adds --log/--log-format json only for a runtime named
        // runc or crun.
        let target = std::env::var_os("BERTH_PODMAN_RUNTIME")
            .map(PathBuf::from)
            .unwrap_or_else(berth_bin);
        let name = if target.file_name().is_some_and(|n| n == "runc") {
            "runc"
        } else {
            "crun"
        };
        let runtime = dir.join("bin").join(name);
        std::os::unix::fs::symlink(&target, &runtime).unwrap();
        std::fs::write(
            dir.join("runtime-path"),
            runtime.as_os_str().as_encoded_bytes(),
        )
        .unwrap();

        let env = Podman { dir, runtime };
        register_teardown();

        // overlay where the kernel and the temp dir's fs allow it, vfs
        // otherwise.
        let mut loaded = None;
        for driver in ["overlay", "vfs"] {
            write_confs(&env.dir, driver);
            let o = env.run(&["load", "-q", "-i", archive.to_str().unwrap()]);
            if o.ok() {
                loaded = Some(driver);
                break;
            }
            eprintln!("podman load with storage driver {driver} failed: {o:?}");
            env.reset_storage();
        }
        assert!(loaded.is_some(), "podman load failed with overlay and vfs");

        let path = env.run(&["info", "--format", "{{.Host.OCIRuntime.Path}}"]);
        assert_eq!(
            path.stdout.trim(),
            env.runtime.to_str().unwrap(),
            "podman does not use our runtime: {path:?}"
        );
        env
    }

    fn cmd(&self, args: &[&str]) -> Command {
        podman_cmd(&self.dir, &self.runtime, args)
    }

    fn run(&self, args: &[&str]) -> Out {
        run_cmd(self.cmd(args))
    }

    /// Runs podman and asserts exit 0; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(o.ok(), "podman {args:?} failed: {o:?}");
        o.stdout
    }

    /// `podman inspect --format FORMAT NAME`, trimmed.
    fn inspect(&self, name: &str, format: &str) -> String {
        self.ok(&["inspect", "--format", format, name])
            .trim()
            .to_string()
    }

    fn status(&self, name: &str) -> String {
        self.inspect(name, "{{.State.Status}}")
    }

    fn pid(&self, name: &str) -> i32 {
        self.inspect(name, "{{.State.Pid}}").parse().unwrap()
    }

    fn logs(&self, name: &str) -> String {
        let o = self.run(&["logs", name]);
        o.stdout + &o.stderr
    }

    /// Waits until the container's log contains `needle`.
    fn wait_log(&self, name: &str, needle: &str) {
        assert!(
            wait_for(15.0, || self.logs(name).contains(needle)),
            "{name}: {needle:?} never showed in its log: {:?}",
            self.logs(name)
        );
    }

    /// Wipes the storage after a failed load (unmounts what the driver
    /// mounted), keeping the conf files.
    fn reset_storage(&self) {
        unmount_under(&self.dir);
        for sub in ["root", "runroot", "tmp"] {
            let p = self.dir.join(sub);
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------
// Teardown
// ---------------------------------------------------------------------------

extern "C" fn teardown_at_exit() {
    // A panic must not unwind out of an atexit handler.
    let _ = std::panic::catch_unwind(|| {
        if let Some(env) = ENV.get() {
            teardown(&env.dir);
        }
    });
}

fn register_teardown() {
    // SAFETY: atexit only records a pointer to a plain `extern "C"` function
    // with no arguments; the function reads a static and never unwinds.
    let rc = unsafe { libc::atexit(teardown_at_exit) };
    assert_eq!(rc, 0, "atexit");
}

/// Removes every container of the environment at `dir`, kills what is left
/// of them (by pid, only processes naming `dir` or in one of its
/// containers' cgroups), unmounts and removes `dir`.
fn teardown(dir: &Path) {
    let runtime = std::fs::read(dir.join("runtime-path"))
        .ok()
        .map(|b| PathBuf::from(String::from_utf8_lossy(&b).into_owned()))
        .unwrap_or_else(|| dir.join("bin/crun"));
    if conf_path(dir, "containers.conf").exists() {
        let _ = run_cmd(podman_cmd(dir, &runtime, &["rm", "-af", "-t", "0"]));
    }
    // Fallback for a podman that could not remove them.
    let ids = container_ids(dir);
    for id in &ids {
        let _ = Command::new(&runtime)
            .args(["delete", "--force", id])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
    let needle = dir.to_string_lossy().into_owned();
    for pid in all_pids() {
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
        let conmon = cmdline
            .split(' ')
            .next()
            .is_some_and(|a| a.ends_with("conmon"));
        let ours = (conmon && cmdline.contains(&needle))
            || ids
                .iter()
                .any(|id| cgroup.contains(&format!("libpod-{id}")));
        if ours && pid != std::process::id() as i32 {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
    unmount_under(dir);
    let _ = std::fs::remove_dir_all(dir);
}

/// Container ids podman's storage knows (`<driver>-containers/<id>`).
fn container_ids(dir: &Path) -> Vec<String> {
    let mut ids = Vec::new();
    for e in std::fs::read_dir(dir.join("root"))
        .into_iter()
        .flatten()
        .flatten()
    {
        if e.file_name().to_string_lossy().ends_with("-containers") {
            for c in std::fs::read_dir(e.path()).into_iter().flatten().flatten() {
                let id = c.file_name().to_string_lossy().into_owned();
                if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
                    ids.push(id);
                }
            }
        }
    }
    ids
}

fn all_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// Detaches every mount at or under `dir`, deepest first.
fn unmount_under(dir: &Path) {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<PathBuf> = info
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(PathBuf::from)
        .filter(|p| p.starts_with(dir))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for p in points {
        let _ = nix::mount::umount2(&p, nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Environments of test processes that died before their teardown ran.
fn cleanup_stale_dirs() {
    for e in std::fs::read_dir(std::env::temp_dir())
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name.strip_prefix(DIR_PREFIX) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists() {
            teardown(&e.path());
        }
    }
}

// ---------------------------------------------------------------------------
// Containers
// ---------------------------------------------------------------------------

/// A named container, force-removed on drop.
struct Ctr {
    name: String,
}

impl Ctr {
    fn new(tag: &str) -> Ctr {
        Ctr {
            name: unique(&format!("pm-{tag}")),
        }
    }

    /// `podman run -d --name NAME --network none EXTRA... IMG ARGS...`.
    fn start(tag: &str, extra: &[&str], args: &[&str]) -> Ctr {
        let c = Ctr::new(tag);
        let mut v = vec!["run", "-d", "--name", &c.name, "--network", "none"];
        v.extend_from_slice(extra);
        v.push(IMG);
        v.extend_from_slice(args);
        pm().ok(&v);
        c
    }

    /// As `start`, for a probe that prints `ready`: waits for it.
    fn ready(tag: &str, extra: &[&str], args: &[&str]) -> Ctr {
        let c = Ctr::start(tag, extra, args);
        pm().wait_log(&c.name, "ready");
        c
    }
}

impl Drop for Ctr {
    fn drop(&mut self) {
        if let Some(env) = ENV.get() {
            let _ = env.run(&["rm", "-f", "-t", "0", &self.name]);
        }
    }
}

/// `podman run --rm --network none EXTRA... IMG ARGS...`.
fn run_rm(extra: &[&str], args: &[&str]) -> Out {
    let mut v = vec!["run", "--rm", "--network", "none"];
    v.extend_from_slice(extra);
    v.push(IMG);
    v.extend_from_slice(args);
    pm().run(&v)
}

/// As `run_rm`, asserting exit 0; returns stdout.
fn run_ok(extra: &[&str], args: &[&str]) -> String {
    let o = run_rm(extra, args);
    assert!(o.ok(), "podman run {extra:?} {args:?} failed: {o:?}");
    o.stdout
}

/// Tty output ends lines with \r\n.
fn untty(s: &str) -> String {
    s.replace('\r', "")
}

/// Exists and is not a zombie.
fn alive(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rfind(')')
        .and_then(|i| stat[i + 2..].chars().next())
        .unwrap_or('X');
    state != 'Z' && state != 'X'
}

/// The file holding the memory limit of process `pid`'s cgroup, on the host
/// (v1 memory controller, or v2).
fn host_memory_limit_file(pid: i32) -> PathBuf {
    let cg = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    for line in cg.lines() {
        let mut f = line.splitn(3, ':');
        let (_, ctrls, path) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or(""));
        let path = path.trim_start_matches('/');
        if ctrls.split(',').any(|c| c == "memory") {
            return Path::new("/sys/fs/cgroup/memory")
                .join(path)
                .join("memory.limit_in_bytes");
        }
    }
    let v2 = cg
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or_else(|| panic!("no memory cgroup for {pid}: {cg}"));
    Path::new("/sys/fs/cgroup")
        .join(v2.trim_start_matches('/'))
        .join("memory.max")
}

// ---------------------------------------------------------------------------
// run, exit codes, tty, exec
// ---------------------------------------------------------------------------

#[test]
fn run_prints_output_and_passes_exit_codes() {
    let o = run_rm(&[], &["echo", "hi"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "hi\n"), "{o:?}");
    let o = run_rm(&[], &["sh", "-c", "exit 3"]);
    assert_eq!(o.code, 3, "{o:?}");
}

#[test]
fn run_t_gives_a_tty() {
    let out = run_ok(&["-t"], &["probe", "isatty"]);
    assert_eq!(untty(&out).trim(), "0:yes 1:yes 2:yes");
}

#[test]
fn exec_runs_in_a_detached_container_with_and_without_tty() {
    let c = Ctr::start("exec", &[], &["sleep", "100"]);
    assert_eq!(pm().ok(&["exec", &c.name, "echo", "inside"]), "inside\n");
    let tty = untty(&pm().ok(&["exec", "-t", &c.name, "probe", "isatty"]));
    assert!(tty.contains("0:yes 1:yes"), "exec -t: {tty:?}");
    let plain = pm().ok(&["exec", &c.name, "probe", "isatty"]);
    assert!(plain.contains("0:no 1:no"), "exec without -t: {plain:?}");
}

// ---------------------------------------------------------------------------
// stop, restart, kill, pause, rm
// ---------------------------------------------------------------------------

#[test]
fn stop_of_a_process_without_handler_ends_with_sigkill_after_the_timeout() {
    // pid 1 of a pid namespace gets no default action for SIGTERM: `probe
    // pause` installs no handler, so only the SIGKILL after -t ends it.
    let c = Ctr::ready("stopkill", &[], &["probe", "pause"]);
    let o = pm().run(&["stop", "-t", "1", &c.name]);
    assert!(o.ok(), "{o:?}");
    assert!(
        o.elapsed >= Duration::from_secs(1),
        "stop -t 1 took {:?}: SIGTERM should have been ignored",
        o.elapsed
    );
    assert_eq!(pm().status(&c.name), "exited");
    assert_eq!(pm().inspect(&c.name, "{{.State.ExitCode}}"), "137");
}

#[test]
fn stop_of_a_process_handling_sigterm_is_fast_and_exits_0() {
    let c = Ctr::ready("stopterm", &[], &["probe", "trap", "TERM"]);
    let o = pm().run(&["stop", "-t", "10", &c.name]);
    assert!(o.ok(), "{o:?}");
    assert!(
        o.elapsed < Duration::from_secs(5),
        "stop took {:?}",
        o.elapsed
    );
    assert_eq!(pm().status(&c.name), "exited");
    assert_eq!(pm().inspect(&c.name, "{{.State.ExitCode}}"), "0");
    assert!(pm().logs(&c.name).contains("got SIGTERM"));
}

#[test]
fn restart_runs_a_new_init() {
    let c = Ctr::ready("restart", &[], &["probe", "trap", "TERM"]);
    let old = pm().pid(&c.name);
    pm().ok(&["restart", "-t", "5", &c.name]);
    assert_eq!(pm().status(&c.name), "running");
    let new = pm().pid(&c.name);
    assert_ne!(old, new, "restart kept the old init");
    assert!(alive(new), "new init {new} is not alive");
    assert!(!alive(old), "old init {old} is still alive");
    assert!(
        wait_for(15.0, || pm().logs(&c.name).matches("ready").count() == 2),
        "second run never printed ready: {:?}",
        pm().logs(&c.name)
    );
}

#[test]
fn kill_sends_the_named_signal() {
    let c = Ctr::ready("kill", &[], &["probe", "trap", "USR1"]);
    pm().ok(&["kill", "-s", "USR1", &c.name]);
    pm().wait_log(&c.name, "got SIGUSR1");
    assert!(
        wait_for(15.0, || pm().status(&c.name) == "exited"),
        "{}",
        pm().status(&c.name)
    );
    assert_eq!(pm().inspect(&c.name, "{{.State.ExitCode}}"), "0");
}

#[test]
fn pause_and_unpause() {
    let c = Ctr::ready("pause", &[], &["probe", "pause"]);
    pm().ok(&["pause", &c.name]);
    assert_eq!(pm().status(&c.name), "paused");
    pm().ok(&["unpause", &c.name]);
    assert_eq!(pm().status(&c.name), "running");
    assert_eq!(pm().ok(&["exec", &c.name, "echo", "thawed"]), "thawed\n");
}

#[test]
fn rm_f_removes_a_running_container() {
    let c = Ctr::ready("rmf", &[], &["probe", "pause"]);
    let pid = pm().pid(&c.name);
    let id = pm().inspect(&c.name, "{{.Id}}");
    pm().ok(&["rm", "-f", "-t", "0", &c.name]);
    let o = pm().run(&["container", "exists", &c.name]);
    assert_eq!(o.code, 1, "container still exists: {o:?}");
    assert!(wait_for(5.0, || !alive(pid)), "init {pid} survived rm -f");
    // conmon writes the exit file, runs podman's cleanup command and only
    // then exits: give it the time that takes on a loaded machine.
    let gone = wait_for(15.0, || conmons_of(&id).is_empty());
    let left: Vec<(i32, String)> = conmons_of(&id)
        .into_iter()
        .map(|p| {
            (
                p,
                std::fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default(),
            )
        })
        .collect();
    assert!(gone, "conmon left for {id}: {left:?}");
}

/// Live conmon processes whose command line names container `id`.
fn conmons_of(id: &str) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|&p| alive(p))
        .filter(|p| {
            std::fs::read_to_string(format!("/proc/{p}/cmdline")).is_ok_and(|c| {
                c.split('\0').next().is_some_and(|a| a.ends_with("conmon")) && c.contains(id)
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Resources and security options
// ---------------------------------------------------------------------------

#[test]
fn memory_limit_is_set_on_the_containers_cgroup() {
    let c = Ctr::ready("memhost", &["--memory", "32m"], &["probe", "pause"]);
    let file = host_memory_limit_file(pm().pid(&c.name));
    let v = std::fs::read_to_string(&file).unwrap();
    assert_eq!(v.trim(), "33554432", "{}", file.display());
}

#[test]
fn memory_limit_is_visible_in_the_containers_sys_fs_cgroup() {
    // runc (no cgroup namespace, v1) bind-mounts the container's own
    // cgroup of each controller at /sys/fs/cgroup/<controller>; with a
    // cgroup namespace (v2) the mount shows the namespace root: either way
    // the container sees its own limit.
    let out = run_ok(
        &["--memory", "32m"],
        &[
            "sh",
            "-c",
            "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
        ],
    );
    assert_eq!(out.trim(), "33554432");
}

#[test]
fn pids_limit_makes_fork_fail_with_eagain() {
    let out = run_ok(&["--pids-limit", "20"], &["probe", "fork", "50"]);
    let out = out.trim();
    assert!(out.ends_with("error=EAGAIN"), "{out}");
    let n: u32 = out
        .strip_prefix("forked=")
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("bad fork output {out:?}"));
    assert!(n < 20, "forked {n} children under a limit of 20");
}

#[test]
fn cap_drop_all_leaves_no_capabilities() {
    let out = run_ok(&["--cap-drop", "ALL"], &["probe", "caps"]);
    for field in ["CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        let line = out
            .lines()
            .find(|l| l.starts_with(field))
            .unwrap_or_else(|| panic!("no {field} in {out}"));
        assert!(line.ends_with("0000000000000000"), "{line}");
    }
}

#[test]
fn read_only_rootfs_refuses_writes_but_tmp_is_writable() {
    let o = run_rm(&["--read-only"], &["probe", "write", "/x", "y"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert!(o.stderr.contains("EROFS"), "{o:?}");
    // podman mounts tmpfs (option tmpcopyup) on /tmp, /var/tmp and /run.
    let out = run_ok(&["--read-only"], &["probe", "write", "/tmp/x", "y"]);
    assert_eq!(out.trim(), "ok");
}

#[test]
fn user_option_sets_uid_and_gid() {
    let out = run_ok(&["--user", "1000:1000"], &["probe", "id"]);
    assert_eq!(out.trim(), "uid=1000 gid=1000 groups=1000");
}

#[test]
fn env_option_reaches_the_process() {
    let out = run_ok(&["-e", "FOO=bar"], &["probe", "env"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"FOO=bar"), "{out}");
    assert!(
        lines.contains(&"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        "{out}"
    );
    assert!(lines.contains(&"container=podman"), "{out}");
}

#[test]
fn workdir_option_sets_the_cwd() {
    assert_eq!(
        run_ok(&["--workdir", "/tmp"], &["probe", "cwd"]).trim(),
        "/tmp"
    );
}

#[test]
fn podmans_default_seccomp_profile_is_applied() {
    assert_eq!(run_ok(&[], &["probe", "status", "Seccomp"]).trim(), "2");
    // swapon is in no allow rule of the profile: EPERM even with
    // CAP_SYS_ADMIN, which without the filter gets as far as ENOENT.
    let filtered = run_rm(&["--cap-add", "SYS_ADMIN"], &["probe", "syscall", "swapon"]);
    assert_eq!(filtered.stdout.trim(), "error: EPERM", "{filtered:?}");
    let unconfined = run_rm(
        &[
            "--cap-add",
            "SYS_ADMIN",
            "--security-opt",
            "seccomp=unconfined",
        ],
        &["probe", "syscall", "swapon"],
    );
    assert_eq!(unconfined.stdout.trim(), "error: ENOENT", "{unconfined:?}");
    assert_eq!(
        run_ok(
            &["--security-opt", "seccomp=unconfined"],
            &["probe", "status", "Seccomp"]
        )
        .trim(),
        "0"
    );
}

#[test]
fn ulimits_from_containers_conf_are_applied() {
    let out = run_ok(&[], &["sh", "-c", "probe limit nofile; probe limit nproc"]);
    assert_eq!(out, "20000 20000\n32768 32768\n");
}

// ---------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------

#[test]
fn runtime_errors_come_back_through_podman() {
    let o = run_rm(&[], &["/nonexistent"]);
    assert_eq!(o.code, 127, "{o:?}");
    assert!(o.stderr.contains("/nonexistent"), "{o:?}");
    assert!(
        o.stderr.to_lowercase().contains("no such file"),
        "podman should show the runtime's error: {o:?}"
    );
    let o = run_rm(&[], &["nonexistentcmd"]);
    assert_eq!(o.code, 127, "{o:?}");
    assert!(o.stderr.contains("executable file not found"), "{o:?}");
    let o = run_rm(&[], &["/etc/passwd"]);
    assert_eq!(o.code, 126, "{o:?}");
    assert!(
        o.stderr.to_lowercase().contains("permission denied"),
        "{o:?}"
    );
}

#[test]
fn inspect_reports_the_runtime_and_labels() {
    let c = Ctr::ready("inspect", &[], &["probe", "pause"]);
    let v: Value = serde_json::from_str(&pm().ok(&["inspect", &c.name])).unwrap();
    assert_eq!(v[0]["OCIRuntime"], pm().runtime.to_str().unwrap());
    assert_eq!(v[0]["Config"]["Labels"]["org.berth.fixture"], "busybox");
    assert_eq!(v[0]["State"]["Running"], true);
}
