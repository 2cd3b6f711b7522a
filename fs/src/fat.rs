//! FAT12/16/32 with long names through `fatfs` (lamfat), read-only, case-insensitive.
//!
//! fatfs parses the boot sector, directories and long names. Around it:
//! - a cheap probe ([`Error::NotRecognized`] without a boot signature and a sane BPB);
//! - an I/O adapter with a few cached 4 KiB windows (fatfs reads directory entries 32 bytes and
//!   FAT entries 2–4 bytes at a time) that refuses writes and counts reads: one operation may
//!   not read more than [`MAX_READS_PER_OP`] times, so a looping cluster chain or directory
//!   ends in an error instead of a hang;
//! - file data read without fatfs: the cluster chain is turned into runs as far as the reads so
//!   far reach (the target doubles, so a file read in order walks its chain about twice), never
//!   past the file size nor past the volume's cluster count (a longer chain visits a cluster
//!   twice: a loop, reported as corruption), the list grown fallibly; each `read_at` reads
//!   whole runs straight from the device into the caller's buffer;
//! - lookups of our own: FAT has no symlinks, so `.`/`..` are resolved lexically, and each
//!   component is matched without regard to case against the long name or the 8.3 name.

use alloc::boxed::Box;
use alloc::format;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

use hashbrown::HashMap;

use fatfs::{FatType, FileSystem, FsOptions, IoBase, Read, Seek, SeekFrom, Write};

use crate::block::BlockDevice;
use crate::error::{Error, IoError, Location};
use crate::ext::{join, parent_of, read_bytes, NodeTable, ROOT};
use crate::vfs::{DirEntry, FileType, Filesystem, FsInfo, Metadata, NodeId};

/// Most reads through fatfs in one public operation (a path lookup walks at most a few
/// directories of at most 65536 entries each).
pub const MAX_READS_PER_OP: u64 = 1 << 22;
/// A FAT directory holds at most 65536 32-byte entries.
const MAX_DIR_ENTRIES: usize = 65_536;
/// Most path components we walk.
const MAX_COMPONENTS: usize = 1024;
/// Size of one cached window of the device.
const WINDOW: usize = 4096;
/// Number of cached windows (FAT, directory, and a spare).
const WINDOWS: usize = 4;
/// Most lookup results remembered (the volume is read-only, so they never go stale).
const MAX_CACHED_LOOKUPS: usize = 4096;

/// Why the adapter refused a read or write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FatIoError {
    /// The device failed.
    Device(IoError),
    /// Too many reads in one operation: a loop in the on-disk structures.
    Budget,
    /// A write: the filesystem is read-only.
    ReadOnly,
    /// A read or seek past the end of the volume.
    Eof,
}

impl core::fmt::Display for FatIoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Device(e) => write!(f, "{e}"),
            Self::Budget => f.write_str("too many reads for one operation"),
            Self::ReadOnly => f.write_str("read-only"),
            Self::Eof => f.write_str("past the end of the volume"),
        }
    }
}

impl fatfs::IoError for FatIoError {
    fn is_interrupted(&self) -> bool {
        false
    }
    fn new_unexpected_eof_error() -> Self {
        Self::Eof
    }
    fn new_write_zero_error() -> Self {
        Self::ReadOnly
    }
}

/// The device and its small cache, shared by the fatfs adapter and our direct data reads.
struct Dev {
    dev: Box<dyn BlockDevice>,
    len: u64,
    bounce: Vec<u8>,
    /// Cached windows: (start byte, bytes); start is a multiple of the window size.
    windows: Vec<(u64, Vec<u8>)>,
    victim: usize,
    reads_left: u64,
}

impl Dev {
    fn window_size(&self) -> usize {
        usize::try_from(self.dev.block_size()).unwrap_or(WINDOW).max(WINDOW)
    }

