//! `cargo xtask images`.

use anyhow::{bail, Result};

/// `cargo xtask images`.
#[derive(clap::Args)]
pub struct Images {}

impl Images {
    pub fn run(self) -> Result<()> {
        bail!("xtask images: not implemented yet")
    }
}
