//! The FFS superblock: found at the standard locations, every field checked before use.
//!
//! Field offsets are those of `struct fs` in NetBSD `sys/ufs/ffs/fs.h` (the same on-disk
//! layout for UFS1 and UFS2; UFS1 keeps some sizes in the `fs_old_*` fields).

use alloc::format;
use alloc::string::String;

use super::endian::Endian;
use super::{corrupt, Location};
use crate::error::Error;

/// Where the superblock may be, in search order (`SBLOCKSEARCH`): UFS2, UFS1, floppy, piggy.
pub(crate) const SBLOCKSEARCH: [u64; 4] = [65536, 8192, 0, 262144];
/// Bytes read at each candidate location (`SBLOCKSIZE`).
pub(crate) const SBLOCKSIZE: usize = 8192;

const FS_UFS1_MAGIC: u32 = 0x0001_1954;
const FS_UFS2_MAGIC: u32 = 0x1954_0119;
/// NetBSD 10's UFS2 with extended attributes (`FS_UFS2EA_MAGIC`, fs.h).
const FS_UFS2EA_MAGIC: u32 = 0x1901_2038;
const FS_FLAGS_UPDATED: u8 = 0x80;
const FS_44INODEFMT: i32 = 2;

/// Direct block pointers in an inode (`UFS_NDADDR`).
pub(crate) const NDADDR: usize = 12;
/// Indirect block pointers in an inode (`UFS_NIADDR`).
pub(crate) const NIADDR: usize = 3;

// Offsets in `struct fs`.
const FS_SBLKNO: usize = 8;
const FS_IBLKNO: usize = 16;
const FS_DBLKNO: usize = 20;
const FS_OLD_CGOFFSET: usize = 24;
const FS_OLD_CGMASK: usize = 28;
const FS_OLD_SIZE: usize = 36;
const FS_NCG: usize = 44;
const FS_BSIZE: usize = 48;
const FS_FSIZE: usize = 52;
const FS_FRAG: usize = 56;
const FS_BSHIFT: usize = 80;
const FS_FSHIFT: usize = 84;
const FS_FRAGSHIFT: usize = 96;
const FS_SBSIZE: usize = 104;
const FS_NINDIR: usize = 116;
const FS_INOPB: usize = 120;
const FS_ID: usize = 144;
const FS_IPG: usize = 184;
const FS_FPG: usize = 188;
const FS_OLD_FLAGS: usize = 211;
const FS_VOLNAME: usize = 680;
const MAXVOLLEN: usize = 32;
const FS_SBLOCKLOC: usize = 1000;
const FS_SIZE: usize = 1080;
const FS_MAXSYMLINKLEN: usize = 1320;
const FS_OLD_INODEFMT: usize = 1324;
const FS_MAGIC: usize = 1372;
/// Bytes of `struct fs` up to and including `fs_magic`.
const FS_STRUCT_SIZE: usize = FS_MAGIC + 4;

/// Which FFS this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// UFS1: 128-byte inodes, 32-bit block pointers.
    Ufs1,
    /// UFS2: 256-byte inodes, 64-bit block pointers.
    Ufs2,
    /// NetBSD 10 UFS2 with extended attributes; files read as UFS2.
    Ufs2Ea,
}

impl Flavor {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Ufs1 => "FFSv1",
            Self::Ufs2 => "FFSv2",
            Self::Ufs2Ea => "FFSv2ea",
        }
    }
    pub(crate) fn is_ufs1(self) -> bool {
        self == Self::Ufs1
    }
}

/// The validated geometry of one filesystem. Addresses are in fragments (`fs_fsize` units)
/// from the start of the filesystem, as in block pointers.
#[derive(Clone, Debug)]
pub(crate) struct Superblock {
    pub endian: Endian,
    pub flavor: Flavor,
    /// Byte offset the superblock was found at.
    pub location: u64,
    pub bsize: u32,
    pub fsize: u32,
    pub frag: u32,
    pub bshift: u32,
    pub ncg: u32,
    pub ipg: u32,
    pub fpg: u64,
    pub iblkno: u64,
    pub old_cgoffset: u64,
    pub old_cgmask: u32,
    /// Filesystem size in fragments: every pointer must lie below it.
    pub size: u64,
    /// Block pointers per indirect block (`NINDIR`).
    pub nindir: u64,
    /// Bytes per on-disk inode: 128 (UFS1) or 256 (UFS2).
    pub dinode_size: u32,
    /// Longest symlink kept inside the inode (0 on 4.2BSD-format filesystems).
    pub maxsymlinklen: u32,
    /// 4.2BSD inode/directory format (`fs_old_inodefmt < FS_44INODEFMT`).
    pub old_format: bool,
    pub volname: Option<String>,
    pub id: [u32; 2],
}

