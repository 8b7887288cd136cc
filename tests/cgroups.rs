//! cgroups as users and clients see them: `linux.resources` written to the
//! right files, `cgroupsPath` (absolute and relative), the directories'
//! lifetime, limits that the kernel enforces (memory, pids, devices),
//! `pause`/`resume`, `ps`, `update`, `events`, `kill --all` without a pid
//! namespace, and bad input refused without leaving anything behind.
//!
//! Every test runs on cgroup v1, hybrid (v1 controllers plus a cgroup2
//! mount at /sys/fs/cgroup/unified, as on the dev machines) and pure v2
//! (the VM of scripts/vm-test). The layout is detected at run time, and a
//! container's directories are found from the host through
//! /proc/PID/cgroup joined to the hierarchies' mounts, never guessed.
mod common;
use common::*;

use serde_json::{json, Value};
use std::fs::File;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------
// Running berth
// ---------------------------------------------------------------------------

const MIB: u64 = 1 << 20;

fn read(p: impl AsRef<Path>) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// `create` with the container's stdout kept in `out`; asserts success.
fn create_logged(rt: &Runtime, b: &Bundle, id: &str, out: &Path) {
    let o = exec_io(
        rt.cmd(&["create", "--bundle", b.dir(), id]),
        None,
        Some(out),
    );
    assert_eq!(o.code, 0, "create {id} failed: {o:?}");
}

/// create + start; waits for `ready` when the program is `probe pause`.
/// Returns the init's host pid.
fn started(rt: &Runtime, b: &Bundle, id: &str, out: &Path) -> i32 {
    create_logged(rt, b, id, out);
    rt.ok(&["start", id]);
    let args = b.config["process"]["args"].clone();
    if args == json!(["/bin/probe", "pause"]) {
        assert!(
            wait_for(10.0, || read(out).contains("ready")),
            "probe pause never printed ready: {:?}",
            read(out)
        );
    }
    pid_of(rt, id)
}

fn pid_of(rt: &Runtime, id: &str) -> i32 {
    let st = rt.state(id);
    st["pid"].as_i64().unwrap_or_else(|| panic!("no pid: {st}")) as i32
}

/// Alive and not a zombie.
fn alive(pid: i32) -> bool {
    let stat = read(format!("/proc/{pid}/stat"));
    let Some(after) = stat.rsplit_once(')').map(|(_, a)| a.trim_start()) else {
        return false;
    };
    !after.starts_with('Z') && !after.starts_with('X')
}

/// Stderr holds exactly one non-empty line that mentions every needle.
fn assert_one_line(o: &Out, needles: &[&str], ctx: &str) {
    let lines: Vec<&str> = o.stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "{ctx}: want one error line, got {o:?}");
    for n in needles {
        assert!(
            lines[0].to_lowercase().contains(&n.to_lowercase()),
            "{ctx}: error line lacks {n:?}: {:?}",
            lines[0]
        );
    }
}

// ---------------------------------------------------------------------------
// The host's cgroup layout
// ---------------------------------------------------------------------------

/// A pure cgroup v2 host: /sys/fs/cgroup itself is cgroup2 (`stat -f`).
fn unified() -> bool {
    use nix::sys::statfs::{statfs, CGROUP2_SUPER_MAGIC};
    statfs("/sys/fs/cgroup")
        .map(|s| s.filesystem_type() == CGROUP2_SUPER_MAGIC)
        .unwrap_or(false)
}

/// One mounted cgroup hierarchy.
#[derive(Debug, Clone)]
struct Mount {
    dir: PathBuf,
    /// The path inside the hierarchy that is the mount's root.
    root: String,
    v2: bool,
    /// Super options: v1 controllers (and `name=...`) live here.
    opts: Vec<String>,
}

fn cgroup_mounts() -> Vec<Mount> {
    let mut out: Vec<Mount> = Vec::new();
    for line in read("/proc/self/mountinfo").lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if pre.len() < 5 || post.len() < 3 {
            continue;
        }
        let v2 = match post[0] {
            "cgroup2" => true,
            "cgroup" => false,
            _ => continue,
        };
        let dir = PathBuf::from(pre[4]);
        if out.iter().any(|m| m.dir == dir) {
            continue;
        }
        out.push(Mount {
            dir,
            root: pre[3].to_string(),
            v2,
            opts: post[2].split(',').map(String::from).collect(),
        });
    }
    assert!(
        !out.is_empty(),
        "no cgroup hierarchy is mounted on this host"
    );
    out
}

/// A hierarchy the runtime manages: cgroup2, or v1 with a real controller
/// (named hierarchies such as `name=systemd` carry no resources).
fn resource_mounts() -> Vec<Mount> {
    cgroup_mounts()
        .into_iter()
        .filter(|m| {
            m.v2 || m.opts.iter().any(|o| {
                [
                    "cpu",
                    "cpuacct",
                    "cpuset",
                    "memory",
                    "devices",
                    "freezer",
                    "blkio",
                    "pids",
                    "net_cls",
                    "net_prio",
                    "hugetlb",
                    "perf_event",
                    "rdma",
                    "misc",
                ]
                .contains(&o.as_str())
            })
        })
        .collect()
}

fn join_mount(m: &Mount, path: &str) -> PathBuf {
    let rel = if m.root != "/" {
        path.strip_prefix(m.root.as_str()).unwrap_or(path)
    } else {
        path
    };
    m.dir.join(rel.trim_start_matches('/'))
}

