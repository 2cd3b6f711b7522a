//! LZ4: the legacy frame Linux uses for kernels (`lz4 -l`, magic 0x184C2102) and the standard
//! frame format (magic 0x184D2204), decoded block by block with lz4_flex (through the
//! `lz4block` crate, built for speed). Checksums (xxHash32) of the standard frame are skipped,
//! not verified.

use super::bytes::{u32_at, u8_at};
use super::error::{Error, Result};
use super::out::OutBuf;
use alloc::format;
use alloc::vec::Vec;

const FORMAT: &str = "lz4";
const LEGACY_MAGIC: u32 = 0x184C_2102;
const FRAME_MAGIC: u32 = 0x184D_2204;
const LEGACY_BLOCK: usize = 8 << 20;

/// `true` if `d` starts with an LZ4 legacy or standard frame.
pub fn is_lz4(d: &[u8]) -> bool {
    matches!(u32_at(d, 0), Some(LEGACY_MAGIC | FRAME_MAGIC))
}

fn bound(n: usize) -> usize {
    n + n / 255 + 16
}

fn corrupt(detail: alloc::string::String, offset: usize) -> Error {
    Error::Corrupt { format: FORMAT, detail, offset: offset as u64 }
}

/// Decompress the LZ4 frames at the start of `input`. Returns the output and the input used.
/// `hint`: expected output size (untrusted; 0 = unknown).
pub fn decompress_lz4(input: &[u8], limit: usize, hint: usize) -> Result<(Vec<u8>, usize)> {
    let bound = first_frame_bound(input);
    let guess = match (hint, bound) {
        (0, 0) => input.len().saturating_mul(3),
        (0, b) => b,
        (h, 0) => h,
        (h, b) => h.min(b),
    };
    let mut out = OutBuf::new(FORMAT, limit, guess)?;
    let mut pos = 0usize;
    let mut frames = 0u32;
    loop {
        match u32_at(input, pos) {
            Some(LEGACY_MAGIC) => pos = legacy(input, pos + 4, &mut out)?,
            Some(FRAME_MAGIC) => pos = frame(input, pos + 4, &mut out)?,
            _ if frames > 0 => break,
            _ => return Err(corrupt("bad frame magic".into(), pos)),
        }
        frames += 1;
    }
    Ok((out.finish(), pos))
}

/// Output bytes one byte of an LZ4 block can stand for at most: a match-length byte of 255
/// (tokens give at most 19, literals 1, offsets none).
const MAX_RATIO: usize = 255;

/// The room the first frame needs, from its structure alone (0 = not known): for a legacy
/// frame, per block at most 8 MiB and at most [`MAX_RATIO`] times its compressed size (Linux's
/// kernels carry no other size: `lz4 -l` writes none, only a bzImage appends one). One
/// allocation of what the decode can need instead of doubling from a guess: no copy, no slack
/// to shrink, and a hostile frame of many tiny blocks claims no more than 255 times its size.
/// The walk only hops over block-size words (at most `input.len() / 4` of them); a malformed
/// frame just ends it, and [`legacy`] reports the error.
fn first_frame_bound(input: &[u8]) -> usize {
    if u32_at(input, 0) != Some(LEGACY_MAGIC) {
        return 0;
    }
    let mut pos = 4usize;
    let mut total = 0usize;
    while let Some(size) = u32_at(input, pos) {
        let size = size as usize;
        let data_at = pos + 4;
        if size == LEGACY_MAGIC as usize || size == FRAME_MAGIC as usize || size > bound(LEGACY_BLOCK) {
            break;
        }
        let Some(next) = data_at.checked_add(size).filter(|&n| n <= input.len()) else { break };
        total = total.saturating_add(size.saturating_mul(MAX_RATIO).min(LEGACY_BLOCK));
        pos = next;
    }
    total
}

/// Decodes one block after `out.len`. The block may produce up to `max` bytes, but is first
/// decoded into the room already there when that is less (an exact size hint leaves the last
/// block just what it needs); only if that is too small does the buffer grow to `max` and the
/// block get decoded again (at most once per block, and growth doubles).
fn block(src: &[u8], out: &mut OutBuf, max: usize, dict: bool, at: usize) -> Result<()> {
    let room = out.free().len();
    if room < max && room > 0 {
        match decode(src, out, room, dict) {
            Err(lz4block::DecompressError::OutputTooSmall { .. }) => {}
            r => return r.map_err(|e| corrupt(format!("{e}"), at)),
        }
    }
    out.grow(max)?;
    decode(src, out, max, dict).map_err(|e| corrupt(format!("{e}"), at))
}