    /// Copies bytes at `pos` from a cached window (loading it if needed); returns the count.
    fn read_cached(&mut self, pos: u64, dst: &mut [u8]) -> Result<usize, FatIoError> {
        let wsize = self.window_size();
        let wsize64 = wsize as u64;
        let start = pos - pos % wsize64;
        let idx = match self.windows.iter().position(|(s, _)| *s == start) {
            Some(i) => i,
            None => {
                // The last window may be short: read only up to the end of the device.
                let avail = usize::try_from(self.len.saturating_sub(start).min(wsize64)).unwrap_or(0);
                let mut buf = vec![0u8; avail];
                read_bytes(&mut *self.dev, &mut self.bounce, start, &mut buf).map_err(FatIoError::Device)?;
                if self.windows.len() < WINDOWS {
                    self.windows.push((start, buf));
                    self.windows.len() - 1
                } else {
                    let i = self.victim % WINDOWS;
                    self.victim = self.victim.wrapping_add(1);
                    if let Some(w) = self.windows.get_mut(i) {
                        *w = (start, buf);
                    }
                    i
                }
            }
        };
        let (_, data) = self.windows.get(idx).ok_or(FatIoError::Eof)?;
        let within = usize::try_from(pos - start).map_err(|_| FatIoError::Eof)?;
        let src = data.get(within..).ok_or(FatIoError::Eof)?;
        let n = src.len().min(dst.len());
        dst.get_mut(..n).ok_or(FatIoError::Eof)?.copy_from_slice(src.get(..n).ok_or(FatIoError::Eof)?);
        Ok(n)
    }
}

/// fatfs's view of the device: a cursor over shared [`Dev`].
struct FatIo {
    dev: Rc<RefCell<Dev>>,
    pos: u64,
}

impl IoBase for FatIo {
    type Error = FatIoError;
}

impl Read for FatIo {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, FatIoError> {
        let mut guard = self.dev.borrow_mut();
        let dev = &mut *guard;
        if dev.reads_left == 0 {
            return Err(FatIoError::Budget);
        }
        dev.reads_left -= 1;
        let left = dev.len.saturating_sub(self.pos);
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        if want == 0 {
            return Ok(0);
        }
        let dst = buf.get_mut(..want).ok_or(FatIoError::Eof)?;
        let n = if want >= 2 * WINDOW {
            // Large reads (fatfs reading file data) bypass the cache.
            read_bytes(&mut *dev.dev, &mut dev.bounce, self.pos, dst).map_err(FatIoError::Device)?;
            want
        } else {
            dev.read_cached(self.pos, dst)?
        };
        self.pos = self.pos.saturating_add(n as u64);
        Ok(n)
    }
}

impl Write for FatIo {
    fn write(&mut self, _buf: &[u8]) -> Result<usize, FatIoError> {
        Err(FatIoError::ReadOnly)
    }
    fn flush(&mut self) -> Result<(), FatIoError> {
        Ok(())
    }
}

impl Seek for FatIo {
    fn seek(&mut self, pos: SeekFrom) -> Result<u64, FatIoError> {
        let len = self.dev.borrow().len;
        let new = match pos {
            SeekFrom::Start(n) => Some(n),
            SeekFrom::Current(d) => self.pos.checked_add_signed(d),
            SeekFrom::End(d) => len.checked_add_signed(d),
        };
        match new {
            Some(n) if n <= len => {
                self.pos = n;
                Ok(n)
            }
            _ => Err(FatIoError::Eof),
        }
    }
}

fn map_err(e: fatfs::Error<FatIoError>) -> Error {
    match e {
        fatfs::Error::Io(FatIoError::Device(e)) => Error::Io(e),
        fatfs::Error::Io(FatIoError::Budget) => Error::corrupt(
            "fat",
            "too many reads for one operation (a loop in a cluster chain or directory?)",
            Location::default(),
        ),
        fatfs::Error::Io(FatIoError::ReadOnly) | fatfs::Error::WriteZero => {
            Error::Unsupported("fat: the filesystem is read-only".into())
        }
        fatfs::Error::Io(FatIoError::Eof) | fatfs::Error::UnexpectedEof => {
            Error::corrupt("fat", "structure reaches past the end of the volume", Location::default())
        }
        fatfs::Error::NotFound => Error::NotFound,
        fatfs::Error::CorruptedFileSystem => {
            Error::corrupt("fat", "invalid boot sector, FSInfo or directory entry", Location::default())
        }
        fatfs::Error::InvalidInput
        | fatfs::Error::InvalidFileNameLength
        | fatfs::Error::UnsupportedFileNameCharacter => Error::InvalidPath(format!("fat: {e}")),
        other => Error::Unsupported(format!("fat: {other}")),
    }
}