/// One line of /proc/PID/cgroup and the host directory it names.
#[derive(Debug, Clone)]
struct CgEntry {
    line: String,
    controllers: Vec<String>,
    /// The path as /proc/PID/cgroup shows it.
    path: String,
    v2: bool,
    dir: PathBuf,
}

impl CgEntry {
    fn named_only(&self) -> bool {
        !self.v2 && self.controllers.iter().all(|c| c.starts_with("name="))
    }
}

/// The hierarchies `pid` belongs to, each with its directory (lines of
/// hierarchies not mounted here are left out).
fn proc_cgroup(pid: i32) -> Vec<CgEntry> {
    let mounts = cgroup_mounts();
    let text = read(format!("/proc/{pid}/cgroup"));
    assert!(!text.is_empty(), "no /proc/{pid}/cgroup (process gone?)");
    text.lines()
        .filter_map(|line| {
            let mut f = line.splitn(3, ':');
            let _ = f.next()?;
            let ctl = f.next()?;
            let path = f.next()?.to_string();
            let controllers: Vec<String> = ctl
                .split(',')
                .filter(|c| !c.is_empty())
                .map(String::from)
                .collect();
            let v2 = controllers.is_empty();
            let m = mounts.iter().find(|m| {
                if v2 {
                    m.v2
                } else {
                    !m.v2 && controllers.iter().all(|c| m.opts.contains(c))
                }
            })?;
            Some(CgEntry {
                line: line.to_string(),
                controllers,
                dir: join_mount(m, &path),
                path,
                v2,
            })
        })
        .collect()
}

/// The entries the runtime is responsible for (cgroup2 and v1 hierarchies
/// with controllers).
fn managed(pid: i32) -> Vec<CgEntry> {
    proc_cgroup(pid)
        .into_iter()
        .filter(|e| !e.named_only())
        .collect()
}

/// The test process's own path in the hierarchy of `e`.
fn own_path(e: &CgEntry) -> String {
    proc_cgroup(std::process::id() as i32)
        .into_iter()
        .find(|o| o.v2 == e.v2 && o.controllers == e.controllers)
        .map(|o| o.path)
        .unwrap_or_else(|| panic!("test process is not in the hierarchy of {e:?}"))
}

/// The directory that hosts `controller` for `pid`, and whether it is v2:
/// a v1 hierarchy with the controller wins, else the cgroup2 one.
fn controller_dir(pid: i32, controller: &str) -> (PathBuf, bool) {
    let es = proc_cgroup(pid);
    if let Some(e) = es
        .iter()
        .find(|e| !e.v2 && e.controllers.iter().any(|c| c == controller))
    {
        return (e.dir.clone(), false);
    }
    let e = es
        .iter()
        .find(|e| e.v2)
        .unwrap_or_else(|| panic!("no hierarchy of pid {pid} hosts {controller}: {es:?}"));
    (e.dir.clone(), true)
}

/// Reads the controller's file (`v1` or `v2` name, by where it lives).
fn cg_read(pid: i32, controller: &str, v1: &str, v2: &str) -> String {
    let (dir, is_v2) = controller_dir(pid, controller);
    let file = dir.join(if is_v2 { v2 } else { v1 });
    std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("read {}: {e}", file.display()))
        .trim()
        .to_string()
}

/// The memory limit file of `pid`'s cgroup.
fn memory_limit(pid: i32) -> String {
    cg_read(pid, "memory", "memory.limit_in_bytes", "memory.max")
}

fn pids_max(pid: i32) -> String {
    cg_read(pid, "pids", "pids.max", "pids.max")
}

