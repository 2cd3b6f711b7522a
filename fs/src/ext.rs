//! ext2/3/4 through the `ext4-view` crate, behind the [`crate::Filesystem`] trait.
//!
//! ext4-view does the on-disk work; this module adds what a bootloader needs around it:
//! - a cheap probe (superblock magic) that answers [`Error::NotRecognized`] without loading;
//! - clear [`Error::Unsupported`] answers, before loading, for what ext4-view refuses:
//!   revision-0 filesystems, directories without file types (`^filetype`), and the
//!   incompatible features it does not implement (`inline_data`, `meta_bg`, `casefold`, ...);
//! - limits ext4-view does not have: filesystem larger than the device, the number of block
//!   groups (descriptor memory), directory sizes scanned during lookups;
//! - file data read by our own walk of the inode's extent tree or block map (ext4-view 1.0
//!   has no API for it and reads one block at a time through its cache, in 32 KiB device
//!   reads, copying each byte twice): every contiguous run on disk becomes one device read
//!   straight into the caller's buffer, all runs of a `read_at` handed to the device in one
//!   vectored call ([`BlockDevice::read_blocks_vectored`]) so blkfront keeps them in flight
//!   together; only unaligned edges go through a one-sector bounce buffer. ext4-view still
//!   resolves paths and checks the file; it also reads the data while the journal needs
//!   replaying (its replayed view is the current one) and for inline-data inodes;
//! - path resolution of its own, so symlinks follow [`MAX_SYMLINK_HOPS`] like the other
//!   filesystems (ext4-view allows 40), and every path handed to ext4-view is canonical;
//! - two ext4-view 1.0 gaps closed where it still reads data: `File::seek_to` is never used
//!   (it swallows block-iterator errors and the next read panics; we skip forward by
//!   reading), and a block-mapped file with a hole over a whole indirect block, which
//!   ext4-view reads as block 0, is read by our block-map walk from then on.
//!
//! ext4-view is path-based, so a [`NodeId`] names an entry of a bounded table of canonical
//! paths (only the last component may be a symlink). When the table is full it is emptied;
//! older ids then answer [`Error::NotFound`], never a different file.

use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

use ext4_view::{Ext4, Ext4Error, Ext4Read};
use hashbrown::HashMap;

use crate::block::{BlockDevice, Lba};
use crate::cache::BlockCache;
use crate::error::{Error, IoError, Location};
use crate::vfs::{DirEntry, FileType, Filesystem, FsInfo, Metadata, NodeId, MAX_SYMLINK_HOPS};

/// Byte offset of the primary superblock.
const SUPERBLOCK_OFFSET: u64 = 1024;
/// The superblock magic (`s_magic` at offset 0x38 of the superblock).
const EXT_MAGIC: u16 = 0xEF53;
/// Most block groups we accept. ext4-view reads every group descriptor when it loads and
/// keeps one 16-byte entry per group: 65536 groups are 1 MiB of a domU's heap, and cover
/// 8 TiB with the usual 32768 blocks of 4 KiB per group (512 GiB at 1 KiB blocks). More is a
/// superblock with a tiny `s_blocks_per_group` (one per block asks for 16 MiB per GiB).
const MAX_BLOCK_GROUPS: u64 = 1 << 16;
/// Fewest blocks per group e2fsck accepts (`check_super_block`: at least 8); the most is
/// 8 × the block size, the bits of the one-block block bitmap (the kernel's "#blocks per
/// group too big").
const MIN_BLOCKS_PER_GROUP: u64 = 8;
/// Largest directory a lookup or listing scans; bigger ones are refused (a corrupt size could
/// otherwise make a lookup walk billions of blocks).
const MAX_DIR_BYTES: u64 = 64 << 20;
/// Largest symlink target we follow (Linux's PATH_MAX).
const MAX_LINK_LEN: usize = 4096;
/// Most paths remembered for [`NodeId`]s before the table is emptied.
const MAX_NODES: usize = 1 << 14;
/// The root's id.
pub(crate) const ROOT: NodeId = NodeId(1);

// Feature bits (ext4 on-disk format documentation, "The Super Block").
const COMPAT_HAS_JOURNAL: u32 = 0x4;
const INCOMPAT_FILETYPE: u32 = 0x2;
const INCOMPAT_64BIT: u32 = 0x80;
/// Incompatible features ext4-view reads, other than `filetype` (which it requires):
/// recover, extents, 64bit, flex_bg, csum_seed, encrypt.
const INCOMPAT_SUPPORTED: u32 = INCOMPAT_FILETYPE | 0x4 | 0x40 | INCOMPAT_64BIT | 0x200 | 0x2000 | 0x1_0000;
/// Incompatible features that only ext4 (not ext2/ext3) sets.
const INCOMPAT_EXT4_ONLY: u32 = 0x40 | INCOMPAT_64BIT | 0x100 | 0x200 | 0x400 | 0x2000 | 0x8000 | 0x1_0000;
/// Read-only-compatible features that only ext4 sets: huge_file, gdt_csum, dir_nlink,
/// extra_isize, metadata_csum.
const RO_COMPAT_EXT4_ONLY: u32 = 0x8 | 0x10 | 0x20 | 0x40 | 0x400;

/// Names of the incompatible feature bits, for messages.
const INCOMPAT_NAMES: [(u32, &str); 17] = [
    (0x1, "compression"),
    (0x2, "filetype"),
    (0x4, "needs_recovery"),
    (0x8, "journal_dev"),
    (0x10, "meta_bg"),
    (0x40, "extent"),
    (0x80, "64bit"),
    (0x100, "mmp"),
    (0x200, "flex_bg"),
    (0x400, "ea_inode"),
    (0x1000, "dirdata"),
    (0x2000, "metadata_csum_seed"),
    (0x4000, "large_dir"),
    (0x8000, "inline_data"),
    (0x1_0000, "encrypt"),
    (0x2_0000, "casefold"),
    (0x4_0000, "stable_inodes"),
];

/// Feature names of `bits`, unknown bits in hex.
fn feature_names(bits: u32) -> String {
    let mut out = String::new();
    let mut rest = bits;
    for (bit, name) in INCOMPAT_NAMES {
        if bits & bit != 0 {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(name);
            rest &= !bit;
        }
    }
    if rest != 0 {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&format!("unknown({rest:#x})"));
    }
    out
}

/// The device, shared by ext4-view's reader and our block-map fallback.
struct Shared {
    dev: Box<dyn BlockDevice>,
    bounce: Vec<u8>,
}

/// Adapts a sector device to ext4-view's byte reads.
struct DevReader {
    shared: Rc<RefCell<Shared>>,
}

impl DevReader {
    fn new(dev: Box<dyn BlockDevice>) -> Self {
        let ss = usize::try_from(dev.block_size()).unwrap_or(512).max(1);
        Self { shared: Rc::new(RefCell::new(Shared { dev, bounce: vec![0; ss] })) }
    }

    /// Device size in bytes.
    fn len(&self) -> u64 {
        let s = self.shared.borrow();
        s.dev.num_blocks().saturating_mul(u64::from(s.dev.block_size()))
    }

