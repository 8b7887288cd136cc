use super::Global;
use crate::lifecycle::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    pub id: String,
}

pub fn run(g: &Global, a: Args) -> Result<i32> {
    let view = crate::lifecycle::query::state(&g.store(), &a.id)?;
    println!(
        "{}",
        serde_json::to_string_pretty(&view).expect("state serialises")
    );
    Ok(0)
}
