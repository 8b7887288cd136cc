//! Isolation: namespaces (new and joined), the rootfs, mounts (including
//! symlink escapes), masked and read-only paths, devices, sysctls. Each test
//! drives the real binary and checks both what the container sees and, where
//! it matters, that the host is left untouched.
mod common;
use common::*;

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use serde_json::{json, Value};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

// ---------------------------------------------------------------------------
// Helpers local to this file.
// ---------------------------------------------------------------------------

/// `readlink /proc/self/ns/KIND` of the test process (the host's namespace;
/// berth inherits it from us).
fn host_ns(kind: &str) -> String {
    std::fs::read_link(format!("/proc/self/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// The `net:[INODE]`-style link name of a namespace bound at `path`.
fn ns_link_of_file(kind: &str, path: &Path) -> String {
    format!("{kind}:[{}]", std::fs::metadata(path).unwrap().ino())
}

/// Runs `sh -c SCRIPT` in the bundle (foreground) and asserts success.
fn sh(rt: &Runtime, b: &mut Bundle, script: &str) -> String {
    b.args(&["/bin/sh", "-c", script]);
    rt.output_of(b)
}

/// Foreground `run` with extra flags before `--bundle`.
fn run_with(rt: &Runtime, flags: &[&str], b: &Bundle) -> (i32, String, String) {
    let id = unique("c");
    let mut args = vec!["run"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&["--bundle", b.dir(), &id]);
    let out = rt.run(&args);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Replaces linux.namespaces.
fn set_namespaces(b: &mut Bundle, ns: Value) {
    b.set("/linux/namespaces", ns);
}

/// Drops the namespace of type `typ` from linux.namespaces.
fn drop_namespace(b: &mut Bundle, typ: &str) {
    let ns: Vec<Value> = b.config["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["type"] != typ)
        .cloned()
        .collect();
    set_namespaces(b, Value::Array(ns));
}

/// Replaces (or adds) the namespace entry of `entry["type"]`.
fn put_namespace(b: &mut Bundle, entry: Value) {
    let typ = entry["type"].as_str().unwrap().to_string();
    drop_namespace(b, &typ);
    b.push("/linux/namespaces", entry);
}

/// One line of /proc/PID/mountinfo.
#[derive(Debug, Clone)]
struct MountInfo {
    /// The path inside the mounted filesystem that is the mount's root.
    root: String,
    mountpoint: String,
    opts: String,
    optional: Vec<String>,
    fstype: String,
    super_opts: String,
}

impl MountInfo {
    fn has_opt(&self, o: &str) -> bool {
        self.opts.split(',').any(|x| x == o)
    }
    fn has_super_opt(&self, o: &str) -> bool {
        self.super_opts.split(',').any(|x| x == o)
    }
    fn is_shared(&self) -> bool {
        self.optional.iter().any(|o| o.starts_with("shared:"))
    }
    fn is_slave(&self) -> bool {
        self.optional.iter().any(|o| o.starts_with("master:"))
    }
}

fn parse_mountinfo(text: &str) -> Vec<MountInfo> {
    text.lines()
        .filter_map(|line| {
            let (pre, post) = line.split_once(" - ")?;
            let pre: Vec<&str> = pre.split(' ').collect();
            let post: Vec<&str> = post.split(' ').collect();
            Some(MountInfo {
                root: pre.get(3)?.to_string(),
                mountpoint: pre.get(4)?.to_string(),
                opts: pre.get(5)?.to_string(),
                optional: pre[6..].iter().map(|s| s.to_string()).collect(),
                fstype: post.first()?.to_string(),
                super_opts: post.get(2).unwrap_or(&"").to_string(),
            })
        })
        .collect()
}

/// The last (topmost) mount at `mp`.
fn mount_at<'a>(mounts: &'a [MountInfo], mp: &str) -> Option<&'a MountInfo> {
    mounts.iter().rev().find(|m| m.mountpoint == mp)
}

fn host_mountinfo() -> Vec<MountInfo> {
    parse_mountinfo(&std::fs::read_to_string("/proc/self/mountinfo").unwrap())
}

/// Splits the output of a script into the sections printed after `== NAME`
/// marker lines.
fn sections(out: &str) -> std::collections::HashMap<String, String> {
    let mut map = std::collections::HashMap::new();
    let mut cur = String::new();
    for line in out.lines() {
        if let Some(name) = line.strip_prefix("== ") {
            cur = name.to_string();
            map.insert(cur.clone(), String::new());
        } else if let Some(s) = map.get_mut(&cur) {
            s.push_str(line);
            s.push('\n');
        }
    }
    map
}

fn sec<'a>(m: &'a std::collections::HashMap<String, String>, name: &str) -> &'a str {
    m.get(name)
        .unwrap_or_else(|| panic!("no section {name} in {m:?}"))
        .trim()
}

/// A mount we made on the host; lazily unmounted on drop.
struct HostMount(PathBuf);

impl HostMount {
    fn tmpfs(at: &Path) -> HostMount {
        mount(
            Some("tmpfs"),
            at,
            Some("tmpfs"),
            MsFlags::empty(),
            Some("size=1m"),
        )
        .unwrap_or_else(|e| panic!("mount tmpfs on {}: {e}", at.display()));
        HostMount(at.to_path_buf())
    }
}

impl Drop for HostMount {
    fn drop(&mut self) {
        let _ = umount2(&self.0, MntFlags::MNT_DETACH);
    }
}

/// A namespace kept alive by a bind mount on a file (`unshare --KIND=FILE`);
/// unmounted and removed on drop.
struct PersistentNs {
    file: PathBuf,
}

impl PersistentNs {
    /// `unshare --KIND=FILE CMD...`: creates the namespace, runs CMD in it.
    fn new(dir: &Path, kind: &str, cmd: &[&str]) -> PersistentNs {
        let file = dir.join(format!("ns-{kind}"));
        std::fs::write(&file, "").unwrap();
        let ns = PersistentNs { file };
        let st = Command::new("unshare")
            .arg(format!("--{kind}={}", ns.file.display()))
            .args(cmd)
            .status()
            .expect("spawn unshare");
        assert!(st.success(), "unshare --{kind} failed");
        ns
    }
}

impl Drop for PersistentNs {
    fn drop(&mut self) {
        let _ = umount2(&self.file, MntFlags::MNT_DETACH);
        let _ = std::fs::remove_file(&self.file);
    }
}

fn read_trim(p: impl AsRef<Path>) -> String {
    std::fs::read_to_string(p.as_ref())
        .unwrap_or_else(|e| panic!("read {}: {e}", p.as_ref().display()))
        .trim()
        .to_string()
}

/// Creates the container with its stdio going to files (so nothing waits on
/// a pipe the container holds), returning (stdout path, stderr path).
fn create_to_files(rt: &Runtime, b: &Bundle, id: &str, outdir: &Path) -> (PathBuf, PathBuf) {
    let o = outdir.join(format!("{id}.out"));
    let e = outdir.join(format!("{id}.err"));
    let st = rt
        .cmd(&["create", "--bundle", b.dir(), id])
        .stdout(Stdio::from(std::fs::File::create(&o).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&e).unwrap()))
        .status()
        .unwrap();
    assert!(
        st.success(),
        "create failed: {}",
        std::fs::read_to_string(&e).unwrap()
    );
    (o, e)
}

