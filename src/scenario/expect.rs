//! Expectations written in a scenario (`[[expect]]`), checked by `meshsim check`.

use crate::engine::SimDuration;

use super::types::PhaseSpec;

/// One named expectation.
#[derive(Debug, Clone, PartialEq)]
pub struct Expectation {
    /// Its name, shown in reports.
    pub name: String,
}

/// Parses `[[expect]]` tables. Errors are `(path, message)`.
pub fn parse_expectations(
    raw: &[toml::Value],
    _phases: &[PhaseSpec],
    _run: SimDuration,
) -> Result<Vec<Expectation>, (String, String)> {
    if raw.is_empty() { Ok(Vec::new()) } else { Err(("expect".into(), "expectations are not supported yet".into())) }
}