/// Pids in the container's cgroup, as the host sees them.
fn procs_in(dir: &Path) -> Vec<i32> {
    read(dir.join("cgroup.procs"))
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Removes `dirs` (deepest first) when dropped: a failing test must not
/// leave cgroups behind. Declare it before the `Runtime`, so that the
/// containers are deleted first.
struct CgGuard(Vec<PathBuf>);

impl CgGuard {
    /// An absolute `cgroupsPath` in every hierarchy.
    fn absolute(path: &str) -> CgGuard {
        CgGuard(
            resource_mounts()
                .iter()
                .map(|m| join_mount(m, path))
                .collect(),
        )
    }
}

impl Drop for CgGuard {
    fn drop(&mut self) {
        for d in &self.0 {
            if d.exists() {
                let _ = std::fs::remove_dir(d);
            }
        }
    }
}

/// A bundle placed in an absolute cgroup `/berth-test-...` of its own.
/// Absolute paths hang off each hierarchy's root, whose subtree_control may
/// enable controllers on v2 whatever cgroup the test runs in.
fn bundle_in_cgroup(args: &[&str]) -> (Bundle, String) {
    let mut b = Bundle::new(args);
    let path = format!("/berth-test-{}", unique("cg"));
    b.set("/linux/cgroupsPath", json!(path));
    (b, path)
}

/// A memory limit that OOM-kills instead of swapping when the host has
/// swap (v1: memsw = limit; v2: swap.max = 0).
fn memory_resources(limit: u64) -> Value {
    let has_swap = read("/proc/swaps").lines().count() > 1;
    if has_swap {
        json!({"limit": limit, "swap": limit})
    } else {
        json!({"limit": limit})
    }
}

// ---------------------------------------------------------------------------
// 1. linux.resources are written
// ---------------------------------------------------------------------------

/// A running `probe pause` with `resources`; returns the cgroup guard,
/// runtime, output dir, id and init pid (drop order: runtime before guard).
fn paused_probe_with(resources: Value) -> (CgGuard, Runtime, TempDir, String, i32) {
    let (mut b, path) = bundle_in_cgroup(&["/bin/probe", "pause"]);
    let g = CgGuard::absolute(&path);
    let rt = Runtime::new();
    b.set("/linux/resources", resources);
    let id = unique("res");
    let tmp = TempDir::new("out");
    let pid = started(&rt, &b, &id, &tmp.path().join("out"));
    (g, rt, tmp, id, pid)
}

#[test]
fn memory_limit_is_written() {
    let (_g, _rt, _t, _id, pid) = paused_probe_with(json!({"memory": {"limit": 32 * MIB}}));
    assert_eq!(memory_limit(pid), (32 * MIB).to_string());
}

#[test]
fn pids_limit_is_written() {
    let (_g, _rt, _t, _id, pid) = paused_probe_with(json!({"pids": {"limit": 50}}));
    assert_eq!(pids_max(pid), "50");
}

#[test]
fn cpu_quota_and_period_are_written() {
    let (_g, _rt, _t, _id, pid) =
        paused_probe_with(json!({"cpu": {"quota": 50000, "period": 100000}}));
    if controller_dir(pid, "cpu").1 {
        assert_eq!(cg_read(pid, "cpu", "", "cpu.max"), "50000 100000");
    } else {
        assert_eq!(cg_read(pid, "cpu", "cpu.cfs_quota_us", ""), "50000");
        assert_eq!(cg_read(pid, "cpu", "cpu.cfs_period_us", ""), "100000");
    }
}

#[test]
fn cpu_shares_are_written() {
    let (_g, _rt, _t, _id, pid) = paused_probe_with(json!({"cpu": {"shares": 512}}));
    if controller_dir(pid, "cpu").1 {
        // runc's conversion: 1 + (shares - 2) * 9999 / 262142.
        assert_eq!(cg_read(pid, "cpu", "", "cpu.weight"), "20");
    } else {
        assert_eq!(cg_read(pid, "cpu", "cpu.shares", ""), "512");
    }
}

#[test]
fn cpuset_cpus_is_written() {
    let (_g, _rt, _t, _id, pid) = paused_probe_with(json!({"cpu": {"cpus": "0"}}));
    assert_eq!(cg_read(pid, "cpuset", "cpuset.cpus", "cpuset.cpus"), "0");
    let status = read(format!("/proc/{pid}/status"));
    let allowed = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .map(str::trim);
    assert_eq!(allowed, Some("0"), "the init runs on CPU 0 only");
}

// ---------------------------------------------------------------------------
// 1b. cgroupsPath and the directories' lifetime
// ---------------------------------------------------------------------------

/// After `create`, before `start`: the init is in `want(entry)` in every
/// managed hierarchy, each directory exists and the limits are in place;
/// the program has not run. Then start, delete, and every directory is
/// gone. Returns nothing; panics on the first difference.
fn check_lifetime(rt: &Runtime, b: &mut Bundle, want: impl Fn(&CgEntry) -> String) {
    b.args(&["/bin/probe", "echo", "ran"]);
    b.set(
        "/linux/resources",
        json!({"memory": {"limit": 48 * MIB}, "pids": {"limit": 20}}),
    );
    let id = unique("life");
    let tmp = TempDir::new("out");
    let out = tmp.path().join("out");
    create_logged(rt, b, &id, &out);
    let pid = pid_of(rt, &id);
    let entries = managed(pid);
    assert!(!entries.is_empty(), "{:?}", proc_cgroup(pid));
    if unified() {
        // Pure v2: one hierarchy, the `0::` line.
        assert!(
            entries.len() == 1 && entries[0].v2,
            "unified host: {entries:?}"
        );
    } else {
        assert!(
            entries.iter().any(|e| !e.v2),
            "v1/hybrid host: v1 hierarchies used: {entries:?}"
        );
    }
    // Every resource hierarchy mounted here is used.
    for m in resource_mounts() {
        assert!(
            entries
                .iter()
                .any(|e| e.v2 == m.v2 && (m.v2 || e.controllers.iter().all(|c| m.opts.contains(c)))),
            "container not placed in hierarchy {}: {entries:?}",
            m.dir.display()
        );
    }
    for e in &entries {
        assert_eq!(e.path, want(e), "cgroup of the created init: {}", e.line);
        assert!(e.dir.is_dir(), "{} missing after create", e.dir.display());
    }
    assert_eq!(memory_limit(pid), (48 * MIB).to_string());
    assert_eq!(pids_max(pid), "20");
    assert_eq!(read(&out), "", "the program must not run before start");
    rt.ok(&["start", &id]);
    assert!(wait_for(10.0, || read(&out) == "ran\n"), "{:?}", read(&out));
    assert!(wait_status(rt, &id, "stopped"));
    rt.ok(&["delete", &id]);
    for e in &entries {
        assert!(
            !e.dir.exists(),
            "{} still exists after delete ({})",
            e.dir.display(),
            e.line
        );
    }
    assert!(rt.ids().is_empty(), "state left: {:?}", rt.ids());
}

#[test]
fn absolute_cgroups_path_is_created_at_create_and_removed_on_delete() {
    let (mut b, path) = bundle_in_cgroup(&[]);
    let _g = CgGuard::absolute(&path);
    let rt = Runtime::new();
    check_lifetime(&rt, &mut b, |_| path.clone());
}

/// Where runc puts a relative `cgroupsPath` in the hierarchy of `e`: under
/// the caller's own cgroup (v1, libcontainer/cgroups/fs `subsysPath`), but
/// on a pure v2 host under its *parent* (fs2 `_defaultDirPath`: "The
/// current user scope most probably has tasks in it already, making it
/// impossible to enable controllers for its sub-cgroup").
fn relative_base(e: &CgEntry) -> String {
    let own = own_path(e);
    if e.v2 && unified() {
        Path::new(&own)
            .parent()
            .map_or("/".to_string(), |p| p.to_string_lossy().into_owned())
    } else {
        own
    }
}

#[test]
fn relative_cgroups_path_is_created_under_the_callers_cgroup_and_removed() {
    let rel = format!("berth-rel-{}", unique("cg"));
    let mut b = Bundle::new(&[]);
    b.set("/linux/cgroupsPath", json!(rel));
    // The guard: the relative path in each hierarchy, wherever it may land.
    let me = std::process::id() as i32;
    let _g = CgGuard(
        managed(me)
            .iter()
            .flat_map(|e| {
                let parent = e.dir.parent().unwrap_or(&e.dir).join(&rel);
                [e.dir.join(&rel), parent]
            })
            .collect(),
    );
    let rt = Runtime::new();
    check_lifetime(&rt, &mut b, |e| {
        format!("{}/{rel}", relative_base(e).trim_end_matches('/'))
    });
}

#[test]
fn delete_force_of_a_running_container_removes_its_cgroups() {
    let (mut b, path) = bundle_in_cgroup(&["/bin/probe", "pause"]);
    let _g = CgGuard::absolute(&path);
    let rt = Runtime::new();
    b.set("/linux/resources", json!({"pids": {"limit": 20}}));
    let id = unique("dforce");
    let tmp = TempDir::new("out");
    let pid = started(&rt, &b, &id, &tmp.path().join("out"));
    let entries = managed(pid);
    for e in &entries {
        assert_eq!(e.path, path, "{}", e.line);
        assert!(e.dir.is_dir());
    }
    rt.ok(&["delete", "--force", &id]);
    assert!(!alive(pid), "init {pid} survived delete --force");
    for e in &entries {
        assert!(
            !e.dir.exists(),
            "{} still exists after delete --force",
            e.dir.display()
        );
    }
    assert!(rt.ids().is_empty(), "state left: {:?}", rt.ids());
}

// ---------------------------------------------------------------------------
// 2, 3. memory: OOM kill, stats, oom events, the smallest limit
// ---------------------------------------------------------------------------

#[test]
fn memory_limit_oom_kills_an_allocation_beyond_it() {
    let (mut b, path) = bundle_in_cgroup(&["/bin/probe", "alloc", "64"]);
    let _g = CgGuard::absolute(&path);
    let rt = Runtime::new();
    b.set(
        "/linux/resources",
        json!({"memory": memory_resources(16 * MIB)}),
    );
    let (code, out, err) = rt.run_bundle(&b, &unique("oom"));
    assert_eq!(
        code, 137,
        "probe alloc 64 under 16 MiB must die of SIGKILL: stdout={out} stderr={err}"
    );
    assert!(!out.contains("allocated"), "{out}");
}

#[test]
fn events_stats_prints_the_memory_limit() {
    let (_g, rt, _t, id, _pid) =
        paused_probe_with(json!({"memory": {"limit": 16 * MIB}, "pids": {"limit": 40}}));
    let o = exec(&rt, &["events", "--stats", &id]);
    assert_eq!(o.code, 0, "{o:?}");
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one JSON line: {o:?}");
    let v: Value = serde_json::from_str(lines[0]).expect("stats line is JSON");
    assert_eq!(v["type"], "stats", "{v}");
    assert_eq!(v["id"], json!(id), "{v}");
    assert_eq!(
        v["data"]["memory"]["usage"]["limit"],
        json!(16 * MIB),
        "{v}"
    );
    assert!(
        v["data"]["memory"]["usage"]["usage"].as_u64().unwrap_or(0) > 0,
        "usage of a running container: {v}"
    );
    assert_eq!(v["data"]["pids"]["limit"], json!(40), "{v}");
    assert_eq!(v["data"]["pids"]["current"], json!(1), "{v}");
}

#[test]
fn events_reports_an_oom_kill_inside_the_container() {
    let (mut b, path) =
        bundle_in_cgroup(&["/bin/sh", "-c", "sleep 0.5; probe alloc 64; sleep 100"]);
    let _g = CgGuard::absolute(&path);
    let rt = Runtime::new();
    b.set(
        "/linux/resources",
        json!({"memory": memory_resources(16 * MIB)}),
    );
    let id = unique("oomev");
    let tmp = TempDir::new("out");
    create_logged(&rt, &b, &id, &tmp.path().join("out"));
    let events_out = tmp.path().join("events");
    let mut events = rt
        .cmd(&["events", "--interval", "100ms", &id])
        .stdout(File::create(&events_out).unwrap())
        .stderr(File::create(tmp.path().join("events.err")).unwrap())
        .spawn()
        .expect("spawn berth events");
    rt.ok(&["start", &id]);
    let got = wait_for(20.0, || {
        read(&events_out)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .any(|v| v["type"] == "oom" && v["id"] == json!(id))
    });
    let _ = events.kill();
    let _ = events.wait();
    assert!(
        got,
        "no oom event; events printed {:?} (stderr {:?})",
        read(&events_out),
        read(tmp.path().join("events.err"))
    );
    // sh survives (only probe was killed), and stats lines came too.
    assert_eq!(status(&rt, &id), "running");
    assert!(
        read(&events_out).contains("\"type\":\"stats\""),
        "{}",
        read(&events_out)
    );
}

#[test]
fn smallest_memory_limit_one_mib_still_runs_busybox() {
    let (mut b, path) = bundle_in_cgroup(&["/bin/sh", "-c", "echo hi"]);
    let _g = CgGuard::absolute(&path);
    let rt = Runtime::new();
    b.set("/linux/resources", json!({"memory": {"limit": MIB}}));
    let (code, out, err) = rt.run_bundle(&b, &unique("mem1m"));
    assert_eq!(
        (code, out.as_str()),
        (0, "hi\n"),
        "sh -c 'echo hi' under a 1 MiB limit: stderr={err}"
    );
    // And the limit really was 1 MiB: read it back while a (small) sh runs.
    let id = unique("mem1m");
    let tmp = TempDir::new("out");
    let out = tmp.path().join("out");
    b.args(&["/bin/sh", "-c", "echo hi; exec sleep 100"]);
    let pid = started(&rt, &b, &id, &out);
    assert!(wait_for(10.0, || read(&out) == "hi\n"), "{:?}", read(&out));
    assert_eq!(memory_limit(pid), MIB.to_string());
}

// ---------------------------------------------------------------------------
// 4. pids
// ---------------------------------------------------------------------------

#[test]
fn pids_limit_stops_fork_with_eagain() {
    let (mut b, path) = bundle_in_cgroup(&["/bin/probe", "fork", "30"]);
    let _g = CgGuard::absolute(&path);
    let rt = Runtime::new();
    b.set("/linux/resources", json!({"pids": {"limit": 10}}));
    let (code, out, err) = rt.run_bundle(&b, &unique("pids"));
    assert_eq!(code, 0, "stdout={out} stderr={err}");
    let line = out.trim();
    let rest = line
        .strip_prefix("forked=")
        .unwrap_or_else(|| panic!("unexpected output {out:?}"));
    let (n, e) = rest
        .split_once(' ')
        .unwrap_or_else(|| panic!("fork was not stopped: {out:?}"));
    let n: u32 = n.parse().unwrap();
    // The init counts against the limit: at most 9 children.
    assert!(n <= 9, "forked {n} of 30 children under pids.limit 10");
    assert_eq!(e, "error=EAGAIN", "{out:?}");
}

// ---------------------------------------------------------------------------
// 5. devices
// ---------------------------------------------------------------------------

/// deny all, then allow /dev/null and /dev/zero.
fn device_rules() -> Value {
    json!([
        {"allow": false, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
        {"allow": true, "type": "c", "major": 1, "minor": 5, "access": "rwm"}
    ])
}

/// A container with the rules above, CAP_MKNOD added, and /dev/kmsg
/// (c 1:11, outside the rules) supplied through linux.devices.
fn device_bundle(script: &str) -> (Bundle, String) {
    let (mut b, path) = bundle_in_cgroup(&["/bin/sh", "-c", script]);
    b.set("/linux/resources", json!({"devices": device_rules()}));
    b.set(
        "/linux/devices",
        json!([{"path": "/dev/kmsg", "type": "c", "major": 1, "minor": 11, "fileMode": 438, "uid": 0, "gid": 0}]),
    );
    for set in ["bounding", "effective", "permitted"] {
        b.push(&format!("/process/capabilities/{set}"), json!("CAP_MKNOD"));
    }
    (b, path)
}

/// Whether the host has a v1 devices controller (else berth enforces the
/// rules with an eBPF program on the v2 cgroup).
fn v1_devices() -> bool {
    cgroup_mounts()
        .iter()
        .any(|m| !m.v2 && m.opts.iter().any(|o| o == "devices"))
}

/// The cgroup (v1 devices controller, or v2 eBPF filter) denies what the
/// rules do not allow: /dev/null and /dev/zero open, /dev/kmsg (c 1:11,
/// supplied through linux.devices, outside the rules) does not.
#[test]
fn device_rules_deny_devices_outside_the_allowlist() {
    let script = "probe open /dev/null rw; probe open /dev/zero r; probe open /dev/kmsg r; exit 0";
    let (b, path) = device_bundle(script);
    let _g = CgGuard::absolute(&path);
    let rt = Runtime::new();
    let (code, out, err) = rt.run_bundle(&b, &unique("dev"));
    assert_eq!(
        code, 0,
        "container with device rules: stdout={out} stderr={err}"
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        ["ok", "ok", "error: EPERM"],
        "null and zero allowed, kmsg (c 1:11) denied"
    );
}

/// runc appends its default allow rules after the config's
/// (libcontainer/specconv AllowedDevices: `c *:* m`, `b *:* m`, and rwm for
/// null, zero, full, random, urandom, tty, ptmx, pts, tun), so the
/// runtime's own default devices stay usable and mknod stays allowed by the
/// cgroup under a deny-all rule. Observed with runc 1.1.5 on this host:
/// /dev/full opens, `mknod c 1 11` succeeds (with CAP_MKNOD), opening that
/// node fails with EPERM.
#[test]
fn default_devices_and_mknod_stay_allowed_under_deny_all_as_in_runc() {
    let script = "probe open /dev/full rw; probe open /dev/urandom r; probe mknod /dev/kmsg2 c 1 11; probe open /dev/kmsg2 r; exit 0";
    let (b, path) = device_bundle(script);
    let _g = CgGuard::absolute(&path);
    let rt = Runtime::new();
    let (code, out, err) = rt.run_bundle(&b, &unique("devdef"));
    assert_eq!(
        code, 0,
        "container with device rules: stdout={out} stderr={err}"
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        ["ok", "ok", "ok", "error: EPERM"],
        "full, urandom, mknod allowed; the new c 1:11 node denied"
    );
}

/// The same filtering with runc's default rules written into the config
/// (so no runtime defaults matter): `c *:* m`, `b *:* m`, then rwm for
/// null, random, full, tty, zero, urandom, pts, ptmx, tun. A device outside
/// them (/dev/kmsg, c 1:11, supplied through linux.devices) cannot be
/// opened; mknod is allowed; on v1 the host's devices.list shows the rules.
#[test]
fn device_cgroup_denies_open_of_a_device_outside_explicit_rules() {
    let script = "probe open /dev/null rw; probe open /dev/full rw; probe open /dev/kmsg r; \
                  probe mknod /dev/kmsg2 c 1 11; probe open /dev/kmsg2 r; exec probe pause";
    let (mut b, path) = device_bundle(script);
    let rwm = |maj: i64, min: Option<i64>| match min {
        Some(m) => json!({"allow": true, "type": "c", "major": maj, "minor": m, "access": "rwm"}),
        None => json!({"allow": true, "type": "c", "major": maj, "access": "rwm"}),
    };
    b.set(
        "/linux/resources",
        json!({"devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "access": "m"},
            {"allow": true, "type": "b", "access": "m"},
            rwm(1, Some(3)), rwm(1, Some(8)), rwm(1, Some(7)), rwm(5, Some(0)),
            rwm(1, Some(5)), rwm(1, Some(9)), rwm(136, None), rwm(5, Some(2)),
            rwm(10, Some(200))
        ]}),
    );
    let _g = CgGuard::absolute(&path);
    let rt = Runtime::new();
    let id = unique("devx");
    let tmp = TempDir::new("out");
    let out = tmp.path().join("out");
    let _ = started(&rt, &b, &id, &out);
    assert!(
        wait_for(10.0, || read(&out).contains("ready")),
        "{:?}",
        read(&out)
    );
    let pid = pid_of(&rt, &id);
    let text = read(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        ["ok", "ok", "error: EPERM", "ok", "error: EPERM", "ready"],
        "null, full ok; kmsg denied; mknod allowed; the new node denied"
    );
    if v1_devices() {
        let list = cg_read(pid, "devices", "devices.list", "");
        let entries: Vec<&str> = list.lines().collect();
        assert!(entries.contains(&"c 1:3 rwm"), "devices.list: {list}");
        assert!(entries.contains(&"c *:* m"), "devices.list: {list}");
        assert!(!entries.contains(&"a *:* rwm"), "deny-all applied: {list}");
        assert!(
            !entries.iter().any(|e| e.starts_with("c 1:11")),
            "devices.list: {list}"
        );
    }
}

// ---------------------------------------------------------------------------
// 6. pause / resume
// ---------------------------------------------------------------------------

/// `FROZEN`/`THAWED` (v1 freezer.state) or `1`/`0` (v2 cgroup.freeze).
fn freezer_state(pid: i32) -> String {
    cg_read(pid, "freezer", "freezer.state", "cgroup.freeze")
}

#[test]
fn pause_freezes_and_resume_thaws() {
    let (_g, rt, _t, id, pid) = paused_probe_with(json!({}));
    let v2 = controller_dir(pid, "freezer").1;
    let (frozen, thawed) = if v2 { ("1", "0") } else { ("FROZEN", "THAWED") };
    assert_eq!(freezer_state(pid), thawed);
    rt.ok(&["pause", &id]);
    assert_eq!(status(&rt, &id), "paused");
    assert_eq!(freezer_state(pid), frozen);
    if v2 {
        let (dir, _) = controller_dir(pid, "freezer");
        assert!(
            wait_for(5.0, || read(dir.join("cgroup.events")).contains("frozen 1")),
            "cgroup.events: {}",
            read(dir.join("cgroup.events"))
        );
    }
    rt.ok(&["resume", &id]);
    assert_eq!(status(&rt, &id), "running");
    assert_eq!(freezer_state(pid), thawed);
}

#[test]
fn pause_of_a_stopped_container_says_not_running() {
    let (b, path) = bundle_in_cgroup(&["/bin/true"]);
    let _g = CgGuard::absolute(&path);
    let rt = Runtime::new();
    let id = unique("pstop");
    let tmp = TempDir::new("out");
    started(&rt, &b, &id, &tmp.path().join("out"));
    assert!(wait_status(&rt, &id, "stopped"));
    let o = exec(&rt, &["pause", &id]);
    assert_ne!(o.code, 0, "{o:?}");
    assert_one_line(
        &o,
        &["container not running"],
        "pause of a stopped container",
    );
    assert_eq!(status(&rt, &id), "stopped");
}

#[test]
fn resume_of_a_running_container_says_not_paused() {
    let (_g, rt, _t, id, _pid) = paused_probe_with(json!({}));
    let o = exec(&rt, &["resume", &id]);
    assert_ne!(o.code, 0, "{o:?}");
    assert_one_line(
        &o,
        &["container not paused"],
        "resume of a running container",
    );
    assert_eq!(status(&rt, &id), "running");
}

// ---------------------------------------------------------------------------
// 7. ps
// ---------------------------------------------------------------------------

/// A started `sh -c 'sleep 100 & sleep 100'`: busybox sh execs the last
/// command, so the container has exactly two processes (the init, now
/// `sleep`, and the background `sleep`). Returns (ids..., the cgroup's pids).
fn two_sleeps() -> (CgGuard, Runtime, TempDir, String, i32, Vec<i32>) {
    let (b, path) = bundle_in_cgroup(&["/bin/sh", "-c", "sleep 100 & sleep 100"]);
    let g = CgGuard::absolute(&path);
    let rt = Runtime::new();
    let id = unique("ps");
    let tmp = TempDir::new("out");
    let pid = started(&rt, &b, &id, &tmp.path().join("out"));
    let (dir, _) = controller_dir(pid, "pids");
    assert!(
        wait_for(10.0, || procs_in(&dir).len() == 2
            && procs_in(&dir)
                .iter()
                .all(|p| read(format!("/proc/{p}/comm")).trim() == "sleep")),
        "two sleeps in {}: {:?}",
        dir.display(),
        procs_in(&dir)
    );
    let mut procs = procs_in(&dir);
    procs.sort_unstable();
    (g, rt, tmp, id, pid, procs)
}

#[test]
fn ps_json_lists_the_host_pids() {
    let (_g, rt, _t, id, pid, procs) = two_sleeps();
    let o = exec(&rt, &["ps", "--format", "json", &id]);
    assert_eq!(o.code, 0, "{o:?}");
    let mut pids: Vec<i32> = serde_json::from_str(o.stdout.trim()).expect("a JSON array of pids");
    pids.sort_unstable();
    assert_eq!(pids.len(), 2, "{pids:?}");
    assert!(pids.contains(&pid), "init {pid} listed: {pids:?}");
    assert_eq!(pids, procs, "the pids of the container's cgroup");
}

#[test]
fn ps_table_has_a_pid_header_and_one_line_per_process() {
    let (_g, rt, _t, id, _pid, procs) = two_sleeps();
    let o = exec(&rt, &["ps", &id]);
    assert_eq!(o.code, 0, "{o:?}");
    let mut lines = o.stdout.lines();
    let header = lines.next().expect("a header line");
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .unwrap_or_else(|| panic!("no PID column in {header:?}"));
    let mut listed: Vec<i32> = lines
        .map(|l| {
            l.split_whitespace()
                .nth(col)
                .and_then(|p| p.parse().ok())
                .unwrap_or_else(|| panic!("no pid in line {l:?}"))
        })
        .collect();
    listed.sort_unstable();
    assert_eq!(listed, procs, "{}", o.stdout);
}

// ---------------------------------------------------------------------------
// 8. update
// ---------------------------------------------------------------------------

#[test]
fn update_memory_changes_the_limit() {
    let (_g, rt, _t, id, pid) = paused_probe_with(json!({"memory": {"limit": 64 * MIB}}));
    let o = exec(&rt, &["update", "--memory", &(48 * MIB).to_string(), &id]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(memory_limit(pid), (48 * MIB).to_string());
}

#[test]
fn update_pids_limit_changes_pids_max() {
    let (_g, rt, _t, id, pid) = paused_probe_with(json!({"pids": {"limit": 50}}));
    let o = exec(&rt, &["update", "--pids-limit", "23", &id]);
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(pids_max(pid), "23");
}

#[test]
fn update_resources_from_stdin_changes_the_files() {
    let (_g, rt, _t, id, pid) = paused_probe_with(
        json!({"memory": {"limit": 64 * MIB}, "pids": {"limit": 50}, "cpu": {"shares": 1024}}),
    );
    // What containerd's shim sends: `update --resources - ID`, JSON on stdin.
    let res = json!({"memory": {"limit": 40 * MIB}, "pids": {"limit": 33}, "cpu": {"shares": 256}});
    let o = exec_io(
        rt.cmd(&["update", "--resources", "-", &id]),
        Some(res.to_string().as_bytes()),
        None,
    );
    assert_eq!(o.code, 0, "{o:?}");
    assert_eq!(memory_limit(pid), (40 * MIB).to_string());
    assert_eq!(pids_max(pid), "33");
    if controller_dir(pid, "cpu").1 {
        // 1 + (256 - 2) * 9999 / 262142
        assert_eq!(cg_read(pid, "cpu", "", "cpu.weight"), "10");
    } else {
        assert_eq!(cg_read(pid, "cpu", "cpu.shares", ""), "256");
    }
}

#[test]
fn update_of_a_stopped_container_fails() {
    let (mut b, path) = bundle_in_cgroup(&["/bin/true"]);
    let _g = CgGuard::absolute(&path);
    let rt = Runtime::new();
    b.set("/linux/resources", json!({"pids": {"limit": 50}}));
    let id = unique("upstop");
    let tmp = TempDir::new("out");
    let pid = started(&rt, &b, &id, &tmp.path().join("out"));
    let _ = pid;
    assert!(wait_status(&rt, &id, "stopped"));
    let o = exec(&rt, &["update", "--pids-limit", "23", &id]);
    assert_ne!(o.code, 0, "update of a stopped container succeeded: {o:?}");
    let line = o.stderr.trim().to_lowercase();
    assert!(
        line.contains("not running") || line.contains("stopped"),
        "says why: {o:?}"
    );
    assert_one_line(&o, &[], "update of a stopped container");
    // The cgroup (still there until delete) was not touched.
    for m in resource_mounts() {
        let f = join_mount(&m, &path).join("pids.max");
        if f.exists() {
            assert_eq!(read(&f).trim(), "50", "{}", f.display());
        }
    }
}

// ---------------------------------------------------------------------------
// 9. kill --all without a pid namespace
// ---------------------------------------------------------------------------

#[test]
fn kill_all_without_a_pid_namespace_kills_every_process_in_the_cgroup() {
    let (mut b, path) = bundle_in_cgroup(&["/bin/sh", "-c", "sleep 100 & sleep 100 & wait"]);
    let _g = CgGuard::absolute(&path);
    let rt = Runtime::new();
    let ns: Vec<Value> = b.config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] != "pid")
        .cloned()
        .collect();
    b.set("/linux/namespaces", Value::Array(ns));
    let id = unique("kallnopid");
    let tmp = TempDir::new("out");
    let pid = started(&rt, &b, &id, &tmp.path().join("out"));
    assert_eq!(
        std::fs::read_link(format!("/proc/{pid}/ns/pid")).unwrap(),
        std::fs::read_link("/proc/self/ns/pid").unwrap(),
        "the container shares the host pid namespace"
    );
    let (dir, _) = controller_dir(pid, "pids");
    assert!(
        wait_for(10.0, || procs_in(&dir).len() == 3),
        "sh and two sleeps: {:?}",
        procs_in(&dir)
    );
    let procs = procs_in(&dir);
    let o = exec(&rt, &["kill", "--all", &id, "KILL"]);
    assert_eq!(o.code, 0, "{o:?}");
    assert!(
        wait_for(10.0, || procs.iter().all(|p| !alive(*p))),
        "survivors of kill --all: {:?}",
        procs.iter().filter(|p| alive(**p)).collect::<Vec<_>>()
    );
    assert!(
        wait_for(10.0, || procs_in(&dir).is_empty()),
        "{:?}",
        procs_in(&dir)
    );
    assert!(wait_status(&rt, &id, "stopped"));
}

