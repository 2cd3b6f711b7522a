//! `cargo xtask build`.

use anyhow::{bail, Result};

/// `cargo xtask build`.
#[derive(clap::Args)]
pub struct Build {}

impl Build {
    pub fn run(self) -> Result<()> {
        bail!("xtask build: not implemented yet")
    }
}
