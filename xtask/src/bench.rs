//! `cargo xtask bench`: rpvboot side by side with pvgrub2 (issue 10), in ONE QEMU boot.
//!
//! Both loaders boot the same probe kernel (`testimages/probe`) from the same disk images
//! (ext2 and FFSv2, made by mke2fs/makefs), as e2e scenarios in alternating order. The clock
//! is Xen's: the probe prints at its first instructions `RPVBOOT-PROBE T vcpu_ns=<ns>`, the
//! sum of its vCPU's runstate times, i.e. Xen system time elapsed since the vCPU was created
//! while `xl create` built the domain. No cross-domain clock sync is needed and the same
//! number exists for pvgrub2, which prints nothing of its own.
//!
//! Figures (ratios rpvboot / pvgrub2 from the same round; median and min–max over rounds):
//! 1. vCPU creation → probe entry, no module; and the same for a probe that carries Debian's
//!    decompressed kernel as its data (`probe::build_probe_vmlinux`, xz like Debian's
//!    bzImage payload), the kernel a domU owner boots: the probe is only the clock, and only
//!    samples whose probe printed `RPVBOOT-PROBE PAYLOAD ok` (its FNV-1a check of the 63 MiB)
//!    count.
//! 2. MiB/s loading a 64 MiB module: 64 MiB / (T with module − T without; the latter the median
//!    over the rounds), per filesystem;
//!    against dom0 `dd` of the same image through a loop device (after the scenarios).
//! 3. Image sizes (host only): the ELF, `rpvboot.gz` and `rpvboot.xz` against pvgrub2's image,
//!    and, for context, against pvgrub2's image gzipped / xz'd the same way.
//! 4. Smallest `memory=` on a grid for which the probe was reached.
//! 5. `--storm N`: N domUs started at once, per loader: time to the last probe entry and dom0
//!    CPU time meanwhile (`bench/storm.rs`).
//!
//! This is a benchmark: it never fails on a timing, only on a broken harness.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result};

use crate::e2e::scenarios::{Disk, Kernel, Scenario};
use crate::e2e::{self, RunOpts, Stream};
use crate::util::{self, e2e_dir, mkdirp, project_root, run};

mod decompress;
mod storm;
use storm::STORM_MAX;

/// Size of the big module (the "64 MiB kernel file").
const BIG: u64 = 64 << 20;
/// Memory of the throughput domUs: the module plus room for either loader.
const MEM_MIB: u32 = 192;
/// `memory=` grid for figure 4.
const MEM_GRID: [u32; 7] = [4, 8, 12, 16, 24, 32, 64];
/// `memory=` of figure 1's vmlinux-probe domUs, the same for both loaders: what both need,
/// found with `--fig1-mem` (FIG1_MEM_GRID).
const FIG1_MEM_MIB: u32 = crate::probe::VMLINUX_MEM_MIB;
/// `--fig1-mem`: the grid for the vmlinux probe (figure 4 for that kernel). pvgrub2 failed at
/// 96 MiB (out of heap), and so did rpvboot while it held xz's 32 MiB dictionary next to the
/// 63 MiB output; since xz decodes into the output (issue 23) rpvboot needs the output, the
/// compressed file and itself, hence the points below 96.
const FIG1_MEM_GRID: [u32; 8] = [72, 76, 80, 88, 96, 104, 112, 128];
/// Seconds a `--fig1-mem` domU gets: pvgrub2 sits in its menu after "out of memory", so a
/// failure costs the whole timeout.
const FIG1_MEM_TIMEOUT: u32 = 90;

/// Seconds a vmlinux-probe domU gets (pvgrub2 needs ~15 s of TCG to decompress 63 MiB).
fn vmlinux_timeout(l: Loader) -> u32 {
    match l {
        Loader::Rpv => 120,
        Loader::Grub => 240,
    }
}

/// Seconds a domU with the 64 MiB module gets (pvgrub2 is slow under TCG).
fn big_timeout(l: Loader) -> u32 {
    match l {
        Loader::Rpv => 240,
        Loader::Grub => 480,
    }
}

/// `extra=` of the `--profile` domUs.
const PROFILE_EXTRA: &str = "rpvboot.bench=64 rpvboot.benchfile=(hd0)/big.bin";

/// Goals from issue 10, printed next to each figure.
const GOAL1: &str = "<= 0.5x pvgrub2";
const GOAL2: &str = ">= 5x pvgrub2, >= 50% of dom0 dd";
const GOAL3: &str = "<= 0.5x pvgrub2";
const GOAL4: &str = "<= pvgrub2";

/// `cargo xtask bench`.
#[derive(clap::Args)]
pub struct Bench {
    /// Rounds (each: both loaders, both filesystems, with and without the 64 MiB module).
    #[arg(long, default_value_t = 3)]
    rounds: u32,
    /// Skip figure 4 (the memory grid, about 18 short domUs).
    #[arg(long)]
    no_memory: bool,
    /// Only figure 3 (image sizes): no QEMU.
    #[arg(long)]
    size_only: bool,
    /// Only figure 2 (the 64 MiB module domUs and dom0 dd; implies --no-memory): for iterating
    /// on throughput.
    #[arg(long)]
    fig2: bool,
    /// Only figure 4 (the memory grid: about 14 short domUs, no module domUs, no dd).
    #[arg(long)]
    fig4: bool,
    /// Only figure 1: per round the module-less probe domUs and the vmlinux-probe domUs (no
    /// 64 MiB module, no dd, no memory grid).
    #[arg(long)]
    fig1: bool,
    /// Add figure 1's memory search: the vmlinux probe on ext2 at each of FIG1_MEM_GRID MiB,
    /// both loaders (the smallest memory= that reaches `PAYLOAD ok`).
    #[arg(long)]
    fig1_mem: bool,
    /// Leave out figure 1's vmlinux-probe domUs (about 25 s per round and loader pair).
    #[arg(long)]
    no_vmlinux: bool,
    /// Boot only rpvboot, not pvgrub2 (iterating on rpvboot; the pvgrub2 ratios are then n/a).
    #[arg(long)]
    rpv_only: bool,
    /// The `extra=` line of the rpvboot domUs (e.g. `rpvboot.trace`: a timing trace of each
    /// boot on its console, docs/loader-time.md).
    #[arg(long, value_name = "LINE", default_value = "")]
    rpv_extra: String,
    /// Add, per round and filesystem, a small-kernel rpvboot domU `b<r>-<fs>-rpv<N>-small`
    /// with this `extra=` line (N = 1, 2, … in the order given): same-boot A/B of options.
    /// Listed with the per-domU samples, not in the figures. Repeatable.
    #[arg(long, value_name = "LINE")]
    rpv_variant: Vec<String>,
    /// Add, per round and filesystem, an rpvboot domU that times its own reads before booting
    /// (`rpvboot.bench=64`: the raw disk three times; `rpvboot.benchfile`: the 64 MiB file),
    /// free of the noise of subtracting two domUs' start-up times: a profile of the disk and
    /// filesystem path, next to dom0's dd.
    #[arg(long)]
    profile: bool,
    /// Re-analyse an existing run directory (target/e2e/runs/<time>) instead of booting.
    #[arg(long, value_name = "DIR")]
    analyse: Option<PathBuf>,
    /// Only the host decompression benchmark: our gzip/xz/zstd/lz4 (built with rpvboot's `pv`
    /// profile) against the C tools on Debian's uncompressed vmlinux
    /// (target/e2e/out/vmlinux-dom0), and against the C libraries decoding into one buffer:
    /// instructions (callgrind, if installed), CPU and warm CPU time (without our output's page
    /// faults), wall time, best of --rounds, as ratios; report in target/bench/decompress.md
    /// and .json (`bench/decompress.rs` says how). No QEMU.
    #[arg(long)]
    decompress: bool,
    /// Only figure 5, the boot storm: N domUs started at the same moment, each from its own copy
    /// of a small ext2 probe disk, all with rpvboot and then all with pvgrub2 (the order
    /// alternating over --rounds), in one boot. Repeatable (`--storm 8 --storm 16`); at most
    /// STORM_MAX.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=STORM_MAX as i64))]
    storm: Vec<u32>,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Loader {
    Rpv,
    Grub,
}

impl Loader {
    fn tag(self) -> &'static str {
        match self {
            Loader::Rpv => "rpv",
            Loader::Grub => "grub",
        }
    }
}

