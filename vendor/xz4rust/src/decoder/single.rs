//! rpvboot: single-call decoding of one .xz stream into an output buffer that is also the
//! LZMA2 dictionary, as xz-embedded's `XZ_SINGLE` mode (the one Linux uses to unpack itself):
//! no dictionary is allocated, whatever size the stream declares, and nothing is copied out of
//! one. The caller gives the whole stream and an output buffer that must hold all of it; a
//! stream that needs more fails with [`XzError::OutputBufferTooSmall`] before anything past
//! the buffer is touched, and the caller may decode it again with more room.
//!
//! Filters run on a block's output once LZMA2 has produced all of it (the dictionary must not
//! see filtered bytes). Input is hostile: every read is bounded by the slice, every size from
//! a header is checked against what is left, and the range decoder is handed exactly one
//! chunk's bytes and must consume exactly them.

use super::{RcBuf, XzCheckType, XzDictBuffer, XzDictBufferAllocation, XzError, XzLzma2Decoder};
#[cfg(feature = "bcj")]
use crate::bcj::{BcjFilter, BcjFilterState};
use crate::crc32::crc32;
#[cfg(feature = "delta")]
use crate::delta::DeltaDecoder;
use alloc::boxed::Box;
#[cfg(feature = "delta")]
use core::num::NonZeroUsize;

const HEADER_MAGIC: [u8; 6] = *b"\xFD7zXZ\0";
const FOOTER_MAGIC: [u8; 2] = *b"YZ";
const FILTER_DELTA: u64 = 0x03;
const FILTER_LZMA2: u64 = 0x21;

/// The result of [`decode_single`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SingleDecoded {
    /// Bytes of input the stream occupied, from its header to the end of its footer.
    pub input_used: usize,
    /// End of the output written: the stream's bytes are `out[out_pos..output_end]`.
    pub output_end: usize,
}

/// Decode the .xz stream at the start of `input` into `out[out_pos..]`. Stream padding and
/// further streams are left to the caller (`input_used` says where this one ended).
///
/// # Errors
/// [`XzError::OutputBufferTooSmall`] when the stream holds more than `out.len() - out_pos`
/// bytes, [`XzError::NeedsLargerInputBuffer`] when the input ends inside the stream, any other
/// variant for a corrupt or unsupported stream.
pub fn decode_single(
    input: &[u8],
    out: &mut [u8],
    out_pos: usize,
) -> Result<SingleDecoded, XzError> {
    if out_pos > out.len() {
        return Err(XzError::OutputBufferTooSmall);
    }
    let mut c = Cursor { d: input, pos: 0 };
    let flags = stream_header(&mut c)?;
    let check = XzCheckType::try_from(flags[1])?;
    let mut lzma = Box::new(XzLzma2Decoder::new());
    let mut blocks = Records::default();
    let mut pos = out_pos;
    while c.peek()? != 0 {
        let (unpadded, end) = block(&mut c, &mut lzma, check, out, pos)?;
        blocks.add(unpadded, (end - pos) as u64);
        pos = end;
    }
    let index_len = index(&mut c, &blocks)?;
    stream_footer(&mut c, flags, index_len)?;
    Ok(SingleDecoded {
        input_used: c.pos,
        output_end: pos,
    })
}

/// Bounded reads from the input; running out is `NeedsLargerInputBuffer` (a truncated file).
struct Cursor<'a> {
    d: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Result<u8, XzError> {
        self.d
            .get(self.pos)
            .copied()
            .ok_or(XzError::NeedsLargerInputBuffer)
    }

    fn byte(&mut self) -> Result<u8, XzError> {
        let b = self.peek()?;
        self.pos += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], XzError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(XzError::NeedsLargerInputBuffer)?;
        let s = self
            .d
            .get(self.pos..end)
            .ok_or(XzError::NeedsLargerInputBuffer)?;
        self.pos = end;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], XzError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u32_le(&mut self) -> Result<u32, XzError> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    fn u16_be(&mut self) -> Result<u16, XzError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    /// A variable-length integer: 7 bits a byte, at most 9 bytes, no redundant zero byte.
    fn vli(&mut self, err: XzError) -> Result<u64, XzError> {
        let mut v = 0u64;
        for i in 0..9 {
            let b = self.byte().map_err(|_| err.clone())?;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                if b == 0 && i > 0 {
                    return Err(err);
                }
                return Ok(v);
            }
        }
        Err(err)
    }
}

