//! The JSON API and the page's assets, as a pure function of (method, URL, body) → response:
//! the HTTP transport (`serve::http`) only moves bytes. Runs call the same library code as
//! `meshsim run` and `meshsim explain` (`model::run_until`, `metrics::report`,
//! `explain::snapshot_with`), with an [`Interrupt`] that stops a run when a newer request on the
//! same lane arrives or the time budget is spent.
//!
//! | Request | Answer |
//! | --- | --- |
//! | `GET /` and `GET /assets/NAME` | the page and its embedded files |
//! | `GET /api/scenarios` | `[{name, description, question, lesson}]` |
//! | `GET /api/scenario?name=NAME` | one scenario: its tree as JSON and each knob's value, `settable`, `shadowed_by` ([`super::knobs::shadowed_by`]) and `edits`, the paths the page writes for it ([`super::knobs::edits`]) |
//! | `GET /api/knobs` | the knobs: path, group, label, kind, Istio default, meaning, range |
//! | `POST /api/run` | `{"scenario", "seed"?, "set"?: {PATH: VALUE}, "lane"?}` → summary, series, ejections, pods, verdicts, lints |
//! | `GET /api/explain?scenario=&seed=&set=&at=SECONDS&lane=&proxy=` | the `explain` snapshot |
//! | `GET /api/download?scenario=&seed=&set=` | the settings as a self-contained scenario file |
//!
//! Status codes: 200; 400 bad JSON, a bad override or query (the message `meshsim run` would
//! print); 403 a `Host` that is not this machine (`serve::http`, on a loopback address); 404
//! unknown scenario or path; 405 wrong method; 409 a newer request on the same lane
//! replaced this one; 413 body too large (`serve::http`); 422 the run stopped on a scenario limit;
//! 503 the run exceeded the time budget.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::{Value as Json, json};
use toml::Value;

use super::assets;
use super::catalogue::{Catalogue, Entry};
use crate::engine::{Interrupt, SimDuration, SimError, SimTime};
use crate::explain::Snapshot;
use crate::scenario::{Scenario, ScenarioError, overrides};

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Most overrides in one request.
pub const MAX_SETS: usize = 256;
/// Most lanes remembered at once (older ones are forgotten, never an error).
const MAX_LANES: usize = 256;

/// An HTTP answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Content-Type`.
    pub content_type: &'static str,
    /// Body.
    pub body: Vec<u8>,
    /// A file name to offer for saving (`Content-Disposition: attachment`).
    pub attachment: Option<String>,
}

impl Response {
    fn json(status: u16, value: &Json) -> Response {
        let body = serde_json::to_vec(value).expect("JSON values serialize");
        Response { status, content_type: "application/json", body, attachment: None }
    }

    /// A JSON error `{"error": message}`.
    pub fn error(status: u16, message: impl Into<String>) -> Response {
        Response::json(status, &json!({ "error": message.into() }))
    }
}

struct Failure {
    status: u16,
    message: String,
    /// The query parameter the failure is about, when it is about one: the error's `param`,
    /// so that the page can act on it without reading the message.
    param: Option<&'static str>,
}

fn fail(status: u16, message: impl Into<String>) -> Failure {
    Failure { status, message: message.into(), param: None }
}

impl Failure {
    /// The same failure, about query parameter `param`.
    fn about(self, param: &'static str) -> Failure {
        Failure { param: Some(param), ..self }
    }

    /// A JSON error `{"error": message}`, with `"param": name` when it is about a parameter.
    fn response(self) -> Response {
        match self.param {
            None => Response::error(self.status, self.message),
            Some(param) => Response::json(self.status, &json!({ "error": self.message, "param": param })),
        }
    }
}

impl From<ScenarioError> for Failure {
    fn from(e: ScenarioError) -> Failure {
        fail(400, e.to_string())
    }
}

/// The server's state: the catalogue, the lanes and the time budget.
pub struct Api {
    catalogue: Catalogue,
    lanes: Mutex<BTreeMap<String, Arc<AtomicU64>>>,
    time_budget: Duration,
}