const FSES: [&str; 2] = ["ext2", "ffs2"];

pub(crate) fn bench_dir() -> PathBuf {
    project_root().join("target").join("bench")
}

/// The host CPU's model name (`/proc/cpuinfo`), for the reports' headers; empty if unknown.
pub(crate) fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| l.strip_prefix("model name")?.split(':').nth(1).map(|s| s.trim().to_string()))
        })
        .unwrap_or_default()
}

impl Bench {
    pub fn run(self) -> Result<()> {
        if self.decompress {
            return decompress::run(self.rounds);
        }
        mkdirp(&bench_dir())?;
        let rpv = crate::build::build_rpvboot()?;
        let grub = pvgrub2_image()?;
        let sizes = Sizes::measure(&rpv, &grub)?;
        let mut out = Figures { sizes, ..Figures::default() };
        if !self.size_only {
            out.vmlinux = Some(VmlinuxInfo::measure()?);
            let run_dir = match self.analyse {
                Some(d) => d,
                None if !self.storm.is_empty() => storm::boot(&self.storm, self.rounds, &grub)?,
                None => self.boot(&grub)?,
            };
            out.parse_run(&run_dir)?;
            out.run_dir = Some(run_dir);
        }
        out.rounds_wanted = self.rounds;
        out.write()
    }

    /// Runs every scenario in one QEMU boot and returns the run directory.
    fn boot(&self, grub: &Path) -> Result<PathBuf> {
        let disks = BTreeMap::from([
            (("ext2", true), disk("ext2", true)?),
            (("ext2", false), disk("ext2", false)?),
            (("ffs2", true), disk("ffs2", true)?),
            (("ffs2", false), disk("ffs2", false)?),
        ]);
        let vmlinux = !(self.no_vmlinux || self.fig2 || self.fig4);
        let vm_disks = if vmlinux || self.fig1_mem {
            BTreeMap::from([("ext2", vmlinux_disk("ext2")?), ("ffs2", vmlinux_disk("ffs2")?)])
        } else {
            BTreeMap::new()
        };
        let mut list = Vec::new();
        let rounds = if self.fig4 { 0 } else { self.rounds };
        for r in 0..rounds {
            // Alternate which loader goes first, so drift in the machine's load hits both.
            let order = if r % 2 == 0 { [Loader::Rpv, Loader::Grub] } else { [Loader::Grub, Loader::Rpv] };
            let order = order.into_iter().filter(|l| !self.rpv_only || *l == Loader::Rpv);
            for fs in FSES {
                let bigs: &[bool] = if self.fig1 { &[false] } else { &[false, true] };
                for &big in bigs {
                    for l in order.clone() {
                        let d = disks.get(&(fs, big)).context("disk")?.clone();
                        let mut s = scenario(
                            &format!("b{r}-{fs}-{}-{}", l.tag(), if big { "big" } else { "small" }),
                            l,
                            grub,
                            d,
                            MEM_MIB,
                            if big { big_timeout(l) } else { 90 },
                        );
                        if l == Loader::Rpv {
                            s.extra = self.rpv_extra.clone();
                        }
                        list.push(s);
                    }
                }
                for (i, extra) in self.rpv_variant.iter().enumerate() {
                    let d = disks.get(&(fs, false)).context("disk")?.clone();
                    let mut s = scenario(&format!("b{r}-{fs}-rpv{}-small", i + 1), Loader::Rpv, grub, d, MEM_MIB, 90);
                    s.extra = extra.clone();
                    list.push(s);
                }
                if vmlinux {
                    for l in order.clone() {
                        let d = vm_disks.get(fs).context("vmlinux disk")?.clone();
                        let name = format!("b{r}-{fs}-{}-vmlinux", l.tag());
                        list.push(scenario(&name, l, grub, d, FIG1_MEM_MIB, vmlinux_timeout(l)));
                    }
                }
                if self.profile && !self.fig1 {
                    let d = disks.get(&(fs, true)).context("disk")?.clone();
                    let mut s = scenario(&format!("p{r}-{fs}"), Loader::Rpv, grub, d, MEM_MIB, 240);
                    s.extra = PROFILE_EXTRA.to_string();
                    list.push(s);
                }
            }
        }
        if self.fig1_mem {
            let d = vm_disks.get("ext2").context("vmlinux disk")?.clone();
            for m in FIG1_MEM_GRID {
                for l in [Loader::Rpv, Loader::Grub].into_iter().filter(|l| !self.rpv_only || *l == Loader::Rpv) {
                    list.push(scenario(&format!("mv-{}-{m}", l.tag()), l, grub, d.clone(), m, FIG1_MEM_TIMEOUT));
                }
            }
        }
        if !self.no_memory && !self.fig2 && !self.fig1 {
            let d = disks.get(&("ext2", false)).context("disk")?.clone();
            for m in MEM_GRID {
                for l in [Loader::Rpv, Loader::Grub].into_iter().filter(|l| !self.rpv_only || *l == Loader::Rpv) {
                    list.push(scenario(&format!("m-{}-{m}", l.tag()), l, grub, d.clone(), m, 30));
                }
            }
        }
        let dd = !(self.fig4 || self.fig1);
        let opts = RunOpts { stream: Stream::Progress, kernel: None, qemu_timeout: None, after: dd.then(dd_script) };
        let failed = e2e::run_scenarios(&list, &opts)?;
        println!("bench: {failed} domU(s) did not end cleanly (expected for the small memory sizes; not a failure)");
        newest_run(&list.first().context("no bench scenarios")?.name)
    }
}

