//! Hostile kernel files (issue 20) through the kernel check every boot path uses
//! (`check::check_kernel`), in a 32 MiB domain, under a global allocator capped at 32 MiB: each
//! must be refused with a message. An allocation past the cap returns null, so one made
//! without a check aborts this test binary, as it would crash the domain.

use bootplan::check::check_kernel;
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
    ALLOC.measure(|| check_kernel(kernel, &[], b"", NR_PAGES, LOADER_PAGES))
}

#[test]
fn elf_whose_segment_claims_1_tib_is_refused() {
    let good = netbsd_elf();
    assert!(check(&good).0.is_ok(), "{:?}", check(&good).0);
    // The test kernel lives at NetBSD's KERNBASE, in the top 2 GiB, where a 1 TiB segment
    // would overflow the address space (refused early). Move it to VA 0 first, as a kernel
    // linked there would be: every address-sized word of the Xen notes (VIRT_BASE,
    // PADDR_OFFSET, ENTRY, HYPERCALL_PAGE) and of the program headers (p_vaddr, p_paddr) at
    // KERNBASE or above, and e_entry, minus KERNBASE. The ELF64 header: e_entry at 0x18,
    // e_phoff at 0x20, e_phentsize at 0x36, e_phnum at 0x38; phdr: p_type at 0, p_offset at
    // 8, p_vaddr at 0x10, p_paddr at 0x18, p_filesz at 0x20, p_memsz at 0x28.
    let kernbase = testimages::kernels::KERNBASE;
    let mut elf = good.clone();
    let u = |b: &[u8], at: usize, n: usize| b[at..at + n].iter().rev().fold(0u64, |a, &x| a << 8 | u64::from(x));
    let lower = |b: &mut [u8], at: usize| {
        let v = u(b, at, 8);
        if (kernbase..kernbase + (1 << 30)).contains(&v) {
            b[at..at + 8].copy_from_slice(&(v - kernbase).to_le_bytes());
        }
    };
    let (phoff, phent, phnum) = (u(&elf, 0x20, 8) as usize, u(&elf, 0x36, 2) as usize, u(&elf, 0x38, 2) as usize);
    lower(&mut elf, 0x18);
    let phdrs: Vec<usize> = (0..phnum).map(|i| phoff + i * phent).collect();
    for &ph in &phdrs {
        lower(&mut elf, ph + 0x10);
        lower(&mut elf, ph + 0x18);
        if u(&elf, ph, 4) == 4 {
            // PT_NOTE: its descriptors are 4-aligned; the quads sit at 4-byte steps.
            let (off, len) = (u(&elf, ph + 8, 8) as usize, u(&elf, ph + 0x20, 8) as usize);
            for at in (off..off + len - 7).step_by(4) {
                lower(&mut elf, at);
            }
        }
    }
    let moved = elf.clone();
    assert!(check(&moved).0.is_ok(), "the test kernel moved to VA 0: {:?}", check(&moved).0);
    let ph = *phdrs.iter().find(|&&p| u(&elf, p, 4) == 1).unwrap();
    elf[ph + 0x28..ph + 0x30].copy_from_slice(&(1u64 << 40).to_le_bytes());
    let (r, m) = check(&elf);
    eprintln!("1 TiB p_memsz: {r:?}; peak heap {} KiB", m.peak / 1024);
    let err = r.unwrap_err();
    assert!(err.contains("not enough") || err.contains("pages"), "{err}");
}

#[test]
fn zstd_frames_asking_128_mib_windows_are_refused() {
    // Two frames: magic, descriptor 0 (no content size, not single-segment), window
    // descriptor 0x88 (2^(10+17) = 128 MiB), one empty last raw block.
    let frame = [0x28, 0xB5, 0x2F, 0xFD, 0x00, 0x88, 0x01, 0x00, 0x00];
    let kernel = [frame, frame].concat();
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
