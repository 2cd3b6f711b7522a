//! `cargo xtask e2e`.

use anyhow::{bail, Result};

/// `cargo xtask e2e`.
#[derive(clap::Args)]
pub struct E2e {}

impl E2e {
    pub fn run(self) -> Result<()> {
        bail!("xtask e2e: not implemented yet")
    }
}
