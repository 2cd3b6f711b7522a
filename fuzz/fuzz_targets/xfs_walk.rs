#![no_main]
use libfuzzer_sys::fuzz_target;

// A whole XFS image (v4 or v5) through lamxfs, its pages laid over a 64 MiB disk
// (rpvboot_fuzz::SparseDisk).
fuzz_target!(|data: &[u8]| {
    rpvboot_fuzz::open_sparse_and_walk(data, fs::xfs::Xfs::open);
});
