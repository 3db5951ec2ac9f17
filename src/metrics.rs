//! Measurements: the recorder the model pushes into, latency histograms, and the run report.

pub mod histogram;
pub mod hosts;
pub mod keys;
pub mod recorder;
pub mod report;