fn wait_stopped(rt: &Runtime, id: &str) {
    assert!(
        wait_for(10.0, || rt.state(id)["status"] == "stopped"),
        "container {id} did not stop"
    );
}

/// A bind mount entry.
fn bind(src: &Path, dest: &str, opts: &[&str]) -> Value {
    json!({"destination": dest, "type": "bind", "source": src, "options": opts})
}

// ---------------------------------------------------------------------------
// 1. Namespaces
// ---------------------------------------------------------------------------

#[test]
fn pid_namespace_is_new_and_init_is_pid_1() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&[]);
    let out = sh(
        &rt,
        &mut b,
        "echo '== ns'; probe readlink /proc/self/ns/pid; echo '== pid'; exec probe pid",
    );
    let s = sections(&out);
    assert_eq!(sec(&s, "pid"), "1");
    assert!(sec(&s, "ns").starts_with("pid:["), "{out}");
    assert_ne!(sec(&s, "ns"), host_ns("pid"));
}

#[test]
fn uts_namespace_is_new_with_hostname_and_domainname() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&[]);
    b.set("/hostname", json!("berth-uts-host"));
    b.set("/domainname", json!("berth.example"));
    let host_name = nix::unistd::gethostname().unwrap();
    let out = sh(
        &rt,
        &mut b,
        "echo '== ns'; probe readlink /proc/self/ns/uts; echo '== h'; probe hostname; \
         echo '== d'; probe domainname",
    );
    let s = sections(&out);
    assert_eq!(sec(&s, "h"), "berth-uts-host");
    assert_eq!(sec(&s, "d"), "berth.example");
    assert_ne!(sec(&s, "ns"), host_ns("uts"));
    assert_eq!(
        nix::unistd::gethostname().unwrap(),
        host_name,
        "host hostname changed"
    );
}

#[test]
fn ipc_namespace_is_new() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["/bin/probe", "readlink", "/proc/self/ns/ipc"]);
    let inside = rt.output_of(&b);
    assert!(inside.starts_with("ipc:["), "{inside}");
    assert_ne!(inside.trim(), host_ns("ipc"));
    // Without the ipc entry the container shares the host's.
    drop_namespace(&mut b, "ipc");
    assert_eq!(rt.output_of(&b).trim(), host_ns("ipc"));
}

#[test]
fn network_namespace_is_new_with_only_loopback() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&[]);
    let out = sh(
        &rt,
        &mut b,
        "echo '== ns'; probe readlink /proc/self/ns/net; echo '== sys'; probe ls /sys/class/net; \
         echo '== dev'; probe cat /proc/net/dev",
    );
    let s = sections(&out);
    assert_ne!(sec(&s, "ns"), host_ns("net"));
    assert_eq!(sec(&s, "sys"), "lo");
    let ifaces: Vec<&str> = sec(&s, "dev")
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    assert_eq!(ifaces, ["lo"], "{out}");
}

