//! Envoy's client-side behaviour, one file per mechanism, as pure state machines and functions.
//! Each rule cites the Envoy source file it follows.

pub mod config;
pub mod lb;
pub mod outlier;
pub mod regex;
pub mod route;
pub mod xxhash;
