//! The runc-compatible lifecycle as users and clients (containerd's shim,
//! podman/conmon) drive it: create/start/state/list/kill/delete/run/spec,
//! the failures they must report in one line without leaving anything
//! behind, `--log` lines, and concurrent use of one state root.
mod common;
use common::*;

use serde_json::{json, Value};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Generous bound for any single berth invocation.
const TIMEOUT: f64 = 60.0;

/// `create --bundle B ID`, asserting success.
fn create(rt: &Runtime, b: &Bundle, id: &str) {
    let o = exec(rt, &["create", "--bundle", b.dir(), id]);
    assert_eq!(o.code, 0, "create {id} failed: {o:?}");
}

/// `create` with the container's stdout kept in `out`.
fn create_logged(rt: &Runtime, b: &Bundle, id: &str, out: &Path) {
    let o = exec_io(
        rt.cmd(&["create", "--bundle", b.dir(), id]),
        None,
        Some(out),
    );
    assert_eq!(o.code, 0, "create {id} failed: {o:?}");
}

/// A started container running `args`, its stdout in `out`; waits until
/// `ready` (as the probe prints it) shows up there.
fn started_probe(rt: &Runtime, args: &[&str], id: &str, out: &Path) -> Bundle {
    let b = Bundle::new(args);
    create_logged(rt, &b, id, out);
    rt.ok(&["start", id]);
    assert!(
        wait_for(10.0, || read(out).contains("ready")),
        "{args:?} never printed ready: {:?}",
        read(out)
    );
    b
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// The process state letter of /proc/PID/stat (None: no such pid).
fn proc_state(pid: i32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.chars().next()
}

/// Exists and is not a zombie. PID 1 on these machines does not reap
/// orphans, so a dead container init can linger as a zombie.
fn alive(pid: i32) -> bool {
    matches!(proc_state(pid), Some(s) if s != 'Z' && s != 'X')
}

fn all_pids() -> Vec<i32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// Live processes whose pid namespace is `ns` (a /proc/PID/ns/pid link).
fn live_in_pidns(ns: &Path) -> Vec<i32> {
    all_pids()
        .into_iter()
        .filter(|p| std::fs::read_link(format!("/proc/{p}/ns/pid")).is_ok_and(|l| l == ns))
        .filter(|p| alive(*p))
        .collect()
}

/// Live processes (other than us) whose command line mentions `needle`:
/// every berth process, and a container init before its execve, carries
/// the state root in its argv.
fn procs_mentioning(needle: &str) -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    all_pids()
        .into_iter()
        .filter(|p| *p != me && alive(*p))
        .filter_map(|p| {
            let raw = std::fs::read(format!("/proc/{p}/cmdline")).ok()?;
            let cmd = String::from_utf8_lossy(&raw).replace('\0', " ");
            cmd.contains(needle).then_some((p, cmd))
        })
        .collect()
}

fn root_str(rt: &Runtime) -> String {
    rt.root.path().to_str().unwrap().to_string()
}

/// One non-empty line on stderr, naming the problem.
fn assert_one_line(o: &Out, needles: &[&str], ctx: &str) {
    let text = o.stderr.trim_end_matches('\n');
    assert_eq!(
        text.lines().count(),
        1,
        "{ctx}: expected exactly one line on stderr, got {:?}",
        o.stderr
    );
    assert!(!text.trim().is_empty(), "{ctx}: empty stderr");
    for n in needles {
        assert!(
            text.contains(n),
            "{ctx}: stderr {text:?} does not mention {n:?}"
        );
    }
}

/// A failure must exit 1 with one line naming the problem, add no
/// directory to the state root and leave no process behind.
fn assert_clean_failure(rt: &Runtime, o: &Out, needles: &[&str], ids_before: &[String], ctx: &str) {
    assert_eq!(o.code, 1, "{ctx}: exit code; {o:?}");
    assert_one_line(o, needles, ctx);
    let mut now = rt.ids();
    now.sort();
    let mut before = ids_before.to_vec();
    before.sort();
    assert_eq!(now, before, "{ctx}: the state root changed");
    let root = root_str(rt);
    assert!(
        wait_for(5.0, || procs_mentioning(&root).is_empty()),
        "{ctx}: processes left behind: {:?}",
        procs_mentioning(&root)
    );
}

/// Seconds since the epoch of an RFC 3339 timestamp
/// (`YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`); None if malformed.
fn rfc3339_to_unix(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |from: usize, to: usize| -> Option<i64> {
        let t = s.get(from..to)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, se) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        let n = r.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &r[n..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let rb = rest.as_bytes();
            if rb.len() != 6 || !matches!(rb[0], b'+' | b'-') || rb[3] != b':' {
                return None;
            }
            let hh: i64 = rest[1..3].parse().ok()?;
            let mm: i64 = rest[4..6].parse().ok()?;
            let v = hh * 3600 + mm * 60;
            if rb[0] == b'-' {
                -v
            } else {
                v
            }
        }
    };
    // Days from civil (Howard Hinnant's algorithm).
    let yy = if mo <= 2 { y - 1 } else { y };
    let era = yy.div_euclid(400);
    let yoe = yy - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + h * 3600 + mi * 60 + se - offset)
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn mountinfo() -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn pid_ns_of(pid: i32) -> PathBuf {
    std::fs::read_link(format!("/proc/{pid}/ns/pid")).expect("read pid ns link")
}

fn state_pid(rt: &Runtime, id: &str) -> i32 {
    rt.state(id)["pid"].as_i64().expect("pid is a number") as i32
}

// ---------------------------------------------------------------------------
// 1. create / start split
// ---------------------------------------------------------------------------

