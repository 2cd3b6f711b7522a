//! `cargo xtask test`.

use anyhow::{bail, Result};

/// `cargo xtask test`.
#[derive(clap::Args)]
pub struct Test {}

impl Test {
    pub fn run(self) -> Result<()> {
        bail!("xtask test: not implemented yet")
    }
}
