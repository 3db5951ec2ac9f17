use std::path::{Path, PathBuf};

use super::*;

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

fn phases() -> Vec<PhaseBand> {
    vec![
        PhaseBand::new("baseline", 0.0, 60.0),
        PhaseBand::new("zone-a outage", 60.0, 150.0),
        PhaseBand::new("recovery", 150.0, 240.0),
    ]
}

fn run_chart() -> RunChart {
    let n = 240;
    let time_s: Vec<f64> = (0..n).map(f64::from).collect();
    let mut a = Vec::new();
    let mut b = Vec::new();
    let mut c = Vec::new();
    let mut e5xx = Vec::new();
    let mut nhu = Vec::new();
    let mut overflow = Vec::new();
    let mut timeout = Vec::new();
    let mut ejected = Vec::new();
    let mut rps = Vec::new();
    let mut failed = Vec::new();
    let mut panic = Vec::new();
    for i in 0..n {
        let t = f64::from(i);
        let (sa, sb) = if t < 60.0 {
            (0.9, 0.07)
        } else if t < 75.0 {
            (0.9 - (t - 60.0) * 0.055, 0.07 + (t - 60.0) * 0.04)
        } else if t < 150.0 {
            (0.05, 0.7)
        } else {
            (0.05 + ((t - 150.0) * 0.02).min(0.85), (0.7 - (t - 150.0) * 0.02).max(0.07))
        };
        let sc = (1.0f64 - sa - sb).max(0.0);
        // A gap with no attempts at t = 200..203.
        let gap = (200..203).contains(&i);
        a.push(if gap { f64::NAN } else { sa });
        b.push(if gap { f64::NAN } else { sb });
        c.push(if gap { f64::NAN } else { sc });
        let in_fault = (60.0..80.0).contains(&t);
        e5xx.push(if in_fault { 40.0 - (t - 60.0) * 2.0 } else { 0.5 });
        nhu.push(if (62.0..66.0).contains(&t) { 12.0 } else { 0.0 });
        overflow.push(if (64.0..70.0).contains(&t) { 5.0 } else { 0.0 });
        timeout.push(if i == 100 {
            f64::NAN
        } else if in_fault {
            3.0
        } else {
            0.1
        });
        ejected.push(if (62.0..92.0).contains(&t) {
            6.0
        } else if (92.0..130.0).contains(&t) {
            3.0
        } else {
            0.0
        });
        rps.push(200.0 + libm::sin(t / 10.0) * 20.0);
        failed.push(if in_fault { 60.0 } else { 2.0 });
        panic.push(if (64.0..70.0).contains(&t) { 1.0 } else { 0.0 });
    }
    RunChart {
        title: "zone-a-outage · seed 42".to_string(),
        subtitle: "zone-a-outage, seed 42".to_string(),
        time_s,
        bucket_s: 1.0,
        localities: vec![
            "us-east1/us-east1-b".to_string(),
            "us-east1/us-east1-c".to_string(),
            "us-west1/us-west1-a".to_string(),
        ],
        share: vec![a, b, c],
        error_series: vec![
            ("upstream 5xx".to_string(), e5xx),
            ("no healthy upstream".to_string(), nhu),
            ("overflow".to_string(), overflow),
            ("timeout".to_string(), timeout),
        ],
        failed_attempts: vec![("upstream 5xx".to_string(), failed)],
        requests_per_s: rps,
        ejected: vec![("by 1 of 2 proxies".to_string(), ejected.clone()), ("by 2 of 2 proxies".to_string(), ejected)],
        panic: vec![("P0".to_string(), panic.clone()), ("P1".to_string(), panic.iter().map(|v| v / 2.0).collect())],
        marks: vec![
            TimeMark { t_s: 61.5, label: "traffic left +1.5 s".into() },
            TimeMark { t_s: 75.0, label: "settled +15.0 s".into() },
        ],
        phases: phases(),
    }
}

