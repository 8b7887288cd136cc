//! `exec`: runc's flags.

use super::Global;
use crate::lifecycle::exec::ExecRequest;
use crate::lifecycle::{Error, Result};
use crate::spec::exec_plan::ExecOpts;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A process.json describing the process (instead of COMMAND)
    #[arg(short, long)]
    pub process: Option<PathBuf>,
    /// Return once the process started
    #[arg(short, long)]
    pub detach: bool,
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Working directory in the container
    #[arg(long)]
    pub cwd: Option<String>,
    /// Environment variables (K=V), repeatable
    #[arg(short, long)]
    pub env: Vec<String>,
    /// UID[:GID]
    #[arg(short, long)]
    pub user: Option<String>,
    #[arg(short = 'g', long)]
    pub additional_gids: Vec<u32>,
    /// Add a capability, repeatable
    #[arg(short, long)]
    pub cap: Vec<String>,
    #[arg(long)]
    pub no_new_privs: bool,
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    /// Exec even if the container is paused
    #[arg(long)]
    pub ignore_paused: bool,
    /// Accepted for runc compatibility (no AppArmor/SELinux support)
    #[arg(long, hide = true)]
    pub apparmor: Option<String>,
    #[arg(long, hide = true)]
    pub process_label: Option<String>,
    pub id: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub fn run(g: &Global, a: Args) -> Result<i32> {
    let process = match &a.process {
        Some(p) => {
            let text =
                std::fs::read(p).map_err(|e| Error::io(format!("read {}", p.display()), e))?;
            Some(serde_json::from_slice(&text).map_err(|e| {
                Error::Usage(format!("{}: malformed process.json: {e}", p.display()))
            })?)
        }
        None => None,
    };
    let req = ExecRequest {
        opts: ExecOpts {
            process,
            args: a.command,
            tty: a.tty,
            cwd: a.cwd,
            env: a.env,
            user: a.user,
            additional_gids: a.additional_gids,
            caps: a.cap,
            no_new_privs: a.no_new_privs,
            preserve_fds: a.preserve_fds,
        },
        detach: a.detach,
        pid_file: a.pid_file,
        console_socket: a.console_socket,
        ignore_paused: a.ignore_paused,
    };
    crate::lifecycle::exec::exec(&g.store(), &a.id, &req)
}
