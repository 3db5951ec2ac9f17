//! `meshsim import` end to end (issue 9): cluster exports shaped as `kubectl get ... -A -o yaml`
//! writes them (`tests/exports/`), imported, then run and checked as a user would.
//!
//! The fixtures: `two-clusters/` is `east` (europe-west1, zones b and c: 3 ready checkout pods,
//! 2 on zone b and 1 on zone c, plus 1 unready; 2 frontend sidecars, one per zone; 2 ingress
//! gateway pods on zone b) and `west` (us-central1-a: 3 ready checkout pods), one network, the
//! DestinationRule `shop/checkout` with outlierDetection (5 consecutive 5xx, 5 s interval, 30 s
//! base ejection, up to 100 %). `three-clusters/` is `a` (europe-west1-b, network net-eu, 2 pods,
//! 2 sidecars, 1 ingress pod), `b` (europe-west4-a, net-eu, 2 pods) and `c` (us-east1-b, net-us,
//! 3 pods), each with one east-west gateway pod.

use std::path::Path;

use crate::bin;
use crate::util;

fn exports() -> std::path::PathBuf {
    util::root().join("tests/exports")
}

fn import(dir: &Path, args: &[&str]) -> bin::Outcome {
    let mut all = vec!["import"];
    all.extend_from_slice(args);
    bin::run(dir, &all)
}

fn two(dir: &Path, out: &str) -> bin::Outcome {
    let e = exports().join("two-clusters");
    let east = format!("east={}", e.join("east.yaml").display());
    let west = format!("west={}", e.join("west.yaml").display());
    import(dir, &["--cluster", &east, "--cluster", &west, "--service", "checkout.shop.svc.cluster.local", "--out", out])
}

#[test]
fn two_clusters_import_places_every_ready_pod_and_client() {
    let dir = crate::scratch::tempdir().unwrap();
    let o = two(dir.path(), "s.toml");
    o.succeeded();
    let text = std::fs::read_to_string(dir.path().join("s.toml")).unwrap();
    assert!(text.starts_with(meshsim::import::MARKER), "{text}");
    let s = meshsim::scenario::load(&dir.path().join("s.toml"), &[]).unwrap_or_else(|e| panic!("{e}"));
    // east spans two zones, so it is two entries sharing the cluster ID; west is one.
    let clusters: Vec<(String, String, String)> =
        s.kube_clusters.iter().map(|c| (c.name.clone(), c.locality.to_string(), c.cluster_id.clone())).collect();
    let names: Vec<&str> = clusters.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(names, ["east-europe-west1-b", "east-europe-west1-c", "west"], "{clusters:?}");
    assert!(clusters.iter().take(2).all(|c| c.2 == "east"));
    // Ready endpoints only: 2 + 1 in east (the unready one left out), 3 in west.
    let reps: Vec<u32> = s.service.deployments.iter().map(|d| d.replicas).collect();
    assert_eq!(reps, [2, 1, 3]);
    // Clients: the ingress gateway (2 replicas, zone b) and the frontend sidecars, one per zone.
    let proxies: Vec<(String, u32, String)> =
        s.proxy_groups.iter().map(|g| (g.name.clone(), g.replicas, g.namespace.clone())).collect();
    assert_eq!(
        proxies,
        [
            ("istio-ingressgateway-east-europe-west1-b".to_string(), 2, "istio-system".to_string()),
            ("frontend-east-europe-west1-b".to_string(), 1, "shop".to_string()),
            ("frontend-east-europe-west1-c".to_string(), 1, "shop".to_string()),
        ]
    );
    // Istio's selection picked the checkout rule (not reviews') and the gateway's route.
    for g in &s.proxy_groups {
        let dr = g.selection.destination_rule.as_ref().expect("a DestinationRule applies");
        assert_eq!(dr.spec.host, "checkout.shop.svc.cluster.local", "{}", g.name);
    }
    assert!(s.proxy_groups[0].selection.route.is_some(), "the gateway takes the VirtualService's route");
    // The resources are referenced, not copied: the exports are read as they are.
    assert!(text.contains("manifests = ["), "{text}");
    assert!(!text.contains("consecutive5xxErrors"), "{text}");
    // One summary line per file of skipped kinds, and the EnvoyFilter linted by name.
    let o = bin::run(dir.path(), &["explain", "s.toml"]);
    o.succeeded();
    assert!(
        o.stdout.contains("skipped in ") && o.stdout.contains("ConfigMap") && o.stdout.contains("Pod"),
        "{}",
        o.stdout
    );
    assert!(o.stdout.contains("EnvoyFilter shop/lua-headers"), "{}", o.stdout);
    assert!(o.stdout.contains("applied     DestinationRule shop/checkout"), "{}", o.stdout);
}

