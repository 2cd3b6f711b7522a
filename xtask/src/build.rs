//! `cargo xtask build`: the rpvboot PV kernel image, plain, gzipped and xz'd.
//!
//! Builds `loader`'s `rpvboot` binary for `x86_64-unknown-none` with the `pv` profile (or
//! `dev` with `--debug`), checks the ELF has the shape Xen's loader needs, and puts
//! `rpvboot`, `rpvboot.gz` (gzip -9n) and `rpvboot.xz` (the ELF xz'd inside a bzImage
//! header, see [`xz_bzimage`]) in `<target>/rpvboot/`. `xl`'s `kernel =` takes any of the three.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::{bail, Context, Result};

use crate::util::{project_root, run};

/// The environment variable that carries the source revision into the binaries: rpvboot's
/// banner and `rpvboot-inspect --version` read it with `option_env!`. Every xtask build of
/// either sets it ([`with_rev`]); a plain `cargo build` leaves it unset and they say `unknown`.
pub const REV_VAR: &str = "RPVBOOT_REV";

/// The source revision the binaries are built from: `$RPVBOOT_REV` when the caller set it
/// (a build from a tarball), else `git rev-parse --short=12 HEAD` plus `-dirty` when tracked
/// files differ from HEAD, else `unknown` (no git, not a checkout). Computed once per run.
pub fn source_rev() -> &'static str {
    static REV: OnceLock<String> = OnceLock::new();
    REV.get_or_init(|| match std::env::var(REV_VAR) {
        Ok(r) if !r.is_empty() => r,
        _ => git_rev(&project_root()).unwrap_or_else(|| "unknown".into()),
    })
}

fn git_rev(root: &Path) -> Option<String> {
    let git = |args: &[&str]| Command::new("git").arg("-C").arg(root).args(args).output().ok();
    let head = git(&["rev-parse", "--short=12", "HEAD"]).filter(|o| o.status.success())?;
    let head = String::from_utf8(head.stdout).ok()?.trim().to_string();
    // Refresh the index first, or a touched but unchanged file would count as a change.
    git(&["update-index", "-q", "--refresh"]);
    let clean = git(&["diff-index", "--quiet", "HEAD", "--"]).is_some_and(|o| o.status.success());
    Some(if clean { head } else { format!("{head}-dirty") })
}

/// Sets [`REV_VAR`] on a cargo command that builds rpvboot or rpvboot-inspect.
pub fn with_rev(cmd: &mut Command) -> &mut Command {
    cmd.env(REV_VAR, source_rev())
}

/// [`with_rev`], and the compiler flags that make a shipped binary independent of where it
/// was built. Panic locations embed source paths: the workspace's own are relative to the
/// workspace (cargo passes them so), but those of crates.io dependencies are absolute under
/// `$CARGO_HOME` (`/root/.cargo/registry/src/…`), so `$CARGO_HOME` is remapped to `/cargo`.
/// The flags are set as `CARGO_ENCODED_RUSTFLAGS` (so a caller's `RUSTFLAGS` cannot change
/// the bytes) and apply only to the `--target` being built, not to build scripts.
/// docs/reproducible.md says what else the bytes depend on.
pub fn reproducible(cmd: &mut Command) -> &mut Command {
    let mut flags = Vec::new();
    for home in cargo_homes() {
        flags.push(format!("--remap-path-prefix={}=/cargo", home.display()));
    }
    with_rev(cmd).env_remove("RUSTFLAGS").env("CARGO_ENCODED_RUSTFLAGS", flags.join("\u{1f}"))
}

/// `$CARGO_HOME` (default `~/.cargo`) as cargo may spell it: as given and resolved.
pub fn cargo_homes() -> Vec<PathBuf> {
    let home = match std::env::var_os("CARGO_HOME") {
        Some(h) if !h.is_empty() => PathBuf::from(h),
        _ => PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo"),
    };
    let mut v = vec![home.clone()];
    if let Ok(real) = fs::canonicalize(&home) {
        if real != home {
            v.push(real);
        }
    }
    v
}