// ---------------------------------------------------------------------------
// 10. bad input
// ---------------------------------------------------------------------------

/// `create` fails in one line naming `needles`, and leaves no state and no
/// directory for `path` in any hierarchy.
fn assert_create_refused(b: &Bundle, path: &str, needles: &[&str], ctx: &str) {
    let rt = Runtime::new();
    let id = unique("bad");
    let o = exec(&rt, &["create", "--bundle", b.dir(), &id]);
    assert_ne!(o.code, 0, "{ctx}: create succeeded: {o:?}");
    assert_one_line(&o, needles, ctx);
    assert!(rt.ids().is_empty(), "{ctx}: state left: {:?}", rt.ids());
    let o = exec(&rt, &["state", &id]);
    assert_ne!(o.code, 0, "{ctx}: state of the failed container: {o:?}");
    for m in resource_mounts() {
        let d = join_mount(&m, path);
        assert!(!d.exists(), "{ctx}: cgroup {} left behind", d.display());
    }
}

#[test]
fn cpuset_of_a_missing_cpu_fails_create_and_leaves_nothing() {
    let (mut b, path) = bundle_in_cgroup(&["/bin/true"]);
    let _g = CgGuard::absolute(&path);
    b.set("/linux/resources", json!({"cpu": {"cpus": "999"}}));
    assert_create_refused(&b, &path, &["cpuset"], "cpus 999");
}

