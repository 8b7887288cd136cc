//! overlay mounts on real directories (needs root).

use super::*;
use std::fs;
use std::sync::atomic::{AtomicUsize, Ordering};

#[test]
fn escapes_option_separators() {
    assert_eq!(escape("/a/b"), "/a/b");
    assert_eq!(escape("/a:b,c\\d"), "/a\\:b\\,c\\\\d");
}

#[test]
fn builds_classic_options() {
    let lowers = vec!["/l/2".to_string(), "/l/1".to_string()];
    assert_eq!(classic_options(&lowers, None), "lowerdir=/l/2:/l/1");
    let rw = Some((Path::new("/u"), Path::new("/w")));
    assert_eq!(
        classic_options(&lowers, rw),
        "lowerdir=/l/2:/l/1,upperdir=/u,workdir=/w"
    );
}

#[test]
fn refuses_missing_layers_and_half_upper() {
    let t = Path::new("/nonexistent");
    assert!(matches!(
        mount_overlay(&[], None, None, t),
        Err(OverlayError::NoLayers { .. })
    ));
    let l = [PathBuf::from("/a"), PathBuf::from("/b")];
    let r = mount_overlay(&l, Some(Path::new("/u")), None, t);
    assert!(matches!(r, Err(OverlayError::UpperWithoutWork { .. })));
}

/// A temp tree whose mounts are detached and files removed on drop,
/// also when an assertion fails half-way.
struct Scratch {
    root: PathBuf,
    mounts: Vec<PathBuf>,
}

impl Scratch {
    fn new(tag: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        assert!(
            nix::unistd::geteuid().is_root(),
            "overlay tests need root (run as root in CI)"
        );
        let n = N.fetch_add(1, Ordering::SeqCst);
        let root = std::env::temp_dir().join(format!("berth-ovl-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(&root).unwrap();
        Scratch {
            root,
            mounts: Vec::new(),
        }
    }

    fn dir(&self, rel: &str) -> PathBuf {
        let p = self.root.join(rel);
        fs::create_dir_all(&p).unwrap();
        p
    }

    fn mounted(&mut self, target: &Path) {
        self.mounts.push(target.to_path_buf());
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        for m in self.mounts.iter().rev() {
            let _ = nix::mount::umount2(m.as_path(), MntFlags::MNT_DETACH);
        }
        let _ = fs::remove_dir_all(&self.root);
    }
}

fn is_mounted(target: &Path) -> bool {
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    let t = target.display().to_string();
    mounts
        .lines()
        .any(|l| l.split(' ').nth(4) == Some(t.as_str()))
}

/// Three layers, bottom to top: base files; a middle file; a top layer
/// that whites out `gone` and makes `opq` opaque.
fn three_layers(s: &Scratch) -> Vec<PathBuf> {
    let (l0, l1, l2) = (s.dir("l0"), s.dir("l1"), s.dir("l2"));
    fs::write(l0.join("from0"), "0").unwrap();
    fs::write(l0.join("gone"), "should be hidden").unwrap();
    fs::create_dir(l0.join("opq")).unwrap();
    fs::write(l0.join("opq/old"), "hidden by opaque").unwrap();
    fs::write(l1.join("from1"), "1").unwrap();
    fs::write(l2.join("from2"), "2").unwrap();
    let dev = nix::sys::stat::makedev(0, 0);
    nix::sys::stat::mknod(
        &l2.join("gone"),
        nix::sys::stat::SFlag::S_IFCHR,
        Mode::empty(),
        dev,
    )
    .unwrap();
    fs::create_dir(l2.join("opq")).unwrap();
    fs::write(l2.join("opq/new"), "new").unwrap();
    crate::sys::xattr::lset(&l2.join("opq"), b"trusted.overlay.opaque", b"y").unwrap();
    vec![l2, l1, l0]
}

#[test]
fn mounts_layers_with_upper_whiteouts_and_opaque_dirs() {
    let mut s = Scratch::new("three");
    let lowers = three_layers(&s);
    let (upper, work, target) = (s.dir("upper"), s.dir("work"), s.dir("merged"));
    mount_overlay(&lowers, Some(&upper), Some(&work), &target).unwrap();
    s.mounted(&target);
    for (f, want) in [
        ("from0", "0"),
        ("from1", "1"),
        ("from2", "2"),
        ("opq/new", "new"),
    ] {
        assert_eq!(fs::read_to_string(target.join(f)).unwrap(), want, "{f}");
    }
    assert!(
        !target.join("gone").exists(),
        "whiteout must hide the lower file"
    );
    assert!(
        !target.join("opq/old").exists(),
        "opaque dir must hide lower contents"
    );
    fs::write(target.join("written"), "w").unwrap();
    assert_eq!(fs::read_to_string(upper.join("written")).unwrap(), "w");
    assert!(!lowers.iter().any(|l| l.join("written").exists()));
    unmount(&target).unwrap();
    assert!(!is_mounted(&target));
}

#[test]
fn classic_fallback_mounts_the_same_tree() {
    let mut s = Scratch::new("classic");
    let lowers = three_layers(&s);
    let (upper, work, target) = (s.dir("upper"), s.dir("work"), s.dir("merged"));
    mount_classic(&lowers, Some((&upper, &work)), &target).unwrap();
    s.mounted(&target);
    assert_eq!(fs::read_to_string(target.join("from0")).unwrap(), "0");
    assert!(!target.join("gone").exists());
    unmount(&target).unwrap();
    assert!(!is_mounted(&target));
}

#[test]
fn read_only_mounts_with_one_or_more_lowers() {
    let mut s = Scratch::new("ro");
    let lowers = three_layers(&s);
    let (one, many) = (s.dir("one"), s.dir("many"));
    mount_overlay(&lowers[2..], None, None, &one).unwrap();
    s.mounted(&one);
    mount_overlay(&lowers, None, None, &many).unwrap();
    s.mounted(&many);
    assert_eq!(fs::read_to_string(one.join("from0")).unwrap(), "0");
    assert_eq!(fs::read_to_string(many.join("from2")).unwrap(), "2");
    for t in [&one, &many] {
        let e = fs::write(t.join("x"), "x").unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EROFS), "{}", t.display());
        unmount(t).unwrap();
        assert!(!is_mounted(t));
    }
}

