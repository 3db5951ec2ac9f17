//! `meshsim serve`: every status code of the API, over real HTTP on an ephemeral port, and the
//! promise that the page sees what `meshsim run` and `meshsim explain` compute.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{Value, json};

use meshsim::serve::{Api, Catalogue, Running, Server};

use crate::util;

const LAB: &str = "seed-failover-503";
const OD: &str = "policy.destination_rule.trafficPolicy.outlierDetection";

fn start(budget: Duration) -> Running {
    let catalogue = Catalogue::load(&util::root().join("scenarios")).expect("the catalogue loads");
    Server::bind("127.0.0.1:0", Api::new(catalogue, budget)).expect("binds").spawn(4)
}

/// One server for the tests that need no special budget.
fn server() -> SocketAddr {
    static SERVER: OnceLock<Running> = OnceLock::new();
    SERVER.get_or_init(|| start(Duration::from_secs(60))).addr
}

/// Sends one raw HTTP/1.0 request (the target exactly as given, no normalisation; 1.0 so that
/// the answer is not chunked) and returns the status, the headers and the body.
fn request_at(addr: SocketAddr, method: &str, target: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connects");
    s.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let head = format!(
        "{method} {target} HTTP/1.0\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).unwrap();
    // A server may answer (413) before it has read a large body; it then closes the socket.
    let _ = s.write_all(body);
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw);
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).expect("a status code");
    (status, head, raw[split + 4..].to_vec())
}

fn request(method: &str, target: &str, body: &[u8]) -> (u16, String, Vec<u8>) {
    request_at(server(), method, target, body)
}

fn json_of(body: &[u8]) -> Value {
    serde_json::from_slice(body).unwrap_or_else(|e| panic!("{e}: {:.300}", String::from_utf8_lossy(body)))
}

fn post_run_at(addr: SocketAddr, v: &Value) -> (u16, Value) {
    let (status, _, body) = request_at(addr, "POST", "/api/run", v.to_string().as_bytes());
    (status, json_of(&body))
}

fn post_run(v: &Value) -> (u16, Value) {
    post_run_at(server(), v)
}

fn query_set(set: &Value) -> String {
    let text = set.to_string();
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn cli_error(sets: &[&str]) -> String {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    meshsim::scenario::load(&util::root().join("scenarios").join(format!("{LAB}.toml")), &sets)
        .expect_err("the CLI rejects it")
        .to_string()
}

#[test]
fn the_page_and_its_assets_are_served() {
    let (status, head, body) = request("GET", "/", b"");
    assert_eq!(status, 200);
    assert!(head.contains("text/html"), "{head}");
    let html = String::from_utf8(body).unwrap();
    assert!(html.contains("<script src=\"/assets/app.js\""), "the page loads its script from the server");
    assert!(!html.contains("http://") && !html.contains("https://"), "no external asset");
    for asset in ["/assets/app.js", "/assets/charts.js", "/assets/style.css", "/assets/favicon.svg"] {
        let (status, _, body) = request("GET", asset, b"");
        assert_eq!(status, 200, "{asset}");
        assert!(!body.is_empty(), "{asset}");
    }
}

#[test]
fn paths_outside_the_assets_are_404() {
    for target in [
        "/Cargo.toml",
        "/../Cargo.toml",
        "/assets/../Cargo.toml",
        "/assets/..%2f..%2fCargo.toml",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/src/serve.rs",
        "/assets/",
        "/api/nothing",
        "//etc/passwd",
    ] {
        let (status, _, body) = request("GET", target, b"");
        assert_eq!(status, 404, "{target}");
        assert!(json_of(&body)["error"].as_str().unwrap().contains("not found"), "{target}");
    }
}

#[test]
fn scenarios_lists_the_catalogue_with_questions_and_lessons() {
    let (status, _, body) = request("GET", "/api/scenarios", b"");
    assert_eq!(status, 200);
    let list = json_of(&body);
    let list = list.as_array().unwrap();
    let files = std::fs::read_dir(util::root().join("scenarios"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "toml"))
        .count();
    assert_eq!(list.len(), files);
    for s in list {
        let keys: Vec<&str> = s.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["description", "lesson", "name", "question"]);
        assert!(!s["question"].as_str().unwrap().is_empty(), "{s}");
        assert!(!s["lesson"].as_str().unwrap().is_empty(), "{s}");
    }
    let lab = list.iter().find(|s| s["name"] == LAB).unwrap();
    assert!(lab["question"].as_str().unwrap().starts_with("the same lab, but cluster A does not vanish"));
}

