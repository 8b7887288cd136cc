use super::Global;
use crate::lifecycle::{Error, Result};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Send the signal to every process of the container
    #[arg(short, long)]
    pub all: bool,
    pub id: String,
    /// Signal name or number (default SIGTERM)
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

pub fn run(g: &Global, a: Args) -> Result<i32> {
    let sig = crate::signal::parse(&a.signal)
        .ok_or_else(|| Error::Usage(format!("unknown signal {:?}", a.signal)))?;
    crate::lifecycle::kill::kill(&g.store(), &a.id, sig, a.all)?;
    Ok(0)
}