/// One bench domU: the same disk for both loaders; no verdict (expect nothing).
fn scenario(name: &str, l: Loader, grub: &Path, disk: PathBuf, mem: u32, timeout: u32) -> Scenario {
    Scenario {
        kernel: match l {
            Loader::Rpv => Kernel::Rpvboot,
            Loader::Grub => Kernel::File(grub.to_path_buf()),
        },
        disks: vec![Disk::Path(disk)],
        memory_mib: mem,
        shutdown: None,
        allow_crash: true,
        timeout_secs: timeout,
        ..Scenario::rpvboot(name, "")
    }
}

/// Times dom0 reads each big image with `dd` (figure 2's practical limit): interleaved over
/// the filesystems, so that a change in the machine's load shows as spread, not as a bias.
const DD_REPS: u32 = 3;

/// dom0 side of figure 2: `dd` each big image through a loop device, page cache dropped,
/// [`DD_REPS`] times.
fn dd_script() -> String {
    let mut s = String::from("up() { cut -d' ' -f1 /proc/uptime; }\n");
    for _ in 0..DD_REPS {
        for fs in FSES {
            let _ = write!(
                s,
                "d=$(awk '$1==\"b0-{fs}-rpv-big\"{{print $3}}' /guest/scenarios)\n\
                 if [ -n \"$d\" ] && losetup /dev/loop7 \"/guest/$d\"; then\n\
                   sync; echo 3 > /proc/sys/vm/drop_caches\n\
                   a=$(up); dd if=/dev/loop7 of=/dev/null bs=1M 2>/tmp/dd.err; b=$(up)\n\
                   echo \"BENCH-DD {fs} bytes=$(blockdev --getsize64 /dev/loop7) t0=$a t1=$b $(tail -n 1 /tmp/dd.err)\"\n\
                   losetup -d /dev/loop7\n\
                 else echo \"BENCH-DD {fs} failed\"; fi\n"
            );
        }
    }
    s
}

/// The newest e2e run that holds bench results (other engineers' runs share the directory):
/// the newest with the console log of this bench's scenario `first` (so `--fig4` and full
/// runs do not pick each other's).
fn newest_run(first: &str) -> Result<PathBuf> {
    let log = format!("{first}.console.log");
    let mut dirs: Vec<PathBuf> =
        fs::read_dir(e2e_dir().join("runs"))?.flatten().map(|e| e.path()).filter(|p| p.join(&log).is_file()).collect();
    dirs.sort();
    dirs.pop().context("no e2e run directory")
}

/// Deterministic incompressible-looking bytes (xorshift64), so no filesystem or cache can
/// shortcut them.
fn big_bytes() -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut v = Vec::with_capacity(BIG as usize);
    while (v.len() as u64) < BIG {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v
}

/// A bare ext2 or FFSv2 image with the probe, optionally the 64 MiB module, and the same
/// entry as /grub/menu.lst (rpvboot) and /grub/grub.cfg (pvgrub2).
fn disk(fs_kind: &str, big: bool) -> Result<PathBuf> {
    let (_, gz) = crate::probe::build_probe()?;
    let probe = fs::read(&gz)?;
    let name = format!("{fs_kind}-{}", if big { "big" } else { "small" });
    if big {
        bench_image(
            &name,
            fs_kind,
            96,
            &[("probe.gz", &probe), ("big.bin", &big_bytes())],
            "default 0\ntimeout 0\ntitle bench\n  kernel /probe.gz bench\n  module /big.bin\n",
            "set timeout=0\nmenuentry bench {\n  linux /probe.gz bench\n  initrd /big.bin\n}\n",
        )
    } else {
        bench_image(
            &name,
            fs_kind,
            16,
            &[("probe.gz", &probe)],
            "default 0\ntimeout 0\ntitle bench\n  kernel /probe.gz bench\n",
            "set timeout=0\nmenuentry bench {\n  linux /probe.gz bench\n}\n",
        )
    }
}

/// `<bench>/images/<name>.img`: a bare ext2 (mke2fs) or FFSv2 (makefs) image of `size_mib` MiB
/// holding `files` at the root and the same entry as `/grub/menu.lst` (rpvboot) and
/// `/grub/grub.cfg` (pvgrub2); kept while a stamp of everything that goes in matches.
fn bench_image(
    name: &str,
    fs_kind: &str,
    size_mib: u32,
    files: &[(&str, &[u8])],
    menu: &str,
    cfg: &str,
) -> Result<PathBuf> {
    let dir = bench_dir().join("images");
    mkdirp(&dir)?;
    let img = dir.join(format!("{name}.img"));
    let stamp = dir.join(format!("{name}.stamp"));
    let size = size_mib.to_string();
    let mut parts: Vec<&[u8]> = vec![fs_kind.as_bytes(), size.as_bytes(), menu.as_bytes(), cfg.as_bytes()];
    for (file, bytes) in files {
        parts.extend([file.as_bytes(), *bytes]);
    }
    let key = format!("v2 {:x}\n", util::fnv64(&parts));
    if img.is_file() && util::stamp_ok(&stamp, &key) {
        return Ok(img);
    }
    let tree = dir.join(format!("{name}.tree"));
    if tree.exists() {
        fs::remove_dir_all(&tree)?;
    }
    mkdirp(&tree.join("grub"))?;
    for (file, bytes) in files {
        fs::write(tree.join(file), bytes)?;
    }
    fs::write(tree.join("grub/menu.lst"), menu)?;
    fs::write(tree.join("grub/grub.cfg"), cfg)?;
    let _ = fs::remove_file(&img);
    match fs_kind {
        "ext2" => run(Command::new("mke2fs")
            .args(["-q", "-F", "-t", "ext2", "-d"])
            .arg(&tree)
            .arg(&img)
            .arg(format!("{size_mib}M")))?,
        _ => run(Command::new("makefs")
            .args(["-t", "ffs", "-B", "le", "-o", "version=2", "-s", &format!("{size_mib}m")])
            .arg(&img)
            .arg(&tree))?,
    }
    util::write_stamp(&stamp, &key)?;
    Ok(img)
}