fn timeline() -> EjectionTimeline {
    let iv = |s: f64, e: f64, m: u32| EjectionInterval { start_s: s, end_s: e, multiplier: m };
    let mut rows = Vec::new();
    for proxy in ["frontend-7d9f-1", "frontend-7d9f-2"] {
        for ep in ["10.0.1.4:8080", "10.0.1.5:8080", "10.0.1.6:8080"] {
            rows.push(EjectionRow {
                proxy: proxy.to_string(),
                endpoint: ep.to_string(),
                gateway: false,
                locality: "us-east1/us-east1-b".to_string(),
                intervals: vec![iv(62.0, 92.0, 1), iv(95.0, 155.0, 2), iv(158.0, f64::INFINITY, 3)],
            });
        }
    }
    rows.push(EjectionRow {
        proxy: "frontend-7d9f-1".to_string(),
        endpoint: "10.0.2.9:8080".to_string(),
        gateway: true,
        locality: "us-west1/us-west1-a".to_string(),
        intervals: vec![iv(70.0, 70.5, 1)],
    });
    rows.push(EjectionRow {
        proxy: "frontend-7d9f-2".to_string(),
        endpoint: "10.0.3.2:8080".to_string(),
        gateway: false,
        locality: "us-east1/us-east1-c".to_string(),
        intervals: vec![],
    });
    EjectionTimeline {
        title: "zone-a-outage · seed 42".to_string(),
        start_s: 0.0,
        end_s: 240.0,
        localities: vec![
            "us-east1/us-east1-b".to_string(),
            "us-east1/us-east1-c".to_string(),
            "us-west1/us-west1-a".to_string(),
        ],
        rows,
        phases: phases(),
    }
}

fn ecdf() -> LatencyEcdf {
    // Deterministic pseudo-random latencies (xorshift), log-normal-ish.
    let mut state = 0x2545F4914F6CDD1Du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut sample = |n: usize, base: f64, tail: f64| -> Vec<f64> {
        let mut v: Vec<f64> = (0..n)
            .map(|_| {
                let u = next();
                base * (1.0 + 3.0 * u * u) + if next() < 0.02 { tail * next() } else { 0.0 }
            })
            .collect();
        v.sort_by(f64::total_cmp);
        v
    };
    LatencyEcdf {
        title: "zone-a-outage · seed 42 — latency".to_string(),
        series: vec![
            EcdfCurve::from_samples("baseline", &sample(3000, 4.0, 50.0)),
            EcdfCurve::from_samples("zone-a outage", &sample(5000, 9.0, 2500.0)),
            EcdfCurve::from_samples("recovery", &sample(800, 5.0, 200.0)),
            EcdfCurve::from_samples("empty phase", &[]),
        ],
        footnote: String::new(),
    }
}

fn heat() -> Heatmap {
    Heatmap {
        metric: "client error rate (%)".to_string(),
        objective: Some(Objective::Minimize),
        x_label: "outlierDetection.consecutive5xxErrors".to_string(),
        y_label: "outlierDetection.baseEjectionTime".to_string(),
        x_values: ["1", "2", "5", "10"].map(String::from).to_vec(),
        y_values: ["1s", "30s", "300s"].map(String::from).to_vec(),
        values: vec![vec![0.42, 0.61, 1.9, 4.75], vec![0.35, f64::NAN, 1.2, 3.1], vec![0.51, 0.73, 1.5]],
        recommended: Some((1, 0)),
        recommended_note: "minimize the mean of errors subject to false_ejections == 0".to_string(),
        infeasible: vec![(0, 0), (0, 1), (0, 2), (9, 9)],
    }
}

