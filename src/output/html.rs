//! `report.html`: one self-contained page per run for a teacher to open from a file: the
//! question, the phase summary, the measured transitions, the expectations, the lints, the
//! cluster settings in force and every chart with its SVG inlined. No scripts, no external
//! resources.

use std::fmt::Write as _;

use crate::check::Verdict;
use crate::explain::Lint;
use crate::metrics::report::RunReport;
use crate::scenario::Scenario;

/// A chart of the page.
pub struct Figure {
    /// Heading.
    pub heading: String,
    /// What to look at (plain text).
    pub caption: String,
    /// The SVG document.
    pub svg: String,
}

const STYLE: &str = "
body { font-family: 'DejaVu Sans', Verdana, sans-serif; margin: 2em auto; max-width: 1440px; padding: 0 1em;
       color: #222; }
h1 { font-size: 1.6em; margin-bottom: 0.3em; }
h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
p.question { color: #333; white-space: pre-line; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; }
.pass { color: #1a7f37; font-weight: bold; }
.fail { color: #cf222e; font-weight: bold; }
ul.lints li { margin-bottom: 0.6em; }
code { background: #f5f5f5; padding: 0 0.2em; }
figure { margin: 0.5em 0 1.5em 0; }
figure svg { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.92em; margin-top: 0.3em; }
";

use crate::plot::html_escape as esc;

/// The page's HTML.
pub fn report_html(
    report: &RunReport,
    scenario: &Scenario,
    verdicts: &[Verdict],
    lints: &[Lint],
    figures: &[Figure],
) -> String {
    let mut h = String::new();
    let title = format!("{} (seed {})", report.scenario, report.seed);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{t}</title>\n\
         <style>{STYLE}</style>\n</head>\n<body>\n<h1>{t}</h1>\n",
        t = esc(&title)
    );
    if !scenario.description.is_empty() {
        let _ = writeln!(h, "<p class=\"question\">{}</p>", esc(&scenario.description));
    }
    let _ = writeln!(
        h,
        "<p>{} requests, {} client errors, {} ejections ({} refused by maxEjectionPercent), {} events simulated.</p>",
        report.requests, report.errors, report.ejections, report.ejections_overflow, report.events
    );
    phases(&mut h, report);
    transitions(&mut h, report);
    expectations(&mut h, verdicts);
    lint_list(&mut h, lints);
    settings_table(&mut h, scenario);
    for f in figures {
        let _ = writeln!(h, "<h2>{}</h2>\n<figure>", esc(&f.heading));
        match f.svg.find("<svg") {
            Some(i) => {
                h.push_str(f.svg[i..].trim_end());
                h.push('\n');
            }
            None => h.push_str("<p><em>chart not available</em></p>\n"),
        }
        let _ = writeln!(h, "<figcaption>{}</figcaption>\n</figure>", esc(&f.caption));
    }
    h.push_str("</body>\n</html>\n");
    h
}

/// The cluster settings in force, as `meshsim explain` lists them: the final configuration
/// (Istio's translation with `[envoy_outlier]` and the version knobs), each with its source.
fn settings_table(h: &mut String, scenario: &Scenario) {
    let groups = &scenario.proxy_groups;
    let mut done: Vec<usize> = Vec::new();
    // One table per DestinationRule the client proxies get (as Istio selects it for each group).
    for g in 0..groups.len() {
        if done.contains(&g) {
            continue;
        }
        let rule = &groups[g].selection.destination_rule;
        // The cluster a group's route sends to: `outbound|PORT|SUBSET|HOST` for a defined subset,
        // else the default one.
        let subset_of = |x: usize| {
            let sel = &groups[x].selection;
            let subset = crate::explain::settings::route_subset(sel);
            let defined = sel
                .destination_rule
                .as_ref()
                .is_some_and(|d| d.spec.subsets.iter().flatten().any(|s| Some(s.name.as_str()) == subset));
            if defined { subset } else { None }
        };
        let subset = subset_of(g);
        let cluster = crate::model::build::cluster_name(
            scenario,
            crate::model::build::group_port(scenario, &groups[g].selection),
            subset,
            false,
        );
        let same: Vec<usize> = (g..groups.len())
            .filter(|&x| groups[x].selection.destination_rule == *rule && subset_of(x) == subset)
            .collect();
        done.extend(&same);
        let names: Vec<&str> = same.iter().map(|&x| groups[x].name.as_str()).collect();
        let settings = crate::explain::settings::settings_for(scenario, &groups[g].selection, subset);
        settings_rows(h, &cluster, &names, &settings);
    }
    // Each `[[services]]` host's clusters (the default one, then one per subset of its rule), one
    // table per DestinationRule the client proxies get for that host.
    for host in 1..scenario.n_hosts() {
        let mut done: Vec<usize> = Vec::new();
        for g in 0..groups.len() {
            if done.contains(&g) {
                continue;
            }
            let sel = &groups[g].host_selections[host - 1];
            let same: Vec<usize> = (g..groups.len())
                .filter(|&x| groups[x].host_selections[host - 1].destination_rule == sel.destination_rule)
                .collect();
            done.extend(&same);
            let names: Vec<&str> = same.iter().map(|&x| groups[x].name.as_str()).collect();
            let port = crate::model::build::host_port(scenario, host);
            for plan in crate::model::build::host_cluster_plans(scenario, host, sel) {
                let subset = plan.subset.as_deref();
                let cluster = crate::model::build::host_cluster_name(scenario, host, port, subset, false);
                let settings = crate::explain::settings::host_settings_for(scenario, host, sel, subset);
                settings_rows(h, &cluster, &names, &settings);
            }
        }
    }
}

/// One "Settings in force" table: Envoy cluster `cluster` of the client proxies `names`.
fn settings_rows(h: &mut String, cluster: &str, names: &[&str], settings: &[crate::explain::settings::Setting]) {
    let _ = writeln!(h, "<h2>Settings in force ({}, proxies {})</h2>", esc(cluster), esc(&names.join(", ")));
    h.push_str("<table>\n<thead><tr><th>setting</th><th>source</th><th>value</th></tr></thead>\n<tbody>\n");
    for x in settings {
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&x.name),
            esc(x.source.label()),
            esc(&x.value)
        );
    }
    h.push_str("</tbody>\n</table>\n");
}

fn phases(h: &mut String, r: &RunReport) {
    h.push_str("<h2>Phases</h2>\n<table>\n<thead><tr><th>phase</th><th>time</th>");
    for l in &r.localities {
        let _ = write!(h, "<th>share {}</th>", esc(l));
    }
    h.push_str(
        "<th>requests</th><th>errors</th><th>errors by cause</th><th>failed upstream attempts</th>\
         <th>most endpoints ejected</th><th>p50 ms</th><th>p99 ms</th></tr></thead>\n<tbody>\n",
    );
    let opt = |v: Option<f64>| v.map_or("-".to_string(), |x| format!("{x:.1}"));
    for p in &r.phases {
        let _ = write!(h, "<tr><td>{}</td><td>{:.0}-{:.0}s</td>", esc(&p.name), p.start_s, p.end_s);
        for s in &p.share {
            let _ = write!(h, "<td class=\"num\">{:.1}%</td>", s.share * 100.0);
        }
        let _ = writeln!(
            h,
            "<td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td><td class=\"num\">{}</td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            p.requests,
            p.errors,
            esc(&crate::output::causes(&p.errors_by_cause)),
            p.failed_attempts.total(),
            p.max_ejected_endpoints,
            opt(p.p50_ms),
            opt(p.p99_ms)
        );
    }
    h.push_str("</tbody>\n</table>\n");
}

fn transitions(h: &mut String, r: &RunReport) {
    h.push_str("<h2>Failover and fail-back</h2>\n");
    if r.transitions.is_empty() {
        h.push_str("<p>No fault degraded or restored a locality.</p>\n");
        return;
    }
    h.push_str(
        "<p>A failover is measured three ways: when traffic <em>left</em> the failing localities (the first \
         100 ms with their share at or below the threshold), when it <em>settled</em> (stays there until the next \
         fault), and the <em>probes</em>: endpoints returned by an un-ejection while their locality still fails, \
         whose requests do not restart the settled clock.</p>\n<table>\n<thead><tr><th>kind</th><th>after</th>\
         <th>at</th><th>localities</th><th>traffic left</th><th>settled / completed</th><th>probes</th>\
         <th>client errors until then</th></tr></thead>\n<tbody>\n",
    );
    let took = |x: Option<f64>, none: &str| x.map_or(none.to_string(), |x| format!("{x:.1}s"));
    for t in &r.transitions {
        let (left, probes) = match &t.failover {
            Some(f) => {
                let probes = if f.probes == 0 {
                    "none".to_string()
                } else {
                    let times: Vec<String> = f.probe_times_s.iter().map(|x| format!("{x:.1}")).collect();
                    let mut times = times;
                    times.dedup();
                    format!("{} at {} s ({} attempts)", f.probes, times.join(", "), f.probe_attempts)
                };
                (took(f.left_s, "never"), probes)
            }
            None => ("-".to_string(), "-".to_string()),
        };
        let errors = if t.errors == 0 {
            "0".to_string()
        } else {
            format!("{} ({})", t.errors, crate::output::causes(&t.errors_by_cause))
        };
        let _ = writeln!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{:.1}s</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            t.kind,
            esc(&t.fault),
            t.at_s,
            esc(&t.localities.join(", ")),
            esc(&left),
            esc(&took(t.time_s, "did not complete before the next fault")),
            esc(&probes),
            esc(&errors)
        );
    }
    h.push_str("</tbody>\n</table>\n");
}

fn expectations(h: &mut String, verdicts: &[Verdict]) {
    if verdicts.is_empty() {
        return;
    }
    h.push_str(
        "<h2>Expectations</h2>\n<table>\n<thead><tr><th></th><th>expectation</th><th>measured</th>\
                <th>expected</th></tr></thead>\n<tbody>\n",
    );
    for v in verdicts {
        let (class, word) = if v.passed { ("pass", "PASS") } else { ("fail", "FAIL") };
        let _ = writeln!(
            h,
            "<tr><td class=\"{class}\">{word}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&v.name),
            esc(&v.measured),
            esc(&v.bound)
        );
    }
    h.push_str("</tbody>\n</table>\n");
}

fn lint_list(h: &mut String, lints: &[Lint]) {
    h.push_str("<h2>Lints</h2>\n");
    if lints.is_empty() {
        h.push_str("<p>No known trap in this policy.</p>\n");
        return;
    }
    h.push_str("<ul class=\"lints\">\n");
    for l in lints {
        let _ = writeln!(h, "<li><code>{}</code>: {}<br>Fix: {}</li>", esc(l.code), esc(&l.reason), esc(&l.fix));
    }
    h.push_str("</ul>\n");
}