/// The first line of rpvboot's console for this source: `rpvboot VERSION (REV) Xen PV
/// bootloader` (rpvboot/src/main.rs prints it from the same two values). Also the bzImage
/// version string of `rpvboot.xz`, and what e2e expects.
pub fn banner() -> String {
    format!("rpvboot {} ({}) Xen PV bootloader", env!("CARGO_PKG_VERSION"), source_rev())
}

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
        for p in [out.clone(), out.with_extension("gz"), out.with_extension("xz")] {
            let name = p.file_name().unwrap_or_default().to_string_lossy().into_owned();
            println!("{name}: {} ({} bytes)", p.display(), fs::metadata(&p)?.len());
        }
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
/// (`rpvboot.gz` and `rpvboot.xz` sit next to it). For other xtask modules (e2e, demo).
pub fn build_rpvboot() -> Result<PathBuf> {
    build(false)
}

fn build(debug: bool) -> Result<PathBuf> {
    let out = target_dir().join("rpvboot");
    build_images(&project_root(), &target_dir(), debug, &out)?;
    Ok(out.join("rpvboot"))
}

/// Builds rpvboot from the source tree at `root` into cargo target directory `target` and
/// writes `rpvboot`, `rpvboot.gz` and `rpvboot.xz` to `out_dir`. The one recipe for the
/// images: `cargo xtask build`, `dist` and the reproducibility check (a second copy of the
/// tree elsewhere, [`crate::dist`]) all come through here, so they cannot differ in flags.
pub fn build_images(root: &Path, target: &Path, debug: bool, out_dir: &Path) -> Result<()> {
    let profile = if debug { "dev" } else { "pv" };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    let cmd = reproducible(command.current_dir(root).env("CARGO_TARGET_DIR", target));
    cmd.args(["build", "--package", "rpvboot", "--bin", "rpvboot", "--target", PV_TARGET, "--profile", profile]);
    // Developer images only: `RPVBOOT_FEATURES=trace` builds in `rpvboot.trace`
    // (docs/loader-time.md). Unset for every shipped image.
    if let Some(f) = std::env::var("RPVBOOT_FEATURES").ok().filter(|f| !f.trim().is_empty()) {
        println!("build: rpvboot with features {f} (a developer image)");
        cmd.args(["--features", f.trim()]);
    }
    run(cmd)?;
    let built = target.join(PV_TARGET).join(if debug { "debug" } else { "pv" }).join("rpvboot");
    let image = fs::read(&built).with_context(|| format!("reading {}", built.display()))?;
    check_elf(&image).with_context(|| format!("{} is not a loadable PV image", built.display()))?;

    fs::create_dir_all(out_dir)?;
    let out = out_dir.join("rpvboot");
    fs::write(&out, &image).with_context(|| format!("writing {}", out.display()))?;
    gzip(&out, &out.with_extension("gz"))?;
    let xz = out.with_extension("xz");
    let container = xz_bzimage(&image)?;
    // Self-check against xz itself: the payload Xen will find decompresses to the ELF.
    if xz_bzimage_contents(&container)? != image {
        bail!("{}: the xz payload does not decompress to the ELF", xz.display());
    }
    fs::write(&xz, &container).with_context(|| format!("writing {}", xz.display()))?;
    Ok(())
}

/// The release rpvboot as `rpvboot.gz` (built first if needed): for e2e scenarios.
pub fn build_rpvboot_gz() -> Result<PathBuf> {
    Ok(build_rpvboot()?.with_extension("gz"))
}

/// The release rpvboot as `rpvboot.xz` (built first if needed): for e2e scenarios.
pub fn build_rpvboot_xz() -> Result<PathBuf> {
    Ok(build_rpvboot()?.with_extension("xz"))
}

fn gzip(src: &Path, dst: &Path) -> Result<()> {
    let f = fs::File::create(dst).with_context(|| format!("creating {}", dst.display()))?;
    let status = Command::new("gzip").args(["-9n", "-c"]).arg(src).stdout(f).status().context("running gzip")?;
    if !status.success() {
        bail!("gzip -9n {} failed: {status}", src.display());
    }
    Ok(())
}

