//! Discovery: the partitions of each disk, the filesystem on each, GRUB-legacy names and
//! `(device)/path` resolution. The PV loader runs this over blkfront disks and
//! `rpvboot-inspect` over image files: same code, same answers.
//!
//! Per disk ([`scan_disk`]), in this order:
//! 1. sector 0 holds an MBR: a type 0xEE entry means GPT (backup header used when the primary
//!    is bad); otherwise the primaries, the logicals of the first extended partition, and for
//!    each NetBSD (0xA9) partition the disklabel found in its first three sectors;
//! 2. no MBR: a GPT header at LBA 1, then a disklabel in the first three sectors of the disk;
//! 3. nothing: the whole disk is one partition, probed for a filesystem directly.
//!
//! Discovery order (what a plain `/boot/netbsd` searches, see [`resolve`]) is the listing
//! order: MBR slots 0–3 (each NetBSD slot followed by its label's partitions), logicals, then
//! a bare-disk label; GPT entries in array order. Extended containers, NetBSD slots that hold a
//! label and the raw label partitions `c`/`d` are not searched, unless a label has nothing but
//! raw partitions. Naming is documented in [`devname`].

mod devname;
pub mod netbsd;

pub use devname::{parse_path, DeviceSpec};

use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;

use crate::block::{check_request, BlockDevice, Lba};
use crate::error::{Error, IoError};
use crate::part::{disklabel, gpt, mbr, Guid};
use crate::vfs::{Filesystem, Metadata};

/// One disk shared by every partition (and open filesystem) on it.
pub type SharedDisk = Rc<RefCell<Box<dyn BlockDevice>>>;

/// A [`SharedDisk`] that can sit in `Debug` structs.
#[derive(Clone)]
struct Handle(SharedDisk);

impl core::fmt::Debug for Handle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SharedDisk")
    }
}

/// A window `[start, start + len)` of a shared disk, itself a [`BlockDevice`].
#[derive(Clone)]
pub struct PartitionDevice {
    disk: SharedDisk,
    start: u64,
    len: u64,
    block_size: u32,
}

impl core::fmt::Debug for PartitionDevice {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PartitionDevice").field("start", &self.start).field("len", &self.len).finish()
    }
}

impl PartitionDevice {
    /// A window of `len` sectors at `start`; clipped to the disk.
    pub fn new(disk: SharedDisk, start: u64, len: u64) -> Self {
        let (bs, total) = disk.try_borrow().map_or((512, 0), |d| (d.block_size(), d.num_blocks()));
        let start = start.min(total);
        let len = len.min(total - start);
        Self { disk, start, len, block_size: bs }
    }
}

impl BlockDevice for PartitionDevice {
    fn block_size(&self) -> u32 {
        self.block_size
    }
    fn num_blocks(&self) -> u64 {
        self.len
    }
    fn read_blocks(&mut self, lba: Lba, buf: &mut [u8]) -> Result<(), IoError> {
        check_request(self.block_size, self.len, lba, buf.len())?;
        let abs = self.start.checked_add(lba.0).ok_or(IoError::OutOfRange)?;
        self.disk.try_borrow_mut().map_err(|_| IoError::Device)?.read_blocks(Lba(abs), buf)
    }
    fn read_blocks_vectored(&mut self, reqs: &mut [(Lba, &mut [u8])]) -> Result<(), IoError> {
        let mut abs = Vec::with_capacity(reqs.len());
        for (lba, buf) in reqs.iter_mut() {
            check_request(self.block_size, self.len, *lba, buf.len())?;
            abs.push((Lba(self.start.checked_add(lba.0).ok_or(IoError::OutOfRange)?), &mut **buf));
        }
        self.disk.try_borrow_mut().map_err(|_| IoError::Device)?.read_blocks_vectored(&mut abs)
    }
    fn write_refusal(&self) -> Option<&'static str> {
        self.disk.try_borrow().map_or(Some("the disk is busy"), |d| d.write_refusal())
    }
    fn write_blocks(&mut self, lba: Lba, buf: &[u8]) -> Result<(), IoError> {
        check_request(self.block_size, self.len, lba, buf.len())?;
        let abs = self.start.checked_add(lba.0).ok_or(IoError::OutOfRange)?;
        self.disk.try_borrow_mut().map_err(|_| IoError::Device)?.write_blocks(Lba(abs), buf)
    }
    fn flush(&mut self) -> Result<(), IoError> {
        self.disk.try_borrow_mut().map_err(|_| IoError::Device)?.flush()
    }
}

