//! `meshsim serve`: the teaching page on a local port.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};

use meshsim::engine::SimDuration;
use meshsim::serve::{Api, Catalogue, Server};

/// Arguments of `meshsim serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// A scenario file, or a folder of them (default: `scenarios`).
    #[arg(default_value = "scenarios")]
    path: PathBuf,
    /// Port to listen on (0 picks a free one and prints it).
    #[arg(long, default_value_t = 8080)]
    port: u16,
    /// Address to listen on. Anything but a loopback address lets other machines run
    /// simulations on this one.
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// Open the page in the default browser.
    #[arg(long)]
    open: bool,
    /// Wall-clock budget of one run or snapshot, e.g. `10s`; longer runs answer 503.
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    time_budget: String,
}

/// Runs `meshsim serve` until the process is stopped.
pub fn cmd_serve(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let budget: SimDuration =
        args.time_budget.parse().map_err(|e| anyhow::anyhow!("--time-budget {}: {e}", args.time_budget))?;
    if budget == SimDuration::ZERO {
        bail!("--time-budget {}: expected more than 0s", args.time_budget);
    }
    let catalogue = Catalogue::load(&args.path)?;
    let n = catalogue.entries.len();
    let api = Api::new(catalogue, std::time::Duration::from_nanos(budget.as_nanos()));
    let host = if args.bind.contains(':') { format!("[{}]", args.bind) } else { args.bind.clone() };
    let server = Server::bind(&format!("{host}:{}", args.port), api).map_err(anyhow::Error::msg)?;
    let url = format!("http://{}/", server.addr());
    let mut out = std::io::stdout().lock();
    writeln!(out, "meshsim serve: {url} ({n} scenarios from {}); Ctrl-C stops it", args.path.display())
        .and_then(|_| out.flush())
        .context("writing to stdout")?;
    drop(out);
    if args.open {
        open_browser(&url);
    }
    server.run(4);
    Ok(ExitCode::SUCCESS)
}

/// Asks the desktop to open `url`; a failure is reported, not fatal.
fn open_browser(url: &str) {
    let (program, args): (&str, Vec<&str>) = if cfg!(target_os = "macos") {
        ("open", vec![url])
    } else if cfg!(windows) {
        ("cmd", vec!["/C", "start", "", url])
    } else {
        ("xdg-open", vec![url])
    };
    if let Err(e) = std::process::Command::new(program).args(args).spawn() {
        eprintln!("meshsim serve: could not open a browser ({program}: {e}); open {url} yourself");
    }
}
