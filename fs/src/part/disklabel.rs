//! The NetBSD disklabel (`struct disklabel`, NetBSD sys/sys/disklabel.h; amd64 constants from
//! sys/arch/amd64/include/disklabel.h: LABELSECTOR 1, LABELOFFSET 0, MAXPARTITIONS 16,
//! RAW_PART 3).
//!
//! Layout (host byte order of the machine that wrote it; we accept both): d_magic (0),
//! d_type (4), d_subtype (6), d_typename\[16\] (8), d_packname\[16\] (24), d_secsize (40),
//! d_nsectors (44), d_ntracks (48), d_ncylinders (52), d_secpercyl (56), d_secperunit (60),
//! ..., d_magic2 (132), d_checksum (136, u16), d_npartitions (138, u16), d_bbsize (140),
//! d_sbsize (144), then d_partitions at 148, 16 bytes each: p_size (0), p_offset (4),
//! p_fsize (8), p_fstype (12, u8), p_frag (13, u8), p_cpg (14, u16). A label with N
//! partitions is 148 + 16·N bytes; the checksum makes the XOR of all its 16-bit words zero.
//!
//! Where it is: NetBSD's `readdisklabel` (sys/kern/subr_disk_mbr.c) reads three sectors at the
//! start of each MBR partition of type 0xA9 (so the label written at LABELSECTOR 1 is found),
//! then three sectors at the start of the disk, and takes the first 4-byte-aligned offset where
//! d_magic and d_magic2 match, d_npartitions ≤ MAXPARTITIONS and the checksum is right. We do
//! the same. `p_offset` is an ABSOLUTE disk sector in units of d_secsize, also when the label
//! lives inside an MBR partition (NetBSD never rebases it).
//!
//! Raw partitions on amd64: `d` (RAW_PART 3) is the whole disk; `c` is the NetBSD MBR
//! partition (NetBSD overwrites `c` with the 0xA9 partition's extent when it reads a label from
//! one). Neither is a filesystem of its own unless nothing else is.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::read_sectors;
use crate::block::BlockDevice;
use crate::error::{Error, Location};

/// DISKMAGIC, in d_magic and d_magic2.
pub const DISKMAGIC: u32 = 0x8256_4557;
/// MAXPARTITIONS on amd64.
pub const MAX_PARTITIONS: usize = 16;
/// RAW_PART on amd64 (`d`).
pub const RAW_PART: usize = 3;
/// The partition NetBSD/amd64 sets to the NetBSD MBR partition (`c`).
pub const MBR_PART: usize = 2;
/// Offset of d_partitions.
const PARTITIONS_OFF: usize = 148;
/// Size of one partition entry.
const PARTITION_SIZE: usize = 16;
/// How many sectors NetBSD scans for a label (SCANBLOCKS).
pub const SCAN_SECTORS: u64 = 3;

/// p_fstype values we name (FSTYPE_DEFN in disklabel.h).
pub fn fstype_name(t: u8) -> &'static str {
    match t {
        0 => "unused",
        1 => "swap",
        7 => "4.2BSD",
        8 => "MSDOS",
        9 => "4.4LFS",
        10 => "unknown",
        11 => "HPFS",
        12 => "ISO9660",
        13 => "boot",
        17 => "Linux Ext2",
        18 => "NTFS",
        19 => "RAID",
        20 => "ccd",
        22 => "Apple UFS",
        24 => "UDF",
        _ => "other",
    }
}

/// FS_UNUSED.
pub const FS_UNUSED: u8 = 0;
/// FS_SWAP.
pub const FS_SWAP: u8 = 1;
/// FS_BSDFFS.
pub const FS_BSDFFS: u8 = 7;

/// One slot of the label's partition table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelPartition {
    /// Slot number, 0 = `a`.
    pub index: u8,
    /// p_size, in d_secsize sectors.
    pub size: u32,
    /// p_offset, absolute, in d_secsize sectors.
    pub offset: u32,
    /// p_fstype.
    pub fstype: u8,
    /// p_fsize (FFS fragment size hint).
    pub fsize: u32,
    /// p_frag (fragments per block).
    pub frag: u8,
}

impl LabelPartition {
    /// The partition letter, `a`–`p`.
    pub fn letter(&self) -> char {
        letter(self.index)
    }
}

/// The letter of slot `i` (`a` for 0).
pub fn letter(i: u8) -> char {
    char::from(b'a'.saturating_add(i))
}

