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

#[test]
fn zstd_frames_asking_128_mib_windows_are_refused() {
    let kernel = testimages::hostile::zstd_128m_window();
    // The zstd tool's own reading: a valid stream, which needs more than 64 MiB to decode.
    let tool = |args: &[&str]| {
        let mut c = std::process::Command::new("zstd");
        c.args(args).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::null());
        c.stderr(std::process::Stdio::null());
        let mut child = c.spawn().expect("zstd must be installed: cargo xtask setup");
        use std::io::Write as _;
        child.stdin.take().unwrap().write_all(&kernel).unwrap();
        child.wait().unwrap().success()
    };
    assert!(tool(&["-t", "-q"]), "zstd -t refuses the stream");
    assert!(!tool(&["-t", "-q", "--memory=64MB"]), "zstd -t --memory=64MB accepts the stream");
    let (r, m) = check(&kernel);
    eprintln!("zstd 128 MiB window: {r:?}; peak heap {} KiB", m.peak / 1024);
    let err = r.unwrap_err();
    assert!(err.contains("zstd") && err.contains("134217728"), "{err}");
}
