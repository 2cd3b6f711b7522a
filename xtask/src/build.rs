//! `cargo xtask build`: the rpvboot PV kernel image, plain and gzipped.
//!
//! Builds `loader`'s `rpvboot` binary for `x86_64-unknown-none` with the `pv` profile (or
//! `dev` with `--debug`), checks the ELF has the shape Xen's loader needs, and puts
//! `rpvboot` and `rpvboot.gz` (gzip -9n) in `<target>/rpvboot/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::util::{project_root, run};

/// The PV kernel's target triple.
pub const PV_TARGET: &str = "x86_64-unknown-none";

/// `cargo xtask build`.
#[derive(clap::Args)]
pub struct Build {
    /// Build the unoptimised `dev` profile (with debug info) instead of `pv`.
    #[arg(long)]
    debug: bool,
}

impl Build {
    pub fn run(self) -> Result<()> {
        let out = build(self.debug)?;
        let gz = out.with_extension("gz");
        println!(
            "rpvboot: {} ({} bytes)",
            out.display(),
            fs::metadata(&out)?.len()
        );
        println!(
            "rpvboot.gz: {} ({} bytes)",
            gz.display(),
            fs::metadata(&gz)?.len()
        );
        Ok(())
    }
}

/// Cargo's target directory (honours `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => {
            let d = PathBuf::from(d);
            if d.is_absolute() {
                d
            } else {
                project_root().join(d)
            }
        }
        _ => project_root().join("target"),
    }
}

/// Builds the release (`pv` profile) rpvboot and returns the path of `<target>/rpvboot/rpvboot`
/// (`rpvboot.gz` sits next to it). For other xtask modules (e2e, demo).
pub fn build_rpvboot() -> Result<PathBuf> {
    build(false)
}

fn build(debug: bool) -> Result<PathBuf> {
    let profile = if debug { "dev" } else { "pv" };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run(Command::new(cargo).current_dir(project_root()).args([
        "build",
        "--package",
        "loader",
        "--bin",
        "rpvboot",
        "--target",
        PV_TARGET,
        "--profile",
        profile,
    ]))?;
    let built = target_dir()
        .join(PV_TARGET)
        .join(if debug { "debug" } else { "pv" })
        .join("rpvboot");
    let image = fs::read(&built).with_context(|| format!("reading {}", built.display()))?;
    check_elf(&image).with_context(|| format!("{} is not a loadable PV image", built.display()))?;

    let dir = target_dir().join("rpvboot");
    fs::create_dir_all(&dir)?;
    let out = dir.join("rpvboot");
    fs::write(&out, &image).with_context(|| format!("writing {}", out.display()))?;
    gzip(&out, &out.with_extension("gz"))?;
    Ok(out)
}

fn gzip(src: &Path, dst: &Path) -> Result<()> {
    let f = fs::File::create(dst).with_context(|| format!("creating {}", dst.display()))?;
    let status = Command::new("gzip")
        .args(["-9n", "-c"])
        .arg(src)
        .stdout(f)
        .status()
        .context("running gzip")?;
    if !status.success() {
        bail!("gzip -9n {} failed: {status}", src.display());
    }
    Ok(())
}

fn u16_at(b: &[u8], off: usize) -> Result<u16> {
    let s = b.get(off..off + 2).context("truncated ELF")?;
    Ok(u16::from_le_bytes([s[0], s[1]]))
}

fn u32_at(b: &[u8], off: usize) -> Result<u32> {
    let s = b.get(off..off + 4).context("truncated ELF")?;
    Ok(u32::from_le_bytes(s.try_into()?))
}

fn u64_at(b: &[u8], off: usize) -> Result<u64> {
    let s = b.get(off..off + 8).context("truncated ELF")?;
    Ok(u64::from_le_bytes(s.try_into()?))
}

/// What Xen 4.17's libelf needs and what the linker can silently get wrong
/// (rust-pv-notes P1, P3): ET_EXEC x86-64, no dynamic segment, notes in a PT_NOTE, and a
/// writable segment whose .bss is not stored in the file.
fn check_elf(b: &[u8]) -> Result<()> {
    if b.get(..6) != Some(&[0x7f, b'E', b'L', b'F', 2, 1][..]) {
        bail!("not a little-endian ELF64");
    }
    if u16_at(b, 16)? != 2 {
        bail!("e_type is not ET_EXEC (static-PIE? see rust-pv-notes P1)");
    }
    if u16_at(b, 18)? != 62 {
        bail!("e_machine is not x86-64");
    }
    let phoff = usize::try_from(u64_at(b, 32)?)?;
    let phentsize = usize::from(u16_at(b, 54)?);
    let phnum = usize::from(u16_at(b, 56)?);
    let (mut note, mut bss_ok) = (false, false);
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let (ty, flags) = (u32_at(b, ph)?, u32_at(b, ph + 4)?);
        let (filesz, memsz) = (u64_at(b, ph + 32)?, u64_at(b, ph + 40)?);
        match ty {
            2 | 3 => bail!("has a PT_DYNAMIC/PT_INTERP segment"),
            4 => note = true,
            1 if flags & 2 != 0 && filesz < memsz => bss_ok = true,
            _ => {}
        }
    }
    if !note {
        bail!("no PT_NOTE segment with the Xen notes");
    }
    if !bss_ok {
        bail!("the writable segment stores .bss in the file (orphan .got? rust-pv-notes P3)");
    }
    Ok(())
}
