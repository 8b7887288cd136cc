//! The shortest path through the runtime: run a container, read its output.
mod common;
use common::*;

#[test]
fn run_prints_output_and_exit_code() {
    let rt = Runtime::new();
    let b = Bundle::new(&["/bin/probe", "echo", "hello", "berth"]);
    assert_eq!(rt.output_of(&b), "hello berth\n");
    let mut b = Bundle::new(&["/bin/probe", "exit", "7"]);
    b.args(&["/bin/probe", "exit", "7"]);
    let (code, _, _) = rt.run_bundle(&b, &unique("exit"));
    assert_eq!(code, 7);
    assert!(
        rt.ids().is_empty(),
        "run without --keep leaves no state: {:?}",
        rt.ids()
    );
}
