//! Layer unpacking against real filesystems: every entry type and its
//! metadata, whiteouts, diff_ids, overwrites, and hostile layers that must
//! fail without touching anything outside the destination. Needs root
//! (mknod, chown, trusted.* xattrs, overlay mounts).

use std::fs;
use std::io::Write;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use berth::image::overlay;
use berth::image::unpack::{unpack_layer, LayerInfo, UnpackError, UnpackOpts};
use berth::sys::xattr;
use sha2::{Digest, Sha256};
use tar::{EntryType, Header};

/// `root/dest` to unpack into and `root/sentinel`, which must stay empty;
/// all removed (mounts first) on drop.
struct Scratch {
    root: PathBuf,
    dest: PathBuf,
    sentinel: PathBuf,
    mounts: Vec<PathBuf>,
}

impl Scratch {
    fn new() -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        assert!(
            nix::unistd::geteuid().is_root(),
            "image_unpack tests need root (mknod, chown, trusted xattrs): run them as root"
        );
        let n = N.fetch_add(1, Ordering::SeqCst);
        let root = std::env::temp_dir().join(format!("berth-unpack-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let (dest, sentinel) = (root.join("dest"), root.join("sentinel"));
        fs::create_dir_all(&dest).unwrap();
        fs::create_dir_all(&sentinel).unwrap();
        Scratch {
            root,
            dest,
            sentinel,
            mounts: Vec::new(),
        }
    }

    fn unpack(&self, layer: &[u8], opts: UnpackOpts) -> Result<LayerInfo, UnpackError> {
        unpack_layer(layer, &self.dest, &opts)
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dest.join(rel)
    }

    /// Nothing but `dest` and an empty `sentinel` next to it.
    fn assert_contained(&self) {
        let mut names: Vec<_> = fs::read_dir(&self.root)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["dest", "sentinel"],
            "something was written next to dest"
        );
        assert_eq!(
            fs::read_dir(&self.sentinel).unwrap().count(),
            0,
            "sentinel dir was written to"
        );
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for m in self.mounts.iter().rev() {
            let _ = nix::mount::umount2(m.as_path(), nix::mount::MntFlags::MNT_DETACH);
        }
        let _ = fs::remove_dir_all(&self.root);
    }
}

/// Builds tars with raw names, so `..` and other things the tar crate's
/// safe setters refuse can be written.
struct Layer(tar::Builder<Vec<u8>>);

impl Layer {
    fn new() -> Layer {
        Layer(tar::Builder::new(Vec::new()))
    }

    fn header(name: &str, kind: EntryType, mode: u32, size: u64) -> Header {
        let mut h = Header::new_gnu();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_mtime(1_600_000_000);
        h
    }

    fn append(mut self, mut h: Header, data: &[u8]) -> Layer {
        h.set_cksum();
        self.0.append(&h, data).unwrap();
        self
    }

    fn file(self, name: &str, data: &str) -> Layer {
        let h = Self::header(name, EntryType::Regular, 0o644, data.len() as u64);
        self.append(h, data.as_bytes())
    }

    fn dir(self, name: &str) -> Layer {
        self.append(Self::header(name, EntryType::Directory, 0o755, 0), b"")
    }

    fn link(self, name: &str, kind: EntryType, target: &str) -> Layer {
        let mut h = Self::header(name, kind, 0o777, 0);
        h.as_old_mut().linkname[..target.len()].copy_from_slice(target.as_bytes());
        self.append(h, b"")
    }

    fn device(self, name: &str, kind: EntryType, major: u32, minor: u32) -> Layer {
        let mut h = Self::header(name, kind, 0o620, 0);
        h.set_device_major(major).unwrap();
        h.set_device_minor(minor).unwrap();
        self.append(h, b"")
    }

