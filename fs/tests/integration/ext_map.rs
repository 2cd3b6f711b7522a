//! ext files whose data rpvboot maps itself (extent trees, block maps) instead of reading block
//! by block through ext4-view: a file fragmented by the real tools (mke2fs, then debugfs
//! writes 900 one-block files, removes every other one and writes the big file into the
//! holes), read back at odd offsets and lengths and compared with the bytes debugfs was given.
//! Also: a contiguous big file costs a handful of device requests, not one per 32 KiB.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::rc::Rc;

use fs::block::FileDisk;
use fs::ext::Ext;
use fs::{BlockDevice, Filesystem, IoError, Lba};

/// Deterministic bytes (the tests' seeded Rng) with no long runs, so a misplaced block shows.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut r = testimages::rng::Rng(seed);
    (0..len).map(|_| r.next() as u8).collect()
}

fn tool(name: &str) -> PathBuf {
    testimages::tools::find_tool(name).unwrap_or_else(|e| panic!("{e}"))
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Builds `dir/<name>.img`: `fs_type` with `block` bytes per block, a fragmented `/frag.bin`
/// and a contiguous `/big.bin`. Returns the image and both files' bytes.
fn build(dir: &Path, name: &str, fs_type: &str, block: u32) -> (PathBuf, Vec<u8>, Vec<u8>) {
    let img = dir.join(format!("{name}.img"));
    let one = dir.join("one.bin");
    let frag_src = dir.join(format!("{name}-frag.bin"));
    let big_src = dir.join(format!("{name}-big.bin"));
    let frag = pattern(1_100_000 + 333, 0x1234 + u64::from(block));
    let big = pattern(6 << 20, 0x9876);
    std::fs::write(&one, pattern(block as usize, 7)).unwrap();
    std::fs::write(&frag_src, &frag).unwrap();
    std::fs::write(&big_src, &big).unwrap();
    let f = std::fs::File::create(&img).unwrap();
    f.set_len(48 << 20).unwrap();
    drop(f);
    run(Command::new(tool("mke2fs")).args(["-q", "-F", "-t", fs_type, "-b", &block.to_string()]).arg(&img));
    // One-block files, then every other one removed: free space full of one-block holes.
    let mut script = String::new();
    for i in 0..900 {
        script.push_str(&format!("write {} f{i}\n", one.display()));
    }
    for i in (0..900).step_by(2) {
        script.push_str(&format!("rm f{i}\n"));
    }
    script.push_str(&format!("write {} frag.bin\n", frag_src.display()));
    script.push_str(&format!("write {} big.bin\n", big_src.display()));
    let script_path = dir.join(format!("{name}.debugfs"));
    std::fs::write(&script_path, script).unwrap();
    run(Command::new(tool("debugfs")).arg("-w").arg("-f").arg(&script_path).arg(&img));
    (img, frag, big)
}

/// How many runs of contiguous blocks debugfs lists for `path` (`blocks`): the oracle that the
/// file really is fragmented.
fn runs(img: &Path, path: &str) -> usize {
    let out = Command::new(tool("debugfs")).arg("-R").arg(format!("blocks {path}")).arg(img).output().unwrap();
    let blocks: Vec<u64> =
        String::from_utf8_lossy(&out.stdout).split_whitespace().filter_map(|w| w.parse().ok()).collect();
    1 + blocks.windows(2).filter(|w| w[1] != w[0] + 1).count()
}

/// Counts what reaches the device.
struct Counting {
    inner: FileDisk,
    calls: Rc<RefCell<(u64, u64)>>,
}

impl BlockDevice for Counting {
    fn block_size(&self) -> u32 {
        self.inner.block_size()
    }
    fn num_blocks(&self) -> u64 {
        self.inner.num_blocks()
    }
    fn read_blocks(&mut self, lba: Lba, buf: &mut [u8]) -> Result<(), IoError> {
        self.calls.borrow_mut().0 += 1;
        if std::env::var_os("EXT_MAP_TRACE").is_some() {
            eprintln!("read {} +{}", lba.0, buf.len());
        }
        self.inner.read_blocks(lba, buf)
    }
    fn read_blocks_vectored(&mut self, reqs: &mut [(Lba, &mut [u8])]) -> Result<(), IoError> {
        self.calls.borrow_mut().1 += 1;
        if std::env::var_os("EXT_MAP_TRACE").is_some() {
            eprintln!("vectored {}", reqs.len());
        }
        for (lba, buf) in reqs.iter_mut() {
            self.inner.read_blocks(*lba, buf)?;
        }
        Ok(())
    }
}

fn open(img: &Path, sector: u32) -> (Ext, Rc<RefCell<(u64, u64)>>) {
    let calls = Rc::new(RefCell::new((0, 0)));
    let disk = FileDisk::open_with_block_size(img, sector).unwrap();
    let ext = Ext::open(Box::new(Counting { inner: disk, calls: Rc::clone(&calls) })).unwrap();
    (ext, calls)
}

/// Reads `[off, off + len)` of `path` and compares with `want`.
fn check_range(fs: &mut Ext, path: &str, want: &[u8], off: usize, len: usize) {
    let meta = fs.lookup(path).unwrap();
    assert_eq!(meta.size, want.len() as u64);
    check_id(fs, meta.id, path, want, off, len);
}

/// [`check_range`] of a file already looked up.
fn check_id(fs: &mut Ext, id: fs::NodeId, path: &str, want: &[u8], off: usize, len: usize) {
    let mut buf = vec![0xA5u8; len];
    let n = fs.read_at(id, off as u64, &mut buf).unwrap();
    let end = (off + len).min(want.len());
    let expect = want.get(off..end).unwrap_or_default();
    assert_eq!(n, expect.len(), "{path}: {len} bytes at {off}");
    if buf[..n] != *expect {
        let i = buf.iter().zip(expect).position(|(a, b)| a != b).unwrap_or(0);
        panic!("{path}: byte {} differs (read {len} at {off})", off + i);
    }
}

fn check_fragmented(fs_type: &str, block: u32) {
    let dir = std::env::temp_dir().join(format!("rpv-ext-map-{fs_type}-{block}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let name = format!("{fs_type}-{block}");
    let (img, frag, big) = build(&dir, &name, fs_type, block);
    let n_runs = runs(&img, "frag.bin");
    assert!(n_runs > 100, "{name}: frag.bin lies in only {n_runs} runs; the test needs a fragmented file");
    let big_runs = runs(&img, "big.bin");
    for sector in [512u32, 4096] {
        let (mut fs, calls) = open(&img, sector);
        // Whole file in one read, then at odd offsets and lengths, forwards and backwards.
        check_range(&mut fs, "/frag.bin", &frag, 0, frag.len());
        let bs = block as usize;
        let mut x = 0x5eed_u64;
        for _ in 0..60 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let off = (x % frag.len() as u64) as usize;
            let len = 1 + ((x >> 24) % (3 * bs as u64 + 777)) as usize;
            check_range(&mut fs, "/frag.bin", &frag, off, len);
        }
        for (off, len) in [(bs - 1, 2), (bs, bs), (12 * bs - 3, 7), (frag.len() - 5, 100), (1, frag.len())] {
            check_range(&mut fs, "/frag.bin", &frag, off, len);
        }
        // The contiguous file: right bytes, and few device calls for 6 MiB (ext4-view's path
        // lookups, done by the first read, not counted).
        let id = fs.lookup("/big.bin").unwrap().id;
        check_id(&mut fs, id, "/big.bin", &big, 0, 1);
        *calls.borrow_mut() = (0, 0);
        check_id(&mut fs, id, "/big.bin", &big, 0, big.len());
        let (plain, vectored) = *calls.borrow();
        // Data in one vectored call, indirect blocks read ahead one tree level per vectored
        // call (at most three levels); plain reads only for the inode, extent tree nodes and
        // unaligned run edges (1 KiB blocks on 4 KiB sectors): far below the 192 reads of
        // 32 KiB that ext4-view's block cache would make, each waiting for the last.
        let limit = 8 + 3 * big_runs as u64 + 3 * (big.len() / (256 * bs)) as u64;
        assert!(
            (1..=4).contains(&vectored) && plain <= limit,
            "{name}, {sector}-byte sectors: {plain} reads (limit {limit}) + {vectored} vectored for 6 MiB in \
             {big_runs} runs"
        );
        check_range(&mut fs, "/big.bin", &big, 4095, 1 << 20);
        // Sequential loading in 1 MiB pieces from a fresh mount: the indirect blocks of the
        // next piece ride along with this piece's data, so each piece is one vectored call.
        let (mut fs, calls) = open(&img, sector);
        let id = fs.lookup("/big.bin").unwrap().id;
        check_id(&mut fs, id, "/big.bin", &big, 0, 1);
        *calls.borrow_mut() = (0, 0);
        let pieces = big.len().div_ceil(1 << 20);
        for i in 0..pieces {
            check_id(&mut fs, id, "/big.bin", &big, i << 20, 1 << 20);
        }
        let (plain, vectored) = *calls.borrow();
        // (Blocks smaller than a sector cannot ride along: then a read-ahead call per piece.)
        let per_piece = if block.is_multiple_of(sector) { 1 } else { 2 };
        assert!(
            vectored <= per_piece * pieces as u64 + 2 && plain <= limit,
            "{name}, {sector}-byte sectors, 1 MiB pieces: {plain} reads (limit {limit}) + {vectored} vectored"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn fragmented_ext4_extent_tree_1k_blocks() {
    check_fragmented("ext4", 1024);
}

#[test]
fn fragmented_ext4_4k_blocks() {
    check_fragmented("ext4", 4096);
}

#[test]
fn fragmented_ext2_block_map_1k_blocks() {
    check_fragmented("ext2", 1024);
}

#[test]
fn fragmented_ext3_block_map_4k_blocks() {
    check_fragmented("ext3", 4096);
}