/// 200 layers whose paths alone are ~30 KB of options: far over a page.
fn many_layers(s: &Scratch) -> Vec<PathBuf> {
    let long = "a-rather-long-layer-directory-name-as-content-stores-make-them".repeat(2);
    let lowers: Vec<PathBuf> = (0..200)
        .map(|i| s.dir(&format!("{long}/{i:03}-{long}")))
        .collect();
    fs::write(lowers[0].join("bottom"), "bottom").unwrap();
    fs::write(lowers[199].join("top"), "top").unwrap();
    lowers.into_iter().rev().collect()
}

#[test]
fn mounts_many_layers_with_long_paths() {
    let mut s = Scratch::new("many");
    let lowers = many_layers(&s);
    assert!(
        classic_options(
            &lowers
                .iter()
                .map(|l| l.display().to_string())
                .collect::<Vec<_>>(),
            None
        )
        .len()
            > MOUNT_DATA_MAX
    );
    let (upper, work, target) = (s.dir("upper"), s.dir("work"), s.dir("merged"));
    mount_overlay(&lowers, Some(&upper), Some(&work), &target).unwrap();
    s.mounted(&target);
    assert_eq!(fs::read_to_string(target.join("bottom")).unwrap(), "bottom");
    assert_eq!(fs::read_to_string(target.join("top")).unwrap(), "top");
    unmount(&target).unwrap();
    assert!(!is_mounted(&target));
}

#[test]
fn classic_fallback_mounts_many_layers_through_proc_fds() {
    let mut s = Scratch::new("many-classic");
    let lowers = many_layers(&s);
    let target = s.dir("merged");
    mount_classic(&lowers, None, &target).unwrap();
    s.mounted(&target);
    assert_eq!(fs::read_to_string(target.join("bottom")).unwrap(), "bottom");
    unmount(&target).unwrap();
    assert!(!is_mounted(&target));
}

fn kernel_at_least(major: u32, minor: u32) -> bool {
    let uts = nix::sys::utsname::uname().unwrap();
    let release = uts.release().to_string_lossy().into_owned();
    let mut nums = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse::<u32>().unwrap_or(0));
    (nums.next().unwrap_or(0), nums.next().unwrap_or(0)) >= (major, minor)
}

#[test]
fn new_mount_api_takes_many_layers_on_6_8_and_later() {
    if !kernel_at_least(6, 8) {
        eprintln!("skipped: lowerdir+ needs Linux 6.8");
        return;
    }
    let mut s = Scratch::new("many-new");
    let lowers = many_layers(&s);
    let target = s.dir("merged");
    match mount_new_api(&lowers, None, &target) {
        Ok(()) => {}
        Err(NewApi::Unsupported) => panic!("fsopen or lowerdir+ reported unsupported"),
        Err(NewApi::Failed(e)) => panic!("{e}"),
    }
    s.mounted(&target);
    assert_eq!(fs::read_to_string(target.join("bottom")).unwrap(), "bottom");
    unmount(&target).unwrap();
    assert!(!is_mounted(&target));
}