/// A checked disklabel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disklabel {
    /// True when written big-endian (by another port).
    pub big_endian: bool,
    /// d_secsize.
    pub secsize: u32,
    /// d_secperunit.
    pub secperunit: u32,
    /// d_typename, up to its NUL.
    pub typename: String,
    /// d_packname, up to its NUL.
    pub packname: String,
    /// Every slot up to d_npartitions, used or not.
    pub partitions: Vec<LabelPartition>,
    /// Byte offset of the label in the buffer it was found in.
    pub found_at: usize,
}

struct Reader<'a> {
    b: &'a [u8],
    be: bool,
}

impl Reader<'_> {
    fn u16(&self, off: usize) -> u16 {
        let mut a = [0u8; 2];
        if let Some(s) = self.b.get(off..off.saturating_add(2)) {
            a.copy_from_slice(s);
        }
        if self.be {
            u16::from_be_bytes(a)
        } else {
            u16::from_le_bytes(a)
        }
    }
    fn u32(&self, off: usize) -> u32 {
        let mut a = [0u8; 4];
        if let Some(s) = self.b.get(off..off.saturating_add(4)) {
            a.copy_from_slice(s);
        }
        if self.be {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }
    fn text(&self, off: usize, len: usize) -> String {
        let raw = self.b.get(off..off.saturating_add(len)).unwrap_or_default();
        let end = raw.iter().position(|&c| c == 0).unwrap_or(raw.len());
        raw.get(..end)
            .unwrap_or_default()
            .iter()
            .map(|&c| if c.is_ascii_graphic() || c == b' ' { char::from(c) } else { '?' })
            .collect()
    }
}

/// dkcksum: the XOR of the label's 16-bit words, `d_checksum` included; zero when intact.
/// (XOR commutes with byte swapping, so one byte order serves both.)
pub fn checksum(label: &[u8]) -> u16 {
    label.chunks_exact(2).fold(0u16, |acc, w| acc ^ u16::from_le_bytes([w[0], w[1]]))
}

/// Parses a label that starts at `b[0]`.
///
/// # Errors
/// [`Error::NotRecognized`] when d_magic/d_magic2 are not DISKMAGIC (either byte order);
/// corruption for too many partitions or a bad checksum.
pub fn parse(b: &[u8]) -> Result<Disklabel, Error> {
    let le = Reader { b, be: false };
    let be = if le.u32(0) == DISKMAGIC && le.u32(132) == DISKMAGIC {
        false
    } else if le.u32(0) == DISKMAGIC.swap_bytes() && le.u32(132) == DISKMAGIC.swap_bytes() {
        true
    } else {
        return Err(Error::NotRecognized);
    };
    let r = Reader { b, be };
    let npart = usize::from(r.u16(138));
    if npart > MAX_PARTITIONS {
        return Err(Error::corrupt(
            "disklabel",
            format!("d_npartitions {npart} > {MAX_PARTITIONS}"),
            Location::default(),
        ));
    }
    let len = PARTITIONS_OFF + PARTITION_SIZE * npart;
    let Some(bytes) = b.get(..len) else {
        return Err(Error::corrupt("disklabel", "label runs past the sectors read", Location::default()));
    };
    let sum = checksum(bytes);
    if sum != 0 {
        return Err(Error::corrupt("disklabel", format!("checksum off by {sum:#06x}"), Location::default()));
    }
    let partitions = (0..npart)
        .map(|i| {
            let o = PARTITIONS_OFF + PARTITION_SIZE * i;
            LabelPartition {
                index: u8::try_from(i).unwrap_or(u8::MAX),
                size: r.u32(o),
                offset: r.u32(o + 4),
                fsize: r.u32(o + 8),
                fstype: b.get(o + 12).copied().unwrap_or(0),
                frag: b.get(o + 13).copied().unwrap_or(0),
            }
        })
        .collect();
    Ok(Disklabel {
        big_endian: be,
        secsize: r.u32(40),
        secperunit: r.u32(60),
        typename: r.text(8, 16),
        packname: r.text(24, 16),
        partitions,
        found_at: 0,
    })
}