/// What one run request asks for.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RunRequest {
    scenario: String,
    seed: Option<u64>,
    #[serde(default)]
    set: serde_json::Map<String, Json>,
    lane: Option<String>,
}

/// A scenario with its overrides applied.
struct Prepared<'a> {
    entry: &'a Entry,
    seed: u64,
    tree: Value,
    scenario: Arc<Scenario>,
    lane: Option<String>,
    sets: Vec<(String, Json)>,
}

impl Api {
    /// A server state over `catalogue`; each run may take at most `time_budget` of wall time.
    pub fn new(catalogue: Catalogue, time_budget: Duration) -> Api {
        Api { catalogue, lanes: Mutex::new(BTreeMap::new()), time_budget }
    }

    /// The catalogue served.
    pub fn catalogue(&self) -> &Catalogue {
        &self.catalogue
    }

    /// Answers one request. `url` is the request target (path and query).
    pub fn handle(&self, method: &str, url: &str, body: &[u8]) -> Response {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let result = match (method, path) {
            ("GET", "/api/scenarios") => Ok(self.scenarios()),
            ("GET", "/api/knobs") => Ok(json!(super::knobs::knobs())),
            ("GET", "/api/scenario") => self.scenario_detail(query),
            ("POST", "/api/run") => self.run(body),
            ("GET", "/api/explain") => self.explain(query),
            ("GET", "/api/download") => {
                return self.download(query).unwrap_or_else(Failure::response);
            }
            (_, "/api/run") => Err(fail(405, "use POST for /api/run")),
            ("GET", p) => match assets::find(p) {
                Some(a) => {
                    return Response {
                        status: 200,
                        content_type: a.content_type,
                        body: a.bytes.to_vec(),
                        attachment: None,
                    };
                }
                None => Err(fail(404, format!("{p}: not found"))),
            },
            (_, p) if p.starts_with("/api/") || assets::find(p).is_some() => Err(fail(405, format!("use GET for {p}"))),
            (_, p) => Err(fail(404, format!("{p}: not found"))),
        };
        match result {
            Ok(v) => Response::json(200, &v),
            Err(f) => f.response(),
        }
    }

    fn scenarios(&self) -> Json {
        let list: Vec<Json> = self
            .catalogue
            .entries
            .iter()
            .map(|e| json!({"name": e.name, "description": e.description, "question": e.question, "lesson": e.lesson}))
            .collect();
        Json::Array(list)
    }

    fn entry(&self, name: &str) -> Result<&Entry, Failure> {
        self.catalogue.get(name).ok_or_else(|| {
            let names: Vec<&str> = self.catalogue.entries.iter().map(|e| e.name.as_str()).collect();
            fail(404, format!("no scenario named `{name}` (scenarios: {})", names.join(", ")))
        })
    }

    fn scenario_detail(&self, query: &str) -> Result<Json, Failure> {
        let q = parse_query(query, &["name"])?;
        let entry = self.entry(q.get("name").ok_or_else(|| fail(400, "name: missing"))?)?;
        let tree = toml_to_json(&entry.tree);
        let knobs: BTreeMap<&str, Json> = super::knobs::knobs()
            .iter()
            .map(|k| {
                // The paths the knob writes: the block in force for the clusters the routes reach.
                let edits = super::knobs::edits(&entry.scenario, k.path);
                let value = overrides::get(&entry.tree, &edits[0]).map(toml_to_json).unwrap_or(Json::Null);
                let settable =
                    edits.iter().all(|e| overrides::set(&mut entry.tree.clone(), e, Value::Boolean(true)).is_ok());
                let shadowed_by = super::knobs::shadowed_by(&entry.scenario, k.path);
                (k.path, json!({"value": value, "settable": settable, "shadowed_by": shadowed_by, "edits": edits}))
            })
            .collect();
        let s = &entry.scenario;
        Ok(json!({
            "name": entry.name,
            "file": entry.file,
            "description": entry.description,
            "question": entry.question,
            "lesson": entry.lesson,
            "seed": s.seed,
            "duration_s": s.duration.as_secs_f64(),
            "clusters": s.kube_clusters.iter().map(|c| c.name.clone()).collect::<Vec<_>>(),
            "tree": tree,
            "knobs": knobs,
        }))
    }

