//! ext2/3/4 images made by `mke2fs -d` from the test tree, read back through [`fs::ext::Ext`]
//! and compared with the host tree (the oracle). Also the shared tree-comparison and
//! corruption helpers the FAT tests use.

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fs::block::FileDisk;
use fs::ext::Ext;
use fs::vfs::{read_to_vec, MAX_SYMLINK_HOPS};
use fs::{BlockDevice, Error, FileType, Filesystem, IoError, Lba, MemDisk};
use testimages::tree::{self, Entry, Kind, ResolveError};

/// Image builds are serialized inside this test binary (they share the tree directories).
pub(crate) static BUILD_LOCK: Mutex<()> = Mutex::new(());

fn image(name: &str) -> testimages::ext::Image {
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let recipe = testimages::ext::recipe(name).unwrap_or_else(|| panic!("no recipe {name}"));
    testimages::ext::build(&tree::images_dir(), &recipe).unwrap_or_else(|e| panic!("building {name}: {e}"))
}

fn open(path: &Path, sector: u32) -> Result<Ext, Error> {
    let disk = FileDisk::open_with_block_size(path, sector).expect("open image");
    Ext::open(Box::new(disk))
}

/// How a filesystem is expected to differ from the host tree.
#[derive(Clone, Copy)]
pub(crate) struct Expect {
    /// Symlinks exist (and are checked by following them).
    pub symlinks: bool,
    /// Lookups ignore case (FAT): also look every path up in upper case.
    pub case_insensitive: bool,
    /// Files the reader is known not to handle (a clear `Unsupported` error is expected).
    pub unreadable: &'static [&'static str],
    /// Names the tool adds to the root directory (`lost+found`).
    pub extra_in_root: &'static [&'static str],
}

/// Reads a whole file through `read_at` with `chunk`-byte reads and compares it with the host
/// file, streaming (the triple-indirect file is > 65 MiB).
fn compare_file(fs: &mut dyn Filesystem, e: &Entry, chunk: usize) {
    let meta = fs.lookup(&e.path).unwrap_or_else(|err| panic!("lookup {}: {err}", e.path));
    assert_eq!(meta.file_type, FileType::File, "{}", e.path);
    assert_eq!(meta.size, e.size, "size of {}", e.path);
    let mut host = e.open().expect("host file");
    let mut ours = vec![0u8; chunk];
    let mut theirs = vec![0u8; chunk];
    let mut off = 0u64;
    loop {
        let n = fs.read_at(meta.id, off, &mut ours).unwrap_or_else(|err| panic!("read {} at {off}: {err}", e.path));
        let mut m = 0;
        while m < n {
            let k = host.read(&mut theirs[m..n]).expect("host read");
            if k == 0 {
                break;
            }
            m += k;
        }
        assert_eq!(m, n, "{}: we read {n} bytes at {off}, the host file has {m}", e.path);
        if ours[..n] != theirs[..n] {
            let i = ours[..n].iter().zip(&theirs[..n]).position(|(a, b)| a != b).unwrap_or(0);
            panic!("{}: byte {} differs", e.path, off + i as u64);
        }
        if n == 0 {
            break;
        }
        off += n as u64;
    }
    assert_eq!(off, e.size, "{}: read {off} of {} bytes", e.path, e.size);
}

