//! Byte-order aware, bounds-checked field reads: FFS is written in the byte order of the
//! machine that made it (`makefs -B be`), and every field read can fall outside a short or
//! hostile buffer.

/// The byte order a filesystem was written in, found from its superblock magic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endian {
    Little,
    Big,
}

impl Endian {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Little => "le",
            Self::Big => "be",
        }
    }

    fn bytes<const N: usize>(buf: &[u8], off: usize) -> Option<[u8; N]> {
        let end = off.checked_add(N)?;
        buf.get(off..end)?.try_into().ok()
    }

    pub(crate) fn u16(self, buf: &[u8], off: usize) -> Option<u16> {
        let b = Self::bytes::<2>(buf, off)?;
        Some(match self {
            Self::Little => u16::from_le_bytes(b),
            Self::Big => u16::from_be_bytes(b),
        })
    }

    pub(crate) fn u32(self, buf: &[u8], off: usize) -> Option<u32> {
        let b = Self::bytes::<4>(buf, off)?;
        Some(match self {
            Self::Little => u32::from_le_bytes(b),
            Self::Big => u32::from_be_bytes(b),
        })
    }

    pub(crate) fn i32(self, buf: &[u8], off: usize) -> Option<i32> {
        self.u32(buf, off).map(|v| i32::from_ne_bytes(v.to_ne_bytes()))
    }

    pub(crate) fn u64(self, buf: &[u8], off: usize) -> Option<u64> {
        let b = Self::bytes::<8>(buf, off)?;
        Some(match self {
            Self::Little => u64::from_le_bytes(b),
            Self::Big => u64::from_be_bytes(b),
        })
    }

    pub(crate) fn i64(self, buf: &[u8], off: usize) -> Option<i64> {
        self.u64(buf, off).map(|v| i64::from_ne_bytes(v.to_ne_bytes()))
    }
}