    /// Reads `dst.len()` bytes at byte `start` (see [`read_bytes`]).
    fn read_bytes(&mut self, start: u64, dst: &mut [u8]) -> Result<(), IoError> {
        let mut s = self.shared.borrow_mut();
        let s = &mut *s;
        read_bytes(&mut *s.dev, &mut s.bounce, start, dst)
    }
}

/// Reads `dst.len()` bytes at byte `start` of `dev`: whole aligned sectors straight into
/// `dst`, partial ones through `bounce` (resized to one sector). Shared with the FAT reader.
pub(crate) fn read_bytes(
    dev: &mut dyn BlockDevice,
    bounce: &mut Vec<u8>,
    start: u64,
    dst: &mut [u8],
) -> Result<(), IoError> {
    let ss = u64::from(dev.block_size());
    let ss_usize = usize::try_from(ss).map_err(|_| IoError::Misaligned)?;
    if ss_usize == 0 {
        return Err(IoError::Misaligned);
    }
    if bounce.len() != ss_usize {
        bounce.resize(ss_usize, 0);
    }
    let mut pos = start;
    let mut done = 0usize;
    while done < dst.len() {
        let lba = Lba(pos / ss);
        let within = usize::try_from(pos % ss).map_err(|_| IoError::OutOfRange)?;
        let rest = dst.get_mut(done..).ok_or(IoError::OutOfRange)?;
        let n = if within == 0 && rest.len() >= ss_usize {
            let whole = rest.len() - rest.len() % ss_usize;
            let out = rest.get_mut(..whole).ok_or(IoError::OutOfRange)?;
            dev.read_blocks(lba, out)?;
            whole
        } else {
            dev.read_blocks(lba, bounce)?;
            let take = (ss_usize - within).min(rest.len());
            let src = bounce.get(within..within + take).ok_or(IoError::OutOfRange)?;
            rest.get_mut(..take).ok_or(IoError::OutOfRange)?.copy_from_slice(src);
            take
        };
        done += n;
        pos = pos.checked_add(n as u64).ok_or(IoError::OutOfRange)?;
    }
    Ok(())
}

/// Fills `dst` from `pieces` (device byte address, or `None` for zeros; lengths in order):
/// the sector-aligned middle of every piece goes to the device in one vectored call, so a
/// device with a request queue works on all of them at once; unaligned edges go through
/// `bounce` first. `extra` (device byte address, buffer) rides along in the same call when it
/// is whole sectors, and is left untouched otherwise (read-ahead the caller can do without).
fn read_pieces(
    dev: &mut dyn BlockDevice,
    bounce: &mut Vec<u8>,
    pieces: &[(Option<u64>, usize)],
    dst: &mut [u8],
    extra: &mut [(u64, &mut [u8])],
) -> Result<(), IoError> {
    let ss = u64::from(dev.block_size());
    if ss == 0 {
        return Err(IoError::Misaligned);
    }
    let mut rest = dst;
    let mut middles: Vec<(Lba, &mut [u8])> = Vec::with_capacity(pieces.len());
    for &(addr, n) in pieces {
        if n > rest.len() {
            return Err(IoError::OutOfRange);
        }
        let (piece, tail) = core::mem::take(&mut rest).split_at_mut(n);
        rest = tail;
        let Some(addr) = addr else {
            piece.fill(0);
            continue;
        };
        let end = addr.checked_add(n as u64).ok_or(IoError::OutOfRange)?;
        let a_start = addr.div_ceil(ss).checked_mul(ss).ok_or(IoError::OutOfRange)?;
        let a_end = end / ss * ss;
        if a_start >= a_end {
            read_bytes(dev, bounce, addr, piece)?;
            continue;
        }
        let head = usize::try_from(a_start - addr).map_err(|_| IoError::OutOfRange)?;
        let mid = usize::try_from(a_end - addr).map_err(|_| IoError::OutOfRange)?;
        let (h, r) = piece.split_at_mut(head);
        let (m, t) = r.split_at_mut(mid - head);
        if !h.is_empty() {
            read_bytes(dev, bounce, addr, h)?;
        }
        if !t.is_empty() {
            read_bytes(dev, bounce, a_end, t)?;
        }
        middles.push((Lba(a_start / ss), m));
    }
    // Whole sectors only: others are left for a later plain read.
    for (addr, buf) in extra.iter_mut() {
        let len = buf.len() as u64;
        if addr.is_multiple_of(ss) && len.is_multiple_of(ss) && len > 0 {
            middles.push((Lba(*addr / ss), &mut **buf));
        }
    }
    // In disk order: the read-ahead blocks then fill the small gaps between the data runs
    // (ext2 puts each indirect block just before the data it maps), and the backend sees one
    // rising stream, which its own read-ahead follows.
    crate::order::sort_by_key(&mut middles, &|(lba, _)| lba.0);
    dev.read_blocks_vectored(&mut middles)
}

impl Ext4Read for DevReader {
    fn read(
        &mut self,
        start_byte: u64,
        dst: &mut [u8],
    ) -> Result<(), Box<dyn core::error::Error + Send + Sync + 'static>> {
        self.read_bytes(start_byte, dst).map_err(|e| Box::new(e) as _)
    }
}

/// Reads from `file` at `offset` into `buf` as far as it goes.
fn read_file(file: &mut ext4_view::File, offset: u64, buf: &mut [u8]) -> Result<usize, Ext4Error> {
    if file.position() < offset {
        let mut local = Vec::new();
        let scratch = if buf.len() >= 4096 {
            &mut *buf
        } else {
            local.resize(4096, 0u8);
            &mut local[..]
        };
        skip_to(file, offset, scratch)?;
    }
    let mut done = 0usize;
    loop {
        let Some(rest) = buf.get_mut(done..) else { return Ok(done) };
        if rest.is_empty() {
            return Ok(done);
        }
        match file.read_bytes(rest)? {
            0 => return Ok(done),
            n => done = done.saturating_add(n),
        }
    }
}

/// Moves `file` forward to `offset` by reading (into `scratch`).
///
/// Not `File::seek_to`: in ext4-view 1.0 it discards errors of the block iterator it
/// advances (a corrupt or zero indirect pointer), leaving the iterator finished, and the next
/// `read_bytes` then panics on `next().unwrap()`. Reading forward reports the error instead.
/// The cost is reading the skipped bytes, which sequential loading never does.
fn skip_to(file: &mut ext4_view::File, offset: u64, scratch: &mut [u8]) -> Result<(), Ext4Error> {
    while file.position() < offset {
        let want = usize::try_from(offset - file.position()).unwrap_or(usize::MAX).min(scratch.len());
        let dst = scratch.get_mut(..want).unwrap_or_default();
        if dst.is_empty() || file.read_bytes(dst)? == 0 {
            break;
        }
    }
    Ok(())
}

/// Whether ext4-view failed on a zero block pointer it tried to read as block 0: in a
/// block-mapped file, the zero indirect pointer of a hole over a whole indirect block.
fn is_zero_indirect(e: &Ext4Error) -> bool {
    if let Ext4Error::Corrupt(c) = e {
        let msg = c.to_string();
        msg.starts_with("invalid read of length") && msg.contains(" from block 0 (originally 0) at offset 0")
    } else {
        false
    }
}

