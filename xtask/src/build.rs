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
        println!("rpvboot: {} ({} bytes)", out.display(), fs::metadata(&out)?.len());
        println!("rpvboot.gz: {} ({} bytes)", gz.display(), fs::metadata(&gz)?.len());
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
    let built = target_dir().join(PV_TARGET).join(if debug { "debug" } else { "pv" }).join("rpvboot");
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
    let status = Command::new("gzip").args(["-9n", "-c"]).arg(src).stdout(f).status().context("running gzip")?;
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
    let (mut bss_ok, mut lo, mut hi) = (false, u64::MAX, 0u64);
    let mut notes = Vec::new();
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        let (ty, flags) = (u32_at(b, ph)?, u32_at(b, ph + 4)?);
        let (off, paddr) = (u64_at(b, ph + 8)?, u64_at(b, ph + 24)?);
        let (filesz, memsz) = (u64_at(b, ph + 32)?, u64_at(b, ph + 40)?);
        match ty {
            2 | 3 => bail!("has a PT_DYNAMIC/PT_INTERP segment"),
            4 => notes.extend(xen_notes(b, usize::try_from(off)?, usize::try_from(filesz)?)?),
            1 => {
                if flags & 2 != 0 && filesz < memsz {
                    bss_ok = true;
                }
                lo = lo.min(paddr);
                hi = hi.max(paddr + memsz);
            }
            _ => {}
        }
    }
    if !bss_ok {
        bail!("the writable segment stores .bss in the file (orphan .got? rust-pv-notes P3)");
    }
    let note = |ty: u32| notes.iter().find(|(t, _)| *t == ty).map(|(_, d)| d.as_slice());
    let quad = |ty: u32, name: &str| -> Result<u64> {
        let d = note(ty).with_context(|| format!("no Xen {name} note"))?;
        Ok(u64::from_le_bytes(d.get(..8).with_context(|| format!("short {name} note"))?.try_into()?))
    };
    for (ty, want, name) in [(5, &b"xen-3.0\0"[..], "XEN_VERSION"), (8, b"generic\0", "LOADER")] {
        if note(ty) != Some(want) {
            bail!("Xen {name} note is not {:?}", String::from_utf8_lossy(want));
        }
    }
    let (entry, hcall) = (quad(1, "ENTRY")?, quad(2, "HYPERCALL_PAGE")?);
    let (vbase, poff) = (quad(3, "VIRT_BASE")?, quad(4, "PADDR_OFFSET")?);
    // libelf: virt_kstart = pstart + (virt_base - paddr_offset), entry inside the image.
    let (kstart, kend) = (lo.wrapping_add(vbase.wrapping_sub(poff)), hi.wrapping_add(vbase.wrapping_sub(poff)));
    if !(kstart..kend).contains(&entry) || !(kstart..kend).contains(&hcall) || hcall % 4096 != 0 {
        bail!("ENTRY {entry:#x} / HYPERCALL_PAGE {hcall:#x} not inside [{kstart:#x}, {kend:#x}) or not aligned");
    }
    Ok(())
}

/// The `(type, desc)` pairs of the "Xen" notes in `b[off..off+len]`.
fn xen_notes(b: &[u8], off: usize, len: usize) -> Result<Vec<(u32, Vec<u8>)>> {
    let seg = b.get(off..off + len).context("PT_NOTE outside the file")?;
    let mut out = Vec::new();
    let mut p = 0;
    while p + 12 <= seg.len() {
        let (namesz, descsz, ty) = (u32_at(seg, p)? as usize, u32_at(seg, p + 4)? as usize, u32_at(seg, p + 8)?);
        let name_at = p + 12;
        let desc_at = name_at + namesz.next_multiple_of(4);
        let desc = seg.get(desc_at..desc_at + descsz).context("truncated note")?;
        if seg.get(name_at..name_at + namesz) == Some(&b"Xen\0"[..]) {
            out.push((ty, desc.to_vec()));
        }
        p = desc_at + descsz.next_multiple_of(4);
    }
    Ok(out)
}