/// What the index says of the blocks, and what the blocks were: compared, not stored (a
/// hostile stream can have a block every few bytes). The CRC-32 chains every record.
#[derive(Default, PartialEq, Eq)]
struct Records {
    count: u64,
    unpadded: u64,
    uncompressed: u64,
    crc: u32,
}

impl Records {
    fn add(&mut self, unpadded: u64, uncompressed: u64) {
        self.count = self.count.wrapping_add(1);
        self.unpadded = self.unpadded.wrapping_add(unpadded);
        self.uncompressed = self.uncompressed.wrapping_add(uncompressed);
        let mut rec = [0u8; 16];
        rec[..8].copy_from_slice(&unpadded.to_le_bytes());
        rec[8..].copy_from_slice(&uncompressed.to_le_bytes());
        self.crc = crc32(self.crc, &rec);
    }
}

/// The stream header: magic, flags (`[0, check type]`) and their CRC-32. Returns the flags.
fn stream_header(c: &mut Cursor) -> Result<[u8; 2], XzError> {
    if c.array::<6>()? != HEADER_MAGIC {
        return Err(XzError::StreamHeaderMagicNumberMismatch);
    }
    let flags = c.array::<2>()?;
    let expected = c.u32_le()?;
    let actual = crc32(0, &flags);
    if actual != expected {
        return Err(XzError::StreamHeaderCrc32Mismatch(actual, expected));
    }
    if flags[0] != 0 || flags[1] > 15 {
        return Err(XzError::UnsupportedStreamHeaderOption);
    }
    Ok(flags)
}

/// One filter before LZMA2 in a block's chain.
#[derive(Clone, Copy)]
enum Filter {
    #[cfg(feature = "bcj")]
    Bcj(BcjFilter, u32),
    #[cfg(feature = "delta")]
    Delta(NonZeroUsize),
}

/// A parsed block header.
struct BlockHeader {
    size: usize,
    compressed: Option<u64>,
    uncompressed: Option<u64>,
    /// Filters before LZMA2, in the header's order (the encoder's); at most three.
    filters: [Option<Filter>; 3],
    /// The LZMA2 dictionary size, which bounds match distances.
    dict_size: usize,
}

fn block_header(c: &mut Cursor) -> Result<BlockHeader, XzError> {
    let size = (usize::from(c.peek()?) + 1) * 4;
    let all = c.take(size)?;
    let (body, crc) = all.split_at(size - 4);
    let expected = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let actual = crc32(0, body);
    if actual != expected {
        return Err(XzError::BlockHeaderCrc32Mismatch(actual, expected));
    }
    let mut h = Cursor { d: body, pos: 1 };
    let flags = h.byte()?;
    if flags & 0x3c != 0 {
        return Err(XzError::UnsupportedBlockHeaderOption);
    }
    let compressed = if flags & 0x40 != 0 {
        Some(h.vli(XzError::CorruptedCompressedLengthVliInBlockHeader)?)
    } else {
        None
    };
    if compressed == Some(0) {
        return Err(XzError::CorruptedCompressedLengthVliInBlockHeader);
    }
    let uncompressed = if flags & 0x80 != 0 {
        Some(h.vli(XzError::CorruptedUncompressedLengthVliInBlockHeader)?)
    } else {
        None
    };
    let count = usize::from(flags & 3) + 1;
    let mut filters = [None; 3];
    let mut dict_size = 0;
    for i in 0..count {
        let bad = XzError::UnsupportedBlockHeaderOption;
        let id = h.vli(bad.clone())?;
        let props_len = usize::try_from(h.vli(bad.clone())?).map_err(|_| bad.clone())?;
        let props = h
            .take(props_len)
            .map_err(|_| XzError::BlockHeaderTooSmall)?;
        if i + 1 == count {
            // The last filter, and only the last, is LZMA2; its one property byte is the
            // dictionary size (40, 4 GiB - 1, is refused as xz-embedded refuses it).
            if id != FILTER_LZMA2 || props_len != 1 {
                return Err(bad);
            }
            let p = props[0];
            if p > 39 {
                return Err(XzError::UnsupportedLzmaProperties(u32::from(p)));
            }
            dict_size = (2 | (usize::from(p) & 1)) << (p / 2 + 11);
        } else {
            filters[i] = Some(filter(id, props)?);
        }
    }
    // Header padding: zeros.
    if body
        .get(h.pos..)
        .unwrap_or_default()
        .iter()
        .any(|&b| b != 0)
    {
        return Err(XzError::UnsupportedBlockHeaderOption);
    }
    Ok(BlockHeader {
        size,
        compressed,
        uncompressed,
        filters,
        dict_size,
    })
}