/// Maps ext4-view's errors onto ours, keeping device errors typed.
fn map_err(e: Ext4Error) -> Error {
    match e {
        Ext4Error::NotFound => Error::NotFound,
        Ext4Error::NotADirectory => Error::NotADirectory,
        Ext4Error::IsADirectory => Error::IsADirectory,
        Ext4Error::TooManySymlinks => Error::SymlinkLoop,
        Ext4Error::Io(inner) => Error::Io(inner.downcast_ref::<IoError>().copied().unwrap_or(IoError::Device)),
        Ext4Error::Incompatible(i) => Error::Unsupported(format!("ext: {i}")),
        Ext4Error::Corrupt(c) => Error::corrupt("ext", c.to_string(), Location::default()),
        Ext4Error::Encrypted => Error::Unsupported("ext: encrypted file".into()),
        Ext4Error::IsASpecialFile => Error::Unsupported("ext: device, fifo or socket".into()),
        Ext4Error::NotAbsolute | Ext4Error::MalformedPath | Ext4Error::PathTooLong => {
            Error::InvalidPath(format!("ext: {e}"))
        }
        other => Error::Unsupported(format!("ext: {other}")),
    }
}

/// Like [`map_err`], naming the zero-pointer case (see [`is_zero_indirect`]) when the
/// block-map fallback could not take over.
fn map_read_err(e: Ext4Error) -> Error {
    if is_zero_indirect(&e) {
        return Error::Unsupported(
            "ext: block-mapped file with a hole over a whole indirect block (ext4-view 1.0 \
             reads its zero indirect pointer as block 0), or a corrupt zero block pointer"
                .into(),
        );
    }
    map_err(e)
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    b.get(off..off + 2).and_then(|s| s.try_into().ok()).map_or(0, u16::from_le_bytes)
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    b.get(off..off + 4).and_then(|s| s.try_into().ok()).map_or(0, u32::from_le_bytes)
}

/// What the superblock says, checked before ext4-view sees it.
fn check_superblock(reader: &mut DevReader) -> Result<(FsInfo, Geometry), Error> {
    if reader.len() < SUPERBLOCK_OFFSET + 1024 {
        return Err(Error::NotRecognized);
    }
    let mut sb = [0u8; 1024];
    reader.read_bytes(SUPERBLOCK_OFFSET, &mut sb)?;
    if u16_at(&sb, 0x38) != EXT_MAGIC {
        return Err(Error::NotRecognized);
    }
    let at = Location::offset(SUPERBLOCK_OFFSET);
    let rev = u32_at(&sb, 0x4C);
    if rev == 0 {
        return Err(Error::Unsupported(
            "ext: revision-0 (original format) filesystem; ext4-view reads revision 1 only \
             (convert with `tune2fs -O filetype` on a revision-1 copy, or recreate it)"
                .into(),
        ));
    }
    let compat = u32_at(&sb, 0x5C);
    let incompat = u32_at(&sb, 0x60);
    let ro_compat = u32_at(&sb, 0x64);
    if incompat & INCOMPAT_FILETYPE == 0 {
        return Err(Error::Unsupported(
            "ext: directories without file types (feature `filetype` off); ext4-view needs it \
             (`tune2fs -O filetype` adds it)"
                .into(),
        ));
    }
    let unsupported = incompat & !INCOMPAT_SUPPORTED;
    if unsupported != 0 {
        return Err(Error::Unsupported(format!(
            "ext: incompatible features ext4-view cannot read: {}",
            feature_names(unsupported)
        )));
    }
    let log_bs = u32_at(&sb, 0x18);
    if log_bs > 6 {
        return Err(Error::corrupt("ext", format!("block size 1024 << {log_bs}"), at));
    }
    let block_size = 1024u32 << log_bs;
    let hi = if incompat & INCOMPAT_64BIT != 0 { u32_at(&sb, 0x150) } else { 0 };
    let blocks = (u64::from(hi) << 32) | u64::from(u32_at(&sb, 0x4));
    let fs_bytes = blocks.checked_mul(u64::from(block_size));
    if fs_bytes.is_none_or(|b| b > reader.len()) {
        return Err(Error::corrupt(
            "ext",
            format!("{blocks} blocks of {block_size} bytes do not fit on a device of {} bytes", reader.len()),
            at,
        ));
    }
    let per_group = u64::from(u32_at(&sb, 0x20));
    if per_group < MIN_BLOCKS_PER_GROUP || per_group > 8 * u64::from(block_size) {
        return Err(Error::corrupt(
            "ext",
            format!(
                "{per_group} blocks per group (e2fsck allows {MIN_BLOCKS_PER_GROUP} to {})",
                8 * u64::from(block_size)
            ),
            at,
        ));
    }
    let groups = blocks.div_ceil(per_group);
    if groups > MAX_BLOCK_GROUPS {
        return Err(Error::Unsupported(format!(
            "ext: {groups} block groups ({blocks} blocks, {per_group} per group): more than the \
             {MAX_BLOCK_GROUPS} whose descriptors rpvboot holds in memory"
        )));
    }
    let kind = if incompat & INCOMPAT_EXT4_ONLY != 0 || ro_compat & RO_COMPAT_EXT4_ONLY != 0 {
        "ext4"
    } else if compat & COMPAT_HAS_JOURNAL != 0 {
        "ext3"
    } else {
        "ext2"
    };
    let label_bytes = sb.get(0x78..0x88).unwrap_or_default();
    let label_end = label_bytes.iter().position(|&b| b == 0).unwrap_or(label_bytes.len());
    let label = String::from_utf8_lossy(label_bytes.get(..label_end).unwrap_or_default()).into_owned();
    let u = sb.get(0x68..0x78).unwrap_or_default();
    let mut uuid = String::new();
    for (i, b) in u.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            uuid.push('-');
        }
        uuid.push_str(&format!("{b:02x}"));
    }
    let inode_size = u64::from(u16_at(&sb, 0x58));
    let desc_size = if incompat & INCOMPAT_64BIT != 0 { u64::from(u16_at(&sb, 0xFE)) } else { 32 };
    let geometry = Geometry {
        block_size: u64::from(block_size),
        blocks,
        first_data_block: u64::from(u32_at(&sb, 0x14)),
        inodes_per_group: u64::from(u32_at(&sb, 0x28)),
        inode_size,
        desc_size,
        is_64bit: incompat & INCOMPAT_64BIT != 0,
        needs_recovery: incompat & INCOMPAT_RECOVER != 0,
    };
    let info = FsInfo {
        kind: kind.into(),
        version: format!("revision {rev}"),
        block_size,
        fragment_size: 0,
        label: if label.is_empty() { None } else { Some(label) },
        uuid: if u.iter().all(|&b| b == 0) { None } else { Some(uuid) },
    };
    Ok((info, geometry))
}

/// Superblock numbers the block-map fallback needs.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    block_size: u64,
    blocks: u64,
    first_data_block: u64,
    inodes_per_group: u64,
    inode_size: u64,
    desc_size: u64,
    is_64bit: bool,
    /// The journal needs replaying: block contents on disk may be stale.
    needs_recovery: bool,
}

/// A regular file whose data we read ourselves (see [`Ext::file_map`]): ext4-view finds and
/// checks the file, we map its blocks so that each contiguous run on disk is one device read
/// straight into the caller's buffer (ext4-view 1.0 reads one block at a time through its
/// cache, in 32 KiB device reads, copying every byte twice).
struct FileMap {
    id: NodeId,
    size: u64,
    kind: MapKind,
}