/// xz options for the image: BCJ x86 then LZMA2 at preset 9e with `pb=0,lc=4` (machine code
/// is not aligned to 2^pb bytes; 0.2 % smaller than `-9e --x86`), a CRC32 check (the one
/// every liblzma has) and a dictionary no larger than the ELF (same output as 64 MiB, but
/// dom0's decoder allocates only that much). `--threads=1`: single-threaded mode, whose
/// output does not depend on the machine (xz 5.6 defaults to multi-threaded mode, which
/// writes other block headers).
fn xz_args(len: usize) -> Vec<String> {
    let dict = len.next_power_of_two().max(4096);
    ["--format=xz", "--check=crc32", "--threads=1", "--x86"]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("--lzma2=preset=9e,dict={dict},pb=0,lc=4"), "-c".into()])
        .collect()
}

/// Pipes `input` through `xz ARGS` and returns its output.
fn xz_pipe(args: &[String], input: &[u8]) -> Result<Vec<u8>> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    crate::util::pipe_through("xz", &args, input)
}

fn xz_decompress(xz: &[u8]) -> Result<Vec<u8>> {
    xz_pipe(&["-d".into(), "-c".into()], xz)
}

/// Offsets in the Linux x86 boot protocol's setup header (Documentation/arch/x86/boot.rst;
/// libxenguest's `struct setup_header` in tools/libs/guest/xg_dom_bzimageloader.c).
mod hdr {
    pub const SETUP_SECTS: usize = 0x1f1;
    pub const SYSSIZE: usize = 0x1f4;
    pub const BOOT_FLAG: usize = 0x1fe;
    pub const JUMP: usize = 0x200;
    pub const HEADER: usize = 0x202;
    pub const VERSION: usize = 0x206;
    pub const KERNEL_VERSION: usize = 0x20e;
    pub const LOADFLAGS: usize = 0x211;
    pub const PAYLOAD_OFFSET: usize = 0x248;
    pub const PAYLOAD_LENGTH: usize = 0x24c;
    /// First byte after the protocol 2.08 header (payload_length is its last field).
    pub const END: usize = 0x250;
    /// 2.08: the first version with payload_offset/payload_length, the minimum libxenguest takes.
    pub const PROTOCOL: u16 = 0x0208;
    pub const SECTOR: usize = 512;
}

/// `image` xz'd inside a minimal bzImage: a Linux boot-protocol 2.08 setup header whose
/// payload is the xz stream followed by the uncompressed size (le32, as Linux's build appends
/// it to its compressed vmlinux). Xen's domain builder (libxenguest's bzImage loader, which
/// Debian builds with liblzma) finds the payload through `setup_sects`/`payload_offset`, sizes
/// its output buffer from that trailer (and insists on exactly that many bytes), decompresses
/// in dom0 and hands the ELF to its ELF loader, so `kernel = "rpvboot.xz"` boots like the
/// plain ELF. Nothing but the payload is meant to run: there is no real-mode setup code.
pub fn xz_bzimage(image: &[u8]) -> Result<Vec<u8>> {
    let mut payload = xz_pipe(&xz_args(image.len()), image)?;
    payload.extend_from_slice(&u32::try_from(image.len()).context("image over 4 GiB")?.to_le_bytes());
    bzimage_container(&payload)
}

/// Undoes [`xz_bzimage`] the way libxenguest does, with the `xz` tool as the decoder: the
/// payload the header points at, less its le32 size trailer, must decompress to exactly that
/// many bytes.
fn xz_bzimage_contents(container: &[u8]) -> Result<Vec<u8>> {
    let payload = bzimage_payload(container)?;
    let (xz, size) = payload.len().checked_sub(4).map(|n| payload.split_at(n)).context("payload under 4 bytes")?;
    let size = usize::try_from(u32::from_le_bytes(size.try_into()?))?;
    let out = xz_decompress(xz)?;
    if out.len() != size {
        bail!("xz payload decompresses to {} bytes, its trailer says {size}", out.len());
    }
    Ok(out)
}