fn sweep() -> SweepLines {
    let s = |name: &str, mean: Vec<f64>, spread: f64| SweepSeries {
        name: name.to_string(),
        lower: mean.iter().map(|m| m * (1.0 - spread)).collect(),
        upper: mean.iter().map(|m| m * (1.0 + spread)).collect(),
        mean,
    };
    SweepLines {
        title: "client error rate (minimize)".to_string(),
        x_label: "outlierDetection.consecutive5xxErrors".to_string(),
        y_label: "client error rate (%)".to_string(),
        x_values: ["1", "2", "3", "5", "10"].map(String::from).to_vec(),
        band_label: "min–max over 10 seeds".to_string(),
        series: vec![
            s("baseEjectionTime=1s", vec![0.4, 0.6, 0.9, 1.9, 4.7], 0.2),
            s("baseEjectionTime=30s", vec![0.35, f64::NAN, 0.7, 1.2, 3.1], 0.3),
            s("baseEjectionTime=300s", vec![0.5, 0.7, 0.8, 1.5, 2.9], 0.1),
        ],
    }
}

/// Renders with `f` into `dir/name.{png,svg}` and checks the files.
fn check(
    dir: &Path,
    name: &str,
    f: impl Fn(&Path, &Path) -> Result<(), PlotError>,
    must_contain: &[&str],
) -> (Vec<u8>, String) {
    let png = dir.join(format!("{name}.png"));
    let svg = dir.join(format!("{name}.svg"));
    f(&png, &svg).unwrap();
    let png_bytes = std::fs::read(&png).unwrap();
    let svg_text = std::fs::read_to_string(&svg).unwrap();
    assert!(png_bytes.len() > 5_000, "{name}: PNG too small");
    assert_eq!(png_bytes[..8], PNG_SIGNATURE, "{name}: not a PNG");
    assert!(svg_text.len() > 2_000, "{name}: SVG too small");
    assert!(svg_text.starts_with("<svg"), "{name}: not an SVG");
    for s in must_contain {
        assert!(svg_text.contains(s), "{name}: SVG lacks {s:?}");
    }
    // Deterministic: a second rendering is byte-identical.
    f(&png, &svg).unwrap();
    assert_eq!(std::fs::read(&png).unwrap(), png_bytes, "{name}: PNG differs");
    assert_eq!(std::fs::read_to_string(&svg).unwrap(), svg_text, "{name}: SVG differs");
    // No temporary files are left behind.
    let leftovers: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{name}: temp files left: {leftovers:?}");
    (png_bytes, svg_text)
}

#[test]
fn traffic_share_smoke() {
    let dir = crate::scratch::tempdir().unwrap();
    let data = run_chart();
    let (_, svg) = check(
        dir.path(),
        "traffic",
        |p, s| traffic_share(&data, p, s),
        &[
            "zone-a-outage · seed 42",
            "zone-a outage",
            "upstream 5xx",
            "Failed upstream attempts",
            "traffic left +1.5 s",
            "settled +15.0 s",
            "by 2 of 2 proxies",
            "P0",
            "P1",
            // Two zones of us-east1 keep their zone names: not cut to `us-east1/us-east…` twice.
            "us-east1-b",
            "us-east1-c",
        ],
    );
    assert_eq!(traffic_share_svg(&data).unwrap(), svg);
    assert!(!svg.contains("no ejections") && !svg.contains("no panic"), "there are some");
    // Without ejections, errors or panic, each panel says so instead of staying blank.
    let calm = RunChart {
        error_series: data.error_series.iter().map(|(n, v)| (n.clone(), vec![0.0; v.len()])).collect(),
        failed_attempts: vec![("upstream 5xx".into(), vec![0.0; 240])],
        ejected: Vec::new(),
        panic: Vec::new(),
        ..data.clone()
    };
    let svg = traffic_share_svg(&calm).unwrap();
    for s in ["no ejections", "no panic", "no client errors", "no failed upstream attempts", "timeout: none"] {
        assert!(svg.contains(s), "{s}");
    }
}

