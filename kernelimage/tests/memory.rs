//! Peak heap while unwrapping Debian's vmlinuz (bzImage + xz): with the size hints the output
//! is allocated once, and xz decodes into it as its dictionary (single-call mode), so the peak
//! is the vmlinux plus the decoder's fixed state: no dictionary (32 MiB for Debian's kernels,
//! `xz --lzma2=dict=32MiB` in Linux's `scripts/xz_wrap.sh` for x86), no doubling.
//! Skips LOUDLY without the kernel (`cargo xtask setup`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;
static CUR: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let n = CUR.fetch_add(l.size(), Ordering::Relaxed) + l.size();
        PEAK.fetch_max(n, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        CUR.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

/// The counters are global: tests that measure take turns.
static MEASURE: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn unwrap_peak_heap_is_the_output() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let found = ["target/e2e/x/boot", "target/kernels/x/boot"]
        .iter()
        .filter_map(|d| std::fs::read_dir(root.join(d)).ok())
        .flat_map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())))
        .find(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("vmlinuz-") && n.ends_with("-amd64"))
        });
    let Some(path) = found else {
        eprintln!("\n!!!!!!!! SKIPPED: no Debian vmlinuz; run `cargo xtask setup`\n");
        return;
    };
    let file = std::fs::read(&path).unwrap();
    let _turn = MEASURE.lock().unwrap_or_else(|e| e.into_inner());
    let base = CUR.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let u = kernelimage::unwrap(&file, 512 << 20).unwrap();
    let peak = PEAK.load(Ordering::Relaxed) - base;
    let out = u.elf.len();
    eprintln!(
        "{}: vmlinux {} KiB, peak heap during unwrap {} KiB ({:.2}x the output)",
        path.display(),
        out / 1024,
        peak / 1024,
        peak as f64 / out as f64
    );
    // The stream's dictionary size, from its block header's LZMA2 property byte (the format's
    // definition: (2 | (p & 1)) << (p / 2 + 11)): the memory the decoder used to hold beside
    // the output.
    let payload = &file[kernelimage::bzimage::payload_range(&file).map(|(s, _)| s).unwrap()..];
    let dict = xz_dict_size(payload);
    eprintln!("stream dictionary {} KiB (not allocated)", dict / 1024);
    assert!(dict >= 8 << 20, "a kernel xz'd with a small dictionary proves little: {dict}");
    // The output + the decoder's state (~30 KiB of LZMA probabilities): less than a dictionary.
    assert!(peak <= out + (256 << 10), "peak {peak} for output {out}: more than the output + 256 KiB");
}

/// A kernel that says it is bigger than the limit (Linux's appended size inside the bzImage)
/// is refused before its output or dictionary is allocated: the refusal costs no memory (a
/// fallback entry still has all of it) and no decoding time.
#[test]
fn too_big_xz_kernel_is_refused_before_allocating() {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let Ok(file) = std::fs::read(root.join("target/e2e/out/vmlinuz")) else {
        eprintln!("\n!!!!!!!! SKIPPED: no target/e2e/out/vmlinuz; run `cargo xtask setup`\n");
        return;
    };
    assert_eq!(kernelimage::compression_of(&file), Some(kernelimage::Format::Xz));
    let _turn = MEASURE.lock().unwrap_or_else(|e| e.into_inner());
    let base = CUR.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let r = kernelimage::unwrap(&file, 48 << 20);
    let peak = PEAK.load(Ordering::Relaxed) - base;
    assert!(matches!(r, Err(kernelimage::Error::TooLarge { format: "xz", .. })), "{r:?}");
    assert!(peak < 1 << 20, "peak {peak} bytes for a refusal");
}

/// The LZMA2 dictionary size of the first block of the xz stream at the start of `d`, read as
/// the .xz format defines it: stream header (12 bytes), block header (size byte, flags, filter
/// flags each `id, props size, props`; LZMA2 is filter 0x21, last), without our decoder.
fn xz_dict_size(d: &[u8]) -> usize {
    let h = &d[12..];
    let flags = h[1];
    assert_eq!(flags & 0xc0, 0, "sizes in the block header: not what xz writes single-threaded");
    let mut p = 2;
    for _ in 0..=(flags & 3) {
        let (id, n) = (h[p], h[p + 1] as usize);
        if id == 0x21 {
            let b = h[p + 2] as usize;
            return (2 | (b & 1)) << (b / 2 + 11);
        }
        p += 2 + n;
    }
    panic!("no LZMA2 filter in the first block header");
}
