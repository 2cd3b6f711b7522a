//! Hostile kernel files (issue 20) through the kernel check every boot path uses
//! (`check::check`), in a 32 MiB domain, under a global allocator capped at 32 MiB: each
//! must be refused with a message. An allocation past the cap returns null, so one made
//! without a check aborts this test binary, as it would crash the domain.

use bootplan::check;
use testimages::capped::{CappedAlloc, TEST_CAP};

#[global_allocator]
static ALLOC: CappedAlloc = CappedAlloc::new(TEST_CAP);

/// A 32 MiB domain of which rpvboot keeps 2 MiB.
const NR_PAGES: u64 = 8192;
const LOADER_PAGES: u64 = 512;

fn netbsd_elf() -> Vec<u8> {
    let dir = testimages::kernels::images_dir();
    let p = testimages::kernels::build(&dir, &testimages::kernels::KernelSpec::netbsd())
        .expect("as/ld (binutils) must be installed: cargo xtask setup");
    std::fs::read(p).unwrap()
}

fn check(kernel: &[u8]) -> (Result<String, String>, testimages::capped::Measured) {
    ALLOC.measure(|| {
        check::check(kernel.to_vec(), &[], b"", NR_PAGES, LOADER_PAGES).map(|c| c.summary()).map_err(|r| r.to_string())
    })
}

#[test]
fn elf_whose_segment_claims_1_tib_is_refused() {
    let good = netbsd_elf();
    assert!(check(&good).0.is_ok(), "{:?}", check(&good).0);
    // The test kernel lives in the top 2 GiB, where a 1 TiB segment overflows the address
    // space (refused early): moved to VA 0 first, it must still pass.
    let moved = testimages::hostile::kernel_at_va0(&good, None);
    assert!(check(&moved).0.is_ok(), "the test kernel moved to VA 0: {:?}", check(&moved).0);
    let elf = testimages::hostile::kernel_at_va0(&good, Some(1 << 40));
    let (r, m) = check(&elf);
    eprintln!("1 TiB p_memsz: {r:?}; peak heap {} KiB", m.peak / 1024);
    let err = r.unwrap_err();
    assert!(err.contains("not enough") || err.contains("pages"), "{err}");
}

/// Runs the zstd tool on `input`; `true` if it succeeded. Its output goes to `out` if given.
fn zstd_tool(args: &[&str], input: &[u8], out: Option<&mut Vec<u8>>) -> bool {
    run_tool("zstd", args, input, out)
}

/// Runs `cmd` on `input`; `true` if it succeeded. Its output goes to `out` if given.
fn run_tool(cmd: &str, args: &[&str], input: &[u8], out: Option<&mut Vec<u8>>) -> bool {
    use std::io::{Read as _, Write as _};
    let mut c = std::process::Command::new(cmd);
    c.args(args).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
    c.stderr(std::process::Stdio::null());
    let mut child = c.spawn().unwrap_or_else(|e| panic!("{cmd} must be installed (cargo xtask setup): {e}"));
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_vec();
    let feeder = std::thread::spawn(move || stdin.write_all(&input));
    let mut got = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut got).unwrap();
    let _ = feeder.join();
    if let Some(o) = out {
        *o = got;
    }
    child.wait().unwrap().success()
}

/// Frames that declare a 128 MiB window but hold nothing: the decoder uses the output as its
/// window (issue 23), so the header costs no memory and the empty payload is refused as such.
#[test]
fn zstd_frames_asking_128_mib_windows_cost_no_window() {
    let kernel = testimages::hostile::zstd_128m_window();
    // The zstd tool's own reading: a valid stream of nothing, which it needs more than 64 MiB
    // to decode.
    let mut out = Vec::new();
    assert!(zstd_tool(&["-dc", "-q"], &kernel, Some(&mut out)), "zstd -d refuses the stream");
    assert!(out.is_empty(), "zstd -d gives {} bytes", out.len());
    assert!(!zstd_tool(&["-t", "-q", "--memory=64MB"], &kernel, None), "zstd -t --memory=64MB accepts the stream");
    let (r, m) = check(&kernel);
    eprintln!("zstd 128 MiB window: {r:?}; peak heap {} KiB", m.peak / 1024);
    let err = r.unwrap_err();
    assert!(err.contains("0 bytes"), "{err}");
    assert!(m.peak < 1 << 20, "peak heap {} bytes", m.peak);
}

/// A kernel compressed like Linux's `zstd22` (`zstd -22 --ultra` from a pipe: no content size,
/// a 128 MiB window) is unpacked in the 32 MiB domain to the very ELF that went in, though the
/// zstd tool itself cannot decode it in less than 128 MiB.
#[test]
fn zstd_kernel_with_a_128_mib_window_fits_a_32_mib_domain() {
    let elf = netbsd_elf();
    let mut packed = Vec::new();
    assert!(zstd_tool(&["-c", "-q", "--ultra", "-22"], &elf, Some(&mut packed)));
    assert!(!zstd_tool(&["-t", "-q", "--memory=32MB"], &packed, None), "the zstd tool decodes it in 32 MiB");
    let (r, m) = check(&packed);
    eprintln!("zstd -22 kernel: {r:?}; peak heap {} KiB", m.peak / 1024);
    assert!(r.is_ok(), "{r:?}");
    let un = ALLOC.measure(|| bootplan::check::unpack(packed.clone(), NR_PAGES, LOADER_PAGES).map(|u| u.elf)).0;
    assert!(un.as_deref().ok() == Some(&elf[..]), "the unpacked ELF is not the file zstd was given");
}

/// A kernel xz'd with a 1.5 GiB dictionary declared (the largest the format's decoders take) is
/// unpacked in the 32 MiB domain to the very ELF that went in: xz decodes into the output, which
/// is its dictionary (issue 23), while the xz tool refuses to decode it within 32 MiB.
#[test]
fn xz_kernel_declaring_a_1536_mib_dictionary_fits_a_32_mib_domain() {
    let elf = netbsd_elf();
    let mut packed = Vec::new();
    assert!(run_tool("xz", &["-c", "--x86", "--lzma2=preset=6,dict=1536MiB"], &elf, Some(&mut packed)));
    assert!(!run_tool("xz", &["-t", "--memlimit=32MiB"], &packed, None), "the xz tool decodes it in 32 MiB");
    let (r, m) = check(&packed);
    eprintln!("xz 1.5 GiB dictionary kernel: {r:?}; peak heap {} KiB", m.peak / 1024);
    assert!(r.is_ok(), "{r:?}");
    let un = ALLOC.measure(|| bootplan::check::unpack(packed.clone(), NR_PAGES, LOADER_PAGES).map(|u| u.elf)).0;
    assert!(un.as_deref().ok() == Some(&elf[..]), "the unpacked ELF is not the file xz was given");
}
