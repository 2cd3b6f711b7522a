//! `cargo xtask`: everything a developer, CI or a user runs, in one place.
fn main() -> anyhow::Result<()> {
    anyhow::bail!("no subcommands yet")
}