#[test]
fn create_start_split_runs_the_program_only_on_start() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&[]);
    let rootfs = b.private_rootfs();
    b.args(&[
        "/bin/sh",
        "-c",
        "echo ran > /ran; while [ ! -e /go ]; do /bin/probe sleep 0.05; done",
    ]);
    let id = unique("split");
    let tmp = TempDir::new("pidfile");
    let pid_file = tmp.path().join("init.pid");
    let o = exec(
        &rt,
        &[
            "create",
            "--bundle",
            b.dir(),
            "--pid-file",
            pid_file.to_str().unwrap(),
            &id,
        ],
    );
    assert_eq!(o.code, 0, "create: {o:?}");

    let st = rt.state(&id);
    assert_eq!(st["status"], "created", "{st}");
    let pid = st["pid"].as_i64().unwrap() as i32;
    assert!(pid > 0, "{st}");
    assert!(alive(pid), "init {pid} of a created container is alive");
    let recorded: i32 = read(&pid_file)
        .trim()
        .parse()
        .expect("pid file holds a number");
    assert_eq!(recorded, pid, "pid file matches state");

    // Give a wrongly early program every chance to show itself.
    std::thread::sleep(Duration::from_millis(300));
    assert!(!rootfs.join("ran").exists(), "the program ran before start");
    assert_eq!(status(&rt, &id), "created");

    rt.ok(&["start", &id]);
    // The shell creates the file before it writes it: wait for the content.
    assert!(
        wait_for(10.0, || read(&rootfs.join("ran")) == "ran\n"),
        "the program did not run after start: {:?}",
        read(&rootfs.join("ran"))
    );
    let st = rt.state(&id);
    assert_eq!(st["status"], "running", "{st}");
    assert_eq!(
        st["pid"].as_i64().unwrap() as i32,
        pid,
        "start keeps the init pid"
    );

    std::fs::write(rootfs.join("go"), "").unwrap();
    assert!(
        wait_status(&rt, &id, "stopped"),
        "status after exit: {}",
        status(&rt, &id)
    );
    let st = rt.state(&id);
    assert_eq!(st["pid"], 0, "a stopped container reports pid 0: {st}");

    rt.ok(&["delete", &id]);
    assert!(
        !rt.root.path().join(&id).exists(),
        "delete removes the state dir"
    );
    assert!(rt.ids().is_empty(), "{:?}", rt.ids());
    let o = exec(&rt, &["state", &id]);
    assert_eq!(o.code, 1, "state after delete fails: {o:?}");
    assert_one_line(&o, &["does not exist"], "state after delete");
}

// ---------------------------------------------------------------------------
// 2. state JSON
// ---------------------------------------------------------------------------

#[test]
fn state_reports_every_runc_field() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["/bin/probe", "pause"]);
    b.private_rootfs();
    b.set(
        "/annotations",
        json!({"org.example.key": "value", "other": "x y"}),
    );
    let id = unique("state");
    // A relative --bundle: state must still report an absolute path.
    let parent = b.dir.path().parent().unwrap();
    let rel = b.dir.path().file_name().unwrap().to_str().unwrap();
    let before = unix_now();
    let mut cmd = rt.cmd(&["create", "--bundle", rel, &id]);
    cmd.current_dir(parent);
    let o = exec_io(cmd, None, None);
    assert_eq!(o.code, 0, "create: {o:?}");
    let after = unix_now();

    let st = rt.state(&id);
    let v = st["ociVersion"].as_str().expect("ociVersion string");
    assert!(v.starts_with("1."), "ociVersion {v:?}");
    assert_eq!(st["id"], id.as_str());
    let pid = st["pid"].as_i64().expect("pid");
    assert!(pid > 0 && alive(pid as i32), "{st}");
    assert_eq!(st["status"], "created");
    let bundle = st["bundle"].as_str().expect("bundle string");
    assert!(
        Path::new(bundle).is_absolute(),
        "bundle {bundle:?} is absolute"
    );
    assert_eq!(
        std::fs::canonicalize(bundle).unwrap(),
        std::fs::canonicalize(b.dir()).unwrap(),
        "bundle names the bundle dir"
    );
    let rootfs = st["rootfs"].as_str().expect("rootfs string");
    assert!(
        Path::new(rootfs).is_absolute(),
        "rootfs {rootfs:?} is absolute"
    );
    assert_eq!(
        std::fs::canonicalize(rootfs).unwrap(),
        std::fs::canonicalize(b.dir.path().join("rootfs")).unwrap()
    );
    let created = st["created"].as_str().expect("created string");
    let t =
        rfc3339_to_unix(created).unwrap_or_else(|| panic!("created {created:?} is not RFC 3339"));
    assert!(
        (before - 2..=after + 2).contains(&t),
        "created {created:?} is not the creation time ({before}..{after})"
    );
    assert_eq!(st["owner"], "root");
    assert_eq!(
        st["annotations"],
        json!({"org.example.key": "value", "other": "x y"})
    );

    // Without annotations in the config: none in the state (runc: omitempty).
    let b2 = Bundle::new(&["/bin/probe", "pause"]);
    let id2 = unique("state");
    create(&rt, &b2, &id2);
    let st2 = rt.state(&id2);
    assert!(
        st2.get("annotations")
            .is_none_or(|a| a.as_object().is_some_and(|m| m.is_empty())),
        "{st2}"
    );
    assert_eq!(st2["rootfs"], fixture_rootfs().to_str().unwrap());
}

// ---------------------------------------------------------------------------
// 3. list
// ---------------------------------------------------------------------------