fn field(e: Endian, buf: &[u8], off: usize) -> Result<i32, Error> {
    e.i32(buf, off).ok_or(Error::NotRecognized)
}

impl Superblock {
    /// Parses the `SBLOCKSIZE` bytes read at byte offset `location`.
    ///
    /// [`Error::NotRecognized`] when there is no FFS magic (or only an alternate superblock);
    /// a corruption error when the magic is there but the geometry is impossible.
    pub(crate) fn parse(buf: &[u8], location: u64) -> Result<Self, Error> {
        if buf.len() < FS_STRUCT_SIZE {
            return Err(Error::NotRecognized);
        }
        let (endian, flavor) = detect(buf)?;
        let e = endian;
        let bad = |what: &str| corrupt(format!("superblock: {what}"), Location::offset(location));
        let old_flags = buf.get(FS_OLD_FLAGS).copied().unwrap_or(0);
        let sblockloc = e.i64(buf, FS_SBLOCKLOC).ok_or(Error::NotRecognized)?;
        if flavor.is_ufs1() && location == 65536 {
            // Most likely the first alternate superblock of a 64 KiB-block UFS1 (fs.h).
            return Err(Error::NotRecognized);
        }
        if (!flavor.is_ufs1() || old_flags & FS_FLAGS_UPDATED != 0) && u64::try_from(sblockloc).ok() != Some(location) {
            // An alternate copy that records a different primary location.
            return Err(Error::NotRecognized);
        }

        let sbsize = field(e, buf, FS_SBSIZE)?;
        if !(FS_STRUCT_SIZE as i32..=SBLOCKSIZE as i32).contains(&sbsize) {
            return Err(bad("fs_sbsize out of range"));
        }
        let bsize = field(e, buf, FS_BSIZE)?;
        let fsize = field(e, buf, FS_FSIZE)?;
        let frag = field(e, buf, FS_FRAG)?;
        let (bsize, fsize, frag) = match (u32::try_from(bsize), u32::try_from(fsize), u32::try_from(frag)) {
            (Ok(b), Ok(f), Ok(r)) => (b, f, r),
            _ => return Err(bad("negative block or fragment size")),
        };
        if !bsize.is_power_of_two() || !(4096..=65536).contains(&bsize) {
            return Err(bad("fs_bsize is not a power of two from 4096 to 65536"));
        }
        if !fsize.is_power_of_two() || fsize < 512 || fsize > bsize {
            return Err(bad("fs_fsize is not a power of two from 512 to fs_bsize"));
        }
        if bsize / fsize > 8 || bsize / fsize != frag {
            return Err(bad("fs_frag does not match fs_bsize / fs_fsize (at most 8)"));
        }
        if u32::try_from(field(e, buf, FS_BSHIFT)?).ok() != Some(bsize.trailing_zeros())
            || u32::try_from(field(e, buf, FS_FSHIFT)?).ok() != Some(fsize.trailing_zeros())
            || u32::try_from(field(e, buf, FS_FRAGSHIFT)?).ok() != Some(frag.trailing_zeros())
        {
            return Err(bad("shift fields disagree with the block sizes"));
        }
        let (dinode_size, ptr_size, max_fast) = if flavor.is_ufs1() { (128u32, 4u32, 60u32) } else { (256, 8, 120) };
        let inopb = bsize / dinode_size;
        if u32::try_from(field(e, buf, FS_INOPB)?).ok() != Some(inopb) {
            return Err(bad("fs_inopb does not match the block size"));
        }
        let nindir = bsize / ptr_size;
        if u32::try_from(field(e, buf, FS_NINDIR)?).ok() != Some(nindir) {
            return Err(bad("fs_nindir does not match the block size"));
        }
        let ncg = u32::try_from(field(e, buf, FS_NCG)?)
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| bad("fs_ncg is not positive"))?;
        let ipg = u32::try_from(field(e, buf, FS_IPG)?)
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| bad("fs_ipg is not positive"))?;
        if ipg % inopb != 0 {
            return Err(bad("fs_ipg is not a whole number of inode blocks"));
        }
        if u64::from(ncg).checked_mul(u64::from(ipg)).is_none_or(|n| n > u64::from(u32::MAX)) {
            return Err(bad("more inodes than 32-bit inode numbers can name"));
        }
        let fpg = u64::try_from(field(e, buf, FS_FPG)?).map_err(|_| bad("fs_fpg is negative"))?;
        if fpg < u64::from(frag) || fpg % u64::from(frag) != 0 {
            return Err(bad("fs_fpg is not a positive number of blocks"));
        }
        let sblkno = u64::try_from(field(e, buf, FS_SBLKNO)?).map_err(|_| bad("fs_sblkno is negative"))?;
        let iblkno = u64::try_from(field(e, buf, FS_IBLKNO)?).map_err(|_| bad("fs_iblkno is negative"))?;
        let dblkno = u64::try_from(field(e, buf, FS_DBLKNO)?).map_err(|_| bad("fs_dblkno is negative"))?;
        let inode_frags = u64::from(ipg) * u64::from(dinode_size) / u64::from(fsize);
        if sblkno >= iblkno || iblkno.checked_add(inode_frags).is_none_or(|end| end > dblkno) || dblkno > fpg {
            return Err(bad("cylinder group offsets (sblkno, iblkno, dblkno) out of order"));
        }
        let (old_cgoffset, old_cgmask) = if flavor.is_ufs1() {
            let off = u64::try_from(field(e, buf, FS_OLD_CGOFFSET)?).map_err(|_| bad("fs_old_cgoffset is negative"))?;
            let mask = e.u32(buf, FS_OLD_CGMASK).ok_or(Error::NotRecognized)?;
            if off >= fpg {
                return Err(bad("fs_old_cgoffset larger than a cylinder group"));
            }
            (off, mask)
        } else {
            (0, u32::MAX)
        };
        let size = if flavor.is_ufs1() && old_flags & FS_FLAGS_UPDATED == 0 {
            u64::try_from(field(e, buf, FS_OLD_SIZE)?).unwrap_or(0)
        } else {
            e.i64(buf, FS_SIZE).and_then(|s| u64::try_from(s).ok()).unwrap_or(0)
        };
        let max_size = u64::from(ncg).checked_mul(fpg).ok_or_else(|| bad("fs_ncg * fs_fpg overflows"))?;
        if size == 0 || size > max_size || size.checked_mul(u64::from(fsize)).is_none() {
            return Err(bad("fs_size is zero or larger than its cylinder groups"));
        }
        let inodefmt = if flavor.is_ufs1() { field(e, buf, FS_OLD_INODEFMT)? } else { FS_44INODEFMT };
        let old_format = inodefmt < FS_44INODEFMT;
        let maxsymlinklen = if old_format {
            0
        } else {
            u32::try_from(field(e, buf, FS_MAXSYMLINKLEN)?)
                .ok()
                .filter(|&m| m <= max_fast)
                .ok_or_else(|| bad("fs_maxsymlinklen larger than the inode's pointer area"))?
        };
        let volname = if flavor.is_ufs1() { None } else { volname(buf) };
        let id = [e.u32(buf, FS_ID).unwrap_or(0), e.u32(buf, FS_ID + 4).unwrap_or(0)];
        Ok(Self {
            endian,
            flavor,
            location,
            bsize,
            fsize,
            frag,
            bshift: bsize.trailing_zeros(),
            ncg,
            ipg,
            fpg,
            iblkno,
            old_cgoffset,
            old_cgmask,
            size,
            nindir: u64::from(nindir),
            dinode_size,
            maxsymlinklen,
            old_format,
            volname,
            id,
        })
    }

    /// Number of inodes (`fs_ncg * fs_ipg`); valid inode numbers lie below it.
    pub(crate) fn inode_count(&self) -> u64 {
        u64::from(self.ncg) * u64::from(self.ipg)
    }

    /// Byte offset of inode `ino` (already checked to be in range).
    pub(crate) fn inode_offset(&self, ino: u64) -> Option<u64> {
        let cg = ino / u64::from(self.ipg);
        let index = ino % u64::from(self.ipg);
        // cgstart(): UFS1 staggers cylinder groups by fs_old_cgoffset (fs.h).
        let stagger =
            if self.flavor.is_ufs1() { self.old_cgoffset.checked_mul(cg & !u64::from(self.old_cgmask))? } else { 0 };
        let cgimin = self.fpg.checked_mul(cg)?.checked_add(stagger)?.checked_add(self.iblkno)?;
        cgimin.checked_mul(u64::from(self.fsize))?.checked_add(index.checked_mul(u64::from(self.dinode_size))?)
    }

    /// The filesystem's size in bytes.
    pub(crate) fn size_bytes(&self) -> u64 {
        self.size.saturating_mul(u64::from(self.fsize))
    }
}

