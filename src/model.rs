//! The mesh: topology, workload, faults and the client proxies, driven by the engine.
//! Pure: no I/O, no clock, no global state.

pub mod build;
pub mod control;
pub mod event;
pub mod ids;
pub mod keys;
pub mod pod;
pub mod proxy;
pub mod request;
pub mod routes;
pub mod topology;
pub mod tunnel;
pub mod world;

pub use build::{RunOutput, run, run_until};
