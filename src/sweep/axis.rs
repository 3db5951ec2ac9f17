//! Swept values: explicit lists (`1,2,5`) and ranges (`1..10`, `1..10 step 2`, `0.1..0.5 step 0.1`,
//! `1s..30s step 5s`), parsed into TOML values ready to be set at a dotted scenario path.
//!
//! Ranges include both ends when the end lies on the grid (`1..10` is 1, 2, …, 10; `1s..30s step 5s`
//! is 1s, 6s, …, 26s). Durations use the scenario's duration grammar and are written back in their
//! shortest exact unit (`1500ms`, `2s`).

use toml::Value;

use crate::istio::duration::parse_duration;
use crate::scenario::overrides::parse_value;

/// Most values one axis may have; a guard against typos such as `1..1000000`.
pub const AXIS_VALUES_MAX: usize = 10_000;

/// One swept parameter: a scenario path and the values it takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Short label used as the CSV column and chart title (default: the path's last key).
    pub name: String,
    /// Dotted scenario path, as for `run --set`.
    pub path: String,
    /// The values, in sweep order.
    pub values: Vec<Value>,
}

impl Axis {
    /// How a value is shown in tables and charts: strings without quotes, numbers as TOML writes them.
    pub fn display(value: &Value) -> String {
        match value {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }
    }

    /// The value as a `--set PATH=VALUE` right-hand side that parses back to the same value.
    pub fn set_text(value: &Value) -> String {
        value.to_string()
    }

    /// The displayed values.
    pub fn labels(&self) -> Vec<String> {
        self.values.iter().map(Axis::display).collect()
    }
}

/// The default name of an axis: the last key of its path (`…outlierDetection.interval` → `interval`).
pub fn default_name(path: &str) -> String {
    let last = path.rsplit('.').next().unwrap_or(path);
    last.split('[').next().filter(|s| !s.is_empty()).unwrap_or(last).to_string()
}

/// Parses the values of a `--grid PATH=VALUES` argument: a range (text containing `..`) or a
/// comma-separated list of values, each a TOML value or bare text (`30s`).
pub fn parse_values(text: &str) -> Result<Vec<Value>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("no values given".into());
    }
    let values =
        if is_range(text) { parse_range(text)? } else { split_list(text).iter().map(|v| parse_value(v)).collect() };
    check_values(&values)?;
    Ok(values)
}

/// Checks a list of values: not empty, not too long, no repeats.
pub fn check_values(values: &[Value]) -> Result<(), String> {
    if values.is_empty() {
        return Err("no values given".into());
    }
    if values.len() > AXIS_VALUES_MAX {
        return Err(format!("{} values; at most {AXIS_VALUES_MAX} are allowed on one axis", values.len()));
    }
    for (i, v) in values.iter().enumerate() {
        if values[..i].contains(v) {
            return Err(format!("value {} is given twice", Axis::display(v)));
        }
    }
    Ok(())
}

/// Whether bare text is a range rather than a list: it contains `..` outside quotes.
fn is_range(text: &str) -> bool {
    !text.starts_with('"') && !text.starts_with('[') && text.contains("..")
}

/// Splits `a, b, [1, 2], "x,y"` at top-level commas.
fn split_list(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut depth, mut quoted) = (0i32, false);
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '[' | '{' if !quoted => depth += 1,
            ']' | '}' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                out.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur.trim().to_string());
    out
}

/// Parses `START..END [step STEP]` of integers, decimals or durations.
pub fn parse_range(text: &str) -> Result<Vec<Value>, String> {
    let (bounds, step) = match text.split_once(" step ") {
        Some((b, s)) => (b.trim(), Some(s.trim())),
        None => (text.trim(), None),
    };
    let (start, end) = bounds
        .split_once("..")
        .map(|(a, b)| (a.trim(), b.trim().trim_start_matches('=')))
        .ok_or_else(|| format!("`{text}` is not a range; expected START..END [step STEP]"))?;
    if start.is_empty() || end.is_empty() {
        return Err(format!("`{text}`: a range needs a start and an end, e.g. 1..10"));
    }
    if let (Ok(a), Ok(b)) = (start.parse::<i64>(), end.parse::<i64>()) {
        // An integer range with a decimal step (`0..1 step 0.25`) is a decimal range.
        let s = match step {
            Some(s) if s.parse::<f64>().is_ok() && s.parse::<i64>().is_err() => None,
            Some(s) => Some(s.parse::<i64>().map_err(|_| format!("`{text}`: step `{s}` is not an integer"))?),
            None => Some(1),
        };
        if let Some(s) = s {
            return int_range(a, b, s).map_err(|m| format!("`{text}`: {m}"));
        }
    }
    if let (Ok(a), Ok(b)) = (start.parse::<f64>(), end.parse::<f64>()) {
        let s = step.ok_or_else(|| format!("`{text}`: a decimal range needs a step, e.g. 0.1..0.5 step 0.1"))?;
        let sv = s.parse::<f64>().map_err(|_| format!("`{text}`: step `{s}` is not a number"))?;
        let decimals = [start, s].iter().map(|t| t.split_once('.').map_or(0, |(_, f)| f.len())).max().unwrap_or(0);
        return float_range(a, b, sv, decimals as i32).map_err(|m| format!("`{text}`: {m}"));
    }
    let dur = |t: &str| parse_duration(t).map(|d| d.as_nanos()).map_err(|e| format!("`{text}`: {e}"));
    let (a, b) = (dur(start)?, dur(end)?);
    let s = step.ok_or_else(|| format!("`{text}`: a duration range needs a step, e.g. 1s..30s step 5s"))?;
    let sv = dur(s)?;
    let nanos = int_range(a as i64, b as i64, sv as i64).map_err(|m| format!("`{text}`: {m}"))?;
    Ok(nanos
        .into_iter()
        .map(|v| Value::String(crate::engine::SimDuration(v.as_integer().unwrap_or(0) as u64).to_string()))
        .collect())
}

