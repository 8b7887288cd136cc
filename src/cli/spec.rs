//! `spec`: write a default config.json, like `runc spec`.

use crate::lifecycle::{Error, Result};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Directory to write config.json into
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// A spec for a container run by a non-root user (user namespace)
    #[arg(long)]
    pub rootless: bool,
}

pub fn run(a: Args) -> Result<i32> {
    let path = a.bundle.join("config.json");
    if path.exists() {
        return Err(Error::Usage(format!(
            "{}: file exists; remove it first",
            path.display()
        )));
    }
    let spec = default_spec(a.rootless);
    let text = serde_json::to_string_pretty(&spec).expect("spec serialises");
    std::fs::write(&path, text + "\n")
        .map_err(|e| Error::io(format!("write {}", path.display()), e))?;
    Ok(0)
}

pub fn default_spec(rootless: bool) -> oci_spec::runtime::Spec {
    let mut spec = if rootless {
        let uid = nix::unistd::getuid().as_raw();
        let gid = nix::unistd::getgid().as_raw();
        oci_spec::runtime::Spec::rootless(uid, gid)
    } else {
        oci_spec::runtime::Spec::default()
    };
    spec.set_hostname(Some("berth".into()));
    if let Some(p) = spec.process_mut() {
        p.set_terminal(Some(true));
    }
    spec
}
