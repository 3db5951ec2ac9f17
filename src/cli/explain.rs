//! `meshsim explain`: what each client proxy's Envoy sees at a moment, and lints for traps.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};

use meshsim::engine::{SimDuration, SimTime};
use meshsim::scenario;

/// Arguments of `meshsim explain`.
#[derive(clap::Args, Debug)]
pub struct ExplainArgs {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// The moment to show, e.g. `75s` (default 0s: right after the first EDS push).
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// Only this proxy (e.g. `ingress-0`) or proxy group (e.g. `ingress`).
    #[arg(long)]
    proxy: Option<String>,
    /// Root seed (default: the scenario's `seed`, else 1).
    #[arg(long)]
    seed: Option<u64>,
    /// Override a scenario key by its dotted path, as for `run`. Repeatable.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    sets: Vec<String>,
    /// Output format, as `istioctl proxy-config -o`: `text` (default) or `json`.
    #[arg(long, short = 'o', value_enum, default_value_t = Format::Text)]
    output: Format,
    /// The snapshot as JSON (same as `-o json`).
    #[arg(long)]
    json: bool,
}

/// What `explain` prints.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Tables, like `istioctl proxy-config endpoints`.
    Text,
    /// One JSON document (`meshsim::explain::to_json`).
    Json,
}

/// Runs `meshsim explain`.
pub fn cmd_explain(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let scenario = scenario::load(&args.scenario, &args.sets)?;
    let at = match &args.at {
        None => SimTime::ZERO,
        Some(text) => {
            let d: SimDuration = text.parse().map_err(|e| anyhow::anyhow!("--at {text}: {e}"))?;
            if d > scenario.duration {
                bail!("--at {text}: after the end of the run ({})", scenario.duration);
            }
            SimTime(d.as_nanos())
        }
    };
    let seed = args.seed.unwrap_or(scenario.seed);
    let snap = meshsim::explain::snapshot(Arc::new(scenario), seed, at)
        .with_context(|| format!("running {} with seed {seed}", args.scenario.display()))?;
    if let Some(p) = &args.proxy
        && !meshsim::explain::has_proxy(&snap, p)
    {
        let names: Vec<&str> = snap.proxies.iter().map(|p| p.name.as_str()).collect();
        bail!("--proxy {p}: no such proxy or proxy group (proxies: {})", names.join(", "));
    }
    if args.json || args.output == Format::Json {
        let mut text = serde_json::to_string_pretty(&meshsim::explain::to_json(&snap, args.proxy.as_deref()))?;
        text.push('\n');
        super::print_all(&text)?;
    } else {
        super::print_all(&meshsim::explain::render(&snap, args.proxy.as_deref()))?;
    }
    Ok(ExitCode::SUCCESS)
}
