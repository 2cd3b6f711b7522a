//! xz (.xz container, LZMA2, with the BCJ x86 and delta filters that kernels use), decoded with
//! xz4rust. Concatenated streams and stream padding are handled; bytes after the last stream
//! (Linux appends a 4-byte size to its bzImage payload) end the input.

use super::bytes::u32_at;
use super::error::{Error, Result};
use super::out::OutBuf;
use alloc::format;
use alloc::vec::Vec;
use xz4rust::{XzDecoder, XzError, XzNextBlockResult};

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
    let guess = declared.unwrap_or(input.len().saturating_mul(4));
    let mut out = OutBuf::new(FORMAT, limit, guess)?;
    // The dictionary grows on demand up to what the stream declares, never beyond what the
    // limit leaves beside the output buffer: xz4rust allocates it infallibly, so a dictionary
    // that does not fit must be refused here rather than abort the loader.
    let dict_max = limit.saturating_sub(out.buf.len()).max(4096);
    let mut dec = XzDecoder::in_heap_with_alloc_dict_size(64 * 1024, dict_max);
    let mut pos = 0usize;
    loop {
        // One stream.
        loop {
            if out.free().len() < 64 * 1024 {
                out.grow(64 * 1024)?;
            }
            let inp = input.get(pos..).unwrap_or_default();
            let res = dec.decode(inp, out.free()).map_err(|e| err(e, pos, input.len(), limit))?;
            pos += res.input_consumed();
            out.advance(res.output_produced());
            match res {
                XzNextBlockResult::EndOfStream(..) => break,
                XzNextBlockResult::NeedMoreData(..) => {
                    if pos >= input.len() && !res.made_progress() {
                        return Err(Error::Truncated { what: "xz stream", offset: input.len() as u64 });
                    }
                }
            }
        }
        // Stream padding: zero bytes in multiples of four.
        let mut p = pos;
        while u32_at(input, p) == Some(0) {
            p += 4;
        }
        if !is_xz(input.get(p..).unwrap_or_default()) {
            pos = p;
            break;
        }
        pos = p;
        dec.reset();
    }
    Ok((out.finish(), pos))
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

fn err(e: XzError, pos: usize, len: usize, limit: usize) -> Error {
    match e {
        XzError::NeedsLargerInputBuffer => Error::Truncated { what: "xz stream", offset: len as u64 },
        // The dictionary is allocated whole, so it is bounded by the output limit too.
        XzError::DictionaryTooLarge(dict) => Error::DictionaryTooLarge { format: FORMAT, dict, limit: limit as u64 },
        XzError::DictionaryOverflow => Error::TooLarge { format: FORMAT, limit: limit as u64 },
        other => Error::Corrupt { format: FORMAT, detail: format!("{other}"), offset: pos as u64 },
    }
}
