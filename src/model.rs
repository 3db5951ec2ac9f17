//! The mesh: topology, workload, faults and the client proxies, driven by the engine.
//! Pure: no I/O, no clock, no global state.

pub mod ids;
