//! `check --determinism`: run one `(scenario, seed)` twice and compare the runs, first by a
//! running hash of `(time, seq, event kind)` over every event (naming the first event where the
//! runs part), then byte by byte over every table the run writes.

use std::ops::Range;
use std::sync::Arc;

use crate::engine::{SimError, Simulation, Trace, TracedEvent};
use crate::metrics::report::report;
use crate::model::RunOutput;
use crate::model::world::World;
use crate::scenario::Scenario;

use super::DeterminismVerdict;

/// Events between trace checkpoints. A difference is first located to one block of this many
/// events, then both runs are repeated keeping that block's events.
const CHECKPOINT_EVERY: u64 = 4096;

/// Two runs compared.
pub struct Comparison {
    /// The first run (its expectations are the ones reported).
    pub first: RunOutput,
    /// Whether the runs matched, and the first difference if not.
    pub verdict: DeterminismVerdict,
}

/// Runs `scenario` with `seed` twice and compares the runs.
pub fn compare_runs(scenario: Arc<Scenario>, seed: u64) -> Result<Comparison, SimError> {
    let (a, ta) = traced_run(scenario.clone(), seed, 0..0)?;
    let (b, tb) = traced_run(scenario.clone(), seed, 0..0)?;
    if let Some(block) = Trace::first_difference(&ta, &tb) {
        let (_, ca) = traced_run(scenario.clone(), seed, block.clone())?;
        let (_, cb) = traced_run(scenario, seed, block)?;
        let message = describe_event_difference(&ca.captured, &cb.captured);
        return Ok(Comparison { first: a, verdict: DeterminismVerdict { passed: false, message } });
    }
    let message = match first_output_difference(&a, &b, seed) {
        Some(diff) => diff,
        None => {
            let verdict = DeterminismVerdict {
                passed: true,
                message: format!(
                    "two runs agree: {} events, trace hash {:016x}, identical outputs",
                    ta.events, ta.hash
                ),
            };
            return Ok(Comparison { first: a, verdict });
        }
    };
    Ok(Comparison { first: a, verdict: DeterminismVerdict { passed: false, message } })
}

/// One run with a trace, as `model::run` does it.
fn traced_run(scenario: Arc<Scenario>, seed: u64, capture: Range<u64>) -> Result<(RunOutput, Trace), SimError> {
    let end = scenario.end();
    // The same bounds as `model::run`.
    let (max_events, max_pending) = (scenario.max_events, crate::model::build::max_pending(&scenario));
    let (world, init) = crate::model::build::build(scenario, seed);
    let mut sim = Simulation::new(world, max_events, max_pending);
    sim.enable_trace(CHECKPOINT_EVERY, capture);
    for (t, e) in init {
        sim.schedule_at(t, e);
    }
    sim.run_until(end)?;
    let trace = sim.trace().cloned().expect("trace enabled");
    let events = sim.events_processed();
    sim.model.rec.finish();
    Ok((RunOutput { world: sim.model, events }, trace))
}

/// Names the first captured event that differs between two runs.
fn describe_event_difference(a: &[TracedEvent], b: &[TracedEvent]) -> String {
    let same = |x: &TracedEvent, y: &TracedEvent| x.time == y.time && x.seq == y.seq && kind(&x.what) == kind(&y.what);
    for (x, y) in a.iter().zip(b) {
        if !same(x, y) {
            return format!(
                "runs differ at event #{}: run 1 handled {} at t={} (seq {}), run 2 handled {} at t={} (seq {})",
                x.index, x.what, x.time, x.seq, y.what, y.time, y.seq
            );
        }
    }
    match (a.len(), b.len()) {
        (la, lb) if la != lb => {
            let (longer, n, which) = if la > lb { (a, lb, 1) } else { (b, la, 2) };
            format!(
                "runs differ at event #{}: only run {which} handled {} at t={}",
                longer[n].index, longer[n].what, longer[n].time
            )
        }
        _ => "runs differ in their trace hash, but the captured events agree".to_string(),
    }
}

/// The variant name of an event's `Debug` text.
fn kind(what: &str) -> &str {
    what.split([' ', '{', '(']).next().unwrap_or(what)
}

/// The text files a run writes, as bytes.
fn outputs(out: &RunOutput, seed: u64) -> Vec<(&'static str, Vec<u8>)> {
    let w: &World = &out.world;
    let r = report(w, seed, out.events);
    crate::output::text_files(w, &r).unwrap_or_else(|e| vec![("(encoding)", e.to_string().into_bytes())])
}

/// The first output file whose bytes differ between two runs, with the first differing line.
fn first_output_difference(a: &RunOutput, b: &RunOutput, seed: u64) -> Option<String> {
    for ((name, x), (_, y)) in outputs(a, seed).into_iter().zip(outputs(b, seed)) {
        if x != y {
            let (xs, ys) = (String::from_utf8_lossy(&x), String::from_utf8_lossy(&y));
            let line = xs
                .lines()
                .zip(ys.lines())
                .position(|(p, q)| p != q)
                .unwrap_or(xs.lines().count().min(ys.lines().count()));
            return Some(format!(
                "the event sequences agree but {name} differs at line {}: run 1 `{}`, run 2 `{}`",
                line + 1,
                xs.lines().nth(line).unwrap_or("(end of file)"),
                ys.lines().nth(line).unwrap_or("(end of file)")
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimTime;

    fn ev(index: u64, ms: u64, seq: u64, what: &str) -> TracedEvent {
        TracedEvent { index, time: SimTime::from_millis(ms), seq, what: what.to_string() }
    }

    #[test]
    fn names_the_first_differing_event() {
        let a = [ev(5, 1, 7, "Arrival { stream: 0 }"), ev(6, 2, 9, "EdsPush")];
        let b = [ev(5, 1, 7, "Arrival { stream: 0 }"), ev(6, 2, 9, "OutlierTick { proxy: ProxyId(1) }")];
        let m = describe_event_difference(&a, &b);
        assert!(m.starts_with("runs differ at event #6: run 1 handled EdsPush"), "{m}");
        assert!(m.contains("run 2 handled OutlierTick"), "{m}");
    }

    #[test]
    fn a_run_that_stops_early_is_named() {
        let a = [ev(1, 0, 0, "EdsPush")];
        let b = [ev(1, 0, 0, "EdsPush"), ev(2, 3, 1, "PhaseStart { phase: 1 }")];
        let m = describe_event_difference(&a, &b);
        assert_eq!(
            m,
            format!(
                "runs differ at event #2: only run 2 handled PhaseStart {{ phase: 1 }} at t={}",
                SimTime::from_millis(3)
            )
        );
    }
}