/// Where a mapped file's block pointers live.
#[derive(Clone, Copy)]
enum MapKind {
    /// `i_block` of a block-mapped (ext2/ext3) file: 12 direct pointers, then single, double
    /// and triple indirect.
    Blocks([u32; 15]),
    /// `i_block` of an extent-mapped file: the root node of its extent tree.
    Extents([u8; 60]),
}

/// A run of file blocks found by one lookup.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Run {
    /// `blocks` file blocks stored contiguously from device block `phys`.
    Data { phys: u64, blocks: u64 },
    /// `blocks` file blocks that read as zeros (a hole or an unwritten extent).
    Zero { blocks: u64 },
}

/// Extent tree node magic (`eh_magic`).
const EXTENT_MAGIC: u16 = 0xF30A;
/// Deepest extent tree the kernel builds (`EXT4_MAX_EXTENT_DEPTH`).
const MAX_EXTENT_DEPTH: u16 = 5;
/// `ee_len` above this marks an unwritten extent (reads as zeros).
const EXTENT_INIT_MAX: u16 = 32768;
/// Inode flags: extents, inline data.
const EXTENTS_FL: u32 = 0x8_0000;
const INLINE_DATA_FL: u32 = 0x1000_0000;
/// `s_feature_incompat` bit: the journal must be replayed (ext4-view replays it in memory, so
/// only it sees the current metadata).
const INCOMPAT_RECOVER: u32 = 0x4;
/// Bytes of tree nodes and indirect blocks kept while mapping.
const MAP_CACHE_BYTES: usize = 256 << 10;
/// Most indirect blocks read ahead per tree level for one `read_at` (a quarter of the map
/// cache at 1 KiB blocks).
const MAX_PREFETCH: usize = 64;

/// The inode number of an open ext4-view file, from its `Debug` output (`File { inode: 12,
/// ... }`): ext4-view 1.0 has no accessor. `None` if the format ever changes.
fn inode_number(file: &ext4_view::File) -> Option<u64> {
    let text = format!("{file:?}");
    let rest = text.split("inode: ").nth(1)?;
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok().filter(|&n| n != 0)
}

/// Canonical paths behind [`NodeId`]s (shared with the FAT reader).
pub(crate) struct NodeTable {
    by_id: HashMap<u64, String>,
    by_path: HashMap<String, u64>,
    next: u64,
}

impl NodeTable {
    pub(crate) fn new() -> Self {
        let mut t = Self { by_id: HashMap::new(), by_path: HashMap::new(), next: ROOT.0 + 1 };
        t.by_id.insert(ROOT.0, "/".into());
        t.by_path.insert("/".into(), ROOT.0);
        t
    }

    pub(crate) fn id_for(&mut self, path: &str) -> NodeId {
        if let Some(&id) = self.by_path.get(path) {
            return NodeId(id);
        }
        if self.by_id.len() >= MAX_NODES {
            // Forget everything but the root; ids keep increasing, so old ones stay invalid.
            let next = self.next;
            *self = Self::new();
            self.next = next;
        }
        let id = self.next;
        self.next = self.next.wrapping_add(1).max(ROOT.0 + 1);
        self.by_id.insert(id, path.into());
        self.by_path.insert(path.into(), id);
        NodeId(id)
    }

    pub(crate) fn path(&self, id: NodeId) -> Result<String, Error> {
        self.by_id.get(&id.0).cloned().ok_or(Error::NotFound)
    }
}

/// `parent` joined with a name.
pub(crate) fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// The parent of a canonical path (the root is its own parent).
pub(crate) fn parent_of(path: &str) -> &str {
    match path.rfind('/') {
        Some(0) | None => "/",
        Some(i) => path.get(..i).unwrap_or("/"),
    }
}

fn file_type_of(meta: &ext4_view::Metadata) -> FileType {
    let ft = meta.file_type();
    if ft.is_regular_file() {
        FileType::File
    } else if ft.is_dir() {
        FileType::Directory
    } else if ft.is_symlink() {
        FileType::Symlink
    } else {
        FileType::Other
    }
}

/// An ext2/3/4 filesystem on a block device.
pub struct Ext {
    fs: Ext4,
    info: FsInfo,
    nodes: NodeTable,
    /// The file last read, kept open so sequential `read_at` calls do not seek.
    open: Option<(NodeId, ext4_view::File)>,
    dev: Rc<RefCell<Shared>>,
    geometry: Geometry,
    /// The file we map ourselves, last read (see [`FileMap`]).
    map: Option<FileMap>,
    /// Extent tree nodes and indirect blocks, by device block.
    map_cache: BlockCache,
}

impl core::fmt::Debug for Ext {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Ext").field("info", &self.info).finish_non_exhaustive()
    }
}

impl Ext {
    /// Opens the ext filesystem on `dev`.
    ///
    /// # Errors
    /// [`Error::NotRecognized`] without the ext magic; [`Error::Unsupported`] for what
    /// ext4-view cannot read (revision 0, no `filetype`, some incompatible features);
    /// corruption or I/O.
    pub fn open(dev: Box<dyn BlockDevice>) -> Result<Self, Error> {
        let mut reader = DevReader::new(dev);
        let (info, geometry) = check_superblock(&mut reader)?;
        let dev = Rc::clone(&reader.shared);
        let fs = Ext4::load(Box::new(reader)).map_err(map_err)?;
        Ok(Self {
            fs,
            info,
            nodes: NodeTable::new(),
            open: None,
            dev,
            geometry,
            map: None,
            map_cache: BlockCache::new(MAP_CACHE_BYTES),
        })
    }

    fn meta_of(&self, path: &str) -> Result<ext4_view::Metadata, Error> {
        self.fs.symlink_metadata(path).map_err(|e| match e {
            // A name longer than 255 bytes or with a NUL cannot exist.
            Ext4Error::MalformedPath => Error::NotFound,
            e => map_err(e),
        })
    }

    /// Refuses directories too large to scan.
    fn check_dir(meta: &ext4_view::Metadata) -> Result<(), Error> {
        if !meta.is_dir() {
            return Err(Error::NotADirectory);
        }
        if meta.len() > MAX_DIR_BYTES {
            return Err(Error::TooLarge { requested: meta.len(), limit: MAX_DIR_BYTES });
        }
        Ok(())
    }