/// Which map described a partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapKind {
    /// No map: the whole disk.
    None,
    /// MBR primary or logical.
    Mbr,
    /// GPT entry.
    Gpt,
    /// NetBSD disklabel (on the bare disk or inside an MBR partition).
    Disklabel,
}

impl MapKind {
    /// "none", "mbr", "gpt", "disklabel".
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Mbr => "mbr",
            Self::Gpt => "gpt",
            Self::Disklabel => "disklabel",
        }
    }
}

/// The partition's type as its map records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartType {
    /// The whole disk, no map.
    Whole,
    /// MBR type byte.
    Mbr(u8),
    /// GPT type and unique GUIDs and name.
    Gpt {
        /// Partition type.
        type_guid: Guid,
        /// This partition's GUID.
        unique_guid: Guid,
        /// Its name.
        name: String,
    },
    /// Disklabel p_fstype.
    Disklabel(u8),
}

impl core::fmt::Display for PartType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Whole => f.write_str("whole disk"),
            Self::Mbr(t) => write!(f, "{t:#04x} {}", mbr::type_name(*t)),
            Self::Gpt { type_guid, name, .. } => {
                write!(f, "{type_guid} {}", gpt::type_name(type_guid))?;
                if !name.is_empty() {
                    write!(f, " \"{name}\"")?;
                }
                Ok(())
            }
            Self::Disklabel(t) => f.write_str(disklabel::fstype_name(*t)),
        }
    }
}

/// What a partition is for discovery.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// May hold a filesystem: searched by plain paths.
    Data,
    /// An extended partition or a NetBSD slot whose label lists the real partitions.
    Container,
    /// A disklabel raw partition (`c`: the NetBSD slot, `d`: the whole disk).
    Raw,
}

/// One partition of one disk.
#[derive(Clone, Debug)]
pub struct Partition {
    /// The disk's number (`hdN`).
    pub disk: u32,
    /// The map that describes it.
    pub map: MapKind,
    /// MBR slot/logical number or GPT index; for a label partition, the MBR slot holding it.
    pub index: Option<u32>,
    /// Disklabel letter.
    pub letter: Option<char>,
    /// First sector (device sectors).
    pub start: u64,
    /// Length in sectors.
    pub size: u64,
    /// Type from the map.
    pub ptype: PartType,
    /// Whether discovery searches it.
    pub role: Role,
    handle: Handle,
}

impl Partition {
    /// Its GRUB-legacy device.
    pub fn spec(&self) -> DeviceSpec {
        DeviceSpec { disk: self.disk, part: self.index, letter: self.letter }
    }
    /// Its GRUB-legacy name, e.g. `(hd0,0,a)`.
    pub fn grub_name(&self) -> String {
        format!("{}", self.spec())
    }
    /// A block device reading this partition.
    pub fn device(&self) -> PartitionDevice {
        PartitionDevice::new(Rc::clone(&self.handle.0), self.start, self.size)
    }
}

/// A scanned disk.
#[derive(Clone, Debug)]
pub struct Disk {
    /// Its number (`hdN`).
    pub index: u32,
    /// The partition map found ([`MapKind::None`] for a bare filesystem).
    pub map: MapKind,
    /// Sector size.
    pub block_size: u32,
    /// Size in sectors.
    pub num_blocks: u64,
    /// Partitions in discovery order.
    pub partitions: Vec<Partition>,
    /// What was tolerated (bad primary GPT, broken EBR chain, label partitions outside the
    /// disk, ...), for logs and `rpvboot-inspect probe`.
    pub notes: Vec<String>,
    /// The GPT header facts NetBSD's wedge discovery depends on, when a GPT header is at
    /// LBA 1 (also when the partitions were taken from the MBR instead).
    pub gpt: Option<GptFacts>,
    handle: Handle,
}

/// A GPT as NetBSD's wedge discovery would see it (see [`netbsd`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GptFacts {
    /// The partitions were taken from this GPT (false: a GPT header is at LBA 1 but the MBR,
    /// not protective, was used).
    pub used: bool,
    /// The primary header or array was bad and the backup was used.
    pub used_backup: bool,
    /// Entry size declared by the header used.
    pub entry_size: u32,
    /// Entry count declared by the header used.
    pub num_entries: u32,
}