/// Searches `buf` at every 4-byte offset for a valid label, as NetBSD's `validate_label`.
///
/// # Errors
/// [`Error::NotRecognized`] when there is no magic at all; the last corruption seen when
/// there is magic but no valid label.
pub fn find(buf: &[u8]) -> Result<Disklabel, Error> {
    let mut last = Error::NotRecognized;
    let limit = buf.len().saturating_sub(PARTITIONS_OFF);
    for off in (0..=limit).step_by(4) {
        let Some(slice) = buf.get(off..) else { break };
        match parse(slice) {
            Ok(mut l) => {
                l.found_at = off;
                return Ok(l);
            }
            Err(Error::NotRecognized) => {}
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Looks for a label in the [`SCAN_SECTORS`] sectors starting at `lba` (the start of the disk
/// or of an MBR partition of type 0xA9).
///
/// # Errors
/// As [`find`], with the sector in the location; or I/O.
pub fn read(dev: &mut dyn BlockDevice, lba: u64) -> Result<Disklabel, Error> {
    let count = SCAN_SECTORS.min(dev.num_blocks().saturating_sub(lba));
    if count == 0 {
        return Err(Error::NotRecognized);
    }
    let buf = read_sectors(dev, lba, count, 3 * 65536)?;
    find(&buf).map_err(|e| match e {
        Error::Corrupt(mut c) => {
            c.location = Location::block(lba);
            Error::Corrupt(c)
        }
        other => other,
    })
}

/// Builds label bytes (for tests and the test-image writer's cross-check): `parts` are
/// (slot, size, offset, fstype), little-endian, with a correct checksum.
pub fn build(secsize: u32, secperunit: u32, npartitions: u16, parts: &[(u8, u32, u32, u8)]) -> Vec<u8> {
    let n = usize::from(npartitions).min(MAX_PARTITIONS);
    let mut b = alloc::vec![0u8; PARTITIONS_OFF + PARTITION_SIZE * n];
    let put32 = |b: &mut [u8], o: usize, v: u32| {
        if let Some(s) = b.get_mut(o..o + 4) {
            s.copy_from_slice(&v.to_le_bytes());
        }
    };
    put32(&mut b, 0, DISKMAGIC);
    put32(&mut b, 40, secsize);
    put32(&mut b, 60, secperunit);
    put32(&mut b, 132, DISKMAGIC);
    if let Some(s) = b.get_mut(138..140) {
        s.copy_from_slice(&npartitions.to_le_bytes());
    }
    for &(slot, size, offset, fstype) in parts {
        let o = PARTITIONS_OFF + PARTITION_SIZE * usize::from(slot);
        if usize::from(slot) < n {
            put32(&mut b, o, size);
            put32(&mut b, o + 4, offset);
            if let Some(t) = b.get_mut(o + 12) {
                *t = fstype;
            }
        }
    }
    let sum = checksum(&b);
    if let Some(s) = b.get_mut(136..138) {
        s.copy_from_slice(&sum.to_le_bytes());
    }
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::MemDisk;
    use alloc::vec;

    #[test]
    fn round_trip_and_search() {
        let label = build(512, 1000, 16, &[(0, 100, 64, FS_BSDFFS), (3, 1000, 0, FS_UNUSED), (4, 200, 300, FS_BSDFFS)]);
        assert_eq!(label.len(), 148 + 16 * 16);
        let mut disk = vec![0u8; 512 * 1000];
        disk[512..512 + label.len()].copy_from_slice(&label);
        let l = read(&mut MemDisk::new(disk, 512), 0).unwrap();
        assert_eq!(l.found_at, 512);
        assert_eq!(l.partitions.len(), 16);
        assert_eq!((l.partitions[4].letter(), l.partitions[4].offset, l.partitions[4].size), ('e', 300, 200));
        assert!(!l.big_endian);
    }

    #[test]
    fn big_endian_label() {
        let mut label = build(512, 1000, 8, &[(0, 100, 64, FS_BSDFFS)]);
        // Swap every field to big-endian: u32 fields and u16 fields at their offsets.
        for o in [0usize, 40, 60, 132, 148, 152] {
            label[o..o + 4].reverse();
        }
        label[138..140].reverse();
        let sum = {
            label[136] = 0;
            label[137] = 0;
            checksum(&label)
        };
        label[136..138].copy_from_slice(&sum.to_le_bytes());
        let l = parse(&label).unwrap();
        assert!(l.big_endian);
        assert_eq!(l.partitions.len(), 8);
        assert_eq!((l.partitions[0].offset, l.partitions[0].size), (64, 100));
    }

    #[test]
    fn bad_checksum_and_count() {
        let mut label = build(512, 1000, 4, &[(0, 100, 64, FS_BSDFFS)]);
        label[150] ^= 1;
        assert!(matches!(parse(&label), Err(Error::Corrupt(_))));
        let mut label = build(512, 1000, 4, &[]);
        label[138] = 17;
        assert!(matches!(parse(&label), Err(Error::Corrupt(_))));
        assert_eq!(parse(&[0u8; 512]), Err(Error::NotRecognized));
        assert_eq!(find(&[0u8; 7]), Err(Error::NotRecognized));
        // Magic at the very end of the buffer, label truncated.
        let mut buf = vec![0u8; 600];
        buf[452..456].copy_from_slice(&DISKMAGIC.to_le_bytes());
        assert!(find(&buf).is_err());
    }
}