    /// Resolves `path` component by component to a canonical path (no symlinks except, with
    /// `follow_last` false, the last component) and its metadata.
    fn resolve(&self, path: &str, follow_last: bool) -> Result<(String, ext4_view::Metadata), Error> {
        if path.len() > MAX_LINK_LEN {
            return Err(Error::InvalidPath("ext: path longer than 4096 bytes".into()));
        }
        let mut todo: Vec<String> = path.split('/').filter(|c| !c.is_empty()).rev().map(String::from).collect();
        let mut cur = String::from("/");
        let mut cur_meta = self.meta_of("/")?;
        let mut hops = 0u32;
        while let Some(comp) = todo.pop() {
            match comp.as_str() {
                "." => continue,
                ".." => {
                    cur = parent_of(&cur).into();
                    cur_meta = self.meta_of(&cur)?;
                    continue;
                }
                _ => {}
            }
            Self::check_dir(&cur_meta)?;
            let is_last = todo.is_empty();
            let candidate = join(&cur, &comp);
            let meta = self.meta_of(&candidate)?;
            if meta.is_symlink() && (follow_last || !is_last) {
                hops += 1;
                if hops > MAX_SYMLINK_HOPS {
                    return Err(Error::SymlinkLoop);
                }
                if meta.len() > MAX_LINK_LEN as u64 {
                    return Err(Error::TooLarge { requested: meta.len(), limit: MAX_LINK_LEN as u64 });
                }
                let target = self.fs.read_link(candidate.as_str()).map_err(map_err)?;
                let target = target
                    .to_str()
                    .map_err(|_| Error::Unsupported(format!("ext: symlink {candidate} target is not UTF-8")))?;
                if target.is_empty() {
                    return Err(Error::NotFound);
                }
                if target.starts_with('/') {
                    cur = "/".into();
                    cur_meta = self.meta_of("/")?;
                }
                todo.extend(target.split('/').filter(|c| !c.is_empty()).rev().map(String::from));
                if todo.len() > MAX_LINK_LEN {
                    return Err(Error::InvalidPath("ext: path grows too long through symlinks".into()));
                }
                continue;
            }
            cur = candidate;
            cur_meta = meta;
        }
        Ok((cur, cur_meta))
    }

    /// Reads `len` bytes at byte `at` of the device.
    fn read_dev(&self, at: u64, dst: &mut [u8]) -> Result<(), Error> {
        let mut s = self.dev.borrow_mut();
        let s = &mut *s;
        read_bytes(&mut *s.dev, &mut s.bounce, at, dst).map_err(Error::Io)
    }

    /// Loads inode `ino` straight from the inode table and keeps what we need to map its
    /// blocks. `size` is what ext4-view read; a different size means we are not looking at the
    /// same inode, and the caller reads through ext4-view instead.
    fn file_map(&self, id: NodeId, ino: u64, size: u64) -> Result<FileMap, Error> {
        let g = self.geometry;
        let loc = Location::inode(ino);
        let bad = |what: &str| Error::corrupt("ext", what, loc);
        if g.inodes_per_group == 0 || g.inode_size < 128 || g.desc_size < 32 || ino == 0 {
            return Err(bad("superblock geometry"));
        }
        let group = (ino - 1) / g.inodes_per_group;
        let index = (ino - 1) % g.inodes_per_group;
        let desc_at = (g.first_data_block + 1)
            .checked_mul(g.block_size)
            .and_then(|gdt| gdt.checked_add(group.checked_mul(g.desc_size)?))
            .ok_or_else(|| bad("group descriptor offset"))?;
        let mut desc = [0u8; 64];
        let desc_len = if g.is_64bit && g.desc_size >= 64 { 64 } else { 32 };
        self.read_dev(desc_at, &mut desc[..desc_len])?;
        let hi = if desc_len == 64 { u64::from(u32_at(&desc, 0x28)) << 32 } else { 0 };
        let table = hi | u64::from(u32_at(&desc, 0x8));
        if table == 0 || table >= g.blocks {
            return Err(bad("inode table outside the filesystem"));
        }
        let inode_at = table
            .checked_mul(g.block_size)
            .and_then(|t| t.checked_add(index.checked_mul(g.inode_size)?))
            .ok_or_else(|| bad("inode offset"))?;
        let mut raw = [0u8; 128];
        self.read_dev(inode_at, &mut raw)?;
        let on_disk = (u64::from(u32_at(&raw, 0x6C)) << 32) | u64::from(u32_at(&raw, 0x4));
        if on_disk != size {
            return Err(bad("inode size differs from ext4-view's"));
        }
        let flags = u32_at(&raw, 0x20);
        if flags & INLINE_DATA_FL != 0 {
            return Err(Error::Unsupported("ext: inline data".into()));
        }
        let i_block = raw.get(0x28..0x64).ok_or_else(|| bad("inode"))?;
        let kind = if flags & EXTENTS_FL != 0 {
            let mut root = [0u8; 60];
            root.copy_from_slice(i_block);
            MapKind::Extents(root)
        } else {
            let mut roots = [0u32; 15];
            for (i, r) in roots.iter_mut().enumerate() {
                *r = u32_at(i_block, 4 * i);
            }
            MapKind::Blocks(roots)
        };
        Ok(FileMap { id, size, kind })
    }

    /// Device block `block` (an indirect block or extent tree node), through the map cache.
    fn map_node(&mut self, block: u64, what: &str) -> Result<&[u8], Error> {
        if block == 0 || block >= self.geometry.blocks {
            return Err(Error::corrupt("ext", format!("{what} outside the filesystem"), Location::block(block)));
        }
        let bs = usize::try_from(self.geometry.block_size).map_err(|_| Error::Io(IoError::OutOfRange))?;
        let at = block.checked_mul(self.geometry.block_size).ok_or(Error::Io(IoError::OutOfRange))?;
        let dev = &self.dev;
        self.map_cache.get_or_load(
            block,
            || {
                let mut raw = vec![0u8; bs];
                let mut s = dev.borrow_mut();
                let s = &mut *s;
                read_bytes(&mut *s.dev, &mut s.bounce, at, &mut raw).map_err(Error::Io)?;
                Ok(raw)
            },
            || Error::Unsupported("ext: block larger than the map cache".into()),
        )
    }

    /// Pointer `idx` of indirect block `block` (0 for a hole anywhere above).
    fn indirect_ptr(&mut self, block: u32, idx: u64) -> Result<u32, Error> {
        if block == 0 {
            return Ok(0);
        }
        let raw = self.map_node(u64::from(block), "indirect block")?;
        let off = usize::try_from(idx).ok().and_then(|i| i.checked_mul(4)).unwrap_or(usize::MAX);
        Ok(raw.get(off..).map_or(0, |r| u32_at(r, 0)))
    }

    /// The device block of file block `l` of a block-mapped file (0: a hole).
    fn map_block(&mut self, roots: &[u32; 15], l: u64) -> Result<u64, Error> {
        let n = self.geometry.block_size / 4;
        let root = |i: usize| roots.get(i).copied().unwrap_or(0);
        let phys = if l < 12 {
            root(usize::try_from(l).unwrap_or(0))
        } else if l - 12 < n {
            self.indirect_ptr(root(12), l - 12)?
        } else if l - 12 - n < n * n {
            let r = l - 12 - n;
            let a = self.indirect_ptr(root(13), r / n)?;
            self.indirect_ptr(a, r % n)?
        } else if l - 12 - n - n * n < n * n * n {
            let r = l - 12 - n - n * n;
            let a = self.indirect_ptr(root(14), r / (n * n))?;
            let b = self.indirect_ptr(a, (r / n) % n)?;
            self.indirect_ptr(b, r % n)?
        } else {
            return Err(Error::corrupt("ext", "file block past the triple-indirect range", Location::block(l)));
        };
        let phys = u64::from(phys);
        if phys >= self.geometry.blocks {
            return Err(Error::corrupt("ext", "data block outside the filesystem", Location::block(phys)));
        }
        Ok(phys)
    }

