//! End-to-end tests of meshsim, in one binary. Each module tests one area; helpers live in
//! `util`.

mod bin;
mod check;
mod cli;
mod explain;
mod golden;
mod inputs;
mod limits;
mod messages;
mod model;
mod policy;
mod report;
mod safety;
mod scripted;
mod seed;
mod serve;
mod silent;
mod sweep;
mod util;
