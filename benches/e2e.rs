//! Event-queue throughput.
fn main() {}