/// Compares everything in the host tree at `root` with `fs`.
pub(crate) fn check_tree(fs: &mut dyn Filesystem, root: &Path, expect: Expect) {
    let entries = tree::walk(root).expect("walk tree");
    let mut files = 0;
    for (i, e) in entries.iter().enumerate() {
        match &e.kind {
            Kind::File if expect.unreadable.contains(&e.path.as_str()) => {
                let meta = fs.lookup(&e.path).expect("lookup");
                let mut buf = vec![0u8; 1 << 20];
                let mut off = 0u64;
                let err = loop {
                    match fs.read_at(meta.id, off, &mut buf) {
                        Ok(0) => panic!("{} read fully; drop it from the known-unreadable list", e.path),
                        Ok(n) => off += n as u64,
                        Err(err) => break err,
                    }
                };
                assert!(matches!(&err, Error::Unsupported(m) if m.contains("ext4-view")), "{}: {err}", e.path);
                // Starting past the hole (a seek over it) must fail the same way, not panic.
                let err = fs.read_at(meta.id, e.size - 1, &mut buf).expect_err("read past the hole");
                assert!(matches!(&err, Error::Unsupported(_)), "{}: {err}", e.path);
            }
            Kind::File => {
                // Mostly big reads; every 7th file with an odd chunk size across block edges.
                let chunk = if i % 7 == 3 { 1000 } else { 4 << 20 };
                compare_file(fs, e, chunk);
                files += 1;
            }
            Kind::Dir => {
                let meta = fs.lookup(&e.path).unwrap_or_else(|err| panic!("lookup {}: {err}", e.path));
                assert_eq!(meta.file_type, FileType::Directory, "{}", e.path);
                let listing = fs.read_dir(meta.id).unwrap_or_else(|err| panic!("read_dir {}: {err}", e.path));
                let mut ours: Vec<(String, FileType)> = listing
                    .iter()
                    .filter(|d| d.name != "." && d.name != "..")
                    .filter(|d| e.path != "/" || !expect.extra_in_root.contains(&d.name.as_str()))
                    .map(|d| (d.name.clone(), d.file_type))
                    .collect();
                ours.sort_by(|a, b| a.0.cmp(&b.0));
                let prefix = if e.path == "/" { String::from("/") } else { format!("{}/", e.path) };
                let mut theirs: Vec<(String, FileType)> = entries
                    .iter()
                    .filter_map(|c| {
                        let rest = c.path.strip_prefix(&prefix)?;
                        if rest.is_empty() || rest.contains('/') {
                            return None;
                        }
                        let ft = match c.kind {
                            Kind::File => FileType::File,
                            Kind::Dir => FileType::Directory,
                            Kind::Symlink(_) => FileType::Symlink,
                        };
                        Some((rest.to_string(), ft))
                    })
                    .collect();
                theirs.sort_by(|a, b| a.0.cmp(&b.0));
                assert_eq!(ours, theirs, "listing of {}", e.path);
                // Every listed id names the same thing a lookup does.
                for d in listing.iter().filter(|d| d.name != "." && d.name != "..").take(20) {
                    let m = fs.metadata(d.id).expect("metadata of a listed entry");
                    assert_eq!(m.file_type, d.file_type, "{}/{}", e.path, d.name);
                }
            }
            Kind::Symlink(target) => {
                assert!(expect.symlinks, "unexpected symlink {}", e.path);
                let meta = fs.lookup_nofollow(&e.path).unwrap_or_else(|err| panic!("lstat {}: {err}", e.path));
                assert_eq!(meta.file_type, FileType::Symlink, "{}", e.path);
                assert_eq!(&fs.read_link(meta.id).expect("read_link"), target, "{}", e.path);
                match tree::resolve(root, &e.path, true, MAX_SYMLINK_HOPS) {
                    Ok(resolved) => {
                        let want = fs.lookup_nofollow(&resolved).expect("resolved path");
                        let got = fs.lookup(&e.path).unwrap_or_else(|err| panic!("follow {}: {err}", e.path));
                        assert_eq!(got, want, "{} -> {resolved}", e.path);
                    }
                    Err(ResolveError::Loop) => {
                        assert_eq!(fs.lookup(&e.path), Err(Error::SymlinkLoop), "{}", e.path)
                    }
                    Err(ResolveError::NotFound) => {
                        assert_eq!(fs.lookup(&e.path), Err(Error::NotFound), "{}", e.path)
                    }
                    Err(ResolveError::NotADirectory) => {
                        assert_eq!(fs.lookup(&e.path), Err(Error::NotADirectory), "{}", e.path)
                    }
                }
            }
        }
        if expect.case_insensitive && e.path != "/" {
            let upper = e.path.to_uppercase();
            let a = fs.lookup(&e.path).expect("lookup");
            let b = fs.lookup(&upper).unwrap_or_else(|err| panic!("case-insensitive lookup {upper}: {err}"));
            assert_eq!(a, b, "{upper}");
        }
    }
    assert!(files > 20, "only {files} files compared");

    // `.` and `..`, and what must not exist.
    let plain = fs.lookup("/deep/d01/d02").expect("deep");
    assert_eq!(fs.lookup("/deep/d01/../d01/./d02/").expect("dots"), plain);
    assert_eq!(fs.lookup("/../deep/d01/d02").expect("root's parent"), plain);
    assert_eq!(fs.lookup("/"), fs.lookup("/.."));
    assert_eq!(fs.lookup("/no-such-file"), Err(Error::NotFound));
    assert_eq!(fs.lookup("/readme.txt/x"), Err(Error::NotADirectory));
    let long = format!("/{}", "x".repeat(300));
    assert!(fs.lookup(&long).is_err());
    let readme = fs.lookup("/readme.txt").expect("readme");
    assert_eq!(fs.read_dir(readme.id).err(), Some(Error::NotADirectory));
    let dir = fs.lookup("/deep").expect("dir");
    assert_eq!(fs.read_at(dir.id, 0, &mut [0u8; 16]).err(), Some(Error::IsADirectory));
    // Reads past the end and empty reads.
    let mut buf = [0u8; 64];
    assert_eq!(fs.read_at(readme.id, readme.size, &mut buf).expect("at eof"), 0);
    assert_eq!(fs.read_at(readme.id, u64::MAX, &mut buf).expect("far past eof"), 0);
    assert_eq!(fs.read_at(readme.id, 0, &mut []).expect("empty"), 0);
}