#[test]
fn mount_namespace_is_new_and_hides_container_mounts_from_host() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["/bin/probe", "readlink", "/proc/self/ns/mnt"]);
    let rootfs = b.private_rootfs();
    let id = unique("mnt");
    let (out, _) = create_to_files(&rt, &b, &id, b.dir.path());
    // The container's mounts exist now (create did them) but not on the host.
    let rootfs = rootfs.to_string_lossy().into_owned();
    let leaked: Vec<_> = host_mountinfo()
        .into_iter()
        .filter(|m| m.mountpoint.starts_with(&rootfs))
        .collect();
    assert!(
        leaked.is_empty(),
        "container mounts visible on the host: {leaked:?}"
    );
    rt.ok(&["start", &id]);
    wait_stopped(&rt, &id);
    let inside = read_trim(&out);
    assert!(inside.starts_with("mnt:["), "{inside}");
    assert_ne!(inside, host_ns("mnt"));
    rt.ok(&["delete", &id]);
}

#[test]
fn cgroup_namespace_is_new_and_shows_root_paths() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&[]);
    let out = sh(
        &rt,
        &mut b,
        "echo '== ns'; probe readlink /proc/self/ns/cgroup; echo '== cg'; probe cat /proc/self/cgroup",
    );
    let s = sections(&out);
    assert_ne!(sec(&s, "ns"), host_ns("cgroup"));
    let cg = sec(&s, "cg");
    assert!(!cg.is_empty());
    for line in cg.lines() {
        let path = line.splitn(3, ':').nth(2).unwrap();
        assert_eq!(path, "/", "cgroup path not / in a cgroup namespace: {cg}");
    }
}

#[test]
fn user_namespace_maps_container_root_to_host_100000() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&[]);
    let rootfs = b.private_rootfs();
    let st = Command::new("chown")
        .args(["-hR", "100000:100000"])
        .arg(&rootfs)
        .status()
        .unwrap();
    assert!(st.success());
    put_namespace(&mut b, json!({"type": "user"}));
    b.set(
        "/linux/uidMappings",
        json!([{"containerID": 0, "hostID": 100000, "size": 65536}]),
    );
    b.set(
        "/linux/gidMappings",
        json!([{"containerID": 0, "hostID": 100000, "size": 65536}]),
    );
    let out = sh(
        &rt,
        &mut b,
        "echo '== ns'; probe readlink /proc/self/ns/user; echo '== uid'; probe cat /proc/self/uid_map; \
         echo '== gid'; probe cat /proc/self/gid_map; echo '== id'; probe id; \
         echo '== w'; probe write /tmp/owned x",
    );
    let s = sections(&out);
    let norm = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
    assert_eq!(norm(sec(&s, "uid")), "0 100000 65536");
    assert_eq!(norm(sec(&s, "gid")), "0 100000 65536");
    assert_eq!(sec(&s, "id"), "uid=0 gid=0 groups=");
    assert_ne!(sec(&s, "ns"), host_ns("user"));
    // What the container's root wrote belongs to 100000 on the host.
    let meta = std::fs::metadata(rootfs.join("tmp/owned")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (100000, 100000));
}

fn host_uptime() -> f64 {
    read_trim("/proc/uptime")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[test]
fn time_namespace_applies_offsets() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&[]);
    put_namespace(&mut b, json!({"type": "time"}));
    b.set(
        "/linux/timeOffsets",
        json!({"monotonic": {"secs": 86400, "nanosecs": 0}, "boottime": {"secs": 86400, "nanosecs": 0}}),
    );
    let before = host_uptime();
    let out = sh(
        &rt,
        &mut b,
        "echo '== ns'; probe readlink /proc/self/ns/time; echo '== off'; probe cat /proc/self/timens_offsets; \
         echo '== up'; probe cat /proc/uptime",
    );
    let after = host_uptime();
    let s = sections(&out);
    assert_ne!(sec(&s, "ns"), host_ns("time"));
    let offs: Vec<String> = sec(&s, "off")
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert!(offs.contains(&"monotonic 86400 0".to_string()), "{offs:?}");
    assert!(offs.contains(&"boottime 86400 0".to_string()), "{offs:?}");
    // /proc/uptime reads CLOCK_BOOTTIME, shifted by the offset.
    let inside: f64 = sec(&s, "up").split(' ').next().unwrap().parse().unwrap();
    assert!(
        inside >= before + 86400.0 - 1.0 && inside <= after + 86400.0 + 1.0,
        "uptime inside {inside}, host {before}..{after}"
    );
}

// ---------------------------------------------------------------------------
// 2. Joining namespaces by path
// ---------------------------------------------------------------------------

#[test]
fn joins_network_namespace_by_path() {
    let rt = Runtime::new();
    let tmp = TempDir::new("netns");
    let ns = PersistentNs::new(tmp.path(), "net", &["true"]);
    let want = ns_link_of_file("net", &ns.file);
    assert_ne!(want, host_ns("net"));
    let mut b = Bundle::new(&["/bin/probe", "readlink", "/proc/self/ns/net"]);
    put_namespace(&mut b, json!({"type": "network", "path": ns.file}));
    assert_eq!(rt.output_of(&b).trim(), want);
}