#[test]
fn ejection_timeline_smoke() {
    let dir = crate::scratch::tempdir().unwrap();
    let data = timeline();
    let (_, svg) = check(
        dir.path(),
        "ejections",
        |p, s| ejection_timeline(&data, p, s),
        &["zone-a-outage · seed 42", "recovery", "×2", "10.0.1.5:8080"],
    );
    assert_eq!(ejection_timeline_svg(&data).unwrap(), svg);
}

#[test]
fn latency_ecdf_smoke() {
    let dir = crate::scratch::tempdir().unwrap();
    let data = ecdf();
    let (_, svg) =
        check(dir.path(), "ecdf", |p, s| latency_ecdf(&data, p, s), &["latency", "zone-a outage", "log scale"]);
    assert_eq!(latency_ecdf_svg(&data).unwrap(), svg);
}

#[test]
fn heatmap_smoke() {
    let dir = crate::scratch::tempdir().unwrap();
    let data = heat();
    let (_, svg) = check(
        dir.path(),
        "heatmap",
        |p, s| heatmap(&data, p, s),
        &[
            "client error rate (%) (minimize)",
            "outlierDetection.consecutive5xxErrors",
            "n/a",
            "4.75",
            "Outlined: the recommended setting: minimize the mean of errors subject to false_ejections == 0.",
            "Crossed out: settings that break the constraints.",
        ],
    );
    assert_eq!(heatmap_svg(&data).unwrap(), svg);
}

#[test]
fn sweep_lines_smoke() {
    let dir = crate::scratch::tempdir().unwrap();
    let data = sweep();
    let (_, svg) = check(
        dir.path(),
        "sweep",
        |p, s| sweep_lines(&data, p, s),
        &["client error rate (minimize)", "baseEjectionTime=30s"],
    );
    assert_eq!(sweep_lines_svg(&data).unwrap(), svg);
}

#[test]
fn empty_and_nan_data_do_not_panic() {
    let dir = crate::scratch::tempdir().unwrap();
    let d = dir.path();
    let p = |n: &str| (d.join(format!("{n}.png")), d.join(format!("{n}.svg")));

    let (png, svg) = p("run-empty");
    traffic_share(&RunChart::default(), &png, &svg).unwrap();
    assert!(std::fs::read_to_string(&svg).unwrap().contains("no data"));

    let nan_run = RunChart {
        title: "all NaN".into(),
        time_s: vec![0.0, 1.0, f64::NAN, 3.0],
        bucket_s: f64::NAN,
        localities: vec!["a".into(), "b".into()],
        share: vec![vec![f64::NAN; 4], vec![]],
        error_series: vec![("timeout".into(), vec![f64::NAN; 2])],
        ejected: vec![("by 1 of 1 proxy".into(), vec![f64::NAN])],
        panic: vec![("P0".into(), vec![f64::NAN, -1.0])],
        marks: vec![TimeMark { t_s: f64::NAN, label: "x".into() }, TimeMark { t_s: 1e9, label: "far".into() }],
        phases: vec![PhaseBand::new("odd", f64::NAN, 5.0), PhaseBand::new("rev", 3.0, 1.0)],
        ..RunChart::default()
    };
    let (png, svg) = p("run-nan");
    traffic_share(&nan_run, &png, &svg).unwrap();

    let (png, svg) = p("timeline-empty");
    ejection_timeline(&EjectionTimeline::default(), &png, &svg).unwrap();
    assert!(std::fs::read_to_string(&svg).unwrap().contains("no ejections"));

    let (png, svg) = p("ecdf-empty");
    latency_ecdf(&LatencyEcdf::default(), &png, &svg).unwrap();
    let nan_ecdf = LatencyEcdf {
        title: "nan".into(),
        series: vec![
            EcdfCurve::from_samples("a", &[f64::NAN, 0.0, 0.0]),
            EcdfCurve::from_samples("b", &[]),
            EcdfCurve { name: "c".into(), points: vec![(f64::NAN, 0.5), (1.0, f64::INFINITY)], ..EcdfCurve::default() },
        ],
        footnote: "note".into(),
    };
    let (png, svg) = p("ecdf-nan");
    latency_ecdf(&nan_ecdf, &png, &svg).unwrap();

    let (png, svg) = p("heatmap-empty");
    heatmap(&Heatmap::default(), &png, &svg).unwrap();
    let all_nan = Heatmap {
        metric: "m".into(),
        x_values: vec!["1".into()],
        y_values: vec!["2".into()],
        values: vec![vec![f64::NAN]],
        ..Heatmap::default()
    };
    let (png, svg) = p("heatmap-nan");
    heatmap(&all_nan, &png, &svg).unwrap();
    let single = Heatmap { values: vec![vec![3.0]], objective: Some(Objective::Maximize), ..all_nan };
    let (png, svg) = p("heatmap-single");
    heatmap(&single, &png, &svg).unwrap();

    let (png, svg) = p("sweep-empty");
    sweep_lines(&SweepLines::default(), &png, &svg).unwrap();
    let constant = SweepLines {
        x_values: vec!["1".into()],
        series: vec![SweepSeries { name: "s".into(), mean: vec![2.0], lower: vec![], upper: vec![] }],
        ..SweepLines::default()
    };
    let (png, svg) = p("sweep-single");
    sweep_lines(&constant, &png, &svg).unwrap();

    html_report(&Report::default(), &d.join("empty.html")).unwrap();
}

