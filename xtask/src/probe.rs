//! The probe kernel (`testimages/probe`): a NetBSD-shaped PV test kernel that checks what
//! rpvboot's handover gave it and prints `RPVBOOT-PROBE PASS|FAIL`. Built for
//! `x86_64-unknown-none` (release) and put, plain and gzipped (`gzip -9n`, like `netbsd.gz`),
//! in `<target>/probe/`.

use std::fs;
use std::path::PathBuf;
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::build::{target_dir, PV_TARGET};
use crate::util::{project_root, run};

/// Where the probe kernel lands: `(plain, gzipped)`.
pub fn paths() -> (PathBuf, PathBuf) {
    let d = target_dir().join("probe");
    (d.join("rpvboot-probe"), d.join("rpvboot-probe.gz"))
}

/// Builds the probe and returns [`paths`].
pub fn build_probe() -> Result<(PathBuf, PathBuf)> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run(Command::new(cargo).current_dir(project_root()).args([
        "build",
        "--quiet",
        "--package",
        "rpvboot-probe",
        "--bin",
        "rpvboot-probe",
        "--target",
        PV_TARGET,
        "--release",
    ]))?;
    let built = target_dir().join(PV_TARGET).join("release").join("rpvboot-probe");
    let (plain, gz) = paths();
    fs::create_dir_all(plain.parent().context("probe dir")?)?;
    fs::copy(&built, &plain).with_context(|| format!("copying {}", built.display()))?;
    let f = fs::File::create(&gz)?;
    let st = Command::new("gzip").args(["-9n", "-c"]).arg(&plain).stdout(f).status().context("running gzip")?;
    if !st.success() {
        bail!("gzip of the probe failed: {st}");
    }
    Ok((plain, gz))
}

/// [`build_probe`] for the scenario list, which cannot fail: on error it says so and returns
/// the paths anyway (the scenario then fails when its kernel is staged).
pub fn probe_paths_for_scenarios() -> (PathBuf, PathBuf) {
    match build_probe() {
        Ok(p) => p,
        Err(e) => {
            eprintln!("e2e: building the probe kernel failed: {e:#}");
            paths()
        }
    }
}