/// Random-offset reads of the larger files against the host copy.
fn check_random_reads(fs: &mut dyn Filesystem, root: &Path, seed: u64, expect: Expect) {
    let mut rng = Rng(seed);
    let entries = tree::walk(root).expect("walk");
    let bigs: Vec<&Entry> = entries
        .iter()
        .filter(|e| e.kind == Kind::File && e.size > 8192 && !expect.unreadable.contains(&e.path.as_str()))
        .collect();
    assert!(!bigs.is_empty());
    for _ in 0..150 {
        let e = bigs[(rng.next() % bigs.len() as u64) as usize];
        let off = rng.next() % e.size;
        let len = (rng.next() % 70_000) as usize + 1;
        let meta = fs.lookup(&e.path).expect("lookup");
        let mut ours = vec![0u8; len];
        let n = fs.read_at(meta.id, off, &mut ours).expect("read_at");
        let want = (e.size - off).min(len as u64) as usize;
        assert_eq!(n, want, "{} at {off} len {len}", e.path);
        let mut theirs = vec![0u8; n];
        use std::os::unix::fs::FileExt;
        std::fs::File::open(&e.host).expect("host").read_exact_at(&mut theirs, off).expect("host read");
        assert!(ours[..n] == theirs[..], "{} at {off} len {len}", e.path);
    }
}

pub(crate) use testimages::rng::Rng;

/// Walks a (possibly corrupt) filesystem completely: every listed entry looked up, every file
/// read, every link read. Only panics and hangs are failures; errors are fine.
pub(crate) fn exercise(fs: &mut dyn Filesystem) -> usize {
    let mut todo = vec![(String::from("/"), 0u32)];
    let mut visited = 0usize;
    while let Some((dir, depth)) = todo.pop() {
        if visited > 5000 || depth > 40 {
            break;
        }
        let Ok(meta) = fs.lookup(&dir) else { continue };
        let Ok(entries) = fs.read_dir(meta.id) else {
            continue;
        };
        for d in entries {
            visited += 1;
            if d.name == "." || d.name == ".." || d.name.contains('/') {
                continue;
            }
            let path = if dir == "/" { format!("/{}", d.name) } else { format!("{dir}/{}", d.name) };
            let _ = fs.metadata(d.id);
            match fs.lookup_nofollow(&path) {
                Ok(m) if m.file_type == FileType::Directory => todo.push((path, depth + 1)),
                Ok(m) if m.file_type == FileType::Symlink => {
                    let _ = fs.read_link(m.id);
                    let _ = fs.lookup(&path);
                }
                Ok(m) => {
                    let _ = read_to_vec(fs, &path, 8 << 20);
                    // Reads that start mid-file and go backwards (seeks).
                    let mut buf = [0u8; 3000];
                    for off in [5000, m.size / 2, m.size.saturating_sub(1), 13_000, 0] {
                        let _ = fs.read_at(m.id, off, &mut buf);
                    }
                }
                Err(_) => {}
            }
        }
    }
    visited
}

/// An image in memory with a few bytes changed: shares the pristine bytes between runs, so
/// a corruption run costs no copy of the image.
pub(crate) struct FlipDisk {
    base: Arc<Vec<u8>>,
    flips: Vec<(usize, u8)>,
}