#[test]
fn html_report_inlines_svgs() {
    let dir = crate::scratch::tempdir().unwrap();
    let svg_path = dir.path().join("heat.svg");
    heatmap(&heat(), &dir.path().join("heat.png"), &svg_path).unwrap();
    let report = Report {
        title: "Sweep <consecutive5xxErrors> & friends".to_string(),
        intro: "Outlier detection sweep.".to_string(),
        summary_header: vec!["scenario".into(), "seed".into(), "error rate".into()],
        summary_rows: vec![vec!["zone-a-outage".into(), "42".into(), "0.42%".into()]],
        sections: vec![
            ReportSection::new(
                "Traffic share",
                "Attempt share per locality.",
                traffic_share_svg(&run_chart()).unwrap(),
            ),
            ReportSection::from_svg_file("Heatmap", "Error rate by parameters.", &svg_path).unwrap(),
        ],
    };
    let path = dir.path().join("sub/report.html");
    html_report(&report, &path).unwrap();
    let html = std::fs::read_to_string(&path).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("Sweep &lt;consecutive5xxErrors&gt; &amp; friends"));
    assert_eq!(html.matches("<svg").count(), 2);
    assert!(html.contains("zone-a outage"));
    assert!(!html.contains("http://") || html.matches("http://").count() == 2); // xmlns only
    assert!(!html.contains("<script"));
    assert_eq!(render_html(&report), html);

    let not_svg = dir.path().join("x.svg");
    std::fs::write(&not_svg, "hello").unwrap();
    assert!(matches!(ReportSection::from_svg_file("x", "", &not_svg), Err(PlotError::NotSvg { .. })));
}

#[test]
fn errors_name_the_file() {
    let dir = crate::scratch::tempdir().unwrap();
    // A directory where the file should go: the rename fails.
    let blocker = dir.path().join("blocked.svg");
    std::fs::create_dir(&blocker).unwrap();
    std::fs::write(blocker.join("keep"), "x").unwrap();
    let err = heatmap(&heat(), &dir.path().join("ok.png"), &blocker).unwrap_err();
    assert!(err.to_string().contains("blocked.svg"), "{err}");
}

#[test]
fn number_formatting() {
    assert_eq!(fmt_num(0.0), "0");
    assert_eq!(fmt_num(0.5), "0.5");
    assert_eq!(fmt_num(12.0), "12");
    assert_eq!(fmt_num(4.75), "4.75");
    assert_eq!(fmt_num(1500.0), "1500");
    assert_eq!(fmt_num(f64::NAN), "–");
    assert_eq!(nice_ceil(0.0), 1.0);
    assert_eq!(nice_ceil(43.0), 50.0);
    assert_eq!(nice_ceil(7.2), 8.0);
}