impl Disk {
    /// The whole disk as a partition (`(hdN)`).
    pub fn whole(&self) -> Partition {
        Partition {
            disk: self.index,
            map: MapKind::None,
            index: None,
            letter: None,
            start: 0,
            size: self.num_blocks,
            ptype: PartType::Whole,
            role: Role::Data,
            handle: self.handle.clone(),
        }
    }

    /// The partition a device name means on this disk.
    ///
    /// `(hdN,L)` is the first partition with letter L (bare-disk label or any NetBSD slot).
    ///
    /// # Errors
    /// [`Error::NotFound`] when there is no such partition.
    pub fn find(&self, spec: &DeviceSpec) -> Result<Partition, Error> {
        if spec.part.is_none() && spec.letter.is_none() {
            return Ok(self.whole());
        }
        self.partitions
            .iter()
            .find(|p| p.letter == spec.letter && (spec.part.is_none() || p.index == spec.part))
            .cloned()
            .ok_or(Error::NotFound)
    }

    /// The letter NetBSD's kernel gives `p` on this disk (for `bootdev=xbdN<letter>`), after
    /// `readdisklabel` in NetBSD sys/kern/subr_disk_mbr.c: the first disklabel found (NetBSD
    /// slots in MBR order, then the start of the disk) names its own partitions; without one,
    /// MBR primaries become `e`–`h` (counting used non-extended entries) and logicals `i`–`p`;
    /// a disk with neither is `a`. `None` for GPT disks (NetBSD names those `dkN` wedges), for
    /// partitions of a second label and for extended containers.
    pub fn netbsd_letter(&self, p: &Partition) -> Option<char> {
        if self.map == MapKind::Gpt || p.disk != self.index {
            return None;
        }
        if let Some(first) = self.partitions.iter().find(|q| q.map == MapKind::Disklabel) {
            return if p.map == MapKind::Disklabel && p.index == first.index { p.letter } else { None };
        }
        let letter = |slot: usize| u8::try_from(slot).ok().filter(|&s| s < 16).map(|s| char::from(b'a' + s));
        match p.map {
            MapKind::None => Some('a'),
            MapKind::Mbr => {
                let data_mbr = |q: &&Partition| {
                    q.map == MapKind::Mbr && !matches!(q.ptype, PartType::Mbr(t) if mbr::is_extended(t))
                };
                let pos = |pred: &dyn Fn(&Partition) -> bool| {
                    self.partitions.iter().filter(data_mbr).filter(|q| pred(q)).position(|q| q.index == p.index)
                };
                if !data_mbr(&p) {
                    return None;
                }
                if p.index.is_some_and(|i| i < 4) {
                    pos(&|q| q.index.is_some_and(|i| i < 4)).and_then(|j| letter(4 + j))
                } else {
                    pos(&|q| q.index.is_some_and(|i| i >= 4)).and_then(|k| letter(8 + k))
                }
            }
            _ => None,
        }
    }

    /// Partitions searched by plain paths, in order.
    pub fn candidates(&self) -> impl Iterator<Item = &Partition> {
        self.partitions.iter().filter(|p| p.role == Role::Data)
    }
}

impl IntoIterator for Disk {
    type Item = Partition;
    type IntoIter = alloc::vec::IntoIter<Partition>;
    fn into_iter(self) -> Self::IntoIter {
        self.partitions.into_iter()
    }
}

impl<'a> IntoIterator for &'a Disk {
    type Item = &'a Partition;
    type IntoIter = core::slice::Iter<'a, Partition>;
    fn into_iter(self) -> Self::IntoIter {
        self.partitions.iter()
    }
}

