// Copyright 2025-2026 Lamco Development LLC
//
// Licensed under the Apache License, Version 2.0 <LICENSE-APACHE or
// https://www.apache.org/licenses/LICENSE-2.0> or the MIT license
// <LICENSE-MIT or https://opensource.org/licenses/MIT>, at your
// option. This file may not be copied, modified, or distributed
// except according to those terms.

//! Zstd decompression. rpvboot: through `zstdframe` (zstd-rs, the decoder rpvboot's kernel
//! loader uses) instead of `ruzstd`, so the image holds one zstd decoder.
//!
//! btrfs's zstd compression splits data into independent zstd frames per
//! filesystem block. We loop until the input is exhausted, decoding one
//! frame at a time. `zstdframe::frame` reserves the output fallibly before
//! zstd-rs writes to it (zstd-rs grows a `Vec` infallibly) and stops it at
//! `MAX_DECOMPRESSED_EXTENT_BYTES`; zstd-rs decodes into that output, which
//! is its window, so no window is allocated.

use alloc::vec::Vec;

use zstdframe::{Decompressor, FrameError, FrameHeader};

use super::MAX_DECOMPRESSED_EXTENT_BYTES;
use crate::error::{Error, Result};

/// Magic bytes (little-endian u32) for the zstandard frame format.
/// btrfs may emit multiple back-to-back frames per extent (compress block
/// = filesystem block size); the on-disk slice we receive is sized to the
/// extent's `disk_num_bytes`, which includes alignment padding past the
/// last real frame.
const ZSTD_FRAME_MAGIC: u32 = 0xFD2F_B528;

const BAD: Error = Error::BadCompression {
    algorithm: "comp_zstd",
};

pub(super) fn decode(src: &[u8], dst: &mut Vec<u8>) -> Result<()> {
    let mut input = src;
    let mut dec = Decompressor::new();
    loop {
        // Stop when the remaining bytes are alignment padding rather than
        // another zstd frame. Without this guard the decoder would surface a
        // bad-magic error for the trailing zeros and we'd misreport the
        // extent as malformed.
        let Some(magic) = input.get(..4) else {
            return Ok(());
        };
        if magic != ZSTD_FRAME_MAGIC.to_le_bytes() {
            // Skippable-frame magics (0x184D2A50..0x184D2A5F) are also
            // legal zstd, but btrfs does not emit them; treat anything
            // non-frame as the end of payload.
            return Ok(());
        }
        // rpvboot: frames asking for a window over btrfs's own are refused,
        // as Linux's decoder (sized for that window) refuses them; zstd-rs
        // itself would need no window memory for them.
        let header = FrameHeader::parse(input).map_err(|_| BAD)?;
        if header.window_size > crate::format::constants::MAX_ZSTD_WINDOW_BYTES {
            return Err(BAD);
        }
        let first = header
            .content_size
            .map_or(MAX_DECOMPRESSED_EXTENT_BYTES, |n| {
                usize::try_from(n).unwrap_or(usize::MAX)
            });
        let used = zstdframe::frame(&mut dec, input, dst, first, MAX_DECOMPRESSED_EXTENT_BYTES)
            .map_err(|e| match e {
                FrameError::NoMemory { .. } => Error::OutOfMemory { token: "comp_zstd" },
                FrameError::Zstd(_) => BAD,
            })?;
        input = input.get(used..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_zstd_prefix_terminates_cleanly() {
        // btrfs zstd extents are sector-padded with zeros past the last
        // frame. The decoder's outer loop must treat a non-frame-magic
        // run as end-of-payload (returns Ok with whatever it already
        // decoded), not as a corruption error. Bogus zeros at the start
        // are equivalent: empty output, no error.
        let mut dst = Vec::new();
        let result = decode(b"\x00\x00\x00\x00", &mut dst);
        assert!(result.is_ok());
        assert_eq!(dst, [] as [u8; 0]);
    }

    #[test]
    fn malformed_zstd_frame_returns_bad_compression() {
        // A buffer that starts with the zstd magic but has a malformed
        // body must surface BadCompression, not silently truncate.
        use alloc::vec;
        let mut dst = Vec::new();
        let mut bogus = vec![0u8; 64];
        bogus[0..4].copy_from_slice(&0xFD2F_B528u32.to_le_bytes());
        let result = decode(&bogus, &mut dst);
        assert!(matches!(
            result,
            Err(crate::error::Error::BadCompression {
                algorithm: "comp_zstd"
            })
        ));
    }
}