impl BlockDevice for FlipDisk {
    fn block_size(&self) -> u32 {
        512
    }
    fn num_blocks(&self) -> u64 {
        self.base.len() as u64 / 512
    }
    fn read_blocks(&mut self, lba: Lba, buf: &mut [u8]) -> Result<(), IoError> {
        fs::block::check_request(512, self.num_blocks(), lba, buf.len())?;
        let start = lba.0 as usize * 512;
        buf.copy_from_slice(&self.base[start..start + buf.len()]);
        for &(pos, val) in &self.flips {
            if pos >= start && pos < start + buf.len() {
                buf[pos - start] = val;
            }
        }
        Ok(())
    }
}

/// Mounts a filesystem of one kind on a device.
pub(crate) type OpenFn = fn(Box<dyn BlockDevice>) -> Result<Box<dyn Filesystem>, Error>;

/// Seeded byte flips over `image`: `regions` (byte ranges) get most of the flips, the rest
/// land anywhere. Every open and read must end in data or an error.
pub(crate) fn corruption_run(image: &[u8], regions: &[(usize, usize)], iterations: u64, open: OpenFn) {
    use std::sync::atomic::{AtomicU64, Ordering};
    let current = Arc::new(AtomicU64::new(0));
    let cur = Arc::clone(&current);
    let image = Arc::new(image.to_vec());
    let regions = regions.to_vec();
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        let mut opened = 0u64;
        let mut visited = 0usize;
        for seed in 1..=iterations {
            cur.store(seed, Ordering::Relaxed);
            let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15));
            let mut flips: Vec<(usize, u8)> = Vec::new();
            for _ in 0..1 + rng.next() % 8 {
                let pos = if !regions.is_empty() && !rng.next().is_multiple_of(4) {
                    let (start, len) = regions[(rng.next() % regions.len() as u64) as usize];
                    start + (rng.next() % len.max(1) as u64) as usize
                } else {
                    (rng.next() % image.len() as u64) as usize
                };
                let Some(&old) = image.get(pos) else { continue };
                let new = if rng.next().is_multiple_of(4) { rng.next() as u8 } else { old ^ (1 << (rng.next() % 8)) };
                flips.push((pos, new));
            }
            let disk = FlipDisk { base: Arc::clone(&image), flips };
            if let Ok(mut fs) = open(Box::new(disk)) {
                opened += 1;
                let _ = fs.info();
                visited += exercise(&mut *fs);
            }
        }
        let _ = tx.send((opened, visited));
    });
    let limit = Duration::from_secs(300);
    let start = Instant::now();
    match rx.recv_timeout(limit) {
        Ok((opened, visited)) => {
            assert!(opened > iterations / 8, "only {opened} of {iterations} corrupt images opened");
            eprintln!(
                "corruption: {iterations} images, {opened} opened, {visited} entries visited in {:?}",
                start.elapsed()
            );
        }
        Err(_) => {
            let seed = current.load(Ordering::Relaxed);
            if worker.is_finished() {
                let _ = worker.join();
                panic!("corruption test panicked at seed {seed}");
            }
            panic!("corruption test hung (over {limit:?}) at seed {seed}");
        }
    }
}

const EXT: Expect = Expect { symlinks: true, case_insensitive: false, unreadable: &[], extra_in_root: &["lost+found"] };

fn check_image(name: &str, kind: &str, block_size: u32) {
    // ext2/ext3 `/holes/indirect-hole` (a hole over a whole indirect block) is read by our
    // block-map fallback: ext4-view 1.0 fails on it.
    let expect = EXT;
    let img = image(name);
    let mut fs = open(&img.path, 512).unwrap_or_else(|e| panic!("open {name}: {e}"));
    let info = fs.info();
    assert_eq!(info.kind, kind);
    assert_eq!(info.block_size, block_size);
    assert_eq!(info.label.as_deref(), Some(name));
    assert_eq!(info.uuid.as_deref(), Some(testimages::ext::UUID));
    check_tree(&mut fs, &img.tree, expect);
    check_random_reads(&mut fs, &img.tree, 7, expect);
}