fn detect(buf: &[u8]) -> Result<(Endian, Flavor), Error> {
    for endian in [Endian::Little, Endian::Big] {
        let flavor = match endian.u32(buf, FS_MAGIC) {
            Some(FS_UFS1_MAGIC) => Flavor::Ufs1,
            Some(FS_UFS2_MAGIC) => Flavor::Ufs2,
            Some(FS_UFS2EA_MAGIC) => Flavor::Ufs2Ea,
            _ => continue,
        };
        return Ok((endian, flavor));
    }
    Err(Error::NotRecognized)
}

fn volname(buf: &[u8]) -> Option<String> {
    let raw = buf.get(FS_VOLNAME..FS_VOLNAME + MAXVOLLEN)?;
    let len = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
    let name = raw.get(..len)?;
    if name.is_empty() || !name.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        return None;
    }
    core::str::from_utf8(name).ok().map(String::from)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    /// A consistent synthetic UFS2 superblock: 8 KiB blocks, 1 KiB fragments, 2 groups.
    pub(crate) fn synthetic(endian: Endian) -> Vec<u8> {
        let mut b = vec![0u8; SBLOCKSIZE];
        let put32 = |b: &mut Vec<u8>, off: usize, v: u32| {
            let bytes = match endian {
                Endian::Little => v.to_le_bytes(),
                Endian::Big => v.to_be_bytes(),
            };
            b[off..off + 4].copy_from_slice(&bytes);
        };
        for (off, v) in [
            (FS_SBLKNO, 64),
            (FS_IBLKNO, 80),
            (FS_DBLKNO, 96),
            (FS_NCG, 2),
            (FS_BSIZE, 8192),
            (FS_FSIZE, 1024),
            (FS_FRAG, 8),
            (FS_BSHIFT, 13),
            (FS_FSHIFT, 10),
            (FS_FRAGSHIFT, 3),
            (FS_SBSIZE, 2048),
            (FS_NINDIR, 1024),
            (FS_INOPB, 32),
            (FS_IPG, 64),
            (FS_FPG, 1024),
            (FS_MAXSYMLINKLEN, 120),
            (FS_MAGIC, FS_UFS2_MAGIC),
        ] {
            put32(&mut b, off, v);
        }
        let put64 = |b: &mut Vec<u8>, off: usize, v: u64| {
            let bytes = match endian {
                Endian::Little => v.to_le_bytes(),
                Endian::Big => v.to_be_bytes(),
            };
            b[off..off + 8].copy_from_slice(&bytes);
        };
        put64(&mut b, FS_SBLOCKLOC, 65536);
        put64(&mut b, FS_SIZE, 2048);
        b
    }

    fn set32(b: &mut [u8], off: usize, v: u32) {
        b[off..off + 4].copy_from_slice(&v.to_le_bytes());
    }

    #[test]
    fn synthetic_superblock_parses_in_both_byte_orders() {
        for e in [Endian::Little, Endian::Big] {
            let sb = Superblock::parse(&synthetic(e), 65536).unwrap();
            assert_eq!((sb.endian, sb.flavor, sb.bsize, sb.fsize, sb.nindir), (e, Flavor::Ufs2, 8192, 1024, 1024));
            assert_eq!(sb.inode_count(), 128);
            // Inode 70: group 1, index 6.
            assert_eq!(sb.inode_offset(70), Some((1024 + 80) * 1024 + 6 * 256));
        }
    }

    #[test]
    fn wrong_location_or_magic_is_not_recognized() {
        let b = synthetic(Endian::Little);
        assert_eq!(Superblock::parse(&b, 8192).err(), Some(Error::NotRecognized));
        let mut no_magic = b.clone();
        set32(&mut no_magic, FS_MAGIC, 0x1234_5678);
        assert_eq!(Superblock::parse(&no_magic, 65536).err(), Some(Error::NotRecognized));
        assert_eq!(Superblock::parse(&b[..100], 65536).err(), Some(Error::NotRecognized));
    }

    #[test]
    fn impossible_geometry_is_corrupt() {
        let cases: [(usize, u32); 12] = [
            (FS_BSIZE, 3000),
            (FS_BSIZE, 131_072),
            (FS_FSIZE, 256),
            (FS_FRAG, 4),
            (FS_BSHIFT, 12),
            (FS_SBSIZE, 100_000),
            (FS_NINDIR, 2048),
            (FS_INOPB, 31),
            (FS_NCG, 0),
            (FS_IPG, 0x8000_0000),
            (FS_IBLKNO, 1020),
            (FS_MAXSYMLINKLEN, 121),
        ];
        for (off, v) in cases {
            let mut b = synthetic(Endian::Little);
            set32(&mut b, off, v);
            assert!(
                matches!(Superblock::parse(&b, 65536), Err(Error::Corrupt(_))),
                "field at {off} = {v} must be refused"
            );
        }
        let mut big = synthetic(Endian::Little);
        big[FS_SIZE..FS_SIZE + 8].copy_from_slice(&5000u64.to_le_bytes());
        assert!(matches!(Superblock::parse(&big, 65536), Err(Error::Corrupt(_))));
    }
}