/// Figure 1's kernel: the vmlinux probe, xz'd ([`crate::probe::build_probe_vmlinux`]).
struct VmlinuxInfo {
    /// Debian kernel ABI (e.g. `6.1.0-56-amd64`).
    kver: String,
    /// Bytes of the payload (Debian's vmlinux) and of the xz file on the disks.
    payload: u64,
    xz: u64,
}

impl VmlinuxInfo {
    fn measure() -> Result<Self> {
        let p = crate::probe::build_probe_vmlinux()?;
        let kver = crate::setup::ensure_e2e()?.kver;
        let xz = fs::metadata(&p.xz).with_context(|| p.xz.display().to_string())?.len();
        Ok(Self { kver, payload: p.payload_len, xz })
    }

    /// What figure 1's second pair of rows boots.
    fn label(&self) -> String {
        format!(
            "probe + Debian {} vmlinux payload ({:.1} MiB, xz --x86 {:.2} MiB)",
            self.kver,
            self.payload as f64 / 1048576.0,
            self.xz as f64 / 1048576.0
        )
    }
}

/// A bare ext2 or FFSv2 image (32 MiB) with the vmlinux probe as `/probe-vmlinux.xz` and the
/// same entry as `/grub/menu.lst` (rpvboot) and `/grub/grub.cfg` (pvgrub2).
fn vmlinux_disk(fs_kind: &str) -> Result<PathBuf> {
    let p = crate::probe::build_probe_vmlinux()?;
    let xz = fs::read(&p.xz)?;
    bench_image(
        &format!("{fs_kind}-vmlinux"),
        fs_kind,
        32,
        &[("probe-vmlinux.xz", &xz)],
        "default 0\ntimeout 0\ntitle vmlinux probe\n  kernel /probe-vmlinux.xz probe.mod=none\n",
        "set timeout=0\nmenuentry vmlinux-probe {\n  linux /probe-vmlinux.xz probe.mod=none\n}\n",
    )
}

/// The modules issue 10 names, plus what the embedded config needs (search, echo, test).
const GRUB_MODULES: [&str; 17] = [
    "part_msdos",
    "part_gpt",
    "part_bsd",
    "ufs1",
    "ufs2",
    "ext2",
    "fat",
    "gzio",
    "xzio",
    "normal",
    "configfile",
    "linux",
    "legacycfg",
    "search",
    "search_fs_file",
    "echo",
    "test",
];

/// pvgrub2 (grub-xen-bin 2.06, from setup's extracted debs) with the same filesystems as
/// rpvboot; the embedded config runs in GRUB's rescue parser (docs/e2e.md pitfall 9).
fn pvgrub2_image() -> Result<PathBuf> {
    let art = crate::setup::ensure_e2e()?;
    let moddir = e2e_dir().join("x/usr/lib/grub/x86_64-xen");
    let out = bench_dir().join("pvgrub2-bench.xen");
    let embed = bench_dir().join("pvgrub2-embed.cfg");
    fs::write(&embed, "search -s -f /grub/grub.cfg\nset prefix=($root)/grub\nnormal\n")?;
    let _ = art;
    run(Command::new("grub-mkimage")
        .args(["-O", "x86_64-xen", "-d"])
        .arg(&moddir)
        .arg("-c")
        .arg(&embed)
        .args(["-p", "/grub", "-o"])
        .arg(&out)
        .args(GRUB_MODULES))?;
    Ok(out)
}

/// Figure 3: the image files `xl`'s `kernel =` can name, and pvgrub2's image compressed the
/// same ways (Xen's domain builder would load those too).
#[derive(Default)]
struct Sizes {
    rpv: u64,
    rpv_gz: u64,
    rpv_xz: u64,
    grub: u64,
    grub_gz: u64,
    grub_xz: u64,
}

impl Sizes {
    fn measure(rpv: &Path, grub: &Path) -> Result<Self> {
        let len = |p: &Path| fs::metadata(p).map(|m| m.len()).with_context(|| format!("{}", p.display()));
        let gz_len = |p: &Path| -> Result<u64> {
            let o = Command::new("gzip").args(["-9n", "-c"]).arg(p).output().context("gzip")?;
            Ok(o.stdout.len() as u64)
        };
        let grub_xz = crate::build::xz_bzimage(&fs::read(grub).with_context(|| format!("{}", grub.display()))?)?;
        Ok(Self {
            rpv: len(rpv)?,
            rpv_gz: len(&rpv.with_extension("gz"))?,
            rpv_xz: len(&rpv.with_extension("xz"))?,
            grub: len(grub)?,
            grub_gz: gz_len(grub)?,
            grub_xz: grub_xz.len() as u64,
        })
    }
}

/// One domU's result.
#[derive(Clone, Debug)]
struct Sample {
    vcpu_ns: u64,
    module: u64,
    /// `vcpu_ns` minus the time before the toolstack unpaused the domain (runstate offline):
    /// the loader's own run from its first instruction, free of xl/hotplug noise.
    loader_ns: u64,
    /// The vCPU's time running and blocked (waiting for events, e.g. the disk), for profiles.
    running_ns: u64,
    blocked_ns: u64,
    /// The probe printed `RPVBOOT-PROBE PAYLOAD ok` (its payload's FNV-1a matched).
    payload_ok: bool,
}

#[derive(Default)]
struct Figures {
    sizes: Sizes,
    /// Scenario name → probe timing line (absent: the probe was never reached).
    samples: BTreeMap<String, Option<Sample>>,
    /// fs → dom0 dd MiB/s, one per repetition.
    dd: BTreeMap<String, Vec<f64>>,
    /// `--profile`: fs → (raw disk reads, file reads) in MiB/s as rpvboot timed them.
    profile: BTreeMap<String, (Vec<f64>, Vec<f64>)>,
    run_dir: Option<PathBuf>,
    rounds_wanted: u32,
    /// Figure 1's vmlinux probe (None with --size-only).
    vmlinux: Option<VmlinuxInfo>,
    /// Figure 5 (`--storm`): one entry per storm.
    storms: Vec<storm::Storm>,
}

fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.split_whitespace().find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

