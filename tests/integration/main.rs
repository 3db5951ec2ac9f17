//! End-to-end tests of meshsim, in one binary. Each module tests one area; helpers live in
//! `util`.

mod policy;
mod util;