/// Renders every sample chart and a report built from the SVG files. Set
/// `MESHSIM_PLOT_PREVIEW=/tmp/plots` to keep them for eyeballing (a temporary folder otherwise).
#[test]
fn preview() {
    let tmp = crate::scratch::tempdir().unwrap();
    let dir = std::env::var("MESHSIM_PLOT_PREVIEW").map(PathBuf::from).unwrap_or_else(|_| tmp.path().to_path_buf());
    let p = |n: &str| (dir.join(format!("{n}.png")), dir.join(format!("{n}.svg")));
    let (a, b) = p("traffic_share");
    traffic_share(&run_chart(), &a, &b).unwrap();
    let (a, b) = p("ejection_timeline");
    ejection_timeline(&timeline(), &a, &b).unwrap();
    let (a, b) = p("latency_ecdf");
    latency_ecdf(&ecdf(), &a, &b).unwrap();
    let (a, b) = p("heatmap");
    heatmap(&heat(), &a, &b).unwrap();
    let (a, b) = p("sweep_lines");
    sweep_lines(&sweep(), &a, &b).unwrap();
    let (a, b) = p("empty");
    traffic_share(&RunChart::default(), &a, &b).unwrap();
    let report = Report {
        title: "meshsim preview".into(),
        intro: String::new(),
        summary_header: vec!["chart".into()],
        summary_rows: vec![vec!["all".into()]],
        sections: vec![
            ReportSection::from_svg_file("Traffic", "", &dir.join("traffic_share.svg")).unwrap(),
            ReportSection::from_svg_file("Ejections", "", &dir.join("ejection_timeline.svg")).unwrap(),
        ],
    };
    html_report(&report, &dir.join("report.html")).unwrap();
    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert_eq!(html.matches("<svg").count(), 2, "both charts inlined");
}

/// Renders an hour-long run at 1 s buckets with six localities, 200 ejection rows and a million
/// latency samples without error.
#[test]
fn large_inputs_render() {
    let tmp = crate::scratch::tempdir().unwrap();
    let out = std::env::var("MESHSIM_PLOT_PREVIEW").map(PathBuf::from);
    let dir = out.as_deref().unwrap_or(tmp.path());
    let n = 3600;
    let locs = 6;
    let time_s: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let share: Vec<Vec<f64>> = (0..locs)
        .map(|l| (0..n).map(|i| (1.0 + ((i + l * 97) % 300) as f64) / (locs as f64 * 301.0)).collect())
        .collect();
    let data = RunChart {
        title: "big".into(),
        time_s,
        bucket_s: 1.0,
        localities: (0..locs).map(|l| format!("region/zone-{l}")).collect(),
        share,
        error_series: vec![("timeout".into(), (0..n).map(|i| (i % 17) as f64).collect())],
        requests_per_s: vec![100.0; n],
        ejected: vec![("by 1 of 1 proxy".into(), (0..n).map(|i| (i / 300 % 4) as f64).collect())],
        phases: phases(),
        ..RunChart::default()
    };
    traffic_share(&data, &dir.join("a.png"), &dir.join("a.svg")).unwrap();
    let mut tl = timeline();
    tl.rows = (0..200)
        .map(|i| EjectionRow {
            proxy: format!("p{}", i % 7),
            endpoint: format!("10.0.{}.{}:8080", i % 5, i),
            gateway: false,
            locality: format!("region/zone-{}", i % 6),
            intervals: (0..20)
                .map(|k| EjectionInterval { start_s: k as f64 * 12.0, end_s: k as f64 * 12.0 + 5.0, multiplier: k })
                .collect(),
        })
        .collect();
    ejection_timeline(&tl, &dir.join("b.png"), &dir.join("b.svg")).unwrap();
    let mut e = ecdf();
    e.series[0] = EcdfCurve::from_samples("big", &(0..1_000_000).map(|i| 1.0 + (i % 1000) as f64).collect::<Vec<_>>());
    latency_ecdf(&e, &dir.join("c.png"), &dir.join("c.svg")).unwrap();
    for f in ["a.png", "a.svg", "b.png", "b.svg", "c.png", "c.svg"] {
        assert!(std::fs::metadata(dir.join(f)).unwrap().len() > 1000, "{f}");
    }
}

