//! `cargo xtask demo`.

use anyhow::{bail, Result};

/// `cargo xtask demo`.
#[derive(clap::Args)]
pub struct Demo {}

impl Demo {
    pub fn run(self) -> Result<()> {
        bail!("xtask demo: not implemented yet")
    }
}