#[test]
fn import_then_check_fails_over_and_back() {
    // The skeleton's fault: europe-west1's pods answer 503 from 30 s to 90 s. Outlier detection
    // (5 consecutive 5xx) ejects them within a fraction of a second at these rates, so every
    // client moves to us-central1 well within the skeleton's 10 s; once they recover and their
    // ejections end, traffic returns within its 50 s.
    let dir = crate::scratch::tempdir().unwrap();
    two(dir.path(), "s.toml").succeeded();
    let o = bin::run_in(dir.path(), &["check", "s.toml"], std::time::Duration::from_secs(300), None);
    assert_eq!(o.code, Some(0), "{o:?}");
    assert!(o.stdout.contains("PASS  traffic leaves europe-west1 within 10s"), "{}", o.stdout);
    assert!(o.stdout.contains("2 passed, 0 failed"), "{}", o.stdout);
}

#[test]
fn three_clusters_on_two_networks_get_east_west_gateways() {
    let dir = crate::scratch::tempdir().unwrap();
    let e = exports().join("three-clusters");
    let args: Vec<String> =
        ["a", "b", "c"].iter().map(|c| format!("{c}={}", e.join(format!("{c}.yaml")).display())).collect();
    let o = import(
        dir.path(),
        &[
            "--cluster",
            &args[0],
            "--cluster",
            &args[1],
            "--cluster",
            &args[2],
            "--service",
            "checkout.shop",
            "--out",
            "s.toml",
        ],
    );
    o.succeeded();
    let s = meshsim::scenario::load(&dir.path().join("s.toml"), &[]).unwrap_or_else(|e| panic!("{e}"));
    let nets: Vec<(&str, &str)> = s.kube_clusters.iter().map(|c| (c.name.as_str(), c.network.as_str())).collect();
    assert_eq!(nets, [("a", "net-eu"), ("b", "net-eu"), ("c", "net-us")]);
    assert_eq!(s.east_west_gateways.len(), 3);
    let reps: Vec<u32> = s.service.deployments.iter().map(|d| d.replicas).collect();
    assert_eq!(reps, [2, 2, 3]);
    let o = bin::run(dir.path(), &["run", "s.toml", "--out", "out", "-q", "--set", "duration=5s"]);
    o.succeeded();
}

#[test]
fn import_refuses_to_overwrite_a_file_it_did_not_write() {
    let dir = crate::scratch::tempdir().unwrap();
    std::fs::write(dir.path().join("mine.toml"), "# my notes\n").unwrap();
    two(dir.path(), "mine.toml").refused(&["mine.toml", "not written by `meshsim import`"]);
    assert_eq!(std::fs::read_to_string(dir.path().join("mine.toml")).unwrap(), "# my notes\n");
    // Its own file it replaces.
    two(dir.path(), "s.toml").succeeded();
    two(dir.path(), "s.toml").succeeded();
}

#[test]
fn import_bad_input_names_the_file_resource_and_field() {
    let dir = crate::scratch::tempdir().unwrap();
    let e = exports().join("two-clusters");
    let east = format!("east={}", e.join("east.yaml").display());
    // No such service: the hosts seen are listed.
    import(dir.path(), &["--cluster", &east, "--service", "payments.shop.svc.cluster.local"])
        .refused(&["no export holds Service shop/payments", "checkout.shop.svc.cluster.local"]);
    // Not Kubernetes YAML.
    bin::write(dir.path(), "x.yaml", "hello: world\n");
    import(dir.path(), &["--cluster", "x=x.yaml", "--service", "checkout.shop"])
        .refused(&["x.yaml: document 0", "not a Kubernetes object"]);
    // A Node without locality labels.
    let text = std::fs::read_to_string(e.join("west.yaml")).unwrap();
    let stripped: String = text
        .lines()
        .filter(|l| {
            !l.contains("topology.kubernetes.io/region") && !l.contains("failure-domain.beta.kubernetes.io/region")
        })
        .map(|l| format!("{l}\n"))
        .collect();
    bin::write(dir.path(), "w.yaml", &stripped);
    import(dir.path(), &["--cluster", "west=w.yaml", "--service", "checkout.shop"]).refused(&[
        "w.yaml",
        "Node gke-west-pool-1-",
        "no topology.kubernetes.io/region label",
    ]);
    // Two DestinationRules for one host in one namespace that Istio would reject when merged
    // is reported with the resource; here, a bad field of one.
    let bad = std::fs::read_to_string(e.join("west.yaml"))
        .unwrap()
        .replace("consecutive5xxErrors: 5", "consecutive5xxErrors: -5");
    bin::write(dir.path(), "bad.yaml", &bad);
    let o = import(dir.path(), &["--cluster", "west=bad.yaml", "--service", "checkout.shop"]);
    assert_eq!(o.code, Some(2), "{o:?}");
    assert!(
        o.stderr.contains("DestinationRule shop/checkout") && o.stderr.contains("consecutive5xxErrors"),
        "{}",
        o.stderr
    );
}

