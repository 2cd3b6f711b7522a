//! `cargo xtask setup`.

use anyhow::{bail, Result};

/// `cargo xtask setup`.
#[derive(clap::Args)]
pub struct Setup {}

impl Setup {
    pub fn run(self) -> Result<()> {
        bail!("xtask setup: not implemented yet")
    }
}