    /// Loads the uncached blocks of `blocks` (0 and out-of-range entries skipped: the walk
    /// reports those) into the map cache with one vectored device call.
    fn load_nodes(&mut self, blocks: &[u64]) -> Result<(), Error> {
        let bs = usize::try_from(self.geometry.block_size).map_err(|_| Error::Io(IoError::OutOfRange))?;
        let mut want: Vec<u64> = Vec::new();
        for &b in blocks {
            if b != 0 && b < self.geometry.blocks && !self.map_cache.contains(b) && !want.contains(&b) {
                want.push(b);
            }
        }
        if want.is_empty() {
            return Ok(());
        }
        let pieces: Vec<(Option<u64>, usize)> =
            want.iter().map(|&b| (b.checked_mul(self.geometry.block_size), bs)).collect();
        let mut all = vec![0u8; bs.saturating_mul(want.len())];
        {
            let mut s = self.dev.borrow_mut();
            let s = &mut *s;
            read_pieces(&mut *s.dev, &mut s.bounce, &pieces, &mut all, &mut []).map_err(Error::Io)?;
        }
        for (&b, chunk) in want.iter().zip(all.chunks_exact(bs)) {
            self.map_cache.insert(b, chunk.to_vec());
        }
        Ok(())
    }

    /// Pointers `a..=b` of indirect block `block` (which the caller loaded), zeros skipped.
    fn ptrs_of(&mut self, block: u32, a: u64, b: u64, out: &mut Vec<u64>) -> Result<(), Error> {
        let mut i = a;
        // At most `MAX_PREFETCH` pointers, and never past the block's own pointer count.
        while i <= b && out.len() < MAX_PREFETCH && i < self.geometry.block_size / 4 {
            let p = self.indirect_ptr(block, i)?;
            if p != 0 {
                out.push(u64::from(p));
            }
            i += 1;
        }
        Ok(())
    }

    /// Reads the indirect blocks that file blocks `first..=last` of a block-mapped file need,
    /// one tree level at a time, each level in one vectored call: the walk that follows then
    /// finds them cached instead of waiting for each one (ext2 with 1 KiB blocks has an
    /// indirect block every 256 KiB of data).
    fn prefetch_indirect(&mut self, roots: &[u32; 15], first: u64, last: u64) -> Result<(), Error> {
        let bottom = self.indirect_plan(roots, first, last)?;
        self.load_nodes(&bottom)
    }

    /// The indirect blocks that point at the data of file blocks `first..=last` (at most
    /// [`MAX_PREFETCH`]), after loading the levels above them (double and triple indirect
    /// blocks, usually cached already) one level per vectored call.
    fn indirect_plan(&mut self, roots: &[u32; 15], first: u64, last: u64) -> Result<Vec<u64>, Error> {
        let n = self.geometry.block_size / 4;
        let root = |i: usize| roots.get(i).copied().unwrap_or(0);
        let single = (12u64, 12 + n);
        let double = (single.1, single.1 + n * n);
        let triple = (double.1, double.1.saturating_add(n * n * n));
        let clip =
            |(lo, hi): (u64, u64)| (first < hi && last >= lo).then(|| (first.max(lo) - lo, last.min(hi - 1) - lo));
        let mut bottom = Vec::new();
        if clip(single).is_some() && root(12) != 0 {
            bottom.push(u64::from(root(12)));
        }
        let dbl = clip(double);
        let tri = clip(triple);
        let mut upper = Vec::new();
        if dbl.is_some() {
            upper.push(u64::from(root(13)));
        }
        if tri.is_some() {
            upper.push(u64::from(root(14)));
        }
        self.load_nodes(&upper)?;
        if let Some((a, b)) = dbl {
            self.ptrs_of(root(13), a / n, b / n, &mut bottom)?;
        }
        if let Some((a, b)) = tri {
            let mut dinds = Vec::new();
            self.ptrs_of(root(14), a / (n * n), b / (n * n), &mut dinds)?;
            self.load_nodes(&dinds)?;
            let (ta, tb) = (a / (n * n), b / (n * n));
            let mut t = ta;
            // One pass per double-indirect block of the range, within the prefetch budget.
            while t <= tb && bottom.len() < MAX_PREFETCH {
                let dind = self.indirect_ptr(root(14), t)?;
                let from = if t == ta { (a / n) % n } else { 0 };
                let to = if t == tb { (b / n) % n } else { n - 1 };
                self.ptrs_of(dind, from, to, &mut bottom)?;
                t += 1;
            }
        }
        Ok(bottom)
    }

    /// The run of a block-mapped file starting at file block `l`, at most `max` blocks.
    fn blocks_run(&mut self, roots: &[u32; 15], l: u64, max: u64) -> Result<Run, Error> {
        let first = self.map_block(roots, l)?;
        let mut count = 1u64;
        // Bounded by `max` (the blocks the caller still wants).
        while count < max {
            let Some(next_l) = l.checked_add(count) else { break };
            let next = self.map_block(roots, next_l)?;
            let continues = if first == 0 { next == 0 } else { first.checked_add(count) == Some(next) };
            if !continues {
                break;
            }
            count += 1;
        }
        Ok(if first == 0 { Run::Zero { blocks: count } } else { Run::Data { phys: first, blocks: count } })
    }

    /// The run of an extent-mapped file that holds file block `l`, from `l` on.
    fn extents_run(&mut self, root: &[u8; 60], l: u64) -> Result<Run, Error> {
        let bad = |what: &str| Error::corrupt("ext", what, Location::block(l));
        let mut node: Vec<u8> = root.to_vec();
        // File blocks at and above `upper` belong to a later subtree: a hole ends there.
        let mut upper = 1u64 << 32;
        let mut want_depth: Option<u16> = None;
        // Each level goes one deeper; the depth is checked against the parent's, so at most
        // MAX_EXTENT_DEPTH + 1 nodes are visited.
        for _ in 0..=MAX_EXTENT_DEPTH {
            let magic = u16_at(&node, 0);
            let entries = usize::from(u16_at(&node, 2));
            let max = usize::from(u16_at(&node, 4));
            let depth = u16_at(&node, 6);
            if magic != EXTENT_MAGIC {
                return Err(bad("extent node without its magic"));
            }
            if depth > MAX_EXTENT_DEPTH || want_depth.is_some_and(|d| d != depth) {
                return Err(bad("extent tree depth"));
            }
            if entries > max || 12 + 12 * entries > node.len() {
                return Err(bad("extent node entry count"));
            }
            let entry = |i: usize| node.get(12 + 12 * i..24 + 12 * i).unwrap_or_default();
            if depth == 0 {
                for i in 0..entries {
                    let e = entry(i);
                    let start = u64::from(u32_at(e, 0));
                    let raw_len = u16_at(e, 4);
                    let (len, unwritten) = if raw_len > EXTENT_INIT_MAX {
                        (u64::from(raw_len - EXTENT_INIT_MAX), true)
                    } else {
                        (u64::from(raw_len), false)
                    };
                    if len == 0 {
                        return Err(bad("empty extent"));
                    }
                    if l < start {
                        return Ok(Run::Zero { blocks: start.min(upper).saturating_sub(l).max(1) });
                    }
                    let end = start + len;
                    if l < end {
                        let blocks = end - l;
                        if unwritten {
                            return Ok(Run::Zero { blocks });
                        }
                        let phys = (u64::from(u16_at(e, 6)) << 32) | u64::from(u32_at(e, 8));
                        let phys = phys.checked_add(l - start).ok_or_else(|| bad("extent start"))?;
                        if phys.checked_add(blocks).is_none_or(|e| e > self.geometry.blocks) || phys == 0 {
                            return Err(Error::corrupt("ext", "extent outside the filesystem", Location::block(phys)));
                        }
                        return Ok(Run::Data { phys, blocks });
                    }
                }
                return Ok(Run::Zero { blocks: upper.saturating_sub(l).max(1) });
            }
            // Index node: the last entry starting at or before `l`.
            let mut pick = None;
            for i in 0..entries {
                if u64::from(u32_at(entry(i), 0)) <= l {
                    pick = Some(i);
                } else {
                    break;
                }
            }
            let Some(i) = pick else {
                let first = if entries > 0 { u64::from(u32_at(entry(0), 0)) } else { upper };
                return Ok(Run::Zero { blocks: first.min(upper).saturating_sub(l).max(1) });
            };
            if i + 1 < entries {
                upper = upper.min(u64::from(u32_at(entry(i + 1), 0)));
            }
            let e = entry(i);
            let child = (u64::from(u16_at(e, 8)) << 32) | u64::from(u32_at(e, 4));
            node = self.map_node(child, "extent tree node")?.to_vec();
            want_depth = Some(depth - 1);
        }
        Err(bad("extent tree deeper than 5"))
    }

