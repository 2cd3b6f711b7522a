//! Partition maps: MBR (with extended/logical), GPT, NetBSD disklabel.
//!
//! Each map is parsed from sector bytes at the offsets its specification gives; every number
//! in it is untrusted. The parsers only describe what is on the disk (start, size, type, in
//! device sectors): turning that into readable partitions, GRUB-legacy names and filesystems is
//! [`crate::probe`]'s job.

pub mod disklabel;
pub mod gpt;
pub mod mbr;

use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use crate::block::{BlockDevice, Lba};
use crate::error::Error;

/// A GUID as GPT stores it: 16 bytes, the first three fields little-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Guid(pub [u8; 16]);

impl Guid {
    /// The all-zero GUID (an unused GPT entry).
    pub const ZERO: Self = Self([0; 16]);

    /// Parses the standard text form `XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX` (either case).
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        if b.len() != 36 {
            return None;
        }
        // Text nibble positions in display order, then mixed-endian to on-disk order.
        let mut disp = [0u8; 16];
        let mut n = 0usize;
        let mut i = 0usize;
        while i < 36 {
            if matches!(i, 8 | 13 | 18 | 23) {
                if b.get(i) != Some(&b'-') {
                    return None;
                }
                i += 1;
                continue;
            }
            let hi = hexval(*b.get(i)?)?;
            let lo = hexval(*b.get(i + 1)?)?;
            *disp.get_mut(n)? = (hi << 4) | lo;
            n += 1;
            i += 2;
        }
        let mut out = [0u8; 16];
        for (dst, src) in DISPLAY_ORDER.iter().enumerate() {
            *out.get_mut(*src)? = *disp.get(dst)?;
        }
        Some(Self(out))
    }

    /// True for the unused-entry GUID.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 16]
    }
}

/// On-disk byte index of each displayed byte: the first three fields are stored
/// little-endian, the last two (8 bytes) in order.
const DISPLAY_ORDER: [usize; 16] = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];

fn hexval(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, idx) in DISPLAY_ORDER.iter().enumerate() {
            if matches!(n, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{:02X}", self.0.get(*idx).copied().unwrap_or(0))?;
        }
        Ok(())
    }
}

/// CRC-32 (IEEE 802.3, reflected, as GPT uses it): the `crc32` crate's.
pub use crc32::{crc32, update as crc32_update};

pub(crate) fn u32le(b: &[u8], off: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(off..off.saturating_add(4)) {
        a.copy_from_slice(s);
    }
    u32::from_le_bytes(a)
}

pub(crate) fn u64le(b: &[u8], off: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(off..off.saturating_add(8)) {
        a.copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}

/// Reads `count` sectors at `lba` into a fresh buffer, refusing more than `max_bytes`.
pub(crate) fn read_sectors(dev: &mut dyn BlockDevice, lba: u64, count: u64, max_bytes: u64) -> Result<Vec<u8>, Error> {
    let bs = u64::from(dev.block_size());
    let len = count.checked_mul(bs).ok_or(Error::TooLarge { requested: u64::MAX, limit: max_bytes })?;
    if len > max_bytes {
        return Err(Error::TooLarge { requested: len, limit: max_bytes });
    }
    let len = usize::try_from(len).map_err(|_| Error::TooLarge { requested: len, limit: max_bytes })?;
    let mut buf = vec![0u8; len];
    dev.read_blocks(Lba(lba), &mut buf)?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn crc32_known_values() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32_update(crc32(b"1234"), b"56789"), 0xCBF4_3926);
    }

    #[test]
    fn guid_mixed_endian_round_trip() {
        // EFI System Partition: C12A7328-F81F-11D2-BA4B-00A0C93EC93B, on disk 28 73 2A C1 ...
        let g = Guid::parse("C12A7328-F81F-11D2-BA4B-00A0C93EC93B").unwrap();
        assert_eq!(&g.0[..4], &[0x28, 0x73, 0x2A, 0xC1]);
        assert_eq!(&g.0[4..8], &[0x1F, 0xF8, 0xD2, 0x11]);
        assert_eq!(&g.0[8..], &[0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B]);
        assert_eq!(g.to_string(), "C12A7328-F81F-11D2-BA4B-00A0C93EC93B");
        assert_eq!(Guid::parse("c12a7328-f81f-11d2-ba4b-00a0c93ec93b"), Some(g));
        assert_eq!(Guid::parse("C12A7328F81F-11D2-BA4B-00A0C93EC93B0"), None);
        assert_eq!(Guid::parse("X12A7328-F81F-11D2-BA4B-00A0C93EC93B"), None);
    }
}
