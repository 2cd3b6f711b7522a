//! `cargo xtask`: everything a developer, CI or a user runs, in one place.
//!
//! Each subcommand lives in its own module with a clap `Args` struct and `run(self)`.

mod bench;
mod build;
mod demo;
mod dist;
mod e2e;
mod fuzz;
mod images;
mod probe;
mod repro;
mod setup;
mod test;
mod util;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "rpvboot's build, test and run tasks")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install everything the build and tests need (apt packages, Rust target, Xen/QEMU parts).
    Setup(setup::Setup),
    /// Build the rpvboot PV kernel (and rpvboot.gz, rpvboot.xz).
    Build(build::Build),
    /// Check that the rpvboot images do not depend on the build directory (a second build).
    Repro(repro::Repro),
    /// Build the Debian package and SHA256SUMS into target/dist/ (`--check`: test it).
    Dist(dist::Dist),
    /// Generate the test disk images into target/testimages/.
    Images(images::Images),
    /// Run every test: unit, image-backed, e2e under real Xen.
    Test(test::Test),
    /// Boot rpvboot under real Xen 4.17 in QEMU: the scenario list, or one ad-hoc domU.
    E2e(e2e::E2e),
    /// Build rpvboot and boot a demo domU with it, showing its console.
    Demo(demo::Demo),
    /// Benchmark rpvboot against pvgrub2 in one QEMU boot (never fails on a timing).
    Bench(bench::Bench),
    /// Fuzz every parser of untrusted bytes (`--smoke` briefly, `--long` campaigns).
    Fuzz(fuzz::Fuzz),
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Setup(c) => c.run(),
        Command::Build(c) => c.run(),
        Command::Repro(c) => c.run(),
        Command::Dist(c) => c.run(),
        Command::Images(c) => c.run(),
        Command::Test(c) => c.run(),
        Command::E2e(c) => c.run(),
        Command::Demo(c) => c.run(),
        Command::Fuzz(c) => c.run(),
        Command::Bench(c) => c.run(),
    }
}
