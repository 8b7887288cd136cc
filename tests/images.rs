//! Image store and import: the fixture images in all three formats, and
//! small layouts built here (multi-layer with whiteouts, zstd, multi-platform,
//! corrupt and incomplete ones). The library tests drive
//! `berth::image::...`; the CLI tests drive `berth image ...` with
//! --image-root pointing at a temp store.

mod common;

use berth::image::import::{import, ImportOpts};
use berth::image::store::Store;
use common::TempDir;
use serde_json::{json, Value};
use sha2::Digest as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn fixtures() -> PathBuf {
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("rootfs-fixtures/out");
    if !out.join("busybox-docker.tar").exists() || !out.join("image-oci/index.json").exists() {
        let st = Command::new(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("rootfs-fixtures/build-image.sh"),
        )
        .stdout(Stdio::null())
        .status()
        .expect("run build-image.sh");
        assert!(st.success(), "rootfs-fixtures/build-image.sh failed");
    }
    out
}

fn sha(data: &[u8]) -> String {
    sha2::Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

// ---- building layouts by hand ----------------------------------------------

enum E<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
}

fn layer_tar(entries: &[E]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        let mut h = tar::Header::new_gnu();
        match e {
            E::File(p, data) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_mode(0o644);
                h.set_size(data.len() as u64);
                h.set_cksum();
                b.append_data(&mut h, p, *data).unwrap();
            }
            E::Dir(p) => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_size(0);
                h.set_cksum();
                b.append_data(&mut h, p, &[][..]).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

#[derive(Clone, Copy)]
enum Comp {
    Plain,
    Gzip,
    Zstd,
}

fn compress(data: &[u8], c: Comp) -> (Vec<u8>, &'static str) {
    match c {
        Comp::Plain => (data.to_vec(), "application/vnd.oci.image.layer.v1.tar"),
        Comp::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(data).unwrap();
            (
                e.finish().unwrap(),
                "application/vnd.oci.image.layer.v1.tar+gzip",
            )
        }
        Comp::Zstd => (
            zstd::encode_all(data, 3).unwrap(),
            "application/vnd.oci.image.layer.v1.tar+zstd",
        ),
    }
}

struct Layout(TempDir);

impl Layout {
    fn new() -> Layout {
        let t = TempDir::new("layout");
        std::fs::create_dir_all(t.path().join("blobs/sha256")).unwrap();
        std::fs::write(
            t.path().join("oci-layout"),
            r#"{"imageLayoutVersion":"1.0.0"}"#,
        )
        .unwrap();
        Layout(t)
    }
    fn path(&self) -> &Path {
        self.0.path()
    }
    fn blob(&self, data: &[u8]) -> String {
        let hex = sha(data);
        std::fs::write(self.path().join("blobs/sha256").join(&hex), data).unwrap();
        format!("sha256:{hex}")
    }
    /// Writes layers, config and manifest; returns the manifest descriptor.
    fn image(&self, layers: &[(Vec<u8>, Comp)], arch: &str, config: Value) -> Value {
        let mut descs = Vec::new();
        let mut diff_ids = Vec::new();
        for (tar, c) in layers {
            diff_ids.push(format!("sha256:{}", sha(tar)));
            let (blob, mt) = compress(tar, *c);
            descs.push(json!({"mediaType": mt, "digest": self.blob(&blob), "size": blob.len()}));
        }
        let cfg = json!({"architecture": arch, "os": "linux", "config": config,
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}});
        let cfg = serde_json::to_vec(&cfg).unwrap();
        let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": self.blob(&cfg), "size": cfg.len()},
            "layers": descs});
        let m = serde_json::to_vec(&manifest).unwrap();
        json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": self.blob(&m), "size": m.len(),
               "platform": {"architecture": arch, "os": "linux"}})
    }
    fn index(&self, manifests: Vec<Value>) {
        let idx = json!({"schemaVersion": 2, "manifests": manifests});
        std::fs::write(
            self.path().join("index.json"),
            serde_json::to_vec(&idx).unwrap(),
        )
        .unwrap();
    }
}