/// A non-last filter: BCJ (no properties, or a 4-byte start offset) or delta (one byte).
fn filter(id: u64, props: &[u8]) -> Result<Filter, XzError> {
    #[cfg(feature = "delta")]
    if id == FILTER_DELTA {
        let [d] = props else {
            return Err(XzError::UnsupportedBlockHeaderOption);
        };
        let dist =
            NonZeroUsize::new(usize::from(*d) + 1).ok_or(XzError::UnsupportedBlockHeaderOption)?;
        return Ok(Filter::Delta(dist));
    }
    #[cfg(feature = "bcj")]
    if let Ok(id8) = u8::try_from(id) {
        if let Ok(f) = BcjFilter::try_from(id8) {
            let offset = match props {
                [] => 0,
                [a, b, c, d] => u32::from_le_bytes([*a, *b, *c, *d]),
                _ => return Err(XzError::UnsupportedBlockHeaderOption),
            };
            return Ok(Filter::Bcj(f, offset));
        }
    }
    let _ = (id, props, FILTER_DELTA);
    Err(XzError::UnsupportedBlockHeaderOption)
}

/// One block: header, LZMA2 data into `out[pos..]`, filters, padding, check. Returns the
/// block's unpadded size (for the index) and the end of its output.
fn block(
    c: &mut Cursor,
    lzma: &mut XzLzma2Decoder,
    check: XzCheckType,
    out: &mut [u8],
    pos: usize,
) -> Result<(u64, usize), XzError> {
    let h = block_header(c)?;
    let data_start = c.pos;
    let rest = c.d.get(data_start..).unwrap_or_default();
    // The compressed size, when the header gives it, bounds what LZMA2 may read.
    let rest = match h.compressed.map(usize::try_from) {
        Some(Ok(n)) if n <= rest.len() => rest.get(..n).unwrap_or_default(),
        Some(_) => return Err(XzError::NeedsLargerInputBuffer),
        None => rest,
    };
    let (used, end) = lzma2(lzma, h.dict_size, rest, out, pos)?;
    c.pos = data_start + used;
    let uncompressed = (end - pos) as u64;
    if h.compressed.is_some_and(|n| n != used as u64)
        || h.uncompressed.is_some_and(|n| n != uncompressed)
    {
        return Err(XzError::LessDataInBlockBodyThanHeaderIndicated);
    }
    let produced = out.get_mut(pos..end).ok_or(XzError::OutputBufferTooSmall)?;
    unfilter(&h.filters, produced);
    // Block padding: zeros up to a multiple of four from the block's start.
    while (h.size + c.pos - data_start) % 4 != 0 {
        if c.byte()? != 0 {
            return Err(XzError::CorruptedData);
        }
    }
    verify(c, check, produced)?;
    let unpadded = (h.size + used + check.check_size()) as u64;
    Ok((unpadded, end))
}

