//! End-to-end tests of meshsim, in one binary. Each module tests one area; helpers live in
//! `util`.

mod bin;
mod catalogue;
mod check;
mod cli;
mod consistent_hash;
mod east_west;
mod explain;
mod fault;
mod golden;
mod hosts;
mod import;
mod inputs;
mod limits;
mod messages;
mod model;
mod policy;
mod report;
mod routes;
mod safety;
#[path = "../support/scratch.rs"]
mod scratch;
mod scripted;
mod seed;
mod serve;
mod silent;
mod slow_start;
mod subsets;
mod sweep;
mod util;
