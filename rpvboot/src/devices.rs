//! The device stage of a boot, in named steps ([`run`]): connect (xenstore, blkfront for every
//! vbd), probe (partitions and filesystems, `fs::probe`), the bench when asked
//! ([`crate::bench`]), select (the configuration search, the menu and the kernel check,
//! `bootplan::select`), close (every disk closed cleanly, so the next kernel finds its disks as
//! a fresh domain would: begun right after the last read, finished by the caller just before
//! the jump, [`Outcome::closing`]). Small reads go through a [`ChunkCache`].
//!
//! Generic over [`Platform`], so the whole flow runs on the host against the fake xenstored
//! and blkback; the kernel (PV or PVH start) calls [`run_xen`].

use alloc::boxed::Box;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use core::fmt::Write;

use bootconfig::ExtraOptions;
use fs::probe::{self, Disk as ProbedDisk};
use fs::{BlockDevice, IoError, Lba};

use xenfront::blkfront::{self, Blkfront, Config};
use xenfront::platform::Platform;
use xenfront::xenstore::Xenstore;

use crate::bench::Bench;

/// What the caller wants besides the disks' probe.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Time reads before choosing (`rpvboot.bench=`, `rpvboot.benchfile=`); off by default.
    pub bench: Bench,
    /// blkfront tunables.
    pub blk: Config,
    /// After closing, connect every disk again, read its first sector and close it again:
    /// what the next kernel will do (proves the close left the backends reconnectable).
    pub reconnect_check: bool,
    /// Choose, read and check the kernel to boot while the disks are open (`bootplan::select`).
    pub boot: Option<bootplan::select::SelectArgs>,
    /// `rpvboot.verbose`: how long each step took, each disk's backend and its close; the
    /// default console has one line per disk and the errors.
    pub timing: bool,
}

impl Options {
    /// The device stage's options from the parsed `extra=` line (all but [`Options::boot`],
    /// which needs the heap's figures): the bench, blkfront's tunables (`rpvboot.blkpages=`
    /// clamped to 11..=1024, `rpvboot.blksegs=`, `rpvboot.readahead=` in KiB),
    /// `rpvboot.test=reconnect` and `rpvboot.verbose`.
    pub fn from_extra(extra: &ExtraOptions) -> Self {
        let d = &extra.dev;
        let mut blk = Config::default();
        blk.data_pages = d.blk_pages.unwrap_or(blk.data_pages).clamp(11, 1024);
        if let Some(n) = d.blk_segs {
            blk.max_indirect_segments = n;
        }
        if let Some(kib) = d.readahead_kib {
            blk.read_ahead = kib.saturating_mul(1024);
        }
        Options {
            bench: Bench { raw_mib: d.bench_mib.unwrap_or(0), file: d.bench_file.clone() },
            blk,
            reconnect_check: d.test.reconnect,
            boot: None,
            timing: extra.verbose,
        }
    }
}

/// What the device stage found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Disks connected.
    pub connected: usize,
    /// Disks that failed (reported already).
    pub failed: usize,
    /// Disks not closed cleanly.
    pub close_errors: usize,
    /// The entry chosen by [`Options::boot`], its files read and its kernel accepted.
    pub selected: Option<bootplan::select::Selected>,
    /// With an entry selected, the disks' close has begun but not finished: the caller
    /// finishes it as late as possible (just before the jump), so that the backends' teardown
    /// overlaps the handover's own work. `None`: the disks are closed already.
    pub closing: Option<PendingClose>,
}

/// The rest of the disks' clean close ([`blkfront::Closing::finish`]) with its console lines.
pub struct PendingClose(Box<FinishClose>);

/// Finishes the close, printing to the writer.
type FinishClose = dyn FnOnce(&mut dyn Write) -> CloseReport;

impl PendingClose {
    /// Waits for every backend to close, reports each disk, and says whether the memory may
    /// be handed over.
    pub fn finish(self, out: &mut dyn Write) -> CloseReport {
        (self.0)(out)
    }
}

/// The disks' close as the handover needs it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[must_use = "pages still granted forbid the handover"]
pub struct CloseReport {
    /// Disks not closed cleanly (each reported on the console already).
    pub errors: usize,
    /// Pages a backend still has granted ([`blkfront::Closed::still_granted`]).
    pub still_granted: usize,
}

impl CloseReport {
    /// Why the domain's memory must not go to the next kernel: pages another domain can
    /// still write would become its RAM. `None`: safe to hand over.
    pub fn refusal(&self) -> Option<String> {
        (self.still_granted > 0).then(|| {
            alloc::format!(
                "{} page(s) of memory are still granted to a disk backend that did not let them go; refusing to hand them to the next kernel as RAM",
                self.still_granted
            )
        })
    }
}

impl core::fmt::Debug for PendingClose {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("PendingClose")
    }
}

/// Prints each disk's close and what it left granted.
/// A clean close is said only under `rpvboot.verbose` (`verbose`); failures always.
fn report_close(names: &[String], closed: blkfront::Closed, out: &mut dyn Write, verbose: bool) -> CloseReport {
    let mut errors = 0;
    for (name, r) in names.iter().zip(closed.disks) {
        match r {
            Ok(()) => {
                if verbose {
                    let _ = writeln!(out, "rpvboot: disk {name} closed");
                }
            }
            Err(e) => {
                errors += 1;
                let _ = writeln!(out, "rpvboot: disk {name} not closed cleanly: {e}");
            }
        }
    }
    if closed.still_granted > 0 {
        let _ =
            writeln!(out, "rpvboot: {} page(s) still granted to disk backends after the close", closed.still_granted);
    }
    CloseReport { errors, still_granted: closed.still_granted }
}

