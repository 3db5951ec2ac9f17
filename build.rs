//! Records the commit meshsim is built from, for `meshsim --version`.
//!
//! The commit is `git rev-parse --short=12 HEAD` when the sources are a git checkout and git is
//! installed; `MESHSIM_COMMIT` (for packagers building from a tarball) wins over it; otherwise
//! it is "unknown". Nothing else of the environment (no date, no host, no dirty flag, which git
//! would not re-check) goes in, so two builds of one commit are identical. The script re-runs
//! only when `HEAD` moves (the files named by `rerun-if-changed`) or `MESHSIM_COMMIT` changes.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}

/// Whether the sources are the top of a git checkout (not a tarball unpacked inside some other
/// repository, whose commit would be wrong).
fn own_checkout() -> bool {
    let here = std::env::var("CARGO_MANIFEST_DIR").ok().and_then(|d| std::fs::canonicalize(d).ok());
    let top = git(&["rev-parse", "--show-toplevel"]).and_then(|t| std::fs::canonicalize(t).ok());
    here.is_some() && here == top
}

/// Re-run when this file changes. A missing file would re-run the script at every build, so
/// only existing ones are named.
fn watch(path: Option<String>) {
    if let Some(p) = path.filter(|p| std::path::Path::new(p).exists()) {
        println!("cargo:rerun-if-changed={p}");
    }
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=MESHSIM_COMMIT");
    let commit = match std::env::var("MESHSIM_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_string(),
        _ if !own_checkout() => "unknown".to_string(),
        _ => {
            // HEAD, the branch it points to, and packed-refs: a commit or checkout moves one.
            for path in ["HEAD", "packed-refs"] {
                watch(git(&["rev-parse", "--git-path", path]));
            }
            if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
                watch(git(&["rev-parse", "--git-path", &branch]));
            }
            git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".to_string())
        }
    };
    println!("cargo:rustc-env=MESHSIM_COMMIT={commit}");
}
