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
pub fn decompress_xz(input: &[u8], limit: usize) -> Result<(Vec<u8>, usize)> {
    if !is_xz(input) {
        return Err(Error::Corrupt {
            format: FORMAT,
            detail: "bad stream magic".into(),
            offset: 0,
        });
    }
    let mut out = OutBuf::new(FORMAT, limit, input.len().saturating_mul(4))?;
    // The dictionary grows on demand up to what the stream declares, never beyond our limit.
    let mut dec = XzDecoder::in_heap_with_alloc_dict_size(64 * 1024, limit.max(4096));
    let mut pos = 0usize;
    loop {
        // One stream.
        loop {
            if out.free().len() < 64 * 1024 {
                out.grow(64 * 1024)?;
            }
            let inp = input.get(pos..).unwrap_or_default();
            let res = dec
                .decode(inp, out.free())
                .map_err(|e| err(e, pos, input.len(), limit))?;
            pos += res.input_consumed();
            out.advance(res.output_produced());
            match res {
                XzNextBlockResult::EndOfStream(..) => break,
                XzNextBlockResult::NeedMoreData(..) => {
                    if pos >= input.len() && !res.made_progress() {
                        return Err(Error::Truncated {
                            what: "xz stream",
                            offset: input.len() as u64,
                        });
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

fn err(e: XzError, pos: usize, len: usize, limit: usize) -> Error {
    match e {
        XzError::NeedsLargerInputBuffer => Error::Truncated {
            what: "xz stream",
            offset: len as u64,
        },
        // The dictionary is allocated whole, so it is bounded by the output limit too.
        XzError::DictionaryOverflow | XzError::DictionaryTooLarge(_) => Error::TooLarge {
            format: FORMAT,
            limit: limit as u64,
        },
        other => Error::Corrupt {
            format: FORMAT,
            detail: format!("{other:?}"),
            offset: pos as u64,
        },
    }
}