/// Bytes of one cached chunk: aligned on the disk, read with one request.
const CHUNK: usize = 64 << 10;
/// Reads up to this size go through the cache; larger ones (file data) go to the device.
const SMALL_READ: usize = 32 << 10;
/// Chunks kept at most (least recently used ones go first).
const CHUNKS: usize = 16;
/// Bytes at the start of each disk read ahead at once when it connects.
const PREFETCH_HEAD: usize = 256 << 10;

/// A read cache over a disk for the boot flow's small reads: the partition and filesystem
/// probes, the configuration search and the menu open the same filesystems again and again,
/// and each small miss costs a dom0 round trip (3–15 ms under TCG) where a 64 KiB read costs
/// hardly more than a 512-byte one. A small read that misses fetches the aligned 64 KiB
/// chunks it touches, all missing ones in one vectored request; later reads of metadata
/// nearby are then served from memory. Large reads pass through untouched (they are read in
/// place by blkfront). The disks are read-only, so the cache is never stale.
pub struct ChunkCache<D: BlockDevice> {
    dev: D,
    /// (first block, bytes, last use).
    chunks: Vec<(u64, Vec<u8>, u64)>,
    clock: u64,
}

impl<D: BlockDevice> ChunkCache<D> {
    /// An empty cache over `dev`.
    pub fn new(dev: D) -> Self {
        Self { dev, chunks: Vec::new(), clock: 0 }
    }

    /// The device.
    pub fn inner(&self) -> &D {
        &self.dev
    }

    /// The device, for reads that bypass the cache.
    pub fn inner_mut(&mut self) -> &mut D {
        &mut self.dev
    }

    /// The device back; the cache is dropped.
    pub fn into_inner(self) -> D {
        self.dev
    }

    /// Blocks per chunk (block sizes are powers of two up to 4096, so at least 16).
    fn per_chunk(&self) -> u64 {
        (CHUNK as u64 / u64::from(self.dev.block_size().max(1))).max(1)
    }

    fn find(&self, first: u64) -> Option<usize> {
        self.chunks.iter().position(|c| c.0 == first)
    }

    /// Reads the chunks starting at blocks `need` (chunk-aligned, in range) in one vectored
    /// request and keeps them, evicting the least recently used beyond [`CHUNKS`].
    fn fetch(&mut self, need: &[u64]) -> Result<(), IoError> {
        let (bs, n, per) = (self.dev.block_size(), self.dev.num_blocks(), self.per_chunk());
        let mut bufs: Vec<Vec<u8>> = Vec::with_capacity(need.len());
        for &c in need {
            let blocks = per.min(n.saturating_sub(c));
            let len = usize::try_from(blocks.saturating_mul(u64::from(bs))).map_err(|_| IoError::OutOfRange)?;
            bufs.push(alloc::vec![0u8; len]);
        }
        let mut parts: Vec<(Lba, &mut [u8])> =
            need.iter().zip(bufs.iter_mut()).map(|(&c, b)| (Lba(c), b.as_mut_slice())).collect();
        self.dev.read_blocks_vectored(&mut parts)?;
        for (&c, b) in need.iter().zip(bufs) {
            if self.chunks.len() >= CHUNKS {
                if let Some(old) = self.chunks.iter().enumerate().min_by_key(|(_, c)| c.2).map(|(i, _)| i) {
                    self.chunks.swap_remove(old);
                }
            }
            self.chunks.push((c, b, 0));
        }
        Ok(())
    }

    /// Fetches, in one request group, the chunks of the disk's first `head` bytes and its last
    /// chunk: every probe reads the partition tables at both ends and the superblocks near the
    /// start, and one round trip for all of it beats one for each. Best effort: a failure
    /// leaves the cache empty (the reads then fail or succeed on their own).
    pub fn prefetch_ends(&mut self, head: usize) {
        let (n, per) = (self.dev.num_blocks(), self.per_chunk());
        let mut want: Vec<u64> =
            (0..(head / CHUNK).min(CHUNKS / 2) as u64).map(|i| i * per).filter(|&c| c < n).collect();
        if let Some(last) = n.checked_sub(1).map(|l| l - l % per) {
            if !want.contains(&last) {
                want.push(last);
            }
        }
        want.retain(|&c| self.find(c).is_none());
        if !want.is_empty() {
            let _ = self.fetch(&want);
        }
    }

    /// Reads small requests through the cache, fetching what is missing in one go.
    fn read_cached(&mut self, reqs: &mut [(Lba, &mut [u8])]) -> Result<(), IoError> {
        let (bs, n) = (self.dev.block_size(), self.dev.num_blocks());
        let per = self.per_chunk();
        let mut need: Vec<u64> = Vec::new();
        let mut used: Vec<u64> = Vec::new();
        for (lba, buf) in reqs.iter() {
            let count = fs::block::check_request(bs, n, *lba, buf.len())?;
            let last = lba.0.saturating_add(count.saturating_sub(1));
            // At most three chunks per request (SMALL_READ ≤ CHUNK), bounded by the loop.
            let mut c = lba.0 - lba.0 % per;
            while c <= last {
                if !used.contains(&c) {
                    used.push(c);
                }
                match self.find(c) {
                    // Most recent now, so the fetch below evicts others first.
                    Some(i) => {
                        self.clock += 1;
                        if let Some(ch) = self.chunks.get_mut(i) {
                            ch.2 = self.clock;
                        }
                    }
                    None if !need.contains(&c) => need.push(c),
                    None => {}
                }
                c = c.saturating_add(per);
            }
        }
        if need.len() > CHUNKS / 2 {
            // Scattered tiny reads: not worth filling the cache with.
            return self.dev.read_blocks_vectored(reqs);
        }
        if !need.is_empty() && self.fetch(&need).is_err() {
            // A chunk may reach a bad block the caller did not ask for.
            return self.dev.read_blocks_vectored(reqs);
        }
        if used.iter().any(|&c| self.find(c).is_none()) {
            // The request spans more chunks than the cache keeps: the fetch evicted some.
            return self.dev.read_blocks_vectored(reqs);
        }
        let bsz = u64::from(bs);
        for (lba, buf) in reqs.iter_mut() {
            let mut done = 0usize;
            // Each pass copies at least one block (the request is block-aligned).
            while done < buf.len() {
                let byte = lba.0.saturating_mul(bsz).saturating_add(done as u64);
                let block = byte / bsz;
                let first = block - block % per;
                let i = self.find(first).ok_or(IoError::Device)?;
                self.clock += 1;
                let chunk = self.chunks.get_mut(i).ok_or(IoError::Device)?;
                chunk.2 = self.clock;
                let off = usize::try_from(byte - first * bsz).map_err(|_| IoError::OutOfRange)?;
                let src = chunk.1.get(off..).ok_or(IoError::Device)?;
                let dst = buf.get_mut(done..).ok_or(IoError::Device)?;
                let k = src.len().min(dst.len());
                if k == 0 {
                    return Err(IoError::Device);
                }
                dst.get_mut(..k).ok_or(IoError::Device)?.copy_from_slice(src.get(..k).ok_or(IoError::Device)?);
                done += k;
            }
        }
        Ok(())
    }
}