/// Checks the boot sector enough to tell FAT from anything else, without fatfs.
fn probe(sector: &[u8]) -> Result<(), Error> {
    let b = |i: usize| sector.get(i).copied().unwrap_or(0);
    let u16_at = |i: usize| u16::from_le_bytes([b(i), b(i + 1)]);
    let jump_ok = b(0) == 0xEB || b(0) == 0xE9;
    let sig_ok = b(510) == 0x55 && b(511) == 0xAA;
    let bps = u16_at(11);
    let spc = b(13);
    let bps_ok = matches!(bps, 512 | 1024 | 2048 | 4096);
    let spc_ok = spc != 0 && spc.is_power_of_two();
    let reserved_ok = u16_at(14) != 0;
    let fats_ok = b(16) != 0;
    if jump_ok && sig_ok && bps_ok && spc_ok && reserved_ok && fats_ok {
        Ok(())
    } else {
        Err(Error::NotRecognized)
    }
}

/// Compares names as FAT does: without regard to case.
fn name_eq(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    a.chars().flat_map(char::to_uppercase).eq(b.chars().flat_map(char::to_uppercase))
}

/// Splits and normalizes a path lexically (exact on FAT, which has no symlinks).
fn components(path: &str) -> Result<Vec<&str>, Error> {
    let mut out: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => {
                if out.len() >= MAX_COMPONENTS {
                    return Err(Error::InvalidPath("fat: too many path components".into()));
                }
                out.push(c);
            }
        }
    }
    Ok(out)
}

/// The lookup-cache key of normalized components: case folded like [`name_eq`].
fn cache_key(comps: &[&str]) -> String {
    let mut key = String::new();
    for c in comps {
        key.push('/');
        key.extend(c.chars().flat_map(char::to_uppercase));
    }
    key
}

/// What a lookup found.
#[derive(Clone, Debug)]
struct Node {
    path: String,
    dir: bool,
    size: u64,
}

/// The data runs of the file last read.
struct OpenFile {
    id: NodeId,
    size: u64,
    /// (byte offset on the volume, length), in file order.
    runs: Vec<(u64, u64)>,
    /// Bytes of the file the runs cover (less than `size` if the chain is short or has not
    /// been followed that far yet).
    covered: u64,
    /// The chain was followed to its end or to the file size: `covered` is final.
    complete: bool,
}

impl OpenFile {
    /// Whether the runs serve a read of the file up to byte `end`.
    fn serves(&self, id: NodeId, end: u64) -> bool {
        self.id == id && (self.complete || self.covered >= end.min(self.size))
    }
}

type Fs = FileSystem<FatIo>;

/// A FAT12/16/32 filesystem on a block device.
pub struct Fat {
    fs: Fs,
    dev: Rc<RefCell<Dev>>,
    info: FsInfo,
    /// Data clusters on the volume: no cluster chain without a loop is longer.
    clusters: u64,
    nodes: NodeTable,
    open: Option<OpenFile>,
    /// Lookup results by upper-cased normalized path.
    lookups: HashMap<String, Node>,
}

impl core::fmt::Debug for Fat {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Fat").field("info", &self.info).finish_non_exhaustive()
    }
}

impl Fat {
    /// Opens the FAT filesystem on `dev`.
    ///
    /// # Errors
    /// [`Error::NotRecognized`] without a boot signature and a plausible BPB; corruption or
    /// I/O.
    pub fn open(mut dev: Box<dyn BlockDevice>) -> Result<Self, Error> {
        let len = dev.num_blocks().saturating_mul(u64::from(dev.block_size()));
        if len < 512 {
            return Err(Error::NotRecognized);
        }
        let mut bounce = Vec::new();
        let mut boot = [0u8; 512];
        read_bytes(&mut *dev, &mut bounce, 0, &mut boot)?;
        probe(&boot)?;
        let shared = Rc::new(RefCell::new(Dev {
            dev,
            len,
            bounce,
            windows: Vec::new(),
            victim: 0,
            reads_left: MAX_READS_PER_OP,
        }));
        let io = FatIo { dev: Rc::clone(&shared), pos: 0 };
        let fs = FileSystem::new(io, FsOptions::new()).map_err(map_err)?;
        let kind = match fs.fat_type() {
            FatType::Fat12 => "fat12",
            FatType::Fat16 => "fat16",
            FatType::Fat32 => "fat32",
        };
        let label_bytes = fs.volume_label_as_bytes();
        let label: String = String::from_utf8_lossy(label_bytes).trim_end().into();
        let label = if label == "NO NAME" || label.is_empty() { None } else { Some(label) };
        let id = fs.volume_id();
        let info = FsInfo {
            kind: kind.into(),
            version: format!("{} bytes/sector", u16::from_le_bytes([boot[11], boot[12]])),
            block_size: fs.cluster_size(),
            fragment_size: 0,
            label,
            uuid: Some(format!("{:04X}-{:04X}", id >> 16, id & 0xFFFF)),
        };
        let clusters = data_clusters(&boot);
        Ok(Self { fs, dev: shared, info, clusters, nodes: NodeTable::new(), open: None, lookups: HashMap::new() })
    }

