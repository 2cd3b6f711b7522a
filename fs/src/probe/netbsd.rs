//! The name a NetBSD Xen kernel gives a partition, for its `bootdev=` word — or why it cannot
//! be known. The rules are NetBSD's (docs/netbsd-bootdev.md, with the source files):
//!
//! - R1 `findroot` matches `bootdev=` by **prefix** against the device names, wedges first:
//!   a unit number ≥ 10 is taken for the unit of its first digit, so it cannot be named.
//! - R2 `xbdN`: N is the disk's position (rpvboot's `hdN`); the letter follows the disklabel,
//!   or NetBSD's made-up label without one ([`Disk::netbsd_letter`]).
//! - R3 A GPT disk (primary header and array valid, entry size 128, at most 128 entries) gets
//!   one wedge per used entry in table order; its partitions are only reachable as `dkK`.
//! - R4 Wedge units are global (lowest free over all disks), and the disks' wedges are made as
//!   each disk connects: with wedges on two disks the numbers depend on a race.
//! - R5 `dkwedge_add` gives no wedge (and takes no unit) to an entry overlapping an earlier
//!   wedge of the same disk, or whose name and GUID string are both in use already; the name
//!   is the entry's name (low byte of each UTF-16 unit) or, when empty, its GUID string.
//! - R6 Without a valid primary GPT NetBSD makes no wedges (it never reads the backup).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{Disk, MapKind, PartType, Partition};

/// NetBSD's GPT discovery reads at most this many entries (R3).
const MAX_ENTRIES: u32 = 128;
/// The only entry size both NetBSD (≤ 128 after rounding to 8) and the GPT reader (a multiple
/// of 8, ≥ 128) accept (R3).
const ENTRY_SIZE: u32 = 128;

/// `bootdev=` for the partition `p` of `disks` (`xbd0a`, `xbd1e`, `dk1`), or why NetBSD's name
/// for it cannot be known.
///
/// # Errors
/// The reason, for the console: passing a wrong name would make the kernel mount another
/// partition, so the caller passes none and shows this.
pub fn bootdev(disks: &[Disk], p: &Partition) -> Result<String, String> {
    let disk = disks.iter().find(|d| d.index == p.disk).ok_or_else(|| format!("disk hd{} was not scanned", p.disk))?;
    if p.disk >= 10 {
        return Err(format!("NetBSD would read xbd{} as xbd{} (bootdev= is matched by prefix)", p.disk, p.disk / 10));
    }
    if let Some(g) = disk.gpt.filter(|g| !g.used) {
        if gpt_makes_wedges(&g) {
            return Err(format!("xbd{} has a GPT besides its MBR: NetBSD makes wedges from the GPT", p.disk));
        }
    }
    if p.map != MapKind::Gpt {
        let letter =
            disk.netbsd_letter(p).ok_or_else(|| format!("NetBSD has no partition letter for {}", p.grub_name()))?;
        return Ok(format!("xbd{}{letter}", p.disk));
    }
    let g = disk.gpt.ok_or_else(|| String::from("GPT partition on a disk without GPT facts"))?;
    if g.used_backup {
        return Err(format!("xbd{}'s primary GPT is damaged: NetBSD makes no wedges from the backup", p.disk));
    }
    if !gpt_makes_wedges(&g) {
        return Err(format!(
            "xbd{}'s GPT ({} entries of {} bytes) is one NetBSD does not read",
            p.disk, g.num_entries, g.entry_size
        ));
    }
    if let Some(other) = disks.iter().find(|d| d.index != p.disk && d.gpt.is_some_and(|o| gpt_makes_wedges(&o))) {
        return Err(format!(
            "xbd{} and xbd{} both have GPT wedges: NetBSD numbers them in the order the disks connect",
            p.disk.min(other.index),
            p.disk.max(other.index)
        ));
    }
    let unit = wedge_unit(disk, p)?;
    if unit >= 10 {
        return Err(format!("NetBSD would read dk{unit} as dk{} (bootdev= is matched by prefix)", unit / 10));
    }
    Ok(format!("dk{unit}"))
}

/// Whether NetBSD's GPT discovery accepts a GPT with these header facts (R3, R6).
fn gpt_makes_wedges(g: &super::GptFacts) -> bool {
    !g.used_backup && g.entry_size == ENTRY_SIZE && g.num_entries <= MAX_ENTRIES
}

/// The wedge unit NetBSD gives the GPT entry `p` when its disk is the only one with wedges:
/// the number of wedges made before it (R3, R5).
fn wedge_unit(disk: &Disk, p: &Partition) -> Result<u32, String> {
    // Wedge names in use (at most 128 entries are read: a linear search is enough).
    let mut names: Vec<Vec<u8>> = Vec::new();
    let mut made: Vec<(u64, u64)> = Vec::new();
    let mut unit = 0u32;
    for q in disk.partitions.iter().filter(|q| q.map == MapKind::Gpt) {
        let PartType::Gpt { unique_guid, name, .. } = &q.ptype else { continue };
        if q.index.is_none_or(|i| i >= MAX_ENTRIES) {
            break;
        }
        let last = q.start.saturating_add(q.size).saturating_sub(1);
        let overlaps = made.iter().any(|&(s, l)| (q.start >= s && q.start <= l) || (last >= s && last <= l));
        let guid = lower(&format!("{unique_guid}"));
        let wname = if name.is_empty() { guid.clone() } else { wedge_name(name)? };
        // dkwedge_add checks the overlap first, then the name; EEXIST retries with the GUID.
        let mut take = |n: Vec<u8>| {
            !names.contains(&n) && {
                names.push(n);
                true
            }
        };
        let got = !overlaps && (take(wname) || take(guid));
        let this = q.index == p.index;
        if this {
            return if got {
                Ok(unit)
            } else {
                Err(format!("NetBSD makes no wedge for {} (it overlaps another or its name is taken)", p.grub_name()))
            };
        }
        if got {
            made.push((q.start, last));
            unit = unit.saturating_add(1);
        }
    }
    Err(format!("{} is not an entry NetBSD reads", p.grub_name()))
}