    /// Applies a request's overrides to its scenario, as `meshsim run --set` would.
    fn prepare<'a>(
        &'a self,
        name: &str,
        seed: Option<u64>,
        set: serde_json::Map<String, Json>,
        lane: Option<String>,
    ) -> Result<Prepared<'a>, Failure> {
        let entry = self.entry(name)?;
        if set.len() > MAX_SETS {
            return Err(fail(400, format!("set: {} overrides; at most {MAX_SETS} are accepted", set.len())));
        }
        if lane
            .as_ref()
            .is_some_and(|l| l.len() > 64 || !l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        {
            return Err(fail(400, "lane: expected at most 64 letters, digits, `-` or `_`"));
        }
        let mut tree = entry.tree.clone();
        let mut sets = Vec::new();
        for (path, value) in set {
            let assignment = format!("{path}={}", value_text(&value));
            let v = json_to_toml(&value)
                .map_err(|message| ScenarioError::Override { assignment: assignment.clone(), message })?;
            overrides::set(&mut tree, path.trim(), v)
                .map_err(|message| ScenarioError::Override { assignment, message })?;
            sets.push((path, value));
        }
        let scenario = crate::scenario::from_tree(tree.clone(), &entry.file)?;
        let seed = seed.unwrap_or(scenario.seed);
        Ok(Prepared { entry, seed, tree, scenario: Arc::new(scenario), lane, sets })
    }

    /// Starts a run, on `lane` when given: every earlier run on that lane is cancelled at its
    /// next check. Without a lane only the time budget stops a run.
    fn interrupt(&self, lane: Option<&str>) -> (Interrupt, Instant) {
        let deadline = Instant::now() + self.time_budget;
        let Some(lane) = lane else {
            return (Box::new(move || Instant::now() >= deadline), deadline);
        };
        let counter = {
            let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
            if lanes.len() >= MAX_LANES && !lanes.contains_key(lane) {
                lanes.clear();
            }
            lanes.entry(lane.to_string()).or_default().clone()
        };
        let generation = counter.fetch_add(1, Ordering::SeqCst) + 1;
        let stop = Box::new(move || counter.load(Ordering::SeqCst) != generation || Instant::now() >= deadline);
        (stop, deadline)
    }

    fn sim_failure(&self, p: &Prepared, e: SimError, deadline: Instant) -> Failure {
        match e {
            SimError::Interrupted { .. } if Instant::now() >= deadline => fail(
                503,
                format!(
                    "running {} with seed {}: stopped after the time budget of {:?}; shorten the run or lower the load",
                    p.entry.file, p.seed, self.time_budget
                ),
            ),
            SimError::Interrupted { .. } => fail(
                409,
                format!("cancelled: a newer request on lane `{}` replaced it", p.lane.as_deref().unwrap_or_default()),
            ),
            e => fail(422, format!("running {} with seed {}: {e}", p.entry.file, p.seed)),
        }
    }

    fn run(&self, body: &[u8]) -> Result<Json, Failure> {
        let req: RunRequest = serde_json::from_slice(body).map_err(|e| fail(400, format!("request body: {e}")))?;
        let p = self.prepare(&req.scenario, req.seed, req.set, req.lane)?;
        let started = Instant::now();
        let (stop, deadline) = self.interrupt(p.lane.as_deref());
        let end = p.scenario.end();
        let out = crate::model::run_until(p.scenario.clone(), p.seed, end, Some(stop))
            .map_err(|e| self.sim_failure(&p, e, deadline))?;
        let mut v = super::run_json(&out, p.seed);
        v["elapsed_ms"] = json!(started.elapsed().as_secs_f64() * 1e3);
        v["set"] = Json::Object(p.sets.into_iter().collect());
        Ok(v)
    }

    /// The scenario, seed, overrides and lane of a GET query.
    fn prepare_query<'a>(&'a self, q: &BTreeMap<String, String>) -> Result<Prepared<'a>, Failure> {
        let name = q.get("scenario").ok_or_else(|| fail(400, "scenario: missing"))?;
        let seed = match q.get("seed") {
            None => None,
            Some(s) => Some(s.parse::<u64>().map_err(|_| fail(400, format!("seed: `{s}` is not a whole number")))?),
        };
        let set = match q.get("set") {
            None => serde_json::Map::new(),
            Some(text) => match serde_json::from_str::<Json>(text) {
                Ok(Json::Object(m)) => m,
                Ok(_) => return Err(fail(400, "set: expected a JSON object of PATH: VALUE")),
                Err(e) => return Err(fail(400, format!("set: {e}"))),
            },
        };
        self.prepare(name, seed, set, q.get("lane").cloned())
    }

    fn explain(&self, query: &str) -> Result<Json, Failure> {
        let q = parse_query(query, &["scenario", "seed", "set", "at", "lane", "proxy"])?;
        let p = self.prepare_query(&q)?;
        let text = q.get("at").ok_or_else(|| fail(400, "at: missing (seconds from the start)").about("at"))?;
        let at = parse_at(text, p.scenario.duration).map_err(|m| fail(400, m).about("at"))?;
        let (stop, deadline) = self.interrupt(p.lane.as_deref());
        let snap = crate::explain::snapshot_with(p.scenario.clone(), p.seed, at, Some(stop))
            .map_err(|e| self.sim_failure(&p, e, deadline))?;
        if let Some(name) = q.get("proxy")
            && !crate::explain::has_proxy(&snap, name)
        {
            let names: Vec<&str> = snap.proxies.iter().map(|p| p.name.as_str()).collect();
            return Err(fail(
                400,
                format!("proxy={name}: no such proxy or proxy group (proxies: {})", names.join(", ")),
            )
            .about("proxy"));
        }
        Ok(snapshot_json(&snap, q.get("proxy").map(String::as_str)))
    }

    fn download(&self, query: &str) -> Result<Response, Failure> {
        let q = parse_query(query, &["scenario", "seed", "set", "lane"])?;
        let p = self.prepare_query(&q)?;
        let (stop, deadline) = self.interrupt(p.lane.as_deref());
        let verdicts = if p.scenario.expectations.is_empty() {
            Vec::new()
        } else {
            let out = crate::model::run_until(p.scenario.clone(), p.seed, p.scenario.end(), Some(stop))
                .map_err(|e| self.sim_failure(&p, e, deadline))?;
            let report = crate::metrics::report::report(&out.world, p.seed, out.events);
            let mut verdicts = crate::check::evaluate(&out.world, &report);
            // An expectation measured on a variant (`set = [...]`) runs on the page's settings
            // with its own overrides: the page's changes can break it too, so it is checked here
            // and dropped like any other that fails.
            verdicts.extend(
                crate::check::evaluate_variants(&p.scenario, p.seed).map_err(|e| self.sim_failure(&p, e, deadline))?,
            );
            verdicts
        };
        let text =
            super::download::scenario_file(p.entry, p.seed, &p.tree, &p.sets, &verdicts).map_err(|m| fail(500, m))?;
        Ok(Response {
            status: 200,
            content_type: "application/toml; charset=utf-8",
            body: text.into_bytes(),
            attachment: Some(format!("{}.toml", p.entry.name)),
        })
    }
}

