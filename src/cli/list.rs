use super::Global;
use crate::lifecycle::Result;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output format
    #[arg(short, long, value_parser = ["table", "json"], default_value = "table")]
    pub format: String,
    /// Print only the container ids
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn run(g: &Global, a: Args) -> Result<i32> {
    let rows = crate::lifecycle::query::list(&g.store());
    if a.quiet {
        rows.iter().for_each(|r| println!("{}", r.id));
    } else if a.format == "json" {
        println!("{}", serde_json::to_string(&rows).expect("list serialises"));
    } else {
        print!("{}", crate::lifecycle::query::table(&rows));
    }
    Ok(0)
}
