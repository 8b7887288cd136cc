//! Images: a content-addressed store under `--image-root`, import from OCI
//! layouts, oci-archive and docker-archive tarballs, layers unpacked once
//! (OCI whiteouts translated to overlayfs form, hostile entries refused),
//! and overlayfs root filesystems over the shared layer directories.

pub mod import;
pub mod overlay;
pub mod spec;
pub mod store;
pub mod unpack;