/// Reads the partition maps of disk number `index`. Never fails: what cannot be read becomes a
/// note, and a disk with no usable map is one whole-disk partition.
pub fn scan_disk(index: u32, dev: Box<dyn BlockDevice>) -> Disk {
    let block_size = dev.block_size();
    let num_blocks = dev.num_blocks();
    let handle: SharedDisk = Rc::new(RefCell::new(dev));
    let mut disk = Disk {
        index,
        map: MapKind::None,
        block_size,
        num_blocks,
        partitions: Vec::new(),
        notes: Vec::new(),
        gpt: None,
        handle: Handle(Rc::clone(&handle)),
    };
    let Ok(mut dev) = handle.try_borrow_mut() else {
        return disk;
    };
    let dev: &mut dyn BlockDevice = &mut **dev;
    let new = |map, idx, letter, start, size, ptype, role| Partition {
        disk: index,
        map,
        index: idx,
        letter,
        start,
        size,
        ptype,
        role,
        handle: Handle(Rc::clone(&handle)),
    };

    let mbr_result = mbr::read(dev);
    let try_gpt = match &mbr_result {
        Ok(m) => m.is_protective(),
        Err(_) => true,
    };
    if try_gpt {
        match gpt::read(dev) {
            Ok(g) => {
                disk.map = MapKind::Gpt;
                disk.gpt = Some(GptFacts {
                    used: true,
                    used_backup: g.used_backup,
                    entry_size: g.entry_size,
                    num_entries: g.num_entries,
                });
                disk.notes.extend(g.notes);
                for e in g.entries {
                    let size = e.size();
                    let ptype = PartType::Gpt { type_guid: e.type_guid, unique_guid: e.unique_guid, name: e.name };
                    disk.partitions.push(new(MapKind::Gpt, Some(e.index), None, e.first_lba, size, ptype, Role::Data));
                }
                return disk;
            }
            Err(Error::NotRecognized) => {
                if mbr_result.is_ok() {
                    disk.notes.push(String::from("protective mbr but no gpt header"));
                }
            }
            Err(e) => disk.notes.push(format!("gpt unusable: {e}")),
        }
    }
    if !try_gpt {
        // A hybrid MBR: rpvboot reads the MBR, NetBSD's wedge discovery reads only the GPT.
        if let Ok(g) = gpt::read_primary(dev) {
            disk.notes.push(String::from("a GPT besides a non-protective MBR: the MBR is used"));
            disk.gpt = Some(GptFacts {
                used: false,
                used_backup: g.used_backup,
                entry_size: g.entry_size,
                num_entries: g.num_entries,
            });
        }
    }
    let mut label_found = false;
    match mbr_result {
        Ok(m) => {
            disk.map = MapKind::Mbr;
            disk.notes.extend(m.notes);
            for e in m.entries.iter().filter(|e| e.ptype != mbr::TYPE_GPT_PROTECTIVE) {
                let mut role = if mbr::is_extended(e.ptype) { Role::Container } else { Role::Data };
                let slot = disk.partitions.len();
                disk.partitions.push(new(
                    MapKind::Mbr,
                    Some(e.index),
                    None,
                    e.start,
                    e.size,
                    PartType::Mbr(e.ptype),
                    role,
                ));
                if e.ptype == mbr::TYPE_NETBSD {
                    let found = add_label(&mut disk, dev, &new, e.start, Some((e.index, e.start, e.size)));
                    if found {
                        label_found = true;
                        role = Role::Container;
                        if let Some(p) = disk.partitions.get_mut(slot) {
                            p.role = role;
                        }
                    }
                }
            }
        }
        Err(Error::NotRecognized) => {}
        Err(e) => disk.notes.push(format!("sector 0 unreadable: {e}")),
    }
    if !label_found && add_label(&mut disk, dev, &new, 0, None) && disk.map == MapKind::None {
        disk.map = MapKind::Disklabel;
    }
    if disk.partitions.is_empty() {
        disk.map = MapKind::None;
        disk.partitions.push(new(MapKind::None, None, None, 0, num_blocks, PartType::Whole, Role::Data));
    }
    disk
}

type NewPart<'a> = dyn Fn(MapKind, Option<u32>, Option<char>, u64, u64, PartType, Role) -> Partition + 'a;

