//! The PC master boot record: four primary entries at byte 446 of sector 0, signature 0x55AA at
//! byte 510, and a chain of extended boot records (EBRs) for logical partitions.
//!
//! Layout of one 16-byte entry: status (0x00 or 0x80), CHS start (3, ignored), type, CHS end
//! (3, ignored), start LBA (u32 le), sector count (u32 le). LBAs are in the device's logical
//! sectors (4096 on a 4Kn disk). In an EBR, entry 0 is the logical partition (start relative to
//! that EBR) and entry 1 links to the next EBR (start relative to the first EBR, i.e. the
//! extended partition's start). Logical partitions are numbered 4, 5, ... in chain order, as
//! GRUB legacy and Linux number them.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{read_sectors, u32le};
use crate::block::BlockDevice;
use crate::error::Error;

/// MBR type of a GPT protective partition.
pub const TYPE_GPT_PROTECTIVE: u8 = 0xEE;
/// MBR type of a NetBSD partition (holds a disklabel).
pub const TYPE_NETBSD: u8 = 0xA9;
/// How many logical partitions the EBR chain walk accepts before calling it corrupt.
pub const MAX_LOGICAL: usize = 128;

/// True for the extended-partition container types (CHS 0x05, LBA 0x0F, Linux 0x85).
pub fn is_extended(ptype: u8) -> bool {
    matches!(ptype, 0x05 | 0x0F | 0x85)
}

/// A short name for well-known MBR partition types.
pub fn type_name(ptype: u8) -> &'static str {
    match ptype {
        0x01 => "FAT12",
        0x04 | 0x06 | 0x0E => "FAT16",
        0x0B | 0x0C => "FAT32",
        0x05 | 0x0F | 0x85 => "extended",
        0x07 => "NTFS/exFAT",
        0x82 => "Linux swap",
        0x83 => "Linux",
        0x8E => "Linux LVM",
        0xA5 => "FreeBSD",
        0xA6 => "OpenBSD",
        0xA9 => "NetBSD",
        0xEE => "GPT protective",
        0xEF => "EFI system",
        0xFD => "Linux RAID",
        _ => "unknown",
    }
}

/// One partition of the MBR or the EBR chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MbrEntry {
    /// 0–3: primary slot; 4 and up: logical partitions in chain order.
    pub index: u32,
    /// Status byte 0x80.
    pub bootable: bool,
    /// The partition type byte.
    pub ptype: u8,
    /// First sector, absolute (device sectors).
    pub start: u64,
    /// Length in sectors.
    pub size: u64,
}

/// A parsed MBR with its logical partitions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mbr {
    /// Used primary entries (extended containers included), then logical partitions.
    pub entries: Vec<MbrEntry>,
    /// The 32-bit disk signature at byte 440.
    pub disk_signature: u32,
    /// Things tolerated while reading (a broken EBR chain, entries past the end of the disk).
    pub notes: Vec<String>,
}

impl Mbr {
    /// True when the MBR only protects a GPT (a type 0xEE entry is present).
    pub fn is_protective(&self) -> bool {
        self.entries.iter().any(|e| e.index < 4 && e.ptype == TYPE_GPT_PROTECTIVE)
    }
}

/// The raw fields of one 16-byte entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RawEntry {
    status: u8,
    ptype: u8,
    start: u32,
    size: u32,
}

fn raw_entries(sector: &[u8]) -> [RawEntry; 4] {
    let mut out = [RawEntry { status: 0, ptype: 0, start: 0, size: 0 }; 4];
    for (i, e) in out.iter_mut().enumerate() {
        let off = 446 + 16 * i;
        *e = RawEntry {
            status: sector.get(off).copied().unwrap_or(0),
            ptype: sector.get(off + 4).copied().unwrap_or(0),
            start: u32le(sector, off + 8),
            size: u32le(sector, off + 12),
        };
    }
    out
}

/// True when `sector` ends in the 0x55AA boot signature.
pub fn has_signature(sector: &[u8]) -> bool {
    sector.get(510..512) == Some(&[0x55, 0xAA][..])
}

/// True when sector 0 is a FAT or NTFS boot sector (its boot code would parse as nonsense
/// entries); GRUB 2's msdos map makes the same check.
pub fn looks_like_vbr(sector: &[u8]) -> bool {
    let at = |off: usize, s: &[u8]| sector.get(off..off + s.len()) == Some(s);
    at(3, b"NTFS    ") || at(0x36, b"FAT12") || at(0x36, b"FAT16") || at(0x52, b"FAT32")
}