fn tagged(mut desc: Value, tag: &str) -> Value {
    desc["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
    desc
}

fn simple_layout(arch: &str) -> Layout {
    let l = Layout::new();
    let tar = layer_tar(&[E::Dir("etc"), E::File("etc/hello", b"hi\n")]);
    let d = l.image(&[(tar, Comp::Gzip)], arch, json!({"Cmd": ["/bin/sh"]}));
    l.index(vec![tagged(d, "latest")]);
    l
}

fn opts(name: &str) -> ImportOpts {
    ImportOpts {
        name: Some(name.into()),
        progress: false,
    }
}

/// Every file and directory under `root` whose name starts with `.tmp-`.
fn leftovers(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(".tmp-") || (d.ends_with("tmp") && d.parent() == Some(root)) {
                out.push(p.clone());
            }
            if e.file_type().unwrap().is_dir() && !d.ends_with("layers") {
                stack.push(p);
            }
        }
    }
    out
}

fn assert_clean_failure(store_root: &Path) {
    let s = Store::open(store_root).unwrap();
    assert!(s.images().unwrap().images.is_empty(), "no image recorded");
    assert_eq!(leftovers(store_root), Vec::<PathBuf>::new());
}

// ---- library tests -----------------------------------------------------------

#[test]
fn imports_all_three_fixture_formats_sharing_one_layer() {
    let f = fixtures();
    let root = TempDir::new("store");
    let s = Store::open(root.path()).unwrap();
    let a = import(
        &s,
        f.join("image-oci").to_str().unwrap(),
        &ImportOpts::default(),
    )
    .unwrap();
    assert_eq!(a.name, "image-oci:latest");
    let b = import(
        &s,
        f.join("busybox-oci.tar").to_str().unwrap(),
        &ImportOpts::default(),
    )
    .unwrap();
    assert_eq!(b.name, "localhost/berth-busybox:latest");
    let c = import(
        &s,
        f.join("busybox-docker.tar").to_str().unwrap(),
        &opts("dock"),
    )
    .unwrap();
    assert_eq!(c.name, "dock:latest");
    assert_eq!(a.record.config, c.record.config);
    let diff = &a.record.layers[0].diff_id;
    assert_eq!(diff, &c.record.layers[0].diff_id);
    assert!(s.layer_path(diff).join("bin/busybox").exists());
    let dirs = std::fs::read_dir(s.layer_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .count();
    assert_eq!(dirs, 1, "one layer directory for three imports");
    assert_eq!(s.images().unwrap().images.len(), 3);
    assert!(leftovers(root.path()).is_empty());
}

#[test]
fn tag_selection_and_replacing_a_name() {
    let l = Layout::new();
    let t1 = layer_tar(&[E::File("v", b"1")]);
    let t2 = layer_tar(&[E::File("v", b"2")]);
    let d1 = l.image(&[(t1, Comp::Plain)], "amd64", json!({"Cmd": ["a"]}));
    let d2 = l.image(&[(t2, Comp::Plain)], "amd64", json!({"Cmd": ["b"]}));
    l.index(vec![tagged(d1, "v1"), tagged(d2, "v2")]);
    let root = TempDir::new("store");
    let s = Store::open(root.path()).unwrap();
    let p = l.path().to_str().unwrap();
    let err = import(&s, p, &opts("x")).unwrap_err().to_string();
    assert!(err.contains("v1, v2") && err.contains(":TAG"), "{err}");
    let err = import(&s, &format!("{p}:v3"), &opts("x"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no image tagged \"v3\""), "{err}");
    let a = import(&s, &format!("{p}:v1"), &opts("x")).unwrap();
    let b = import(&s, &format!("{p}:v2"), &opts("x")).unwrap();
    assert_eq!(b.replaced, Some(a.record.config.clone()));
    let (_, rec) = s.resolve("x").unwrap();
    assert_eq!(rec.config, b.record.config);
    assert_eq!(
        std::fs::read(s.layer_path(&rec.layers[0].diff_id).join("v")).unwrap(),
        b"2"
    );
}

#[test]
fn multi_platform_index_picks_the_host() {
    let l = Layout::new();
    let arm = l.image(
        &[(layer_tar(&[E::File("arch", b"arm64")]), Comp::Gzip)],
        "arm64",
        json!({}),
    );
    let amd = l.image(
        &[(layer_tar(&[E::File("arch", b"amd64")]), Comp::Zstd)],
        "amd64",
        json!({}),
    );
    // A nested index, as `docker buildx` and registries produce.
    let idx = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [arm, amd]});
    let idx = serde_json::to_vec(&idx).unwrap();
    let top = json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": l.blob(&idx), "size": idx.len()});
    l.index(vec![tagged(top, "multi")]);
    let root = TempDir::new("store");
    let s = Store::open(root.path()).unwrap();
    let got = import(&s, l.path().to_str().unwrap(), &ImportOpts::default()).unwrap();
    let name = l.path().file_name().unwrap().to_str().unwrap();
    assert_eq!(got.name, format!("{name}:multi"));
    let layer = s.layer_path(&got.record.layers[0].diff_id);
    assert_eq!(std::fs::read(layer.join("arch")).unwrap(), b"amd64");
}