impl<D: BlockDevice> BlockDevice for ChunkCache<D> {
    fn block_size(&self) -> u32 {
        self.dev.block_size()
    }
    fn num_blocks(&self) -> u64 {
        self.dev.num_blocks()
    }
    fn read_blocks(&mut self, lba: Lba, buf: &mut [u8]) -> Result<(), IoError> {
        if buf.len() > SMALL_READ {
            return self.dev.read_blocks(lba, buf);
        }
        self.read_cached(&mut [(lba, buf)])
    }
    fn read_blocks_vectored(&mut self, reqs: &mut [(Lba, &mut [u8])]) -> Result<(), IoError> {
        let total = reqs.iter().map(|r| r.1.len()).fold(0usize, usize::saturating_add);
        if total > CHUNK || reqs.iter().any(|r| r.1.len() > SMALL_READ) {
            return self.dev.read_blocks_vectored(reqs);
        }
        self.read_cached(reqs)
    }
    fn write_refusal(&self) -> Option<&'static str> {
        self.dev.write_refusal()
    }
    /// Drops every cached chunk first (a chunk may hold the old bytes), then writes.
    fn write_blocks(&mut self, lba: Lba, buf: &[u8]) -> Result<(), IoError> {
        self.chunks.clear();
        self.dev.write_blocks(lba, buf)
    }
    fn flush(&mut self) -> Result<(), IoError> {
        self.dev.flush()
    }
}

/// A disk of the device stage: its blkfront behind the small-read cache.
pub(crate) type Cached<P> = ChunkCache<Blkfront<P>>;

/// A connected disk: its xenstore name (`xvda`) and its device, shared with the probe's
/// filesystems until the close takes it back.
pub(crate) struct OpenDisk<P: Platform> {
    pub(crate) name: String,
    pub(crate) dev: Rc<RefCell<Cached<P>>>,
}

/// Lets `fs::probe` share a disk while we keep a handle to close it later.
struct SharedBlk<P: Platform>(Rc<RefCell<Cached<P>>>);

impl<P: Platform> BlockDevice for SharedBlk<P> {
    fn block_size(&self) -> u32 {
        self.0.borrow().block_size()
    }
    fn num_blocks(&self) -> u64 {
        self.0.borrow().num_blocks()
    }
    fn read_blocks(&mut self, lba: Lba, buf: &mut [u8]) -> Result<(), IoError> {
        self.0.borrow_mut().read_blocks(lba, buf)
    }
    fn read_blocks_vectored(&mut self, reqs: &mut [(Lba, &mut [u8])]) -> Result<(), IoError> {
        self.0.borrow_mut().read_blocks_vectored(reqs)
    }
    fn write_refusal(&self) -> Option<&'static str> {
        self.0.try_borrow().map_or(Some("the disk is busy"), |d| d.write_refusal())
    }
    fn write_blocks(&mut self, lba: Lba, buf: &[u8]) -> Result<(), IoError> {
        self.0.borrow_mut().write_blocks(lba, buf)
    }
    fn flush(&mut self) -> Result<(), IoError> {
        self.0.borrow_mut().flush()
    }
}

/// Step times under `rpvboot.verbose`: (step, time, disk requests so far).
struct Steps<P: Platform> {
    plat: P,
    on: bool,
    list: Vec<(&'static str, u64, u64)>,
}

impl<P: Platform> Steps<P> {
    fn mark(&mut self, what: &'static str, open: &[OpenDisk<P>]) {
        self.plat.trace(what, open.len() as u64);
        if self.on {
            let reqs = open.iter().map(|d| d.dev.try_borrow().map_or(0, |d| d.inner().stats.requests)).sum();
            self.list.push((what, self.plat.now_ns(), reqs));
        }
    }

