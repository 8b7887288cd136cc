//! containerd 1.6 driving berth through its runc shim
//! (`containerd-shim-runc-v2`), the way `ctr` users and Kubernetes nodes
//! do: a private containerd per test binary, the fixture image imported
//! from an oci-archive, and `ctr` commands whose results must match what
//! runc gives under the same containerd.
//!
//! The shim prefixes each call with `--root /run/containerd/runc/<ns> --log
//! <bundle>/log.json --log-format json`, reads the last error line of
//! log.json as the error, and passes `--console-socket` for `-t`.
//! berth reaches containerd in two ways here: `ctr run --runc-binary
//! <berth>` (the shim's `BinaryName` option, what CRI's
//! `runtimes.runc.options.BinaryName` also sets; that config section is
//! CRI-only, and CRI is disabled) and, for `ctr container create` (which
//! has no such flag), the shim's default `runc` looked up in containerd's
//! PATH, where a `runc` symlink to berth comes first.
//!
//! **Why one `#[test]`.** containerd is a daemon shared by every scenario
//! (starting it and importing the image costs about a second), and it must
//! be stopped, its shims killed and its mounts and cgroups removed when the
//! scenarios are done. Statics are never dropped, so a `OnceLock` guard
//! could start it but never stop it; a count of finished tests breaks as
//! soon as a filter selects fewer tests. One test owns the daemon as a
//! local whose `Drop` cleans up, and runs the scenarios in parallel
//! threads, naming each one that fails.
//!
//! Knobs (for working on the tests themselves):
//! - `BERTH_CONTAINERD_RUNTIME=/usr/sbin/runc` runs the scenarios against
//!   another runtime, to check an expectation against runc;
//! - `BERTH_CONTAINERD_SCENARIOS=name,name` runs only those scenarios;
//! - `BERTH_CONTAINERD_IMAGE=FILE` imports that archive (oci or docker;
//!   it must name `localhost/berth-busybox:latest`) instead of the
//!   fixture's.
mod common;
use common::*;

use serde_json::Value;
use std::collections::BTreeSet;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The image name that `rootfs-fixtures/build-image.sh` writes.
const IMAGE: &str = "localhost/berth-busybox:latest";

/// Generous bound for any single `ctr` call.
const TIMEOUT: f64 = 60.0;

// ---------------------------------------------------------------------------
// The image archive
// ---------------------------------------------------------------------------