/// Parses the primary table of sector 0.
///
/// # Errors
/// [`Error::NotRecognized`] when there is no 0x55AA signature, the sector is a filesystem boot
/// sector, a status byte is neither 0x00 nor 0x80, or no entry is used: the disk then has no
/// MBR, and the caller looks for something else.
pub fn parse_primary(sector: &[u8], num_blocks: u64) -> Result<Mbr, Error> {
    if !has_signature(sector) || looks_like_vbr(sector) {
        return Err(Error::NotRecognized);
    }
    let raw = raw_entries(sector);
    if raw.iter().any(|e| e.status != 0 && e.status != 0x80) {
        return Err(Error::NotRecognized);
    }
    let mut mbr = Mbr { disk_signature: u32le(sector, 440), ..Mbr::default() };
    for (i, e) in raw.iter().enumerate() {
        if e.ptype == 0 || e.size == 0 {
            continue;
        }
        if let Some(entry) = checked_entry(&mut mbr.notes, i as u32, e, 0, num_blocks) {
            mbr.entries.push(entry);
        }
    }
    if mbr.entries.is_empty() {
        return Err(Error::NotRecognized);
    }
    Ok(mbr)
}

/// Builds an entry with an absolute start, dropping one that starts past the disk and clipping
/// one that runs past its end (noted either way).
fn checked_entry(notes: &mut Vec<String>, index: u32, e: &RawEntry, base: u64, num_blocks: u64) -> Option<MbrEntry> {
    let start = base.checked_add(u64::from(e.start))?;
    if e.start == 0 {
        // It would overlap its own partition table.
        notes.push(format!("mbr partition {index} (type {:#04x}) starts at relative sector 0: ignored", e.ptype));
        return None;
    }
    if start >= num_blocks {
        notes.push(format!(
            "mbr partition {index} (type {:#04x}) starts at sector {start}, outside the disk of {num_blocks} sectors: ignored",
            e.ptype
        ));
        return None;
    }
    let mut size = u64::from(e.size);
    if start.saturating_add(size) > num_blocks {
        size = num_blocks - start;
        notes.push(format!("mbr partition {index} runs past the end of the disk: clipped to {size} sectors"));
    }
    Some(MbrEntry { index, bootable: e.status == 0x80, ptype: e.ptype, start, size })
}

/// Reads the MBR and walks the EBR chain of its first extended partition.
///
/// The walk stops at [`MAX_LOGICAL`] partitions, at a link pointing back to an EBR already
/// seen, at a link outside the extended partition and at a sector without signature; what was
/// read until then is kept and the problem noted.
///
/// # Errors
/// [`Error::NotRecognized`] (see [`parse_primary`]) or an I/O error on sector 0.
pub fn read(dev: &mut dyn BlockDevice) -> Result<Mbr, Error> {
    let num_blocks = dev.num_blocks();
    let sector0 = read_sectors(dev, 0, 1, 65536)?;
    let mut mbr = parse_primary(&sector0, num_blocks)?;
    let ext = mbr.entries.iter().find(|e| is_extended(e.ptype)).map(|e| (e.start, e.size));
    if let Some((ext_start, ext_size)) = ext {
        walk_ebr_chain(dev, &mut mbr, ext_start, ext_size);
    }
    Ok(mbr)
}

