//! The GUID partition table (UEFI specification 2.10, §5.3).
//!
//! Header at LBA 1 (primary) and at the last LBA (backup), in device sectors of whatever size
//! the device has (512 or 4096). Header fields (little-endian): signature "EFI PART" (0),
//! revision (8), header size (12), header CRC32 (16, computed with this field zeroed over
//! `header size` bytes), my LBA (24), alternate LBA (32), first usable (40), last usable (48),
//! disk GUID (56), entry array LBA (72), entry count (80), entry size (84), entry array CRC32
//! (88). Entry: type GUID (0), unique GUID (16), first LBA (32), last LBA inclusive (40),
//! attributes (48), name in UTF-16LE (56, 36 code units).
//!
//! The primary is used when its header and its entry array both check out; otherwise the backup
//! (and the fact is noted), as the specification asks of firmware.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::{crc32, read_sectors, u32le, u64le, Guid};
use crate::block::BlockDevice;
use crate::error::{Error, Location};

/// The header signature.
pub const SIGNATURE: &[u8; 8] = b"EFI PART";
/// The largest entry array we read (the usual one is 16 KiB: 128 entries of 128 bytes).
pub const MAX_ARRAY_BYTES: u64 = 1 << 20;

/// One used GPT entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GptEntry {
    /// Position in the entry array, from 0.
    pub index: u32,
    /// The partition type.
    pub type_guid: Guid,
    /// This partition's own GUID.
    pub unique_guid: Guid,
    /// First sector.
    pub first_lba: u64,
    /// Last sector, inclusive.
    pub last_lba: u64,
    /// Attribute bits.
    pub attributes: u64,
    /// The name (UTF-16LE, up to 36 code units, NUL-terminated).
    pub name: String,
}

impl GptEntry {
    /// Length in sectors.
    pub fn size(&self) -> u64 {
        self.last_lba.saturating_sub(self.first_lba).saturating_add(1)
    }
}

/// A validated GPT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Gpt {
    /// The disk's GUID.
    pub disk_guid: Guid,
    /// Used entries, in array order.
    pub entries: Vec<GptEntry>,
    /// True when the primary header or array was bad and the backup was used.
    pub used_backup: bool,
    /// The entry size the header used declares (bytes).
    pub entry_size: u32,
    /// The number of entries the header used declares (used or not).
    pub num_entries: u32,
    /// What was tolerated or fallen back from.
    pub notes: Vec<String>,
}

/// A short name for well-known partition type GUIDs.
pub fn type_name(g: &Guid) -> &'static str {
    const NAMES: &[(&str, &str)] = &[
        ("C12A7328-F81F-11D2-BA4B-00A0C93EC93B", "EFI system"),
        ("21686148-6449-6E6F-744E-656564454649", "BIOS boot"),
        ("EBD0A0A2-B9E5-4433-87C0-68B6B72699C7", "Microsoft basic data"),
        ("0FC63DAF-8483-4772-8E79-3D69D8477DE4", "Linux filesystem"),
        ("4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709", "Linux root (x86-64)"),
        ("BC13C2FF-59E6-4262-A352-B275FD6F7172", "Linux extended boot"),
        ("0657FD6D-A4AB-43C4-84E5-0933C84B4F4F", "Linux swap"),
        ("E6D6D379-F507-44C2-A23C-238F2A3DF928", "Linux LVM"),
        ("49F48D5A-B10E-11DC-B99B-0019D1879648", "NetBSD FFS"),
        ("49F48D32-B10E-11DC-B99B-0019D1879648", "NetBSD swap"),
        ("49F48D82-B10E-11DC-B99B-0019D1879648", "NetBSD LFS"),
        ("49F48DAA-B10E-11DC-B99B-0019D1879648", "NetBSD RAIDframe"),
        ("2DB519C4-B10F-11DC-B99B-0019D1879648", "NetBSD ccd"),
        ("2DB519EC-B10F-11DC-B99B-0019D1879648", "NetBSD cgd"),
        ("516E7CB6-6ECF-11D6-8FF8-00022D09712B", "FreeBSD UFS"),
        ("516E7CB5-6ECF-11D6-8FF8-00022D09712B", "FreeBSD swap"),
    ];
    NAMES.iter().find(|(s, _)| Guid::parse(s).as_ref() == Some(g)).map_or("unknown", |(_, n)| n)
}

