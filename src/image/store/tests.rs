use super::*;
use std::sync::{Arc, Barrier};

struct Tmp(PathBuf);
impl Tmp {
    fn new(tag: &str) -> Tmp {
        let p = std::env::temp_dir().join(format!("berth-store-{tag}-{}", unique_suffix()));
        fs::create_dir_all(&p).unwrap();
        Tmp(p)
    }
}
impl Drop for Tmp {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    v.sort();
    v
}

#[test]
fn put_blob_verifies_while_copying() {
    let t = Tmp::new("put");
    let s = Store::open(&t.0).unwrap();
    let good = Digest::of(b"hello");
    let (d, n) = s
        .put_blob(
            &mut &b"hello"[..],
            Some(&good),
            Some(5),
            "blob",
            &mut |_| {},
        )
        .unwrap();
    assert_eq!((d.clone(), n), (good.clone(), 5));
    assert_eq!(s.read_blob(&good).unwrap(), b"hello");

    let err = s
        .put_blob(
            &mut &b"hellO"[..],
            Some(&Digest::of(b"other")),
            None,
            "blob x",
            &mut |_| {},
        )
        .unwrap_err();
    assert!(err.to_string().contains("digest mismatch"), "{err}");
    let err = s
        .put_blob(
            &mut &b"hello"[..],
            Some(&good),
            Some(6),
            "blob y",
            &mut |_| {},
        )
        .unwrap_err();
    assert!(matches!(err, StoreError::SizeMismatch { .. }), "{err}");
    // Nothing half-written: only the good blob remains.
    assert_eq!(entries(&s.blob_dir()), vec![good.hex().to_string()]);
}

fn fake_unpack(
    content: &'static [u8],
    count: Arc<std::sync::atomic::AtomicUsize>,
) -> impl FnMut(File, &Path) -> std::result::Result<LayerMeta, Box<dyn std::error::Error + Send + Sync>>
{
    move |_f, dest| {
        count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::thread::sleep(std::time::Duration::from_millis(30));
        fs::write(dest.join("file"), content)?;
        Ok(LayerMeta {
            diff_id: Digest::of(content),
            size: content.len() as u64,
            files: 1,
        })
    }
}

#[test]
fn layers_unpack_once_across_threads() {
    let t = Tmp::new("once");
    let s = Store::open(&t.0).unwrap();
    let (blob, _) = s
        .put_blob(&mut &b"blob"[..], None, None, "b", &mut |_| {})
        .unwrap();
    let diff = Digest::of(b"layer");
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(4));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (root, blob, diff, count, barrier) = (
                t.0.clone(),
                blob.clone(),
                diff.clone(),
                count.clone(),
                barrier.clone(),
            );
            std::thread::spawn(move || {
                let s = Store::open(&root).unwrap();
                barrier.wait();
                s.ensure_layer(&blob, &diff, &mut fake_unpack(b"layer", count))
                    .unwrap()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().size, 5);
    }
    assert_eq!(count.load(std::sync::atomic::Ordering::SeqCst), 1);
    assert_eq!(
        fs::read(s.layer_path(&diff).join("file")).unwrap(),
        b"layer"
    );
}

#[test]
fn diff_id_mismatch_leaves_no_layer() {
    let t = Tmp::new("diff");
    let s = Store::open(&t.0).unwrap();
    let (blob, _) = s
        .put_blob(&mut &b"blob"[..], None, None, "b", &mut |_| {})
        .unwrap();
    let claimed = Digest::of(b"claimed");
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let err = s
        .ensure_layer(&blob, &claimed, &mut fake_unpack(b"actual", count))
        .unwrap_err();
    assert!(matches!(err, StoreError::DiffIdMismatch { .. }), "{err}");
    let left: Vec<String> = entries(&s.layer_dir())
        .into_iter()
        .filter(|n| !n.ends_with(".lock"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

fn record(blob: &Digest, diff: &Digest) -> ImageRecord {
    ImageRecord {
        manifest: blob.clone(),
        config: blob.clone(),
        layers: vec![LayerRef {
            digest: blob.clone(),
            diff_id: diff.clone(),
            size: 4,
        }],
        created: None,
        imported: "now".into(),
    }
}

#[test]
fn names_resolve_and_prune_keeps_used() {
    let t = Tmp::new("prune");
    let s = Store::open(&t.0).unwrap();
    let (used, _) = s
        .put_blob(&mut &b"used"[..], None, None, "b", &mut |_| {})
        .unwrap();
    let (unused, _) = s
        .put_blob(&mut &b"unused"[..], None, None, "b", &mut |_| {})
        .unwrap();
    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let d1 = Digest::of(b"l1");
    let d2 = Digest::of(b"l2");
    s.ensure_layer(&used, &d1, &mut fake_unpack(b"l1", count.clone()))
        .unwrap();
    s.ensure_layer(&unused, &d2, &mut fake_unpack(b"l2", count))
        .unwrap();
    s.update_images(|im| {
        im.images
            .insert("busybox:latest".into(), record(&used, &d1));
        Ok(())
    })
    .unwrap();
    assert_eq!(s.resolve("busybox").unwrap().0, "busybox:latest");
    assert_eq!(s.resolve(&used.hex()[..8]).unwrap().0, "busybox:latest");
    assert!(matches!(
        s.resolve("nope"),
        Err(StoreError::UnknownImage(_))
    ));

    let report = s.prune().unwrap();
    assert_eq!(
        report,
        PruneReport {
            blobs: 1,
            layers: 1
        }
    );
    assert!(s.has_blob(&used) && !s.has_blob(&unused));
    assert!(s.layer_meta(&d1).unwrap().is_some());
    assert!(s.layer_meta(&d2).unwrap().is_none());
    assert!(!s.layer_dir().join(format!("{}.json", d2.hex())).exists());
}

#[test]
fn mount_key_is_stable() {
    assert_eq!(mount_key(Path::new("/a/b")), mount_key(Path::new("/a/b")));
    assert_ne!(mount_key(Path::new("/a/b")), mount_key(Path::new("/a/c")));
    assert_eq!(mount_key(Path::new("/a")).len(), 32);
}
