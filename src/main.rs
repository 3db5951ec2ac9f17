//! The `meshsim` command.

fn main() {}