#[test]
fn knobs_describe_every_control_and_the_scenario_gives_their_values() {
    let (status, _, body) = request("GET", "/api/knobs", b"");
    assert_eq!(status, 200);
    let knobs = json_of(&body);
    let c5 = knobs.as_array().unwrap().iter().find(|k| k["label"] == "consecutive5xxErrors").unwrap();
    assert_eq!(c5["default"], "5");
    assert_eq!(c5["kind"], "int");
    assert!(c5["meaning"].as_str().unwrap().len() > 20);
    let (status, _, body) = request("GET", &format!("/api/scenario?name={LAB}"), b"");
    assert_eq!(status, 200);
    let detail = json_of(&body);
    // The lab's manifest says consecutive5xxErrors: 1 and leaves consecutiveGatewayErrors unset.
    assert_eq!(detail["knobs"][format!("{OD}.consecutive5xxErrors")]["value"], 1);
    assert_eq!(detail["knobs"][format!("{OD}.consecutiveGatewayErrors")]["value"], Value::Null);
    // The tree holds the manifests' resources whole (issue 9).
    let dr = detail["tree"]["policy"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "DestinationRule")
        .unwrap();
    assert_eq!(dr["spec"]["trafficPolicy"]["outlierDetection"]["interval"], "1s");
    let (status, _, _) = request("GET", "/api/scenario?name=nope", b"");
    assert_eq!(status, 404);
}

#[test]
fn run_returns_what_meshsim_run_computes() {
    let set = json!({ format!("{OD}.baseEjectionTime"): "10s", "workload[0].rate": 400 });
    let (status, got) = post_run(&json!({"scenario": LAB, "seed": 3, "set": set}));
    assert_eq!(status, 200, "{:.300}", got.to_string());
    let s = util::load(&format!("{LAB}.toml"), &[&format!("{OD}.baseEjectionTime=10s"), "workload[0].rate=400"]);
    let out = meshsim::model::run(Arc::new(s), 3).unwrap();
    let report = meshsim::metrics::report::report(&out.world, 3, out.events);
    let summary: Value = serde_json::from_str(&meshsim::output::summary_json(&report)).unwrap();
    assert_eq!(got["summary"], summary, "the summary is summary.json's");
    assert_eq!(got["timeseries"], serde_json::to_value(&report.locality_rows).unwrap());
    assert_eq!(got["client"], serde_json::to_value(&report.client_rows).unwrap());
    let mut ejections = got["ejections"].clone();
    for e in ejections.as_array_mut().unwrap() {
        assert_eq!(e.as_object_mut().unwrap().remove("east_west_gateway"), Some(json!(false)), "no gateway here");
    }
    assert_eq!(ejections, serde_json::to_value(meshsim::output::ejection_records(&out.world)).unwrap());
    assert_eq!(got["seed"], 3);
    assert_eq!(got["topology"]["pods"].as_array().unwrap().len(), 6);
}