    /// One line: each step's microseconds and disk requests, the total, xenstore's cost.
    fn report(&self, xs: &Xenstore<P>, out: &mut dyn Write) {
        let Some(&(_, t0, _)) = self.list.first() else {
            return;
        };
        let _ = write!(out, "rpvboot: device stage (us, disk requests):");
        for w in self.list.windows(2) {
            if let [(_, a, ra), (what, b, rb)] = w {
                let _ = write!(out, " {what} {} ({})", b.saturating_sub(*a) / 1000, rb.saturating_sub(*ra));
            }
        }
        let _ = write!(out, "; total {}; ", self.list.last().map_or(0, |&(_, t, _)| t.saturating_sub(t0)) / 1000);
        xs_summary(xs, out);
    }
}

/// Runs the device stage, printing one line per finding to `out`: [`connect`], [`probe_all`],
/// the bench when asked, [`select`], [`close`].
///
/// # Errors
/// Only when xenstore itself is unusable; disk failures are reported and skipped.
pub fn run<P: Platform + 'static>(
    plat: P,
    out: &mut dyn Write,
    opts: &Options,
) -> Result<Outcome, xenfront::xenstore::XsError> {
    let mut steps = Steps { plat: plat.clone(), on: opts.timing, list: Vec::new() };
    steps.mark("start", &[]);
    let mut xs = Xenstore::new(plat.clone())?;
    let mut outcome = Outcome::default();
    steps.mark("xenstore", &[]);
    let open = connect(&mut xs, opts.blk, out, &mut outcome, opts.timing)?;
    steps.mark("connect", &open);
    let probed = probe_all(&plat, &open, out);
    steps.mark("probe", &open);
    if opts.bench.wanted() {
        crate::bench::run(&plat, &open, &probed, &opts.bench, out);
        steps.mark("bench", &open);
    }
    outcome.selected = select(opts.boot.as_ref(), &probed, out);
    steps.mark("select", &open);
    // Close as soon as the last read is done: the probe's handles go first so that each
    // blkfront is ours alone again.
    drop(probed);
    close(xs, open, opts, &mut steps, out, &mut outcome);
    Ok(outcome)
}

/// Step "connect": every vbd's blkfront behind its cache with both ends of the disk read
/// ahead; its sectors and backend reported under `rpvboot.verbose` (`verbose`), failures always.
fn connect<P: Platform>(
    xs: &mut Xenstore<P>,
    cfg: Config,
    out: &mut dyn Write,
    outcome: &mut Outcome,
    verbose: bool,
) -> Result<Vec<OpenDisk<P>>, xenfront::xenstore::XsError> {
    let disks = blkfront::connect_all(xs, cfg)?;
    if disks.is_empty() {
        let _ = writeln!(out, "rpvboot: no disks (device/vbd is empty)");
    }
    let plat = xs.platform().clone();
    let mut open = Vec::new();
    for d in disks {
        match d.dev {
            Ok(dev) if verbose => {
                let _ = writeln!(
                    out,
                    "rpvboot: disk {}: {} sectors of {} bytes, {}{}",
                    d.name,
                    dev.num_blocks(),
                    dev.block_size(),
                    dev.backend_path(),
                    match dev.indirect_segments() {
                        0 => String::new(),
                        n => alloc::format!(" (indirect, {n} segments)"),
                    }
                );
                open.push(open_disk(d.name, dev, outcome));
            }
            Ok(dev) => open.push(open_disk(d.name, dev, outcome)),
            Err(e) => {
                let _ = writeln!(out, "rpvboot: disk {} unusable: {e}", d.name);
                outcome.failed += 1;
            }
        }
        plat.trace("disk ends prefetched", open.len() as u64);
    }
    Ok(open)
}

/// A connected disk behind its cache, both ends read ahead.
fn open_disk<P: Platform>(name: String, dev: Blkfront<P>, outcome: &mut Outcome) -> OpenDisk<P> {
    outcome.connected += 1;
    let mut cached = ChunkCache::new(dev);
    cached.prefetch_ends(PREFETCH_HEAD);
    OpenDisk { name, dev: Rc::new(RefCell::new(cached)) }
}

/// A disk's size for the console: `512 KiB`, `64 MiB`, `8.0 GiB` (rounded down).
fn size_text(bytes: u64) -> String {
    match bytes {
        b if b < 1 << 20 => alloc::format!("{} KiB", b >> 10),
        b if b < 1 << 30 => alloc::format!("{} MiB", b >> 20),
        b => {
            let tenths = (b >> 20).saturating_mul(10) / 1024;
            alloc::format!("{}.{} GiB", tenths / 10, tenths % 10)
        }
    }
}

/// Step "probe": each disk's size, partition map and filesystems, one line per disk
/// (`rpvboot: xvda = (hd0), 8.0 GiB, mbr: (hd0,0)=ext2 (hd0,1)=?`; a disk without a partition
/// table: `rpvboot: xvda = (hd0), 64 MiB: (hd0)=ext2`), with the reason a partition holds
/// nothing readable (a customer whose disk is damaged should see it here, not only as "file
/// not found" later).
fn probe_all<P: Platform + 'static>(plat: &P, open: &[OpenDisk<P>], out: &mut dyn Write) -> Vec<ProbedDisk> {
    let mut probed = Vec::new();
    for (i, d) in open.iter().enumerate() {
        let disk = probe::scan_disk(u32::try_from(i).unwrap_or(u32::MAX), Box::new(SharedBlk(Rc::clone(&d.dev))));
        let bytes = disk.num_blocks.saturating_mul(u64::from(disk.block_size));
        let _ = write!(out, "rpvboot: {} = (hd{i}), {}", d.name, size_text(bytes));
        if disk.map != probe::MapKind::None {
            let _ = write!(out, ", {}", disk.map.name());
        }
        let _ = write!(out, ":");
        let mut unreadable = Vec::new();
        for p in disk.candidates() {
            let why = match probe::open_fs(p) {
                Ok(f) => {
                    let _ = write!(out, " {}={}", p.grub_name(), f.info().kind);
                    continue;
                }
                Err(fs::Error::NotRecognized) => String::from("no filesystem recognised"),
                Err(e) => alloc::format!("unreadable filesystem: {e}"),
            };
            let _ = write!(out, " {}=?", p.grub_name());
            unreadable.push(alloc::format!("{}: {why}", p.grub_name()));
        }
        let _ = writeln!(out);
        for u in &unreadable {
            let _ = writeln!(out, "rpvboot:   {u}");
        }
        for n in &disk.notes {
            let _ = writeln!(out, "rpvboot:   note: {n}");
        }
        probed.push(disk);
        plat.trace("disk probed", i as u64);
    }
    probed
}