    /// Reads a file we map ourselves: each run on disk is one device request (all of them
    /// handed to the device together), holes are zeros.
    fn read_mapped(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize, Error> {
        let Some((size, kind)) = self.map.as_ref().map(|m| (m.size, m.kind)) else {
            return Ok(0);
        };
        if offset >= size || buf.is_empty() {
            return Ok(0);
        }
        let bs = self.geometry.block_size.max(1);
        let len = usize::try_from(size - offset).unwrap_or(usize::MAX).min(buf.len());
        if let MapKind::Blocks(roots) = kind {
            let last = (offset + len as u64 - 1) / bs;
            self.prefetch_indirect(&roots, offset / bs, last)?;
        }
        // (byte address on the device or None for zeros, bytes), in file order.
        let mut pieces: Vec<(Option<u64>, usize)> = Vec::new();
        let mut done = 0usize;
        // Each pass consumes at least one byte (a run has at least one block).
        while done < len {
            let pos = offset + done as u64;
            let within = pos % bs;
            let left = (len - done) as u64;
            let want = within.saturating_add(left).div_ceil(bs);
            let run = match kind {
                MapKind::Blocks(roots) => self.blocks_run(&roots, pos / bs, want)?,
                MapKind::Extents(root) => self.extents_run(&root, pos / bs)?,
            };
            let (addr, blocks) = match run {
                Run::Data { phys, blocks } => (Some(phys), blocks),
                Run::Zero { blocks } => (None, blocks),
            };
            let n = blocks.saturating_mul(bs).saturating_sub(within).min(left);
            let n = usize::try_from(n).map_err(|_| Error::Io(IoError::OutOfRange))?.max(1).min(len - done);
            let addr = match addr {
                Some(phys) => Some(
                    phys.checked_mul(bs).and_then(|a| a.checked_add(within)).ok_or(Error::Io(IoError::OutOfRange))?,
                ),
                None => None,
            };
            match (pieces.last_mut(), addr) {
                // Adjacent on disk (two extents, or a run cut by `want`): one piece.
                (Some((Some(prev), prev_len)), Some(a)) if prev.checked_add(*prev_len as u64) == Some(a) => {
                    *prev_len += n;
                }
                (Some((None, prev_len)), None) => *prev_len += n,
                _ => pieces.push((addr, n)),
            }
            done += n;
        }
        // Sequential loading: the indirect blocks of the next stretch of the same length go
        // to the device together with this stretch's data, so the next call finds them cached
        // and costs one round of requests instead of two.
        let mut ahead: Vec<u64> = Vec::new();
        if let MapKind::Blocks(roots) = kind {
            let next_first = (offset + len as u64).div_ceil(bs);
            let next_last =
                next_first.saturating_add((len as u64).div_ceil(bs)).min(size.div_ceil(bs)).saturating_sub(1);
            if next_first <= next_last {
                ahead = self.indirect_plan(&roots, next_first, next_last)?;
                ahead.retain(|&b| b < self.geometry.blocks && !self.map_cache.contains(b));
                ahead.dedup();
            }
        }
        let bsz = usize::try_from(bs).map_err(|_| Error::Io(IoError::OutOfRange))?;
        let mut ahead_buf = vec![0u8; bsz.saturating_mul(ahead.len())];
        {
            let mut s = self.dev.borrow_mut();
            let s = &mut *s;
            let mut extra: Vec<(u64, &mut [u8])> = ahead
                .iter()
                .zip(ahead_buf.chunks_exact_mut(bsz))
                .filter_map(|(&b, chunk)| Some((b.checked_mul(bs)?, chunk)))
                .collect();
            let dst = buf.get_mut(..len).ok_or(Error::Io(IoError::OutOfRange))?;
            if read_pieces(&mut *s.dev, &mut s.bounce, &pieces, dst, &mut extra).is_err() {
                // The read-ahead must not fail this read: again without it.
                ahead.clear();
                read_pieces(&mut *s.dev, &mut s.bounce, &pieces, dst, &mut []).map_err(Error::Io)?;
            }
        }
        // Only blocks read whole are kept (see `read_pieces`: unaligned ones are skipped).
        let ss = self.dev.borrow().dev.block_size();
        for (&b, chunk) in ahead.iter().zip(ahead_buf.chunks_exact(bsz)) {
            if (b * bs).is_multiple_of(u64::from(ss)) && bs.is_multiple_of(u64::from(ss)) {
                self.map_cache.insert(b, chunk.to_vec());
            }
        }
        Ok(len)
    }

    fn metadata_for(&mut self, path: &str, meta: &ext4_view::Metadata) -> Metadata {
        let id = self.nodes.id_for(path);
        Metadata { id, file_type: file_type_of(meta), size: meta.len() }
    }
}

impl Filesystem for Ext {
    fn info(&self) -> FsInfo {
        self.info.clone()
    }

    fn root(&self) -> NodeId {
        ROOT
    }

    fn lookup(&mut self, path: &str) -> Result<Metadata, Error> {
        let (path, meta) = self.resolve(path, true)?;
        Ok(self.metadata_for(&path, &meta))
    }

    fn lookup_nofollow(&mut self, path: &str) -> Result<Metadata, Error> {
        let (path, meta) = self.resolve(path, false)?;
        Ok(self.metadata_for(&path, &meta))
    }

    fn metadata(&mut self, id: NodeId) -> Result<Metadata, Error> {
        let path = self.nodes.path(id)?;
        let meta = self.meta_of(&path)?;
        Ok(Metadata { id, file_type: file_type_of(&meta), size: meta.len() })
    }

