use super::Global;
use crate::lifecycle::{run::RunOpts, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub create: super::create::Args,
    /// Detach: return once the container is started
    #[arg(short, long)]
    pub detach: bool,
    /// Keep the container's state after it exits
    #[arg(long)]
    pub keep: bool,
    /// Accepted for runc compatibility
    #[arg(long, hide = true)]
    pub no_subreaper: bool,
}

pub fn run(g: &Global, a: Args) -> Result<i32> {
    g.check_cgroup_driver()?;
    let o = RunOpts {
        create: a.create.opts(),
        detach: a.detach,
        keep: a.keep,
    };
    crate::lifecycle::run::run(&g.store(), &o)
}