#[test]
fn ext2_1k_blocks_with_triple_indirect() {
    let img = image("ext2-1k");
    let big = tree::walk(&img.tree).expect("walk").into_iter().find(|e| e.path == "/big/triple").expect("big file");
    assert!(big.size > 65 << 20, "the triple-indirect file is only {} bytes", big.size);
    check_image("ext2-1k", "ext2", 1024);
}

#[test]
fn ext2_4k_blocks() {
    check_image("ext2-4k", "ext2", 4096);
}

#[test]
fn ext3() {
    check_image("ext3-4k", "ext3", 4096);
}

#[test]
fn ext4_4k_blocks() {
    check_image("ext4-4k", "ext4", 4096);
}

#[test]
fn ext4_1k_blocks() {
    check_image("ext4-1k", "ext4", 1024);
}

#[test]
fn ext4_on_4096_byte_sectors() {
    // The superblock (byte 1024) and 1 KiB blocks sit inside 4 KiB sectors: bounce-buffer path.
    for name in ["ext4-4k", "ext2-small"] {
        let img = image(name);
        let mut fs = open(&img.path, 4096).unwrap_or_else(|e| panic!("open {name}: {e}"));
        check_tree(&mut fs, &img.tree, EXT);
    }
}

#[test]
fn refusals_say_what() {
    for (name, words) in [("ext2-rev0", "revision-0"), ("ext2-nofiletype", "filetype"), ("ext4-inline", "inline_data")]
    {
        let img = image(name);
        assert!(!img.recipe.readable);
        match open(&img.path, 512) {
            Err(Error::Unsupported(msg)) => assert!(msg.contains(words), "{name}: {msg}"),
            Err(e) => panic!("{name}: expected Unsupported, got {e}"),
            Ok(_) => panic!("{name}: expected Unsupported, got a filesystem"),
        }
    }
}

#[test]
fn other_formats_are_not_recognized() {
    let _guard = BUILD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let recipe = testimages::fat::recipe("fat16").expect("fat16");
    let fat = testimages::fat::build(&tree::images_dir(), &recipe).expect("fat16 image");
    assert_eq!(open(&fat.path, 512).err(), Some(Error::NotRecognized));
}

/// Byte ranges of ext metadata in an image with 1 KiB blocks: superblock, group descriptors,
/// bitmaps and inode table of group 0 (where `mke2fs -d` puts the small tree).
fn ext_metadata_regions(data: &[u8]) -> Vec<(usize, usize)> {
    let u32_at = |off: usize| u32::from_le_bytes(data[off..off + 4].try_into().unwrap()) as usize;
    let sb = 1024;
    let bs = 1024usize << u32_at(sb + 0x18);
    let inodes_per_group = u32_at(sb + 0x28);
    let inode_size = u16::from_le_bytes(data[sb + 0x58..sb + 0x5A].try_into().unwrap()) as usize;
    let gdt = if bs == 1024 { 2048 } else { bs };
    let block_bitmap = u32_at(gdt) * bs;
    let inode_bitmap = u32_at(gdt + 4) * bs;
    let inode_table = u32_at(gdt + 8) * bs;
    vec![
        (sb, 1024),
        (gdt, 64),
        (block_bitmap, bs),
        (inode_bitmap, bs),
        // The first inodes: root, reserved ones, and the tree's.
        (inode_table, (inodes_per_group * inode_size).min(128 * inode_size)),
    ]
}

fn open_ext(d: Box<dyn BlockDevice>) -> Result<Box<dyn Filesystem>, Error> {
    Ext::open(d).map(|f| Box::new(f) as Box<dyn Filesystem>)
}

#[test]
fn corrupt_ext2_never_panics_or_hangs() {
    let img = image("ext2-small");
    let data = std::fs::read(&img.path).expect("image");
    let mut fs = open_ext(Box::new(MemDisk::new(data.clone(), 512))).expect("pristine image opens");
    assert!(exercise(&mut *fs) > 30);
    corruption_run(&data, &ext_metadata_regions(&data), 400, open_ext);
}

#[test]
fn corrupt_ext4_never_panics_or_hangs() {
    let img = image("ext4-small");
    let data = std::fs::read(&img.path).expect("image");
    let mut fs = open_ext(Box::new(MemDisk::new(data.clone(), 512))).expect("pristine image opens");
    assert!(exercise(&mut *fs) > 30);
    corruption_run(&data, &ext_metadata_regions(&data), 400, open_ext);
}
