use super::Global;
use crate::lifecycle::{create::CreateOpts, Result};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
#[group(skip)]
pub struct Args {
    /// Path to the bundle directory
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket that receives the pty master when process.terminal is set
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// File to write the container's init pid to
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Do not use pivot_root (for a rootfs on ramfs)
    #[arg(long)]
    pub no_pivot: bool,
    /// Do not create a new session keyring
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass N extra fds (from fd 3) to the container
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    pub id: String,
}

impl Args {
    pub fn opts(&self) -> CreateOpts {
        CreateOpts {
            id: self.id.clone(),
            bundle: self.bundle.clone(),
            pid_file: self.pid_file.clone(),
            console_socket: self.console_socket.clone(),
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds,
        }
    }
}

pub fn run(g: &Global, a: Args) -> Result<i32> {
    g.check_cgroup_driver()?;
    crate::lifecycle::create::create(&g.store(), &a.opts())?;
    Ok(0)
}