    /// Starts a public operation: a fresh read budget.
    fn begin(&self) {
        self.dev.borrow_mut().reads_left = MAX_READS_PER_OP;
    }

    /// Walks `comps` from the root, matching names without regard to case, and hands the
    /// entry found (None for the root) to `f`.
    fn walk<R>(
        &self,
        comps: &[&str],
        f: impl FnOnce(
            Option<&fatfs::DirEntry<'_, FatIo, fatfs::DefaultTimeProvider, fatfs::LossyOemCpConverter>>,
        ) -> Result<R, Error>,
    ) -> Result<(String, R), Error> {
        let mut dir = self.fs.root_dir();
        let mut path = String::from("/");
        let Some((last, parents)) = comps.split_last() else {
            return Ok((path, f(None)?));
        };
        for comp in parents {
            let entry = Self::find(&dir, comp)?;
            if !entry.is_dir() {
                return Err(Error::NotADirectory);
            }
            path = join(&path, &entry.file_name());
            dir = entry.to_dir();
        }
        let entry = Self::find(&dir, last)?;
        let path = join(&path, &entry.file_name());
        Ok((path, f(Some(&entry))?))
    }

    fn find<'a>(
        dir: &fatfs::Dir<'a, FatIo, fatfs::DefaultTimeProvider, fatfs::LossyOemCpConverter>,
        name: &str,
    ) -> Result<fatfs::DirEntry<'a, FatIo, fatfs::DefaultTimeProvider, fatfs::LossyOemCpConverter>, Error> {
        for entry in dir.iter().take(MAX_DIR_ENTRIES) {
            let entry = entry.map_err(map_err)?;
            if name_eq(&entry.file_name(), name) || name_eq(&entry.short_file_name(), name) {
                return Ok(entry);
            }
        }
        Err(Error::NotFound)
    }

    fn node(&mut self, path: &str) -> Result<Node, Error> {
        let comps = components(path)?;
        let key = cache_key(&comps);
        if let Some(node) = self.lookups.get(&key) {
            return Ok(node.clone());
        }
        let (path, (dir, size)) =
            self.walk(&comps, |e| Ok(e.map_or((true, 0), |e| (e.is_dir(), if e.is_dir() { 0 } else { e.len() }))))?;
        let node = Node { path, dir, size };
        self.remember(key, node.clone());
        Ok(node)
    }

    fn remember(&mut self, key: String, node: Node) {
        if self.lookups.len() >= MAX_CACHED_LOOKUPS {
            self.lookups.clear();
        }
        self.lookups.insert(key, node);
    }

    fn metadata_for(&mut self, node: &Node) -> Metadata {
        let id = self.nodes.id_for(&node.path);
        let file_type = if node.dir { FileType::Directory } else { FileType::File };
        Metadata { id, file_type, size: node.size }
    }

    /// The data runs of the file at `path` up to byte `target` (at most the file size),
    /// following the cluster chain only that far.
    ///
    /// # Errors
    /// A chain longer than the volume's clusters (a loop), no memory for the runs, I/O.
    fn open_file(&self, id: NodeId, path: &str, target: u64) -> Result<OpenFile, Error> {
        let comps = components(path)?;
        let cluster = u64::from(self.fs.cluster_size().max(1));
        let max_chain = self.clusters;
        let (_, file) = self.walk(&comps, |e| {
            let e = e.ok_or(Error::IsADirectory)?;
            if e.is_dir() {
                return Err(Error::IsADirectory);
            }
            let size = e.len();
            // A file cannot hold more than the volume's data area: a bigger size is a lie
            // (a hostile entry, often over a looping chain), refused before any read.
            let data_bytes = max_chain.saturating_mul(cluster);
            if size > data_bytes {
                return Err(Error::corrupt(
                    "fat",
                    format!("{path} claims {size} bytes, more than the volume's {data_bytes}-byte data area"),
                    Location::offset(0),
                ));
            }
            let needed = target.min(size).div_ceil(cluster);
            let mut runs: Vec<(u64, u64)> = Vec::new();
            let mut covered = 0u64;
            let mut ended = true;
            let mut file = e.to_file();
            for (walked, extent) in (0u64..).zip(file.extents()) {
                if walked == needed {
                    ended = false;
                    break;
                }
                if walked == max_chain {
                    return Err(Error::corrupt(
                        "fat",
                        format!("cluster chain of {path} is longer than the volume's {max_chain} clusters (a loop)"),
                        Location::offset(covered),
                    ));
                }
                let extent = extent.map_err(map_err)?;
                let len = u64::from(extent.size);
                if len == 0 {
                    break;
                }
                match runs.last_mut() {
                    Some((start, run_len)) if start.checked_add(*run_len) == Some(extent.offset) => *run_len += len,
                    _ => crate::mem::push(&mut runs, (extent.offset, len))?,
                }
                covered = covered.saturating_add(len);
            }
            Ok(OpenFile { id, size, runs, covered, complete: ended || covered >= size })
        })?;
        Ok(file)
    }
}