/// Step "close": every frontend says Closing at once; with a kernel to hand over to (and no
/// reconnect check), Closed once the backends are Closing ([`blkfront::Closing::advance`]), and
/// the rest waits in [`Outcome::closing`] until just before the jump.
fn close<P: Platform + 'static>(
    mut xs: Xenstore<P>,
    open: Vec<OpenDisk<P>>,
    opts: &Options,
    steps: &mut Steps<P>,
    out: &mut dyn Write,
    outcome: &mut Outcome,
) {
    let mut names = Vec::new();
    let mut devs = Vec::new();
    for d in open {
        match Rc::try_unwrap(d.dev) {
            Ok(cell) => {
                names.push(d.name);
                devs.push(cell.into_inner().into_inner());
            }
            Err(_) => {
                outcome.close_errors += 1;
                let _ = writeln!(out, "rpvboot: disk {} not closed cleanly: still in use", d.name);
            }
        }
    }
    let mut closing = blkfront::begin_close(&mut xs, devs);
    // With a kernel to hand over to, the close completes just before the jump; the backends'
    // teardown runs while the handover is built. Otherwise (or to check the reconnect) it
    // completes here.
    let closing = if outcome.selected.is_some() && !opts.reconnect_check {
        closing.advance(&mut xs);
        steps.mark("close", &[]);
        Some(closing)
    } else {
        steps.mark("close", &[]);
        outcome.close_errors += report_close(&names, closing.finish(&mut xs), out, opts.timing).errors;
        steps.mark("closed", &[]);
        None
    };
    if opts.reconnect_check {
        reconnect_check(&mut xs, out, opts.blk, outcome);
    }
    steps.report(&xs, out);
    if let Some(closing) = closing {
        let timing = opts.timing;
        outcome.closing = Some(PendingClose(Box::new(move |out: &mut dyn Write| {
            let t0 = xs.platform().now_ns();
            let report = report_close(&names, closing.finish(&mut xs), out, timing);
            if timing {
                let _ =
                    write!(out, "rpvboot: disks closed in {} us; ", xs.platform().now_ns().saturating_sub(t0) / 1000);
                xs_summary(&xs, out);
            }
            report
        })));
    }
}

/// What xenstore cost so far (`rpvboot.verbose`).
fn xs_summary<P: Platform>(xs: &Xenstore<P>, out: &mut dyn Write) {
    let s = &xs.stats;
    let _ = writeln!(
        out,
        "xenstore {} requests in {} round trips, {} us, {} us waiting for events",
        s.requests,
        s.round_trips,
        s.request_ns / 1000,
        s.event_wait_ns / 1000
    );
}

fn reconnect_check<P: Platform>(xs: &mut Xenstore<P>, out: &mut dyn Write, cfg: Config, outcome: &mut Outcome) {
    let disks = match blkfront::connect_all(xs, cfg) {
        Ok(d) => d,
        Err(e) => {
            let _ = writeln!(out, "rpvboot: reconnect: {e}");
            outcome.close_errors += 1;
            return;
        }
    };
    for d in disks {
        let res = d.dev.map_err(|e| alloc::format!("{e}")).and_then(|mut dev| {
            let mut sector = alloc::vec![0u8; usize::try_from(dev.block_size()).unwrap_or(512)];
            let read = dev.read_blocks(Lba(0), &mut sector).map_err(|e| alloc::format!("read: {e}"));
            let closed = dev.shutdown(xs).map_err(|e| alloc::format!("close: {e}"));
            read.and(closed).map(|()| sector.get(510..512).map_or(0, |b| u16::from_le_bytes([b[0], b[1]])))
        });
        match res {
            Ok(sig) => {
                let _ = writeln!(out, "rpvboot: reconnect {}: ok (sector 0 ends {sig:#06x}), closed again", d.name);
            }
            Err(e) => {
                outcome.close_errors += 1;
                let _ = writeln!(out, "rpvboot: reconnect {}: {e}", d.name);
            }
        }
    }
}

/// Step "select": what to boot (`bootplan::select`), when asked: the menu on the PV console,
/// or on the host (no console) the unattended order.
fn select(
    b: Option<&bootplan::select::SelectArgs>,
    disks: &[ProbedDisk],
    out: &mut dyn Write,
) -> Option<bootplan::select::Selected> {
    use bootplan::select::select_with;
    let b = b?;
    #[cfg(target_os = "none")]
    if let Some(con) = crate::console::get() {
        let mut term = con;
        let now = || crate::console::get().map_or(0, |c| pvconsole::Platform::now_ns(c.platform()));
        return select_with(b, disks, out, Some(&mut term), now);
    }
    select_with(b, disks, out, None, || 0)
}

/// The PV console as a [`Write`] target.
#[cfg(target_os = "none")]
#[derive(Debug)]
pub struct ConsoleOut;

#[cfg(target_os = "none")]
impl Write for ConsoleOut {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        crate::console::print(format_args!("{s}"));
        Ok(())
    }
}

/// Where the device stage finds Xen's side of things, as the start-up path (PV or PVH) learnt it.
#[cfg(target_os = "none")]
#[derive(Clone, Copy, Debug)]
pub struct XenStart {
    /// The xenstore ring's frame (MFN for PV, GFN for PVH) and event channel.
    pub store_frame: u64,
    pub store_port: u32,
    /// How the grant table is reached.
    pub grant_frames: crate::hypervisor::platform::GrantFrames,
    /// Pages of the domain (what the kernel check plans with).
    pub nr_pages: u64,
    /// PV or PVH: which kernels can boot (a PVH domain boots only PVH-capable ones).
    pub container: bootplan::plan::Container,
}

