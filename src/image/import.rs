//! `image import`: an OCI image layout directory, an oci-archive (that
//! layout in a tar) or a docker-archive (`docker save`, skopeo's
//! `docker-archive:`) into the store.
//!
//! Every blob is hashed while it is copied into the store and renamed into
//! place only when it matches its descriptor; the manifest's platform must
//! be the host's; each layer is unpacked once and its diff ID checked
//! against the config's `rootfs.diff_ids`; only then is the name recorded.
//! Importing a name that exists replaces it (like `docker load`); the old
//! image's blobs stay until `image prune`.

mod docker;
mod layout;
pub mod oci;
pub mod progress;

use crate::image::store::{Digest, ImageRecord, LayerMeta, LayerRef, Store, StoreError, TempPath};
use crate::image::unpack::{unpack_layer, UnpackOpts};
use oci::{Descriptor, ImageConfig, Platform};
use progress::Progress;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("import {0}: no such file or directory")]
    Missing(String),
    #[error("{0}: not an OCI image layout (no index.json), oci-archive or docker-archive (no manifest.json)")]
    NotAnImage(PathBuf),
    #[error("{path}: not a tar archive: {source}")]
    NotATar { path: PathBuf, source: io::Error },
    #[error("open {path}: {source}")]
    Open { path: PathBuf, source: io::Error },
    #[error("{path}: invalid {what}: {source}")]
    Parse {
        path: PathBuf,
        what: String,
        source: serde_json::Error,
    },
    #[error("{source_path}: blob {digest} is missing")]
    MissingBlob {
        source_path: PathBuf,
        digest: Digest,
    },
    #[error("{path}: no image tagged {tag:?} (tags: {tags})")]
    NoTag {
        path: PathBuf,
        tag: String,
        tags: String,
    },
    #[error("{path} holds several images ({tags}); choose one with {path}:TAG")]
    Ambiguous { path: PathBuf, tags: String },
    #[error("{path}: no image for this host's platform {host} (has {available})")]
    NoPlatform {
        path: PathBuf,
        host: String,
        available: String,
    },
    #[error("{0}: the image index lists no images")]
    Empty(PathBuf),
    #[error("{path}: nested image indexes deeper than {MAX_DEPTH}")]
    TooDeep { path: PathBuf },
    #[error("{path}: image platform {image} does not match host platform {host}")]
    Platform {
        path: PathBuf,
        image: String,
        host: String,
    },
    #[error("{path}: unsupported {what} media type {media_type:?}")]
    MediaType {
        path: PathBuf,
        what: String,
        media_type: String,
    },
    #[error("{path}: the manifest has {layers} layers but the config lists {diff_ids} diff IDs")]
    LayerCount {
        path: PathBuf,
        layers: usize,
        diff_ids: usize,
    },
    #[error("{0}")]
    Name(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub type Result<T> = std::result::Result<T, ImportError>;

const MAX_DEPTH: usize = 4;

#[derive(Debug, Default, Clone)]
pub struct ImportOpts {
    /// Name to record (`NAME[:TAG]`); defaults to the name in the source.
    pub name: Option<String>,
    /// Draw progress on stderr (the CLI sets this when stderr is a tty).
    pub progress: bool,
}

#[derive(Debug, Clone)]
pub struct Imported {
    pub name: String,
    pub record: ImageRecord,
    /// The config digest the name pointed at before, if it was replaced.
    pub replaced: Option<Digest>,
}

/// Imports `source` (`PATH` or `PATH:TAG`; an optional `oci:`,
/// `oci-archive:` or `docker-archive:` prefix is accepted and ignored: the
/// format is read from the content).
pub fn import(store: &Store, source: &str, opts: &ImportOpts) -> Result<Imported> {
    let (path, tag) = parse_source(source)?;
    // Held until the name is recorded: prune must not take the blobs and
    // layers this import has stored but not yet referenced.
    let _gc = store.gc_shared()?;
    let staged;
    let dir = if path.is_dir() {
        path.clone()
    } else {
        staged = stage_archive(store, &path)?;
        staged.0.clone()
    };
    let mut ctx = Ctx {
        store,
        dir: &dir,
        src: &path,
        progress: Progress::new(opts.progress),
        host: oci::host_platform(),
    };
    let found = if dir.join("index.json").is_file() {
        layout::read(&mut ctx, tag.as_deref())?
    } else if dir.join("manifest.json").is_file() {
        docker::read(&mut ctx, tag.as_deref())?
    } else {
        return Err(ImportError::NotAnImage(path));
    };
    let name = choose_name(opts.name.as_deref(), found.name.as_deref(), &path)?;
    ctx.finish(name, found)
}

/// What a format reader found and stored: the manifest and config blobs
/// (verified), the layer blobs (verified) and the name the source gives.
pub(crate) struct Found {
    pub name: Option<String>,
    pub manifest: Digest,
    pub config_digest: Digest,
    pub config: ImageConfig,
    pub layers: Vec<Descriptor>,
}

/// Splits `PATH:TAG` when `PATH` exists and the whole string does not.
pub fn parse_source(source: &str) -> Result<(PathBuf, Option<String>)> {
    let s = ["oci:", "oci-archive:", "docker-archive:"]
        .iter()
        .find_map(|p| source.strip_prefix(p))
        .unwrap_or(source);
    if Path::new(s).exists() {
        return Ok((PathBuf::from(s), None));
    }
    if let Some((p, tag)) = s.rsplit_once(':') {
        if !p.is_empty() && !tag.contains('/') && Path::new(p).exists() {
            return Ok((PathBuf::from(p), Some(tag.to_string())));
        }
    }
    Err(ImportError::Missing(source.to_string()))
}

/// The recorded name: `--name`, else the source's own name (a ref name
/// that is only a tag is put after the source's file name), else the file
/// name with `latest`.
pub fn choose_name(given: Option<&str>, found: Option<&str>, path: &Path) -> Result<String> {
    let stem = || {
        let f = path.file_name().and_then(|f| f.to_str()).unwrap_or("image");
        f.strip_suffix(".tar").unwrap_or(f).to_string()
    };
    let name = match (given, found) {
        (Some(n), _) => n.to_string(),
        (None, Some(r)) if r.contains('/') || r.contains(':') => r.to_string(),
        (None, Some(tag)) => format!("{}:{tag}", stem()),
        (None, None) => stem(),
    };
    oci::normalize_name(&name).map_err(ImportError::Name)
}

/// Extracts an archive into `<root>/tmp/import-*` (removed when the import
/// ends). Only directories, regular files and symlinks are extracted, and
/// symlinks are later followed only inside the staging directory.
fn stage_archive(store: &Store, path: &Path) -> Result<TempPath> {
    let open_err = |source| ImportError::Open {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(open_err)?;
    let dir = TempPath::new(
        store
            .tmp_dir()
            .join(format!("import-{}", crate::image::store::unique_suffix())),
    );
    std::fs::create_dir(&dir.0).map_err(|source| StoreError::CreateDir {
        path: dir.0.clone(),
        source,
    })?;
    let not_tar = |source| ImportError::NotATar {
        path: path.to_path_buf(),
        source,
    };
    let mut ar = tar::Archive::new(io::BufReader::new(file));
    ar.set_preserve_permissions(false);
    ar.set_unpack_xattrs(false);
    for entry in ar.entries().map_err(not_tar)? {
        let mut entry = entry.map_err(not_tar)?;
        let kind = entry.header().entry_type();
        if kind.is_file() || kind.is_dir() || kind.is_symlink() {
            entry.unpack_in(&dir.0).map_err(not_tar)?;
        }
    }
    Ok(dir)
}

/// One import in progress: the source directory (maybe staged) and where
/// its blobs go.
pub(crate) struct Ctx<'a> {
    pub store: &'a Store,
    pub dir: &'a Path,
    /// The path the user gave, for messages.
    pub src: &'a Path,
    pub progress: Progress,
    pub host: Platform,
}

impl Ctx<'_> {
    /// Opens `rel` inside the source, never following a symlink out of it.
    pub fn open(&self, rel: &str) -> io::Result<File> {
        let root = File::open(self.dir)?;
        let fd = crate::sys::fs::open_in_root(
            std::os::fd::AsFd::as_fd(&root),
            Path::new(rel),
            libc::O_RDONLY,
        )?;
        Ok(File::from(fd))
    }

    pub fn read_json<T: serde::de::DeserializeOwned>(&self, rel: &str, what: &str) -> Result<T> {
        let path = self.src.join(rel);
        let f = self.open(rel).map_err(|source| ImportError::Open {
            path: path.clone(),
            source,
        })?;
        let bytes = crate::image::store::read_limited(f, &path, what)?;
        self.parse(&bytes, what)
    }

    pub fn parse<T: serde::de::DeserializeOwned>(&self, bytes: &[u8], what: &str) -> Result<T> {
        serde_json::from_slice(bytes).map_err(|source| ImportError::Parse {
            path: self.src.to_path_buf(),
            what: what.into(),
            source,
        })
    }

    /// Copies the source file `rel` into the store, verifying it against
    /// `expected` (and `size`) as it streams.
    pub fn fetch(
        &mut self,
        rel: &str,
        expected: Option<&Digest>,
        size: Option<u64>,
        what: &str,
    ) -> Result<(Digest, u64)> {
        let mut f = self
            .open(rel)
            .map_err(|source| match (source.kind(), expected) {
                (io::ErrorKind::NotFound, Some(d)) => ImportError::MissingBlob {
                    source_path: self.src.to_path_buf(),
                    digest: d.clone(),
                },
                _ => ImportError::Open {
                    path: self.src.join(rel),
                    source,
                },
            })?;
        let label = format!(
            "{what} {}",
            expected
                .map(|d| d.short().to_string())
                .unwrap_or_else(|| rel.into())
        );
        let progress = &mut self.progress;
        let out = self.store.put_blob(
            &mut f,
            expected,
            size,
            &format!("{}: {what} {rel}", self.src.display()),
            &mut |n| progress.bytes(&label, n, size),
        );
        self.progress.finish();
        Ok(out?)
    }

    /// Fails unless the config's platform is the host's.
    pub fn check_platform(&self, cfg: &ImageConfig) -> Result<()> {
        let p = Platform {
            architecture: cfg.architecture.clone(),
            os: cfg.os.clone(),
            variant: cfg.variant.clone(),
        };
        if oci::platform_matches(&p, &self.host) {
            return Ok(());
        }
        Err(ImportError::Platform {
            path: self.src.to_path_buf(),
            image: p.to_string(),
            host: self.host.to_string(),
        })
    }

    /// Unpacks each layer (once per store), checks its diff ID, then
    /// records the name.
    fn finish(mut self, name: String, found: Found) -> Result<Imported> {
        let diff_ids = &found.config.rootfs.diff_ids;
        if diff_ids.len() != found.layers.len() {
            return Err(ImportError::LayerCount {
                path: self.src.to_path_buf(),
                layers: found.layers.len(),
                diff_ids: diff_ids.len(),
            });
        }
        let mut layers = Vec::new();
        let n = found.layers.len();
        for (i, (l, diff)) in found.layers.iter().zip(diff_ids).enumerate() {
            let meta = self.store.ensure_layer(&l.digest, diff, &mut unpack)?;
            self.progress.step(&format!(
                "layer {}/{n} {} ready ({} files)",
                i + 1,
                diff.short(),
                meta.files
            ));
            layers.push(LayerRef {
                digest: l.digest.clone(),
                diff_id: diff.clone(),
                size: l.size,
            });
        }
        let record = ImageRecord {
            manifest: found.manifest,
            config: found.config_digest,
            layers,
            created: found.config.created.clone(),
            imported: crate::timefmt::now_rfc3339(),
        };
        let replaced = self.store.update_images(|im| {
            let old = im.images.insert(name.clone(), record.clone());
            Ok(old.map(|o| o.config).filter(|c| *c != record.config))
        })?;
        Ok(Imported {
            name,
            record,
            replaced,
        })
    }
}