/// The oci-archive of the fixture rootfs (`localhost/berth-busybox:latest`
/// in its index.json, which ctr 1.6 takes as the image name). Made once
/// per test binary by `rootfs-fixtures/build-image.sh`, which rebuilds only
/// what is older than the rootfs and locks against concurrent callers.
fn image_archive() -> PathBuf {
    static ARCHIVE: OnceLock<PathBuf> = OnceLock::new();
    ARCHIVE
        .get_or_init(|| {
            if let Some(p) = std::env::var_os("BERTH_CONTAINERD_IMAGE") {
                return PathBuf::from(p);
            }
            let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("rootfs-fixtures");
            let script = fixtures.join("build-image.sh");
            let out = Command::new(&script)
                .stdin(Stdio::null())
                .output()
                .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
            assert!(
                out.status.success(),
                "{} failed ({}): {}{}",
                script.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let tar = fixtures.join("out/busybox-oci.tar");
            assert!(tar.exists(), "{} was not built", tar.display());
            tar
        })
        .clone()
}

// ---------------------------------------------------------------------------
// Running commands
// ---------------------------------------------------------------------------

/// The result of one command.
#[derive(Debug)]
struct Out {
    code: i32,
    stdout: String,
    stderr: String,
}

fn exit_code(st: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}

/// Waits for `child` up to `secs`; on timeout kills it (by its pid) and
/// returns None.
fn try_wait_child(child: &mut Child, secs: f64) -> Option<ExitStatus> {
    let end = Instant::now() + Duration::from_secs_f64(secs);
    loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            return Some(st);
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// [`try_wait_child`], panicking naming `what` on timeout.
fn wait_child(child: &mut Child, secs: f64, what: &str) -> ExitStatus {
    try_wait_child(child, secs).unwrap_or_else(|| panic!("{what} did not finish within {secs} s"))
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// Quotes `s` for `sh -c`.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

// ---------------------------------------------------------------------------
// The private containerd
// ---------------------------------------------------------------------------

/// A containerd of our own: config, root, state and sockets in a temp dir,
/// the runc runtime pointed at berth. Dropping it removes every container,
/// stops the daemon, kills what is left of its shims and containers, and
/// removes its mounts, cgroups and directories.
struct Containerd {
    dir: PathBuf,
    sock: PathBuf,
    ns: String,
    /// The runtime the shim runs (berth, or the override).
    runtime: PathBuf,
    snapshotter: String,
    fifo: String,
    child: Option<Child>,
    seq: AtomicUsize,
}

impl Containerd {
    fn start() -> Containerd {
        let runtime =
            std::env::var_os("BERTH_CONTAINERD_RUNTIME").map_or_else(berth_bin, PathBuf::from);
        let dir = std::env::temp_dir().join(format!("berth-ctrd-{}", unique("t")));
        let bin = dir.join("bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(dir.join("io")).unwrap();
        std::fs::create_dir_all(dir.join("fifo")).unwrap();
        // The shim runs `runc` from PATH when no BinaryName is given.
        std::os::unix::fs::symlink(&runtime, bin.join("runc")).unwrap();
        let sock = dir.join("containerd.sock");
        let d = dir.display();
        let config = format!(
            r#"version = 2
root = "{d}/root"
state = "{d}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = "{d}/containerd.sock"

[ttrpc]
  address = "{d}/containerd.sock.ttrpc"

[debug]
  level = "info"

[plugins."io.containerd.internal.v1.opt"]
  path = "{d}/opt"
"#
        );
        std::fs::write(dir.join("config.toml"), config).unwrap();
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_else(|_| "/usr/sbin:/usr/bin:/sbin:/bin".into())
        );
        let log = File::create(dir.join("containerd.log")).unwrap();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(dir.join("config.toml"))
            .env("PATH", path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn containerd (apt-get install containerd)");
        let fifo = dir.join("fifo").to_str().unwrap().to_string();
        let mut c = Containerd {
            dir,
            sock,
            ns: format!("berth-test-{}", std::process::id()),
            runtime,
            snapshotter: "overlayfs".into(),
            fifo,
            child: Some(child),
            seq: AtomicUsize::new(0),
        };
        c.wait_ready();
        c.snapshotter = c.pick_snapshotter();
        let archive = image_archive();
        c.ok(&[
            "images",
            "import",
            "--all-platforms",
            archive.to_str().unwrap(),
        ]);
        let images = c.ok(&["images", "ls", "-q"]);
        assert!(
            images.lines().any(|l| l == IMAGE),
            "{} holds no {IMAGE}: {images}",
            archive.display()
        );
        c
    }

    fn log_tail(&self) -> String {
        let text = read(&self.dir.join("containerd.log"));
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn wait_ready(&mut self) {
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let child = self.child.as_mut().unwrap();
            if let Some(st) = child.try_wait().unwrap() {
                panic!("containerd exited ({st}) at start:\n{}", self.log_tail());
            }
            if self.sock.exists() && self.ctr(&["version"]).code == 0 {
                return;
            }
            assert!(
                Instant::now() < end,
                "containerd not ready after 30 s:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// overlayfs when containerd loaded it (its plugin test-mounts an
    /// overlay in its root at start), else native.
    fn pick_snapshotter(&self) -> String {
        let plugins = self.ok(&["plugins", "ls"]);
        let overlay_ok = plugins.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.first() == Some(&"io.containerd.snapshotter.v1")
                && f.get(1) == Some(&"overlayfs")
                && f.last() == Some(&"ok")
        });
        if overlay_ok { "overlayfs" } else { "native" }.into()
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ctr");
        c.arg("-a")
            .arg(&self.sock)
            .arg("-n")
            .arg(&self.ns)
            .args(args);
        c.env("CONTAINERD_SNAPSHOTTER", &self.snapshotter);
        c
    }

    fn io_paths(&self) -> (PathBuf, PathBuf) {
        let n = self.seq.fetch_add(1, Ordering::SeqCst);
        let io = self.dir.join("io");
        (io.join(format!("{n}.out")), io.join(format!("{n}.err")))
    }

    /// Runs `cmd` with output sent to files (a pipe would be held open by
    /// anything the command leaves running) and `stdin` piped in.
    fn exec(&self, cmd: Command, stdin: Option<&[u8]>) -> Out {
        let what = format!("{cmd:?}");
        self.try_exec(cmd, stdin, TIMEOUT)
            .unwrap_or_else(|| panic!("{what} did not finish within {TIMEOUT} s"))
    }

    /// [`Self::exec`], returning None when `cmd` is still running after
    /// `secs` (it is killed then).
    fn try_exec(&self, mut cmd: Command, stdin: Option<&[u8]>, secs: f64) -> Option<Out> {
        let (out_path, err_path) = self.io_paths();
        cmd.stdout(File::create(&out_path).unwrap());
        cmd.stderr(File::create(&err_path).unwrap());
        cmd.stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let what = format!("{cmd:?}");
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn {what}: {e}"));
        if let Some(data) = stdin {
            let mut w = child.stdin.take().unwrap();
            let _ = w.write_all(data);
        }
        let st = try_wait_child(&mut child, secs)?;
        Some(Out {
            code: exit_code(st),
            stdout: read(&out_path),
            stderr: read(&err_path),
        })
    }

    fn ctr(&self, args: &[&str]) -> Out {
        self.exec(self.cmd(args), None)
    }

    /// `ctr ARGS`, asserting success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let o = self.ctr(args);
        assert_eq!(o.code, 0, "ctr {args:?} failed: {o:?}");
        o.stdout
    }

    /// `ctr ARGS`, asserting failure; returns stderr.
    fn fails(&self, args: &[&str]) -> String {
        let o = self.ctr(args);
        assert_ne!(o.code, 0, "ctr {args:?} should have failed: {o:?}");
        o.stderr
    }

    /// `ctr ARGS` on a pseudo-terminal: `ctr -t` needs a terminal on its
    /// stdin, so it runs under `script(1)`, whose `-e` returns its exit code.
    fn ctr_tty(&self, args: &[&str]) -> Out {
        let mut line = vec!["ctr".to_string(), "-a".into()];
        line.push(self.sock.to_str().unwrap().into());
        line.extend(["-n".into(), self.ns.clone()]);
        line.extend(args.iter().map(|a| a.to_string()));
        let line: Vec<String> = line.iter().map(|a| shell_quote(a)).collect();
        let mut c = Command::new("script");
        c.args(["-qec", &line.join(" "), "/dev/null"]);
        c.env("CONTAINERD_SNAPSHOTTER", &self.snapshotter);
        self.exec(c, None)
    }

    /// The arguments of `ctr run` with the runtime given as `--runc-binary`:
    /// `run FLAGS... IMAGE ID CMD...`.
    fn run_args<'a>(&'a self, flags: &[&'a str], id: &'a str, cmd: &[&'a str]) -> Vec<&'a str> {
        let mut a = vec!["run", "--runc-binary", self.runtime.to_str().unwrap()];
        a.extend(["--fifo-dir", self.fifo_dir()]);
        a.extend_from_slice(flags);
        a.extend([IMAGE, id]);
        a.extend_from_slice(cmd);
        a
    }

    /// ctr's IO fifos go to our dir rather than /run/containerd/fifo.
    fn fifo_dir(&self) -> &str {
        &self.fifo
    }

    /// `ctr run -d ... ID CMD...`, asserting success.
    fn run_detached(&self, id: &str, cmd: &[&str]) {
        self.ok(&self.run_args(&["-d"], id, cmd));
        assert_eq!(self.task(id).map(|t| t.1), Some("RUNNING".into()));
    }

    /// `(pid, STATUS)` of a task, from `ctr task ls`.
    fn task(&self, id: &str) -> Option<(u32, String)> {
        self.ok(&["task", "ls"]).lines().skip(1).find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.first() == Some(&id)).then(|| (f[1].parse().unwrap(), f[2].to_string()))
        })
    }

    fn wait_status(&self, id: &str, status: &str) {
        let mut last = None;
        let reached = wait_for(20.0, || {
            last = self.task(id);
            last.as_ref().is_some_and(|t| t.1 == status)
        });
        assert!(reached, "task {id} never became {status}: {last:?}");
    }

    /// The pids `ctr task ps` lists.
    fn ps(&self, id: &str) -> BTreeSet<u32> {
        let text = self.ok(&["task", "ps", id]);
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
        assert_eq!(header, ["PID", "INFO"], "ctr task ps {id}: {text}");
        lines
            .filter_map(|l| l.split_whitespace().next())
            .map(|p| p.parse().unwrap_or_else(|_| panic!("ps line {p:?}")))
            .collect()
    }

    fn containers(&self) -> Vec<String> {
        self.ok(&["containers", "ls", "-q"])
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The bundle the shim hands to the runtime (holds log.json).
    fn bundle(&self, id: &str) -> PathBuf {
        self.dir
            .join("state/io.containerd.runtime.v2.task")
            .join(&self.ns)
            .join(id)
    }

    /// The runtime's `--root`, as the shim passes it.
    fn runtime_root(&self) -> PathBuf {
        Path::new("/run/containerd/runc").join(&self.ns)
    }

    /// The container's directory in one cgroup v1 hierarchy (ctr's spec
    /// puts it at `/<namespace>/<id>`), if this host has that hierarchy.
    fn cgroup_v1(&self, controller: &str, id: &str) -> Option<PathBuf> {
        let h = Path::new("/sys/fs/cgroup").join(controller);
        h.join("cgroup.procs")
            .exists()
            .then(|| h.join(&self.ns).join(id))
    }

    /// Asserts that a removed container left nothing behind: no container
    /// record, no runtime state, no cgroup.
    fn assert_gone(&self, id: &str) {
        assert!(
            !self.containers().iter().any(|c| c == id),
            "container {id} still listed"
        );
        let state = self.runtime_root().join(id);
        assert!(!state.exists(), "runtime state {} left", state.display());
        for ctl in ["memory", "pids", "freezer"] {
            if let Some(cg) = self.cgroup_v1(ctl, id) {
                assert!(!cg.exists(), "cgroup {} left", cg.display());
            }
        }
    }

    /// Best-effort removal of a container and its task.
    /// Never panics (it also serves `Drop`): a hung call is killed after
    /// 15 s and the rest of the cleanup goes on.
    fn remove(&self, id: &str) {
        for args in [
            &["task", "kill", "-s", "SIGKILL", id][..],
            &["task", "rm", "-f", id],
            &["containers", "rm", id],
        ] {
            let _ = self.try_exec(self.cmd(args), None, 15.0);
        }
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let d = self.dir.to_str().unwrap().to_string();
        // Remove what is left through containerd, so that shims exit and
        // unmount the rootfs themselves; a frozen task would not die.
        thaw_cgroups(&self.ns);
        if self.child.is_some() {
            let ls = self.try_exec(self.cmd(&["containers", "ls", "-q"]), None, 15.0);
            for id in ls.map(|o| o.stdout).unwrap_or_default().lines() {
                self.remove(id);
            }
        }
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGTERM);
            let end = Instant::now() + Duration::from_secs(10);
            while child.try_wait().ok().flatten().is_none() && Instant::now() < end {
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        // Shims name our socket in their command line. A killed shim
        // leaves its socket in /run/containerd/s.
        for pid in pids_naming(&d) {
            let socket = shim_socket(pid);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::SIGKILL);
            if let Some(s) = socket {
                let _ = std::fs::remove_file(s);
            }
        }
        remove_cgroups(&self.ns);
        unmount_under(&d);
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = std::fs::remove_dir_all(self.runtime_root());
    }
}

/// Processes other than us whose command line mentions `s`.
fn pids_naming(s: &str) -> Vec<nix::unistd::Pid> {
    let me = std::process::id() as i32;
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&p| p != me)
        .filter(|p| {
            let cmdline = std::fs::read(format!("/proc/{p}/cmdline")).unwrap_or_default();
            String::from_utf8_lossy(&cmdline).contains(s)
        })
        .map(nix::unistd::Pid::from_raw)
        .collect()
}

/// The socket a shim listens on: containerd 1.6 names it
/// `/run/containerd/s/<sha256 of ADDRESS/NAMESPACE/ID>` from the shim's
/// `-address`, `-namespace` and `-id` flags.
fn shim_socket(pid: nix::unistd::Pid) -> Option<PathBuf> {
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let args: Vec<String> = cmdline
        .split(|b| *b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let flag = |f: &str| {
        let i = args.iter().position(|a| a == f)?;
        args.get(i + 1).cloned()
    };
    let key = format!(
        "{}/{}/{}",
        flag("-address")?,
        flag("-namespace")?,
        flag("-id")?
    );
    let mut c = Command::new("sha256sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .ok()?;
    c.stdin.take()?.write_all(key.as_bytes()).ok()?;
    let out = c.wait_with_output().ok()?;
    let hash = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()?
        .to_string();
    Some(Path::new("/run/containerd/s").join(hash))
}

/// The cgroups named after the namespace: `/<ns>` in each v1 hierarchy,
/// or in the v2 root.
fn ns_cgroups(ns: &str) -> Vec<PathBuf> {
    let mut tops = vec![Path::new("/sys/fs/cgroup").join(ns)];
    for e in std::fs::read_dir("/sys/fs/cgroup").into_iter().flatten() {
        let Ok(e) = e else { continue };
        tops.push(e.path().join(ns));
    }
    tops.retain(|t| t.is_dir());
    tops
}

/// Thaws every frozen container of the namespace (v1 freezer.state, v2
/// cgroup.freeze).
fn thaw_cgroups(ns: &str) {
    for t in ns_cgroups(ns) {
        for e in std::fs::read_dir(&t).into_iter().flatten().flatten() {
            let _ = std::fs::write(e.path().join("freezer.state"), "THAWED");
            let _ = std::fs::write(e.path().join("cgroup.freeze"), "0");
        }
    }
}

/// Kills the processes of, and removes, every cgroup of the namespace.
fn remove_cgroups(ns: &str) {
    for t in ns_cgroups(ns) {
        remove_cgroup(&t);
    }
}

fn remove_cgroup(dir: &Path) {
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.path().is_dir() {
            remove_cgroup(&e.path());
        }
    }
    let _ = std::fs::write(dir.join("freezer.state"), "THAWED");
    let _ = std::fs::write(dir.join("cgroup.freeze"), "0");
    for p in read(&dir.join("cgroup.procs")).split_whitespace() {
        if let Ok(p) = p.parse() {
            let _ =
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), nix::sys::signal::SIGKILL);
        }
    }
    // rmdir fails with EBUSY until the killed processes are gone.
    wait_for(5.0, || std::fs::remove_dir(dir).is_ok() || !dir.exists());
}

/// Lazily unmounts everything mounted under `dir`, deepest first.
fn unmount_under(dir: &str) {
    let prefix = format!("{dir}/");
    let mut points: Vec<String> = read(Path::new("/proc/self/mountinfo"))
        .lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(unescape_mountinfo)
        .filter(|p| p.starts_with(&prefix))
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let _ = nix::mount::umount2(p.as_str(), nix::mount::MntFlags::MNT_DETACH);
    }
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() {
            let oct = std::str::from_utf8(&b[i + 1..i + 4]).unwrap_or("x");
            if let Ok(v) = u8::from_str_radix(oct, 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`, as logrus writes `time`.
fn is_rfc3339(t: &str) -> bool {
    let b = t.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| r.clone().all(|i| b.get(i).is_some_and(u8::is_ascii_digit));
    if !(b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19))
    {
        return false;
    }
    let mut rest = &t[19..];
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return false;
        }
        rest = &r[n..];
    }
    rest == "Z"
        || (rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && rest.as_bytes()[3] == b':')
}

/// Every line of a `--log-format json` log parsed; each must be a
/// logrus-shaped object with string `level`, `msg` and `time`.
fn log_lines(path: &Path) -> Vec<Value> {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}: line not JSON ({e}): {l}", path.display()));
            for k in ["level", "msg", "time"] {
                assert!(v[k].is_string(), "{}: no string {k:?}: {l}", path.display());
            }
            assert!(
                is_rfc3339(v["time"].as_str().unwrap()),
                "{}: time is not RFC 3339: {l}",
                path.display()
            );
            v
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

/// `ctr run --rm` in the foreground: output, exit code, stdin, its own
/// network namespace, and nothing left afterwards.
fn run_rm(c: &Containerd) {
    let o = c.ctr(&c.run_args(&["--rm"], "id1", &["echo", "hi"]));
    assert_eq!((o.code, o.stdout.as_str()), (0, "hi\n"), "{o:?}");
    c.assert_gone("id1");

    let o = c.ctr(&c.run_args(&["--rm"], "id2", &["sh", "-c", "exit 3"]));
    assert_eq!(o.code, 3, "exit code of sh -c 'exit 3': {o:?}");
    c.assert_gone("id2");

    // ctr 1.6 does not close the task's stdin at EOF: read one line.
    let o = c.exec(
        c.cmd(&c.run_args(&["--rm"], "id1-stdin", &["head", "-n", "1"])),
        Some(b"through the fifo\n"),
    );
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "through the fifo\n"),
        "{o:?}"
    );

    // ctr's default spec has a network namespace (no --net-host here).
    let host = std::fs::read_link("/proc/self/ns/net").unwrap();
    let o = c.ctr(&c.run_args(
        &["--rm"],
        "id1-net",
        &["probe", "readlink", "/proc/self/ns/net"],
    ));
    assert_eq!(o.code, 0, "{o:?}");
    let inside = o.stdout.trim();
    assert!(inside.starts_with("net:["), "{o:?}");
    assert_ne!(
        Path::new(inside),
        host,
        "the container shares the host netns"
    );
}

/// `ctr container create` has no `--runc-binary`: the shim runs `runc`
/// from containerd's PATH, which is berth. The runtime itself must be able
/// to report the container (runc and berth cannot read each other's state).
fn runtime_from_path(c: &Containerd) {
    c.ok(&[
        "containers",
        "create",
        IMAGE,
        "idp1",
        "probe",
        "echo",
        "started",
    ]);
    let o = c.ctr(&["task", "start", "--fifo-dir", c.fifo_dir(), "idp1"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "started\n"), "{o:?}");
    // A foreground `task start` deletes the task once it exits.
    assert_eq!(c.task("idp1"), None);
    c.ok(&["containers", "rm", "idp1"]);
    c.assert_gone("idp1");

    c.ok(&["containers", "create", IMAGE, "idp2", "sleep", "100"]);
    c.ok(&["task", "start", "-d", "--fifo-dir", c.fifo_dir(), "idp2"]);
    c.wait_status("idp2", "RUNNING");
    let root = c.runtime_root();
    let o = c.exec(
        {
            let mut s = Command::new(&c.runtime);
            s.arg("--root").arg(&root).args(["state", "idp2"]);
            s
        },
        None,
    );
    assert_eq!(o.code, 0, "{} state idp2: {o:?}", c.runtime.display());
    let st: Value = serde_json::from_str(&o.stdout).expect("state is JSON");
    assert_eq!(st["status"], "running", "{st}");
    assert_eq!(
        st["pid"].as_u64().map(|p| p as u32),
        c.task("idp2").map(|t| t.0),
        "state pid vs ctr task ls"
    );
    c.ok(&["task", "kill", "-s", "SIGKILL", "idp2"]);
    c.wait_status("idp2", "STOPPED");
    c.ok(&["task", "rm", "idp2"]);
    c.ok(&["containers", "rm", "idp2"]);
    c.assert_gone("idp2");
}

/// A detached task through its life: exec, ps, pause/resume, kill, rm.
fn lifecycle(c: &Containerd) {
    c.run_detached("id3", &["sleep", "100"]);
    let (pid, _) = c.task("id3").unwrap();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert_eq!(cmdline, b"sleep\x00100\x00", "pid {pid} of ctr task ls");

    let o = c.ctr(&["task", "exec", "--exec-id", "e1", "id3", "echo", "inside"]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "inside\n"), "{o:?}");
    let o = c.ctr(&[
        "task",
        "exec",
        "--exec-id",
        "e2",
        "--user",
        "1000",
        "id3",
        "probe",
        "id",
    ]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.starts_with("uid=1000 gid=1000 "), "{o:?}");
    let o = c.ctr(&[
        "task",
        "exec",
        "--exec-id",
        "e3",
        "--cwd",
        "/tmp",
        "id3",
        "probe",
        "cwd",
    ]);
    assert_eq!((o.code, o.stdout.as_str()), (0, "/tmp\n"), "{o:?}");
    let o = c.ctr(&[
        "task",
        "exec",
        "--exec-id",
        "e4",
        "id3",
        "sh",
        "-c",
        "exit 7",
    ]);
    assert_eq!(o.code, 7, "exit code of an exec: {o:?}");

    assert_eq!(c.ps("id3"), BTreeSet::from([pid]));
    c.ok(&[
        "task",
        "exec",
        "-d",
        "--exec-id",
        "e5",
        "id3",
        "sleep",
        "50",
    ]);
    assert!(
        wait_for(10.0, || c.ps("id3").len() == 2),
        "ps after a detached exec: {:?}",
        c.ps("id3")
    );
    assert!(c.ps("id3").contains(&pid));

    let freezer = c
        .cgroup_v1("freezer", "id3")
        .map(|p| p.join("freezer.state"));
    c.ok(&["task", "pause", "id3"]);
    assert_eq!(c.task("id3").unwrap().1, "PAUSED");
    if let Some(f) = &freezer {
        assert_eq!(read(f).trim(), "FROZEN", "{}", f.display());
    }
    c.ok(&["task", "resume", "id3"]);
    assert_eq!(c.task("id3").unwrap().1, "RUNNING");
    if let Some(f) = &freezer {
        assert_eq!(read(f).trim(), "THAWED", "{}", f.display());
    }

    c.ok(&["task", "kill", "-s", "SIGKILL", "id3"]);
    c.wait_status("id3", "STOPPED");
    assert!(
        wait_for(10.0, || !Path::new(&format!("/proc/{pid}")).exists()),
        "pid {pid} still there"
    );
    // Every call so far succeeded: log.json (if any) holds no error.
    let log = c.bundle("id3").join("log.json");
    if log.exists() {
        let errors: Vec<Value> = log_lines(&log)
            .into_iter()
            .filter(|v| v["level"] == "error")
            .collect();
        assert!(errors.is_empty(), "errors logged on success: {errors:?}");
    }
    c.ok(&["task", "rm", "id3"]);
    assert_eq!(c.task("id3"), None);
    c.ok(&["containers", "rm", "id3"]);
    c.assert_gone("id3");
}

/// `ctr task kill` (the shim: `kill ID 15`) reaches the init's handler,
/// and a foreground `ctr run` returns its exit code.
fn kill_term(c: &Containerd) {
    let (out_path, err_path) = c.io_paths();
    let mut cmd = c.cmd(&c.run_args(&["--rm"], "idk1", &["probe", "trap", "TERM"]));
    cmd.stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap());
    let mut child = cmd.spawn().unwrap();
    assert!(
        wait_for(20.0, || read(&out_path).contains("ready")),
        "probe trap never ready: {:?} {:?}",
        read(&out_path),
        read(&err_path)
    );
    c.ok(&["task", "kill", "idk1"]);
    let st = wait_child(&mut child, TIMEOUT, "ctr run idk1");
    assert_eq!(
        (exit_code(st), read(&out_path)),
        (0, "ready\ngot SIGTERM\n".to_string()),
        "stderr: {}",
        read(&err_path)
    );
}

/// `ctr task kill --all` (the shim: `kill --all ID 15`) signals every
/// process. pid 1 (sh, no handler) ignores SIGTERM sent from outside its
/// pid namespace, so only --all reaches the sleeps, after which `wait`
/// returns and sh exits.
fn kill_all(c: &Containerd) {
    c.run_detached(
        "idk2",
        &["sh", "-c", "sleep 100 & sleep 100 & wait; echo done"],
    );
    assert!(
        wait_for(10.0, || c.ps("idk2").len() == 3),
        "ps: {:?}",
        c.ps("idk2")
    );
    c.ok(&["task", "kill", "idk2"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        c.task("idk2").unwrap().1,
        "RUNNING",
        "sh as pid 1 should ignore SIGTERM"
    );
    c.ok(&["task", "kill", "--all", "idk2"]);
    c.wait_status("idk2", "STOPPED");
    c.ok(&["task", "rm", "idk2"]);
    c.ok(&["containers", "rm", "idk2"]);
    c.assert_gone("idk2");
}

/// SIGKILL to a paused task must stop it. The cgroup v1 freezer holds a
/// frozen task's SIGKILL until it is thawed, so runc thaws the cgroup
/// after `kill ID 9` on a paused container, and `kill --all` freezes,
/// signals, then thaws.
fn kill_paused_task(c: &Containerd, id: &str, all: bool) {
    c.run_detached(id, &["sleep", "100"]);
    c.ok(&["task", "pause", id]);
    assert_eq!(c.task(id).unwrap().1, "PAUSED");
    let mut kill = vec!["task", "kill", "-s", "SIGKILL"];
    if all {
        kill.push("--all");
    }
    kill.push(id);
    c.ok(&kill);
    c.wait_status(id, "STOPPED");
    c.ok(&["task", "rm", id]);
    c.ok(&["containers", "rm", id]);
    c.assert_gone(id);
}

/// `ctr task kill -s SIGKILL` of a paused task (`kill ID 9`).
fn kill_paused(c: &Containerd) {
    kill_paused_task(c, "idk3", false);
}

/// `ctr task kill --all -s SIGKILL` of a paused task (`kill --all ID 9`).
fn kill_all_paused(c: &Containerd) {
    kill_paused_task(c, "idk4", true);
}

/// `-t`: the shim passes `--console-socket` to create and exec.
fn tty(c: &Containerd) {
    let o = c.ctr_tty(&c.run_args(&["-t", "--rm"], "id4", &["probe", "isatty"]));
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("0:yes 1:yes 2:yes"), "{o:?}");
    c.assert_gone("id4");

    let o = c.ctr_tty(&c.run_args(&["-t", "--rm"], "id4-exit", &["sh", "-c", "exit 5"]));
    assert_eq!(o.code, 5, "exit code through a tty: {o:?}");

    c.run_detached("id4-exec", &["sleep", "100"]);
    let o = c.ctr_tty(&[
        "task",
        "exec",
        "-t",
        "--exec-id",
        "t1",
        "id4-exec",
        "probe",
        "isatty",
    ]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(o.stdout.contains("0:yes 1:yes 2:yes"), "{o:?}");
    let o = c.ctr(&[
        "task",
        "exec",
        "--exec-id",
        "t2",
        "id4-exec",
        "probe",
        "isatty",
    ]);
    assert_eq!(
        (o.code, o.stdout.as_str()),
        (0, "0:no 1:no 2:no\n"),
        "{o:?}"
    );
    c.remove("id4-exec");
    c.assert_gone("id4-exec");
}

/// `ctr task metrics`: the shim reads the container's cgroups (v1 stats on
/// this hybrid host), so berth must have put the task where the spec says.
fn metrics(c: &Containerd) {
    c.run_detached("id5", &["sleep", "100"]);
    let text = c.ok(&["task", "metrics", "id5"]);
    for m in ["memory.usage_in_bytes", "cpuacct.usage", "pids.current"] {
        assert!(text.contains(m), "no {m} in:\n{text}");
    }
    let pids_line = text.lines().find(|l| l.starts_with("pids.current"));
    assert_eq!(
        pids_line.and_then(|l| l.split_whitespace().nth(1)),
        Some("1"),
        "{text}"
    );
    let j: Value = serde_json::from_str(&c.ok(&["task", "metrics", "--format", "json", "id5"]))
        .expect("metrics JSON");
    assert_eq!(j["pids"]["current"], 1, "{j}");
    assert!(j["memory"]["usage"]["usage"].as_u64() > Some(0), "{j}");
    assert!(j["cpu"]["usage"]["total"].as_u64() > Some(0), "{j}");

    // A second process shows up in the pids count.
    c.ok(&[
        "task",
        "exec",
        "-d",
        "--exec-id",
        "m1",
        "id5",
        "sleep",
        "50",
    ]);
    let j: Value = serde_json::from_str(&c.ok(&["task", "metrics", "--format", "json", "id5"]))
        .expect("metrics JSON");
    assert_eq!(j["pids"]["current"], 2, "{j}");
    c.remove("id5");
    c.assert_gone("id5");
}

/// `--memory-limit` and an allocation over it: the task is OOM-killed
/// (exit 137) and the shim, watching the memory cgroup berth created,
/// publishes a `/tasks/oom` event.
fn oom(c: &Containerd) {
    let (out_path, err_path) = c.io_paths();
    let mut events = c.cmd(&["events"]);
    events
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).unwrap())
        .stderr(File::create(&err_path).unwrap());
    let mut events = events.spawn().unwrap();
    // Subscribed once an event of our own shows up.
    c.ok(&["containers", "create", IMAGE, "id8-sub", "true"]);
    c.ok(&["containers", "rm", "id8-sub"]);
    let subscribed = wait_for(10.0, || read(&out_path).contains("id8-sub"));
    let o = c.ctr(&c.run_args(
        &["--rm", "--memory-limit", "33554432"],
        "id8",
        &["probe", "alloc", "256"],
    ));
    let got_oom = wait_for(10.0, || {
        read(&out_path)
            .lines()
            .any(|l| l.contains("/tasks/oom") && l.contains("\"id8\""))
    });
    let _ = events.kill();
    let _ = events.wait();
    assert!(subscribed, "ctr events: {}", read(&err_path));
    assert_eq!(o.code, 137, "an OOM kill is SIGKILL: {o:?}");
    assert!(got_oom, "no /tasks/oom event for id8:\n{}", read(&out_path));
    c.assert_gone("id8");
}

/// Failures: the shim reports the runtime's error, read from log.json.
fn errors(c: &Containerd) {
    c.run_detached("id6", &["sleep", "100"]);
    let err = c.fails(&["task", "exec", "--exec-id", "x1", "id6", "/nonexistent"]);
    assert!(err.contains("OCI runtime exec failed"), "{err}");
    assert!(err.contains("\"/nonexistent\""), "{err}");
    assert!(
        err.to_lowercase().contains("no such file or directory"),
        "{err}"
    );
    let err = c.fails(&["task", "exec", "--exec-id", "x2", "id6", "nosuchcmd"]);
    assert!(
        err.contains("exec: \"nosuchcmd\": executable file not found in $PATH"),
        "{err}"
    );

    // log.json: logrus-shaped lines; the last error is what ctr printed.
    let lines = log_lines(&c.bundle("id6").join("log.json"));
    let last_error = lines
        .iter()
        .rev()
        .find(|v| v["level"] == "error")
        .expect("an error line in log.json");
    let msg = last_error["msg"].as_str().unwrap();
    assert!(msg.contains("nosuchcmd"), "{last_error}");
    assert!(
        err.contains(msg),
        "ctr's error does not carry log.json's {msg:?}: {err}"
    );
    // The task survived the failed execs.
    assert_eq!(c.task("id6").unwrap().1, "RUNNING");
    assert_eq!(c.ps("id6").len(), 1, "failed execs left processes");

    c.ok(&["task", "kill", "-s", "SIGKILL", "id6"]);
    c.wait_status("id6", "STOPPED");
    let err = c.fails(&["task", "exec", "--exec-id", "x3", "id6", "echo", "x"]);
    assert!(err.contains("cannot exec in a stopped state"), "{err}");
    c.remove("id6");
    c.assert_gone("id6");

    // A failed create: reported, and nothing left.
    let o = c.ctr(&c.run_args(&["--rm"], "id7", &["nosuchcmd"]));
    assert_ne!(o.code, 0, "{o:?}");
    assert!(o.stderr.contains("OCI runtime create failed"), "{o:?}");
    assert!(
        o.stderr
            .contains("exec: \"nosuchcmd\": executable file not found in $PATH"),
        "{o:?}"
    );
    c.assert_gone("id7");
}

type Scenario = fn(&Containerd);

#[test]
fn containerd_drives_the_runtime_through_the_runc_shim() {
    require_root();
    let scenarios: &[(&str, Scenario)] = &[
        ("run_rm", run_rm),
        ("runtime_from_path", runtime_from_path),
        ("lifecycle", lifecycle),
        ("kill_term", kill_term),
        ("kill_all", kill_all),
        ("kill_paused", kill_paused),
        ("kill_all_paused", kill_all_paused),
        ("tty", tty),
        ("metrics", metrics),
        ("oom", oom),
        ("errors", errors),
    ];
    let only = std::env::var("BERTH_CONTAINERD_SCENARIOS").ok();
    let selected: Vec<_> = scenarios
        .iter()
        .filter(|(name, _)| {
            only.as_deref()
                .is_none_or(|o| o.split(',').any(|n| n == *name))
        })
        .collect();
    assert!(!selected.is_empty(), "no scenario matches {only:?}");

    let started = Instant::now();
    let c = Containerd::start();
    eprintln!(
        "containerd up with {} in {:.1} s (snapshotter {})",
        c.runtime.display(),
        started.elapsed().as_secs_f64(),
        c.snapshotter
    );
    let failed: Vec<&str> = std::thread::scope(|s| {
        let handles: Vec<_> = selected
            .iter()
            .map(|(name, f)| {
                let c = &c;
                let h = std::thread::Builder::new()
                    .name(name.to_string())
                    .spawn_scoped(s, move || {
                        let t = Instant::now();
                        f(c);
                        eprintln!("scenario {name}: ok ({:.1} s)", t.elapsed().as_secs_f64());
                    })
                    .unwrap();
                (*name, h)
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|(name, h)| h.join().is_err().then_some(name))
            .collect()
    });
    if !failed.is_empty() {
        eprintln!("containerd log (tail):\n{}", c.log_tail());
    }
    drop(c);
    eprintln!("total {:.1} s", started.elapsed().as_secs_f64());
    assert!(failed.is_empty(), "failed scenarios: {failed:?}");
}