/// Data clusters of the volume by its BPB (Microsoft's FAT specification: the sectors after
/// the reserved area, the FATs and the FAT12/16 root directory, divided by the cluster size).
fn data_clusters(boot: &[u8; 512]) -> u64 {
    let u16_at = |i: usize| u64::from(u16::from_le_bytes([boot[i], boot[i + 1]]));
    let u32_at = |i: usize| u64::from(u32::from_le_bytes([boot[i], boot[i + 1], boot[i + 2], boot[i + 3]]));
    let bps = u16_at(11).max(1);
    let spc = u64::from(boot[13]).max(1);
    let root_sectors = (u16_at(17) * 32).div_ceil(bps);
    let fat_size = if u16_at(22) != 0 { u16_at(22) } else { u32_at(36) };
    let total = if u16_at(19) != 0 { u16_at(19) } else { u32_at(32) };
    let meta = u16_at(14) + u64::from(boot[16]) * fat_size + root_sectors;
    total.saturating_sub(meta) / spc
}

impl Filesystem for Fat {
    fn info(&self) -> FsInfo {
        self.info.clone()
    }

    fn root(&self) -> NodeId {
        ROOT
    }

    fn lookup(&mut self, path: &str) -> Result<Metadata, Error> {
        self.begin();
        let node = self.node(path)?;
        Ok(self.metadata_for(&node))
    }

    fn lookup_nofollow(&mut self, path: &str) -> Result<Metadata, Error> {
        self.lookup(path)
    }

    fn metadata(&mut self, id: NodeId) -> Result<Metadata, Error> {
        self.begin();
        let path = self.nodes.path(id)?;
        let node = self.node(&path)?;
        let file_type = if node.dir { FileType::Directory } else { FileType::File };
        Ok(Metadata { id, file_type, size: node.size })
    }

    fn read_at(&mut self, id: NodeId, offset: u64, buf: &mut [u8]) -> Result<usize, Error> {
        self.begin();
        let end = offset.saturating_add(buf.len() as u64);
        let file = match self.open.take() {
            Some(f) if f.serves(id, end) => f,
            last => {
                // Read ahead of this read by as much as was mapped before: a file read in
                // order has its chain walked about twice, not once per read.
                let ahead = last.filter(|f| f.id == id).map_or(0, |f| f.covered.saturating_mul(2));
                let path = self.nodes.path(id)?;
                self.open_file(id, &path, end.max(ahead))?
            }
        };
        let result = read_runs(&mut self.dev.borrow_mut(), &file, offset, buf);
        self.open = Some(file);
        result
    }

    fn read_dir_limit(&mut self, id: NodeId, max: usize) -> Result<Vec<DirEntry>, Error> {
        self.begin();
        let path = self.nodes.path(id)?;
        let comps = components(&path)?;
        let (canonical, list) = self.walk(&comps, |e| {
            let dir = match e {
                None => self.fs.root_dir(),
                Some(e) if e.is_dir() => e.to_dir(),
                Some(_) => return Err(Error::NotADirectory),
            };
            let mut list = Vec::new();
            for entry in dir.iter().take(MAX_DIR_ENTRIES.min(max)) {
                let entry = entry.map_err(map_err)?;
                let size = if entry.is_dir() { 0 } else { entry.len() };
                list.push((entry.file_name(), entry.is_dir(), size));
            }
            Ok(list)
        })?;
        let mut out = Vec::with_capacity(list.len());
        for (name, dir, size) in list {
            let file_type = if dir { FileType::Directory } else { FileType::File };
            let id = match name.as_str() {
                "." => id,
                ".." => self.nodes.id_for(parent_of(&canonical)),
                _ => {
                    let path = join(&canonical, &name);
                    if !name.contains('/') {
                        if let Ok(comps) = components(&path) {
                            self.remember(cache_key(&comps), Node { path: path.clone(), dir, size });
                        }
                    }
                    self.nodes.id_for(&path)
                }
            };
            out.push(DirEntry { name, id, file_type });
        }
        Ok(out)
    }