impl Figures {
    fn parse_run(&mut self, dir: &Path) -> Result<()> {
        for e in fs::read_dir(dir)?.flatten() {
            let p = e.path();
            let Some(name) = p.file_name().and_then(|n| n.to_str()).and_then(|n| n.strip_suffix(".console.log")) else {
                continue;
            };
            let text = fs::read_to_string(&p)?;
            if let Some(fs_kind) = name.strip_prefix('p').and_then(|n| n.split_once('-')).map(|(_, f)| f.to_string()) {
                let e = self.profile.entry(fs_kind).or_default();
                for l in text.lines().filter(|l| l.contains("rpvboot: bench ")) {
                    let rate = l
                        .rsplit_once(" = ")
                        .and_then(|(_, r)| r.split_whitespace().next())
                        .and_then(|r| r.parse::<f64>().ok());
                    match rate {
                        Some(r) if l.contains("raw read") => e.0.push(r),
                        Some(r) if l.contains("bench file") => e.1.push(r),
                        _ => {}
                    }
                }
                continue;
            }
            let s = text.lines().find(|l| l.contains("RPVBOOT-PROBE T ")).and_then(|l| {
                let vcpu_ns: u64 = field(l, "vcpu_ns")?.parse().ok()?;
                let off: u64 = field(l, "offline").and_then(|x| x.parse().ok()).unwrap_or(0);
                let ns = |k: &str| field(l, k).and_then(|x| x.parse().ok()).unwrap_or(0);
                Some(Sample {
                    vcpu_ns,
                    module: field(l, "mod")?.parse().ok()?,
                    loader_ns: vcpu_ns.saturating_sub(off),
                    running_ns: ns("running"),
                    blocked_ns: ns("blocked"),
                    payload_ok: text.lines().any(|l| l.starts_with("RPVBOOT-PROBE PAYLOAD ok ")),
                })
            });
            self.samples.insert(name.to_string(), s);
        }
        let serial = fs::read_to_string(dir.join("serial.log")).unwrap_or_default();
        self.storms = storm::parse(&serial);
        for l in serial.lines().filter(|l| l.contains("BENCH-DD ")) {
            let Some(fs_kind) = l.split_whitespace().skip_while(|w| *w != "BENCH-DD").nth(1) else { continue };
            let bytes: Option<f64> = field(l, "bytes").and_then(|b| b.parse().ok());
            // busybox dd: "... copied, 0.123456 seconds, ..."; else /proc/uptime (10 ms).
            let dd_secs = l
                .split(',')
                .find(|p| p.trim_end().ends_with("seconds"))
                .and_then(|p| p.split_whitespace().next())
                .and_then(|x| x.parse::<f64>().ok());
            let up_secs = match (field(l, "t0"), field(l, "t1")) {
                (Some(a), Some(b)) => match (a.parse::<f64>(), b.parse::<f64>()) {
                    (Ok(a), Ok(b)) => Some(b - a),
                    _ => None,
                },
                _ => None,
            };
            if let (Some(b), Some(s)) = (bytes, dd_secs.or(up_secs).filter(|s| *s > 0.0)) {
                self.dd.entry(fs_kind.to_string()).or_default().push(b / 1048576.0 / s);
            }
        }
        Ok(())
    }

    fn t(&self, name: &str) -> Option<&Sample> {
        self.samples.get(name).and_then(|s| s.as_ref())
    }

    fn rounds(&self) -> u32 {
        (0..1000).take_while(|r| self.samples.keys().any(|k| k.starts_with(&format!("b{r}-")))).count() as u32
    }

    /// Figure 1 per round and filesystem: (rpv s, grub s) to the probe's entry, no module;
    /// `own`: from the domain's unpause (the loader's own time), else from vCPU creation.
    fn fig1(&self, own: bool) -> Vec<(f64, f64)> {
        let pick = |s: &Sample| (if own { s.loader_ns } else { s.vcpu_ns }) as f64 / 1e9;
        let mut v = Vec::new();
        for r in 0..self.rounds() {
            for fs_kind in FSES {
                let a = self.t(&format!("b{r}-{fs_kind}-rpv-small")).map(pick);
                let b = self.t(&format!("b{r}-{fs_kind}-grub-small")).map(pick);
                if let (Some(a), Some(b)) = (a, b) {
                    v.push((a, b));
                }
            }
        }
        v
    }

    /// Figure 1 with the vmlinux probe, per round and filesystem: (rpv s, grub s), only pairs
    /// where both probes checked their payload.
    fn fig1_vmlinux(&self, own: bool) -> Vec<(f64, f64)> {
        let pick = |s: &Sample| (if own { s.loader_ns } else { s.vcpu_ns }) as f64 / 1e9;
        let ok = |name: String| self.t(&name).filter(|s| s.payload_ok).map(pick);
        let mut v = Vec::new();
        for r in 0..self.rounds() {
            for fs_kind in FSES {
                if let (Some(a), Some(b)) =
                    (ok(format!("b{r}-{fs_kind}-rpv-vmlinux")), ok(format!("b{r}-{fs_kind}-grub-vmlinux")))
                {
                    v.push((a, b));
                }
            }
        }
        v
    }

    /// Figure 1 with the vmlinux probe: every sample of loader `l` that checked its payload, s.
    fn vmlinux_checked(&self, l: Loader, own: bool) -> Vec<f64> {
        let suffix = format!("-{}-vmlinux", l.tag());
        self.samples
            .iter()
            .filter(|(k, _)| k.starts_with('b') && k.ends_with(&suffix))
            .filter_map(|(_, s)| s.as_ref().filter(|s| s.payload_ok))
            .map(|s| (if own { s.loader_ns } else { s.vcpu_ns }) as f64 / 1e9)
            .collect()
    }

    /// Figure 1's memory search: smallest FIG1_MEM_GRID size from which every larger one
    /// reached a checked payload.
    fn min_mem_vmlinux(&self, l: Loader) -> Option<u32> {
        let mut best = None;
        for &m in FIG1_MEM_GRID.iter().rev() {
            if self.t(&format!("mv-{}-{m}", l.tag())).is_some_and(|s| s.payload_ok) {
                best = Some(m);
            } else {
                break;
            }
        }
        best
    }

    /// Upper bound of a loader's MiB/s when its big run never reached the probe (timeout).
    fn thr_bound(&self, r: u32, fs_kind: &str, l: Loader) -> Option<f64> {
        let name = format!("b{r}-{fs_kind}-{}-big", l.tag());
        let small = self.t(&format!("b{r}-{fs_kind}-{}-small", l.tag()))?;
        match self.samples.get(&name) {
            Some(None) => Some(BIG as f64 / 1048576.0 / (f64::from(big_timeout(l)) - small.loader_ns as f64 / 1e9)),
            _ => None,
        }
    }

    /// Loader time without the module for `l` on `fs`, in ns: the median over the rounds.
    /// One domU's start-up time swings by more than the module takes to load when the machine
    /// is busy, so a single same-round sample would make the difference mostly noise.
    fn small_ns(&self, fs_kind: &str, l: Loader) -> Option<f64> {
        let v: Vec<f64> = (0..self.rounds())
            .filter_map(|r| self.t(&format!("b{r}-{fs_kind}-{}-small", l.tag())))
            .map(|s| s.loader_ns as f64)
            .collect();
        (!v.is_empty()).then(|| med_min_max(&v).0)
    }

