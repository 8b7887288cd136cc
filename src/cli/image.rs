//! `berth image ...`: import, list, inspect, remove, prune, mount and
//! bundle images in the store under the image root.

use super::Global;
use crate::image::import::{self, progress::human, ImportOpts};
use crate::image::spec::{self, BundleOpts};
use crate::image::store::{self, ImageRecord, Store};
use crate::lifecycle::{Error, Result};
use clap::{Subcommand, ValueEnum};
use serde_json::{json, Value};
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Import an image: an OCI layout directory (PATH[:TAG]), an
    /// oci-archive or a docker-archive tarball. An existing name is
    /// replaced, as `docker load` does.
    Import {
        /// PATH or PATH:TAG
        source: String,
        /// Name to give the image (NAME[:TAG]; the tag defaults to latest)
        #[arg(long)]
        name: Option<String>,
    },
    /// List images
    #[command(alias = "list")]
    Ls {
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Show an image's manifest digest, config and layers as JSON
    Inspect { name: String },
    /// Remove image names (the data stays until `image prune`)
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Delete blobs and layers that no image, mount or container uses
    Prune,
    /// Mount an image's root filesystem (overlayfs) on DIR
    Mount { name: String, dir: PathBuf },
    /// Unmount DIR (a mount target or a bundle) and discard its writes
    #[command(alias = "umount")]
    Unmount { dir: PathBuf },
    /// Make DIR a runnable bundle: DIR/rootfs mounted, DIR/config.json
    Bundle {
        name: String,
        dir: PathBuf,
        /// Give the process a terminal
        #[arg(short, long)]
        tty: bool,
        /// Command replacing the image's Cmd
        #[arg(last = true)]
        args: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

/// Where the store lives: the global `--image-root`.
pub fn image_root(g: &Global) -> PathBuf {
    g.image_root.clone()
}

fn fail(e: impl std::fmt::Display) -> Error {
    Error::State(e.to_string())
}

pub fn run(g: &Global, cmd: ImageCommand) -> Result<i32> {
    let store = Store::open(&image_root(g)).map_err(fail)?;
    match cmd {
        ImageCommand::Import { source, name } => import(&store, &source, name),
        ImageCommand::Ls { format } => ls(&store, format),
        ImageCommand::Inspect { name } => inspect(&store, &name),
        ImageCommand::Rm { names } => rm(&store, &names),
        ImageCommand::Prune => {
            let r = store.prune().map_err(fail)?;
            println!("Deleted {} blobs and {} layers", r.blobs, r.layers);
            Ok(0)
        }
        ImageCommand::Mount { name, dir } => {
            let rec = store.mount_image(&name, &dir).map_err(fail)?;
            println!("{}", rec.target.display());
            Ok(0)
        }
        ImageCommand::Unmount { dir } => {
            store.unmount(&dir).map_err(fail)?;
            Ok(0)
        }
        ImageCommand::Bundle {
            name,
            dir,
            tty,
            args,
        } => {
            let opts = BundleOpts {
                args,
                terminal: tty,
            };
            spec::write_bundle(&store, &name, &dir, &opts).map_err(fail)?;
            println!("{}", dir.display());
            Ok(0)
        }
    }
}

fn import(store: &Store, source: &str, name: Option<String>) -> Result<i32> {
    let opts = ImportOpts {
        name,
        progress: std::io::stderr().is_terminal(),
    };
    let done = import::import(store, source, &opts).map_err(fail)?;
    if let Some(old) = done.replaced {
        eprintln!(
            "The name {} moved from image {} to the new image",
            done.name,
            old.short()
        );
    }
    println!("Loaded image: {}", done.name);
    Ok(0)
}

/// Uncompressed size of an image's layers as unpacked.
fn image_size(store: &Store, r: &ImageRecord) -> u64 {
    let meta = |l: &store::LayerRef| store.layer_meta(&l.diff_id).ok().flatten();
    r.layers
        .iter()
        .map(|l| meta(l).map(|m| m.size).unwrap_or(l.size))
        .sum()
}

fn ls(store: &Store, format: Format) -> Result<i32> {
    let images = store.images().map_err(fail)?;
    if format == Format::Json {
        let list: Vec<Value> = images
            .images
            .iter()
            .map(|(name, r)| {
                json!({"name": name, "id": r.config, "manifest": r.manifest, "size": image_size(store, r),
                       "created": r.created, "layers": r.layers.len()})
            })
            .collect();
        println!(
            "{}",
            serde_json::to_string_pretty(&list).expect("list serialises")
        );
        return Ok(0);
    }
    let rows: Vec<[String; 4]> = images
        .images
        .iter()
        .map(|(name, r)| {
            let created = r.created.as_deref().map(short_time).unwrap_or_default();
            [
                name.clone(),
                r.config.short().into(),
                human(image_size(store, r)),
                created,
            ]
        })
        .collect();
    print!("{}", table(&["NAME", "ID", "SIZE", "CREATED"], &rows));
    Ok(0)
}

/// `2024-01-02T03:04:05.678Z` -> `2024-01-02 03:04:05`.
fn short_time(t: &str) -> String {
    t.get(..19).unwrap_or(t).replacen('T', " ", 1)
}

/// Left-aligned columns three spaces apart, like `docker images`.
fn table(head: &[&str; 4], rows: &[[String; 4]]) -> String {
    let mut width = head.map(str::len);
    for r in rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.len());
        }
    }
    let line = |cells: [&str; 4]| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}   ", w = width[i]));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(*head);
    for r in rows {
        out.push_str(&line([&r[0], &r[1], &r[2], &r[3]]));
    }
    out
}

fn inspect(store: &Store, name: &str) -> Result<i32> {
    let (name, r) = store.resolve(name).map_err(fail)?;
    let config: Value = serde_json::from_slice(&store.read_blob(&r.config).map_err(fail)?)
        .map_err(|e| fail(format!("image {name}: config {}: {e}", r.config)))?;
    let layers: Vec<Value> = r
        .layers
        .iter()
        .map(|l| {
            let unpacked = store.layer_meta(&l.diff_id).ok().flatten().map(|m| m.size);
            json!({"digest": l.digest, "diff_id": l.diff_id, "size": l.size, "unpacked_size": unpacked,
                   "path": store.layer_path(&l.diff_id)})
        })
        .collect();
    let out = json!({
        "name": name, "id": r.config, "manifest": r.manifest, "created": r.created,
        "imported": r.imported, "size": image_size(store, &r), "config": config, "layers": layers,
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&out).expect("inspect serialises")
    );
    Ok(0)
}

fn rm(store: &Store, names: &[String]) -> Result<i32> {
    for n in names {
        let removed = store
            .update_images(|im| {
                let (name, _) = store::lookup(im, n)?;
                im.images.remove(&name);
                Ok(name)
            })
            .map_err(fail)?;
        println!("Untagged: {removed}");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn table_aligns() {
        let rows = [[
            "busybox:latest".to_string(),
            "abc".into(),
            "1MB".into(),
            "".into(),
        ]];
        let t = super::table(&["NAME", "ID", "SIZE", "CREATED"], &rows);
        assert_eq!(
            t,
            "NAME             ID    SIZE   CREATED\nbusybox:latest   abc   1MB\n"
        );
        assert_eq!(
            super::short_time("2024-01-02T03:04:05.678Z"),
            "2024-01-02 03:04:05"
        );
    }
}