#[test]
fn ejections_of_an_east_west_gateway_are_told_apart_from_pods() {
    // The gateway replica in cluster-b is one host, named after its gateway, never like a pod.
    let (status, got) = post_run(&json!({"scenario": "east-west-gateway-trap"}));
    assert_eq!(status, 200);
    let gateways = got["topology"]["east_west_gateways"].as_array().unwrap();
    assert_eq!(gateways.len(), 1);
    let name = gateways[0]["name"].as_str().unwrap();
    let ejections = got["ejections"].as_array().unwrap();
    assert!(ejections.iter().any(|e| e["east_west_gateway"] == json!(true)), "the gateway is ejected");
    for e in ejections {
        // In this scenario the client sidecars in A reach B only through the gateway.
        let remote = e["locality"].as_str().unwrap().starts_with("us-central1");
        assert_eq!(e["east_west_gateway"], json!(remote), "{e}");
        assert_eq!(e["endpoint_kind"], json!(if remote { "east-west gateway" } else { "pod" }), "{e}");
        if remote {
            assert_eq!(e["endpoint"], name);
            assert_eq!(name, "eastwest-cluster-b-0", "named as the gateway it is");
        }
    }
}

#[test]
fn bad_json_is_400() {
    for body in ["{", "[]", "{\"scenario\": 5}", "{\"scenario\": \"x\", \"sed\": 1}"] {
        let (status, _, resp) = request("POST", "/api/run", body.as_bytes());
        assert_eq!(status, 400, "{body}");
        assert!(json_of(&resp)["error"].as_str().unwrap().starts_with("request body: "), "{body}");
    }
    let (status, _, resp) = request("GET", &format!("/api/explain?scenario={LAB}&at=10&set=%7B"), b"");
    assert_eq!(status, 400);
    assert!(json_of(&resp)["error"].as_str().unwrap().starts_with("set: "));
}

#[test]
fn a_bad_override_is_400_with_the_clis_message() {
    let cases = [
        (json!({ format!("{OD}.baseEjectionTime"): "abc" }), format!("{OD}.baseEjectionTime=abc")),
        (json!({ format!("{OD}.consecutive5xxErrors"): -1 }), format!("{OD}.consecutive5xxErrors=-1")),
        (json!({ "faults[7].at": "1s" }), "faults[7].at=1s".to_string()),
        (json!({ "nosuchkey": 1 }), "nosuchkey=1".to_string()),
    ];
    for (set, cli) in cases {
        let (status, got) = post_run(&json!({"scenario": LAB, "set": set}));
        assert_eq!(status, 400, "{set}");
        assert_eq!(got["error"].as_str().unwrap(), cli_error(&[&cli]), "{set}");
        let target = format!("/api/explain?scenario={LAB}&at=10&set={}", query_set(&set));
        let (status, _, body) = request("GET", &target, b"");
        assert_eq!(status, 400, "{set}");
        assert_eq!(json_of(&body)["error"].as_str().unwrap(), cli_error(&[&cli]), "{set}");
    }
}

#[test]
fn an_unknown_scenario_is_404() {
    let (status, got) = post_run(&json!({"scenario": "no-such-lab"}));
    assert_eq!(status, 404);
    assert!(got["error"].as_str().unwrap().starts_with("no scenario named `no-such-lab`"));
    for target in ["/api/explain?scenario=no-such-lab&at=1", "/api/download?scenario=no-such-lab"] {
        assert_eq!(request("GET", target, b"").0, 404, "{target}");
    }
}

#[test]
fn a_wrong_method_is_405() {
    assert_eq!(request("GET", "/api/run", b"").0, 405);
    assert_eq!(request("POST", "/api/scenarios", b"{}").0, 405);
    assert_eq!(request("DELETE", "/", b"").0, 405);
}