    /// MiB/s of the 64 MiB module for loader `l` on `fs` in round `r`.
    fn thr(&self, r: u32, fs_kind: &str, l: Loader) -> Option<f64> {
        let big = self.t(&format!("b{r}-{fs_kind}-{}-big", l.tag()))?;
        let small = self.small_ns(fs_kind, l)?;
        if big.module != BIG {
            return None;
        }
        let dt = (big.loader_ns as f64 - small) / 1e9;
        (dt > 0.0).then(|| BIG as f64 / 1048576.0 / dt)
    }

    /// Figure 4: smallest grid memory where the probe was reached (and every larger one too).
    fn min_mem(&self, l: Loader) -> Option<u32> {
        let ok = |m: u32| self.t(&format!("m-{}-{m}", l.tag())).is_some();
        if !self.samples.keys().any(|k| k.starts_with(&format!("m-{}-", l.tag()))) {
            return None;
        }
        let mut best = None;
        for &m in MEM_GRID.iter().rev() {
            if ok(m) {
                best = Some(m);
            } else {
                break;
            }
        }
        best
    }

    fn write(&self) -> Result<()> {
        let mut md = String::new();
        let mut csv = String::from("figure,measure,rpvboot,pvgrub2,ratio_median,ratio_min,ratio_max,n,goal\n");
        let mut json = String::from("{\n");
        let date = util::output(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"])).unwrap_or_default();
        let host = util::output(Command::new("uname").args(["-nrm"])).unwrap_or_default();
        let cpu = cpu_model();
        let _ = writeln!(md, "# rpvboot vs pvgrub2 (cargo xtask bench)\n");
        let _ = writeln!(
            md,
            "{} on {} ({cpu}); QEMU TCG → Xen 4.17 → dom0, {} round(s) in one boot{}.\n",
            date.trim(),
            host.trim(),
            self.rounds().max(storm::rounds(&self.storms)),
            self.run_dir.as_ref().map(|d| format!(", run {}", d.display())).unwrap_or_default()
        );
        let _ = writeln!(md, "| # | figure | rpvboot | pvgrub2 | ratio median (min–max, n) | goal |");
        let _ = writeln!(md, "|---|---|---|---|---|---|");
        let mut row = |md: &mut String, n: &str, what: &str, a: String, b: String, r: &[f64], goal: &str| {
            let ratio = if r.is_empty() { "n/a".to_string() } else { stat(r) };
            let _ = writeln!(md, "| {n} | {what} | {a} | {b} | {ratio} | {goal} |");
            let (med, lo, hi) = if r.is_empty() { (f64::NAN, f64::NAN, f64::NAN) } else { med_min_max(r) };
            let _ = writeln!(csv, "{n},\"{what}\",\"{a}\",\"{b}\",{med:.4},{lo:.4},{hi:.4},{},\"{goal}\"", r.len());
            let _ = writeln!(
                json,
                "  {{\"figure\": \"{n}\", \"measure\": \"{what}\", \"rpvboot\": \"{a}\", \"pvgrub2\": \"{b}\", \
                 \"ratio_median\": {}, \"ratio_min\": {}, \"ratio_max\": {}, \"n\": {}, \"goal\": \"{goal}\"}},",
                jnum(med),
                jnum(lo),
                jnum(hi),
                r.len()
            );
        };
        let no_run = if self.run_dir.is_none() { "n/a (--size-only)" } else { "n/a (probe not reached)" };

        // 1
        for (own, what) in [
            (false, "xl create (vCPU creation) → probe kernel entry, s (ext2+ffs2, no module)"),
            (true, "loader's first instruction (unpause) → probe kernel entry, s"),
        ] {
            let f1 = self.fig1(own);
            let (a, b): (Vec<f64>, Vec<f64>) = f1.iter().copied().unzip();
            let ratios: Vec<f64> = f1.iter().map(|(a, b)| a / b).collect();
            row(&mut md, "1", what, secs(&a, no_run), secs(&b, no_run), &ratios, GOAL1);
        }
        let vm_label = self.vmlinux.as_ref().map(VmlinuxInfo::label).unwrap_or_else(|| "vmlinux probe".into());
        let vm_rows = [
            (false, format!("{vm_label}: xl create (vCPU creation) → probe entry, s (ext2+ffs2, {FIG1_MEM_MIB} MiB)")),
            (true, format!("{vm_label}: loader only (unpause → probe entry), s")),
        ];
        let vm_ran = self.samples.keys().any(|k| k.ends_with("-vmlinux"));
        for (own, what) in vm_rows {
            let f1 = self.fig1_vmlinux(own);
            // Each loader's column: all its checked samples (so --rpv-only shows rpvboot's);
            // the ratios: same-round pairs only.
            let (a, b) = (self.vmlinux_checked(Loader::Rpv, own), self.vmlinux_checked(Loader::Grub, own));
            let ratios: Vec<f64> = f1.iter().map(|(a, b)| a / b).collect();
            let none = if vm_ran { "n/a (no PAYLOAD ok)" } else { "n/a (not run)" };
            row(&mut md, "1", &what, secs(&a, none), secs(&b, none), &ratios, GOAL1);
        }
        // 2
        let no_run = if self.samples.keys().any(|k| k.ends_with("-big")) { no_run } else { "n/a (not run)" };
        for fs_kind in FSES {
            let rounds = self.rounds();
            let pairs: Vec<(f64, f64)> = (0..rounds)
                .filter_map(|r| Some((self.thr(r, fs_kind, Loader::Rpv)?, self.thr(r, fs_kind, Loader::Grub)?)))
                .collect();
            let ra: Vec<f64> = (0..rounds).filter_map(|r| self.thr(r, fs_kind, Loader::Rpv)).collect();
            let rb: Vec<f64> = (0..rounds).filter_map(|r| self.thr(r, fs_kind, Loader::Grub)).collect();
            let ratios: Vec<f64> = pairs.iter().map(|(a, b)| a / b).collect();
            let bounds: Vec<f64> = (0..rounds).filter_map(|r| self.thr_bound(r, fs_kind, Loader::Grub)).collect();
            let grub_txt = if rb.is_empty() && !bounds.is_empty() {
                let (m, _, _) = med_min_max(&bounds);
                let lo = ra.iter().copied().fold(f64::INFINITY, f64::min) / m;
                format!("< {m:.2} (not done within {} s; rpvboot/pvgrub2 > {lo:.1}×)", big_timeout(Loader::Grub))
            } else {
                mibs(&rb, no_run)
            };
            row(
                &mut md,
                "2",
                &format!("64 MiB module from {fs_kind}, MiB/s"),
                mibs(&ra, no_run),
                grub_txt,
                &ratios,
                GOAL2,
            );
            let dd_all = self.dd.get(fs_kind).filter(|v| !v.is_empty());
            let dd = dd_all.map(|v| med_min_max(v).0);
            let rdd: Vec<f64> = match dd {
                Some(d) => ra.iter().map(|a| a / d).collect(),
                None => Vec::new(),
            };
            row(
                &mut md,
                "2",
                &format!("{fs_kind}: rpvboot vs dom0 dd of the image (loop dev), MiB/s"),
                mibs(&ra, no_run),
                dd_all.map(|v| format!("dd {}", mibs(v, ""))).unwrap_or_else(|| "n/a (no dd line)".into()),
                &rdd,
                ">= 0.5 of dd",
            );
        }
        for (fs_kind, (raw, file)) in &self.profile {
            let dd = self.dd.get(fs_kind).filter(|v| !v.is_empty()).map(|v| med_min_max(v).0);
            for (what, v) in [("raw disk read", raw), ("64 MiB file read", file)] {
                let r: Vec<f64> = dd.map(|d| v.iter().map(|x| x / d).collect()).unwrap_or_default();
                row(
                    &mut md,
                    "2p",
                    &format!("{fs_kind}: rpvboot's own {what} (profile, before boot) vs dom0 dd, MiB/s"),
                    mibs(v, "n/a"),
                    dd.map(|d| format!("dd {d:.1}")).unwrap_or_else(|| "n/a".into()),
                    &r,
                    "profile",
                );
            }
        }
        // 3
        let s = &self.sizes;
        let ratio = |a: u64, b: u64| [a as f64 / b.max(1) as f64];
        let size_rows = [
            ("image bytes (stripped ELF rpvboot vs pvgrub2 image)", s.rpv, s.grub, GOAL3),
            ("`rpvboot.gz` (gzip -9n; Xen loads it as is) vs pvgrub2 image", s.rpv_gz, s.grub, GOAL3),
            ("`rpvboot.xz` (xz in a bzImage header; Xen loads it as is) vs pvgrub2 image", s.rpv_xz, s.grub, GOAL3),
            ("like for like: `rpvboot.gz` vs pvgrub2 image gzip -9n", s.rpv_gz, s.grub_gz, "(context)"),
            ("like for like: `rpvboot.xz` vs pvgrub2 image in the same xz bzImage", s.rpv_xz, s.grub_xz, "(context)"),
        ];
        for (what, a, b, goal) in size_rows {
            row(&mut md, "3", what, a.to_string(), b.to_string(), &ratio(a, b), goal);
        }
        // 4
        let ma = self.min_mem(Loader::Rpv);
        let mb = self.min_mem(Loader::Grub);
        let mm = |m: Option<u32>| {
            m.map(|m| format!("{m} MiB")).unwrap_or_else(|| {
                if self.samples.keys().any(|k| k.starts_with("m-")) {
                    format!("n/a (not reached at {} MiB)", MEM_GRID.iter().max().unwrap_or(&0))
                } else {
                    "n/a (--no-memory or no run)".into()
                }
            })
        };
        let r4: Vec<f64> = match (ma, mb) {
            (Some(a), Some(b)) => vec![f64::from(a) / f64::from(b)],
            _ => Vec::new(),
        };
        row(&mut md, "4", "smallest memory= reaching the probe kernel (grid)", mm(ma), mm(mb), &r4, GOAL4);
        // 4 for figure 1's kernel (`--fig1-mem`).
        if self.samples.keys().any(|k| k.starts_with("mv-")) {
            let ma = self.min_mem_vmlinux(Loader::Rpv);
            let mb = self.min_mem_vmlinux(Loader::Grub);
            let mm = |m: Option<u32>| m.map(|m| format!("{m} MiB")).unwrap_or_else(|| "n/a (not on the grid)".into());
            let r: Vec<f64> = match (ma, mb) {
                (Some(a), Some(b)) => vec![f64::from(a) / f64::from(b)],
                _ => Vec::new(),
            };
            row(
                &mut md,
                "4",
                &format!("{vm_label}: smallest memory= reaching PAYLOAD ok (grid {FIG1_MEM_GRID:?})"),
                mm(ma),
                mm(mb),
                &r,
                GOAL4,
            );
        }
        // 5
        for (what, a, b, r, goal) in storm::rows(&self.storms) {
            row(&mut md, "5", &what, a, b, &r, goal);
        }

        let _ = writeln!(
            md,
            "\nClock (figures 1, 2): the probe kernel prints, at its first instructions, the sum of its vCPU's \
             runstate times (VCPUOP_get_runstate_info) = Xen system time since the vCPU was created during \
             `xl create`; both loaders are timed by the same probe, so no clock sync is involved. Figure 2 = \
             64 MiB / (T with the module − T without), per loader, per round; T without = the median over \
             the rounds of that loader's module-less domUs (one start-up time swings by more than the \
             module's load on a busy machine). dd = dom0 reading the whole \
             image from a loop device after `drop_caches`, {DD_REPS} times after the domUs, median (image sizes: 96 MiB). Figure 4: memory grid {:?} MiB; \
             the smallest size from which every larger one reached the probe. pvgrub2 = grub-xen-bin 2.06, \
             grub-mkimage -O x86_64-xen with {}. Ratios are rpvboot/pvgrub2 (figure 2: MiB/s, higher is \
             better; figures 1, 3, 4: lower is better).",
            MEM_GRID,
            GRUB_MODULES.join(" "),
            DD_REPS = DD_REPS
        );
        if let Some(v) = &self.vmlinux {
            let _ = writeln!(
                md,
                "\nFigure 1, vmlinux rows: the probe's data segment is Debian's decompressed kernel \
                 ({}, {} bytes, the xz payload of its bzImage), the file on the disks is the probe ELF \
                 compressed like that payload (xz --check=crc32 --x86 --lzma2=preset=6,dict=32MiB, {} bytes); \
                 both loaders boot the same file from the same ext2/FFSv2 image in {FIG1_MEM_MIB} MiB. A \
                 sample counts only if the probe printed `RPVBOOT-PROBE PAYLOAD ok` (FNV-1a of the loaded \
                 segment = the file's, taken at build time); pvgrub2's handover then fails the probe's \
                 NetBSD-layout checks, which do not matter here.",
                v.kver, v.payload, v.xz
            );
            let best = |own: bool| {
                let f = self.fig1_vmlinux(own);
                let a = f.iter().map(|p| p.0).fold(f64::INFINITY, f64::min);
                let b = f.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
                (!f.is_empty()).then(|| format!("{a:.2} s vs {b:.2} s = {:.2}×", a / b))
            };
            if let (Some(c), Some(o)) = (best(false), best(true)) {
                let _ = writeln!(
                    md,
                    "Fastest samples (least disturbed by the host's load; rpvboot vs pvgrub2): xl create → entry \
                     {c}; unpause → entry {o}. pvgrub2's vCPU never blocks (blocked = 0 s: it polls its \
                     disk ring), so its time also holds whatever dom0's backend waited for a CPU of the \
                     two; that is the likely cause of its wide spread, rpvboot blocks on events."
                );
            }
        }
        if !self.storms.is_empty() {
            let _ = writeln!(md, "\n{}\n\n{}", storm::method(), storm::notes(&self.storms));
        }
        let _ = writeln!(md, "\nPer-domU samples (vcpu_ns at probe entry, module bytes; the loader's part from unpause, split into the vCPU's running and blocked time):\n");
        for (k, v) in &self.samples {
            match v {
                Some(s) => {
                    let _ = writeln!(
                        md,
                        "- {k}: {:.3} s, mod={} (loader {:.3} s: running {:.3} s, blocked {:.3} s){}",
                        s.vcpu_ns as f64 / 1e9,
                        s.module,
                        s.loader_ns as f64 / 1e9,
                        s.running_ns as f64 / 1e9,
                        s.blocked_ns as f64 / 1e9,
                        match (k.ends_with("-vmlinux") || k.starts_with("mv-"), s.payload_ok) {
                            (false, _) => "",
                            (true, true) => ", PAYLOAD ok",
                            (true, false) => ", payload NOT checked ok (not counted)",
                        }
                    );
                }
                None => {
                    let _ = writeln!(md, "- {k}: probe not reached");
                }
            }
        }
        for (k, v) in &self.dd {
            let all: Vec<String> = v.iter().map(|x| format!("{x:.1}")).collect();
            let _ = writeln!(md, "- dd {k}: {} MiB/s", all.join(", "));
        }
        if json.ends_with(",\n") {
            json.truncate(json.len() - 2);
            json.push('\n');
        }
        let json = format!(
            "{{\"date\": \"{}\", \"rounds\": {}, \"figures\": [\n{}]}}\n",
            date.trim(),
            self.rounds(),
            json.trim_start_matches("{\n")
        );
        let _ = self.rounds_wanted;
        let d = bench_dir();
        fs::write(d.join("report.md"), &md)?;
        fs::write(d.join("report.csv"), &csv)?;
        fs::write(d.join("report.json"), &json)?;
        println!("{md}");
        println!("bench: wrote {}/report.{{md,csv,json}}", d.display());
        Ok(())
    }
}

fn jnum(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.4}")
    } else {
        "null".into()
    }
}

