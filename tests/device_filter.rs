//! The cgroup v2 device filter (eBPF), attached to a real cgroup2
//! directory: on this hybrid host at /sys/fs/cgroup/unified, on a v2 host
//! at /sys/fs/cgroup. A shell moved into the cgroup may open /dev/null but
//! not /dev/full.
mod common;
use common::*;

fn cgroup2_mount() -> std::path::PathBuf {
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let mp = info
        .lines()
        .find(|l| {
            l.split(" - ")
                .nth(1)
                .is_some_and(|p| p.starts_with("cgroup2 "))
        })
        .and_then(|l| l.split(' ').nth(4))
        .expect("this test needs a cgroup2 mount (hybrid or unified host)");
    std::path::PathBuf::from(mp)
}

#[test]
fn bpf_device_filter_allows_listed_devices_only() {
    require_root();
    let dir = cgroup2_mount().join(unique("berth-devtest"));
    std::fs::create_dir(&dir).unwrap();
    let cg = berth::cgroups::Cgroup {
        dirs: vec![berth::cgroups::Dir {
            path: dir.clone(),
            v2: true,
            controllers: vec![],
        }],
    };
    let rules: Vec<oci_spec::runtime::LinuxDeviceCgroup> =
        serde_json::from_value(serde_json::json!([
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}
        ]))
        .unwrap();
    cg.apply_device_filter(&rules)
        .expect("load and attach the device program");
    let script = format!(
        "echo $$ > {}/cgroup.procs; echo x > /dev/null && echo null-ok; cat /dev/full >/dev/null 2>&1 || echo full-denied",
        dir.display()
    );
    let out = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(&script)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let _ = std::fs::remove_dir(&dir);
    assert!(text.contains("null-ok"), "{text}");
    assert!(text.contains("full-denied"), "{text}");
}