/// The fields of a header that passed its checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Header {
    my_lba: u64,
    alternate_lba: u64,
    first_usable: u64,
    last_usable: u64,
    disk_guid: Guid,
    entries_lba: u64,
    num_entries: u32,
    entry_size: u32,
    entries_crc: u32,
}

fn corrupt(what: impl Into<String>, lba: u64) -> Error {
    Error::corrupt("gpt", what, Location::block(lba))
}

/// Checks a header sector read from `lba` on a disk of `num_blocks` sectors.
fn parse_header(sector: &[u8], lba: u64, num_blocks: u64) -> Result<Header, Error> {
    if sector.get(..8) != Some(&SIGNATURE[..]) {
        return Err(Error::NotRecognized);
    }
    let header_size = u32le(sector, 12);
    let hs = usize::try_from(header_size).unwrap_or(usize::MAX);
    if hs < 92 || hs > sector.len() {
        return Err(corrupt(format!("header size {header_size} outside 92..={}", sector.len()), lba));
    }
    let mut copy = sector.get(..hs).unwrap_or_default().to_vec();
    if let Some(f) = copy.get_mut(16..20) {
        f.fill(0);
    }
    let stored = u32le(sector, 16);
    let computed = crc32(&copy);
    if stored != computed {
        return Err(corrupt(format!("header crc32 {stored:#010x}, computed {computed:#010x}"), lba));
    }
    let h = Header {
        my_lba: u64le(sector, 24),
        alternate_lba: u64le(sector, 32),
        first_usable: u64le(sector, 40),
        last_usable: u64le(sector, 48),
        disk_guid: Guid(sector.get(56..72).and_then(|s| s.try_into().ok()).unwrap_or([0; 16])),
        entries_lba: u64le(sector, 72),
        num_entries: u32le(sector, 80),
        entry_size: u32le(sector, 84),
        entries_crc: u32le(sector, 88),
    };
    if h.my_lba != lba {
        return Err(corrupt(format!("header says it is at lba {}, read from {lba}", h.my_lba), lba));
    }
    if h.first_usable > h.last_usable || h.last_usable >= num_blocks {
        return Err(corrupt(
            format!("usable range {}..={} not inside the disk of {num_blocks} sectors", h.first_usable, h.last_usable),
            lba,
        ));
    }
    if h.entry_size < 128 || !h.entry_size.is_multiple_of(8) || h.entry_size > 4096 {
        return Err(corrupt(format!("entry size {} not a multiple of 8 in 128..=4096", h.entry_size), lba));
    }
    let array = u64::from(h.num_entries) * u64::from(h.entry_size);
    if array > MAX_ARRAY_BYTES {
        return Err(Error::TooLarge { requested: array, limit: MAX_ARRAY_BYTES });
    }
    Ok(h)
}

/// Reads and checks the entry array a header points to.
fn read_entries(dev: &mut dyn BlockDevice, h: &Header) -> Result<Vec<GptEntry>, Error> {
    let bs = u64::from(dev.block_size());
    let array = u64::from(h.num_entries) * u64::from(h.entry_size);
    let sectors = array.div_ceil(bs.max(1)).max(1);
    let end = h.entries_lba.checked_add(sectors);
    if h.entries_lba < 2 || end.is_none_or(|e| e > dev.num_blocks()) {
        return Err(corrupt(
            format!("entry array at lba {} ({sectors} sectors) outside the disk", h.entries_lba),
            h.my_lba,
        ));
    }
    let buf = read_sectors(dev, h.entries_lba, sectors, MAX_ARRAY_BYTES.saturating_add(bs))?;
    let bytes = buf.get(..usize::try_from(array).unwrap_or(usize::MAX)).unwrap_or_default();
    let computed = crc32(bytes);
    if computed != h.entries_crc {
        return Err(corrupt(
            format!("entry array crc32 {:#010x}, computed {computed:#010x}", h.entries_crc),
            h.entries_lba,
        ));
    }
    let esz = usize::try_from(h.entry_size).unwrap_or(128);
    let mut out = Vec::new();
    for (i, e) in bytes.chunks_exact(esz).enumerate() {
        let type_guid = Guid(e.get(..16).and_then(|s| s.try_into().ok()).unwrap_or([0; 16]));
        if type_guid.is_zero() {
            continue;
        }
        let index = u32::try_from(i).unwrap_or(u32::MAX);
        let first_lba = u64le(e, 32);
        let last_lba = u64le(e, 40);
        if first_lba > last_lba || last_lba >= dev.num_blocks() {
            return Err(corrupt(
                format!("entry {index}: sectors {first_lba}..={last_lba} not inside the disk"),
                h.entries_lba,
            ));
        }
        let units = e.get(56..128).unwrap_or_default().chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]]));
        let name: String = char::decode_utf16(units.take_while(|&u| u != 0))
            .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
            .collect();
        out.push(GptEntry {
            index,
            type_guid,
            unique_guid: Guid(e.get(16..32).and_then(|s| s.try_into().ok()).unwrap_or([0; 16])),
            first_lba,
            last_lba,
            attributes: u64le(e, 48),
            name,
        });
    }
    Ok(out)
}

