//! Command-line interface: runc's verbs and flags (clap). Each verb lives in
//! its own file and only translates arguments into a `lifecycle` call.

pub mod container;
mod container_view;
mod create;
mod delete;
mod exec;
mod features;
pub mod image;
mod kill;
mod list;
mod pause;
mod run;
mod spec;
mod start;
mod state;
mod update;

use crate::lifecycle::{Error, Result};
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "berth", version, about = "A small, fast OCI container runtime")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Args)]
pub struct Global {
    /// Directory for container state (tmpfs recommended)
    #[arg(long, global = true, default_value = "/run/berth")]
    pub root: PathBuf,
    /// Append log lines to this file
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Format of the log lines
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log debug messages
    #[arg(long, global = true)]
    pub debug: bool,
    /// Directory of the image store (blobs, unpacked layers, mounts)
    #[arg(long, global = true, default_value = "/var/lib/berth")]
    pub image_root: PathBuf,
    /// Use the systemd cgroup driver (needs a running systemd)
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new specification file (config.json)
    Spec(spec::Args),
    /// Create a container; its process waits for `start`
    Create(create::Args),
    /// Run the user-defined process of a created container
    Start(start::Args),
    /// Output the state of a container
    State(state::Args),
    /// Send a signal to the container's init process
    Kill(kill::Args),
    /// Delete a container and everything it holds
    Delete(delete::Args),
    /// Create and start a container
    Run(run::Args),
    /// List containers
    List(list::Args),
    /// Freeze every process of a container
    Pause(pause::IdArgs),
    /// Thaw a paused container
    Resume(pause::IdArgs),
    /// Show the processes of a container
    Ps(pause::PsArgs),
    /// Change the resource limits of a container
    Update(update::UpdateArgs),
    /// Stream statistics and OOM events of a container
    Events(update::EventsArgs),
    /// Print the OCI features this runtime supports
    Features,
    /// Run a new process inside a container
    Exec(exec::Args),
    /// Import, list, inspect, mount and remove images
    #[command(subcommand)]
    Image(image::ImageCommand),
    /// Run images as supervised containers (the engine)
    #[command(subcommand)]
    Container(container::ContainerCommand),
}

/// Runs the parsed command; returns the process exit code.
pub fn dispatch(cli: Cli) -> Result<i32> {
    let g = &cli.global;
    match cli.command {
        Command::Spec(a) => spec::run(a),
        Command::Create(a) => create::run(g, a),
        Command::Start(a) => start::run(g, a),
        Command::State(a) => state::run(g, a),
        Command::Kill(a) => kill::run(g, a),
        Command::Delete(a) => delete::run(g, a),
        Command::Run(a) => run::run(g, a),
        Command::List(a) => list::run(g, a),
        Command::Pause(a) => pause::run_pause(g, a),
        Command::Resume(a) => pause::run_resume(g, a),
        Command::Ps(a) => pause::run_ps(g, a),
        Command::Update(a) => update::run_update(g, a),
        Command::Events(a) => update::run_events(g, a),
        Command::Features => features::run(),
        Command::Exec(a) => exec::run(g, a),
        Command::Image(c) => image::run(g, c),
        Command::Container(c) => container::run(g, c),
    }
}

impl Global {
    pub fn store(&self) -> crate::state::store::Store {
        crate::state::store::Store::new(&self.root)
    }

    /// `--systemd-cgroup` needs systemd; say so instead of failing later.
    pub fn check_cgroup_driver(&self) -> Result<()> {
        if self.systemd_cgroup && !std::path::Path::new("/run/systemd/system").is_dir() {
            return Err(Error::Usage(
                "--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); drop the flag to use cgroupfs".into(),
            ));
        }
        Ok(())
    }
}