    fn read_at(&mut self, id: NodeId, offset: u64, buf: &mut [u8]) -> Result<usize, Error> {
        if self.map.as_ref().is_some_and(|m| m.id == id) {
            return self.read_mapped(offset, buf);
        }
        // Keep the open file only when reading on from where it is (sequential loading);
        // going backwards means opening the file again (see `skip_to` for why).
        let mut file = match self.open.take() {
            Some((open_id, file)) if open_id == id && file.position() <= offset => file,
            _ => {
                let path = self.nodes.path(id)?;
                let meta = self.meta_of(&path)?;
                match file_type_of(&meta) {
                    FileType::Directory => return Err(Error::IsADirectory),
                    FileType::Symlink => {
                        return Err(Error::Unsupported(
                            "ext: read_at on a symbolic link (look the path up to follow it)".into(),
                        ))
                    }
                    _ => {}
                }
                self.fs.open(path.as_str()).map_err(map_err)?
            }
        };
        let size = file.metadata().len();
        // ext4-view found and checked the file; we read its data ourselves unless the journal
        // still has to be replayed (only ext4-view's replayed view of the metadata is current)
        // or the inode is one we do not map (inline data).
        if !self.geometry.needs_recovery {
            if let Some(ino) = inode_number(&file) {
                match self.file_map(id, ino, size) {
                    Ok(m) => {
                        self.map = Some(m);
                        return self.read_mapped(offset, buf);
                    }
                    Err(e) => log::debug!("ext: inode {ino} read through ext4-view: {e}"),
                }
            }
        }
        if offset >= size || buf.is_empty() {
            self.open = Some((id, file));
            return Ok(0);
        }
        match read_file(&mut file, offset, buf) {
            Ok(n) => {
                self.open = Some((id, file));
                Ok(n)
            }
            // ext4-view 1.0 cannot read a hole over a whole indirect block: read this file
            // with our own block-map walk from now on.
            Err(e) if is_zero_indirect(&e) => match inode_number(&file) {
                Some(ino) => {
                    self.map = Some(self.file_map(id, ino, size)?);
                    self.read_mapped(offset, buf)
                }
                None => Err(map_read_err(e)),
            },
            // After any error the `File` is dropped: ext4-view's block iterator is finished
            // then, and another `read_bytes` would unwrap its `None`.
            Err(e) => Err(map_read_err(e)),
        }
    }

    fn read_dir_limit(&mut self, id: NodeId, max: usize) -> Result<Vec<DirEntry>, Error> {
        let path = self.nodes.path(id)?;
        let meta = self.meta_of(&path)?;
        Self::check_dir(&meta)?;
        let mut out = Vec::new();
        let iter = self.fs.read_dir(path.as_str()).map_err(map_err)?;
        for entry in iter.take(max) {
            let entry = entry.map_err(map_err)?;
            let name = String::from_utf8_lossy(entry.file_name().as_ref()).into_owned();
            let ft = entry.file_type().map_err(map_err)?;
            let file_type = if ft.is_regular_file() {
                FileType::File
            } else if ft.is_dir() {
                FileType::Directory
            } else if ft.is_symlink() {
                FileType::Symlink
            } else {
                FileType::Other
            };
            let id = match name.as_str() {
                "." => id,
                ".." => self.nodes.id_for(parent_of(&path)),
                _ => self.nodes.id_for(&join(&path, &name)),
            };
            out.push(DirEntry { name, id, file_type });
        }
        Ok(out)
    }

    /// A file's data blocks hold its bytes as they are (no data checksums, no compression);
    /// not while the journal needs replaying: the current bytes may then be a journal copy,
    /// and a replay would overwrite a rewrite.
    fn in_place_writes(&self) -> bool {
        !self.geometry.needs_recovery
    }
    fn read_link(&mut self, id: NodeId) -> Result<String, Error> {
        let path = self.nodes.path(id)?;
        let meta = self.meta_of(&path)?;
        if !meta.is_symlink() {
            return Err(Error::InvalidPath(format!("ext: {path} is not a symbolic link")));
        }
        if meta.len() > MAX_LINK_LEN as u64 {
            return Err(Error::TooLarge { requested: meta.len(), limit: MAX_LINK_LEN as u64 });
        }
        let target = self.fs.read_link(path.as_str()).map_err(map_err)?;
        Ok(String::from_utf8_lossy(target.as_ref()).into_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::MemDisk;

    #[test]
    fn no_magic_is_not_recognized() {
        let disk = MemDisk::new(vec![0u8; 64 * 1024], 512);
        assert_eq!(Ext::open(Box::new(disk)).err(), Some(Error::NotRecognized));
        let tiny = MemDisk::new(vec![0u8; 1024], 512);
        assert_eq!(Ext::open(Box::new(tiny)).err(), Some(Error::NotRecognized));
    }

    fn sb_disk(edit: impl FnOnce(&mut [u8])) -> MemDisk {
        let mut data = vec![0u8; 64 * 1024];
        let sb = &mut data[1024..2048];
        sb[0x38..0x3A].copy_from_slice(&EXT_MAGIC.to_le_bytes());
        sb[0x4C] = 1;
        sb[0x60] = INCOMPAT_FILETYPE as u8;
        sb[0x04] = 64; // 64 blocks of 1 KiB
        sb[0x20] = 64;
        edit(sb);
        MemDisk::new(data, 512)
    }

    fn unsupported_msg(disk: MemDisk) -> String {
        match Ext::open(Box::new(disk)) {
            Err(Error::Unsupported(m)) => m,
            other => panic!("expected Unsupported, got {other:?}"),
        }
    }

    #[test]
    fn refusals_are_named() {
        assert!(unsupported_msg(sb_disk(|sb| sb[0x4C] = 0)).contains("revision-0"));
        assert!(unsupported_msg(sb_disk(|sb| sb[0x60] = 0)).contains("filetype"));
        let m = unsupported_msg(sb_disk(|sb| sb[0x61] = 0x80)); // 0x8000 inline_data
        assert!(m.contains("inline_data"), "{m}");
        let m = unsupported_msg(sb_disk(|sb| sb[0x63] = 0x80)); // unknown high bit
        assert!(m.contains("unknown(0x80000000)"), "{m}");
    }

    #[test]
    fn filesystem_larger_than_device_is_corrupt() {
        let disk = sb_disk(|sb| sb[0x06] = 1); // 64 Ki blocks on a 64 KiB disk
        assert!(matches!(Ext::open(Box::new(disk)), Err(Error::Corrupt(_))));
    }

    #[test]
    fn unaligned_reads_span_sectors() {
        let data: Vec<u8> = (0..8192u32).map(|i| (i % 251) as u8).collect();
        for ss in [512u32, 4096] {
            let mut r = DevReader::new(Box::new(MemDisk::new(data.clone(), ss)));
            for (start, len) in [(0usize, 8192usize), (1, 10), (510, 1030), (1024, 4096), (4000, 4192), (8191, 1)] {
                let mut buf = vec![0u8; len];
                r.read_bytes(start as u64, &mut buf).unwrap();
                assert_eq!(&buf[..], &data[start..start + len], "ss {ss} start {start} len {len}");
            }
            let mut buf = [0u8; 2];
            assert_eq!(r.read_bytes(8191, &mut buf), Err(IoError::OutOfRange));
        }
    }

    #[test]
    fn path_helpers() {
        assert_eq!(parent_of("/"), "/");
        assert_eq!(parent_of("/a"), "/");
        assert_eq!(parent_of("/a/b"), "/a");
        assert_eq!(join("/", "a"), "/a");
        assert_eq!(join("/a", "b"), "/a/b");
    }
}