#[test]
fn joins_uts_namespace_by_path() {
    let rt = Runtime::new();
    let tmp = TempDir::new("utsns");
    let name = format!("joined-{}", std::process::id());
    let ns = PersistentNs::new(tmp.path(), "uts", &["hostname", &name]);
    let want = ns_link_of_file("uts", &ns.file);
    assert_ne!(want, host_ns("uts"));
    let mut b = Bundle::new(&[]);
    b.set("/hostname", Value::Null);
    put_namespace(&mut b, json!({"type": "uts", "path": ns.file}));
    let out = sh(
        &rt,
        &mut b,
        "echo '== ns'; probe readlink /proc/self/ns/uts; echo '== h'; probe hostname",
    );
    let s = sections(&out);
    assert_eq!(sec(&s, "ns"), want);
    assert_eq!(sec(&s, "h"), name);
}

#[test]
fn hostname_is_set_in_joined_uts_namespace() {
    // runc accepts `hostname` with a uts namespace given by path (its check
    // is only that a uts namespace is listed) and sets it in that namespace.
    let rt = Runtime::new();
    let tmp = TempDir::new("utsns");
    let ns = PersistentNs::new(tmp.path(), "uts", &["hostname", "before-join"]);
    let mut b = Bundle::new(&["/bin/probe", "hostname"]);
    b.set("/hostname", json!("set-by-config"));
    put_namespace(&mut b, json!({"type": "uts", "path": ns.file}));
    let host_name = nix::unistd::gethostname().unwrap();
    assert_eq!(rt.output_of(&b).trim(), "set-by-config");
    let st = Command::new("nsenter")
        .arg(format!("--uts={}", ns.file.display()))
        .arg("hostname")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&st.stdout).trim(), "set-by-config");
    assert_eq!(
        nix::unistd::gethostname().unwrap(),
        host_name,
        "host hostname changed"
    );
}

// ---------------------------------------------------------------------------
// 3. Rootfs
// ---------------------------------------------------------------------------

#[test]
fn readonly_rootfs_refuses_writes_with_erofs() {
    let rt = Runtime::new();
    let b = Bundle::new(&["/bin/probe", "write", "/x", "y"]);
    assert_eq!(b.config["root"]["readonly"], true);
    let (code, _, err) = rt.run_bundle(&b, &unique("ro"));
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("EROFS"), "{err}");
    assert!(!fixture_rootfs().join("x").exists());
}

#[test]
fn writable_private_rootfs_allows_writes() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["/bin/probe", "write", "/x", "y"]);
    let rootfs = b.private_rootfs();
    assert_eq!(rt.output_of(&b).trim(), "ok");
    assert_eq!(std::fs::read_to_string(rootfs.join("x")).unwrap(), "y");
}

#[test]
fn no_pivot_runs_with_rootfs_as_root() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&[]);
    let rootfs = b.private_rootfs();
    let marker = unique("marker");
    std::fs::write(rootfs.join("berth-marker"), &marker).unwrap();
    b.args(&[
        "/bin/sh",
        "-c",
        "echo '== cat'; probe cat /berth-marker; echo; echo '== ls'; probe ls /; echo '== mounts'; probe mounts",
    ]);
    let (code, out, err) = run_with(&rt, &["--no-pivot"], &b);
    assert_eq!(code, 0, "stdout={out} stderr={err}");
    let s = sections(&out);
    assert_eq!(sec(&s, "cat"), marker);
    let ls: Vec<&str> = sec(&s, "ls").lines().collect();
    for want in ["berth-marker", "bin", "etc", "proc"] {
        assert!(ls.contains(&want), "{ls:?}");
    }
    assert!(
        sec(&s, "mounts").lines().any(|l| l.starts_with("/ ")),
        "no / mount: {out}"
    );
}

/// The container's `/` mount for a rootfsPropagation value.
/// Also checks that the host's own `/` keeps its propagation.
fn root_mount_with_propagation(prop: &str) -> MountInfo {
    let host_root = |m: Vec<MountInfo>| mount_at(&m, "/").map(|m| m.optional.clone());
    let host_before = host_root(host_mountinfo());
    let rt = Runtime::new();
    let mut b = Bundle::new(&["/bin/probe", "cat", "/proc/self/mountinfo"]);
    b.set("/linux/rootfsPropagation", json!(prop));
    let out = rt.output_of(&b);
    assert_eq!(
        host_root(host_mountinfo()),
        host_before,
        "host / propagation changed"
    );
    let mounts = parse_mountinfo(&out);
    let root = mount_at(&mounts, "/")
        .cloned()
        .unwrap_or_else(|| panic!("no / mount: {out}"));
    // The container's `/` is the configured rootfs.
    let rootfs = fixture_rootfs().canonicalize().unwrap();
    let rel = root.root.trim_start_matches('/');
    assert!(
        !rel.is_empty() && rootfs.ends_with(rel),
        "root mount {root:?} is not {}",
        rootfs.display()
    );
    root
}

#[test]
fn rootfs_propagation_private_is_accepted() {
    let root = root_mount_with_propagation("private");
    assert!(!root.is_shared() && !root.is_slave(), "{root:?}");
}

#[test]
fn rootfs_propagation_slave_is_accepted() {
    let root = root_mount_with_propagation("slave");
    assert!(!root.is_shared(), "{root:?}");
}