/// The setup header + `payload`. One setup sector after the boot sector (the protocol reads
/// `setup_sects = 0` as 4), the payload right after it at `payload_offset = 0`.
fn bzimage_container(payload: &[u8]) -> Result<Vec<u8>> {
    const SETUP_SECTS: u8 = 1;
    let start = (usize::from(SETUP_SECTS) + 1) * hdr::SECTOR;
    let len = u32::try_from(payload.len()).context("payload over 4 GiB")?;
    let mut b = vec![0u8; start];
    b[hdr::SETUP_SECTS] = SETUP_SECTS;
    // Size of the protected-mode code in 16-byte paragraphs.
    b[hdr::SYSSIZE..][..4].copy_from_slice(&len.div_ceil(16).to_le_bytes());
    b[hdr::BOOT_FLAG..][..2].copy_from_slice(&0xaa55u16.to_le_bytes());
    // `jmp short` over the header, as the protocol lays out (never executed here).
    let over = u8::try_from(hdr::END - (hdr::JUMP + 2))?;
    b[hdr::JUMP..][..2].copy_from_slice(&[0xeb, over]);
    b[hdr::HEADER..][..4].copy_from_slice(b"HdrS");
    b[hdr::VERSION..][..2].copy_from_slice(&hdr::PROTOCOL.to_le_bytes());
    // The version string (file(1) and bootloaders show it): after the header, pointer - 0x200.
    let version = format!("{}\0", banner());
    b.get_mut(hdr::END..hdr::END + version.len())
        .context("version string too long")?
        .copy_from_slice(version.as_bytes());
    b[hdr::KERNEL_VERSION..][..2].copy_from_slice(&u16::try_from(hdr::END - 0x200)?.to_le_bytes());
    // LOADED_HIGH: the protected-mode part would go at 1 MiB (what every bzImage says).
    b[hdr::LOADFLAGS] = 0x01;
    b[hdr::PAYLOAD_OFFSET..][..4].copy_from_slice(&0u32.to_le_bytes());
    b[hdr::PAYLOAD_LENGTH..][..4].copy_from_slice(&len.to_le_bytes());
    b.extend_from_slice(payload);
    Ok(b)
}

