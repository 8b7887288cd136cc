use super::Global;
use crate::lifecycle::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Kill the container first if it is still running
    #[arg(short, long)]
    pub force: bool,
    pub id: String,
}

pub fn run(g: &Global, a: Args) -> Result<i32> {
    crate::lifecycle::delete::delete(&g.store(), &a.id, a.force)?;
    Ok(0)
}