fn walk_ebr_chain(dev: &mut dyn BlockDevice, mbr: &mut Mbr, ext_start: u64, ext_size: u64) {
    let num_blocks = dev.num_blocks();
    let ext_end = ext_start.saturating_add(ext_size).min(num_blocks);
    let mut seen: Vec<u64> = Vec::new();
    let mut ebr = ext_start;
    let mut next_index = 4u32;
    // One iteration per EBR; MAX_LOGICAL + 1 bounds the walk even on a chain of empty EBRs.
    for _ in 0..=MAX_LOGICAL {
        if seen.contains(&ebr) {
            mbr.notes.push(format!("ebr chain loops back to sector {ebr}: stopped"));
            return;
        }
        seen.push(ebr);
        let sector = match read_sectors(dev, ebr, 1, 65536) {
            Ok(s) => s,
            Err(e) => {
                mbr.notes.push(format!("ebr at sector {ebr} unreadable ({e}): chain stopped"));
                return;
            }
        };
        if !has_signature(&sector) {
            mbr.notes.push(format!("ebr at sector {ebr} has no 0x55aa signature: chain stopped"));
            return;
        }
        let raw = raw_entries(&sector);
        let data = raw[0];
        if data.ptype != 0 && data.size != 0 && !is_extended(data.ptype) {
            let mut notes = Vec::new();
            if let Some(mut e) = checked_entry(&mut notes, next_index, &data, ebr, num_blocks) {
                if e.start.saturating_add(e.size) > ext_end {
                    notes.push(format!("logical partition {next_index} runs past its extended partition"));
                }
                e.index = next_index;
                mbr.entries.push(e);
                next_index = next_index.saturating_add(1);
            }
            mbr.notes.append(&mut notes);
        }
        let link = raw[1];
        if !is_extended(link.ptype) || link.start == 0 {
            return;
        }
        let Some(next) = ext_start.checked_add(u64::from(link.start)) else {
            mbr.notes.push(format!("ebr link at sector {ebr} overflows: chain stopped"));
            return;
        };
        if next >= ext_end {
            mbr.notes.push(format!(
                "ebr link at sector {ebr} points outside the extended partition ({next}): chain stopped"
            ));
            return;
        }
        ebr = next;
    }
    mbr.notes.push(format!("more than {MAX_LOGICAL} logical partitions: chain stopped"));
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::block::MemDisk;
    use alloc::vec;

    /// Writes entry `i` of the table in the sector at `sector_off`.
    pub(crate) fn put_entry(
        disk: &mut [u8],
        sector_off: usize,
        i: usize,
        status: u8,
        ptype: u8,
        start: u32,
        size: u32,
    ) {
        let off = sector_off + 446 + 16 * i;
        disk[off] = status;
        disk[off + 4] = ptype;
        disk[off + 8..off + 12].copy_from_slice(&start.to_le_bytes());
        disk[off + 12..off + 16].copy_from_slice(&size.to_le_bytes());
        disk[sector_off + 510] = 0x55;
        disk[sector_off + 511] = 0xAA;
    }

    fn disk_with_logicals() -> Vec<u8> {
        let mut d = vec![0u8; 512 * 4096];
        put_entry(&mut d, 0, 0, 0x80, 0x0C, 2048, 1000);
        put_entry(&mut d, 0, 1, 0, 0x05, 3072, 1024);
        // EBR 1 at 3072: logical at +64, link to EBR at ext+512.
        put_entry(&mut d, 3072 * 512, 0, 0, 0x83, 64, 100);
        put_entry(&mut d, 3072 * 512, 1, 0, 0x05, 512, 512);
        // EBR 2 at 3584: logical at +64, end of chain.
        put_entry(&mut d, 3584 * 512, 0, 0, 0x82, 64, 200);
        d
    }

    #[test]
    fn primaries_and_logicals() {
        let mut disk = MemDisk::new(disk_with_logicals(), 512);
        let mbr = read(&mut disk).unwrap();
        let got: Vec<_> = mbr.entries.iter().map(|e| (e.index, e.ptype, e.start, e.size)).collect();
        assert_eq!(got, vec![(0, 0x0C, 2048, 1000), (1, 0x05, 3072, 1024), (4, 0x83, 3136, 100), (5, 0x82, 3648, 200)]);
        assert!(mbr.entries[0].bootable);
        assert!(mbr.notes.is_empty(), "{:?}", mbr.notes);
    }

    #[test]
    fn ebr_loop_is_detected() {
        let mut d = disk_with_logicals();
        // EBR 2 links back to EBR 1 (relative 0 is "end", so point at +0 via the first EBR).
        put_entry(&mut d, 3584 * 512, 1, 0, 0x05, 512, 512);
        let mut disk = MemDisk::new(d, 512);
        let mbr = read(&mut disk).unwrap();
        assert_eq!(mbr.entries.len(), 4);
        assert!(mbr.notes.iter().any(|n| n.contains("loops")), "{:?}", mbr.notes);
    }

    #[test]
    fn no_signature_or_bad_status_is_not_an_mbr() {
        let mut d = vec![0u8; 512 * 8];
        assert_eq!(read(&mut MemDisk::new(d.clone(), 512)), Err(Error::NotRecognized));
        put_entry(&mut d, 0, 0, 0x12, 0x83, 1, 4);
        assert_eq!(read(&mut MemDisk::new(d.clone(), 512)), Err(Error::NotRecognized));
        put_entry(&mut d, 0, 0, 0x00, 0x00, 0, 0);
        assert_eq!(read(&mut MemDisk::new(d, 512)), Err(Error::NotRecognized));
    }

    #[test]
    fn entries_outside_the_disk_are_dropped_or_clipped() {
        let mut d = vec![0u8; 512 * 100];
        put_entry(&mut d, 0, 0, 0, 0x83, 10, 1000);
        put_entry(&mut d, 0, 1, 0, 0x83, 5000, 10);
        let mbr = read(&mut MemDisk::new(d, 512)).unwrap();
        assert_eq!(mbr.entries.len(), 1);
        assert_eq!(mbr.entries[0].size, 90);
        assert_eq!(mbr.notes.len(), 2);
    }

    #[test]
    fn fat_boot_sector_is_not_an_mbr() {
        let mut d = vec![0u8; 512 * 8];
        d[0x52..0x57].copy_from_slice(b"FAT32");
        put_entry(&mut d, 0, 0, 0, 0x83, 1, 4);
        assert_eq!(read(&mut MemDisk::new(d, 512)), Err(Error::NotRecognized));
    }

    #[test]
    fn protective() {
        let mut d = vec![0u8; 512 * 8];
        put_entry(&mut d, 0, 0, 0, 0xEE, 1, 7);
        assert!(read(&mut MemDisk::new(d, 512)).unwrap().is_protective());
    }
}