#[test]
fn rootfs_propagation_shared_is_accepted() {
    // runc 1.1 leaves the pivoted root private here too (its parent mount is
    // made private so pivot_root accepts it); what matters is that create
    // succeeds and the host is untouched.
    let root = root_mount_with_propagation("shared");
    assert!(root.has_opt("ro"), "root.readonly still applies: {root:?}");
}

// ---------------------------------------------------------------------------
// 4. Mounts
// ---------------------------------------------------------------------------

#[test]
fn bind_mount_shows_host_dir_contents() {
    let rt = Runtime::new();
    let host = TempDir::new("bindsrc");
    std::fs::write(host.path().join("file"), "from-host").unwrap();
    let mut b = Bundle::new(&["/bin/probe", "cat", "/mnt/data/file"]);
    b.private_rootfs();
    b.push("/mounts", bind(host.path(), "/mnt/data", &["bind"]));
    assert_eq!(rt.output_of(&b), "from-host");
}

#[test]
fn rbind_mount_includes_submounts_and_bind_does_not() {
    let rt = Runtime::new();
    let host = TempDir::new("rbindsrc");
    let sub = host.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let _m = HostMount::tmpfs(&sub);
    std::fs::write(sub.join("file"), "submount").unwrap();
    let mut b = Bundle::new(&[]);
    b.private_rootfs();
    b.push("/mounts", bind(host.path(), "/rbind", &["rbind"]));
    b.push("/mounts", bind(host.path(), "/plain", &["bind"]));
    let out = sh(
        &rt,
        &mut b,
        "echo '== r'; probe cat /rbind/sub/file; echo; echo '== p'; probe ls /plain/sub",
    );
    let s = sections(&out);
    assert_eq!(sec(&s, "r"), "submount");
    assert_eq!(sec(&s, "p"), "", "plain bind must not carry the submount");
}

#[test]
fn bind_mount_ro_refuses_writes_with_erofs() {
    let rt = Runtime::new();
    let host = TempDir::new("rosrc");
    let mut b = Bundle::new(&["/bin/probe", "write", "/mnt/ro/new", "x"]);
    b.private_rootfs();
    b.push("/mounts", bind(host.path(), "/mnt/ro", &["bind", "ro"]));
    let (code, out, err) = rt.run_bundle(&b, &unique("bro"));
    assert_eq!(code, 1, "stdout={out} stderr={err}");
    assert!(err.contains("EROFS"), "{err}");
    assert!(!host.path().join("new").exists());
}

#[test]
fn bind_mount_nosuid_nodev_noexec_are_applied() {
    let rt = Runtime::new();
    let host = TempDir::new("flagsrc");
    let mut b = Bundle::new(&["/bin/probe", "mounts"]);
    b.private_rootfs();
    b.push(
        "/mounts",
        bind(
            host.path(),
            "/mnt/flags",
            &["rbind", "nosuid", "nodev", "noexec"],
        ),
    );
    let out = rt.output_of(&b);
    let line = out
        .lines()
        .rev()
        .find(|l| l.starts_with("/mnt/flags "))
        .unwrap_or_else(|| panic!("no /mnt/flags mount: {out}"));
    let opts: Vec<&str> = line.split(' ').nth(2).unwrap().split(',').collect();
    for o in ["nosuid", "nodev", "noexec"] {
        assert!(opts.contains(&o), "{o} missing in {line}");
    }
}

#[test]
fn bind_mount_of_single_file() {
    let rt = Runtime::new();
    let host = TempDir::new("filesrc");
    let f = host.path().join("single");
    std::fs::write(&f, "just-a-file").unwrap();
    let mut b = Bundle::new(&[]);
    let rootfs = b.private_rootfs();
    b.push("/mounts", bind(&f, "/etc/berth-single", &["bind"]));
    let out = sh(
        &rt,
        &mut b,
        "echo '== st'; probe stat /etc/berth-single; echo '== cat'; probe cat /etc/berth-single",
    );
    let s = sections(&out);
    assert!(sec(&s, "st").contains("type=file"), "{out}");
    assert_eq!(sec(&s, "cat"), "just-a-file");
    assert!(
        rootfs.join("etc/berth-single").is_file(),
        "mount point is a file in the rootfs"
    );
}

#[test]
fn tmpfs_mount_with_size_and_mode() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&[]);
    b.private_rootfs();
    b.push(
        "/mounts",
        json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
               "options": ["nosuid", "nodev", "mode=0711", "size=2m"]}),
    );
    let out = sh(
        &rt,
        &mut b,
        "echo '== st'; probe stat /scratch; echo '== mi'; probe cat /proc/self/mountinfo",
    );
    let s = sections(&out);
    assert!(
        sec(&s, "st").starts_with("mode=0711 uid=0 gid=0 type=dir"),
        "{out}"
    );
    let mounts = parse_mountinfo(sec(&s, "mi"));
    let m = mount_at(&mounts, "/scratch").unwrap_or_else(|| panic!("no /scratch: {out}"));
    assert_eq!(m.fstype, "tmpfs");
    assert!(m.has_super_opt("size=2048k"), "{m:?}");
    assert!(m.has_super_opt("mode=711"), "{m:?}");
    assert!(m.has_opt("nosuid") && m.has_opt("nodev"), "{m:?}");
}

