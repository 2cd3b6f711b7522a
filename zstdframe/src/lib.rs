//! One zstd frame decoded with zstd-rs into a `Vec` whose room is reserved here, fallibly.
//!
//! zstd-rs decodes straight into the output, which is also its window, so no window buffer is
//! allocated beside it whatever the frame header asks for. But it grows the output `Vec` itself,
//! infallibly (`reserve`, `resize`): in rpvboot a failed allocation aborts the domain's loader.
//! So every call gets an output whose capacity already covers the limit it is given plus the
//! decoder's slack; then zstd-rs never reallocates, and a frame that needs more than the room
//! is decoded again with twice the room, up to the caller's limit. kernelimage (kernels, up to
//! what the domain can hold) and the vendored lambutter (btrfs extents, 128 KiB) both decode
//! through [`frame`], so this decision is made once (docs/memory.md).
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::vec::Vec;
pub use zstd_rs::{Decompressor, Error, FrameHeader};

/// Capacity kept beyond the limit given to zstd-rs: its decoder writes up to 32 bytes past the
/// data (wild copies, `decode::execute::SLACK` in zstd-rs 0.1.0).
pub const SLACK: usize = 4096;

/// The smallest room tried first (a frame whose size is unknown starts here).
const MIN_ROOM: usize = 64 * 1024;

/// Why a frame was not decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The decoder's verdict on the input (`OutputLimit`: the frame needs more than `limit`).
    Zstd(Error),
    /// The output could not be reserved: `bytes` in all.
    NoMemory { bytes: usize },
}

impl From<Error> for FrameError {
    fn from(e: Error) -> Self {
        FrameError::Zstd(e)
    }
}

/// Decodes the zstd frame at the start of `src` (a skippable frame is skipped), appending to
/// `out`, which ends up no longer than `limit` bytes in all. The first attempt has room for
/// `first` bytes of output (at least 64 KiB, at most what the limit leaves). Returns the input
/// used. On error `out` may hold part of the frame past its old length.
pub fn frame(
    dec: &mut Decompressor,
    src: &[u8],
    out: &mut Vec<u8>,
    first: usize,
    limit: usize,
) -> Result<usize, FrameError> {
    let start = out.len();
    let mut room = first.max(MIN_ROOM).min(limit.saturating_sub(start));
    loop {
        let cap = start.saturating_add(room);
        reserve(out, cap.saturating_add(SLACK))?;
        match dec.decompress_frame(src, None, cap, out) {
            Err(Error::OutputLimit) if cap < limit => {
                out.truncate(start);
                room = room.saturating_mul(2).min(limit.saturating_sub(start));
            }
            r => return r.map_err(Into::into),
        }
    }
}

/// Capacity for `total` bytes, allocated fallibly (zstd-rs then never reallocates).
fn reserve(out: &mut Vec<u8>, total: usize) -> Result<(), FrameError> {
    out.try_reserve_exact(total.saturating_sub(out.len())).map_err(|_| FrameError::NoMemory { bytes: total })
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    /// A raw-block frame (RFC 8878 §3.1.1: magic, header with a 1-byte content size in single
    /// segment mode, one last raw block), written from the RFC's layout.
    fn raw_frame(data: &[u8]) -> Vec<u8> {
        let mut f = Vec::from(0xFD2F_B528u32.to_le_bytes());
        f.push(0x20); // Single_Segment, Frame_Content_Size 1 byte
        f.push(u8::try_from(data.len()).unwrap());
        let header = 1 | (u32::try_from(data.len()).unwrap() << 3); // last, raw
        f.extend_from_slice(&header.to_le_bytes()[..3]);
        f.extend_from_slice(data);
        f
    }

    #[test]
    fn decodes_within_the_reserved_room_and_stops_at_the_limit() {
        let data = [7u8; 200];
        let f = raw_frame(&data);
        let mut dec = Decompressor::new();
        let mut out = Vec::new();
        assert_eq!(frame(&mut dec, &f, &mut out, 0, 1 << 20), Ok(f.len()));
        assert_eq!(out, data);
        let mut out = Vec::new();
        assert_eq!(frame(&mut dec, &f, &mut out, 0, 199), Err(FrameError::Zstd(Error::OutputLimit)));
        assert!(out.len() <= 199);
    }
}
