//! Creating an engine container: the image (imported first when given as
//! a path), its writable layer and overlay rootfs, the bundle's
//! config.json, and the record.

use super::record::{Phase, Record, State};
use super::spec::RunConfig;
use super::{io, new_id, Engine, EngineError, Result};
use crate::image::import::oci::ImageConfig;
use crate::image::spec::{image_spec, read_in_rootfs, resolve_user, BundleOpts};
use crate::image::store::{ImageRecord, Store};
use crate::supervisor::policy::Policy;
use std::path::{Path, PathBuf};

/// `container run` besides the spec-shaping flags.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub cfg: RunConfig,
    pub policy: Policy,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<u64>,
    pub auto_remove: bool,
}

fn msg(e: impl std::fmt::Display) -> EngineError {
    EngineError::Msg(e.to_string())
}

/// A stored image name, importing IMAGE first when it is a path to an OCI
/// layout, oci-archive or docker-archive.
pub fn image_name(store: &Store, image: &str) -> Result<String> {
    let path_part = image.split(':').next().unwrap_or(image);
    if Path::new(path_part).exists() && (image.starts_with('/') || image.starts_with('.')) {
        let opts = crate::image::import::ImportOpts {
            name: None,
            progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        };
        let imported = crate::image::import::import(store, image, &opts).map_err(msg)?;
        return Ok(imported.name);
    }
    store
        .resolve(image)
        .map(|(n, _)| n)
        .map_err(|_| EngineError::Msg(format!("no such image: {image}")))
}

pub fn rootfs(e: &Engine, id: &str) -> PathBuf {
    e.dir(id).join("bundle/rootfs")
}

fn is_mounted(target: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (
        std::fs::metadata(target),
        target.parent().map(std::fs::metadata),
    ) {
        (Ok(t), Some(Ok(p))) => t.dev() != p.dev(),
        _ => false,
    }
}

/// Mounts the container's overlay rootfs unless it already is: at create,
/// and at every start of a stopped container (its rootfs is unmounted when
/// it stops; `upper/` and `work/` are kept).
pub fn ensure_rootfs(e: &Engine, r: &Record) -> Result<()> {
    let target = rootfs(e, &r.id);
    if is_mounted(&target) {
        return Ok(());
    }
    let store = Store::open(&e.image_root).map_err(msg)?;
    let lowers = record_lowers(&store, r)?;
    let dir = e.dir(&r.id);
    for d in [dir.join("upper"), dir.join("work"), target.clone()] {
        std::fs::create_dir_all(&d).map_err(|err| io("create", &d, err))?;
    }
    crate::image::overlay::mount_overlay(
        &lowers,
        Some(&dir.join("upper")),
        Some(&dir.join("work")),
        &target,
    )
    .map_err(msg)
}

/// The layers the container was created from, top-most first: its image
/// name may since have been removed or pointed at another image (prune
/// keeps layers that records list).
fn record_lowers(store: &Store, r: &Record) -> Result<Vec<PathBuf>> {
    r.layers
        .iter()
        .rev()
        .map(|hex| {
            crate::image::store::Digest::from_hex(hex)
                .map(|d| store.layer_path(&d))
                .filter(|p| p.is_dir())
                .ok_or_else(|| {
                    EngineError::Msg(format!("layer {hex} of container {} is gone", r.name))
                })
        })
        .collect()
}

/// Unmounts the container's overlay rootfs if it is mounted; its writable
/// layer stays.
pub fn release_rootfs(e: &Engine, id: &str) -> Result<()> {
    let target = rootfs(e, id);
    if is_mounted(&target) {
        crate::image::overlay::unmount(&target).map_err(msg)?;
    }
    Ok(())
}

