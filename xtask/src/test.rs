//! `cargo xtask test`: the README's "run all tests" command (and what `.ci/run` runs).
//! Runs each step in order, reports it with its time, stops at the first failure, and ends
//! with `N passed, M failed` counting steps.

use std::process::Command;
use std::time::Instant;

use anyhow::Result;

use crate::util::project_root;

/// `cargo xtask test`.
#[derive(clap::Args)]
pub struct Test {
    /// Skip the e2e runs under Xen (quick local iterations; CI never skips them).
    #[arg(long)]
    no_e2e: bool,
}

impl Test {
    pub fn run(self) -> Result<()> {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
        let mut steps: Vec<(&str, Vec<&str>)> = vec![
            ("setup", vec!["xtask", "setup"]),
            ("fmt", vec!["fmt", "--all", "--", "--check"]),
            ("clippy", vec!["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]),
            ("test", vec!["test", "--workspace"]),
            ("build", vec!["xtask", "build"]),
            ("repro", vec!["xtask", "repro"]),
            ("dist", vec!["xtask", "dist", "--check"]),
            ("e2e", vec!["xtask", "e2e"]),
            // Linux as a PVH guest needs bookworm's QEMU 7.2 (docs/pvh-linux.md), so its scenarios
            // get a QEMU boot of their own: xl's own PVH builder, rpvboot's PVH handover and
            // pvgrub2-PVH booting the same Debian kernel (issue 24).
            (
                "e2e-pvh-linux",
                vec![
                    "xtask",
                    "e2e",
                    "--scenario",
                    "linux-pvh-direct",
                    "--scenario",
                    "linux-pvh-rpvboot",
                    "--scenario",
                    "linux-pvh-pvgrub2",
                ],
            ),
            ("fuzz", vec!["xtask", "fuzz", "--smoke"]),
        ];
        if self.no_e2e {
            steps.retain(|(n, _)| !n.starts_with("e2e"));
        }
        let total = Instant::now();
        let (mut passed, mut failed) = (0, 0);
        let n = steps.len();
        for (i, (name, args)) in steps.iter().enumerate() {
            println!("==> [{}/{n}] {name}: cargo {}", i + 1, args.join(" "));
            let t = Instant::now();
            let status = Command::new(&cargo).args(args).current_dir(project_root()).status();
            let secs = t.elapsed().as_secs_f64();
            match status {
                Ok(s) if s.success() => {
                    passed += 1;
                    println!("<== {name}: ok ({secs:.1} s)");
                }
                Ok(s) => {
                    failed += 1;
                    println!("<== {name}: FAILED ({s}, {secs:.1} s)");
                }
                Err(e) => {
                    failed += 1;
                    println!("<== {name}: FAILED (cannot run cargo: {e})");
                }
            }
            if failed > 0 {
                let skipped = n - i - 1;
                if skipped > 0 {
                    println!("test: stopped at the first failure; {skipped} step(s) not run");
                }
                break;
            }
        }
        println!("test: total {:.1} s", total.elapsed().as_secs_f64());
        println!("{passed} passed, {failed} failed");
        if failed > 0 {
            std::process::exit(1);
        }
        Ok(())
    }
}