    /// A PAX extended header for the next entry.
    fn pax(self, records: &[(&str, &[u8])]) -> Layer {
        let mut body = Vec::new();
        for (k, v) in records {
            let rest = k.len() + v.len() + 3; // ' ', '=', '\n'
            let mut len = rest + 1;
            while len != rest + len.to_string().len() {
                len = rest + len.to_string().len();
            }
            body.extend_from_slice(format!("{len} {k}=").as_bytes());
            body.extend_from_slice(v);
            body.push(b'\n');
        }
        let h = Self::header("PaxHeaders/x", EntryType::XHeader, 0o644, body.len() as u64);
        self.append(h, &body)
    }

    fn tar(self) -> Vec<u8> {
        self.0.into_inner().unwrap()
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(data).unwrap();
    enc.finish().unwrap()
}

fn sha256(data: &[u8]) -> String {
    let hex: String = Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

const DEVICES: UnpackOpts = UnpackOpts {
    allow_devices: true,
};
const NO_DEVICES: UnpackOpts = UnpackOpts {
    allow_devices: false,
};

#[test]
fn unpacks_every_entry_type_with_metadata() {
    let s = Scratch::new();
    let mut setuid = Layer::header("bin/su", EntryType::Regular, 0o4755, 4);
    setuid.set_uid(1234);
    setuid.set_gid(5678);
    let mut dir = Layer::header("bin", EntryType::Directory, 0o750, 0);
    dir.set_mtime(1_500_000_000);
    let mut sym = Layer::header("bin/sh", EntryType::Symlink, 0o777, 0);
    sym.as_old_mut().linkname[..4].copy_from_slice(b"dash");
    sym.set_uid(7);
    sym.set_mtime(1_400_000_000);
    let tar = Layer::new()
        .append(dir, b"")
        .append(setuid, b"root")
        .append(sym, b"")
        .link("bin/su2", EntryType::Link, "bin/su")
        .device("dev/null", EntryType::Char, 1, 3)
        .device("dev/sda", EntryType::Block, 8, 0)
        .device("run/fifo", EntryType::Fifo, 0, 0)
        .tar();
    let info = s.unpack(&tar, DEVICES).unwrap();
    assert_eq!(info.files, 7);

    let su = fs::symlink_metadata(s.path("bin/su")).unwrap();
    assert_eq!(fs::read_to_string(s.path("bin/su")).unwrap(), "root");
    assert_eq!(
        (su.mode() & 0o7777, su.uid(), su.gid()),
        (0o4755, 1234, 5678)
    );
    assert_eq!(su.mtime(), 1_600_000_000);
    let bin = fs::symlink_metadata(s.path("bin")).unwrap();
    assert_eq!(
        (bin.mode() & 0o7777, bin.mtime()),
        (0o750, 1_500_000_000),
        "dir mtime set after contents"
    );
    let sh = fs::symlink_metadata(s.path("bin/sh")).unwrap();
    assert!(sh.file_type().is_symlink());
    assert_eq!(fs::read_link(s.path("bin/sh")).unwrap(), Path::new("dash"));
    assert_eq!(
        (sh.uid(), sh.mtime()),
        (7, 1_400_000_000),
        "symlink owner and mtime, not its target's"
    );
    assert_eq!(
        fs::symlink_metadata(s.path("bin/su2")).unwrap().ino(),
        su.ino()
    );
    let null = fs::symlink_metadata(s.path("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), nix::sys::stat::makedev(1, 3));
    let sda = fs::symlink_metadata(s.path("dev/sda")).unwrap();
    assert!(sda.file_type().is_block_device());
    assert_eq!(sda.rdev(), nix::sys::stat::makedev(8, 0));
    assert!(fs::symlink_metadata(s.path("run/fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    s.assert_contained();
}

#[test]
fn pax_headers_give_xattrs_times_and_long_names() {
    let s = Scratch::new();
    let long = format!("deep/{}/file", "d".repeat(150));
    let tar = Layer::new()
        .pax(&[
            ("SCHILY.xattr.user.comment", b"hello"),
            (
                "SCHILY.xattr.security.capability",
                b"\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
            ),
            ("SCHILY.xattr.trusted.overlay.redirect", b"/etc"),
            ("mtime", b"1600000000.25"),
            ("atime", b"1500000000.5"),
            ("path", long.as_bytes()),
        ])
        .file("short-name-replaced-by-pax", "x")
        .tar();
    s.unpack(&tar, NO_DEVICES).unwrap();
    let p = s.path(&long);
    if user_xattrs_supported(&s.root) {
        assert_eq!(xattr::lget(&p, b"user.comment").unwrap(), b"hello");
    } else {
        // tmpfs before Linux 6.6 (the test VM's /tmp): skipped, as Docker
        // does, and the rest of the entry still lands.
        let e = xattr::lget(&p, b"user.comment").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EOPNOTSUPP), "{e}");
    }
    assert_eq!(xattr::lget(&p, b"security.capability").unwrap().len(), 20);
    assert!(
        xattr::lget(&p, b"trusted.overlay.redirect").is_err(),
        "overlay xattrs from a layer are dropped"
    );
    let m = fs::symlink_metadata(&p).unwrap();
    assert_eq!((m.mtime(), m.mtime_nsec()), (1_600_000_000, 250_000_000));
    assert_eq!((m.atime(), m.atime_nsec()), (1_500_000_000, 500_000_000));
}

/// Whether the filesystem holding `dir` takes `user.*` xattrs.
fn user_xattrs_supported(dir: &Path) -> bool {
    let probe = dir.join("xattr-probe");
    fs::write(&probe, "").unwrap();
    let ok = match xattr::lset(&probe, b"user.probe", b"1") {
        Ok(()) => true,
        Err(e) if e.raw_os_error() == Some(libc::EOPNOTSUPP) => false,
        Err(e) => panic!("setting a user xattr on {}: {e}", probe.display()),
    };
    fs::remove_file(&probe).unwrap();
    ok
}

#[test]
fn whiteouts_become_overlayfs_devices_and_opaque_xattrs() {
    let s = Scratch::new();
    let tar = Layer::new()
        .dir("etc")
        .file("etc/.wh.passwd", "")
        .file(".wh.toplevel", "")
        .file("var/lib/.wh..wh..opq", "")
        .file("usr/.wh..wh.plnk", "")
        .file(".wh..wh.plnk/1234.5678", "aufs hardlink store")
        .tar();
    let info = s.unpack(&tar, NO_DEVICES).unwrap();
    assert_eq!(info.files, 4, "the AUFS .wh..wh.plnk marker is not counted");
    for w in ["etc/passwd", "toplevel"] {
        let m = fs::symlink_metadata(s.path(w)).unwrap();
        assert!(m.file_type().is_char_device(), "{w}");
        assert_eq!(m.rdev(), 0, "{w}");
    }
    assert!(!s.path("etc/.wh.passwd").exists());
    assert_eq!(
        xattr::lget(&s.path("var/lib"), b"trusted.overlay.opaque").unwrap(),
        b"y"
    );
    assert!(!s.path("var/lib/.wh..wh..opq").exists());
    assert!(!s.path("usr/.wh..wh.plnk").exists());
    assert!(!s.path(".wh..wh.plnk").exists());
    assert!(matches!(
        Scratch::new().unpack(&Layer::new().file("a/.wh..", "").tar(), NO_DEVICES),
        Err(UnpackError::BadWhiteout { .. })
    ));
}

#[test]
fn diff_id_is_the_uncompressed_digest_for_every_compression() {
    let tar = Layer::new()
        .dir("etc")
        .file("etc/hostname", "berth\n")
        .tar();
    let zstd = zstd::encode_all(&tar[..], 3).unwrap();
    for (what, blob) in [("plain", tar.clone()), ("gzip", gzip(&tar)), ("zstd", zstd)] {
        let s = Scratch::new();
        let info = s
            .unpack(&blob, NO_DEVICES)
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(info.diff_id, sha256(&tar), "{what}");
        assert_eq!(info.size, tar.len() as u64, "{what}");
        assert_eq!(info.files, 2, "{what}");
        assert_eq!(
            fs::read_to_string(s.path("etc/hostname")).unwrap(),
            "berth\n",
            "{what}"
        );
    }
}

#[test]
fn later_entries_replace_earlier_and_dirs_merge() {
    let s = Scratch::new();
    let tar = Layer::new()
        .file("f", "old")
        .file("f", "new")
        .file("becomes-dir", "file")
        .dir("becomes-dir")
        .file("becomes-dir/inside", "1")
        .dir("becomes-file")
        .file("becomes-file/lost", "1")
        .file("becomes-file", "file")
        .dir("merged")
        .file("merged/a", "a")
        .dir("merged")
        .file("merged/b", "b")
        .link("was-link", EntryType::Symlink, "/etc")
        .dir("was-link")
        .file("was-link/x", "x")
        .file("/abs/file", "abs")
        .file("./dot/file", "dot")
        .tar();
    s.unpack(&tar, NO_DEVICES).unwrap();
    assert_eq!(fs::read_to_string(s.path("f")).unwrap(), "new");
    assert_eq!(
        fs::read_to_string(s.path("becomes-dir/inside")).unwrap(),
        "1"
    );
    assert_eq!(fs::read_to_string(s.path("becomes-file")).unwrap(), "file");
    assert_eq!(fs::read_to_string(s.path("merged/a")).unwrap(), "a");
    assert_eq!(fs::read_to_string(s.path("merged/b")).unwrap(), "b");
    assert!(fs::symlink_metadata(s.path("was-link")).unwrap().is_dir());
    assert_eq!(fs::read_to_string(s.path("was-link/x")).unwrap(), "x");
    assert_eq!(fs::read_to_string(s.path("abs/file")).unwrap(), "abs");
    assert_eq!(fs::read_to_string(s.path("dot/file")).unwrap(), "dot");
    s.assert_contained();
}

#[test]
fn absolute_hardlink_targets_resolve_inside_the_layer() {
    let s = Scratch::new();
    let host = fs::metadata("/etc/passwd").unwrap();
    let tar = Layer::new()
        .file("etc/passwd", "root:x:0:0::/root:/bin/sh\n")
        .link("copy", EntryType::Link, "/etc/passwd")
        .tar();
    s.unpack(&tar, NO_DEVICES).unwrap();
    let copy = fs::metadata(s.path("copy")).unwrap();
    assert_eq!(
        copy.ino(),
        fs::metadata(s.path("etc/passwd")).unwrap().ino()
    );
    assert_eq!(fs::metadata("/etc/passwd").unwrap().nlink(), host.nlink());
    // A hardlink to a symlink links the symlink itself, never its target.
    let s2 = Scratch::new();
    let tar = Layer::new()
        .link("s", EntryType::Symlink, "/etc/passwd")
        .link("h", EntryType::Link, "s")
        .tar();
    s2.unpack(&tar, NO_DEVICES).unwrap();
    assert!(fs::symlink_metadata(s2.path("h"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::metadata("/etc/passwd").unwrap().nlink(), host.nlink());
}

/// Unpacks `blob` into `s`, expects an error that passes `check` and
/// names `names` (the entry), and nothing written outside dest.
fn refused_in(
    s: &Scratch,
    what: &str,
    blob: &[u8],
    opts: UnpackOpts,
    names: &str,
    check: fn(&UnpackError) -> bool,
) {
    let host_passwd = fs::metadata("/etc/passwd").unwrap().nlink();
    let err = match s.unpack(blob, opts) {
        Ok(info) => panic!("{what}: unpacked ({info:?}) instead of failing"),
        Err(e) => e,
    };
    assert!(check(&err), "{what}: unexpected error {err:?}");
    assert!(
        err.to_string().contains(names),
        "{what}: error {err} does not name {names:?}"
    );
    s.assert_contained();
    assert_eq!(
        fs::metadata("/etc/passwd").unwrap().nlink(),
        host_passwd,
        "{what}"
    );
}

fn refused(
    what: &str,
    blob: &[u8],
    opts: UnpackOpts,
    names: &str,
    check: fn(&UnpackError) -> bool,
) {
    refused_in(&Scratch::new(), what, blob, opts, names, check)
}

#[test]
fn refuses_dotdot_paths() {
    let tar = Layer::new().file("../evil", "x").tar();
    refused("../evil", &tar, NO_DEVICES, "../evil", |e| {
        matches!(e, UnpackError::DotDot { .. })
    });
    let tar = Layer::new().dir("a").file("a/../../evil", "x").tar();
    refused("a/../../evil", &tar, NO_DEVICES, "a/../../evil", |e| {
        matches!(e, UnpackError::DotDot { .. })
    });
}

#[test]
fn refuses_writing_through_symlinks() {
    let through = |e: &UnpackError| matches!(e, UnpackError::ThroughSymlink { .. });
    let evil = format!("berth-unpack-evil-{}", std::process::id());
    let tar = Layer::new()
        .link("s", EntryType::Symlink, "/tmp")
        .file(&format!("s/{evil}"), "x")
        .tar();
    refused("s -> /tmp", &tar, NO_DEVICES, "s/", through);
    assert!(!Path::new("/tmp").join(&evil).exists());
    let tar = Layer::new()
        .link("s", EntryType::Symlink, "..")
        .file("s/x", "x")
        .tar();
    refused("s -> ..", &tar, NO_DEVICES, "s/x", through);
    let s = Scratch::new();
    let sentinel = s.sentinel.display().to_string();
    let tar = Layer::new()
        .link("s", EntryType::Symlink, &sentinel)
        .file("s/x", "x")
        .tar();
    refused_in(&s, "s -> sentinel", &tar, NO_DEVICES, "s/x", through);
    let tar = Layer::new()
        .dir("d")
        .link("d/s", EntryType::Symlink, "../..")
        .dir("d/s/sub")
        .tar();
    refused("nested s -> ../..", &tar, NO_DEVICES, "d/s/sub", through);
    let tar = Layer::new()
        .link("s", EntryType::Symlink, "..")
        .file("s/.wh.x", "")
        .tar();
    refused(
        "whiteout through s -> ..",
        &tar,
        NO_DEVICES,
        "s/.wh.x",
        through,
    );
    let tar = Layer::new()
        .link("s", EntryType::Symlink, "..")
        .file("s/.wh..wh..opq", "")
        .tar();
    refused(
        "opaque through s -> ..",
        &tar,
        NO_DEVICES,
        "s/.wh..wh..opq",
        through,
    );
}

#[test]
fn refuses_hostile_hardlinks() {
    let tar = Layer::new().link("h", EntryType::Link, "/etc/passwd").tar();
    refused("link to /etc/passwd", &tar, NO_DEVICES, "\"h\"", |e| {
        matches!(e, UnpackError::OpenParent { .. } | UnpackError::Link { .. })
    });
    let tar = Layer::new().link("h", EntryType::Link, "../x").tar();
    refused("link to ../x", &tar, NO_DEVICES, "\"h\"", |e| {
        matches!(e, UnpackError::DotDot { .. })
    });
    let tar = Layer::new()
        .link("s", EntryType::Symlink, "/etc")
        .link("h", EntryType::Link, "s/passwd")
        .tar();
    refused("link through symlink", &tar, NO_DEVICES, "\"h\"", |e| {
        matches!(e, UnpackError::ThroughSymlink { .. })
    });
    let tar = Layer::new().link("h", EntryType::Link, "./").tar();
    refused("link to the root", &tar, NO_DEVICES, "\"h\"", |e| {
        matches!(e, UnpackError::LinkTarget { .. })
    });
}

#[test]
fn refuses_devices_unless_allowed() {
    let tar = Layer::new().device("dev/kmem", EntryType::Char, 1, 2).tar();
    refused("char device", &tar, NO_DEVICES, "dev/kmem", |e| {
        matches!(e, UnpackError::DeviceRefused { .. })
    });
    let tar = Layer::new().device("dev/sda", EntryType::Block, 8, 0).tar();
    refused("block device", &tar, NO_DEVICES, "dev/sda", |e| {
        matches!(e, UnpackError::DeviceRefused { .. })
    });
    // Fifos are not devices; whiteouts are made even without allow_devices.
    let s = Scratch::new();
    s.unpack(
        &Layer::new()
            .device("p", EntryType::Fifo, 0, 0)
            .file(".wh.x", "")
            .tar(),
        NO_DEVICES,
    )
    .unwrap();
}

#[test]
fn refuses_unsupported_entry_types() {
    let tar = Layer::new()
        .append(Layer::header("vol", EntryType::new(b'V'), 0o644, 0), b"")
        .tar();
    refused("volume header", &tar, NO_DEVICES, "vol", |e| {
        matches!(e, UnpackError::Unsupported { .. })
    });
}

#[test]
fn refuses_truncated_and_corrupt_streams() {
    let big: String = (0..20_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let tar = Layer::new().file("big", &big).file("after", "x").tar();
    let any = |_: &UnpackError| true;
    refused("truncated tar", &tar[..2048], NO_DEVICES, "big", |e| {
        matches!(e, UnpackError::Truncated { .. })
    });
    refused(
        "truncated header",
        &tar[..512 + 20_480 + 100],
        NO_DEVICES,
        "big",
        |e| matches!(e, UnpackError::Read { .. }),
    );
    let gz = gzip(&tar);
    refused("truncated gzip", &gz[..gz.len() / 2], NO_DEVICES, "", any);
    refused(
        "gzip missing its trailer",
        &gz[..gz.len() - 4],
        NO_DEVICES,
        "",
        any,
    );
    let mut corrupt = gz.clone();
    let mid = corrupt.len() / 2;
    corrupt[mid] ^= 0xff;
    refused("corrupt gzip", &corrupt, NO_DEVICES, "", any);
    let zst = zstd::encode_all(&tar[..], 3).unwrap();
    refused("truncated zstd", &zst[..zst.len() / 2], NO_DEVICES, "", any);
    refused(
        "garbage",
        b"this is not a layer, just some text that is not a tar header",
        NO_DEVICES,
        "",
        any,
    );
    let mut noise = vec![0u8; 4096];
    for (i, b) in noise.iter_mut().enumerate() {
        *b = (i * 7919 % 251) as u8 | 1;
    }
    refused("noise", &noise, NO_DEVICES, "", |e| {
        matches!(e, UnpackError::Read { .. })
    });
}

/// The unpacked form is what overlayfs expects: whiteouts and opaque
/// directories from an upper layer hide the lower layer's files.
#[test]
fn unpacked_layers_stack_in_overlayfs() {
    let mut s = Scratch::new();
    let base = Layer::new()
        .file("etc/passwd", "root")
        .file("etc/group", "root")
        .file("var/cache/a", "a")
        .tar();
    let top = Layer::new()
        .file("etc/.wh.passwd", "")
        .file("var/cache/.wh..wh..opq", "")
        .file("var/cache/b", "b")
        .tar();
    let dirs: Vec<PathBuf> = ["base", "top", "upper", "work", "merged"]
        .iter()
        .map(|d| s.dest.join(d))
        .collect();
    for d in &dirs {
        fs::create_dir(d).unwrap();
    }
    unpack_layer(&base[..], &dirs[0], &NO_DEVICES).unwrap();
    unpack_layer(&gzip(&top)[..], &dirs[1], &NO_DEVICES).unwrap();
    let lowers = vec![dirs[1].clone(), dirs[0].clone()];
    overlay::mount_overlay(&lowers, Some(&dirs[2]), Some(&dirs[3]), &dirs[4]).unwrap();
    s.mounts.push(dirs[4].clone());
    let merged = &dirs[4];
    assert!(!merged.join("etc/passwd").exists());
    assert_eq!(
        fs::read_to_string(merged.join("etc/group")).unwrap(),
        "root"
    );
    assert!(!merged.join("var/cache/a").exists());
    assert_eq!(fs::read_to_string(merged.join("var/cache/b")).unwrap(), "b");
    overlay::unmount(merged).unwrap();
    s.mounts.clear();
}