fn med_min_max(v: &[f64]) -> (f64, f64, f64) {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    let med = if n % 2 == 1 { s[n / 2] } else { (s[n / 2 - 1] + s[n / 2]) / 2.0 };
    (med, s[0], s[n - 1])
}

fn stat(v: &[f64]) -> String {
    let (m, lo, hi) = med_min_max(v);
    format!("**{m:.2}×** ({lo:.2}–{hi:.2}, n={})", v.len())
}

fn secs(v: &[f64], none: &str) -> String {
    if v.is_empty() {
        return none.to_string();
    }
    let (m, lo, hi) = med_min_max(v);
    format!("{m:.2} s ({lo:.2}–{hi:.2})")
}

fn mibs(v: &[f64], none: &str) -> String {
    if v.is_empty() {
        return none.to_string();
    }
    let (m, lo, hi) = med_min_max(v);
    format!("{m:.1} ({lo:.1}–{hi:.1})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_spread() {
        assert_eq!(med_min_max(&[3.0, 1.0, 2.0]), (2.0, 1.0, 3.0));
        assert_eq!(med_min_max(&[4.0, 1.0]), (2.5, 1.0, 4.0));
    }

    /// Figure 1's vmlinux rows count a pair only when both probes checked their payload.
    #[test]
    fn vmlinux_pairs_need_checked_payloads() {
        let dir = std::env::temp_dir().join(format!("rpv-bench-vm-{}", std::process::id()));
        let _ = fs::create_dir_all(&dir);
        let t = |ns: u64| format!("RPVBOOT-PROBE T vcpu_ns={ns} mod=0 offline=1000000000\n");
        let ok = "RPVBOOT-PROBE PAYLOAD ok bytes=65906612 fnv1a=949a91a2c9e65cd1\n";
        let logs = [
            ("b0-ext2-rpv-vmlinux", format!("{}{ok}", t(3_000_000_000))),
            ("b0-ext2-grub-vmlinux", format!("{}{ok}", t(12_000_000_000))),
            ("b0-ffs2-rpv-vmlinux", format!("{}RPVBOOT-PROBE FAIL payload checksum (0x1)\n", t(2_000_000_000))),
            ("b0-ffs2-grub-vmlinux", format!("{}{ok}", t(12_000_000_000))),
        ];
        for (name, text) in &logs {
            let _ = fs::write(dir.join(format!("{name}.console.log")), text);
        }
        let mut f = Figures::default();
        assert!(f.parse_run(&dir).is_ok());
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(f.rounds(), 1);
        assert_eq!(f.fig1_vmlinux(false), vec![(3.0, 12.0)]);
        assert_eq!(f.fig1_vmlinux(true), vec![(2.0, 11.0)]);
        assert_eq!(f.vmlinux_checked(Loader::Rpv, false), vec![3.0]);
        assert_eq!(f.vmlinux_checked(Loader::Grub, false), vec![12.0, 12.0]);
    }

    #[test]
    fn dd_line_parses() {
        let dir = std::env::temp_dir().join(format!("rpv-bench-test-{}", std::process::id()));
        let _ = fs::create_dir_all(&dir);
        let _ = fs::write(
            dir.join("serial.log"),
            "[  1.0] BENCH-DD ext2 bytes=104857600 t0=1.00 t1=3.00 100+0 records in\n\
             [  1.0] BENCH-DD ffs2 bytes=104857600 t0=1.00 t1=3.00 104857600 bytes (100.0MB) copied, 0.500000 seconds, 200.0MB/s\n",
        );
        let _ = fs::write(dir.join("b0-ext2-rpv-small.console.log"), "RPVBOOT-PROBE T vcpu_ns=2000000000 mod=0\n");
        let _ = fs::write(
            dir.join("b0-ext2-rpv-big.console.log"),
            format!("RPVBOOT-PROBE T vcpu_ns=3000000000 mod={BIG}\n"),
        );
        let mut f = Figures::default();
        assert!(f.parse_run(&dir).is_ok());
        let _ = fs::remove_dir_all(&dir);
        assert_eq!(f.dd.get("ext2").cloned(), Some(vec![50.0]));
        assert_eq!(f.dd.get("ffs2").cloned(), Some(vec![200.0]));
        assert_eq!(f.thr(0, "ext2", Loader::Rpv), Some(64.0));
        assert_eq!(f.rounds(), 1);
    }
}
