//! The `tsgate` command (being written).
fn main() {}
