//! Each pod's life for the page's topology diagram: when it starts, is ready, fails, recovers,
//! terminates and is gone. The fault timeline is deterministic, so this replays the same rules
//! as `model::control` (new pods take the next ordinal and are ready after `readiness_delay`; a
//! scale-down terminates the newest pods, which serve for `termination_grace`; a behavioural
//! fault applies to the pods of the deployment that exist at its time, picked by `pods`) without
//! running the simulation. Ejections come from the run's own log, not from here.

use serde::Serialize;

use crate::engine::SimTime;
use crate::scenario::{FaultAction, Scenario};

/// A pod and the instants its state changes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PodTrack {
    /// `cluster/ordinal`, as endpoints are named everywhere else.
    pub name: String,
    /// Its Kubernetes cluster.
    pub cluster: String,
    /// Its ordinal in the deployment.
    pub ordinal: u32,
    /// `(time_s, state)` in time order; `state` is `starting`, `ready`, `failing`,
    /// `terminating` or `gone`. The first entry is the pod's creation.
    pub changes: Vec<(f64, &'static str)>,
}

struct Live {
    track: usize,
    failing: bool,
}

/// The pods of every deployment over the run, in creation order per deployment.
pub fn pod_tracks(s: &Scenario) -> Vec<PodTrack> {
    let mut tracks: Vec<PodTrack> = Vec::new();
    let mut live: Vec<Vec<Live>> = Vec::new();
    let mut next_ordinal: Vec<u32> = Vec::new();
    let secs = |t: SimTime| t.as_secs_f64();
    for d in &s.service.deployments {
        let cluster = s.kube_clusters[d.cluster.idx()].name.clone();
        let mut pods = Vec::new();
        for ordinal in 0..d.replicas {
            pods.push(Live { track: tracks.len(), failing: false });
            tracks.push(PodTrack {
                name: s.pod_name(&cluster, d.host as usize, ordinal),
                cluster: cluster.clone(),
                ordinal,
                changes: vec![(0.0, "ready")],
            });
        }
        live.push(pods);
        next_ordinal.push(d.replicas);
    }
    for f in &s.faults {
        let t = secs(f.at);
        let d = f.deployment;
        // Each host's own (`[[services]]` may set them).
        let h = s.service.deployments.get(d).map_or(0, |x| x.host as usize);
        let ready_delay = s.readiness_delay_of(h).as_secs_f64();
        let grace = s.termination_grace_of(h).as_secs_f64();
        let Some(pods) = live.get_mut(d) else { continue };
        match f.action {
            FaultAction::Scale { replicas } => {
                let n = replicas as usize;
                if n > pods.len() {
                    let cluster = s.kube_clusters[s.service.deployments[d].cluster.idx()].name.clone();
                    for _ in pods.len()..n {
                        let ordinal = next_ordinal[d];
                        next_ordinal[d] += 1;
                        pods.push(Live { track: tracks.len(), failing: false });
                        tracks.push(PodTrack {
                            name: s.pod_name(&cluster, s.service.deployments[d].host as usize, ordinal),
                            cluster: cluster.clone(),
                            ordinal,
                            changes: vec![(t, "starting"), (t + ready_delay, "ready")],
                        });
                    }
                } else {
                    for p in pods.split_off(n) {
                        let c = &mut tracks[p.track].changes;
                        c.push((t, "terminating"));
                        c.push((t + grace, "gone"));
                    }
                }
            }
            _ => {
                let failing = f.action != FaultAction::Recover;
                for p in pods.iter_mut() {
                    let ordinal = tracks[p.track].ordinal;
                    if f.pods.as_ref().is_some_and(|o| !o.contains(&ordinal)) || p.failing == failing {
                        continue;
                    }
                    p.failing = failing;
                    tracks[p.track].changes.push((t, if failing { "failing" } else { "ready" }));
                }
            }
        }
    }
    for t in &mut tracks {
        // A pod started before a fault is ready only after its delay: keep the list in time order.
        t.changes.sort_by(|a, b| a.0.total_cmp(&b.0));
    }
    tracks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(faults: &str) -> Scenario {
        let text = format!(
            r#"name = "t"
duration = "100s"
[[clusters]]
name = "a"
region = "r1"
[[clusters]]
name = "b"
region = "r2"
[service]
host = "svc"
readiness_delay = "5s"
termination_grace = "2s"
[[service.deployments]]
cluster = "a"
replicas = 2
[[service.deployments]]
cluster = "b"
replicas = 1
[[proxies]]
name = "c"
kind = "sidecar"
cluster = "a"
[[workload]]
proxy = "c"
rate = 10
{faults}"#
        );
        crate::scenario::from_str(&text, "t.toml", std::path::Path::new("."), &[]).unwrap()
    }

    #[test]
    fn scale_down_and_up_gives_new_ordinals() {
        let s = scenario(
            "[[faults]]\nat = \"10s\"\naction = \"scale\"\ncluster = \"a\"\nreplicas = 0\n\
             [[faults]]\nat = \"20s\"\naction = \"scale\"\ncluster = \"a\"\nreplicas = 1\n",
        );
        let t = pod_tracks(&s);
        let names: Vec<&str> = t.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["a/0", "a/1", "b/0", "a/2"]);
        assert_eq!(t[0].changes, vec![(0.0, "ready"), (10.0, "terminating"), (12.0, "gone")]);
        assert_eq!(t[3].changes, vec![(20.0, "starting"), (25.0, "ready")]);
        assert_eq!(t[2].changes, vec![(0.0, "ready")]);
    }

    #[test]
    fn behaviour_faults_pick_pods_and_recover() {
        let s = scenario(
            "[[faults]]\nat = \"10s\"\naction = \"http-error\"\ncluster = \"a\"\npods = [1]\nstatus = 503\n\
             [[faults]]\nat = \"30s\"\naction = \"recover\"\ncluster = \"a\"\n",
        );
        let t = pod_tracks(&s);
        assert_eq!(t[0].changes, vec![(0.0, "ready")]);
        assert_eq!(t[1].changes, vec![(0.0, "ready"), (10.0, "failing"), (30.0, "ready")]);
    }
}