/// Undo the filters, last first (the encoder applied them first to last).
fn unfilter(filters: &[Option<Filter>; 3], data: &mut [u8]) {
    for f in filters.iter().rev().flatten() {
        match *f {
            #[cfg(feature = "bcj")]
            Filter::Bcj(kind, offset) => {
                let mut s = BcjFilterState::new();
                s.reset(kind, offset);
                // The last few bytes a BCJ filter cannot decide on stay as they are: the
                // encoder left them unfiltered too.
                s.apply(data, 0, data.len());
            }
            #[cfg(feature = "delta")]
            Filter::Delta(dist) => {
                let mut d = DeltaDecoder::new();
                d.reset(dist);
                d.decode(data);
            }
        }
    }
}

/// The block's check, against its output.
fn verify(c: &mut Cursor, check: XzCheckType, data: &[u8]) -> Result<(), XzError> {
    match check {
        XzCheckType::None => Ok(()),
        XzCheckType::Crc32 => {
            let expected = c.u32_le()?;
            let actual = crc32(0, data);
            if actual == expected {
                Ok(())
            } else {
                Err(XzError::ContentCrc32Mismatch(actual, expected))
            }
        }
        #[cfg(feature = "crc64")]
        XzCheckType::Crc64 => {
            let expected = u64::from_le_bytes(c.array()?);
            let actual = crate::crc64xz::crc64xz(0, data);
            if actual == expected {
                Ok(())
            } else {
                Err(XzError::ContentCrc64Mismatch(actual, expected))
            }
        }
        #[cfg(feature = "sha256")]
        XzCheckType::Sha256 => {
            let mut h = crate::sha256::XzSha256::new();
            h.update(data);
            h.validate(c.take(32)?)
        }
    }
}

/// The LZMA2 chunks of one block into `out[pos..]`, the dictionary starting where the last
/// dictionary reset happened. Returns the input used (through the end marker) and the end of
/// the output.
fn lzma2(
    lz: &mut XzLzma2Decoder,
    dist_max: usize,
    input: &[u8],
    out: &mut [u8],
    mut pos: usize,
) -> Result<(usize, usize), XzError> {
    let mut c = Cursor { d: input, pos: 0 };
    let mut dict_base = pos;
    let mut need_dict_reset = true;
    let mut need_props = true;
    loop {
        let control = c.byte()?;
        if control == 0 {
            return Ok((c.pos, pos));
        }
        if control >= 0xe0 || control == 1 {
            need_props = true;
            need_dict_reset = false;
            dict_base = pos;
        } else if need_dict_reset {
            return Err(XzError::LzmaDictionaryResetExcepted);
        }
        if control < 0x80 {
            // An uncompressed chunk (1: after a dictionary reset, 2: without).
            if control > 2 {
                return Err(XzError::CorruptedDataInLzma);
            }
            let n = usize::from(c.u16_be()?) + 1;
            let src = c.take(n)?;
            let end = pos.checked_add(n).ok_or(XzError::OutputBufferTooSmall)?;
            out.get_mut(pos..end)
                .ok_or(XzError::OutputBufferTooSmall)?
                .copy_from_slice(src);
            pos = end;
            continue;
        }
        let unpacked = (usize::from(control & 0x1f) << 16) + usize::from(c.u16_be()?) + 1;
        let packed = usize::from(c.u16_be()?) + 1;
        if control >= 0xc0 {
            lz.lzma_props(c.byte()?)?;
            need_props = false;
        } else if need_props {
            return Err(XzError::LzmaPropertiesMissing);
        } else if control >= 0xa0 {
            lz.lzma.reset();
        }
        let chunk = c.take(packed)?;
        pos = lzma_chunk(lz, chunk, out, dict_base, pos, unpacked, dist_max)?;
    }
}

