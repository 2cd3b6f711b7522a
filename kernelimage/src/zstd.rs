//! Zstandard frames (RFC 8878), decoded with ruzstd; skippable frames are skipped, the content
//! checksum is verified when present.

use super::bytes::u32_at;
use super::error::{Error, Result};
use super::out::OutBuf;
use alloc::format;
use alloc::vec::Vec;
use ruzstd::decoding::errors::{FrameDecoderError, ReadFrameHeaderError};
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};
use ruzstd::io::Read;

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
    let guess = if hint > 0 { hint } else { input.len().saturating_mul(4) };
    let mut out = OutBuf::new(FORMAT, limit, guess)?;
    let mut dec = FrameDecoder::new();
    let mut src: &[u8] = input;
    let used = |src: &[u8]| input.len() - src.len();
    let mut frames = 0u32;
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
        dec.init(&mut src).map_err(|e| err(e, at))?;
        // The declared content size, trusted only up to the limit (grow() caps it).
        if let Ok(n) = usize::try_from(dec.content_size()) {
            if n > 0 && out.grow(n).is_err() {
                return Err(Error::TooLarge { format: FORMAT, limit: limit as u64 });
            }
        }
        loop {
            let at = used(src);
            dec.decode_blocks(&mut src, BlockDecodingStrategy::UptoBytes(8 << 20)).map_err(|e| err(e, at))?;
            let n = dec.can_collect();
            out.grow(n)?;
            let got = dec.read(out.free()).map_err(|e| Error::Corrupt {
                format: FORMAT,
                detail: format!("{e}"),
                offset: at as u64,
            })?;
            out.advance(got);
            if dec.is_finished() && dec.can_collect() == 0 {
                break;
            }
        }
        if let (Some(stored), Some(computed)) = (dec.get_checksum_from_data(), dec.get_calculated_checksum()) {
            if stored != computed {
                return Err(Error::Corrupt {
                    format: FORMAT,
                    detail: format!("content checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"),
                    offset: used(src) as u64,
                });
            }
        }
        frames += 1;
    }
    Ok((out.finish(), used(src)))
}

fn err(e: FrameDecoderError, at: usize) -> Error {
    let detail = format!("{e}");
    let eof = detail.contains("UnexpectedEof")
        || detail.contains("unexpected end")
        || matches!(e, FrameDecoderError::ReadFrameHeaderError(ReadFrameHeaderError::MagicNumberReadError(_)));
    if eof {
        Error::Truncated { what: "zstd frame", offset: at as u64 }
    } else {
        Error::Corrupt { format: FORMAT, detail, offset: at as u64 }
    }
}