#[test]
fn proc_sysfs_devpts_mqueue_shm_and_cgroup_are_mounted() {
    let rt = Runtime::new();
    let b = Bundle::new(&["/bin/probe", "cat", "/proc/self/mountinfo"]);
    let out = rt.output_of(&b);
    let mounts = parse_mountinfo(&out);
    for (mp, fstype) in [
        ("/proc", "proc"),
        ("/dev", "tmpfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
        ("/dev/mqueue", "mqueue"),
        ("/sys", "sysfs"),
    ] {
        let m = mount_at(&mounts, mp).unwrap_or_else(|| panic!("no {mp}: {out}"));
        assert_eq!(m.fstype, fstype, "{mp}: {m:?}");
    }
    assert!(mount_at(&mounts, "/sys").unwrap().has_opt("ro"));
    // The cgroup mount: cgroup2 itself on a unified host, a tmpfs holding
    // one mount per hierarchy on v1/hybrid hosts; read-only as configured.
    let cg =
        mount_at(&mounts, "/sys/fs/cgroup").unwrap_or_else(|| panic!("no /sys/fs/cgroup: {out}"));
    assert!(cg.has_opt("ro"), "{cg:?}");
    if cg.fstype != "cgroup2" {
        assert_eq!(cg.fstype, "tmpfs");
        let subs: Vec<_> = mounts
            .iter()
            .filter(|m| m.mountpoint.starts_with("/sys/fs/cgroup/"))
            .collect();
        assert!(
            subs.iter().any(|m| m.fstype == "cgroup"),
            "no cgroup hierarchy: {out}"
        );
        assert!(subs.iter().all(|m| m.has_opt("ro")), "{subs:?}");
    }
}

/// A shared tmpfs on the host, bind-mounted into a container with
/// `propagation`; after create, the host mounts a tmpfs below it. Returns
/// what `ls /mnt/prop/sub` printed inside once started.
fn propagation_seen_inside(propagation: &str) -> String {
    let rt = Runtime::new();
    let host = TempDir::new("propsrc");
    let _shared = HostMount::tmpfs(host.path());
    mount(
        None::<&str>,
        host.path(),
        None::<&str>,
        MsFlags::MS_SHARED,
        None::<&str>,
    )
    .unwrap();
    std::fs::create_dir(host.path().join("sub")).unwrap();
    let mut b = Bundle::new(&["/bin/probe", "ls", "/mnt/prop/sub"]);
    b.private_rootfs();
    b.push(
        "/mounts",
        bind(host.path(), "/mnt/prop", &["rbind", propagation]),
    );
    let id = unique("prop");
    let (out, err) = create_to_files(&rt, &b, &id, b.dir.path());
    let sub = HostMount::tmpfs(&host.path().join("sub"));
    std::fs::write(sub.0.join("late"), "x").unwrap();
    rt.ok(&["start", &id]);
    wait_stopped(&rt, &id);
    rt.ok(&["delete", &id]);
    assert_eq!(std::fs::read_to_string(&err).unwrap(), "");
    std::fs::read_to_string(&out).unwrap()
}

#[test]
fn bind_mount_rslave_receives_later_host_mounts() {
    assert_eq!(propagation_seen_inside("rslave").trim(), "late");
}

#[test]
fn bind_mount_rprivate_does_not_receive_later_host_mounts() {
    assert_eq!(propagation_seen_inside("rprivate").trim(), "");
}

#[test]
fn missing_mount_destination_is_created_in_rootfs() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["/bin/probe", "mounts"]);
    let rootfs = b.private_rootfs();
    assert!(!rootfs.join("new").exists());
    b.push(
        "/mounts",
        json!({"destination": "/new/deep/dir", "type": "tmpfs", "source": "tmpfs"}),
    );
    let out = rt.output_of(&b);
    assert!(
        out.lines().any(|l| l.starts_with("/new/deep/dir tmpfs ")),
        "{out}"
    );
    assert!(rootfs.join("new/deep/dir").is_dir());
}

// ---------------------------------------------------------------------------
// 5. Symlink escape
// ---------------------------------------------------------------------------