/// Looks for a disklabel at `lba` and adds its partitions. `slot` is the NetBSD MBR partition
/// holding it (index, start, size), if any. Returns whether a label was found.
fn add_label(
    disk: &mut Disk,
    dev: &mut dyn BlockDevice,
    new: &NewPart<'_>,
    lba: u64,
    slot: Option<(u32, u64, u64)>,
) -> bool {
    let label = match disklabel::read(dev, lba) {
        Ok(l) => l,
        Err(Error::NotRecognized) => return false,
        Err(e) => {
            disk.notes.push(format!("disklabel at sector {lba}: {e}"));
            return false;
        }
    };
    let bs = u64::from(disk.block_size).max(1);
    let secsize = if label.secsize == 0 { bs } else { u64::from(label.secsize) };
    let where_ = slot.map_or(String::from("the disk"), |(i, _, _)| format!("mbr partition {i}"));
    let mut added: Vec<Partition> = Vec::new();
    for p in &label.partitions {
        if p.size == 0 {
            continue;
        }
        let (Some(start_b), Some(size_b)) =
            (u64::from(p.offset).checked_mul(secsize), u64::from(p.size).checked_mul(secsize))
        else {
            continue;
        };
        if !start_b.is_multiple_of(bs) || !size_b.is_multiple_of(bs) {
            disk.notes.push(format!(
                "disklabel partition {} in {where_}: not aligned to the {bs}-byte sector: ignored",
                p.letter()
            ));
            continue;
        }
        let (start, mut size) = (start_b / bs, size_b / bs);
        if start >= disk.num_blocks {
            disk.notes.push(format!(
                "disklabel partition {} in {where_} starts past the end of the disk: ignored",
                p.letter()
            ));
            continue;
        }
        if start.saturating_add(size) > disk.num_blocks {
            size = disk.num_blocks - start;
            disk.notes.push(format!("disklabel partition {} in {where_} clipped to the disk", p.letter()));
        }
        let raw = usize::from(p.index) == disklabel::RAW_PART || usize::from(p.index) == disklabel::MBR_PART;
        let role = if raw { Role::Raw } else { Role::Data };
        added.push(new(
            MapKind::Disklabel,
            slot.map(|(i, _, _)| i),
            Some(p.letter()),
            start,
            size,
            PartType::Disklabel(p.fstype),
            role,
        ));
    }
    // Nothing but raw partitions: they are the filesystem candidates after all.
    if !added.iter().any(|p| p.role == Role::Data) {
        for p in &mut added {
            p.role = Role::Data;
        }
    }
    disk.partitions.extend(added);
    true
}

/// An opener: `Ffs::open`, `Ext::open`, `Xfs::open`, `Btrfs::open`, `Fat::open` behind one signature.
type Opener = fn(Box<dyn BlockDevice>) -> Result<Box<dyn Filesystem>, Error>;

fn open_ffs(dev: Box<dyn BlockDevice>) -> Result<Box<dyn Filesystem>, Error> {
    Ok(Box::new(crate::ffs::Ffs::open(dev)?))
}

fn open_ext(dev: Box<dyn BlockDevice>) -> Result<Box<dyn Filesystem>, Error> {
    Ok(Box::new(crate::ext::Ext::open(dev)?))
}

fn open_fat(dev: Box<dyn BlockDevice>) -> Result<Box<dyn Filesystem>, Error> {
    Ok(Box::new(crate::fat::Fat::open(dev)?))
}

fn open_xfs(dev: Box<dyn BlockDevice>) -> Result<Box<dyn Filesystem>, Error> {
    Ok(Box::new(crate::xfs::Xfs::open(dev)?))
}

fn open_btrfs(dev: Box<dyn BlockDevice>) -> Result<Box<dyn Filesystem>, Error> {
    Ok(Box::new(crate::btrfs::Btrfs::open(dev)?))
}

/// The filesystem readers tried, in order. Each recognises its own magic number first, so the
/// order only matters for a partition carrying two (FAT last: its boot sector is the weakest
/// signature; XFS's superblock sits in sector 0 where a FAT boot sector would).
const OPENERS: &[(&str, Opener)] =
    &[("ffs", open_ffs), ("ext", open_ext), ("xfs", open_xfs), ("btrfs", open_btrfs), ("fat", open_fat)];

/// Names of the filesystem readers [`open_fs`] tries, in order.
pub fn readers() -> impl Iterator<Item = &'static str> {
    OPENERS.iter().map(|(n, _)| *n)
}

/// Opens the filesystem on a block device: FFS, then ext2/3/4, XFS, btrfs, then FAT.
///
/// # Errors
/// [`Error::NotRecognized`] when no reader knows it; the first reader's error that is not
/// `NotRecognized` (a recognised but broken filesystem) wins over that.
pub fn open_fs_on(dev: &PartitionDevice) -> Result<Box<dyn Filesystem>, Error> {
    open_fs_with(&|| Box::new(dev.clone()))
}

/// [`open_fs_on`] over devices `make` returns (one per reader tried): e.g. a partition behind
/// a wrapper that records what the filesystem reads ([`crate::envblock`]).
///
/// # Errors
/// As [`open_fs_on`].
pub fn open_fs_with(make: &dyn Fn() -> Box<dyn BlockDevice>) -> Result<Box<dyn Filesystem>, Error> {
    let mut first_err = None;
    for (name, open) in OPENERS {
        match open(make()) {
            Ok(fs) => return Ok(fs),
            Err(Error::NotRecognized) => {}
            Err(e) => {
                log::debug!("{name}: {e}");
                first_err.get_or_insert(e);
            }
        }
    }
    Err(first_err.unwrap_or(Error::NotRecognized))
}