#[test]
fn platform_mismatch_names_both_and_leaves_nothing() {
    let l = simple_layout("arm64");
    let root = TempDir::new("store");
    let s = Store::open(root.path()).unwrap();
    let err = import(&s, l.path().to_str().unwrap(), &opts("x"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("linux/arm64") && err.contains("linux/amd64"),
        "{err}"
    );
    assert_clean_failure(root.path());

    // Without a platform in the descriptor, the config is what is checked.
    let l = Layout::new();
    let mut d = l.image(
        &[(layer_tar(&[E::File("a", b"a")]), Comp::Plain)],
        "s390x",
        json!({}),
    );
    d.as_object_mut().unwrap().remove("platform");
    l.index(vec![d]);
    let err = import(&s, l.path().to_str().unwrap(), &opts("y"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("linux/s390x") && err.contains("linux/amd64"),
        "{err}"
    );
    assert_clean_failure(root.path());
}

#[test]
fn corrupt_and_missing_blobs_fail_cleanly() {
    let f = fixtures();
    let root = TempDir::new("store");
    let s = Store::open(root.path()).unwrap();
    let copy = TempDir::new("corrupt");
    let st = Command::new("cp")
        .arg("-a")
        .arg(f.join("image-oci/."))
        .arg(copy.path())
        .status()
        .unwrap();
    assert!(st.success());
    // The biggest blob is the layer: flip one byte in its middle.
    let biggest = std::fs::read_dir(copy.path().join("blobs/sha256"))
        .unwrap()
        .flatten()
        .max_by_key(|e| e.metadata().unwrap().len())
        .unwrap()
        .path();
    let mut data = std::fs::read(&biggest).unwrap();
    let mid = data.len() / 2;
    data[mid] ^= 0xff;
    std::fs::write(&biggest, &data).unwrap();
    let err = import(&s, copy.path().to_str().unwrap(), &opts("x"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("digest mismatch"), "{err}");
    assert_clean_failure(root.path());

    std::fs::remove_file(&biggest).unwrap();
    let err = import(&s, copy.path().to_str().unwrap(), &opts("x"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("is missing"), "{err}");
    assert_clean_failure(root.path());
}

#[test]
fn wrong_diff_id_in_config_is_refused() {
    let l = Layout::new();
    let tar = layer_tar(&[E::File("a", b"a")]);
    let (blob, mt) = compress(&tar, Comp::Gzip);
    let cfg = json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha(b"other"))]}});
    let cfg = serde_json::to_vec(&cfg).unwrap();
    let m = json!({"schemaVersion": 2, "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": l.blob(&cfg), "size": cfg.len()},
                   "layers": [{"mediaType": mt, "digest": l.blob(&blob), "size": blob.len()}]});
    let m = serde_json::to_vec(&m).unwrap();
    l.index(vec![json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": l.blob(&m), "size": m.len()})]);
    let root = TempDir::new("store");
    let s = Store::open(root.path()).unwrap();
    let err = import(&s, l.path().to_str().unwrap(), &opts("x"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("diff ID"), "{err}");
    assert_clean_failure(root.path());
    let layers: Vec<_> = std::fs::read_dir(s.layer_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .collect();
    assert!(layers.is_empty());
}

#[test]
fn bad_sources_each_get_one_clear_error() {
    let root = TempDir::new("store");
    let s = Store::open(root.path()).unwrap();
    let err = import(&s, "/nonexistent/image", &opts("x"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no such file"), "{err}");
    let empty = TempDir::new("empty");
    let err = import(&s, empty.path().to_str().unwrap(), &opts("x"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not an OCI image layout"), "{err}");
    let junk = empty.path().join("junk.tar");
    std::fs::write(&junk, vec![0x42u8; 4096]).unwrap();
    let err = import(&s, junk.to_str().unwrap(), &opts("x"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("not a tar") || err.contains("not an OCI image layout"),
        "{err}"
    );
    let other = empty.path().join("other.tar");
    std::fs::write(&other, layer_tar(&[E::File("hello", b"x")])).unwrap();
    let err = import(&s, other.to_str().unwrap(), &opts("x"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not an OCI image layout"), "{err}");
    assert_clean_failure(root.path());
}

#[test]
fn concurrent_imports_unpack_each_layer_once() {
    let l = Layout::new();
    let base = layer_tar(&[E::Dir("etc"), E::File("etc/base", b"base")]);
    let top1 = layer_tar(&[E::File("one", b"1")]);
    let top2 = layer_tar(&[E::File("two", b"2")]);
    let d1 = l.image(
        &[(base.clone(), Comp::Gzip), (top1, Comp::Plain)],
        "amd64",
        json!({}),
    );
    let d2 = l.image(
        &[(base, Comp::Gzip), (top2, Comp::Zstd)],
        "amd64",
        json!({}),
    );
    l.index(vec![tagged(d1, "one"), tagged(d2, "two")]);
    let root = TempDir::new("store");
    let handles: Vec<_> = (0..6)
        .map(|i| {
            let (root, src) = (root.path().to_path_buf(), l.path().to_path_buf());
            std::thread::spawn(move || {
                let s = Store::open(&root).unwrap();
                let tag = if i % 2 == 0 { "one" } else { "two" };
                import(
                    &s,
                    &format!("{}:{tag}", src.display()),
                    &opts(&format!("img{i}")),
                )
                .unwrap()
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let s = Store::open(root.path()).unwrap();
    assert_eq!(s.images().unwrap().images.len(), 6);
    let dirs = std::fs::read_dir(s.layer_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .count();
    assert_eq!(dirs, 3);
    assert!(leftovers(root.path()).is_empty());
}

#[test]
fn prune_removes_what_no_image_uses() {
    let root = TempDir::new("store");
    let s = Store::open(root.path()).unwrap();
    let a = simple_layout("amd64");
    let b = Layout::new();
    let d = b.image(
        &[(layer_tar(&[E::File("b", b"b")]), Comp::Gzip)],
        "amd64",
        json!({}),
    );
    b.index(vec![d]);
    let ia = import(&s, a.path().to_str().unwrap(), &opts("a")).unwrap();
    let ib = import(&s, b.path().to_str().unwrap(), &opts("b")).unwrap();
    assert_eq!(s.prune().unwrap().blobs, 0);
    s.update_images(|im| {
        im.images.remove("b:latest");
        Ok(())
    })
    .unwrap();
    let r = s.prune().unwrap();
    assert_eq!((r.blobs, r.layers), (3, 1));
    assert!(s
        .layer_meta(&ia.record.layers[0].diff_id)
        .unwrap()
        .is_some());
    assert!(s
        .layer_meta(&ib.record.layers[0].diff_id)
        .unwrap()
        .is_none());
    assert!(!s.has_blob(&ib.record.manifest) && s.has_blob(&ia.record.manifest));
}

#[test]
fn whiteouts_hide_lower_files_in_the_mount() {
    common::require_root();
    let l = Layout::new();
    let lower = layer_tar(&[
        E::Dir("etc"),
        E::File("etc/a", b"a"),
        E::File("etc/b", b"b"),
        E::Dir("d"),
        E::File("d/x", b"x"),
    ]);
    let upper = layer_tar(&[
        E::File("etc/.wh.a", b""),
        E::File("d/.wh..wh..opq", b""),
        E::File("d/y", b"y"),
    ]);
    let desc = l.image(
        &[(lower, Comp::Gzip), (upper, Comp::Zstd)],
        "amd64",
        json!({"Cmd": ["/bin/sh"]}),
    );
    l.index(vec![desc]);
    let root = TempDir::new("store");
    let s = Store::open(root.path()).unwrap();
    import(&s, l.path().to_str().unwrap(), &opts("wh")).unwrap();
    let target = TempDir::new("mnt");
    let m = s.mount_image("wh", target.path()).unwrap();
    let seen = (
        m.target.join("etc/a").exists(),
        std::fs::read(m.target.join("etc/b")).ok(),
        m.target.join("d/x").exists(),
        m.target.join("d/y").exists(),
    );
    // Prune must not take the layers of a mounted image, even untagged.
    s.update_images(|im| {
        im.images.clear();
        Ok(())
    })
    .unwrap();
    assert_eq!(s.prune().unwrap().layers, 0);
    s.unmount(target.path()).unwrap();
    assert_eq!(seen, (false, Some(b"b".to_vec()), false, true));
    assert_eq!(s.prune().unwrap().layers, 2);
}

// ---- CLI tests -----------------------------------------------------------------

struct Cli {
    root: TempDir,
}

impl Cli {
    fn new() -> Cli {
        Cli {
            root: TempDir::new("imgroot"),
        }
    }
    fn run(&self, args: &[&str]) -> Output {
        Command::new(common::berth_bin())
            .arg("--image-root")
            .arg(self.root.path())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("spawn berth")
    }
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "berth {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(!out.status.success(), "berth {args:?} should fail");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        err
    }
}

#[test]
fn cli_import_ls_inspect_rm() {
    let f = fixtures();
    let c = Cli::new();
    let out = c.run(&[
        "image",
        "import",
        f.join("busybox-docker.tar").to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "no progress when stderr is not a tty"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("localhost/berth-busybox:latest"));
    c.ok(&[
        "image",
        "import",
        &format!("{}:latest", f.join("image-oci").display()),
        "--name",
        "bb:v1",
    ]);

    let table = c.ok(&["image", "ls"]);
    let head: Vec<&str> = table.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(head, ["NAME", "ID", "SIZE", "CREATED"]);
    assert!(
        table.contains("bb:v1") && table.contains("localhost/berth-busybox:latest"),
        "{table}"
    );
    let list: Value = serde_json::from_str(&c.ok(&["image", "ls", "--format", "json"])).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 2);

    let info: Value = serde_json::from_str(&c.ok(&["image", "inspect", "bb:v1"])).unwrap();
    assert_eq!(info["config"]["config"]["Cmd"], json!(["/bin/sh"]));
    assert!(info["manifest"].as_str().unwrap().starts_with("sha256:"));
    assert!(info["layers"][0]["diff_id"]
        .as_str()
        .unwrap()
        .starts_with("sha256:"));

    c.ok(&["image", "rm", "bb:v1"]);
    assert!(c
        .fails(&["image", "inspect", "bb:v1"])
        .contains("no such image"));
    assert!(c.fails(&["image", "rm", "bb:v1"]).contains("no such image"));
    c.ok(&["image", "prune"]);
    c.ok(&["image", "inspect", "localhost/berth-busybox"]);
}

#[test]
fn cli_bad_inputs_are_one_line_each() {
    let c = Cli::new();
    assert!(c
        .fails(&["image", "import", "/nonexistent"])
        .contains("no such file"));
    let l = simple_layout("arm64");
    let err = c.fails(&["image", "import", l.path().to_str().unwrap()]);
    assert!(
        err.contains("linux/arm64") && err.contains("linux/amd64"),
        "{err}"
    );
    assert!(c
        .fails(&["image", "bundle", "nope", "/tmp/x-nope"])
        .contains("no such image"));
    assert_clean_failure(c.root.path());
}

#[test]
fn cli_bundle_runs_with_berth_run() {
    common::require_root();
    let f = fixtures();
    let c = Cli::new();
    c.ok(&[
        "image",
        "import",
        f.join("busybox-oci.tar").to_str().unwrap(),
        "--name",
        "bb",
    ]);
    let bundle = TempDir::new("bundle");
    let dir = bundle.path().join("b");
    let d = dir.to_str().unwrap();
    c.ok(&[
        "image",
        "bundle",
        "bb",
        d,
        "--",
        "/bin/sh",
        "-c",
        "echo $PATH; id -u; cat /etc/passwd >/dev/null && echo ok",
    ]);
    let cfg: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg["annotations"]["org.berth.fixture"], json!("busybox"));
    assert_eq!(cfg["process"]["args"][0], json!("/bin/sh"));
    assert!(dir.join("rootfs/bin/busybox").exists());
    let state = TempDir::new("state");
    let id = common::unique("img");
    let out = Command::new(common::berth_bin())
        .args([
            "--root",
            state.path().to_str().unwrap(),
            "run",
            "--bundle",
            d,
            &id,
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let _ = c.run(&["image", "unmount", d]);
    assert!(
        out.status.success(),
        "run: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("/usr/local/sbin") && stdout.contains("\n0\nok"),
        "{stdout}"
    );
    assert!(!dir.join("rootfs/bin/busybox").exists(), "unmounted");

    // mount / unmount on their own
    let m = bundle.path().join("m");
    c.ok(&["image", "mount", "bb", m.to_str().unwrap()]);
    assert!(m.join("bin/busybox").exists());
    c.ok(&["image", "unmount", m.to_str().unwrap()]);
    assert!(!m.join("bin/busybox").exists());
    assert!(c
        .fails(&["image", "unmount", m.to_str().unwrap()])
        .contains("not an image mounted"));
}
