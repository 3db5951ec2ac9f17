//! A small bench harness (in place of criterion, whose dependencies doubled what `cargo test`
//! compiles): each case runs a warm-up, then `samples` timed samples of enough iterations to
//! last at least `MIN_SAMPLE`, and prints the median time per iteration with the fastest and
//! slowest sample, and the median throughput.
//!
//! `cargo bench --bench NAME [FILTER]` measures the cases whose name contains FILTER; run
//! without `--bench` (as `cargo test --benches` does) each case runs once, as a smoke test.
//! Wall time on a shared machine is noisy: compare medians measured in the same minutes, or
//! count instructions with `valgrind --tool=callgrind`.

#![allow(dead_code)]

use std::hint::black_box;
use std::time::{Duration, Instant};

/// The shortest sample: short iterations are batched up to this.
const MIN_SAMPLE: Duration = Duration::from_millis(20);

/// The command line: whether to measure, and which cases.
pub struct Harness {
    measure: bool,
    filter: Option<String>,
}

impl Harness {
    /// Reads `--bench` and an optional name filter from the arguments (others are ignored).
    pub fn from_args() -> Self {
        let mut measure = false;
        let mut filter = None;
        for arg in std::env::args().skip(1) {
            if arg == "--bench" {
                measure = true;
            } else if !arg.starts_with('-') {
                filter = Some(arg);
            }
        }
        Self { measure, filter }
    }

    /// Measures `f` as case `name` with `samples` samples; `per_iter` is the throughput unit and
    /// how many of it one iteration does (e.g. `(1_800_000.0, "requests")`). Returns the median
    /// seconds per iteration, or `None` if the case was filtered out or only smoke-tested.
    pub fn case<T>(&self, name: &str, samples: usize, per_iter: (f64, &str), mut f: impl FnMut() -> T) -> Option<f64> {
        if self.filter.as_deref().is_some_and(|w| !name.contains(w)) {
            return None;
        }
        if !self.measure {
            black_box(f());
            println!("{name}: ok (run with --bench to measure)");
            return None;
        }
        // Warm-up, and the batch size: iterations per sample.
        let start = Instant::now();
        black_box(f());
        let once = start.elapsed();
        let batch = if once >= MIN_SAMPLE {
            1
        } else {
            let mut n = 1u64;
            let mut took = once;
            while took < MIN_SAMPLE {
                n *= 2;
                let t = Instant::now();
                for _ in 0..n {
                    black_box(f());
                }
                took = t.elapsed();
            }
            n
        };
        let mut per: Vec<f64> = (0..samples.max(1))
            .map(|_| {
                let t = Instant::now();
                for _ in 0..batch {
                    black_box(f());
                }
                t.elapsed().as_secs_f64() / batch as f64
            })
            .collect();
        per.sort_by(f64::total_cmp);
        let median =
            if per.len() % 2 == 1 { per[per.len() / 2] } else { (per[per.len() / 2 - 1] + per[per.len() / 2]) / 2.0 };
        let (amount, unit) = per_iter;
        println!(
            "{name}: median {} per iteration (fastest {}, slowest {}; {} samples of {batch}), {} {unit}/s",
            show_time(median),
            show_time(per[0]),
            show_time(per[per.len() - 1]),
            per.len(),
            show_rate(amount / median),
        );
        Some(median)
    }
}

/// `s` seconds with a unit that keeps three or four significant digits.
fn show_time(s: f64) -> String {
    if s >= 1.0 {
        format!("{s:.3} s")
    } else if s >= 1e-3 {
        format!("{:.2} ms", s * 1e3)
    } else if s >= 1e-6 {
        format!("{:.2} µs", s * 1e6)
    } else {
        format!("{:.2} ns", s * 1e9)
    }
}

/// A rate with an SI prefix.
fn show_rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2} M", r / 1e6)
    } else if r >= 1e3 {
        format!("{:.2} k", r / 1e3)
    } else {
        format!("{r:.2}")
    }
}