/// Columns of a `w`×`h` RGB buffer that hold any ink (a pixel darker than white).
fn inked_columns(buf: &[u8], w: usize, h: usize) -> Vec<bool> {
    (0..w).map(|x| (0..h).any(|y| buf[(y * w + x) * 3] < 200)).collect()
}

/// Runs of inked columns, as `(first, last)`.
fn ink_runs(cols: &[bool]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut start = None;
    for (x, &inked) in cols.iter().chain(std::iter::once(&false)).enumerate() {
        match (inked, start) {
            (true, None) => start = Some(x),
            (false, Some(s)) => {
                runs.push((s, x - 1));
                start = None;
            }
            _ => {}
        }
    }
    runs
}

/// `text` drawn at the axis-title size on the backend the PNG writer uses.
fn render_png_text(text_: &str) -> (Vec<u8>, usize, usize) {
    render_png_styled(text_, false)
}

fn render_png_styled(text_: &str, is_bold: bool) -> (Vec<u8>, usize, usize) {
    ensure_fonts().unwrap();
    let (w, h) = (320usize, 40usize);
    let mut buf = vec![0u8; w * h * 3];
    {
        let root = glyphs::PngBackend(BitMapBackend::with_buffer(&mut buf, (w as u32, h as u32))).into_drawing_area();
        root.fill(&WHITE).unwrap();
        let style = if is_bold { bold(14.0, INK) } else { text(14.0, INK) };
        root.draw(&Text::new(text_.to_string(), (4, 8), style)).unwrap();
        root.present().unwrap();
    }
    (buf, w, h)
}

#[test]
fn png_text_keeps_each_glyphs_side_bearing() {
    // plotters 0.3.7 drops the left side bearing, so the `l` of "client" touches the `c` (the
    // word reads "dient") and the `1` of "0.01" sits against the `0`. With the bearing, each of
    // these pairs is drawn as two separate shapes with a blank column between them.
    for pair in ["cl", "01", "ri", "il"] {
        let (buf, w, h) = render_png_text(pair);
        let runs = ink_runs(&inked_columns(&buf, w, h));
        assert_eq!(runs.len(), 2, "{pair:?} should be two separate glyphs, ink runs {runs:?}");
    }
    // And the word as a whole is as wide as the layout the charts measure it with.
    let (buf, w, h) = render_png_text("client");
    let runs = ink_runs(&inked_columns(&buf, w, h));
    let (first, last) = (runs[0].0, runs[runs.len() - 1].1);
    let measured = text_width("client", 14.0, false);
    assert!(((last - first + 1) as i32 - measured).abs() <= 2, "ink {first}..{last} vs layout width {measured}");
}

#[test]
fn bold_text_is_measured_as_drawn() {
    // Titles and headers are bold: their width must be the bold face's, or a centred title
    // overflows the canvas (the sweep heatmap's title was cut off).
    ensure_fonts().unwrap();
    let word = "client errors (whole run)";
    let (regular, heavy) = (text_width(word, 14.0, false), text_width(word, 14.0, true));
    assert!(heavy > regular, "bold {heavy} vs regular {regular}");
    let (buf, w, h) = render_png_styled(word, true);
    let runs = ink_runs(&inked_columns(&buf, w, h));
    let ink = (runs[runs.len() - 1].1 - runs[0].0 + 1) as i32;
    assert!((ink - heavy).abs() <= 3, "bold ink {ink} vs bold layout {heavy}");
}