/// A private rootfs with `/LINK -> TARGET` and a tmpfs mounted at
/// `/LINK/sub`. `target` is built from the host dir H. The mount must land at
/// ROOTFS/H/sub, never at the host's H/sub. With `precreate`, ROOTFS/H exists
/// in the image already; without, the runtime must create it inside the
/// rootfs (as runc's securejoin.MkdirAllInRoot does).
fn symlink_escape(link: &str, target: impl Fn(&Path) -> String, precreate: bool) {
    let rt = Runtime::new();
    let host = TempDir::new("escape");
    let h = host.path().to_string_lossy().into_owned();
    let mut b = Bundle::new(&[]);
    let rootfs = b.private_rootfs();
    let in_root = rootfs.join(h.trim_start_matches('/'));
    if precreate {
        std::fs::create_dir_all(&in_root).unwrap();
    }
    std::os::unix::fs::symlink(target(host.path()), rootfs.join(link)).unwrap();
    b.push(
        "/mounts",
        json!({"destination": format!("/{link}/sub"), "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}),
    );
    let script = format!(
        "echo '== mounts'; probe mounts; echo '== w'; probe write /{link}/sub/pwned x; \
         echo; echo '== ls'; probe ls {h}/sub"
    );
    b.args(&["/bin/sh", "-c", &script]);
    let (code, out, err) = rt.run_bundle(&b, &unique("esc"));
    // The host side first: whatever berth did, nothing may reach H.
    let host_entries: Vec<_> = std::fs::read_dir(host.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        host_entries.is_empty(),
        "host dir {h} was written to: {host_entries:?}"
    );
    let on_host: Vec<_> = host_mountinfo()
        .into_iter()
        .filter(|m| m.mountpoint.starts_with(&h))
        .collect();
    assert!(on_host.is_empty(), "mount on the host dir: {on_host:?}");
    // Then the container: the mount is at the in-root path H/sub.
    assert_eq!(code, 0, "stdout={out} stderr={err}");
    let s = sections(&out);
    assert!(
        sec(&s, "mounts")
            .lines()
            .any(|l| l.starts_with(&format!("{h}/sub tmpfs "))),
        "mount not at the resolved in-root path {h}/sub: {out}"
    );
    assert_eq!(sec(&s, "w"), "ok");
    assert_eq!(sec(&s, "ls"), "pwned");
    // The mount point was created inside the rootfs; the file went into the
    // tmpfs, which is gone.
    let sub = in_root.join("sub");
    assert!(sub.is_dir(), "{} missing", sub.display());
    assert!(!sub.join("pwned").exists());
}

fn absolute_target(h: &Path) -> String {
    h.to_string_lossy().into_owned()
}

fn dotdot_target(h: &Path) -> String {
    format!(
        "{}{}",
        "../".repeat(12),
        h.to_string_lossy().trim_start_matches('/')
    )
}

#[test]
fn mount_through_absolute_symlink_stays_in_rootfs() {
    symlink_escape("evil", absolute_target, true);
}

#[test]
fn mount_through_dotdot_symlink_stays_in_rootfs() {
    symlink_escape("evil2", dotdot_target, true);
}

#[test]
fn mount_through_absolute_symlink_creates_missing_target_in_rootfs() {
    symlink_escape("evil", absolute_target, false);
}

#[test]
fn mount_through_dotdot_symlink_creates_missing_target_in_rootfs() {
    symlink_escape("evil2", dotdot_target, false);
}

// ---------------------------------------------------------------------------
// 6. maskedPaths and readonlyPaths
// ---------------------------------------------------------------------------

#[test]
fn masked_file_reads_empty() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&[]);
    let rootfs = b.private_rootfs();
    std::fs::write(rootfs.join("etc/secret"), "top-secret").unwrap();
    b.push("/linux/maskedPaths", json!("/etc/secret"));
    let out = sh(
        &rt,
        &mut b,
        "echo '== secret'; probe cat /etc/secret; echo '== timer'; probe cat /proc/timer_list; \
         echo '== st'; probe stat /proc/timer_list",
    );
    let s = sections(&out);
    assert_eq!(sec(&s, "secret"), "");
    // /proc/timer_list is in the default maskedPaths (this kernel has no
    // /proc/kcore); unmasked it is never empty.
    assert!(!read_trim("/proc/timer_list").is_empty());
    assert_eq!(sec(&s, "timer"), "");
    assert!(sec(&s, "st").ends_with("type=char rdev=1:3"), "{out}");
    assert_eq!(
        std::fs::read_to_string(rootfs.join("etc/secret")).unwrap(),
        "top-secret"
    );
}

#[test]
fn masked_dir_is_empty_and_read_only() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&[]);
    let rootfs = b.private_rootfs();
    std::fs::create_dir(rootfs.join("secretdir")).unwrap();
    std::fs::write(rootfs.join("secretdir/file"), "x").unwrap();
    b.push("/linux/maskedPaths", json!("/secretdir"));
    let out = sh(
        &rt,
        &mut b,
        "echo '== ls'; probe ls /secretdir; echo '== w'; probe write /secretdir/new x 2>&1; true",
    );
    let s = sections(&out);
    assert_eq!(sec(&s, "ls"), "");
    assert!(sec(&s, "w").contains("EROFS"), "{out}");
    assert!(rootfs.join("secretdir/file").exists());
}

#[test]
fn readonly_paths_refuse_writes_with_erofs() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&[]);
    let rootfs = b.private_rootfs();
    std::fs::create_dir(rootfs.join("rodir")).unwrap();
    b.push("/linux/readonlyPaths", json!("/rodir"));
    let out = sh(
        &rt,
        &mut b,
        "echo '== ro'; probe write /rodir/f x 2>&1; echo; echo '== sys'; probe write /proc/sys/kernel/domainname x 2>&1; \
         echo; echo '== rw'; probe write /tmp/f x",
    );
    let s = sections(&out);
    assert!(sec(&s, "ro").contains("EROFS"), "{out}");
    assert!(sec(&s, "sys").contains("EROFS"), "{out}");
    assert_eq!(sec(&s, "rw"), "ok");
    assert!(!rootfs.join("rodir/f").exists());
}

#[test]
fn missing_masked_and_readonly_paths_are_ignored() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["/bin/probe", "echo", "ran"]);
    let rootfs = b.private_rootfs();
    b.push("/linux/maskedPaths", json!("/does/not/exist"));
    b.push("/linux/readonlyPaths", json!("/nor/this"));
    assert_eq!(rt.output_of(&b), "ran\n");
    assert!(!rootfs.join("does").exists() && !rootfs.join("nor").exists());
}