    /// A file's data blocks hold its bytes as they are (no data checksums, no compression).
    fn in_place_writes(&self) -> bool {
        true
    }
    fn read_link(&mut self, _id: NodeId) -> Result<String, Error> {
        Err(Error::Unsupported("fat: no symbolic links on FAT".into()))
    }
}

/// Copies file bytes at `offset` into `buf` from the runs, one device read per run touched.
fn read_runs(dev: &mut Dev, file: &OpenFile, offset: u64, buf: &mut [u8]) -> Result<usize, Error> {
    if offset >= file.size || buf.is_empty() {
        return Ok(0);
    }
    let want = usize::try_from(file.size - offset).unwrap_or(usize::MAX).min(buf.len());
    if offset.saturating_add(want as u64) > file.covered {
        return Err(Error::corrupt("fat", "cluster chain shorter than the file size", Location::offset(file.covered)));
    }
    let mut done = 0usize;
    let mut run_start = 0u64; // file offset of the current run
    for &(disk, len) in &file.runs {
        if done >= want {
            break;
        }
        let pos = offset + done as u64;
        let run_end = run_start + len;
        if pos < run_end {
            let within = pos - run_start;
            let n = usize::try_from(run_end - pos).unwrap_or(usize::MAX).min(want - done);
            let dst = buf.get_mut(done..done + n).ok_or(Error::Io(IoError::OutOfRange))?;
            let at = disk.checked_add(within).ok_or(Error::Io(IoError::OutOfRange))?;
            read_bytes(&mut *dev.dev, &mut dev.bounce, at, dst)?;
            done += n;
        }
        run_start = run_end;
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::block::MemDisk;

    #[test]
    fn not_fat_is_not_recognized() {
        let disk = MemDisk::new(vec![0u8; 64 * 1024], 512);
        assert_eq!(Fat::open(Box::new(disk)).err(), Some(Error::NotRecognized));
        // An MBR: signature, but no BPB.
        let mut mbr = vec![0u8; 64 * 1024];
        mbr[0] = 0xFA;
        mbr[510] = 0x55;
        mbr[511] = 0xAA;
        assert_eq!(Fat::open(Box::new(MemDisk::new(mbr, 512))).err(), Some(Error::NotRecognized));
        assert_eq!(Fat::open(Box::new(MemDisk::new(vec![0u8; 100], 512))).err(), Some(Error::NotRecognized));
    }

    #[test]
    fn names_compare_without_case() {
        assert!(name_eq("MixedCase.TXT", "mixedcase.txt"));
        assert!(name_eq("ünï", "ÜNÏ"));
        assert!(!name_eq("a", "b"));
    }

    #[test]
    fn components_are_lexical() {
        assert_eq!(components("/a/./b/../c/").unwrap(), vec!["a", "c"]);
        assert_eq!(components("/../..").unwrap(), Vec::<&str>::new());
    }

    #[test]
    fn runs_map_offsets() {
        let data: Vec<u8> = (0..16384u32).map(|i| (i % 253) as u8).collect();
        let mut dev = Dev {
            dev: Box::new(MemDisk::new(data.clone(), 512)),
            len: 16384,
            bounce: Vec::new(),
            windows: Vec::new(),
            victim: 0,
            reads_left: 10,
        };
        let file = OpenFile {
            id: NodeId(5),
            size: 3000,
            runs: vec![(8192, 2048), (1024, 2048)],
            covered: 4096,
            complete: true,
        };
        let mut buf = vec![0u8; 5000];
        assert_eq!(read_runs(&mut dev, &file, 0, &mut buf).unwrap(), 3000);
        assert_eq!(&buf[..2048], &data[8192..10240]);
        assert_eq!(&buf[2048..3000], &data[1024..1976]);
        assert_eq!(read_runs(&mut dev, &file, 2047, &mut buf[..2]).unwrap(), 2);
        assert_eq!(buf[..2], [data[10239], data[1024]]);
        let short = OpenFile { covered: 2048, ..file };
        assert!(matches!(read_runs(&mut dev, &short, 0, &mut buf), Err(Error::Corrupt(_))));
    }
}