#[test]
fn list_table_json_and_quiet() {
    let rt = Runtime::new();
    let out = rt.ok(&["list"]);
    assert_eq!(
        out.lines()
            .next()
            .map(|l| l.split_whitespace().collect::<Vec<_>>()),
        Some(vec!["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]),
        "empty list still has the header: {out:?}"
    );
    assert_eq!(out.lines().count(), 1, "{out:?}");

    let b = Bundle::new(&["/bin/probe", "pause"]);
    let a = unique("lista");
    let c = unique("listc");
    create(&rt, &b, &a);
    create(&rt, &b, &c);
    rt.ok(&["start", &c]);
    assert!(wait_status(&rt, &c, "running"));

    let out = rt.ok(&["list"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
        "{out}"
    );
    assert_eq!(lines.len(), 3, "header + one row per container: {out}");
    for (id, want) in [(&a, "created"), (&c, "running")] {
        let st = rt.state(id);
        let row = lines[1..]
            .iter()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|f| f.first() == Some(&id.as_str()))
            .unwrap_or_else(|| panic!("no row for {id}: {out}"));
        let pid = st["pid"].as_i64().unwrap().to_string();
        assert_eq!(
            row,
            [
                id.as_str(),
                pid.as_str(),
                want,
                st["bundle"].as_str().unwrap(),
                st["created"].as_str().unwrap(),
                "root"
            ],
            "{out}"
        );
    }

    let js: Value =
        serde_json::from_str(&rt.ok(&["list", "--format", "json"])).expect("list json parses");
    let arr = js.as_array().expect("list --format json is an array");
    assert_eq!(arr.len(), 2, "{js}");
    for (id, want) in [(&a, "created"), (&c, "running")] {
        let o = arr
            .iter()
            .find(|o| o["id"] == id.as_str())
            .unwrap_or_else(|| panic!("{id} missing: {js}"));
        let st = rt.state(id);
        assert_eq!(o["status"], want);
        assert_eq!(o["pid"], st["pid"]);
        assert_eq!(o["bundle"], st["bundle"]);
        assert_eq!(o["created"], st["created"]);
        assert_eq!(o["owner"], "root");
    }

    let q = rt.ok(&["list", "-q"]);
    let mut got: Vec<&str> = q.lines().collect();
    got.sort();
    let mut want = vec![a.as_str(), c.as_str()];
    want.sort();
    assert_eq!(got, want, "list -q prints ids only: {q:?}");
}

// ---------------------------------------------------------------------------
// 4. kill
// ---------------------------------------------------------------------------

#[test]
fn kill_defaults_to_sigterm() {
    let rt = Runtime::new();
    let tmp = TempDir::new("kill");
    let out = tmp.path().join("out");
    let id = unique("kterm");
    started_probe(&rt, &["/bin/probe", "trap", "TERM"], &id, &out);
    rt.ok(&["kill", &id]);
    assert!(
        wait_for(10.0, || read(&out).contains("got SIGTERM")),
        "{:?}",
        read(&out)
    );
    assert_eq!(read(&out), "ready\ngot SIGTERM\n");
    assert!(wait_status(&rt, &id, "stopped"));
}

#[test]
fn kill_accepts_names_with_and_without_sig_and_numbers() {
    let rt = Runtime::new();
    let tmp = TempDir::new("kill");
    for (i, sig) in ["USR1", "SIGUSR1", "10", "usr1"].iter().enumerate() {
        let out = tmp.path().join(format!("out{i}"));
        let id = unique("ksig");
        started_probe(&rt, &["/bin/probe", "trap", "USR1"], &id, &out);
        rt.ok(&["kill", &id, sig]);
        assert!(
            wait_for(10.0, || read(&out).contains("got SIGUSR1")),
            "kill {sig}: {:?}",
            read(&out)
        );
        assert_eq!(read(&out), "ready\ngot SIGUSR1\n", "kill {sig}");
        assert!(wait_status(&rt, &id, "stopped"), "kill {sig}");
    }
}

#[test]
fn kill_unknown_signal_fails_in_one_line_and_sends_nothing() {
    let rt = Runtime::new();
    let tmp = TempDir::new("kill");
    let out = tmp.path().join("out");
    let id = unique("knope");
    started_probe(
        &rt,
        &["/bin/probe", "trap", "TERM", "USR1", "HUP", "INT"],
        &id,
        &out,
    );
    for bad in ["NOPE", "SIGNOPE"] {
        let o = exec(&rt, &["kill", &id, bad]);
        assert_eq!(o.code, 1, "kill {bad}: {o:?}");
        assert_one_line(&o, &[bad], &format!("kill {bad}"));
    }
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(read(&out), "ready\n", "no signal was delivered");
    assert_eq!(status(&rt, &id), "running");
}

#[test]
fn kill_of_a_stopped_container_says_not_running() {
    let rt = Runtime::new();
    let b = Bundle::new(&["/bin/probe", "exit", "0"]);
    let id = unique("kstop");
    create(&rt, &b, &id);
    rt.ok(&["start", &id]);
    assert!(wait_status(&rt, &id, "stopped"));
    for sig in [None, Some("KILL")] {
        let mut args = vec!["kill", id.as_str()];
        args.extend(sig);
        let o = exec(&rt, &args);
        assert_eq!(o.code, 1, "{args:?}: {o:?}");
        assert_one_line(&o, &["container not running"], &format!("{args:?}"));
    }
    // And of a container that does not exist: containerd matches this text.
    let o = exec(&rt, &["kill", &unique("ghost"), "KILL"]);
    assert_eq!(o.code, 1, "{o:?}");
    assert_one_line(&o, &["does not exist"], "kill of a missing container");
}

/// A running `sh` (the pid namespace's init) with two `sleep` children;
/// returns the namespace and its three processes.
fn started_sh_with_children(rt: &Runtime, id: &str) -> (Bundle, PathBuf, Vec<i32>) {
    let b = Bundle::new(&["/bin/sh", "-c", "sleep 100 & sleep 100 & wait"]);
    create(rt, &b, id);
    rt.ok(&["start", id]);
    let pid = state_pid(rt, id);
    let ns = pid_ns_of(pid);
    assert_ne!(
        ns,
        pid_ns_of(std::process::id() as i32),
        "container has its own pid ns"
    );
    assert!(
        wait_for(10.0, || live_in_pidns(&ns).len() == 3),
        "sh and two sleeps: {:?}",
        live_in_pidns(&ns)
    );
    let procs = live_in_pidns(&ns);
    (b, ns, procs)
}

#[test]
fn kill_all_reaches_every_process_in_the_pid_namespace() {
    let rt = Runtime::new();
    // SIGKILL, as containerd sends it (`kill --all ID 9`).
    let id = unique("kall");
    let (_b, ns, procs) = started_sh_with_children(&rt, &id);
    rt.ok(&["kill", "--all", &id, "9"]);
    assert!(
        wait_for(10.0, || live_in_pidns(&ns).is_empty()),
        "left in the pid ns: {:?}",
        live_in_pidns(&ns)
    );
    for p in procs {
        assert!(!alive(p), "{p} survived kill --all");
    }
    assert!(wait_status(&rt, &id, "stopped"));
}

#[test]
fn kill_all_signals_the_children_not_only_the_init() {
    let rt = Runtime::new();
    // SIGUSR1 without a handler is ignored by a pid namespace's init, but
    // kills the sleeps; once they are gone `wait` returns and sh exits.
    let id = unique("kallusr1");
    let (_b, ns, procs) = started_sh_with_children(&rt, &id);
    rt.ok(&["kill", &id, "USR1"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        live_in_pidns(&ns).len(),
        3,
        "plain kill reaches only the init"
    );
    rt.ok(&["kill", "--all", &id, "USR1"]);
    assert!(
        wait_for(10.0, || live_in_pidns(&ns).is_empty()),
        "left in the pid ns: {:?}",
        live_in_pidns(&ns)
    );
    for p in procs {
        assert!(!alive(p), "{p} survived kill --all");
    }
    assert!(wait_status(&rt, &id, "stopped"));
}

// ---------------------------------------------------------------------------
// 5. delete
// ---------------------------------------------------------------------------

#[test]
fn delete_of_a_running_container_needs_force() {
    let rt = Runtime::new();
    let b = Bundle::new(&["/bin/probe", "pause"]);
    let id = unique("drun");
    create(&rt, &b, &id);
    rt.ok(&["start", &id]);
    let pid = state_pid(&rt, &id);

    let o = exec(&rt, &["delete", &id]);
    assert_eq!(o.code, 1, "{o:?}");
    assert_one_line(
        &o,
        &[&format!(
            "cannot delete container {id} that is not stopped: running"
        )],
        "delete running",
    );
    assert_eq!(
        status(&rt, &id),
        "running",
        "a refused delete changes nothing"
    );
    assert!(alive(pid));

    rt.ok(&["delete", "--force", &id]);
    assert!(
        !alive(pid),
        "init {pid} is gone once delete --force returns"
    );
    assert!(!rt.root.path().join(&id).exists());
    assert!(rt.ids().is_empty());
}

#[test]
fn delete_of_a_created_container_needs_no_force() {
    let rt = Runtime::new();
    let b = Bundle::new(&["/bin/probe", "pause"]);
    let id = unique("dcreated");
    create(&rt, &b, &id);
    let pid = state_pid(&rt, &id);
    assert!(alive(pid));
    rt.ok(&["delete", &id]);
    assert!(!alive(pid), "the waiting init {pid} is killed");
    assert!(rt.ids().is_empty(), "{:?}", rt.ids());
}

#[test]
fn delete_of_a_stopped_container() {
    let rt = Runtime::new();
    let b = Bundle::new(&["/bin/probe", "exit", "0"]);
    let id = unique("dstopped");
    create(&rt, &b, &id);
    rt.ok(&["start", &id]);
    assert!(wait_status(&rt, &id, "stopped"));
    rt.ok(&["delete", &id]);
    assert!(rt.ids().is_empty(), "{:?}", rt.ids());
}

#[test]
fn delete_of_a_missing_container() {
    let rt = Runtime::new();
    let id = unique("dghost");
    let o = exec(&rt, &["delete", "--force", &id]);
    assert_eq!(o.code, 0, "delete --force of a missing id succeeds: {o:?}");
    assert_eq!(o.stderr, "", "{o:?}");
    let o = exec(&rt, &["delete", &id]);
    assert_eq!(o.code, 1, "{o:?}");
    assert_one_line(&o, &["does not exist", &id], "delete of a missing id");
    assert!(rt.ids().is_empty());
}

// ---------------------------------------------------------------------------
// 6. run
// ---------------------------------------------------------------------------

#[test]
fn run_propagates_exit_codes() {
    let rt = Runtime::new();
    for code in [0, 3, 255] {
        let b = Bundle::new(&["/bin/probe", "exit", &code.to_string()]);
        let o = exec(&rt, &["run", "--bundle", b.dir(), &unique("exit")]);
        assert_eq!(o.code, code, "{o:?}");
        assert_eq!(o.stderr, "", "{o:?}");
        assert!(
            rt.ids().is_empty(),
            "run without --keep leaves nothing: {:?}",
            rt.ids()
        );
    }
}

#[test]
fn run_of_a_process_killed_by_a_signal_exits_128_plus_n() {
    let rt = Runtime::new();
    // Killed from outside (the pid namespace's init takes SIGKILL only).
    let tmp = TempDir::new("run");
    let out = tmp.path().join("out");
    let err = tmp.path().join("err");
    let b = Bundle::new(&["/bin/probe", "pause"]);
    let id = unique("runkill");
    let mut cmd = rt.cmd(&["run", "--bundle", b.dir(), &id]);
    cmd.stdout(File::create(&out).unwrap())
        .stderr(File::create(&err).unwrap());
    let mut child = cmd.spawn().unwrap();
    let ready = wait_for(10.0, || read(&out).contains("ready"));
    if !ready {
        let _ = child.kill();
        let _ = child.wait();
        panic!("never ready: {:?} {:?}", read(&out), read(&err));
    }
    rt.ok(&["kill", &id, "KILL"]);
    let st = wait_child(&mut child, TIMEOUT, "berth run");
    assert_eq!(st.code(), Some(128 + 9), "stderr: {:?}", read(&err));
    assert!(rt.ids().is_empty(), "{:?}", rt.ids());

    // Killed by itself, without a pid namespace (so the signal is not
    // ignored as it would be by a namespace's init).
    let mut b = Bundle::new(&["/bin/sh", "-c", "kill -USR1 $$; sleep 5"]);
    let ns: Vec<Value> = b.config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] != "pid")
        .cloned()
        .collect();
    b.set("/linux/namespaces", Value::Array(ns));
    let o = exec(&rt, &["run", "--bundle", b.dir(), &unique("runusr1")]);
    assert_eq!(o.code, 128 + libc::SIGUSR1, "{o:?}");
    assert!(rt.ids().is_empty(), "{:?}", rt.ids());
}

#[test]
fn run_passes_stdout_and_stderr_separately() {
    let rt = Runtime::new();
    let b = Bundle::new(&["/bin/sh", "-c", "echo out; echo err >&2; echo out2"]);
    let o = exec(&rt, &["run", "--bundle", b.dir(), &unique("stdio")]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(o.stdout, "out\nout2\n");
    assert_eq!(o.stderr, "err\n");
}

#[test]
fn run_passes_stdin_through() {
    let rt = Runtime::new();
    let b = Bundle::new(&["/bin/cat"]);
    let o = exec_io(
        rt.cmd(&["run", "--bundle", b.dir(), &unique("stdin")]),
        Some(b"abc"),
        None,
    );
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(o.stdout, "abc");
    assert_eq!(o.stderr, "");
}

#[test]
fn run_detached_returns_with_the_container_running() {
    let rt = Runtime::new();
    let b = Bundle::new(&["/bin/probe", "pause"]);
    let id = unique("detach");
    let started = Instant::now();
    let o = exec(&rt, &["run", "-d", "--bundle", b.dir(), &id]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "run -d returned at once"
    );
    let st = rt.state(&id);
    assert_eq!(st["status"], "running", "{st}");
    assert!(alive(st["pid"].as_i64().unwrap() as i32));
    assert_eq!(rt.ids(), vec![id.clone()]);
}

#[test]
fn run_keep_leaves_a_stopped_container() {
    let rt = Runtime::new();
    let b = Bundle::new(&["/bin/probe", "exit", "4"]);
    let id = unique("keep");
    let o = exec(&rt, &["run", "--keep", "--bundle", b.dir(), &id]);
    assert_eq!(o.code, 4, "{o:?}");
    let st = rt.state(&id);
    assert_eq!(st["status"], "stopped", "{st}");
    assert_eq!(st["pid"], 0, "{st}");
    rt.ok(&["delete", &id]);
    assert!(rt.ids().is_empty());

    // Without --keep the root holds nothing afterwards.
    let o = exec(&rt, &["run", "--bundle", b.dir(), &unique("nokeep")]);
    assert_eq!(o.code, 4, "{o:?}");
    assert!(rt.ids().is_empty(), "{:?}", rt.ids());
    let left: Vec<_> = std::fs::read_dir(rt.root.path())
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "root dir not empty: {left:?}");
}

#[test]
fn run_forwards_signals_to_the_container() {
    let rt = Runtime::new();
    let tmp = TempDir::new("fwd");
    let out = tmp.path().join("out");
    let err = tmp.path().join("err");
    let b = Bundle::new(&["/bin/probe", "trap", "TERM"]);
    let id = unique("fwd");
    let mut cmd = rt.cmd(&["run", "--bundle", b.dir(), &id]);
    cmd.stdout(File::create(&out).unwrap())
        .stderr(File::create(&err).unwrap());
    let mut child = cmd.spawn().unwrap();
    let berth_pid = nix::unistd::Pid::from_raw(child.id() as i32);
    if !wait_for(10.0, || read(&out).contains("ready")) {
        let _ = child.kill();
        let _ = child.wait();
        panic!("never ready: {:?} {:?}", read(&out), read(&err));
    }
    nix::sys::signal::kill(berth_pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let st = wait_child(&mut child, TIMEOUT, "berth run");
    assert_eq!(
        st.code(),
        Some(0),
        "berth exits with the container's code; stderr {:?}",
        read(&err)
    );
    assert_eq!(read(&out), "ready\ngot SIGTERM\n");
    assert!(rt.ids().is_empty(), "{:?}", rt.ids());
}

// ---------------------------------------------------------------------------
// 7. spec
// ---------------------------------------------------------------------------

#[test]
fn spec_writes_a_default_config_and_refuses_to_overwrite() {
    let rt = Runtime::new();
    let dir = TempDir::new("spec");
    let d = dir.path().to_str().unwrap();
    rt.ok(&["spec", "--bundle", d]);
    let path = dir.path().join("config.json");
    let text = std::fs::read_to_string(&path).expect("config.json written");
    let c: Value = serde_json::from_str(&text).expect("config.json parses");
    assert!(
        c["ociVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("1.")),
        "{c}"
    );
    assert_eq!(c["process"]["terminal"], true);
    assert_eq!(c["root"]["path"], "rootfs");
    assert!(c["process"]["args"]
        .as_array()
        .is_some_and(|a| !a.is_empty()));

    let o = exec(&rt, &["spec", "--bundle", d]);
    assert_eq!(o.code, 1, "{o:?}");
    assert_one_line(
        &o,
        &["config.json", "exists"],
        "spec over an existing config",
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        text,
        "left untouched"
    );

    let rdir = TempDir::new("spec");
    rt.ok(&[
        "spec",
        "--rootless",
        "--bundle",
        rdir.path().to_str().unwrap(),
    ]);
    let c: Value =
        serde_json::from_slice(&std::fs::read(rdir.path().join("config.json")).unwrap()).unwrap();
    let ns = c["linux"]["namespaces"].as_array().expect("namespaces");
    assert!(
        ns.iter().any(|n| n["type"] == "user"),
        "user namespace: {ns:?}"
    );
    let maps = c["linux"]["uidMappings"].as_array().expect("uidMappings");
    assert!(!maps.is_empty(), "{c}");
    assert!(maps[0]["size"].as_u64().is_some_and(|s| s >= 1), "{maps:?}");
    assert!(
        c["linux"]["gidMappings"]
            .as_array()
            .is_some_and(|m| !m.is_empty()),
        "{c}"
    );
}

// ---------------------------------------------------------------------------
// 8. bad input
// ---------------------------------------------------------------------------

fn failing_create(rt: &Runtime, b: &Bundle, needles: &[&str], ctx: &str) {
    let before = rt.ids();
    let id = unique("bad");
    let o = exec(rt, &["create", "--bundle", b.dir(), &id]);
    assert_clean_failure(rt, &o, needles, &before, ctx);
}

#[test]
fn bad_bundles_fail_cleanly() {
    let rt = Runtime::new();
    let missing = format!("/nonexistent-bundle-{}", unique("b"));
    let o = exec(&rt, &["create", "--bundle", &missing, &unique("bad")]);
    assert_clean_failure(&rt, &o, &[&missing], &[], "missing bundle dir");

    let empty = TempDir::new("empty");
    let o = exec(
        &rt,
        &[
            "create",
            "--bundle",
            empty.path().to_str().unwrap(),
            &unique("bad"),
        ],
    );
    assert_clean_failure(&rt, &o, &["config.json"], &[], "bundle without config.json");

    let b = Bundle::new(&["/bin/true"]);
    std::fs::write(
        b.dir.path().join("config.json"),
        "{\n  \"ociVersion\": \"1.0.2\",\n  \"process\": {\n}",
    )
    .unwrap();
    failing_create(&rt, &b, &["config.json", "line"], "truncated config.json");
    std::fs::write(
        b.dir.path().join("config.json"),
        "{\n  \"ociVersion\": \"1.0.2\",\n}\n",
    )
    .unwrap();
    failing_create(
        &rt,
        &b,
        &["config.json", "line"],
        "config.json with a trailing comma",
    );
}

#[test]
fn bad_configs_fail_cleanly() {
    let rt = Runtime::new();

    let mut b = Bundle::new(&["/bin/true"]);
    b.config["process"].as_object_mut().unwrap().remove("args");
    b.write();
    failing_create(&rt, &b, &["args"], "missing process.args");

    let mut b = Bundle::new(&["/bin/true"]);
    let missing = format!("/nonexistent-rootfs-{}", unique("r"));
    b.set("/root/path", json!(missing));
    failing_create(&rt, &b, &[&missing], "missing rootfs");

    let b = Bundle::new(&["nosuchcmd-in-image"]);
    failing_create(
        &rt,
        &b,
        &["nosuchcmd-in-image", "executable file not found in $PATH"],
        "args[0] not in the image",
    );

    let b = Bundle::new(&["/nonexistent"]);
    failing_create(&rt, &b, &["/nonexistent"], "args[0] a missing path");

    // `run` fails the same way, with exit code 1 and nothing kept.
    let b = Bundle::new(&["nosuchcmd-in-image"]);
    let o = exec(&rt, &["run", "--bundle", b.dir(), &unique("bad")]);
    assert_clean_failure(
        &rt,
        &o,
        &["nosuchcmd-in-image", "executable file not found in $PATH"],
        &[],
        "run of args[0] not in the image",
    );

    let mut b = Bundle::new(&["/bin/true"]);
    let src = format!("/nonexistent-src-{}", unique("m"));
    b.push(
        "/mounts",
        json!({"destination": "/mnt/data", "type": "bind", "source": src, "options": ["rbind"]}),
    );
    failing_create(
        &rt,
        &b,
        &[&src, "/mnt/data"],
        "bind mount of a missing source",
    );

    let mut b = Bundle::new(&["/bin/true"]);
    b.set("/process/cwd", json!("/bin/busybox"));
    failing_create(&rt, &b, &["cwd", "/bin/busybox"], "cwd is a regular file");
}

#[test]
fn invalid_ids_are_refused_before_anything_else() {
    let rt = Runtime::new();
    let b = Bundle::new(&["/bin/probe", "pause"]);
    let root = root_str(&rt);
    let mut problems = vec![];
    for bad in ["a/b", "..", "x y", ".", "../escape"] {
        let o = exec(&rt, &["create", "--bundle", b.dir(), bad]);
        let text = o.stderr.trim_end_matches('\n');
        // runc: "invalid container ID format"; either case is fine.
        if o.code != 1
            || text.lines().count() != 1
            || !text.to_lowercase().contains("invalid container id format")
        {
            problems.push(format!(
                "create {bad:?}: exit {} stderr {:?}",
                o.code, o.stderr
            ));
        }
        if !rt.ids().is_empty() {
            problems.push(format!("create {bad:?} left {:?}", rt.ids()));
        }
        if !wait_for(5.0, || procs_mentioning(&root).is_empty()) {
            problems.push(format!(
                "create {bad:?} left processes {:?}",
                procs_mentioning(&root)
            ));
        }
    }
    assert!(!rt.root.path().join("a").exists(), "no directory for a/b");
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn an_existing_id_is_refused() {
    let rt = Runtime::new();
    let b = Bundle::new(&["/bin/probe", "pause"]);
    let id = unique("dup");
    create(&rt, &b, &id);
    let pid = state_pid(&rt, &id);
    let o = exec(&rt, &["create", "--bundle", b.dir(), &id]);
    assert_eq!(o.code, 1, "{o:?}");
    assert_one_line(&o, &["container with id exists", &id], "duplicate id");
    assert_eq!(rt.ids(), vec![id.clone()]);
    let st = rt.state(&id);
    assert_eq!(
        st["status"], "created",
        "the first container is untouched: {st}"
    );
    assert_eq!(st["pid"].as_i64().unwrap() as i32, pid);
    assert!(alive(pid));
    // Only the first container's init (berth's argv, waiting on its fifo).
    let procs = procs_mentioning(&root_str(&rt));
    assert_eq!(
        procs.iter().map(|p| p.0).collect::<Vec<_>>(),
        vec![pid],
        "{procs:?}"
    );

    // The same through `run`.
    let o = exec(&rt, &["run", "--bundle", b.dir(), &id]);
    assert_eq!(o.code, 1, "{o:?}");
    assert_one_line(
        &o,
        &["container with id exists", &id],
        "duplicate id via run",
    );
    assert_eq!(status(&rt, &id), "created");
}

#[test]
fn start_twice_and_start_after_exit_are_refused() {
    let rt = Runtime::new();
    let b = Bundle::new(&["/bin/probe", "pause"]);
    let id = unique("start2");
    create(&rt, &b, &id);
    rt.ok(&["start", &id]);
    assert!(wait_status(&rt, &id, "running"));
    let o = exec(&rt, &["start", &id]);
    assert_eq!(o.code, 1, "{o:?}");
    assert_one_line(
        &o,
        &["cannot start an already running container"],
        "start of a running container",
    );
    assert_eq!(status(&rt, &id), "running");

    let b = Bundle::new(&["/bin/probe", "exit", "0"]);
    let id = unique("startstopped");
    create(&rt, &b, &id);
    rt.ok(&["start", &id]);
    assert!(wait_status(&rt, &id, "stopped"));
    let o = exec(&rt, &["start", &id]);
    assert_eq!(o.code, 1, "{o:?}");
    assert_one_line(
        &o,
        &["cannot start a container that has stopped"],
        "start of a stopped container",
    );
    assert_eq!(status(&rt, &id), "stopped");

    let o = exec(&rt, &["start", &unique("ghost")]);
    assert_eq!(o.code, 1, "{o:?}");
    assert_one_line(&o, &["does not exist"], "start of a missing container");
}

// ---------------------------------------------------------------------------
// 9. --log
// ---------------------------------------------------------------------------

#[test]
fn log_json_appends_logrus_error_lines() {
    let rt = Runtime::new();
    let dir = TempDir::new("log");
    let log = dir.path().join("log.json");
    let earlier = r#"{"level":"info","msg":"earlier","time":"2020-01-01T00:00:00Z"}"#;
    std::fs::write(&log, format!("{earlier}\n")).unwrap();
    let id = unique("ghost");
    let o = exec(
        &rt,
        &[
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            "json",
            "delete",
            &id,
        ],
    );
    assert_eq!(o.code, 1, "{o:?}");
    let text = read(&log);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.first(),
        Some(&earlier),
        "the log is appended to: {text:?}"
    );
    assert_eq!(lines.len(), 2, "{text:?}");
    let v: Value = serde_json::from_str(lines[1]).expect("log line is JSON");
    assert_eq!(v["level"], "error", "{v}");
    let msg = v["msg"].as_str().expect("msg");
    assert!(
        msg.contains("does not exist") && msg.contains(&id),
        "{msg:?}"
    );
    let t = v["time"].as_str().expect("time");
    assert!(
        rfc3339_to_unix(t).is_some_and(|t| (t - unix_now()).abs() < 60),
        "{t:?}"
    );

    // A second failure appends one more line.
    let b = Bundle::new(&["/nonexistent"]);
    let o = exec(
        &rt,
        &[
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            "json",
            "create",
            "--bundle",
            b.dir(),
            &unique("x"),
        ],
    );
    assert_eq!(o.code, 1, "{o:?}");
    let text = read(&log);
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(text.lines().count(), 3, "{text:?}");
    assert_eq!(last["level"], "error");
    assert!(
        last["msg"].as_str().unwrap().contains("/nonexistent"),
        "{last}"
    );
}

#[test]
fn log_text_writes_level_and_quoted_msg() {
    let rt = Runtime::new();
    let dir = TempDir::new("log");
    let log = dir.path().join("log.txt");
    let id = unique("ghost");
    let o = exec(
        &rt,
        &[
            "--log",
            log.to_str().unwrap(),
            "--log-format",
            "text",
            "delete",
            &id,
        ],
    );
    assert_eq!(o.code, 1, "{o:?}");
    let text = read(&log);
    let line = text
        .lines()
        .find(|l| l.contains("level=error"))
        .unwrap_or_else(|| panic!("{text:?}"));
    let msg_at = line
        .find("msg=\"")
        .unwrap_or_else(|| panic!("no msg=\"...\" in {line:?}"));
    let msg = &line[msg_at..];
    assert!(
        msg.contains("does not exist") && msg.contains(&id),
        "{line:?}"
    );
    assert!(line.contains("time=\""), "{line:?}");
}

// ---------------------------------------------------------------------------
// 10. concurrency
// ---------------------------------------------------------------------------

#[test]
fn concurrent_lifecycles_on_one_root() {
    let rt = Runtime::new();
    let b = Bundle::new(&["/bin/probe", "pause"]);
    let barrier = std::sync::Barrier::new(8);
    let results: Vec<Result<(), String>> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let (rt, b, barrier) = (&rt, &b, &barrier);
                s.spawn(move || -> Result<(), String> {
                    let id = unique("conc");
                    barrier.wait();
                    let step = |args: &[&str]| {
                        let o = exec(rt, args);
                        if o.code == 0 {
                            Ok(o)
                        } else {
                            Err(format!("{args:?}: {o:?}"))
                        }
                    };
                    step(&["create", "--bundle", b.dir(), &id])?;
                    step(&["start", &id])?;
                    let st: Value = serde_json::from_str(&step(&["state", &id])?.stdout)
                        .map_err(|e| e.to_string())?;
                    if st["status"] != "running" {
                        return Err(format!("{id}: {st}"));
                    }
                    step(&["kill", &id, "KILL"])?;
                    if !wait_for(10.0, || {
                        exec(rt, &["state", &id]).stdout.contains("\"stopped\"")
                    }) {
                        return Err(format!("{id} did not stop"));
                    }
                    step(&["delete", &id])?;
                    Ok(())
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let errs: Vec<&String> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(errs.is_empty(), "failures: {errs:#?}");
    assert!(rt.ids().is_empty(), "{:?}", rt.ids());
}

#[test]
fn concurrent_create_of_one_id_has_one_winner() {
    let rt = Runtime::new();
    let b = Bundle::new(&["/bin/probe", "pause"]);
    for _ in 0..5 {
        let id = unique("race");
        let barrier = std::sync::Barrier::new(2);
        let outs: Vec<Out> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    let (rt, b, barrier, id) = (&rt, &b, &barrier, &id);
                    s.spawn(move || {
                        barrier.wait();
                        exec(rt, &["create", "--bundle", b.dir(), id])
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let winners = outs.iter().filter(|o| o.code == 0).count();
        assert_eq!(winners, 1, "exactly one create wins: {outs:?}");
        let loser = outs.iter().find(|o| o.code != 0).unwrap();
        assert_eq!(loser.code, 1, "{loser:?}");
        assert_one_line(loser, &["container with id exists"], "losing create");
        assert_eq!(rt.ids(), vec![id.clone()]);
        let st = rt.state(&id);
        assert_eq!(st["status"], "created", "{st}");
        assert!(alive(st["pid"].as_i64().unwrap() as i32));
        let root = root_str(&rt);
        // Only the winner's init (still berth's argv, waiting on its fifo).
        let procs = procs_mentioning(&root);
        assert!(procs.len() <= 1, "{procs:?}");
        rt.ok(&["delete", &id]);
    }
    assert!(rt.ids().is_empty());
}

// ---------------------------------------------------------------------------
// 11. clean-up after a failed create
// ---------------------------------------------------------------------------

#[test]
fn failed_create_leaves_no_mounts_or_processes() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["/bin/true"]);
    let rootfs = b.private_rootfs();
    let rootfs_s = rootfs.to_str().unwrap().to_string();
    let root = root_str(&rt);
    let mut cases: Vec<(&str, Value)> = vec![];
    let mut cfg = b.config.clone();
    cfg["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"destination": "/mnt/x", "type": "bind", "source": "/nonexistent-src", "options": ["rbind"]}));
    cases.push(("missing bind source", cfg));
    let mut cfg = b.config.clone();
    cfg["process"]["cwd"] = json!("/bin/busybox");
    cases.push(("cwd a file", cfg));
    let mut cfg = b.config.clone();
    cfg["process"]["args"] = json!(["/nonexistent"]);
    cases.push(("missing executable", cfg));
    let mut cfg = b.config.clone();
    cfg["process"]["args"] = json!(["nosuchcmd"]);
    cases.push(("not in $PATH", cfg));

    for (what, cfg) in cases {
        b.config = cfg;
        b.write();
        // Other test binaries may mount and unmount their own things on
        // the host meanwhile: a leak of ours shows in every attempt (and
        // names our paths), their noise does not repeat.
        let mut last_noise = String::new();
        let mut clean = false;
        for _attempt in 0..5 {
            let before = mountinfo();
            let o = exec(&rt, &["create", "--bundle", b.dir(), &unique("fail")]);
            let after = mountinfo();
            assert_eq!(o.code, 1, "{what}: {o:?}");
            let added: Vec<&String> = after.iter().filter(|l| !before.contains(l)).collect();
            let removed: Vec<&String> = before.iter().filter(|l| !after.contains(l)).collect();
            let ours: Vec<&&String> = added
                .iter()
                .filter(|l| l.contains(&rootfs_s) || l.contains(&root) || l.contains(b.dir()))
                .collect();
            assert!(ours.is_empty(), "{what}: mounts left behind: {ours:#?}");
            assert!(rt.ids().is_empty(), "{what}: {:?}", rt.ids());
            assert!(
                wait_for(5.0, || procs_mentioning(&root).is_empty()),
                "{what}: processes left: {:?}",
                procs_mentioning(&root)
            );
            if after.len() == before.len() && added.is_empty() {
                clean = true;
                break;
            }
            last_noise = format!(
                "count {} -> {}; added {added:#?} removed {removed:#?}",
                before.len(),
                after.len()
            );
        }
        assert!(
            clean,
            "{what}: the mount table changed in every attempt: {last_noise}"
        );
    }
    // And the rootfs is still an ordinary, unmounted directory.
    assert!(!after_mounts_mention(&rootfs_s), "rootfs still mounted");
}

fn after_mounts_mention(path: &str) -> bool {
    mountinfo().iter().any(|l| l.contains(path))
}