/// The payload of a bzImage, found as libxenguest finds it:
/// `(setup_sects + 1) * 512 + payload_offset`, `payload_length` bytes.
fn bzimage_payload(b: &[u8]) -> Result<&[u8]> {
    if b.get(hdr::HEADER..hdr::HEADER + 4) != Some(&b"HdrS"[..]) {
        bail!("no HdrS setup header");
    }
    let version = u16_at(b, hdr::VERSION)?;
    if version < hdr::PROTOCOL {
        bail!("boot protocol {version:#06x} < 2.08 has no payload fields");
    }
    let sects = usize::from(*b.get(hdr::SETUP_SECTS).context("truncated header")?);
    let off = (sects + 1) * hdr::SECTOR + usize::try_from(u32_at(b, hdr::PAYLOAD_OFFSET)?)?;
    let len = usize::try_from(u32_at(b, hdr::PAYLOAD_LENGTH)?)?;
    b.get(off..).and_then(|p| p.get(..len)).context("payload outside the file")
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
/// (docs/pv-rust-pitfalls.md P1, P3): ET_EXEC x86-64, no dynamic segment, notes in a PT_NOTE, and a
/// writable segment whose .bss is not stored in the file.
fn check_elf(b: &[u8]) -> Result<()> {
    if b.get(..6) != Some(&[0x7f, b'E', b'L', b'F', 2, 1][..]) {
        bail!("not a little-endian ELF64");
    }
    if u16_at(b, 16)? != 2 {
        bail!("e_type is not ET_EXEC (static-PIE? see docs/pv-rust-pitfalls.md P1)");
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
        bail!("the writable segment stores .bss in the file (orphan .got? docs/pv-rust-pitfalls.md P3)");
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Real x86-64 machine code to compress: the start of this test binary (an ELF), so the
    /// BCJ filter has calls to convert; capped to keep `xz -9e` quick.
    fn sample() -> Vec<u8> {
        let exe = std::env::current_exe().and_then(fs::read).unwrap_or_default();
        assert!(exe.starts_with(b"\x7fELF"), "test binary is not an ELF");
        exe[..exe.len().min(256 << 10)].to_vec()
    }

    /// The container against independent readers: the header fields at the offsets the boot
    /// protocol gives (not through `hdr`), `xz -d` of the bytes those fields point at, and
    /// file(1)'s magic for Linux kernels.
    #[test]
    fn xz_bzimage_is_a_bzimage_whose_payload_is_the_input() {
        let input = sample();
        let img = xz_bzimage(&input).unwrap();
        let le32 = |o: usize| u32::from_le_bytes(img[o..o + 4].try_into().unwrap()) as usize;
        assert_eq!(&img[0x202..0x206], b"HdrS");
        assert_eq!(u16::from_le_bytes([img[0x1fe], img[0x1ff]]), 0xaa55);
        assert!(u16::from_le_bytes([img[0x206], img[0x207]]) >= 0x0208);
        let setup_sects = usize::from(img[0x1f1]);
        assert_ne!(setup_sects, 0, "0 means 4 to boot-protocol readers");
        let (off, len) = ((setup_sects + 1) * 512 + le32(0x248), le32(0x24c));
        assert_eq!(off + len, img.len(), "payload ends the file");
        assert_eq!(le32(0x1f4), len.div_ceil(16), "syssize");
        let payload = &img[off..off + len];
        assert!(payload.starts_with(b"\xfd7zXZ\0"), "libxenguest's xz magic");
        // libxenguest's _xc_try_lzma_decode: the last 4 bytes are the output size, the rest xz.
        let (xz, trailer) = payload.split_at(len - 4);
        assert_eq!(u32::from_le_bytes(trailer.try_into().unwrap()) as usize, input.len(), "size trailer");

        // xz itself, not our reader, decompresses what the header points at.
        let dir = std::env::temp_dir().join(format!("rpv-xz-bzimage-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("payload.xz");
        fs::write(&p, xz).unwrap();
        let out = Command::new("xz").args(["-d", "-c"]).arg(&p).output().unwrap();
        assert!(out.status.success(), "xz -d: {}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stdout == input, "payload does not decompress to the input");
        let info = Command::new("xz").args(["--robot", "-lvv"]).arg(&p).output().unwrap();
        let info = String::from_utf8_lossy(&info.stdout);
        assert!(info.contains("x86") && info.contains("CRC32"), "filters/check: {info}");

        let f = dir.join("rpvboot.xz");
        fs::write(&f, &img).unwrap();
        if let Ok(o) = Command::new("file").arg("-b").arg(&f).output() {
            let what = String::from_utf8_lossy(&o.stdout);
            assert!(what.contains("Linux kernel x86 boot executable"), "file(1) says: {what}");
            assert!(what.contains(&format!("version rpvboot {}", env!("CARGO_PKG_VERSION"))), "file(1) says: {what}");
        }
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(bzimage_payload(&img).unwrap(), payload);
        assert!(xz_bzimage_contents(&img).unwrap() == input);
    }

    /// Our reader refuses what libxenguest refuses.
    #[test]
    fn bzimage_payload_rejects_bad_headers() {
        let img = bzimage_container(b"\xfd7zXZ\0payload").unwrap();
        assert_eq!(bzimage_payload(&img).unwrap(), b"\xfd7zXZ\0payload");
        let mut old = img.clone();
        old[0x206..0x208].copy_from_slice(&0x0207u16.to_le_bytes());
        assert!(bzimage_payload(&old).is_err());
        let mut long = img.clone();
        long[0x24c..0x250].copy_from_slice(&1000u32.to_le_bytes());
        assert!(bzimage_payload(&long).is_err());
        assert!(bzimage_payload(&img[..0x300]).is_err());
    }
}
