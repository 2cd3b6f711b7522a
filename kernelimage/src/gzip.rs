//! gzip (RFC 1952), including multi-member files, decoded with miniz_oxide's inflate core;
//! each member's CRC-32 and ISIZE are checked. NetBSD ships `netbsd.gz`.

use super::bytes::{u16_at, u32_at, u8_at};
use super::error::{Error, Result};
use super::out::OutBuf;
use alloc::boxed::Box;
use alloc::format;
use alloc::vec::Vec;
use miniz_oxide::inflate::core::{decompress, inflate_flags, DecompressorOxide};
use miniz_oxide::inflate::TINFLStatus;

const FORMAT: &str = "gzip";
const FTEXT_FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;

/// `true` if `d` starts like a gzip member (magic and deflate method).
pub fn is_gzip(d: &[u8]) -> bool {
    d.starts_with(&[0x1f, 0x8b, 0x08])
}

/// Length of the member header at `d[0..]`.
fn header_len(d: &[u8]) -> Result<usize> {
    let trunc = |offset: usize| Error::Truncated { what: "gzip header", offset: offset as u64 };
    if d.len() < 10 {
        return Err(trunc(d.len()));
    }
    if !is_gzip(d) {
        return Err(Error::Corrupt {
            format: FORMAT,
            detail: "bad member magic or compression method".into(),
            offset: 0,
        });
    }
    let flg = u8_at(d, 3).ok_or_else(|| trunc(3))?;
    if flg & 0xe0 != 0 {
        return Err(Error::Corrupt {
            format: FORMAT,
            detail: format!("reserved header flags set ({flg:#x})"),
            offset: 3,
        });
    }
    let mut pos = 10usize;
    if flg & FEXTRA != 0 {
        let xlen = u16_at(d, pos).ok_or_else(|| trunc(pos))?;
        pos = pos + 2 + usize::from(xlen);
    }
    for flag in [FNAME, FCOMMENT] {
        if flg & flag != 0 {
            let rest = d.get(pos..).ok_or_else(|| trunc(pos))?;
            let nul = rest.iter().position(|&b| b == 0).ok_or_else(|| trunc(d.len()))?;
            pos = pos + nul + 1;
        }
    }
    if flg & FTEXT_FHCRC != 0 {
        pos += 2;
    }
    if pos > d.len() {
        return Err(trunc(d.len()));
    }
    Ok(pos)
}

/// Decompress every gzip member at the start of `input` (trailing zero padding or other
/// trailing bytes end the stream, as gzip(1) ignores them). Returns the output and the
/// number of input bytes used.
pub fn decompress_gzip(input: &[u8], limit: usize) -> Result<(Vec<u8>, usize)> {
    // ISIZE of a single-member file is a good (untrusted, mod 2^32) size hint.
    let isize_hint = input.len().checked_sub(4).and_then(|p| u32_at(input, p)).map_or(0, |v| v as usize);
    let hint = if isize_hint >= input.len() / 2 { isize_hint } else { input.len().saturating_mul(3) };
    let mut out = OutBuf::new(FORMAT, limit, hint)?;
    let mut pos = 0usize;
    let mut members = 0u32;
    let mut decomp: Box<DecompressorOxide> = Box::default();
    loop {
        let member = input.get(pos..).unwrap_or_default();
        if members > 0 && !is_gzip(member) {
            break;
        }
        let hlen = header_len(member).map_err(|e| shift(e, pos))?;
        pos += hlen;
        decomp.init();
        let member_start = out.len;
        // Inflate into the whole buffer from `member_start` on (non-wrapping: back references
        // are resolved inside the output itself).
        loop {
            let inp = input.get(pos..).unwrap_or_default();
            let flags = inflate_flags::TINFL_FLAG_USING_NON_WRAPPING_OUTPUT_BUF;
            let window = out.buf.get_mut(member_start..).unwrap_or_default();
            let (status, used, produced) = decompress(&mut decomp, inp, window, out.len - member_start, flags);
            pos += used;
            out.advance(produced);
            match status {
                TINFLStatus::Done => break,
                TINFLStatus::HasMoreOutput => out.grow(64 * 1024)?,
                TINFLStatus::NeedsMoreInput | TINFLStatus::FailedCannotMakeProgress => {
                    return Err(Error::Truncated { what: "deflate data", offset: input.len() as u64 })
                }
                other => {
                    return Err(Error::Corrupt {
                        format: FORMAT,
                        detail: format!("invalid deflate data ({other:?})"),
                        offset: pos as u64,
                    })
                }
            }
        }
        let crc = u32_at(input, pos).ok_or(Error::Truncated { what: "gzip trailer (CRC32)", offset: pos as u64 })?;
        let isize =
            u32_at(input, pos + 4).ok_or(Error::Truncated { what: "gzip trailer (ISIZE)", offset: pos as u64 + 4 })?;
        let data = out.buf.get(member_start..out.len).unwrap_or_default();
        let got = crc32::update(0, data);
        if got != crc {
            return Err(Error::Corrupt {
                format: FORMAT,
                detail: format!("CRC32 mismatch (stored {crc:#010x}, computed {got:#010x})"),
                offset: pos as u64,
            });
        }
        if isize != data.len() as u32 {
            return Err(Error::Corrupt {
                format: FORMAT,
                detail: format!("ISIZE {isize} but {} bytes decoded", data.len()),
                offset: pos as u64 + 4,
            });
        }
        pos += 8;
        members += 1;
    }
    Ok((out.finish(), pos))
}

/// Re-base a member-relative error offset to the file.
fn shift(e: Error, base: usize) -> Error {
    match e {
        Error::Truncated { what, offset } => Error::Truncated { what, offset: offset + base as u64 },
        Error::Corrupt { format, detail, offset } => Error::Corrupt { format, detail, offset: offset + base as u64 },
        other => other,
    }
}