/// Opens the filesystem of a partition (see [`open_fs_on`]).
///
/// # Errors
/// As [`open_fs_on`].
pub fn open_fs(p: &Partition) -> Result<Box<dyn Filesystem>, Error> {
    open_fs_on(&p.device())
}

/// A path resolved to a file on one partition.
pub struct Resolved {
    /// Where it was found.
    pub partition: Partition,
    /// The open filesystem.
    pub fs: Box<dyn Filesystem>,
    /// The path inside it (`/` for a bare device).
    pub path: String,
    /// The file (symbolic links followed).
    pub meta: Metadata,
}

impl core::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Resolved")
            .field("partition", &self.partition)
            .field("path", &self.path)
            .field("meta", &self.meta)
            .finish()
    }
}

/// Resolves `path` over scanned disks: `(hd0,0)/boot/netbsd` on that partition, a plain
/// `/boot/netbsd` on the first partition in discovery order that has it.
///
/// A device naming a NetBSD MBR slot whose label lists partitions falls back to its `a`
/// partition when the slot itself holds no filesystem (`(hd0,0)/netbsd` works on a NetBSD
/// slot, as users expect).
///
/// # Errors
/// [`Error::InvalidPath`], [`Error::NotFound`] (no such disk, partition or file), or the
/// filesystem's error on an explicitly named device.
pub fn resolve(disks: &[Disk], path: &str) -> Result<Resolved, Error> {
    let (spec, inner) = parse_path(path)?;
    let inner = if inner.is_empty() { "/" } else { inner };
    let Some(spec) = spec else {
        for disk in disks {
            for p in disk.candidates() {
                let Ok(mut fs) = open_fs(p) else { continue };
                match fs.lookup(inner) {
                    Ok(meta) => return Ok(Resolved { partition: p.clone(), fs, path: String::from(inner), meta }),
                    Err(e) => log::debug!("{}{inner}: {e}", p.grub_name()),
                }
            }
        }
        return Err(Error::NotFound);
    };
    let disk = disks.iter().find(|d| d.index == spec.disk).ok_or(Error::NotFound)?;
    let part = disk.find(&spec)?;
    let (part, mut fs) = match open_fs(&part) {
        Ok(fs) => (part, fs),
        Err(e) if part.role == Role::Container && spec.letter.is_none() => {
            let a = DeviceSpec { letter: Some('a'), ..spec };
            let pa = disk.find(&a).map_err(|_| e)?;
            let fs = open_fs(&pa)?;
            (pa, fs)
        }
        Err(e) => return Err(e),
    };
    let meta = fs.lookup(inner)?;
    Ok(Resolved { partition: part, fs, path: String::from(inner), meta })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::MemDisk;
    use crate::part::gpt::tests::write_gpt;
    use crate::part::mbr::tests::put_entry;
    use alloc::vec;

    fn boxed(d: Vec<u8>, bs: u32) -> Box<dyn BlockDevice> {
        Box::new(MemDisk::new(d, bs))
    }

    fn names(d: &Disk) -> Vec<(String, u64, u64, Role)> {
        d.partitions.iter().map(|p| (p.grub_name(), p.start, p.size, p.role)).collect()
    }

    #[test]
    fn bare_disk_is_one_partition() {
        let d = scan_disk(0, boxed(vec![0u8; 512 * 64], 512));
        assert_eq!(d.map, MapKind::None);
        assert_eq!(names(&d), vec![(String::from("(hd0)"), 0, 64, Role::Data)]);
    }

    #[test]
    fn mbr_with_netbsd_slot_and_logicals() {
        let mut img = vec![0u8; 512 * 8192];
        put_entry(&mut img, 0, 0, 0, 0x0C, 64, 100);
        put_entry(&mut img, 0, 1, 0x80, 0xA9, 1024, 4096);
        put_entry(&mut img, 0, 2, 0, 0x05, 6000, 2000);
        put_entry(&mut img, 6000 * 512, 0, 0, 0x83, 10, 50);
        let label = disklabel::build(
            512,
            8192,
            16,
            &[(0, 1000, 1024, 7), (1, 100, 2024, 1), (2, 4096, 1024, 0), (3, 8192, 0, 0), (4, 500, 3000, 7)],
        );
        img[1025 * 512..1025 * 512 + label.len()].copy_from_slice(&label);
        let d = scan_disk(1, boxed(img, 512));
        assert_eq!(d.map, MapKind::Mbr);
        let got = names(&d);
        let want: Vec<(String, u64, u64, Role)> = vec![
            ("(hd1,0)".into(), 64, 100, Role::Data),
            ("(hd1,1)".into(), 1024, 4096, Role::Container),
            ("(hd1,1,a)".into(), 1024, 1000, Role::Data),
            ("(hd1,1,b)".into(), 2024, 100, Role::Data),
            ("(hd1,1,c)".into(), 1024, 4096, Role::Raw),
            ("(hd1,1,d)".into(), 0, 8192, Role::Raw),
            ("(hd1,1,e)".into(), 3000, 500, Role::Data),
            ("(hd1,2)".into(), 6000, 2000, Role::Container),
            ("(hd1,4)".into(), 6010, 50, Role::Data),
        ];
        assert_eq!(got, want);
        assert_eq!(d.find(&DeviceSpec::parse("(hd1,a)").unwrap()).unwrap().start, 1024);
        assert_eq!(d.find(&DeviceSpec::parse("(hd1,1,e)").unwrap()).unwrap().start, 3000);
        assert_eq!(d.find(&DeviceSpec::parse("(hd1,4)").unwrap()).unwrap().start, 6010);
        assert!(d.find(&DeviceSpec::parse("(hd1,3)").unwrap()).is_err());
        let letters: Vec<Option<char>> = d.partitions.iter().map(|p| d.netbsd_letter(p)).collect();
        assert_eq!(letters, vec![None, None, Some('a'), Some('b'), Some('c'), Some('d'), Some('e'), None, None]);
    }

    #[test]
    fn netbsd_letters_without_a_label() {
        let mut img = vec![0u8; 512 * 8192];
        put_entry(&mut img, 0, 0, 0, 0x0C, 64, 100);
        put_entry(&mut img, 0, 1, 0, 0x05, 6000, 2000);
        put_entry(&mut img, 0, 3, 0, 0x83, 1024, 100);
        put_entry(&mut img, 6000 * 512, 0, 0, 0x83, 10, 50);
        put_entry(&mut img, 6000 * 512, 1, 0, 0x05, 100, 100);
        put_entry(&mut img, 6100 * 512, 0, 0, 0x83, 10, 50);
        let d = scan_disk(0, boxed(img, 512));
        let got: Vec<(String, Option<char>)> =
            d.partitions.iter().map(|p| (p.grub_name(), d.netbsd_letter(p))).collect();
        let want: Vec<(String, Option<char>)> = vec![
            ("(hd0,0)".into(), Some('e')),
            ("(hd0,1)".into(), None),
            ("(hd0,3)".into(), Some('f')),
            ("(hd0,4)".into(), Some('i')),
            ("(hd0,5)".into(), Some('j')),
        ];
        assert_eq!(got, want);
        let bare = scan_disk(0, boxed(vec![0u8; 512 * 64], 512));
        assert_eq!(bare.netbsd_letter(&bare.partitions[0]), Some('a'));
    }

    #[test]
    fn bare_label_with_only_raw_partitions() {
        let mut img = vec![0u8; 512 * 1000];
        let label = disklabel::build(512, 1000, 4, &[(2, 1000, 0, 7), (3, 1000, 0, 0)]);
        img[512..512 + label.len()].copy_from_slice(&label);
        let d = scan_disk(0, boxed(img, 512));
        assert_eq!(d.map, MapKind::Disklabel);
        assert_eq!(names(&d), vec![("(hd0,c)".into(), 0, 1000, Role::Data), ("(hd0,d)".into(), 0, 1000, Role::Data)]);
    }

    #[test]
    fn gpt_disk_4k() {
        let mut img = vec![0u8; 4096 * 100];
        let linux = Guid::parse("0FC63DAF-8483-4772-8E79-3D69D8477DE4").unwrap();
        write_gpt(&mut img, 4096, &[(linux, 10, 19, "one"), (linux, 20, 59, "two")]);
        let d = scan_disk(0, boxed(img, 4096));
        assert_eq!(d.map, MapKind::Gpt);
        assert_eq!(names(&d), vec![("(hd0,0)".into(), 10, 10, Role::Data), ("(hd0,1)".into(), 20, 40, Role::Data)]);
        let mut dev = d.partitions[1].device();
        let mut buf = vec![0u8; 4096];
        assert!(dev.read_blocks(Lba(39), &mut buf).is_ok());
        assert_eq!(dev.read_blocks(Lba(40), &mut buf), Err(IoError::OutOfRange));
    }

    #[test]
    fn label_partition_outside_disk_is_noted() {
        let mut img = vec![0u8; 512 * 100];
        let label = disklabel::build(512, 100, 5, &[(0, 50, 10, 7), (4, 50, 500, 7), (1, 100, 60, 1)]);
        img[512..512 + label.len()].copy_from_slice(&label);
        let d = scan_disk(0, boxed(img, 512));
        assert_eq!(names(&d), vec![("(hd0,a)".into(), 10, 50, Role::Data), ("(hd0,b)".into(), 60, 40, Role::Data)]);
        assert_eq!(d.notes.len(), 2, "{:?}", d.notes);
    }

    /// Random map sectors with valid signatures and magics planted, so the parsers go deep.
    #[test]
    fn random_map_sectors_never_panic() {
        let mut seed = 0xdead_beef_cafe_f00du64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..3000u32 {
            let bs = if round % 3 == 0 { 4096usize } else { 512 };
            let mut img = vec![0u8; bs * 64];
            for b in img.iter_mut().take(bs * 4) {
                *b = rnd() as u8;
            }
            for e in 0..4 {
                img[446 + 16 * e] = if rnd() % 2 == 0 { 0 } else { 0x80 };
                img[446 + 16 * e + 4] = [0x05, 0x0F, 0xA9, 0xEE, 0x83][(rnd() % 5) as usize];
                img[446 + 16 * e + 8..446 + 16 * e + 12].copy_from_slice(&((rnd() % 70) as u32).to_le_bytes());
            }
            img[510] = 0x55;
            img[511] = 0xAA;
            if round % 2 == 0 {
                img[bs..bs + 8].copy_from_slice(b"EFI PART");
            }
            let at = 4 * (rnd() as usize % (bs / 4)) % (bs * 3 - 404);
            img[at..at + 4].copy_from_slice(&disklabel::DISKMAGIC.to_le_bytes());
            img[at + 132..at + 136].copy_from_slice(&disklabel::DISKMAGIC.to_le_bytes());
            img[at + 138] = (rnd() % 20) as u8;
            img[at + 139] = 0;
            let d = scan_disk(0, boxed(img, bs as u32));
            assert!(!d.partitions.is_empty());
            for p in &d.partitions {
                let _ = d.netbsd_letter(p);
                assert!(p.start.saturating_add(p.size) <= d.num_blocks || p.size == 0);
            }
        }
    }

    /// Seeded byte flips in the map sectors: scanning never panics or hangs.
    #[test]
    fn corrupted_maps_never_panic() {
        let mut base = vec![0u8; 512 * 4096];
        put_entry(&mut base, 0, 0, 0, 0xA9, 64, 1000);
        put_entry(&mut base, 0, 1, 0, 0x05, 2000, 1000);
        put_entry(&mut base, 2000 * 512, 0, 0, 0x83, 10, 50);
        put_entry(&mut base, 2000 * 512, 1, 0, 0x05, 100, 50);
        put_entry(&mut base, 2100 * 512, 0, 0, 0x83, 10, 20);
        let label = disklabel::build(512, 4096, 16, &[(0, 500, 64, 7), (4, 400, 600, 7)]);
        base[65 * 512..65 * 512 + label.len()].copy_from_slice(&label);
        let mut gpt_base = vec![0u8; 512 * 400];
        let linux = Guid::parse("0FC63DAF-8483-4772-8E79-3D69D8477DE4").unwrap();
        write_gpt(&mut gpt_base, 512, &[(linux, 40, 99, "a"), (linux, 100, 200, "b")]);
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let hot: &[(usize, usize)] = &[(446, 66), (65 * 512, 404), (2000 * 512 + 446, 66), (2100 * 512 + 446, 66)];
        for _ in 0..2000 {
            let mut img = base.clone();
            for _ in 0..1 + rnd() % 4 {
                let (off, len) = hot[(rnd() % hot.len() as u64) as usize];
                let i = off + (rnd() % len as u64) as usize;
                img[i] ^= 1 << (rnd() % 8);
            }
            let d = scan_disk(0, boxed(img, 512));
            assert!(!d.partitions.is_empty());
            let mut g = gpt_base.clone();
            let i = (rnd() % (512 * 4) as u64) as usize;
            g[i] = rnd() as u8;
            let d = scan_disk(0, boxed(g, 512));
            assert!(d.partitions.len() <= 128);
        }
    }
}