/// A GPT name as NetBSD keeps it: the low byte of each UTF-16 unit (R5). Characters outside
/// the Basic Multilingual Plane (two units) or undecodable names make the name unknowable.
fn wedge_name(name: &str) -> Result<Vec<u8>, String> {
    name.chars()
        .map(|c| match u32::from(c) {
            0xfffd => Err(String::from("a GPT name that is not valid UTF-16")),
            v if v > 0xffff => Err(String::from("a GPT name outside the Basic Multilingual Plane")),
            v => Ok((v & 0xff) as u8),
        })
        .collect()
}

/// ASCII lower case (NetBSD prints GUIDs in lower case; only equality matters here).
fn lower(s: &str) -> Vec<u8> {
    s.bytes().map(|b| b.to_ascii_lowercase()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::MemDisk;
    use crate::part::gpt::tests::write_gpt;
    use crate::part::Guid;
    use crate::probe::scan_disk;
    use alloc::boxed::Box;
    use alloc::vec;

    fn ffs() -> Guid {
        Guid::parse("49F48D5A-B10E-11DC-B99B-0019D1879648").unwrap_or(Guid::ZERO)
    }

    fn gpt_disk(index: u32, parts: &[(Guid, u64, u64, &str)]) -> Disk {
        let mut d = vec![0u8; 512 * 400];
        write_gpt(&mut d, 512, parts);
        scan_disk(index, Box::new(MemDisk::new(d, 512)))
    }

    fn name_of(disks: &[Disk], disk: usize, part: usize) -> Result<String, String> {
        bootdev(disks, &disks[disk].partitions[part])
    }

    /// R5: a name used twice: the second entry falls back to its GUID and still gets a wedge,
    /// so the numbering is unchanged.
    #[test]
    fn duplicate_names_fall_back_to_guids() {
        let d = vec![gpt_disk(0, &[(ffs(), 40, 99, "root"), (ffs(), 100, 149, "root"), (ffs(), 150, 199, "x")])];
        assert_eq!(name_of(&d, 0, 2).as_deref(), Ok("dk2"));
    }

    /// R5: an entry overlapping an earlier one gets no wedge and takes no unit.
    #[test]
    fn overlapping_entry_takes_no_unit() {
        let d = vec![gpt_disk(0, &[(ffs(), 40, 99, "a"), (ffs(), 90, 120, "b"), (ffs(), 150, 199, "c")])];
        assert_eq!(name_of(&d, 0, 2).as_deref(), Ok("dk1"));
        assert!(name_of(&d, 0, 1).unwrap_err().contains("no wedge"));
    }

    /// R4: wedges on two disks: nothing.
    #[test]
    fn two_gpt_disks_are_a_race() {
        let d = vec![gpt_disk(0, &[(ffs(), 40, 99, "a")]), gpt_disk(1, &[(ffs(), 40, 99, "b")])];
        assert!(name_of(&d, 1, 0).unwrap_err().contains("order the disks connect"));
        assert!(name_of(&d, 0, 0).is_err());
    }

    /// R1: eleven wedges; the eleventh (dk10) would be matched as dk1.
    #[test]
    fn unit_ten_is_not_nameable() {
        let parts: Vec<(Guid, u64, u64, &str)> = (0..11).map(|i| (ffs(), 40 + i * 10, 49 + i * 10, "")).collect();
        let d = vec![gpt_disk(0, &parts)];
        assert_eq!(name_of(&d, 0, 9).as_deref(), Ok("dk9"));
        assert!(name_of(&d, 0, 10).unwrap_err().contains("dk1 "));
    }

    /// R1 for disks: the eleventh disk (xbd10) would be matched as xbd1.
    #[test]
    fn disk_ten_is_not_nameable() {
        let d = vec![scan_disk(10, Box::new(MemDisk::new(vec![0u8; 512 * 64], 512)))];
        assert!(name_of(&d, 0, 0).unwrap_err().contains("as xbd1 "));
    }

    /// A hybrid MBR (a real MBR partition besides a valid GPT): rpvboot reads the MBR, NetBSD
    /// the GPT (R3), so the MBR's names are not NetBSD's.
    #[test]
    fn hybrid_mbr_is_unknown() {
        let mut img = vec![0u8; 512 * 400];
        write_gpt(&mut img, 512, &[(ffs(), 40, 99, "a")]);
        crate::part::mbr::tests::put_entry(&mut img, 0, 0, 0, 0x83, 40, 60);
        let d = vec![scan_disk(0, Box::new(MemDisk::new(img, 512)))];
        assert_eq!(d[0].map, MapKind::Mbr);
        assert!(name_of(&d, 0, 0).unwrap_err().contains("GPT besides its MBR"));
    }

    /// R6: primary damaged, backup used by rpvboot: NetBSD has no wedges, nothing passed.
    #[test]
    fn backup_gpt_is_unknown() {
        let mut img = vec![0u8; 512 * 400];
        write_gpt(&mut img, 512, &[(ffs(), 40, 99, "a")]);
        img[512 + 40] ^= 1;
        let d = vec![scan_disk(0, Box::new(MemDisk::new(img, 512)))];
        assert!(d[0].gpt.is_some_and(|g| g.used_backup));
        assert!(name_of(&d, 0, 0).unwrap_err().contains("backup"));
    }
}