/// Creates the container; on failure nothing is left.
pub fn create(e: &Engine, req: &RunRequest) -> Result<Record> {
    let store = Store::open(&e.image_root).map_err(msg)?;
    let image = image_name(&store, &req.cfg.image)?;
    let (_, img) = store.resolve(&image).map_err(msg)?;
    let id = new_id();
    let name = req
        .cfg
        .name
        .clone()
        .unwrap_or_else(|| format!("berth-{}", &id[..8]));
    if !super::spec::valid_volume_name(&name) {
        return Err(EngineError::Msg(format!(
            "invalid container name {name:?}: use letters, digits, '_', '.', '-'"
        )));
    }
    let containers = e.containers();
    std::fs::create_dir_all(&containers).map_err(|err| io("create", &containers, err))?;
    let _all = lock_all(e)?;
    if e.list().iter().any(|r| r.name == name) {
        return Err(EngineError::Msg(format!(
            "the container name {name:?} is already in use"
        )));
    }
    let dir = e.dir(&id);
    std::fs::create_dir_all(dir.join("bundle")).map_err(|err| io("create", &dir, err))?;
    let record = new_record(&id, &name, &image, &img, req);
    let made = e
        .save(&record)
        .and_then(|_| ensure_rootfs(e, &record))
        .and_then(|_| write_config(e, &store, &img, &record, req));
    if let Err(err) = made {
        let _ = release_rootfs(e, &id);
        let _ = std::fs::remove_dir_all(&dir);
        return Err(err);
    }
    Ok(record)
}

fn lock_all(e: &Engine) -> Result<nix::fcntl::Flock<std::fs::File>> {
    let p = e.containers().join(".lock");
    let f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&p)
        .map_err(|err| io("open", &p, err))?;
    nix::fcntl::Flock::lock(f, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, err)| io("lock", &p, err.into()))
}

fn new_record(id: &str, name: &str, image: &str, img: &ImageRecord, req: &RunRequest) -> Record {
    Record {
        id: id.into(),
        name: name.into(),
        image: image.into(),
        layers: img
            .layers
            .iter()
            .map(|l| l.diff_id.hex().to_string())
            .collect(),
        created: crate::timefmt::now_rfc3339(),
        policy: req.policy,
        stop_signal: req.stop_signal.clone().unwrap_or_else(|| "SIGTERM".into()),
        stop_timeout: req.stop_timeout.unwrap_or(10),
        auto_remove: req.auto_remove,
        tty: req.cfg.tty,
        labels: req
            .cfg
            .labels
            .iter()
            .map(|l| {
                l.split_once('=')
                    .map_or((l.clone(), String::new()), |(k, v)| (k.into(), v.into()))
            })
            .collect(),
        state: State {
            phase: Phase::Created,
            exit_code: None,
            started_at: None,
            finished_at: None,
            started_epoch: None,
            finished_epoch: None,
            restarts: 0,
            supervisor: None,
            init_pid: None,
            manually_stopped: false,
        },
    }
}

fn write_config(
    e: &Engine,
    store: &Store,
    img: &ImageRecord,
    r: &Record,
    req: &RunRequest,
) -> Result<()> {
    let cfg: ImageConfig =
        serde_json::from_slice(&store.read_blob(&img.config).map_err(msg)?).map_err(msg)?;
    let root = rootfs(e, &r.id);
    let user_str = req
        .cfg
        .user
        .clone()
        .or_else(|| cfg.config.as_ref().and_then(|c| c.user.clone()))
        .unwrap_or_default();
    let passwd = read_in_rootfs(&root, "etc/passwd").map_err(msg)?;
    let group = read_in_rootfs(&root, "etc/group").map_err(msg)?;
    let user = resolve_user(&user_str, &passwd, &group).map_err(msg)?;
    let opts = BundleOpts {
        args: req.cfg.args.clone(),
        terminal: req.cfg.tty,
    };
    let spec = image_spec(&cfg, &user, &r.image, &root, &opts).map_err(msg)?;
    let mut v = serde_json::to_value(&spec).map_err(msg)?;
    if let Some(ep) = &req.cfg.entrypoint {
        let mut args = vec![ep.clone()];
        args.extend(req.cfg.args.iter().cloned());
        v["process"]["args"] = serde_json::json!(args);
    }
    // Docker's default hostname: the container id.
    v["hostname"] = serde_json::json!(r.id);
    super::spec::apply(&mut v, &req.cfg, &e.volumes())?;
    let path = e.dir(&r.id).join("bundle/config.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&v).map_err(msg)?)
        .map_err(|err| io("write", &path, err))
}