/// One LZMA chunk: exactly `chunk` in, exactly `unpacked` bytes out at `out[pos..]`.
fn lzma_chunk(
    lz: &mut XzLzma2Decoder,
    chunk: &[u8],
    out: &mut [u8],
    dict_base: usize,
    pos: usize,
    unpacked: usize,
    dist_max: usize,
) -> Result<usize, XzError> {
    let end = pos
        .checked_add(unpacked)
        .ok_or(XzError::OutputBufferTooSmall)?;
    if end > out.len() {
        return Err(XzError::OutputBufferTooSmall);
    }
    // The range decoder starts with five bytes, the first always zero.
    let &[0, a, b, cc, d, ..] = chunk else {
        return Err(XzError::CorruptedDataInLzma);
    };
    lz.rc.range = u32::MAX;
    lz.rc.code = u32::from_be_bytes([a, b, cc, d]);
    lz.rc.init_bytes_left = 0;
    let buf = out
        .get_mut(dict_base..end)
        .ok_or(XzError::OutputBufferTooSmall)?;
    let rel = pos - dict_base;
    let mut dict = XzDictBuffer {
        dict_size: buf.len(),
        buffer: XzDictBufferAllocation::Fixed(buf),
        dict_start: rel,
        dict_pos: rel,
        dict_full: rel,
        dict_limit: rel + unpacked,
        dist_max,
    };
    let mut rcb = RcBuf {
        input: chunk,
        in_pos: 5,
        in_limit: chunk.len(),
    };
    lz.lzma_main(&mut rcb, &mut dict)?;
    if dict.dict_pos != rel + unpacked
        || rcb.in_pos != chunk.len()
        || lz.lzma.len > 0
        || !lz.rc.is_finished()
    {
        return Err(XzError::CorruptedDataInLzma);
    }
    Ok(end)
}

/// The index: records that must match the blocks, padding, CRC-32. Returns its size.
fn index(c: &mut Cursor, blocks: &Records) -> Result<usize, XzError> {
    let start = c.pos;
    let bad = XzError::CorruptedDataInBlockIndex;
    if c.byte()? != 0 {
        return Err(bad);
    }
    let count = c.vli(bad.clone())?;
    if count != blocks.count {
        return Err(bad);
    }
    let mut seen = Records::default();
    for _ in 0..count {
        let unpadded = c.vli(bad.clone())?;
        let uncompressed = c.vli(bad.clone())?;
        seen.add(unpadded, uncompressed);
    }
    while (c.pos - start) % 4 != 0 {
        if c.byte()? != 0 {
            return Err(XzError::CorruptedData);
        }
    }
    let actual = crc32(0, c.d.get(start..c.pos).unwrap_or_default());
    let expected = c.u32_le()?;
    if actual != expected {
        return Err(XzError::IndexCrc32Mismatch(actual, expected));
    }
    if seen != *blocks {
        return Err(XzError::CorruptedData);
    }
    Ok(c.pos - start)
}

/// The footer: CRC-32, backward size (the index's), the header's flags again, magic.
fn stream_footer(c: &mut Cursor, flags: [u8; 2], index_len: usize) -> Result<(), XzError> {
    let f = c.array::<12>()?;
    let expected = u32::from_le_bytes([f[0], f[1], f[2], f[3]]);
    let actual = crc32(0, &f[4..10]);
    if actual != expected {
        return Err(XzError::FooterCrc32Mismatch(actual, expected));
    }
    if [f[10], f[11]] != FOOTER_MAGIC {
        return Err(XzError::FooterMagicNumberMismatch);
    }
    let backward = (u64::from(u32::from_le_bytes([f[4], f[5], f[6], f[7]])) + 1) * 4;
    if backward != index_len as u64 {
        return Err(XzError::FooterDecoderIndexMismatch(
            backward,
            index_len as u64,
        ));
    }
    if [f[8], f[9]] != flags {
        let actual = u32::from(u16::from_le_bytes([f[8], f[9]]));
        return Err(XzError::FooterCheckTypeMismatch(
            actual,
            XzCheckType::try_from(flags[1])?,
        ));
    }
    Ok(())
}
