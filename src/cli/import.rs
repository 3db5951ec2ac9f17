//! `meshsim import`: a runnable scenario from one cluster export per cluster.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

use meshsim::import::{ExportArg, MARKER, import, relative_to};
use meshsim::output::Guard;
use meshsim::output::file::write_file;

/// Arguments of `meshsim import`.
#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// A cluster and its export, `NAME=EXPORT.yaml`: what `kubectl get nodes,namespaces,pods,services,
    /// endpointslices,gateways,virtualservices,destinationrules -A -o yaml` writes. Repeatable.
    #[arg(long = "cluster", value_name = "NAME=EXPORT.yaml", required = true)]
    clusters: Vec<String>,
    /// The service to simulate: `name.namespace.svc.cluster.local` (or `name.namespace`).
    #[arg(long, value_name = "HOST")]
    service: String,
    /// Write the scenario here (a new file, or one `meshsim import` wrote); default: stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Runs `meshsim import`.
pub fn cmd_import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    let base: PathBuf = match &args.out {
        Some(out) => match out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        },
        None => PathBuf::from("."),
    };
    let mut exports = Vec::new();
    for c in &args.clusters {
        let Some((name, path)) = c.split_once('=') else {
            bail!("--cluster {c}: expected NAME=EXPORT.yaml, e.g. --cluster east=east.yaml");
        };
        if path.is_empty() {
            bail!("--cluster {c}: no export file after `=`");
        }
        let path = PathBuf::from(path);
        exports.push(ExportArg { name: name.to_string(), reference: relative_to(&path, &base), path });
    }
    let imported = import(&exports, &args.service).map_err(anyhow::Error::msg)?;
    // The result must load as it is: the Istio resources are checked as `meshsim run` would.
    let label = args.out.as_ref().map_or_else(|| "the imported scenario".to_string(), |p| p.display().to_string());
    let load = |text: &str| {
        let tree = meshsim::scenario::load_tree(text, &label, &base, &[])
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("the exports do not give a scenario meshsim can run")?;
        meshsim::scenario::from_tree(tree, &label)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("the exports do not give a scenario meshsim can run")
    };
    let scenario = load(&imported.text)?;
    // Workloads whose `GET /` no route matches get the path their VirtualService routes to the
    // service; the result is checked again.
    let mut imported = imported;
    let text = meshsim::import::route_request_classes(&imported.text, &scenario);
    if text != imported.text {
        load(&text)?;
        imported.text = text;
    }
    match &args.out {
        None => {
            for line in &imported.summary {
                eprintln!("{line}");
            }
            super::print_all(&imported.text)?;
        }
        Some(out) => {
            refuse_foreign(out)?;
            let guard = exports.iter().fold(Guard::new(), |g, e| g.protect_input(&e.path));
            write_file(out, imported.text.as_bytes(), &guard).context("writing the scenario")?;
            let mut text = String::new();
            for line in &imported.summary {
                text.push_str(line);
                text.push('\n');
            }
            text.push_str(&format!("wrote {}; run it with: meshsim run {}\n", out.display(), out.display()));
            super::print_all(&text)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// An existing file is replaced only when `meshsim import` wrote it (its first line is
/// [`MARKER`]'s).
fn refuse_foreign(out: &Path) -> anyhow::Result<()> {
    let Ok(meta) = std::fs::symlink_metadata(out) else { return Ok(()) };
    if !meta.is_file() {
        return Ok(()); // write_file refuses it, saying what it is
    }
    let head = meshsim::input::read_text(out, meshsim::input::TEXT_CAP, "a scenario meshsim import wrote")
        .map(|t| t.lines().next().unwrap_or_default().starts_with(MARKER))
        .unwrap_or(false);
    if !head {
        bail!(
            "{}: exists and was not written by `meshsim import` (its first line is not \"{MARKER} ...\"); \
             meshsim never overwrites your files: choose a new --out",
            out.display()
        );
    }
    Ok(())
}
