//! FFS image tests: images made by NetBSD `makefs` from the shared tree, read back through
//! [`fs::Filesystem`] and compared with the host tree (the oracle) byte for byte; superblock
//! relocation, UFS2EA magic, synthetic holes, seeded corruption and a > 1 GiB FFSv2 file.

use std::cell::Cell;
use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use fs::block::{check_request, FileDisk};
use fs::ffs::Ffs;
use fs::{BlockDevice, Error, FileType, Filesystem, IoError, Lba, MemDisk};
use testimages::ffs::{self as recipes, Image};
use testimages::tree::{self, Kind, ResolveError};

fn image(name: &str) -> Image {
    let recipe = recipes::recipe(name).unwrap_or_else(|| panic!("no FFS recipe {name}"));
    let dir = tree::images_dir();
    std::fs::create_dir_all(&dir).expect("create the images directory");
    recipes::build(&dir, &recipe).unwrap_or_else(|e| panic!("cannot build FFS image {name} (needs NetBSD makefs): {e}"))
}

fn open_path(path: &Path) -> Ffs {
    let disk = FileDisk::open(path).expect("open image");
    Ffs::open(Box::new(disk)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

use testimages::rng::Rng;

fn read_all(fs: &mut Ffs, id: fs::NodeId, size: u64, chunk: usize) -> Vec<u8> {
    let mut out = vec![0u8; usize::try_from(size).unwrap()];
    let mut done = 0usize;
    while done < out.len() {
        let end = (done + chunk).min(out.len());
        let n = fs.read_at(id, done as u64, &mut out[done..end]).unwrap();
        assert!(n > 0, "short read at {done} of {size}");
        done += n;
    }
    let mut extra = [0u8; 16];
    assert_eq!(fs.read_at(id, size, &mut extra).unwrap(), 0, "read past the end returns 0");
    out
}

/// Reads every file, directory and symlink of the image's tree through the trait and
/// compares it with the host tree.
fn check_tree(fs: &mut Ffs, root: &Path) {
    let entries = tree::walk(root).expect("walk the host tree");
    assert!(entries.len() > 10);
    let mut rng = Rng(0x5eed_0001);
    for e in &entries {
        let meta = fs.lookup_nofollow(&e.path).unwrap_or_else(|err| panic!("{}: {err}", e.path));
        match &e.kind {
            Kind::File => {
                assert_eq!(meta.file_type, FileType::File, "{}", e.path);
                assert_eq!(meta.size, e.size, "{}", e.path);
                let want = e.bytes().unwrap();
                let got = read_all(fs, meta.id, meta.size, 32 << 20);
                assert!(got == want, "{}: contents differ", e.path);
                // Unaligned reads at random offsets and lengths.
                if e.size > 1 {
                    for _ in 0..4 {
                        let off = rng.below(e.size);
                        let len = 1 + rng.below((e.size - off).min(3 * 65536 + 7));
                        let mut buf = vec![0u8; len as usize];
                        let n = fs.read_at(meta.id, off, &mut buf).unwrap();
                        assert_eq!(n as u64, len, "{} at {off}", e.path);
                        assert!(buf[..] == want[off as usize..(off + len) as usize], "{} at {off}+{len}", e.path);
                    }
                }
                assert_eq!(fs.lookup(&e.path).unwrap().id, meta.id);
            }
            Kind::Dir => {
                assert_eq!(meta.file_type, FileType::Directory, "{}", e.path);
                let listing = fs.read_dir(meta.id).unwrap_or_else(|err| panic!("{}: {err}", e.path));
                let names: BTreeSet<String> = listing.iter().map(|d| d.name.clone()).collect();
                assert_eq!(names.len(), listing.len(), "{}: duplicate names", e.path);
                let mut want: BTreeSet<String> = std::fs::read_dir(&e.host)
                    .unwrap()
                    .map(|d| d.unwrap().file_name().into_string().unwrap())
                    .collect();
                want.insert(".".into());
                want.insert("..".into());
                assert_eq!(names, want, "{}: listing", e.path);
                for d in &listing {
                    let child = fs.metadata(d.id).unwrap();
                    assert_eq!(child.file_type, d.file_type, "{}/{}", e.path, d.name);
                }
                let dot = listing.iter().find(|d| d.name == ".").unwrap();
                assert_eq!(dot.id, meta.id, "{}: '.'", e.path);
                assert_eq!(fs.read_at(meta.id, 0, &mut [0u8; 8]), Err(Error::IsADirectory));
            }
            Kind::Symlink(target) => {
                assert_eq!(meta.file_type, FileType::Symlink, "{}", e.path);
                assert_eq!(meta.size, target.len() as u64, "{}", e.path);
                assert_eq!(&fs.read_link(meta.id).unwrap(), target, "{}", e.path);
                let mut raw = vec![0u8; target.len() + 8];
                let n = fs.read_at(meta.id, 0, &mut raw).unwrap();
                assert_eq!(&raw[..n], target.as_bytes(), "{}: read_at of the link", e.path);
                let got = fs.lookup(&e.path);
                match tree::resolve(root, &e.path, true, fs::vfs::MAX_SYMLINK_HOPS) {
                    Ok(p) => {
                        let want = fs.lookup_nofollow(&p).unwrap();
                        assert_eq!(got, Ok(want), "{} -> {p}", e.path);
                    }
                    Err(ResolveError::NotFound) => {
                        assert_eq!(got, Err(Error::NotFound), "{}", e.path)
                    }
                    Err(ResolveError::NotADirectory) => {
                        assert_eq!(got, Err(Error::NotADirectory), "{}", e.path)
                    }
                    Err(ResolveError::Loop) => {
                        assert_eq!(got, Err(Error::SymlinkLoop), "{}", e.path)
                    }
                }
            }
        }
    }
    // Paths through '.', '..' and symlinks to directories, against the host resolver.
    for p in [
        "/deep/../sizes/./s-1",
        "/deep/d01/../d01/at-01",
        "/deep/d01/d02/d03/to-root/readme.txt",
        "/links/rel-dir/d01/../d01/d02",
        "/links/abs-dir/..",
        "/links/root/links/chain1",
        "/links/dot/dot/dot/abs-file",
        "/..",
        "/../readme.txt",
        "//sizes//s-1",
    ] {
        let got = fs.lookup(p);
        match tree::resolve(root, p, true, fs::vfs::MAX_SYMLINK_HOPS) {
            Ok(r) => assert_eq!(got, Ok(fs.lookup_nofollow(&r).unwrap()), "{p} -> {r}"),
            Err(e) => panic!("host cannot resolve {p}: {e:?}"),
        }
    }
    assert_eq!(fs.lookup("/no-such-file"), Err(Error::NotFound));
    assert_eq!(fs.lookup("/readme.txt/x"), Err(Error::NotADirectory));
    assert_eq!(fs.lookup(&format!("/{}", "x".repeat(300))), Err(Error::NotFound));
}

fn check_image(name: &str) {
    let img = image(name);
    let r = &img.recipe;
    let mut fs = open_path(&img.path);
    let info = fs.info();
    assert_eq!(info.kind, "ffs");
    assert_eq!(info.version, format!("FFSv{} {}", r.version, if r.big_endian { "be" } else { "le" }));
    assert_eq!((info.block_size, info.fragment_size), (r.bsize, r.fsize));
    assert_eq!(fs.superblock_offset(), 8192, "makefs puts the superblock at 8 KiB");
    check_tree(&mut fs, &img.tree);
}

macro_rules! image_tests {
    ($($test:ident => $name:expr,)*) => {$(
        #[test]
        fn $test() {
            check_image($name);
        }
    )*};
}

image_tests! {
    ffs1_4k_512_le => "ffs1-4k-512-le",
    ffs1_8k_1k_be => "ffs1-8k-1k-be",
    ffs1_16k_2k_le => "ffs1-16k-2k-le",
    ffs1_64k_8k_be => "ffs1-64k-8k-be",
    ffs1_32k_32k_le => "ffs1-32k-32k-le",
    ffs2_4k_512_be => "ffs2-4k-512-be",
    ffs2_8k_1k_le => "ffs2-8k-1k-le",
    ffs2_16k_2k_be => "ffs2-16k-2k-be",
    ffs2_32k_4k_le => "ffs2-32k-4k-le",
    ffs2_64k_8k_le => "ffs2-64k-8k-le",
    ffs2_8k_8k_be => "ffs2-8k-8k-be",
    ffs1_4k_1k_le => "ffs1-4k-1k-le",
    ffs2_16k_4k_be => "ffs2-16k-4k-be",
    ffs1_32k_16k_be => "ffs1-32k-16k-be",
    ffs2_4k_2k_le => "ffs2-4k-2k-le",
    ffs2_4k_4k_be => "ffs2-4k-4k-be",
    ffs1_64k_64k_le => "ffs1-64k-64k-le",
    ffs2_4k_512_le_inodes => "ffs2-4k-512-le-inodes",
    ffs1_4k_512_be_inodes => "ffs1-4k-512-be-inodes",
}

// ---------------------------------------------------------------------------------------
// Raw superblock fields, read here independently of the reader under test (fs.h offsets).

struct Raw {
    big: bool,
    v2: bool,
    fsize: u64,
    bsize: u64,
    iblkno: u64,
    ipg: u64,
    fpg: u64,
}

fn rd32(b: &[u8], off: usize, big: bool) -> u32 {
    let a: [u8; 4] = b[off..off + 4].try_into().unwrap();
    if big {
        u32::from_be_bytes(a)
    } else {
        u32::from_le_bytes(a)
    }
}

fn rd64(b: &[u8], off: usize, big: bool) -> u64 {
    let a: [u8; 8] = b[off..off + 8].try_into().unwrap();
    if big {
        u64::from_be_bytes(a)
    } else {
        u64::from_le_bytes(a)
    }
}

fn wr64(b: &mut [u8], off: usize, v: u64, big: bool) {
    b[off..off + 8].copy_from_slice(&if big { v.to_be_bytes() } else { v.to_le_bytes() });
}

fn wr32(b: &mut [u8], off: usize, v: u32, big: bool) {
    b[off..off + 4].copy_from_slice(&if big { v.to_be_bytes() } else { v.to_le_bytes() });
}

impl Raw {
    fn parse(img: &[u8], r: &recipes::Recipe) -> Self {
        let sb = &img[8192..16384];
        let big = r.big_endian;
        Raw {
            big,
            v2: r.version == 2,
            fsize: rd32(sb, 52, big).into(),
            bsize: rd32(sb, 48, big).into(),
            iblkno: rd32(sb, 16, big).into(),
            ipg: rd32(sb, 184, big).into(),
            fpg: rd32(sb, 188, big).into(),
        }
    }
    fn dinode_size(&self) -> u64 {
        if self.v2 {
            256
        } else {
            128
        }
    }
    /// Byte offset of inode `ino` (makefs: no UFS1 cylinder-group stagger).
    fn inode_off(&self, ino: u64) -> usize {
        let cg = ino / self.ipg;
        ((cg * self.fpg + self.iblkno) * self.fsize + (ino % self.ipg) * self.dinode_size()) as usize
    }
    /// Byte offset of block pointer `i` (0..12 direct, 12..15 indirect) in inode `ino`.
    fn ptr_off(&self, ino: u64, i: usize) -> usize {
        self.inode_off(ino) + if self.v2 { 112 + 8 * i } else { 40 + 4 * i }
    }
    fn ptr(&self, img: &[u8], ino: u64, i: usize) -> u64 {
        let off = self.ptr_off(ino, i);
        if self.v2 {
            rd64(img, off, self.big)
        } else {
            rd32(img, off, self.big).into()
        }
    }
    fn zero_ptr(&self, img: &mut [u8], ino: u64, i: usize) {
        let off = self.ptr_off(ino, i);
        let n = if self.v2 { 8 } else { 4 };
        img[off..off + n].fill(0);
    }
}

fn open_mem(bytes: Vec<u8>) -> Result<Ffs, Error> {
    Ffs::open(Box::new(MemDisk::new(bytes, 512)))
}

/// The superblock copied to 0, 64 KiB and 256 KiB (inside unused inodes) with the primary at
/// 8 KiB wiped: each location is found, and everything still reads back.
#[test]
fn superblock_search_locations() {
    for name in ["ffs2-4k-512-le-inodes", "ffs1-4k-512-be-inodes"] {
        let img = image(name);
        let bytes = std::fs::read(&img.path).unwrap();
        let raw = Raw::parse(&bytes, &img.recipe);
        let inodes = (raw.iblkno * raw.fsize) as usize..(raw.iblkno * raw.fsize + raw.ipg * raw.dinode_size()) as usize;
        for loc in [0usize, 65536, 262144] {
            if img.recipe.version == 1 && loc == 65536 {
                continue; // UFS1 there is taken for an alternate (checked below).
            }
            if loc != 0 {
                assert!(
                    inodes.contains(&loc) && inodes.contains(&(loc + 8191)),
                    "{name}: {loc} not in cg 0's inode table {inodes:?}"
                );
                let free = (loc..loc + 8192).step_by(raw.dinode_size() as usize).all(|i| bytes[i..i + 4] == [0; 4]);
                assert!(free, "{name}: inodes at {loc} are in use (mode or nlink set)");
            }
            let mut moved = bytes.clone();
            moved.copy_within(8192..16384, loc);
            wr64(&mut moved, loc + 1000, loc as u64, raw.big);
            moved[8192..16384].fill(0);
            let mut fs = open_mem(moved).unwrap_or_else(|e| panic!("{name} at {loc}: {e}"));
            assert_eq!(fs.superblock_offset(), loc as u64);
            check_tree(&mut fs, &img.tree);
        }
        // A copy at 64 KiB that names 8 KiB as the primary is an alternate: not used.
        let mut alt = bytes.clone();
        alt.copy_within(8192..16384, 65536);
        let fs = open_mem(alt.clone()).unwrap();
        assert_eq!(fs.superblock_offset(), 8192);
        alt[8192..16384].fill(0);
        assert!(open_mem(alt).is_err(), "{name}: an alternate alone must not mount");
    }
}

#[test]
fn ufs2ea_magic_reads_as_ffsv2ea() {
    for name in ["ffs2-4k-512-le-inodes", "ffs2-8k-8k-be"] {
        let img = image(name);
        let mut bytes = std::fs::read(&img.path).unwrap();
        let big = img.recipe.big_endian;
        wr32(&mut bytes, 8192 + 1372, 0x1901_2038, big);
        let mut fs = open_mem(bytes).unwrap();
        assert_eq!(fs.info().version, format!("FFSv2ea {}", if big { "be" } else { "le" }));
        check_tree(&mut fs, &img.tree);
    }
}

#[test]
fn not_ffs_is_not_recognized() {
    assert_eq!(open_mem(vec![0u8; 1 << 20]).err(), Some(Error::NotRecognized));
    assert_eq!(open_mem(vec![0u8; 4096]).err(), Some(Error::NotRecognized));
    let img = image("ffs2-8k-1k-le");
    let mut bytes = std::fs::read(&img.path).unwrap();
    wr32(&mut bytes, 8192 + 48, 3000, false); // fs_bsize not a power of two
    assert!(matches!(open_mem(bytes).err(), Some(Error::Corrupt(_))));
}

/// makefs writes no holes, so holes are made here by zeroing block pointers: the reader
/// must return zeros for exactly those blocks (the host file with the same bytes zeroed).
#[test]
fn zeroed_block_pointers_read_as_holes() {
    for name in ["ffs2-8k-1k-le", "ffs1-4k-512-le"] {
        let img = image(name);
        let bytes = std::fs::read(&img.path).unwrap();
        let raw = Raw::parse(&bytes, &img.recipe);
        let bs = raw.bsize;
        let starts = img.recipe.spec.indirect_starts();
        let path = format!("/sizes/s-{}", starts[1] + bs + 1);
        let want = std::fs::read(tree::host_path(&img.tree, &path)).unwrap();
        let ino = open_mem(bytes.clone()).unwrap().lookup(&path).unwrap().id;
        // Direct block 3, the single-indirect block and the double-indirect block.
        for (ptr, range) in [(3usize, 3 * bs..4 * bs), (12, starts[0]..starts[1]), (13, starts[1]..want.len() as u64)] {
            let mut holed = bytes.clone();
            assert_ne!(raw.ptr(&holed, ino.0, ptr), 0);
            raw.zero_ptr(&mut holed, ino.0, ptr);
            let mut fs = open_mem(holed).unwrap();
            let mut expect = want.clone();
            expect[range.start as usize..range.end as usize].fill(0);
            let got = read_all(&mut fs, ino, want.len() as u64, 1 << 20);
            assert!(got == expect, "{name} {path}: pointer {ptr} zeroed");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Corruption: seeded byte flips over an overlay of the image, every read bounded.

/// An image in memory with a few bytes overridden.
struct Patched {
    base: Arc<Vec<u8>>,
    patches: Vec<(usize, u8)>,
}

impl BlockDevice for Patched {
    fn block_size(&self) -> u32 {
        512
    }
    fn num_blocks(&self) -> u64 {
        self.base.len() as u64 / 512
    }
    fn read_blocks(&mut self, lba: Lba, buf: &mut [u8]) -> Result<(), IoError> {
        check_request(512, self.num_blocks(), lba, buf.len())?;
        let start = lba.0 as usize * 512;
        buf.copy_from_slice(&self.base[start..start + buf.len()]);
        for &(off, b) in &self.patches {
            if (start..start + buf.len()).contains(&off) {
                buf[off - start] = b;
            }
        }
        Ok(())
    }
}

/// Walks what the corrupted filesystem shows: every outcome must be data or an error.
fn exercise(fs: &mut Ffs, paths: &[String]) -> usize {
    let mut ok = 0;
    let mut buf = vec![0u8; 256 << 10];
    for p in paths {
        if let Ok(m) = fs.lookup(p) {
            ok += 1;
            let _ = fs.read_at(m.id, 0, &mut buf);
            let _ = fs.read_at(m.id, m.size.saturating_sub(70_000), &mut buf);
            let _ = fs.read_dir(m.id);
            let _ = fs.read_link(m.id);
        }
        if let Ok(m) = fs.lookup_nofollow(p) {
            let _ = fs.read_link(m.id);
            let _ = fs.metadata(m.id);
        }
    }
    // Directory walk from the root, bounded.
    let mut todo = vec![fs.root()];
    let mut seen = BTreeSet::new();
    while let Some(d) = todo.pop() {
        if !seen.insert(d) || seen.len() > 2000 {
            continue;
        }
        if let Ok(list) = fs.read_dir(d) {
            for e in list {
                if e.file_type == FileType::Directory {
                    todo.push(e.id);
                } else {
                    let _ = fs.read_at(e.id, 0, &mut buf[..4096]);
                }
            }
        }
    }
    ok
}

#[test]
fn corruption_never_panics_or_hangs() {
    for (name, seed) in [("ffs2-4k-512-le-inodes", 1u64), ("ffs1-4k-512-be-inodes", 2)] {
        let img = image(name);
        let bytes = std::fs::read(&img.path).unwrap();
        let raw = Raw::parse(&bytes, &img.recipe);
        let entries = tree::walk(&img.tree).unwrap();
        let paths: Vec<String> = entries.iter().map(|e| e.path.clone()).collect();
        // Target regions: superblock, inode table, directory blocks, indirect blocks.
        let mut fs = open_mem(bytes.clone()).unwrap();
        let mut dirs = Vec::new();
        let mut indirect = Vec::new();
        let mut double = 0;
        for e in &entries {
            let id = fs.lookup_nofollow(&e.path).unwrap().id.0;
            match e.kind {
                Kind::Dir => dirs.push(raw.ptr(&bytes, id, 0) * raw.fsize),
                Kind::File => {
                    for i in 12..15 {
                        let p = raw.ptr(&bytes, id, i);
                        if p != 0 {
                            indirect.push(p * raw.fsize);
                            if i == 13 {
                                // The first second-level block under the double indirect.
                                let at = (p * raw.fsize) as usize;
                                let q =
                                    if raw.v2 { rd64(&bytes, at, raw.big) } else { rd32(&bytes, at, raw.big).into() };
                                indirect.push(q * raw.fsize);
                                double += 1;
                            }
                        }
                    }
                }
                Kind::Symlink(_) => {}
            }
        }
        assert!(indirect.len() > 3 && double > 0, "{name}: the tree has files with single and double indirect blocks");
        let sb = 8192u64..8192 + 1376;
        let inodes = raw.iblkno * raw.fsize..raw.iblkno * raw.fsize + 64 * raw.dinode_size();
        let base = Arc::new(bytes);
        let mut rng = Rng(0x00c0_ffee ^ seed);
        let iterations = 500;
        let mut mounted = 0;
        let mut found = 0;
        for it in 0..iterations {
            let mut patches = Vec::new();
            let flips = 1 + rng.below(8);
            for _ in 0..flips {
                let off = match rng.below(5) {
                    4 => rng.below(base.len() as u64 / 4), // anywhere in the first quarter
                    0 => sb.start + rng.below(sb.end - sb.start),
                    1 => inodes.start + rng.below(inodes.end - inodes.start),
                    2 => dirs[rng.below(dirs.len() as u64) as usize] + rng.below(raw.bsize),
                    _ => indirect[rng.below(indirect.len() as u64) as usize] + rng.below(raw.bsize),
                } as usize;
                let val = if rng.below(3) == 0 { 0xff } else { rng.next() as u8 };
                patches.push((off, val));
            }
            let (tx, rx) = mpsc::channel();
            let (base2, paths2) = (Arc::clone(&base), paths.clone());
            let worker = std::thread::spawn(move || {
                let dev = Patched { base: base2, patches };
                let r = match Ffs::open(Box::new(dev)) {
                    Ok(mut fs) => (1, exercise(&mut fs, &paths2)),
                    Err(_) => (0, 0),
                };
                let _ = tx.send(r);
            });
            match rx.recv_timeout(Duration::from_secs(20)) {
                Ok((m, f)) => {
                    mounted += m;
                    found += f;
                }
                Err(_) => panic!("{name}: iteration {it} did not finish (hang or panic)"),
            }
            worker.join().expect("no panic");
        }
        eprintln!("{name}: {iterations} corrupted images, {mounted} mounted, {found} lookups succeeded");
        assert!(mounted > 0, "some corruptions must leave a mountable filesystem");
    }
}

// ---------------------------------------------------------------------------------------
// Throughput and the > 1 GiB triple-indirect file.

/// Counts device reads and bytes.
struct Counting<D> {
    inner: D,
    reads: Rc<Cell<u64>>,
}

impl<D: BlockDevice> BlockDevice for Counting<D> {
    fn block_size(&self) -> u32 {
        self.inner.block_size()
    }
    fn num_blocks(&self) -> u64 {
        self.inner.num_blocks()
    }
    fn read_blocks(&mut self, lba: Lba, buf: &mut [u8]) -> Result<(), IoError> {
        self.reads.set(self.reads.get() + 1);
        self.inner.read_blocks(lba, buf)
    }
}

fn open_counting(path: &Path) -> (Ffs, Rc<Cell<u64>>) {
    let reads = Rc::new(Cell::new(0));
    let dev = Counting { inner: FileDisk::open(path).unwrap(), reads: Rc::clone(&reads) };
    (Ffs::open(Box::new(dev)).unwrap(), reads)
}

/// Streams `path` from the image in `chunk`-byte reads and compares with the host file;
/// returns (MiB/s of the image reads alone, device reads per MiB).
fn stream_compare(img: &Path, host: &Path, path: &str, chunk: usize) -> (f64, f64) {
    let (mut fs, reads) = open_counting(img);
    let meta = fs.lookup(path).unwrap();
    let mut host = std::fs::File::open(host).unwrap();
    let mut a = vec![0u8; chunk];
    let mut b = vec![0u8; chunk];
    let mut off = 0u64;
    let before = reads.get();
    let mut busy = Duration::ZERO;
    while off < meta.size {
        let t = Instant::now();
        let n = fs.read_at(meta.id, off, &mut a).unwrap();
        busy += t.elapsed();
        assert!(n > 0);
        host.read_exact(&mut b[..n]).unwrap();
        assert!(a[..n] == b[..n], "{path}: differs in the {chunk}-byte read at {off}");
        off += n as u64;
    }
    let mib = meta.size as f64 / f64::from(1 << 20);
    (mib / busy.as_secs_f64(), (reads.get() - before) as f64 / mib)
}

#[test]
fn large_reads_are_coalesced() {
    for name in ["ffs1-4k-512-le", "ffs2-8k-1k-le", "ffs1-16k-2k-le"] {
        let img = image(name);
        // The largest file of the tree (makefs writes holes out, so it is all data blocks).
        let big =
            tree::walk(&img.tree).unwrap().into_iter().filter(|e| e.kind == Kind::File).max_by_key(|e| e.size).unwrap();
        let (path, size, host) = (big.path, big.size, big.host);
        assert!(size > 2 << 20, "{name}: largest file {path} is too small to measure");
        let (mibs, per_mib) = stream_compare(&img.path, &host, &path, 64 << 20);
        eprintln!("{name}: {path} ({size} bytes): {mibs:.0} MiB/s, {per_mib:.2} device reads per MiB");
        assert!(per_mib < 4.0, "{name}: {per_mib} device reads per MiB");
    }
}

/// Removes the big image even when the test fails.
struct RemoveOnDrop(PathBuf);
impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// FFSv2 with 4 KiB blocks: a 1 GiB + 2 MiB file reaching the triple-indirect blocks.
#[test]
fn ffs2_triple_indirect_over_1gib() {
    let t0 = Instant::now();
    let recipe = recipes::triple_recipe();
    let dir = tree::images_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("ffs2-4k-triple-{}.img", tree::unique_suffix()));
    let _cleanup = RemoveOnDrop(path.clone());
    let img = recipes::build_uncached(&dir, &recipe, &path)
        .unwrap_or_else(|e| panic!("cannot build the triple-indirect image (needs NetBSD makefs): {e}"));
    let built = t0.elapsed();
    let size = recipe.spec.triple_size();
    assert!(size > 1 << 30);
    let host = tree::host_path(&img.tree, "/big/triple");
    let (mibs, per_mib) = stream_compare(&img.path, &host, "/big/triple", 64 << 20);
    eprintln!(
        "triple: {size} bytes, image built in {built:.1?}, read+compare total {:.1?}: {mibs:.0} MiB/s, {per_mib:.3} device reads per MiB",
        t0.elapsed() - built
    );
    // The rest of the small tree too, and the same file in unaligned pieces near each edge.
    let mut fs = open_path(&img.path);
    let id = fs.lookup("/big/triple").unwrap().id;
    let mut f = std::fs::File::open(&host).unwrap();
    for edge in recipe.spec.indirect_starts() {
        for off in [edge - 4097, edge - 1, edge, edge + 511] {
            let mut a = vec![0u8; 12_345];
            let mut b = vec![0u8; 12_345];
            assert_eq!(fs.read_at(id, off, &mut a).unwrap(), a.len());
            std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(off)).unwrap();
            f.read_exact(&mut b).unwrap();
            assert!(a == b, "triple at {off}");
        }
    }
}

/// A 4096-byte-sector device under filesystems with smaller fragments: reads are aligned
/// to the device's sectors, whatever the filesystem's units.
#[test]
fn reads_through_4096_byte_sectors() {
    for name in ["ffs2-4k-512-be", "ffs1-8k-1k-be", "ffs1-32k-32k-le"] {
        let img = image(name);
        let mut bytes = std::fs::read(&img.path).unwrap();
        bytes.resize(bytes.len().next_multiple_of(4096), 0);
        let mut fs = Ffs::open(Box::new(MemDisk::new(bytes, 4096))).unwrap();
        check_tree(&mut fs, &img.tree);
    }
}

/// A 4.2BSD-format filesystem (`fs_old_inodefmt` = -1): directory records carry a 16-bit
/// `d_namlen` and no `d_type`, and symlinks are fast only when they own no blocks. Made
/// from a makefs UFS1 image by rewriting every directory record and the format field.
#[test]
fn old_42bsd_format() {
    let img = image("ffs1-4k-512-le");
    let mut bytes = std::fs::read(&img.path).unwrap();
    let raw = Raw::parse(&bytes, &img.recipe);
    let mut fs = open_mem(bytes.clone()).unwrap();
    let mut chunks = Vec::new();
    for e in tree::walk(&img.tree).unwrap() {
        if e.kind != Kind::Dir {
            continue;
        }
        let m = fs.lookup_nofollow(&e.path).unwrap();
        assert!(m.size <= 12 * raw.bsize, "{}: directory beyond the direct blocks", e.path);
        for i in 0..m.size.div_ceil(raw.bsize) {
            let start = raw.ptr(&bytes, m.id.0, i as usize) * raw.fsize;
            let len = (m.size - i * raw.bsize).min(raw.bsize);
            chunks.extend((start..start + len).step_by(512));
        }
    }
    for c in chunks {
        let c = c as usize;
        let mut off = 0;
        while off < 512 {
            let reclen = u16::from_le_bytes([bytes[c + off + 4], bytes[c + off + 5]]) as usize;
            let namlen = bytes[c + off + 7];
            bytes[c + off + 6] = namlen;
            bytes[c + off + 7] = 0;
            assert!(reclen >= 8);
            off += reclen;
        }
    }
    wr32(&mut bytes, 8192 + 1324, (-1i32) as u32, false);
    let mut fs = open_mem(bytes).unwrap();
    check_tree(&mut fs, &img.tree);
}

/// Counts the calls that reach the device, and the runs handed over in vectored calls.
struct CountingDisk {
    inner: FileDisk,
    plain: Rc<Cell<u64>>,
    vectored: Rc<Cell<(u64, u64)>>,
}

impl BlockDevice for CountingDisk {
    fn block_size(&self) -> u32 {
        self.inner.block_size()
    }
    fn num_blocks(&self) -> u64 {
        self.inner.num_blocks()
    }
    fn read_blocks(&mut self, lba: Lba, buf: &mut [u8]) -> Result<(), IoError> {
        self.plain.set(self.plain.get() + 1);
        self.inner.read_blocks(lba, buf)
    }
    fn read_blocks_vectored(&mut self, reqs: &mut [(Lba, &mut [u8])]) -> Result<(), IoError> {
        let (calls, runs) = self.vectored.get();
        self.vectored.set((calls + 1, runs + reqs.len() as u64));
        for (lba, buf) in reqs.iter_mut() {
            self.inner.read_blocks(*lba, buf)?;
        }
        Ok(())
    }
}

/// The biggest file of a small-block FFSv2 image (data interleaved with indirect blocks),
/// read in one `read_at` and at odd offsets: right bytes, and all its runs handed to the
/// device in one vectored call (blkfront keeps them in flight together) instead of one
/// waiting read per run.
#[test]
fn big_file_runs_go_to_the_device_together() {
    let img = image("ffs2-4k-512-be");
    let plain = Rc::new(Cell::new(0));
    let vectored = Rc::new(Cell::new((0, 0)));
    let disk = CountingDisk {
        inner: FileDisk::open(&img.path).unwrap(),
        plain: Rc::clone(&plain),
        vectored: Rc::clone(&vectored),
    };
    let mut fs = Ffs::open(Box::new(disk)).unwrap();
    let entries = tree::walk(&img.tree).unwrap();
    let big = entries.iter().filter(|e| matches!(e.kind, Kind::File)).max_by_key(|e| e.size).unwrap();
    assert!(big.size > 1 << 20, "{}: {} bytes", big.path, big.size);
    let want = big.bytes().unwrap();
    let id = fs.lookup(&big.path).unwrap().id;
    // First read maps the inode; count from the second on.
    fs.read_at(id, 0, &mut [0u8; 1]).unwrap();
    plain.set(0);
    vectored.set((0, 0));
    let mut got = vec![0u8; want.len()];
    assert_eq!(fs.read_at(id, 0, &mut got).unwrap(), want.len());
    assert!(got == want, "{}: contents differ", big.path);
    let (calls, runs) = vectored.get();
    assert_eq!(calls, 1, "one vectored call for the data");
    assert!(runs > 1, "{}: {runs} run(s); the test wants a file cut by indirect blocks", big.path);
    // Plain reads only for indirect blocks not cached yet (the single and double indirect
    // blocks, one more per 2 MiB of data at 4 KiB) and the file's unaligned tail.
    assert!(plain.get() <= 4 + big.size / (2 << 20), "{} plain reads for {runs} runs", plain.get());
    let mut rng = Rng(0x0dd_0ff5);
    for _ in 0..40 {
        let off = rng.below(big.size);
        let len = 1 + rng.below((big.size - off).min(5 << 20));
        let mut buf = vec![0u8; len as usize];
        assert_eq!(fs.read_at(id, off, &mut buf).unwrap() as u64, len);
        assert!(buf[..] == want[off as usize..(off + len) as usize], "{} at {off}+{len}", big.path);
    }
}
