//! One LZ4 block decoded with lz4_flex's safe decoder, behind a function that is not inlined.
//!
//! lz4_flex's entry points are `#[inline]`, so they are compiled in the crate that calls them,
//! at that crate's opt-level. kernelimage is built at opt-level "z" in rpvboot's `pv` profile,
//! which made the decoder 4x slower (callgrind instruction counts on Debian's vmlinux, issue
//! 23). This crate is the caller instead, and the workspace's `pv` profile builds it at
//! opt-level 3 like the other decompressors.
#![no_std]
#![forbid(unsafe_code)]

pub use lz4_flex::block::DecompressError;

/// Decodes the LZ4 block `src` into `dst` (as large as the block may grow); `dict` is the
/// output that precedes the block (empty for independent blocks, at most 64 KiB used).
/// Returns the bytes written.
#[inline(never)]
pub fn decompress_into(src: &[u8], dst: &mut [u8], dict: &[u8]) -> Result<usize, DecompressError> {
    if dict.is_empty() {
        lz4_flex::block::decompress_into(src, dst)
    } else {
        lz4_flex::block::decompress_into_with_dict(src, dst, dict)
    }
}