#[test]
fn a_request_for_another_host_is_403() {
    // The test client names the server by its address; a page on another site reaching it
    // through DNS rebinding would send its own name.
    let mut s = TcpStream::connect(server()).unwrap();
    s.write_all(b"GET /api/scenarios HTTP/1.0\r\nHost: attacker.example:8080\r\n\r\n").unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    assert!(raw.starts_with("HTTP/1.0 403") || raw.starts_with("HTTP/1.1 403"), "{raw:.200}");
    for host in ["localhost:8080", "localhost", "127.0.0.1", "[::1]:80"] {
        let mut s = TcpStream::connect(server()).unwrap();
        s.write_all(format!("GET /api/scenarios HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes()).unwrap();
        let mut raw = String::new();
        s.read_to_string(&mut raw).unwrap();
        assert!(raw.contains(" 200 "), "{host}: {raw:.100}");
    }
}

#[test]
fn a_large_body_is_413() {
    let body = vec![b' '; meshsim::serve::api::MAX_BODY_BYTES + 1];
    let (status, _, resp) = request("POST", "/api/run", &body);
    assert_eq!(status, 413);
    assert!(json_of(&resp)["error"].as_str().unwrap().contains("over"));
}

#[test]
fn explain_shows_the_ejections_in_the_middle_of_the_failover() {
    // At 60 s A has failed for 30 s: the gateway has ejected each of A's 3 pods on its first 503
    // (consecutive5xxErrors 1, maxEjectionPercent 100), as `meshsim explain --at 60s` says.
    let (status, _, body) = request("GET", &format!("/api/explain?scenario={LAB}&at=60"), b"");
    assert_eq!(status, 200);
    let got = json_of(&body);
    let s = Arc::new(util::load(&format!("{LAB}.toml"), &[]));
    let snap = meshsim::explain::snapshot(s, 1, meshsim::engine::SimTime::from_secs(60)).unwrap();
    assert_eq!(got, meshsim::serve::api::snapshot_json(&snap, None));
    let endpoints: Vec<&Value> = got["proxies"][0]["priorities"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["localities"].as_array().unwrap())
        .flat_map(|l| l["endpoints"].as_array().unwrap())
        .collect();
    let ejected: Vec<&str> =
        endpoints.iter().filter(|e| e["state"] == "ejected").map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(ejected, ["cluster-a/0", "cluster-a/1", "cluster-a/2"]);
    assert!(got["text"].as_str().unwrap().contains("ejected x1 (consecutive_5xx)"));
}

#[test]
fn explain_for_one_proxy_keeps_every_proxy_and_renders_that_ones_text() {
    // The page's permalink carries the proxy picked in the explain panel and asks for it: the
    // JSON still lists all four gateway replicas (the page draws the picked one), and its text is
    // `meshsim explain --proxy ingress-2`, which shows that replica alone.
    let (status, _, body) = request("GET", "/api/explain?scenario=gateway-replicas&at=40&proxy=ingress-2", b"");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let got = json_of(&body);
    let s = Arc::new(util::load("gateway-replicas.toml", &[]));
    let snap = meshsim::explain::snapshot(s, 1, meshsim::engine::SimTime::from_secs(40)).unwrap();
    assert_eq!(got, meshsim::serve::api::snapshot_json(&snap, Some("ingress-2")));
    let names: Vec<&str> = got["proxies"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["ingress-0", "ingress-1", "ingress-2", "ingress-3"]);
    let text = got["text"].as_str().unwrap();
    assert!(text.contains("Proxy ingress-2 ("), "{text}");
    for other in ["ingress-0", "ingress-1", "ingress-3"] {
        assert!(!text.contains(&format!("Proxy {other} (")), "{other} in {text}");
    }
}

#[test]
fn explain_rejects_a_bad_or_missing_time() {
    // Each error names the parameter it is about in `param` (the page acts on it), if one.
    for (q, msg, param) in [
        ("at=151", "at=151: after the end of the run (150s)", Some("at")),
        ("at=soon", "at=soon: ", Some("at")),
        ("", "at: missing", Some("at")),
        ("at=1&color=red", "unknown query parameter `color`", None),
        ("at=1&proxy=nobody", "proxy=nobody: no such proxy", Some("proxy")),
    ] {
        let (status, _, body) = request("GET", &format!("/api/explain?scenario={LAB}&{q}"), b"");
        assert_eq!(status, 400, "{q}");
        let got = json_of(&body);
        assert!(got["error"].as_str().unwrap().starts_with(msg), "{q}: {got}");
        assert_eq!(got["param"].as_str(), param, "{q}: {got}");
    }
}

#[test]
fn a_run_that_hits_a_scenario_limit_is_422() {
    let (status, got) = post_run(&json!({"scenario": LAB, "set": {"limits.max_events": 1000}}));
    assert_eq!(status, 422);
    assert!(got["error"].as_str().unwrap().contains("event budget of 1000 events exhausted"), "{got}");
}

/// A run of the lab at 40 000 requests per second for 1 500 s: sixty million requests, seconds of
/// work even though its breaker sheds most of them (at 150 s, the lab's own length, the run took
/// about 0.3 s and could end before a newer run on its lane cancelled it).
fn heavy(lane: &str) -> Value {
    json!({"scenario": LAB, "lane": lane, "set": {"workload[0].rate": 40000, "duration": "1500s"}})
}

#[test]
fn a_run_over_the_time_budget_is_503() {
    let running = start(Duration::from_millis(100));
    let started = std::time::Instant::now();
    let (status, got) = post_run_at(running.addr, &heavy("budget"));
    assert_eq!(status, 503, "{got}");
    assert!(got["error"].as_str().unwrap().contains("time budget"), "{got}");
    assert!(started.elapsed() < Duration::from_secs(5), "the run stopped soon after its budget");
}

#[test]
fn a_newer_run_on_the_same_lane_cancels_the_older_one_with_409() {
    let addr = server();
    let first = std::thread::spawn(move || post_run_at(addr, &heavy("drag")));
    std::thread::sleep(Duration::from_millis(300));
    let small = json!({"scenario": LAB, "lane": "drag", "set": {"duration": "5s"}});
    let (status, _) = post_run(&small);
    assert_eq!(status, 200);
    let (status, got) = first.join().unwrap();
    assert_eq!(status, 409, "{got}");
    assert!(got["error"].as_str().unwrap().starts_with("cancelled"));
    // Another lane is left alone.
    let (status, _) = post_run(&json!({"scenario": LAB, "lane": "other", "set": {"duration": "5s"}}));
    assert_eq!(status, 200);
}

#[test]
fn the_downloaded_scenario_is_self_contained_and_reproduces_the_run() {
    let set = json!({ format!("{OD}.baseEjectionTime"): "10s", format!("{OD}.consecutive5xxErrors"): 2 });
    let (status, head, body) =
        request("GET", &format!("/api/download?scenario={LAB}&seed=4&set={}", query_set(&set)), b"");
    assert_eq!(status, 200);
    assert!(head.contains(&format!("attachment; filename=\"{LAB}.toml\"")), "{head}");
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("baseEjectionTime = \"10s\"") && !text.contains("manifests ="));
    // Parsed from another folder: nothing refers to the manifests' files.
    let dir = crate::scratch::tempdir().unwrap();
    let s = meshsim::scenario::from_str(&text, "downloaded.toml", dir.path(), &[]).unwrap();
    assert_eq!(s.seed, 4);
    let out = meshsim::model::run(Arc::new(s), 4).unwrap();
    let report = meshsim::metrics::report::report(&out.world, 4, out.events);
    let verdicts = meshsim::check::evaluate(&out.world, &report);
    assert!(!verdicts.is_empty() && verdicts.iter().all(|v| v.passed), "{verdicts:?}");
    let (_, page) = post_run(&json!({"scenario": LAB, "seed": 4, "set": set}));
    let summary: Value = serde_json::from_str(&meshsim::output::summary_json(&report)).unwrap();
    assert_eq!(page["summary"], summary, "the file reproduces what the page showed");
    // The expectations the new settings break are named, not silently dropped.
    let n_original = util::load(&format!("{LAB}.toml"), &[]).expectations.len();
    if verdicts.len() < n_original {
        assert!(text.contains("# Expectations left out"), "{text}");
    }
}

/// An expectation measured on a variant (`set = [...]` in `[[expect]]`) runs on the page's
/// settings too: when they break it, the download leaves it out and names it, like any other.
/// (The page's `maxEjectionPercent: 10` stops seed-failover-503's failover, so its Istio 1.23
/// variant, "0 client 503s", fails; it used to be kept and `meshsim check` of the file failed.)
#[test]
fn a_download_leaves_out_the_variant_expectations_its_settings_break() {
    let set = json!({ format!("{OD}.maxEjectionPercent"): 10 });
    let (status, _, body) = request("GET", &format!("/api/download?scenario={LAB}&set={}", query_set(&set)), b"");
    assert_eq!(status, 200);
    let text = String::from_utf8(body).unwrap();
    let original = util::load(&format!("{LAB}.toml"), &[]);
    assert!(!original.variants.is_empty(), "{LAB} has a variant expectation");
    let dir = crate::scratch::tempdir().unwrap();
    let s = meshsim::scenario::from_str(&text, "d.toml", dir.path(), &[]).unwrap();
    let variants = meshsim::check::evaluate_variants(&s, s.seed).unwrap();
    assert!(variants.iter().all(|v| v.passed), "{variants:?}");
    assert!(s.variants.len() < original.variants.len(), "the broken variant is left out");
    assert!(text.contains("# Expectations left out") && text.contains("Istio 1.23"), "{text}");
}

#[test]
fn every_catalogue_scenario_downloads_unchanged_to_the_same_run() {
    for entry in &Catalogue::load(&util::root().join("scenarios")).unwrap().entries {
        let (status, _, body) = request("GET", &format!("/api/download?scenario={}", entry.name), b"");
        assert_eq!(status, 200, "{}", entry.name);
        let text = String::from_utf8(body).unwrap();
        let dir = crate::scratch::tempdir().unwrap();
        let s = meshsim::scenario::from_str(&text, "d.toml", dir.path(), &[]).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(s.expectations.len(), entry.scenario.expectations.len(), "{}: all expectations hold", entry.name);
        let short = |s: &meshsim::scenario::Scenario| {
            let mut s = s.clone();
            s.duration = s.duration.min(meshsim::engine::SimDuration::from_millis(20_000));
            s
        };
        let a = meshsim::model::run(Arc::new(short(&s)), s.seed).unwrap();
        let b = meshsim::model::run(Arc::new(short(&entry.scenario)), entry.scenario.seed).unwrap();
        assert_eq!(
            meshsim::output::events_jsonl(&a.world),
            meshsim::output::events_jsonl(&b.world),
            "{}: the file gives the same run",
            entry.name
        );
    }
}

#[test]
fn serve_refuses_a_missing_catalogue_or_a_zero_budget_with_exit_2() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_meshsim")).args(args).current_dir(util::root()).output().unwrap()
    };
    let out = run(&["serve", "no-such-folder", "--port", "0"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-folder: cannot read: no such file or folder"), "{err}");
    let out = run(&["serve", "--time-budget", "0s", "--port", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--time-budget 0s: expected more than 0s"));
}

#[test]
fn serve_prints_its_address_and_answers_there() {
    use std::io::BufRead;
    /// Stops the server however the test ends.
    struct Child(std::process::Child);
    impl Drop for Child {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = Child(
        std::process::Command::new(env!("CARGO_BIN_EXE_meshsim"))
            .args(["serve", "scenarios/seed-failover.toml", "--port", "0"])
            .current_dir(util::root())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut line = String::new();
    std::io::BufReader::new(child.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
    assert!(line.starts_with("meshsim serve: http://127.0.0.1:"), "{line}");
    assert!(line.contains("(1 scenarios from scenarios/seed-failover.toml)"), "{line}");
    let addr: SocketAddr = line["meshsim serve: http://".len()..].split('/').next().unwrap().parse().unwrap();
    let (status, _, body) = request_at(addr, "GET", "/api/scenarios", b"");
    assert_eq!(status, 200);
    let list = json_of(&body);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["name"], "seed-failover");
}

/// Knobs edit the DestinationRule's top-level `trafficPolicy`; in the subset scenario the route's
/// subset `v1` has its own `outlierDetection` and `loadBalancer` blocks, which win Istio's merge
/// whole, so the page is told those knobs are shadowed and by which block. `connectionPool` comes
/// from the top level there, and the seed lab has no subset: nothing is shadowed.
#[test]
fn knobs_say_when_a_subset_block_shadows_them() {
    let detail = |name: &str| {
        let (status, _, body) = request("GET", &format!("/api/scenario?name={name}"), b"");
        assert_eq!(status, 200);
        json_of(&body)
    };
    let d = detail("subset-outlier-detection");
    let shadow = |path: &str| d["knobs"][path]["shadowed_by"].clone();
    assert_eq!(
        shadow(&format!("{OD}.consecutive5xxErrors")),
        "subsets[name=v1].trafficPolicy.outlierDetection (route of `ingress`)"
    );
    assert_eq!(
        shadow("policy.destination_rule.trafficPolicy.loadBalancer.localityLbSetting.enabled"),
        "subsets[name=v1].trafficPolicy.loadBalancer (route of `ingress`)"
    );
    let pool = d["knobs"]
        .as_object()
        .unwrap()
        .iter()
        .find(|(p, _)| p.starts_with("policy.destination_rule.trafficPolicy.connectionPool."))
        .expect("a connectionPool knob");
    assert_eq!(pool.1["shadowed_by"], Value::Null, "{pool:?}");
    let lab = detail(LAB);
    assert!(lab["knobs"].as_object().unwrap().values().all(|k| k["shadowed_by"].is_null()), "{lab}");
}

/// A knob edits the block in force for the cluster the route uses: in the subset scenario the
/// route's subset `v1` has its own `outlierDetection`, so `consecutive5xxErrors` edits
/// `subsets[0].trafficPolicy.outlierDetection.consecutive5xxErrors` (value 1, the subset's), and
/// moving it to 0 turns the consecutive-5xx detector off: no ejection, where the scenario ejects
/// each of A's pods (6 times while A fails). The top-level path alone changes nothing (the
/// subset's block wins Istio's merge whole), which is why the knob does not write there. The
/// `connectionPool` knobs still edit the top level, which is in force for that block.
#[test]
fn a_knob_edits_the_block_in_force_and_moving_it_changes_the_run() {
    const SUB: &str = "subset-outlier-detection";
    let (status, _, body) = request("GET", &format!("/api/scenario?name={SUB}"), b"");
    assert_eq!(status, 200);
    let d = json_of(&body);
    let knob = &d["knobs"][format!("{OD}.consecutive5xxErrors")];
    let edit = "policy.destination_rule.subsets[0].trafficPolicy.outlierDetection.consecutive5xxErrors";
    assert_eq!(knob["edits"], json!([edit]), "{knob}");
    assert_eq!(knob["value"], 1, "the subset's value is the knob's");
    assert_eq!(knob["settable"], true);
    let pool = "policy.destination_rule.trafficPolicy.connectionPool.http.http2MaxRequests";
    assert_eq!(d["knobs"][pool]["edits"], json!([pool]));
    assert_eq!(d["knobs"][pool]["value"], 100);
    let ejections = |set: Value| {
        let (status, got) = post_run(&json!({"scenario": SUB, "set": set}));
        assert_eq!(status, 200, "{:.300}", got.to_string());
        got["summary"]["ejections"].as_u64().unwrap_or_else(|| panic!("{:.600}", got["summary"]))
    };
    let base = ejections(json!({}));
    assert!(base >= 6, "{base}");
    assert_eq!(ejections(json!({ format!("{OD}.consecutive5xxErrors"): 0 })), base, "the top-level block is shadowed");
    assert_eq!(ejections(json!({ edit: 0 })), 0, "the knob's edit turns the detector off");
}