/// `at=` as seconds (`75`, `75.5`) or a Go duration (`75s`, `1m15s`), within the run.
fn parse_at(text: &str, duration: SimDuration) -> Result<SimTime, String> {
    let d = match text.parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 => SimDuration((s * 1e9).round() as u64),
        Ok(_) => return Err(format!("at={text}: expected seconds from 0")),
        Err(_) => text.parse::<SimDuration>().map_err(|e| format!("at={text}: {e}"))?,
    };
    if d > duration {
        return Err(format!("at={text}: after the end of the run ({duration})"));
    }
    Ok(SimTime(d.as_nanos()))
}

/// Splits and percent-decodes a query string; a key outside `allowed` is an error.
fn parse_query(query: &str, allowed: &[&str]) -> Result<BTreeMap<String, String>, Failure> {
    let mut out = BTreeMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k)?, percent_decode(v)?);
        if !allowed.contains(&k.as_str()) {
            return Err(fail(400, format!("unknown query parameter `{k}` (expected one of: {})", allowed.join(", "))));
        }
        out.insert(k, v);
    }
    Ok(out)
}

fn percent_decode(s: &str) -> Result<String, Failure> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| fail(400, "query: a `%` is not followed by two hex digits"))?;
                out.push(byte);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| fail(400, "query: not UTF-8"))
}