#[test]
fn hugetlb_page_size_3mb_fails_create_clearly() {
    let (mut b, path) = bundle_in_cgroup(&["/bin/true"]);
    let _g = CgGuard::absolute(&path);
    b.set(
        "/linux/resources",
        json!({"hugepageLimits": [{"pageSize": "3MB", "limit": 4194304}]}),
    );
    let rt = Runtime::new();
    let id = unique("bad");
    let o = exec(&rt, &["create", "--bundle", b.dir(), &id]);
    assert_ne!(o.code, 0, "create succeeded: {o:?}");
    // Clear: it names the config field and the size, not only a file
    // whose write failed (the kernel answers EACCES for a missing
    // hugetlb.3MB.* file, which reads like a permission problem).
    let line = o.stderr.trim().to_lowercase();
    assert!(
        line.contains("3mb")
            && ["hugepagelimits", "page size", "pagesize"]
                .iter()
                .any(|w| line.contains(w)),
        "a clear message names hugepageLimits / the page size and 3MB: {o:?}"
    );
    drop(rt);
    assert_create_refused(&b, &path, &["3MB"], "hugetlb pageSize 3MB");
}

#[test]
fn cgroups_path_with_dotdot_is_refused() {
    let escape = format!("berth-escape-{}", unique("cg"));
    for p in [
        format!("/berth-test/../../{escape}"),
        format!("../{escape}"),
        format!("/{escape}/.."),
    ] {
        let mut b = Bundle::new(&["/bin/true"]);
        b.set("/linux/cgroupsPath", json!(p));
        let _g = CgGuard::absolute(&format!("/{escape}"));
        assert_create_refused(&b, &format!("/{escape}"), &[".."], &p);
        // Nor next to our own cgroup.
        for e in managed(std::process::id() as i32) {
            let d = e.dir.parent().unwrap_or(&e.dir).join(&escape);
            assert!(!d.exists(), "{p}: {} created", d.display());
        }
    }
}