/// The store's unpacker: `unpack::unpack_layer`, device nodes refused.
fn unpack(
    f: File,
    dest: &Path,
) -> std::result::Result<LayerMeta, Box<dyn std::error::Error + Send + Sync>> {
    let info = unpack_layer(
        io::BufReader::new(f),
        dest,
        &UnpackOpts {
            allow_devices: false,
        },
    )?;
    Ok(LayerMeta {
        diff_id: Digest::parse(&info.diff_id)?,
        size: info.size,
        files: info.files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_tags() {
        let dir = std::env::temp_dir();
        let d = dir.to_str().unwrap();
        assert_eq!(parse_source(d).unwrap(), (dir.clone(), None));
        assert_eq!(
            parse_source(&format!("{d}:v1")).unwrap(),
            (dir.clone(), Some("v1".into()))
        );
        assert_eq!(
            parse_source(&format!("oci:{d}:v1")).unwrap(),
            (dir.clone(), Some("v1".into()))
        );
        assert!(matches!(
            parse_source("/nonexistent/x:v1"),
            Err(ImportError::Missing(_))
        ));
    }

    #[test]
    fn names() {
        let p = Path::new("/x/busybox-oci.tar");
        assert_eq!(choose_name(Some("a"), Some("b:c"), p).unwrap(), "a:latest");
        assert_eq!(
            choose_name(None, Some("localhost/b:c"), p).unwrap(),
            "localhost/b:c"
        );
        assert_eq!(choose_name(None, Some("v1"), p).unwrap(), "busybox-oci:v1");
        assert_eq!(
            choose_name(None, None, Path::new("/x/layout")).unwrap(),
            "layout:latest"
        );
        assert!(choose_name(Some("bad name"), None, p).is_err());
    }
}