/// A JSON value as a `--set` user would write it (strings bare).
fn value_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A JSON value as a TOML value: integers stay integers, `null` has no TOML form.
pub fn json_to_toml(v: &Json) -> Result<Value, String> {
    Ok(match v {
        Json::Null => return Err("null has no value in a scenario file; leave the key out instead".into()),
        Json::Bool(b) => Value::Boolean(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Integer(i),
            None => Value::Float(n.as_f64().ok_or("number out of range")?),
        },
        Json::String(s) => Value::String(s.clone()),
        Json::Array(a) => Value::Array(a.iter().map(json_to_toml).collect::<Result<_, _>>()?),
        Json::Object(o) => {
            Value::Table(o.iter().map(|(k, v)| Ok((k.clone(), json_to_toml(v)?))).collect::<Result<_, String>>()?)
        }
    })
}

/// A TOML value as JSON (dates as strings).
pub fn toml_to_json(v: &Value) -> Json {
    match v {
        Value::String(s) => json!(s),
        Value::Integer(i) => json!(i),
        Value::Float(f) => json!(f),
        Value::Boolean(b) => json!(b),
        Value::Datetime(d) => json!(d.to_string()),
        Value::Array(a) => Json::Array(a.iter().map(toml_to_json).collect()),
        Value::Table(t) => Json::Object(t.iter().map(|(k, v)| (k.clone(), toml_to_json(v))).collect()),
    }
}

/// The `explain` snapshot as JSON: `meshsim explain --json`'s document with every proxy (the
/// page picks among them), plus the text of `meshsim explain` for `proxy`.
pub fn snapshot_json(snap: &Snapshot, proxy: Option<&str>) -> Json {
    let mut v = crate::explain::to_json(snap, None);
    v["text"] = json!(crate::explain::render(snap, proxy));
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%20b+c%7B%22x%22%7D").ok().unwrap(), "a b c{\"x\"}");
        assert!(percent_decode("%zz").is_err());
        assert!(percent_decode("%4").is_err());
        assert!(percent_decode("%ff").is_err(), "a lone 0xff byte is not UTF-8");
    }

    #[test]
    fn at_accepts_seconds_and_durations_within_the_run() {
        let d = SimDuration::from_millis(150_000);
        assert_eq!(parse_at("75.5", d), Ok(SimTime::from_millis(75_500)));
        assert_eq!(parse_at("1m15s", d), Ok(SimTime::from_millis(75_000)));
        assert_eq!(parse_at("200", d), Err("at=200: after the end of the run (150s)".to_string()));
        assert!(parse_at("-1", d).is_err());
        assert!(parse_at("NaN", d).is_err());
    }

    #[test]
    fn json_and_toml_values_convert_both_ways() {
        let j = json!({"a": 1, "b": 0.5, "c": "30s", "d": [true, false], "e": {"f": -2}});
        let t = json_to_toml(&j).unwrap();
        assert_eq!(t.get("a"), Some(&Value::Integer(1)));
        assert_eq!(t.get("b"), Some(&Value::Float(0.5)));
        assert_eq!(toml_to_json(&t), j);
        assert!(json_to_toml(&json!({"a": null})).is_err());
    }
}