fn read_at(dev: &mut dyn BlockDevice, lba: u64) -> Result<(Header, Vec<GptEntry>), Error> {
    let sector = read_sectors(dev, lba, 1, 65536)?;
    let h = parse_header(&sector, lba, dev.num_blocks())?;
    let entries = read_entries(dev, &h)?;
    Ok((h, entries))
}

/// Reads only the primary GPT (LBA 1), as NetBSD's wedge discovery does.
///
/// # Errors
/// [`Error::NotRecognized`] without a signature at LBA 1; the header's or array's fault.
pub fn read_primary(dev: &mut dyn BlockDevice) -> Result<Gpt, Error> {
    if dev.num_blocks() < 3 {
        return Err(Error::NotRecognized);
    }
    let (h, entries) = read_at(dev, 1)?;
    Ok(Gpt {
        disk_guid: h.disk_guid,
        entries,
        used_backup: false,
        entry_size: h.entry_size,
        num_entries: h.num_entries,
        notes: Vec::new(),
    })
}

/// Reads the GPT, falling back to the backup header at the last sector (or where the primary
/// says it is) when the primary header or its entry array is bad.
///
/// # Errors
/// [`Error::NotRecognized`] when neither header has the signature; otherwise the primary's
/// error when both are bad.
pub fn read(dev: &mut dyn BlockDevice) -> Result<Gpt, Error> {
    let num_blocks = dev.num_blocks();
    if num_blocks < 3 {
        return Err(Error::NotRecognized);
    }
    let primary_err = match read_at(dev, 1) {
        Ok((h, entries)) => {
            return Ok(Gpt {
                disk_guid: h.disk_guid,
                entries,
                used_backup: false,
                entry_size: h.entry_size,
                num_entries: h.num_entries,
                notes: Vec::new(),
            });
        }
        Err(e) => e,
    };
    // Where can the backup be? The last sector; also the primary's alternate LBA if its header
    // alone was good (its array may be the bad part).
    let mut candidates = alloc::vec![num_blocks - 1];
    if let Ok(sector) = read_sectors(dev, 1, 1, 65536) {
        if let Ok(h) = parse_header(&sector, 1, num_blocks) {
            if h.alternate_lba != num_blocks - 1 && h.alternate_lba > 1 && h.alternate_lba < num_blocks {
                candidates.push(h.alternate_lba);
            }
        }
    }
    for lba in candidates {
        if let Ok((h, entries)) = read_at(dev, lba) {
            let note = format!("primary gpt unusable ({primary_err}): using the backup at lba {lba}");
            log::warn!("{note}");
            return Ok(Gpt {
                disk_guid: h.disk_guid,
                entries,
                used_backup: true,
                entry_size: h.entry_size,
                num_entries: h.num_entries,
                notes: alloc::vec![note],
            });
        }
    }
    Err(primary_err)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::block::MemDisk;
    use alloc::vec;

    /// Writes a GPT (primary and backup) with the given (type, first, last, name) entries.
    pub(crate) fn write_gpt(disk: &mut [u8], bs: usize, parts: &[(Guid, u64, u64, &str)]) {
        let num_blocks = (disk.len() / bs) as u64;
        let entry_size = 128usize;
        let num_entries = 128usize;
        let array_sectors = (entry_size * num_entries).div_ceil(bs) as u64;
        let mut array = vec![0u8; entry_size * num_entries];
        for (i, (t, first, last, name)) in parts.iter().enumerate() {
            let e = &mut array[i * entry_size..(i + 1) * entry_size];
            e[..16].copy_from_slice(&t.0);
            e[16..32].copy_from_slice(&[i as u8 + 1; 16]);
            e[32..40].copy_from_slice(&first.to_le_bytes());
            e[40..48].copy_from_slice(&last.to_le_bytes());
            for (j, u) in name.encode_utf16().enumerate() {
                e[56 + 2 * j..58 + 2 * j].copy_from_slice(&u.to_le_bytes());
            }
        }
        let array_crc = crc32(&array);
        let header = |my: u64, alt: u64, entries_lba: u64| {
            let mut h = vec![0u8; bs];
            h[..8].copy_from_slice(SIGNATURE);
            h[8..12].copy_from_slice(&0x0001_0000u32.to_le_bytes());
            h[12..16].copy_from_slice(&92u32.to_le_bytes());
            h[24..32].copy_from_slice(&my.to_le_bytes());
            h[32..40].copy_from_slice(&alt.to_le_bytes());
            h[40..48].copy_from_slice(&(2 + array_sectors).to_le_bytes());
            h[48..56].copy_from_slice(&(num_blocks - 2 - array_sectors).to_le_bytes());
            h[56..72].copy_from_slice(&[0xAB; 16]);
            h[72..80].copy_from_slice(&entries_lba.to_le_bytes());
            h[80..84].copy_from_slice(&(num_entries as u32).to_le_bytes());
            h[84..88].copy_from_slice(&(entry_size as u32).to_le_bytes());
            h[88..92].copy_from_slice(&array_crc.to_le_bytes());
            let c = crc32(&h[..92]);
            h[16..20].copy_from_slice(&c.to_le_bytes());
            h
        };
        let last = num_blocks - 1;
        disk[bs..2 * bs].copy_from_slice(&header(1, last, 2));
        disk[2 * bs..2 * bs + array.len()].copy_from_slice(&array);
        let backup_array = (last - array_sectors) as usize;
        disk[backup_array * bs..backup_array * bs + array.len()].copy_from_slice(&array);
        disk[last as usize * bs..].copy_from_slice(&header(last, 1, last - array_sectors));
        super::super::mbr::tests::put_entry(disk, 0, 0, 0, 0xEE, 1, (num_blocks - 1) as u32);
    }

    fn linux() -> Guid {
        Guid::parse("0FC63DAF-8483-4772-8E79-3D69D8477DE4").unwrap()
    }

    #[test]
    fn reads_primary_and_names() {
        for bs in [512usize, 4096] {
            let mut d = vec![0u8; bs * 200];
            write_gpt(&mut d, bs, &[(linux(), 40, 99, "root"), (linux(), 100, 150, "dätä")]);
            let g = read(&mut MemDisk::new(d, bs as u32)).unwrap();
            assert!(!g.used_backup);
            assert_eq!(g.entries.len(), 2);
            assert_eq!((g.entries[1].index, g.entries[1].first_lba, g.entries[1].size()), (1, 100, 51));
            assert_eq!(g.entries[1].name, "dätä");
            assert_eq!(type_name(&g.entries[0].type_guid), "Linux filesystem");
        }
    }

    #[test]
    fn backup_used_when_primary_header_or_array_is_bad() {
        let mut d = vec![0u8; 512 * 200];
        write_gpt(&mut d, 512, &[(linux(), 40, 99, "root")]);
        let mut bad_header = d.clone();
        bad_header[512 + 40] ^= 1;
        let g = read(&mut MemDisk::new(bad_header, 512)).unwrap();
        assert!(g.used_backup);
        assert_eq!(g.entries.len(), 1);
        let mut bad_array = d.clone();
        bad_array[1024 + 33] ^= 1;
        let g = read(&mut MemDisk::new(bad_array.clone(), 512)).unwrap();
        assert!(g.used_backup);
        assert_eq!(g.entries[0].first_lba, 40);
        // Both bad: the primary's error.
        let n = bad_array.len();
        bad_array[n - 512 + 40] ^= 1;
        assert!(matches!(read(&mut MemDisk::new(bad_array, 512)), Err(Error::Corrupt(_))));
    }

    #[test]
    fn no_signature_is_not_recognized() {
        assert_eq!(read(&mut MemDisk::new(vec![0u8; 512 * 100], 512)), Err(Error::NotRecognized));
    }

    #[test]
    fn entry_outside_disk_is_corrupt() {
        let mut d = vec![0u8; 512 * 200];
        write_gpt(&mut d, 512, &[(linux(), 40, 1000, "x")]);
        assert!(matches!(read(&mut MemDisk::new(d, 512)), Err(Error::Corrupt(_))));
    }
}