#[test]
fn legend_labels_wrap_instead_of_cutting() {
    ensure_fonts().unwrap();
    // Two localities whose names differ only at the end: cut to the legend's width with an
    // ellipsis they read the same; wrapped, each keeps its end.
    let a = "europe-west1/europe-west1-b/rack-0001";
    let b = "europe-west1/europe-west1-b/rack-0002";
    let w = text_width("europe-west1/europe-west1-b/", 13.0, false) + 4;
    let (la, lb) = (wrap_text(a, 13.0, false, w), wrap_text(b, 13.0, false, w));
    assert!(la.len() > 1, "{la:?}");
    assert_ne!(la, lb);
    assert_eq!(la.concat(), a, "no character lost: {la:?}");
    assert!(la.iter().all(|l| text_width(l, 13.0, false) <= w), "{la:?}");
    assert_eq!(wrap_text("short", 13.0, false, w), vec!["short".to_string()]);
}

/// `polys` filled on a white 40 × 20 canvas through the PNG writer's backend, each with
/// `color` at `alpha`.
fn render_polygons(polys: &[Vec<(i32, i32)>], color: RGBColor, alpha: f64) -> (Vec<u8>, usize) {
    let (w, h) = (40usize, 20usize);
    let mut buf = vec![0u8; w * h * 3];
    {
        let root = glyphs::PngBackend(BitMapBackend::with_buffer(&mut buf, (w as u32, h as u32))).into_drawing_area();
        root.fill(&WHITE).unwrap();
        for p in polys {
            root.draw(&Polygon::new(p.clone(), color.mix(alpha).filled())).unwrap();
        }
        root.present().unwrap();
    }
    (buf, w)
}

#[test]
fn png_polygons_fill_whole_rows_once() {
    // A 30 × 8 rectangle (wider than tall: plotters' own fill sweeps columns there) covers rows
    // 4..12 and columns 5..35 (pixel x is the square x..x+1: the top row and the left column
    // are in, the bottom row and the right column out).
    let rect = vec![(5, 4), (35, 4), (35, 12), (5, 12)];
    let (buf, w) = render_polygons(&[rect], RGBColor(0, 0, 0), 1.0);
    let dark = |x: usize, y: usize| buf[(y * w + x) * 3] == 0;
    let filled: usize = (0..20).flat_map(|y| (0..40).map(move |x| (x, y))).filter(|&(x, y)| dark(x, y)).count();
    assert_eq!(filled, 30 * 8);
    assert!(dark(5, 4) && dark(34, 11) && !dark(5, 12) && !dark(4, 4) && !dark(35, 4));

    // Two half-transparent areas stacked on a shared step-shaped edge: every pixel under them is
    // blended exactly once (no darker seam where both drew, no white gap where neither did).
    let lower = vec![(0, 18), (39, 18), (39, 10), (20, 10), (20, 6), (0, 6)];
    let upper = vec![(0, 6), (20, 6), (20, 10), (39, 10), (39, 2), (0, 2)];
    let (buf, w) = render_polygons(&[lower, upper], RGBColor(0, 0, 0), 0.5);
    // One blend of black at alpha 0.5 over white is 127 or 128 (plotters rounds its eight-pixel
    // blend and its per-pixel blend apart); two would be about 64, none 255.
    for y in 2..18 {
        for x in 0..39 {
            let v = buf[(y * w + x) * 3];
            assert!(v == 127 || v == 128, "pixel ({x}, {y}) is {v}");
        }
    }
    assert_eq!(buf[(18 * w + 5) * 3], 255, "the bottom edge's row stays white");
    assert_eq!(buf[(5 * w + 39) * 3], 255, "the right edge's column stays white");
}