/// `two-hosts/prod.yaml`, a multi-document export of one cluster (europe-west1-b): Services
/// `reviews` (3 ready pods) and `reviews-v2` (2), a `productpage` sidecar client (2 pods), the
/// VirtualService `shop/reviews` splitting 90/10 across the two hosts, and one DestinationRule per
/// host. The other host becomes a `[[services]]` table with its pods (not a client group), and the
/// scenario runs with one cluster per host: about 10 % of the attempts go to reviews-v2's pods.
#[test]
fn a_split_across_two_hosts_imports_the_other_host() {
    let dir = crate::scratch::tempdir().unwrap();
    let prod = format!("prod={}", exports().join("two-hosts/prod.yaml").display());
    let o = import(dir.path(), &["--cluster", &prod, "--service", "reviews.shop", "--out", "s.toml"]);
    o.succeeded();
    let text = std::fs::read_to_string(dir.path().join("s.toml")).unwrap();
    assert!(
        text.contains("[service]\nhost = \"reviews.shop.svc.cluster.local\"")
            && text.contains("[[service.deployments]]\n# 3 ready endpoints of reviews.shop.svc.cluster.local in prod"),
        "{text}"
    );
    assert!(
        text.contains("[[services]]\nhost = \"reviews-v2.shop.svc.cluster.local\"\n\n[[services.deployments]]\n# 2 ready endpoints of reviews-v2.shop.svc.cluster.local in prod"),
        "{text}"
    );
    assert!(text.contains("name = \"productpage-prod\"") && !text.contains("name = \"reviews-v2-prod\""), "{text}");
    let s = meshsim::scenario::load(&dir.path().join("s.toml"), &[]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.services.len(), 1);
    let out = meshsim::model::run(std::sync::Arc::new(s), 1).unwrap();
    let names: Vec<&str> = out.world.proxies[0].clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(
        names,
        ["outbound|9080||reviews.shop.svc.cluster.local", "outbound|9080||reviews-v2.shop.svc.cluster.local"]
    );
    let rows = meshsim::metrics::hosts::host_rows(&out.world);
    let of = |host: &str| -> u64 {
        rows.iter()
            .filter(|r| r.phase == "healthy" && r.cluster.ends_with(&format!("|{host}")))
            .map(|r| r.attempts)
            .sum()
    };
    let (v1, v2) = (of("reviews.shop.svc.cluster.local"), of("reviews-v2.shop.svc.cluster.local"));
    // The healthy phase (30 s at 40 requests/s, about 1 200 attempts): the share of reviews-v2 has
    // a standard deviation of sqrt(0.1 x 0.9 / 1200) = 0.0087, so [0.065, 0.135] is 4 of them.
    let share = v2 as f64 / (v1 + v2) as f64;
    assert!((0.065..=0.135).contains(&share), "{share}: {v1} / {v2}");
}

/// Exports saved by Windows tools read as the plain ones: Windows PowerShell 5's `>` writes
/// UTF-16 little-endian with a byte-order mark, Notepad UTF-8 with a mark, both with CRLF line
/// ends. The scenario imported from them runs to the same summary as the one from the originals.
#[test]
fn exports_saved_on_windows_import_like_the_originals() {
    let dir = crate::scratch::tempdir().unwrap();
    let e = exports().join("two-clusters");
    let crlf = |name: &str| std::fs::read_to_string(e.join(name)).unwrap().replace('\n', "\r\n");
    let utf16: Vec<u8> =
        [0xff, 0xfe].into_iter().chain(crlf("east.yaml").encode_utf16().flat_map(u16::to_le_bytes)).collect();
    std::fs::write(dir.path().join("east.yaml"), utf16).unwrap();
    std::fs::write(dir.path().join("west.yaml"), [&[0xef, 0xbb, 0xbf][..], crlf("west.yaml").as_bytes()].concat())
        .unwrap();
    let svc = "checkout.shop.svc.cluster.local";
    import(
        dir.path(),
        &["--cluster", "east=east.yaml", "--cluster", "west=west.yaml", "--service", svc, "--out", "win.toml"],
    )
    .succeeded();
    two(dir.path(), "plain.toml").succeeded();
    let summary = |toml: &str| {
        let o = bin::run(dir.path(), &["run", toml, "--set", "duration=20s", "--out", &format!("out-{toml}")]);
        o.succeeded();
        std::fs::read_to_string(dir.path().join(format!("out-{toml}/summary.json"))).unwrap()
    };
    let (win, plain) = (summary("win.toml"), summary("plain.toml"));
    // The files' names differ in the scenario's comments and `[[kube.exports]]`, not in what ran.
    let strip =
        |s: &str| s.lines().filter(|l| !l.contains(".toml") && !l.contains(".yaml")).collect::<Vec<_>>().join("\n");
    assert!(win.contains("\"requests\""), "{win}");
    assert_eq!(strip(&win), strip(&plain));
}