/// Decodes `src` into at most `room` bytes after `out.len` (which must be there) and commits
/// what was written.
fn decode(
    src: &[u8],
    out: &mut OutBuf,
    room: usize,
    dict: bool,
) -> core::result::Result<(), lz4block::DecompressError> {
    let start = out.len;
    let (before, after) = out.buf.split_at_mut(start);
    let dst = after.get_mut(..room).unwrap_or_default();
    let d = if dict { before.get(start.saturating_sub(64 * 1024)..).unwrap_or_default() } else { &[] };
    let n = lz4block::decompress_into(src, dst, d)?;
    out.advance(n);
    Ok(())
}

/// Legacy frame: `(u32 size, block)*`, each block up to 8 MiB of output, independent.
fn legacy(input: &[u8], mut pos: usize, out: &mut OutBuf) -> Result<usize> {
    loop {
        let Some(size) = u32_at(input, pos) else {
            // The legacy format has no end mark: the input's end is the frame's end, but not
            // in the middle of a block-size word.
            if pos < input.len() {
                return Err(Error::Truncated { what: "lz4 block size", offset: input.len() as u64 });
            }
            return Ok(pos);
        };
        if size == LEGACY_MAGIC || size == FRAME_MAGIC {
            return Ok(pos);
        }
        let size = size as usize;
        let data_at = pos + 4;
        if size > bound(LEGACY_BLOCK) || data_at.saturating_add(size) > input.len() {
            // Linux appends the 4-byte uncompressed size after its kernel stream: a last
            // word that cannot be a block ends the frame.
            if data_at == input.len() {
                return Ok(pos);
            }
            if size > bound(LEGACY_BLOCK) {
                return Err(corrupt(format!("block size {size} too large"), pos));
            }
            return Err(Error::Truncated { what: "lz4 block", offset: input.len() as u64 });
        }
        let src = input.get(data_at..data_at + size).unwrap_or_default();
        block(src, out, LEGACY_BLOCK, false, data_at)?;
        pos = data_at + size;
    }
}

/// Standard frame (lz4 frame format 1.6).
fn frame(input: &[u8], pos: usize, out: &mut OutBuf) -> Result<usize> {
    let trunc = |o: usize| Error::Truncated { what: "lz4 frame", offset: o as u64 };
    let flg = u8_at(input, pos).ok_or_else(|| trunc(pos))?;
    let bd = u8_at(input, pos + 1).ok_or_else(|| trunc(pos + 1))?;
    if flg >> 6 != 1 {
        return Err(corrupt(format!("unsupported frame version in FLG {flg:#x}"), pos));
    }
    let independent = flg & 0x20 != 0;
    let block_checksum = flg & 0x10 != 0;
    let content_size = flg & 0x08 != 0;
    let content_checksum = flg & 0x04 != 0;
    let dict_id = flg & 0x01 != 0;
    let max = match (bd >> 4) & 7 {
        4 => 64 << 10,
        5 => 256 << 10,
        6 => 1 << 20,
        7 => 4 << 20,
        other => return Err(corrupt(format!("bad block max size code {other}"), pos + 1)),
    };
    let mut p = pos + 2 + if content_size { 8 } else { 0 } + if dict_id { 4 } else { 0 } + 1;
    if p > input.len() {
        return Err(trunc(input.len()));
    }
    loop {
        let word = u32_at(input, p).ok_or_else(|| trunc(input.len()))?;
        p += 4;
        if word == 0 {
            break;
        }
        let raw = word & 0x8000_0000 != 0;
        let size = (word & 0x7fff_ffff) as usize;
        if size > max {
            return Err(corrupt(format!("block size {size} above the frame's {max}"), p - 4));
        }
        let src = input.get(p..p + size).ok_or_else(|| trunc(input.len()))?;
        if raw {
            out.grow(size)?;
            out.free().get_mut(..size).ok_or_else(|| trunc(p))?.copy_from_slice(src);
            out.advance(size);
        } else {
            block(src, out, max, !independent, p)?;
        }
        p += size + if block_checksum { 4 } else { 0 };
    }
    if content_checksum {
        p += 4;
    }
    if p > input.len() {
        return Err(trunc(input.len()));
    }
    Ok(p)
}