fn int_range(a: i64, b: i64, step: i64) -> Result<Vec<Value>, String> {
    if step <= 0 {
        return Err("the step must be positive".into());
    }
    if a > b {
        return Err("the start must not exceed the end".into());
    }
    // In i128, so that no range of i64 bounds can overflow.
    let n = (i128::from(b) - i128::from(a)) / i128::from(step) + 1;
    if n > AXIS_VALUES_MAX as i128 {
        return Err(format!("{n} values; at most {AXIS_VALUES_MAX} are allowed on one axis"));
    }
    Ok((0..n as i64).map(|i| Value::Integer(a + i * step)).collect())
}

fn float_range(a: f64, b: f64, step: f64, decimals: i32) -> Result<Vec<Value>, String> {
    if !(step > 0.0 && step.is_finite()) {
        return Err("the step must be positive".into());
    }
    if !(a.is_finite() && b.is_finite()) || a > b {
        return Err("the start must not exceed the end".into());
    }
    // Count steps with a tolerance so that 0.1..0.5 step 0.1 includes 0.5 despite rounding. The
    // count is compared as a float: a tiny step (1e-300) gives more steps than any integer holds.
    let steps = ((b - a) / step + 1e-9).floor();
    if steps.is_nan() || steps >= AXIS_VALUES_MAX as f64 {
        return Err(format!(
            "{} values; at most {AXIS_VALUES_MAX} are allowed on one axis",
            if steps < 1e15 { format!("{}", steps as u64 + 1) } else { format!("about {:.1e}", steps) }
        ));
    }
    let n = steps as u64 + 1;
    // 10^decimals by repeated multiplication: exact up to 10^22 and the same on every platform
    // (`powi` is neither guaranteed exact nor portable).
    let scale = (0..decimals).fold(1.0, |s, _| s * 10.0);
    Ok((0..n).map(|i| Value::Float(((a + i as f64 * step) * scale).round() / scale)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(v: &[i64]) -> Vec<Value> {
        v.iter().map(|x| Value::Integer(*x)).collect()
    }

    fn strs(v: &[&str]) -> Vec<Value> {
        v.iter().map(|x| Value::String(x.to_string())).collect()
    }

    #[test]
    fn integer_ranges_include_the_end() {
        assert_eq!(parse_values("1..5").unwrap(), ints(&[1, 2, 3, 4, 5]));
        assert_eq!(parse_values("1..10 step 2").unwrap(), ints(&[1, 3, 5, 7, 9]));
        assert_eq!(parse_values("1..=3").unwrap(), ints(&[1, 2, 3]));
        assert_eq!(parse_values("4..4").unwrap(), ints(&[4]));
    }

    #[test]
    fn decimal_ranges_are_rounded_to_the_step() {
        let got = parse_values("0.1..0.5 step 0.1").unwrap();
        assert_eq!(got, vec![0.1, 0.2, 0.3, 0.4, 0.5].into_iter().map(Value::Float).collect::<Vec<_>>());
        assert!(parse_values("0.1..0.5").unwrap_err().contains("needs a step"));
    }

    #[test]
    fn duration_ranges_use_the_shortest_unit() {
        assert_eq!(parse_values("1s..30s step 5s").unwrap(), strs(&["1s", "6s", "11s", "16s", "21s", "26s"]));
        assert_eq!(parse_values("500ms..2s step 500ms").unwrap(), strs(&["500ms", "1s", "1500ms", "2s"]));
        assert!(parse_values("1s..30s").unwrap_err().contains("needs a step"));
    }

    #[test]
    fn lists_are_toml_values_or_text() {
        assert_eq!(parse_values("1, 2,5").unwrap(), ints(&[1, 2, 5]));
        assert_eq!(parse_values("10s,30s").unwrap(), strs(&["10s", "30s"]));
        let got = parse_values("[1, 2],\"a,b\"").unwrap();
        assert_eq!(got[1], Value::String("a,b".into()));
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn bad_ranges_and_lists_are_errors() {
        assert!(parse_values("5..1").unwrap_err().contains("must not exceed"));
        assert!(parse_values("1..5 step 0").unwrap_err().contains("positive"));
        assert!(parse_values("1..5 step x").unwrap_err().contains("not an integer"));
        assert!(parse_values("1,2,1").unwrap_err().contains("given twice"));
        assert!(parse_values("1..100000").unwrap_err().contains("at most"));
        let err = parse_values("0..1 step 1e-300").unwrap_err();
        assert_eq!(err, "`0..1 step 1e-300`: about 1.0e300 values; at most 10000 are allowed on one axis");
        assert_eq!(parse_values("0..1 step 0.25").unwrap().len(), 5);
        let err = parse_values("-9223372036854775808..9223372036854775807").unwrap_err();
        assert!(err.contains("values; at most"), "{err}");
        assert!(parse_values("1s..x step 1s").unwrap_err().contains("x"));
        assert!(parse_values("").is_err());
    }

    #[test]
    fn names_default_to_the_last_key() {
        assert_eq!(default_name("policy.destination_rule.trafficPolicy.outlierDetection.interval"), "interval");
        assert_eq!(default_name("faults[1].at"), "at");
        assert_eq!(default_name("seed"), "seed");
    }
}
