//! `rpvboot.bench=<MiB>` and `rpvboot.benchfile=<path>`: the device stage times its own reads
//! (`cargo xtask bench --profile` reads these lines), between the probe and the choice, and
//! only when asked. Several passes, raw and file reads interleaved: timings under emulation
//! are noisy, and the machine's load drifts between passes. Lines: `rpvboot: bench NAME: raw
//! read …`, `rpvboot: bench file PATH: …`, then `rpvboot: stats NAME: …` per disk.

use alloc::string::String;
use core::fmt::Write;

use fs::probe::{self, Disk as ProbedDisk};
use fs::{BlockDevice, Lba};
use xenfront::blkfront::Blkfront;
use xenfront::platform::Platform;

use crate::devices::OpenDisk;

/// What to time.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Bench {
    /// Raw read throughput over this many MiB of each disk (0: off).
    pub raw_mib: u32,
    /// Also time reading this file (`(hdN,M)/path` or `/path`).
    pub file: Option<String>,
}

impl Bench {
    /// Whether anything is to be timed.
    pub fn wanted(&self) -> bool {
        self.raw_mib > 0 || self.file.is_some()
    }
}

/// Passes over the disks and the file.
const PASSES: usize = 3;

/// Times `b` on the open disks and the probed filesystems, then prints each disk's counters.
pub(crate) fn run<P: Platform>(plat: &P, open: &[OpenDisk<P>], probed: &[ProbedDisk], b: &Bench, out: &mut dyn Write) {
    for _ in 0..PASSES {
        if b.raw_mib > 0 {
            for d in open {
                bench_raw(plat, &d.name, d.dev.borrow_mut().inner_mut(), b.raw_mib, out);
            }
        }
        if let Some(path) = &b.file {
            bench_file(plat, probed, path, out);
        }
    }
    for d in open {
        let s = d.dev.borrow().inner().stats;
        let _ = writeln!(
            out,
            "rpvboot: stats {}: {} requests ({} indirect), {} MiB, up to {} in flight, {} read-ahead hits",
            d.name,
            s.requests,
            s.indirect,
            s.bytes >> 20,
            s.max_in_flight,
            s.ra_hits
        );
    }
}

fn mib_per_s(bytes: u64, ns: u64) -> (u64, u64) {
    // MiB/s with one decimal, in integers: bytes * 1e9 / ns / 2^20.
    let tenths = u128::from(bytes) * 10_000_000_000 / u128::from(ns.max(1)) / (1 << 20);
    let t = u64::try_from(tenths).unwrap_or(u64::MAX);
    (t / 10, t % 10)
}

fn bench_raw<P: Platform>(plat: &P, name: &str, dev: &mut Blkfront<P>, mib: u32, out: &mut dyn Write) {
    let bs = u64::from(dev.block_size());
    let total = (u64::from(mib) << 20).min(dev.num_blocks().saturating_mul(bs));
    let chunk: u64 = 4 << 20;
    let mut buf = alloc::vec![0u8; usize::try_from(chunk).unwrap_or(1 << 20)];
    let before = dev.stats;
    let t0 = plat.now_ns();
    let mut done = 0u64;
    while done < total {
        let n = (total - done).min(chunk);
        let n = n - n % bs;
        let Some(b) = buf.get_mut(..usize::try_from(n).unwrap_or(0)) else {
            break;
        };
        if n == 0 {
            break;
        }
        if let Err(e) = dev.read_blocks(Lba(done / bs), b) {
            let _ = writeln!(out, "rpvboot: bench {name}: read at byte {done}: {e}");
            return;
        }
        done += n;
    }
    let ns = plat.now_ns().saturating_sub(t0);
    let (w, f) = mib_per_s(done, ns);
    let s = dev.stats;
    let _ = writeln!(
        out,
        "rpvboot: bench {name}: raw read {} MiB in {} ms = {w}.{f} MiB/s ({} requests, {} indirect, up to {} in flight)",
        done >> 20,
        ns / 1_000_000,
        s.requests - before.requests,
        s.indirect - before.indirect,
        s.max_in_flight
    );
}

fn bench_file<P: Platform>(plat: &P, disks: &[ProbedDisk], path: &str, out: &mut dyn Write) {
    let mut r = match probe::resolve(disks, path) {
        Ok(r) => r,
        Err(e) => {
            let _ = writeln!(out, "rpvboot: bench file {path}: {e}");
            return;
        }
    };
    let mut buf = alloc::vec![0u8; 4 << 20];
    let t0 = plat.now_ns();
    let mut off = 0u64;
    // Bounded: at most size/1 + 1 iterations, since each read advances or ends the loop.
    while off < r.meta.size {
        match r.fs.read_at(r.meta.id, off, &mut buf) {
            Ok(0) => break,
            Ok(n) => off += u64::try_from(n).unwrap_or(0),
            Err(e) => {
                let _ = writeln!(out, "rpvboot: bench file {path}: at {off}: {e}");
                return;
            }
        }
    }
    let ns = plat.now_ns().saturating_sub(t0);
    let (w, f) = mib_per_s(off, ns);
    let _ = writeln!(
        out,
        "rpvboot: bench file {}{}: {} bytes in {} ms = {w}.{f} MiB/s",
        r.partition.grub_name(),
        r.path,
        off,
        ns / 1_000_000
    );
}
