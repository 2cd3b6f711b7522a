//! xz (.xz container, LZMA2, with the BCJ x86 and delta filters that kernels use), decoded with
//! the vendored xz4rust in single-call mode: the output buffer is also the LZMA2 dictionary, as
//! in Linux's own decompressor, so no dictionary is allocated whatever size the stream declares
//! (docs/xz.md). Concatenated streams and stream padding are handled; bytes after the last
//! stream (Linux appends a 4-byte size to its bzImage payload) end the input.

use super::bytes::u32_at;
use super::error::{Error, Result};
use super::out::OutBuf;
use alloc::format;
use alloc::vec::Vec;
use xz4rust::{decode_single, XzError};

const FORMAT: &str = "xz";
const MAGIC: [u8; 6] = [0xfd, b'7', b'z', b'X', b'Z', 0];

/// `true` if `d` starts with the xz stream magic.
pub fn is_xz(d: &[u8]) -> bool {
    d.starts_with(&MAGIC)
}

/// Decompress the xz streams at the start of `input`. Returns the output and the input used.
/// `hint`: expected output size (untrusted; 0 = unknown; the stream index is read too).
pub fn decompress_xz(input: &[u8], limit: usize, hint: usize) -> Result<(Vec<u8>, usize)> {
    if !is_xz(input) {
        return Err(Error::Corrupt { format: FORMAT, detail: "bad stream magic".into(), offset: 0 });
    }
    let declared = match (index_size(input), hint) {
        (Some(n), _) => Some(n),
        (None, h) if h > 0 => Some(h),
        _ => None,
    };
    // A stream that says it is bigger than the limit is refused before anything is
    // allocated or decoded (the decoder checks the index against the data, and a bzImage's
    // appended size is Linux's own: a file that lies is refused as too big, or fails later).
    if declared.is_some_and(|n| n > limit) {
        return Err(Error::TooLarge { format: FORMAT, limit: limit as u64 });
    }
    // A declared size is allocated as it is or not at all: the index is verified against the
    // data, so a stream whose declared output does not fit cannot be decoded anyway.
    let mut out = match declared {
        Some(n) => OutBuf::exact(FORMAT, limit, n)?,
        None => OutBuf::new(FORMAT, limit, input.len().saturating_mul(4))?,
    };
    let mut pos = 0usize;
    loop {
        pos += stream(input.get(pos..).unwrap_or_default(), &mut out).map_err(|e| err(e, pos, input.len(), limit))?;
        // Stream padding: zero bytes in multiples of four.
        let mut p = pos;
        while u32_at(input, p) == Some(0) {
            p += 4;
        }
        pos = p;
        if !is_xz(input.get(p..).unwrap_or_default()) {
            break;
        }
    }
    Ok((out.finish(), pos))
}

/// One stream into `out`, the whole stream in one call; a stream that does not fit is decoded
/// again with twice the room (up to the limit: `regrow` refuses past it, and fails when the
/// room cannot be had), so at most about log2(limit / first size) times. Returns the input used.
fn stream(input: &[u8], out: &mut OutBuf) -> core::result::Result<usize, StreamError> {
    loop {
        match decode_single(input, &mut out.buf, out.len) {
            Ok(done) => {
                out.advance(done.output_end - out.len);
                return Ok(done.input_used);
            }
            Err(XzError::OutputBufferTooSmall) => out.regrow().map_err(StreamError::Out)?,
            Err(e) => return Err(StreamError::Xz(e)),
        }
    }
}

enum StreamError {
    Xz(XzError),
    Out(Error),
}

/// The uncompressed size recorded in the index of the stream that ends `d` (a hint: the
/// index is verified by the decoder only later).
fn index_size(d: &[u8]) -> Option<usize> {
    let n = d.len();
    let footer = d.get(n.checked_sub(12)?..)?;
    if footer.get(10..12)? != b"YZ" {
        return None;
    }
    let backward = u64::from(u32_at(footer, 4)?);
    let index_len = usize::try_from((backward + 1) * 4).ok()?;
    let index = d.get(n.checked_sub(12)?.checked_sub(index_len)?..n - 12)?;
    if index.first() != Some(&0) {
        return None;
    }
    let mut pos = 1usize;
    let mut vli = || -> Option<u64> {
        let mut v = 0u64;
        for i in 0..9 {
            let b = *index.get(pos)?;
            pos += 1;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    };
    let records = vli()?;
    let mut total = 0u64;
    for _ in 0..records.min(index_len as u64) {
        let _unpadded = vli()?;
        total = total.checked_add(vli()?)?;
    }
    usize::try_from(total).ok()
}

fn err(e: StreamError, pos: usize, len: usize, limit: usize) -> Error {
    match e {
        StreamError::Out(e) => e,
        StreamError::Xz(XzError::NeedsLargerInputBuffer) => Error::Truncated { what: "xz stream", offset: len as u64 },
        StreamError::Xz(XzError::OutputBufferTooSmall) => Error::TooLarge { format: FORMAT, limit: limit as u64 },
        // The offset is the stream's start: the decoder reads the stream in one call.
        StreamError::Xz(other) => Error::Corrupt { format: FORMAT, detail: format!("{other}"), offset: pos as u64 },
    }
}
