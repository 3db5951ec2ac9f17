//! `meshsim serve`: a local teaching page with a JSON API. A teacher moves a knob, the page asks
//! the server to re-run the scenario, and the charts, the `explain` table and the topology
//! diagram follow.
//!
//! - [`catalogue`] reads the scenarios once (manifests spliced in); the server reads no other
//!   file and writes none.
//! - [`api`] answers (method, URL, body) with a status and JSON, calling the same library code
//!   as `meshsim run` and `meshsim explain`; [`http`] is the `tiny_http` transport around it.
//! - [`knobs`] is the data the page builds its controls from; [`pods`] each pod's life for the
//!   diagram; [`download`] writes the page's settings as a scenario file.
//! - [`assets`]: the page (plain HTML, CSS and JavaScript, no build step), embedded.

pub mod api;
pub mod assets;
pub mod catalogue;
pub mod download;
pub mod http;
pub mod knobs;
pub mod pods;

use serde_json::{Value as Json, json};

pub use api::{Api, Response};
pub use catalogue::Catalogue;
pub use http::{Running, Server};

use crate::model::RunOutput;

/// Everything the page draws from one run: the summary (the fields of `summary.json`), the time
/// series (the rows of `timeseries.csv` and `client.csv`), every ejection (`ejections.csv`, plus
/// `east_west_gateway`), each pod's life, the topology with its east-west gateway hosts, the
/// expectations' verdicts and the lints.
pub fn run_json(out: &RunOutput, seed: u64) -> Json {
    let world = &out.world;
    let s = &world.scenario;
    let report = crate::metrics::report::report(world, seed, out.events);
    let summary = crate::output::summary_value(&report);
    let locality_of =
        |c: crate::model::ids::KubeClusterId| world.topo.localities[world.topo.locality_of(c).idx()].to_string();
    let clusters: Vec<Json> = s
        .kube_clusters
        .iter()
        .enumerate()
        .map(|(i, c)| {
            json!({
                "name": c.name, "region": c.locality.region, "zone": c.locality.zone,
                "network": c.network,
                "locality": locality_of(crate::model::ids::KubeClusterId(i as u32)),
            })
        })
        .collect();
    let proxies: Vec<Json> = world
        .proxies
        .iter()
        .map(|p| {
            let kind = match s.proxy_groups.get(p.group.idx()).map(|g| g.kind) {
                Some(crate::scenario::ProxyKind::Gateway) => "gateway",
                Some(crate::scenario::ProxyKind::Sidecar) => "sidecar",
                None => "east-west gateway",
            };
            json!({"name": p.name, "kind": kind, "cluster": s.kube_clusters[p.kube_cluster.idx()].name})
        })
        .collect();
    let faults: Vec<Json> = s
        .faults
        .iter()
        .map(|f| {
            json!({
                "at_s": f.at.as_secs_f64(), "name": f.name,
                "cluster": s.kube_clusters[s.service.deployments[f.deployment].cluster.idx()].name,
                "pods": f.pods, "phase": f.starts_phase,
                "restores": crate::metrics::report::restores(s, f),
            })
        })
        .collect();
    // The same shapes as `meshsim check --json` and `meshsim explain --json`.
    let verdicts = serde_json::to_value(crate::check::evaluate(world, &report)).expect("verdicts serialize");
    let lints = serde_json::to_value(crate::explain::lint_scenario(s)).expect("lints serialize");
    // Ejections as `ejections.csv` has them (an east-west gateway replica named by its gateway,
    // `endpoint_kind` saying which), each also marked `east_west_gateway` for the page: one record
    // per `Eject` in log order.
    let mut ejections = serde_json::to_value(crate::output::ejection_records(world)).expect("records serialize");
    let gateway_hosts = world.rec.log.iter().filter_map(|e| match &e.kind {
        crate::metrics::recorder::LogKind::Eject { endpoint, .. } => Some(world.pods[endpoint.idx()].gateway.is_some()),
        _ => None,
    });
    for (record, gateway) in ejections.as_array_mut().into_iter().flatten().zip(gateway_hosts) {
        record["east_west_gateway"] = json!(gateway);
    }
    let gateways: Vec<Json> = world
        .pods
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            let proxy = p.gateway?;
            Some(json!({
                "name": crate::output::endpoint_name(world, crate::model::ids::EndpointId(i as u32)),
                "cluster": s.kube_clusters[p.cluster.idx()].name,
                "proxy": world.proxies[proxy.idx()].name,
            }))
        })
        .collect();
    json!({
        "scenario": report.scenario,
        "seed": seed,
        "duration_s": s.duration.as_secs_f64(),
        "bucket_s": s.bucket.as_secs_f64(),
        "summary": summary,
        "timeseries": report.locality_rows,
        "client": report.client_rows,
        "ejections": ejections,
        "topology": {
            "clusters": clusters, "localities": report.localities, "proxies": proxies,
            "pods": pods::pod_tracks(s), "east_west_gateways": gateways,
        },
        "faults": faults,
        "verdicts": verdicts,
        "lints": lints,
    })
}
