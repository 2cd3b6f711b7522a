//! Zstandard frames (RFC 8878), decoded with zstd-rs; skippable frames are skipped, the content
//! checksum is verified when present.
//!
//! zstd-rs decodes straight into the output, which is also its window: no window buffer is
//! allocated beside it, whatever window the frame header asks for (a `zstd -22 --ultra` kernel
//! asks for 128 MiB). It grows the output `Vec` itself, infallibly, so each frame goes through
//! [`zstdframe::frame`], which reserves the room fallibly first and decodes again with more room
//! when a frame needs it.

use super::bytes::u32_at;
use super::error::{Error, Result};
use alloc::format;
use alloc::vec::Vec;
use zstdframe::{frame, FrameError, SLACK};
use zstdframe::{Decompressor, Error as ZstdError, FrameHeader};

const FORMAT: &str = "zstd";
const MAGIC: u32 = 0xFD2F_B528;

/// `true` if `d` starts with a zstd frame (skippable frames alone do not count).
pub fn is_zstd(d: &[u8]) -> bool {
    u32_at(d, 0) == Some(MAGIC)
}

fn is_skippable(d: &[u8]) -> bool {
    u32_at(d, 0).is_some_and(|m| m & 0xFFFF_FFF0 == 0x184D_2A50)
}

/// Decompress the zstd frames at the start of `input`. Returns the output and the input used.
/// `hint`: expected output size (untrusted; 0 = unknown; the frame's content size is used too).
pub fn decompress_zstd(input: &[u8], limit: usize, hint: usize) -> Result<(Vec<u8>, usize)> {
    let mut out = Vec::new();
    let mut dec = Decompressor::new();
    let mut src: &[u8] = input;
    let used = |src: &[u8]| input.len() - src.len();
    let mut frames = 0u32;
    let mut want = hint;
    loop {
        if is_skippable(src) {
            let n =
                u32_at(src, 4).ok_or(Error::Truncated { what: "zstd skippable frame", offset: used(src) as u64 })?;
            let skip = 8usize.saturating_add(n as usize);
            src =
                src.get(skip..).ok_or(Error::Truncated { what: "zstd skippable frame", offset: input.len() as u64 })?;
            continue;
        }
        if !is_zstd(src) {
            if frames == 0 {
                return Err(Error::Corrupt {
                    format: FORMAT,
                    detail: "bad frame magic".into(),
                    offset: used(src) as u64,
                });
            }
            break;
        }
        let at = used(src);
        let header = FrameHeader::parse(src).map_err(|e| err(e, at, limit))?;
        // The declared content size, trusted only up to the limit (an exact hint or content
        // size is one allocation; otherwise four times the compressed size, then doubling).
        let declared = header.content_size.and_then(|n| usize::try_from(n).ok());
        if declared.is_some_and(|n| n > limit.saturating_sub(out.len())) {
            return Err(Error::TooLarge { format: FORMAT, limit: limit as u64 });
        }
        let first = declared.unwrap_or_else(|| want.saturating_sub(out.len()).max(src.len().saturating_mul(4)));
        let n = frame(&mut dec, src, &mut out, first, limit).map_err(|e| err(e, at, limit))?;
        src = src.get(n..).unwrap_or_default();
        want = 0;
        frames += 1;
    }
    // Give back large slack only: shrinking copies, and an exact size leaves none.
    if out.capacity() - out.len() > out.len() / 8 + SLACK {
        out.shrink_to_fit();
    }
    Ok((out, used(src)))
}

fn err(e: impl Into<FrameError>, at: usize, limit: usize) -> Error {
    match e.into() {
        FrameError::NoMemory { bytes } => Error::OutOfMemory { bytes: bytes as u64 },
        FrameError::Zstd(ZstdError::Truncated) => Error::Truncated { what: "zstd frame", offset: at as u64 },
        FrameError::Zstd(ZstdError::OutputLimit) => Error::TooLarge { format: FORMAT, limit: limit as u64 },
        FrameError::Zstd(e) => Error::Corrupt { format: FORMAT, detail: format!("{e}"), offset: at as u64 },
    }
}
