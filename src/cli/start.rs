use super::Global;
use crate::lifecycle::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub id: String,
}

pub fn run(g: &Global, a: Args) -> Result<i32> {
    crate::lifecycle::start::start(&g.store(), &a.id)?;
    Ok(0)
}
