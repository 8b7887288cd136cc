use super::*;

const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\n\
# comment\n\
daemon:x:1:1::/usr/sbin:/usr/sbin/nologin\n\
app:x:1000:1000:App:/home/app:/bin/sh\n";
const GROUP: &str = "root:x:0:\nwheel:x:10:app,other\nstaff:x:50:app\napp:x:1000:\n";

fn user(s: &str) -> Result<User> {
    resolve_user(s, PASSWD, GROUP)
}

#[test]
fn resolves_users_like_runc() {
    let root = user("").unwrap();
    assert_eq!(
        (root.uid, root.gid, root.home.as_deref()),
        (0, 0, Some("/root"))
    );
    let app = user("app").unwrap();
    assert_eq!((app.uid, app.gid), (1000, 1000));
    assert_eq!(app.additional_gids, vec![10, 50]);
    assert_eq!(user("1000").unwrap(), app);
    let ug = user("app:staff").unwrap();
    assert_eq!((ug.uid, ug.gid, ug.additional_gids.len()), (1000, 50, 0));
    assert_eq!((user("1:7").unwrap().uid, user("1:7").unwrap().gid), (1, 7));
    // A numeric uid need not exist; its group is then 0.
    let n = user("4242").unwrap();
    assert_eq!((n.uid, n.gid, n.home), (4242, 0, None));
    assert!(matches!(user("nobody"), Err(SpecError::UnknownUser(_))));
    assert!(matches!(
        user("app:nogroup"),
        Err(SpecError::UnknownGroup(_))
    ));
    // No passwd at all: root still works.
    assert_eq!(resolve_user("", "", "").unwrap().uid, 0);
}

fn config(v: serde_json::Value) -> ImageConfig {
    serde_json::from_value(v).unwrap()
}

#[test]
fn builds_args_env_cwd_and_annotations() {
    let cfg = config(json!({
        "architecture": "amd64", "os": "linux",
        "config": {
            "Entrypoint": ["/bin/ep"], "Cmd": ["-x"], "Env": ["FOO=1"],
            "WorkingDir": "srv", "User": "app",
            "Labels": {"a": "b", "org.opencontainers.image.stopSignal": "label"},
            "ExposedPorts": {"80/tcp": {}, "53/udp": {}}, "Volumes": {"/data": {}},
            "StopSignal": "SIGQUIT"
        },
        "rootfs": {"type": "layers", "diff_ids": []}
    }));
    let u = user("app").unwrap();
    let opts = BundleOpts::default();
    let spec = image_spec(&cfg, &u, "x:latest", Path::new("/b/rootfs"), &opts).unwrap();
    let v = serde_json::to_value(&spec).unwrap();
    assert_eq!(v["process"]["args"], json!(["/bin/ep", "-x"]));
    assert_eq!(
        v["process"]["env"],
        json!([DEFAULT_PATH, "FOO=1", "HOME=/home/app"])
    );
    assert_eq!(v["process"]["cwd"], json!("/srv"));
    assert_eq!(v["process"]["user"]["uid"], json!(1000));
    assert_eq!(v["process"]["user"]["additionalGids"], json!([10, 50]));
    assert_eq!(v["root"], json!({"path": "/b/rootfs", "readonly": false}));
    let a = &v["annotations"];
    assert_eq!(a["a"], json!("b"));
    assert_eq!(a[STOP_SIGNAL], json!("SIGQUIT"));
    assert_eq!(a[EXPOSED_PORTS], json!("53/udp,80/tcp"));
    assert_eq!(a[VOLUMES], json!("/data"));
    assert_eq!(a[IMAGE_NAME], json!("x:latest"));

    let over = BundleOpts {
        args: vec!["sh".into()],
        terminal: true,
    };
    let spec = image_spec(&cfg, &u, "x", Path::new("/r"), &over).unwrap();
    let v = serde_json::to_value(&spec).unwrap();
    assert_eq!(v["process"]["args"], json!(["/bin/ep", "sh"]));
    assert_eq!(v["process"]["terminal"], json!(true));
    assert!(v["process"]["env"]
        .as_array()
        .unwrap()
        .contains(&json!("TERM=xterm")));
}

#[test]
fn keeps_path_and_needs_a_command() {
    let cfg = config(json!({"config": {"Env": ["PATH=/x"]}, "rootfs": {"diff_ids": []}}));
    let u = user("").unwrap();
    assert_eq!(process_env(&cfg, &u, false), vec!["PATH=/x", "HOME=/root"]);
    let err = process_args(&cfg, &[], "img").unwrap_err();
    assert!(err.to_string().contains("no Entrypoint or Cmd"), "{err}");
}
