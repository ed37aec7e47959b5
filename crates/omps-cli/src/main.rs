//! The `omps` command line.
fn main() {}