// ---------------------------------------------------------------------------
// 7. Devices
// ---------------------------------------------------------------------------

#[test]
fn default_devices_are_char_devices_with_mode_0666() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&[]);
    let devs = [
        ("null", "1:3"),
        ("zero", "1:5"),
        ("full", "1:7"),
        ("random", "1:8"),
        ("urandom", "1:9"),
        ("tty", "5:0"),
    ];
    let script: String = devs
        .iter()
        .map(|(d, _)| format!("echo '== {d}'; probe stat /dev/{d}; "))
        .collect();
    let out = sh(&rt, &mut b, &script);
    let s = sections(&out);
    for (d, rdev) in devs {
        assert_eq!(
            sec(&s, d),
            format!("mode=0666 uid=0 gid=0 type=char rdev={rdev}"),
            "/dev/{d}"
        );
    }
}

#[test]
fn dev_symlinks_exist() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&[]);
    let links = [
        ("ptmx", "pts/ptmx"),
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ];
    let script: String = links
        .iter()
        .map(|(l, _)| format!("echo '== {l}'; probe readlink /dev/{l}; "))
        .collect();
    let out = sh(&rt, &mut b, &script);
    let s = sections(&out);
    for (l, target) in links {
        assert_eq!(sec(&s, l), target, "/dev/{l}");
    }
}

#[test]
fn linux_devices_entry_is_created_with_mode_and_owner() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["/bin/probe", "stat", "/dev/mydev"]);
    b.set(
        "/linux/devices",
        json!([{"path": "/dev/mydev", "type": "c", "major": 1, "minor": 3,
                "fileMode": 0o600, "uid": 1, "gid": 2}]),
    );
    assert_eq!(
        rt.output_of(&b).trim(),
        "mode=0600 uid=1 gid=2 type=char rdev=1:3"
    );
}

// ---------------------------------------------------------------------------
// 8. sysctl
// ---------------------------------------------------------------------------

#[test]
fn sysctl_ip_forward_is_set_in_container_netns_only() {
    let rt = Runtime::new();
    let host_path = "/proc/sys/net/ipv4/ip_forward";
    let host_before = read_trim(host_path);
    let want = if host_before == "1" { "0" } else { "1" };
    let mut b = Bundle::new(&["/bin/probe", "sysctl", "net.ipv4.ip_forward"]);
    b.set("/linux/sysctl", json!({"net.ipv4.ip_forward": want}));
    assert_eq!(rt.output_of(&b).trim(), want);
    assert_eq!(read_trim(host_path), host_before, "host ip_forward changed");
}

#[test]
fn sysctl_kernel_shmmax_is_set_in_container_ipcns_only() {
    let rt = Runtime::new();
    let host_path = "/proc/sys/kernel/shmmax";
    let host_before = read_trim(host_path);
    let mut b = Bundle::new(&["/bin/probe", "sysctl", "kernel.shmmax"]);
    b.set("/linux/sysctl", json!({"kernel.shmmax": "123456789"}));
    assert_eq!(rt.output_of(&b).trim(), "123456789");
    assert_eq!(read_trim(host_path), host_before, "host shmmax changed");
}

#[test]
fn sysctl_not_namespaced_is_refused_at_create() {
    let rt = Runtime::new();
    let host_before = read_trim("/proc/sys/vm/swappiness");
    let other = if host_before == "7" { "8" } else { "7" };
    let mut b = Bundle::new(&["/bin/true"]);
    b.set("/linux/sysctl", json!({"vm.swappiness": other}));
    let id = unique("swap");
    let err = rt.fails(&["create", "--bundle", b.dir(), &id]);
    assert!(err.contains("vm.swappiness"), "{err}");
    assert!(
        err.contains("not namespaced") || err.contains("not allowed"),
        "{err}"
    );
    assert!(rt.ids().is_empty(), "state left behind: {:?}", rt.ids());
    rt.fails(&["state", &id]);
    assert_eq!(read_trim("/proc/sys/vm/swappiness"), host_before);
}

// ---------------------------------------------------------------------------
// 9. hostname needs a UTS namespace
// ---------------------------------------------------------------------------

#[test]
fn hostname_without_uts_namespace_is_refused_at_create() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["/bin/true"]);
    drop_namespace(&mut b, "uts");
    b.set("/hostname", json!("no-uts"));
    let id = unique("nouts");
    let err = rt.fails(&["create", "--bundle", b.dir(), &id]);
    assert!(
        err.contains("hostname") && err.contains("UTS namespace"),
        "{err}"
    );
    assert!(rt.ids().is_empty(), "state left behind: {:?}", rt.ids());
}

#[test]
fn domainname_without_uts_namespace_is_refused_at_create() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["/bin/true"]);
    drop_namespace(&mut b, "uts");
    b.set("/hostname", Value::Null);
    b.set("/domainname", json!("no-uts.example"));
    let id = unique("nouts");
    let err = rt.fails(&["create", "--bundle", b.dir(), &id]);
    assert!(
        err.contains("domainname") && err.contains("UTS namespace"),
        "{err}"
    );
    assert!(rt.ids().is_empty(), "state left behind: {:?}", rt.ids());
}