/// rpvboot's pages as the plan counts them: everything but the heap's free pages, plus the
/// handover's working memory for a region of a quarter of the domain.
#[cfg(target_os = "none")]
pub fn pages_in_use(nr_pages: u64) -> u64 {
    nr_pages
        .saturating_sub(crate::heap::stats().free_pages())
        .saturating_add(bootplan::plan::work_pages(nr_pages, nr_pages / 4))
}

/// [`bootplan::select::SelectArgs`] for this domain; `None` (no boot) under `rpvboot.noboot`
/// and `rpvboot.test=ramdisk`, which only exercise the device stage.
#[cfg(target_os = "none")]
pub fn select_args(
    nr_pages: u64,
    container: bootplan::plan::Container,
    extra: &ExtraOptions,
) -> Option<bootplan::select::SelectArgs> {
    if !extra.boots_from_disk() {
        return None;
    }
    Some(bootplan::select::SelectArgs {
        extra: extra.clone(),
        nr_pages,
        pages_in_use: pages_in_use(nr_pages),
        container,
    })
}

/// The kernel's entry to the device stage (both start-up paths): builds the platform and
/// prints to the console. Options come from the parsed `extra=` line ([`Options::from_extra`],
/// and `rpvboot.spin=<us>`: how long a wait for dom0 spins before it blocks).
#[cfg(target_os = "none")]
pub fn run_xen(start: &XenStart, shared: crate::hypervisor::shared::Shared, extra: &ExtraOptions) -> Outcome {
    use crate::hypervisor::platform::XenPlatform;
    let opts = Options { boot: select_args(start.nr_pages, start.container, extra), ..Options::from_extra(extra) };
    let mut con = ConsoleOut;
    let plat = match XenPlatform::new(shared, start.store_frame, start.store_port, start.grant_frames) {
        Ok(p) => {
            if let Some(us) = extra.dev.spin_us {
                p.set_spin_ns(us.saturating_mul(1000));
            }
            p
        }
        Err(e) => {
            let _ = writeln!(con, "rpvboot: grant table: {e}");
            return Outcome::default();
        }
    };
    match run(plat, &mut con, &opts) {
        Ok(o) => o,
        Err(e) => {
            let _ = writeln!(con, "rpvboot: xenstore: {e}");
            Outcome::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fs::MemDisk;
    use xenfront::fake::{Behaviour, Fake};

    use testimages::tools::ext2_image;

    #[test]
    fn finds_menu_on_second_disk_despite_a_dead_one_and_closes_all() {
        let menu = b"default 0\ntimeout 5\ntitle NetBSD\n  kernel (hd1)/netbsd\n";
        let f = Fake::new();
        f.add_disk(51712, MemDisk::new(ext2_image(&[("/etc/motd", b"hi")], 4), 512), Behaviour::Normal, None);
        f.add_disk(51728, MemDisk::new(vec![0; 1 << 20], 512), Behaviour::NeverConnect, None);
        f.add_disk(
            51744,
            MemDisk::new(ext2_image(&[("/boot/grub/menu.lst", menu), ("/big", &vec![7u8; 300_000])], 8), 512),
            Behaviour::Normal,
            Some(32),
        );
        let mut out = String::new();
        let extra =
            bootconfig::extra::parse("rpvboot.bench=2 rpvboot.benchfile=/big rpvboot.test=reconnect rpvboot.verbose");
        let boot = bootplan::select::SelectArgs {
            extra: extra.clone(),
            nr_pages: 16384,
            pages_in_use: 2048,
            ..Default::default()
        };
        let opts = Options { boot: Some(boot), ..Options::from_extra(&extra) };
        let o = run(f.clone(), &mut out, &opts).unwrap();
        // The dead disk fails again in the reconnect check; that is its only error.
        assert_eq!((o.connected, o.failed, o.close_errors), (2, 1, 1), "{out}");
        assert!(out.contains("rpvboot: reconnect xvdb: device/vbd/51728"), "{out}");
        // The one search finds the file where it was put: the second connected disk, (hd1).
        assert!(out.contains("rpvboot: configuration (hd1)/boot/grub/menu.lst "), "{out}");
        assert!(out.contains(r#"rpvboot: entry 0 "NetBSD" cannot boot: kernel (hd1)/netbsd"#), "{out}");
        assert!(o.selected.is_none());
        // The bench ran between the probe and the choice: three passes of each kind.
        assert_eq!(out.matches("rpvboot: bench xvda: raw read 2 MiB").count(), 3, "{out}");
        assert_eq!(out.matches("rpvboot: bench file (hd1)/big: 300000 bytes").count(), 3, "{out}");
        assert!(out.contains("rpvboot: stats xvdc: "), "{out}");
        assert!(!out.contains("rpvboot: | "), "no menu file dump: {out}");
        assert!(
            out.contains("rpvboot: disk xvda: 8192 sectors of 512 bytes, /local/domain/0/backend/vbd/7/51712"),
            "{out}"
        );
        assert!(
            out.contains("disk xvdb unusable: device/vbd/51728 (backend /local/domain/0/backend/vbd/7/51728)"),
            "{out}"
        );
        assert!(out.contains("rpvboot: reconnect xvda: ok"), "{out}");
        assert!(out.contains("rpvboot: reconnect xvdc: ok"), "{out}");
        assert_eq!((f.live_grants(), f.live_ports()), (0, 0));
        assert_eq!(f.get("device/vbd/51744/state").as_deref(), Some("1"));
    }

    #[test]
    fn pages_a_backend_keeps_granted_are_reported_at_close() {
        let f = Fake::new();
        f.add_disk(51712, MemDisk::new(ext2_image(&[("/etc/motd", b"hi")], 4), 512), Behaviour::KeepsMapped, None);
        let mut out = String::new();
        let o = run(f.clone(), &mut out, &Options::default()).unwrap();
        assert_eq!(o.close_errors, 1, "{out}");
        // The count printed is the grants the fake's backend still maps.
        let line = format!("rpvboot: {} page(s) still granted to disk backends after the close", f.live_grants());
        assert!(f.live_grants() > 0 && out.contains(&line), "{out}");
        let report = CloseReport { errors: 1, still_granted: f.live_grants() };
        assert!(report.refusal().is_some_and(|r| r.contains("refusing")));
    }

    /// Without rpvboot.verbose: one line for the disk (its size from the image put in, its
    /// filesystem), no backend path, no step times, no clean close; with it, all of those.
    #[test]
    fn the_default_console_has_one_line_per_disk() {
        let img = ext2_image(&[("/etc/motd", b"hi")], 4);
        let mib = img.len() >> 20;
        let console = |extra: &str| {
            let f = Fake::new();
            f.add_disk(51712, MemDisk::new(img.clone(), 512), Behaviour::Normal, None);
            let mut out = String::new();
            let o = run(f, &mut out, &Options::from_extra(&bootconfig::extra::parse(extra))).unwrap();
            assert_eq!((o.connected, o.close_errors), (1, 0), "{out}");
            out
        };
        let quiet = console("");
        assert!(quiet.starts_with(&format!("rpvboot: xvda = (hd0), {mib} MiB: (hd0)=ext2\n")), "{quiet}");
        for noise in ["sectors of", "backend/vbd", "device stage", " closed"] {
            assert!(!quiet.contains(noise), "{noise}: {quiet}");
        }
        let verbose = console("rpvboot.verbose");
        let sectors = format!("rpvboot: disk xvda: {} sectors of 512 bytes, ", img.len() / 512);
        for line in [sectors.as_str(), "rpvboot: device stage", "rpvboot: disk xvda closed"] {
            assert!(verbose.contains(line), "{line}: {verbose}");
        }
    }

    #[test]
    fn disk_sizes_read_as_people_write_them() {
        assert_eq!(size_text(4096), "4 KiB");
        assert_eq!(size_text(64 << 20), "64 MiB");
        assert_eq!(size_text((8 << 30) + (300 << 20)), "8.2 GiB");
        assert_eq!(size_text(u64::MAX), "17179869183.9 GiB");
    }

    /// A disk that records the device reads it serves and fails those touching `bad`.
    struct Counting {
        disk: MemDisk,
        reads: Vec<(u64, usize)>,
        bad: Option<u64>,
    }

    impl BlockDevice for Counting {
        fn block_size(&self) -> u32 {
            self.disk.block_size()
        }
        fn num_blocks(&self) -> u64 {
            self.disk.num_blocks()
        }
        fn read_blocks(&mut self, lba: Lba, buf: &mut [u8]) -> Result<(), IoError> {
            self.reads.push((lba.0, buf.len()));
            let n = (buf.len() / 512) as u64;
            if self.bad.is_some_and(|b| (lba.0..lba.0 + n).contains(&b)) {
                return Err(IoError::Device);
            }
            self.disk.read_blocks(lba, buf)
        }
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| ((i / 512) as u8).wrapping_mul(37) ^ (i as u8)).collect()
    }

    #[test]
    fn chunk_cache_serves_small_reads_from_few_device_reads() {
        let bytes = pattern(1 << 20);
        let mut c = ChunkCache::new(Counting { disk: MemDisk::new(bytes.clone(), 512), reads: vec![], bad: None });
        let read = |c: &mut ChunkCache<Counting>, lba: u64, n: usize| {
            let mut b = vec![0u8; n];
            c.read_blocks(Lba(lba), &mut b).unwrap();
            assert!(b[..] == bytes[lba as usize * 512..][..n], "lba {lba} len {n}");
        };
        read(&mut c, 3, 1024);
        read(&mut c, 100, 512);
        read(&mut c, 0, 32 << 10);
        assert_eq!(c.inner().reads, [(0, 64 << 10)], "one chunk read serves all three");
        // Across a chunk boundary: only the missing chunk is read.
        read(&mut c, 127, 1024);
        assert_eq!(c.inner().reads[1..], [(128, 64 << 10)]);
        // The last chunk is cut at the end of the disk; past it is an error without a read.
        read(&mut c, 2047, 512);
        assert_eq!(c.inner().reads[2..], [(1920, 64 << 10)]);
        let mut b = [0u8; 1024];
        assert_eq!(c.read_blocks(Lba(2047), &mut b), Err(IoError::OutOfRange));
        assert_eq!(c.read_blocks(Lba(0), &mut b[..100]), Err(IoError::Misaligned));
        assert_eq!(c.inner().reads.len(), 3);
        // Large reads go to the device as they are.
        read(&mut c, 501, 33 << 10);
        assert_eq!(c.inner().reads[3..], [(501, 33 << 10)]);
        // Small vectored reads share one fetch of what is missing.
        let mut x = vec![0u8; 512];
        let mut y = vec![0u8; 2048];
        c.read_blocks_vectored(&mut [(Lba(300), &mut x[..]), (Lba(1000), &mut y[..])]).unwrap();
        assert!(x[..] == bytes[300 * 512..][..512] && y[..] == bytes[1000 * 512..][..2048]);
        assert_eq!(c.inner().reads[4..], [(256, 64 << 10), (896, 64 << 10)]);
        // Many chunks: the least recently used go, the data stays right.
        for lba in (0..2048).step_by(128) {
            read(&mut c, lba + 5, 512);
        }
        assert!(c.chunks.len() <= CHUNKS);
    }

    #[test]
    fn chunk_cache_prefetch_and_bad_blocks() {
        let bytes = pattern(1 << 20);
        let mut c = ChunkCache::new(Counting { disk: MemDisk::new(bytes.clone(), 512), reads: vec![], bad: Some(90) });
        c.prefetch_ends(256 << 10);
        // The chunk with the bad block fails the (vectored) fetch: nothing is kept.
        assert!(c.chunks.is_empty());
        // A read beside the bad block is served directly, and is not cached.
        let mut b = vec![0u8; 1024];
        for _ in 0..2 {
            c.inner_mut().reads.clear();
            c.read_blocks(Lba(10), &mut b).unwrap();
            assert!(b[..] == bytes[10 * 512..][..1024]);
            assert_eq!(c.inner().reads, [(0, 64 << 10), (10, 1024)]);
        }
        assert_eq!(c.read_blocks(Lba(89), &mut b), Err(IoError::Device));
        // Without a bad block: the first 256 KiB and the last chunk in one go, then no reads.
        let mut c = ChunkCache::new(Counting { disk: MemDisk::new(bytes.clone(), 512), reads: vec![], bad: None });
        c.prefetch_ends(256 << 10);
        assert_eq!(c.inner().reads.len(), 5);
        for lba in [0u64, 1, 128, 511, 2047] {
            c.read_blocks(Lba(lba), &mut b[..512]).unwrap();
            assert!(b[..512] == bytes[lba as usize * 512..][..512]);
        }
        assert_eq!(c.inner().reads.len(), 5);
    }

    /// A full cache and a vectored read touching one old cached chunk and new ones: the fetch
    /// must not evict the chunk the same read copies from (it did: "device error" reading an
    /// initrd's indirect blocks from a partition of an MBR disk under real Xen).
    #[test]
    fn chunk_cache_fetch_keeps_the_chunks_a_read_uses() {
        let bytes = pattern(4 << 20);
        let mut c = ChunkCache::new(Counting { disk: MemDisk::new(bytes.clone(), 512), reads: vec![], bad: None });
        let per = c.per_chunk();
        let mut b = vec![0u8; 512];
        // Fill the cache: chunk 0 is the least recently used.
        for i in 0..CHUNKS as u64 {
            c.read_blocks(Lba(i * per), &mut b).unwrap();
        }
        // One read group: chunk 0 (cached, oldest) and 8 new chunks.
        let mut bufs: Vec<Vec<u8>> = (0..9).map(|_| vec![0u8; 512]).collect();
        let lbas: Vec<u64> = core::iter::once(1).chain((0..8).map(|i| (CHUNKS as u64 + i) * per)).collect();
        let mut reqs: Vec<(Lba, &mut [u8])> =
            lbas.iter().zip(bufs.iter_mut()).map(|(&l, b)| (Lba(l), b.as_mut_slice())).collect();
        c.read_blocks_vectored(&mut reqs).unwrap();
        for (l, b) in lbas.iter().zip(&bufs) {
            assert!(b[..] == bytes[*l as usize * 512..][..512], "block {l}");
        }
        assert!(c.chunks.len() <= CHUNKS);
    }

    /// The device stage's options from the `extra=` spellings the e2e scenarios and
    /// `cargo xtask bench` use, with the fallbacks the old word scan had.
    #[test]
    fn options_from_extra() {
        let o = Options::from_extra(&bootconfig::extra::parse(
            "rpvboot.bench=64 rpvboot.benchfile=(hd0)/big.bin rpvboot.blkpages=5000 rpvboot.blksegs=0 rpvboot.readahead=128 rpvboot.verbose",
        ));
        assert_eq!(o.bench, Bench { raw_mib: 64, file: Some("(hd0)/big.bin".into()) });
        assert_eq!((o.blk.data_pages, o.blk.max_indirect_segments, o.blk.read_ahead), (1024, 0, 128 << 10));
        assert!(o.timing && !o.reconnect_check && o.boot.is_none());
        let o = Options::from_extra(&bootconfig::extra::parse("rpvboot.blkpages=1 rpvboot.test=reconnect"));
        assert_eq!(o.blk.data_pages, 11);
        assert!(o.reconnect_check && !o.bench.wanted());
        let d = Config::default();
        let o = Options::from_extra(&bootconfig::extra::parse(""));
        assert_eq!(
            (o.blk.data_pages, o.blk.max_indirect_segments, o.blk.read_ahead),
            (d.data_pages, d.max_indirect_segments, d.read_ahead)
        );
    }

    #[test]
    fn garbage_and_no_menu_are_reported() {
        let f = Fake::new();
        f.add_disk(
            51712,
            MemDisk::new((0..1u32 << 20).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect(), 512),
            Behaviour::Normal,
            None,
        );
        let mut out = String::new();
        let boot = bootplan::select::SelectArgs { nr_pages: 16384, pages_in_use: 2048, ..Default::default() };
        let o = run(f, &mut out, &Options { boot: Some(boot), ..Options::default() }).unwrap();
        assert!(o.selected.is_none());
        assert!(out.contains("rpvboot: configuration builtin"), "{out}");
        assert!(out.contains("rpvboot: no entry could be booted"), "{out}");
        assert!(!out.contains("bench"), "no bench unless asked: {out}");
        let mut out = String::new();
        let o = run(Fake::new(), &mut out, &Options::default()).unwrap();
        assert_eq!(o.connected, 0);
        assert!(out.contains("no disks"), "{out}");
    }
}
