//! `cargo xtask fuzz`: the libFuzzer targets of `fuzz/` (issue 11), with seed corpora made from
//! the real tools (makefs, mke2fs, mkfs.fat, sfdisk), the test images, sample configs and the
//! test kernels.
//!
//! `--smoke` runs every target a few seconds (part of `cargo xtask test`), `--long` runs
//! campaigns. Each run reports executions and crashes per target and fails on any crash. Both
//! run under a small memory limit ([`RSS_LIMIT_MB`], [`MALLOC_LIMIT_MB`]): a domU has tens of
//! MiB, so an input that makes a parser allocate hundreds is a finding (libFuzzer's
//! "out-of-memory"), not something to wave through under the default 2 GB.
//!
//! The corpora live in the repository (`fuzz/corpus/<target>/`), so campaigns accumulate: runs
//! read them with the seeds, new inputs go to a scratch directory under `target/fuzz/`, and
//! after `--long` each target's repository corpus is replaced by libFuzzer's minimised merge
//! (`-merge=1`) of the old one and what the run found. `--smoke` never writes to it. It
//! needs the nightly toolchain (libFuzzer's sanitizer coverage) and cargo-fuzz, which it
//! installs from crates.io once; without nightly it fails and says so, it never passes silently.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::util::{have, mkdirp, project_root, run, sh, shq};

/// Every target, in the order they run (fuzz/Cargo.toml's `[[bin]]`s).
pub const TARGETS: &[&str] = &[
    "mbr",
    "gpt",
    "disklabel",
    "ffs_walk",
    "ext_walk",
    "xfs_walk",
    "btrfs_walk",
    "fat_walk",
    "probe",
    "menu_lst",
    "grub_cfg",
    "boot_cfg",
    "extra",
    "elf_notes",
    "bzimage",
    "gunzip",
    "unxz",
    "unzstd",
    "unlz4",
    "xenstore_reply",
    "blkif_response",
    "blkfront",
];

/// Largest seed kept: big images only slow libFuzzer down.
const MAX_SEED: usize = 320 * 1024;

/// libFuzzer's `-rss_limit_mb` for every run: the process (with libFuzzer's own corpus and
/// coverage tables) stays far below the default 2048.
pub const RSS_LIMIT_MB: u32 = 256;
/// libFuzzer's `-malloc_limit_mb`: one allocation bigger than this is reported as a crash
/// ("out-of-memory (malloc(N))"), about what a small domU could give a single buffer.
pub const MALLOC_LIMIT_MB: u32 = 64;

/// `cargo xtask fuzz`.
#[derive(clap::Args)]
pub struct Fuzz {
    /// A few seconds per target (the test suite's step).
    #[arg(long, conflicts_with = "long")]
    smoke: bool,
    /// A campaign: `--time` seconds per target (default 300).
    #[arg(long)]
    long: bool,
    /// Seconds per target (smoke: 3, long: 300).
    #[arg(long)]
    time: Option<u64>,
    /// Only (re)generate the seed corpora.
    #[arg(long)]
    seed: bool,
    /// Targets to run (default: all).
    targets: Vec<String>,
}

/// One target's run.
struct Outcome {
    target: String,
    execs: u64,
    secs: f64,
    corpus: usize,
    crash: Option<String>,
}

fn fuzz_dir() -> PathBuf {
    project_root().join("fuzz")
}

fn work_dir() -> PathBuf {
    project_root().join("target").join("fuzz")
}

/// The corpus of `target` kept in the repository.
fn repo_corpus(target: &str) -> PathBuf {
    fuzz_dir().join("corpus").join(target)
}

impl Fuzz {
    pub fn run(self) -> Result<()> {
        let targets: Vec<String> = if self.targets.is_empty() {
            TARGETS.iter().map(|s| s.to_string()).collect()
        } else {
            for t in &self.targets {
                if !TARGETS.contains(&t.as_str()) {
                    bail!("unknown fuzz target {t}; targets: {}", TARGETS.join(" "));
                }
            }
            self.targets.clone()
        };
        let seeds = work_dir().join("seeds");
        if self.seed || !seeds.join("mbr").is_dir() {
            make_seeds(&seeds)?;
            if self.seed && !self.smoke && !self.long {
                return Ok(());
            }
        }
        let secs = self.time.unwrap_or(if self.long { 300 } else { 3 });
        ensure_tools()?;
        let bin_dir = build()?;
        let mut outcomes = Vec::new();
        for t in &targets {
            let o = run_target(&bin_dir, t, &seeds.join(t), secs)?;
            if self.long && o.crash.is_none() {
                merge_into_repo(&bin_dir, t)?;
            }
            outcomes.push(o);
        }
        let mut report = String::new();
        let _ = writeln!(report, "{:<16} {:>12} {:>8} {:>8}  result", "target", "execs", "secs", "corpus");
        for o in &outcomes {
            let res = o.crash.as_deref().map_or("ok".to_string(), |c| format!("CRASH {c}"));
            let _ = writeln!(report, "{:<16} {:>12} {:>8.1} {:>8}  {res}", o.target, o.execs, o.secs, o.corpus);
        }
        let crashes = outcomes.iter().filter(|o| o.crash.is_some()).count();
        let _ = writeln!(
            report,
            "fuzz: {} targets, {} executions, {crashes} crashing",
            outcomes.len(),
            outcomes.iter().map(|o| o.execs).sum::<u64>()
        );
        print!("{report}");
        let _ = fs::write(work_dir().join("last-report.txt"), &report);
        if crashes > 0 {
            bail!("{crashes} fuzz target(s) crashed: reproduce with the artifact named above (`target/fuzz/build/x86_64-unknown-linux-gnu/release/<target> <artifact>`)");
        }
        Ok(())
    }
}

/// Nightly must already be there (the machine's toolchains are the project's); cargo-fuzz is
/// installed from crates.io once.
fn ensure_tools() -> Result<()> {
    let nightly =
        Command::new("cargo").args(["+nightly", "--version"]).stdout(Stdio::null()).stderr(Stdio::null()).status();
    if !nightly.is_ok_and(|s| s.success()) {
        bail!(
            "fuzz: cannot run: no nightly Rust toolchain (`cargo +nightly` fails); libFuzzer needs nightly's \
             -Zsanitizer coverage. Install it with `rustup toolchain install nightly` — the fuzz step is NOT passed"
        );
    }
    let has_fuzz = Command::new("cargo")
        .args(["+nightly", "fuzz", "--version"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !has_fuzz {
        eprintln!("fuzz: installing cargo-fuzz from crates.io (once)");
        run(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))
            .context("fuzz: cannot install cargo-fuzz; the fuzz step is NOT passed")?;
    }
    Ok(())
}

/// Builds every target once: optimised, with debug assertions and overflow checks (set in
/// fuzz/Cargo.toml's profile, lamfat excepted as shipped; `-O` so that cargo-fuzz does not force
/// them on through RUSTFLAGS, which would override that exception), without ASan (the parsers are safe
/// Rust; ASan would only slow them down).
fn build() -> Result<PathBuf> {
    let target_dir = work_dir().join("build");
    run(Command::new("cargo")
        .args(["+nightly", "fuzz", "build", "-O", "--sanitizer", "none", "--target-dir"])
        .arg(&target_dir)
        .current_dir(fuzz_dir())
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("RUSTFLAGS"))?;
    Ok(target_dir.join("x86_64-unknown-linux-gnu").join("release"))
}

/// The memory limits every libFuzzer invocation gets.
fn limits() -> [String; 2] {
    [format!("-rss_limit_mb={RSS_LIMIT_MB}"), format!("-malloc_limit_mb={MALLOC_LIMIT_MB}")]
}

/// Replaces the repository corpus of `target` by the minimised merge of itself and the run's
/// scratch corpus (libFuzzer `-merge=1`: the smallest set of inputs with the same coverage).
fn merge_into_repo(bin_dir: &Path, target: &str) -> Result<()> {
    let repo = repo_corpus(target);
    let scratch = work_dir().join("corpus").join(target);
    let merged = work_dir().join("merged").join(target);
    let _ = fs::remove_dir_all(&merged);
    mkdirp(&merged)?;
    mkdirp(&repo)?;
    let out = Command::new(bin_dir.join(target))
        .arg("-merge=1")
        .args(limits())
        .arg(&merged)
        .arg(&repo)
        .arg(&scratch)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start the {target} merge"))?;
    if !out.status.success() {
        bail!("fuzz: merging the {target} corpus failed:\n{}", tail(&String::from_utf8_lossy(&out.stderr), 20));
    }
    fs::remove_dir_all(&repo).with_context(|| format!("removing {}", repo.display()))?;
    fs::rename(&merged, &repo).with_context(|| format!("moving the merged corpus to {}", repo.display()))?;
    let n = fs::read_dir(&repo).map(|d| d.count()).unwrap_or(0);
    eprintln!("fuzz: {target}: {n} inputs kept in {}", repo.display());
    Ok(())
}

fn run_target(bin_dir: &Path, target: &str, seeds: &Path, secs: u64) -> Result<Outcome> {
    let corpus = work_dir().join("corpus").join(target);
    let artifacts = work_dir().join("artifacts").join(target);
    mkdirp(&corpus)?;
    mkdirp(&artifacts)?;
    mkdirp(seeds)?;
    let bin = bin_dir.join(target);
    eprintln!("fuzz: {target} for {secs} s (rss limit {RSS_LIMIT_MB} MB, malloc limit {MALLOC_LIMIT_MB} MB)");
    let t = Instant::now();
    let mut cmd = Command::new(&bin);
    // New inputs go to the first directory (scratch); the repository corpus is only read.
    cmd.arg(&corpus).arg(seeds);
    if repo_corpus(target).is_dir() {
        cmd.arg(repo_corpus(target));
    }
    let out = cmd
        .arg(format!("-max_total_time={secs}"))
        .args(limits())
        .arg("-timeout=10")
        .arg("-max_len=400000")
        .arg("-print_final_stats=1")
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let elapsed = t.elapsed().as_secs_f64();
    let log = String::from_utf8_lossy(&out.stderr);
    let _ = fs::write(work_dir().join(format!("{target}.log")), log.as_bytes());
    let execs = log
        .lines()
        .filter_map(|l| l.strip_prefix("stat::number_of_executed_units:"))
        .filter_map(|v| v.trim().parse::<u64>().ok())
        .next_back()
        .unwrap_or(0);
    let crash = if out.status.success() {
        None
    } else {
        let artifact = log
            .lines()
            .filter_map(|l| l.split_once("Test unit written to "))
            .map(|(_, p)| p.trim().to_string())
            .next_back();
        let why = log
            .lines()
            .find(|l| {
                l.contains("panicked at")
                    || l.contains("==ERROR")
                    || l.contains("ERROR: libFuzzer")
                    || l.contains("memory allocation of")
            })
            .unwrap_or("exit status")
            .trim()
            .to_string();
        eprintln!("fuzz: {target} CRASHED: {why}\n{}", tail(&log, 30));
        Some(format!("{why} ({})", artifact.unwrap_or_else(|| format!("{}", out.status))))
    };
    let corpus_n = fs::read_dir(&corpus).map(|d| d.count()).unwrap_or(0);
    Ok(Outcome { target: target.to_string(), execs, secs: elapsed, corpus: corpus_n, crash })
}

fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Writes `data` (cut to [`MAX_SEED`]) as seed `name` of `target`.
fn seed(seeds: &Path, target: &str, name: &str, data: &[u8]) -> Result<()> {
    let dir = seeds.join(target);
    mkdirp(&dir)?;
    let data = &data[..data.len().min(MAX_SEED)];
    fs::write(dir.join(name), data).with_context(|| format!("writing seed {target}/{name}"))
}

/// The non-zero 4 KiB pages of an image as the fuzz crate's SparseDisk records (page number
/// as little-endian u32, then the page), first [`MAX_SEED`] bytes' worth.
fn sparse_pages(img: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, page) in img.chunks(4096).enumerate() {
        if page.iter().any(|&b| b != 0) && out.len() + 4100 <= MAX_SEED {
            out.extend_from_slice(&(i as u32).to_le_bytes());
            out.extend_from_slice(page);
        }
    }
    out
}

fn read_head(path: &Path, at: u64, len: usize) -> Result<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    f.seek(SeekFrom::Start(at))?;
    let mut v = Vec::new();
    f.take(len as u64).read_to_end(&mut v)?;
    Ok(v)
}

/// The seed corpora: tiny purpose-made images and disks, map sectors of the test disks,
/// sample configs, the test kernels raw, compressed and wrapped, xenstore and blkif messages.
fn make_seeds(seeds: &Path) -> Result<()> {
    for tool in ["makefs", "mke2fs", "mkfs.fat", "mcopy", "sfdisk", "gzip", "xz", "zstd", "lz4"] {
        if !have(tool) && !Path::new("/usr/sbin").join(tool).is_file() {
            bail!("fuzz --seed needs {tool} (cargo xtask setup installs it)");
        }
    }
    let _ = fs::remove_dir_all(seeds);
    let w = work_dir().join("seedwork");
    let _ = fs::remove_dir_all(&w);
    mkdirp(&w)?;
    let root = project_root();
    let configs = root.join("testimages").join("configs");

    // A small tree with what the walkers must handle: nested directories, a file needing
    // indirect blocks, fast and slow symlinks, a symlink loop, the configs.
    let t = w.join("tree");
    let menu = configs.join("netbsd-domu-menu.lst");
    sh(&format!(
        "cd {w}; mkdir -p tree/boot/grub tree/a/b/c; cp {menu} tree/boot/grub/menu.lst; \
         head -c 3000 /dev/urandom > tree/netbsd; head -c 70000 /dev/zero | tr '\\0' k > tree/a/b/c/big; \
         echo hi > tree/a/b/c/f; ln -s ../netbsd tree/boot/lnk; \
         ln -s /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/netbsd tree/a/slow; \
         ln -s loop1 tree/loop2; ln -s loop2 tree/loop1; mkdir ft; cp -rL tree/a tree/boot tree/netbsd ft/ 2>/dev/null || true",
        w = shq(&w),
        menu = shq(&menu)
    ))?;
    let tq = shq(&t);
    let mut fs_imgs: Vec<(&str, PathBuf)> = Vec::new();
    for (v, e) in [(1, "le"), (1, "be"), (2, "le"), (2, "be")] {
        let img = w.join(format!("ffs{v}{e}.img"));
        sh(&format!(
            "makefs -t ffs -B {e} -s 320k -o version={v},bsize=4096,fsize=512,minfree=0 {} {tq} >/dev/null",
            shq(&img)
        ))?;
        fs_imgs.push(("ffs_walk", img));
    }
    for (name, opts) in [("ext2", "-t ext2"), ("ext4", "-t ext4 -O ^has_journal -N 32")] {
        let img = w.join(format!("{name}.img"));
        sh(&format!("mke2fs -q {opts} -b 1024 -d {tq} {} 256 >/dev/null 2>&1", shq(&img)))?;
        fs_imgs.push(("ext_walk", img));
    }
    let fat = w.join("fat.img");
    sh(&format!(
        "mkfs.fat -C {f} 200 >/dev/null && cd {ft} && MTOOLS_SKIP_CHECK=1 mcopy -s -i {f} a boot netbsd ::/",
        f = shq(&fat),
        ft = shq(w.join("ft"))
    ))?;
    fs_imgs.push(("fat_walk", fat.clone()));
    // XFS (v5, v4 with 1 KiB blocks) and btrfs: megabytes apart, so seeded as sparse pages
    // (the fuzz crate's SparseDisk).
    let proto = w.join("xfs.proto");
    fs::write(
        &proto,
        "/dev/null\n0 0\nd--755 0 0\nboot d--755 0 0\nmenu.lst ---644 0 0 {menu}\nlnk l--777 0 0 ../netbsd\n$\n\
         netbsd ---644 0 0 {t}/netbsd\nbig ---644 0 0 {t}/a/b/c/big\nloop1 l--777 0 0 loop2\nloop2 l--777 0 0 loop1\n$\n"
            .replace("{menu}", &menu.to_string_lossy())
            .replace("{t}", &t.to_string_lossy()),
    )?;
    for (name, crc) in [("xfs5.img", 1), ("xfs4.img", 0)] {
        let img = w.join(name);
        sh(&format!(
            "truncate -s 20M {i}; TEST_DIR=/tmp TEST_DEV=/dev/null QA_CHECK_FS=xfs mkfs.xfs -q -f -b size=1024 -m crc={crc} -p {p} {i} >/dev/null 2>&1",
            i = shq(&img),
            p = shq(&proto)
        ))?;
        seed(seeds, "xfs_walk", name, &sparse_pages(&fs::read(&img)?))?;
    }
    let bimg = w.join("btrfs.img");
    sh(&format!(
        "truncate -s 120M {i}; mkfs.btrfs -q -f -m single -d single --rootdir {tq} --shrink {i} >/dev/null 2>&1",
        i = shq(&bimg)
    ))?;
    seed(seeds, "btrfs_walk", "btrfs.img", &sparse_pages(&fs::read(&bimg)?))?;

    for (target, img) in &fs_imgs {
        let data = fs::read(img)?;
        let name = img.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        seed(seeds, target, &name, &data)?;
        seed(seeds, "probe", &name, &data)?;
    }

    // Tiny partitioned disks around those filesystems: MBR (FAT at 64), GPT (ext2 at 64).
    let ext2 = w.join("ext2.img");
    for (name, table, img, sectors) in [
        ("mbr-fat.img", "start=64, size=400, type=c", &fat, 500),
        ("gpt-ext2.img", "label: gpt\nstart=64, size=512, type=L", &ext2, 640),
    ] {
        let d = w.join(name);
        sh(&format!(
            "truncate -s {} {d}; dd if={img} of={d} bs=512 seek=64 conv=notrunc status=none; \
             printf '{table}\\n' | sfdisk -q {d} >/dev/null",
            sectors * 512,
            d = shq(&d),
            img = shq(img)
        ))?;
        let data = fs::read(&d)?;
        seed(seeds, "probe", name, &data)?;
        seed(seeds, "mbr", name, &data[..data.len().min(64 * 1024)])?;
        seed(seeds, "gpt", name, &data[..data.len().min(64 * 1024)])?;
    }

    // The generated test disks' maps (first 64 KiB) and the NetBSD labels inside them.
    let disks = root.join("target").join("testimages").join("disks");
    if let Ok(rd) = fs::read_dir(&disks) {
        for e in rd.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            let head = read_head(&p, 0, 64 * 1024)?;
            for t in ["mbr", "gpt", "disklabel", "probe"] {
                seed(seeds, t, &name, &head)?;
            }
            // The NetBSD (0xa9) MBR partition's first sectors: its disklabel.
            for i in 0..4 {
                let off = 446 + 16 * i;
                if head.get(off + 4) == Some(&0xa9) {
                    let start = u32::from_le_bytes([head[off + 8], head[off + 9], head[off + 10], head[off + 11]]);
                    let label = read_head(&p, u64::from(start) * 512, 8192)?;
                    seed(seeds, "disklabel", &format!("{name}-p{i}"), &label)?;
                }
            }
        }
    } else {
        eprintln!("fuzz: no {} (run `cargo xtask images` for more seeds)", disks.display());
    }

    // Sample configs.
    for e in fs::read_dir(&configs).with_context(|| format!("reading {}", configs.display()))?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let data = fs::read(e.path())?;
        let target = if name.ends_with("grub.cfg") {
            "grub_cfg"
        } else if name.ends_with("boot.cfg") {
            "boot_cfg"
        } else {
            "menu_lst"
        };
        seed(seeds, target, &name, &data)?;
    }
    for (i, line) in [
        "rpvboot.config=(hd0,0)/boot/grub/menu.lst rpvboot.entry=1 rpvboot.timeout=3",
        "rpvboot.kernel=(hd0,1)/netbsd -s root=xbd0a rpvboot.verbose rpvboot.nobootdev",
        "--vtpm-label=x (hd0,0)/boot/grub/grub.cfg",
        "console=hvc0 rpvboot.config=/boot.cfg",
    ]
    .iter()
    .enumerate()
    {
        seed(seeds, "extra", &format!("extra{i}"), line.as_bytes())?;
    }

    // Kernels: raw ELF, each compression, a bzImage wrapping the gzip'd one.
    let kdir = testimages::kernels::images_dir().join("kernels");
    let mut elfs: Vec<PathBuf> = testimages::kernels::build_all(&kdir)
        .map_err(|e| anyhow::anyhow!("building test kernels: {e}"))?
        .into_iter()
        .filter(|p| fs::metadata(p).is_ok_and(|m| m.len() <= 64 * 1024))
        .collect();
    elfs.sort();
    for elf in &elfs {
        let name = elf.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let data = fs::read(elf)?;
        seed(seeds, "elf_notes", &name, &data)?;
        for (target, cmd) in [
            ("gunzip", "gzip -9c"),
            ("unxz", "xz --check=crc32 -c"),
            ("unzstd", "zstd -19 -c -q"),
            ("unlz4", "lz4 -9 -c -q"),
        ] {
            let zf = w.join(format!("{name}.{target}"));
            sh(&format!("{cmd} < {} > {}", shq(elf), shq(&zf)))?;
            let zd = fs::read(&zf)?;
            seed(seeds, target, &name, &zd)?;
            seed(seeds, "bzimage", &format!("{name}.{target}"), &zd)?;
            if target == "gunzip" {
                seed(seeds, "bzimage", &format!("{name}.bz"), &bzimage(&zd))?;
            }
        }
    }

    // xenstore: a read reply (req 1), a directory reply (req 2 after a stray and a watch event).
    let msg = |ty: u32, id: u32, body: &[u8]| {
        let mut m = Vec::new();
        for w in [ty, id, 0, body.len() as u32] {
            m.extend_from_slice(&w.to_le_bytes());
        }
        m.extend_from_slice(body);
        m
    };
    let mut xs = msg(2, 1, b"backend/vbd/0/768");
    xs.extend(msg(2, 2, b"0"));
    xs.extend(msg(15, 0, b"backend/vbd/0/768/state\0t\0"));
    xs.extend(msg(1, 9, b"stray"));
    xs.extend(msg(1, 3, b"768\0832\0"));
    seed(seeds, "xenstore_reply", "replies", &xs)?;
    seed(seeds, "xenstore_reply", "error", &msg(16, 1, b"ENOENT\0"))?;
    // blkif: n=4 requests, then responses for ids 0..4 with rsp_prod 1..4.
    let mut bk = vec![4u8];
    for id in 0..4u32 {
        bk.extend_from_slice(&(id + 1).to_le_bytes());
        bk.extend_from_slice(&u64::from(id).to_le_bytes());
        bk.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
    }
    seed(seeds, "blkif_response", "four", &bk)?;
    // blkfront: 2048 sectors of 512 bytes, no indirect / 256-segment offer; all answers right,
    // then one with some bad answers.
    let mut bf = 2048u32.to_le_bytes().to_vec();
    bf.extend_from_slice(&[0, 0, 0, 0]);
    seed(seeds, "blkfront", "plain", &bf)?;
    let mut bf = 2048u32.to_le_bytes().to_vec();
    bf.extend_from_slice(&[1, 0, 1, 2, 0, 0x11, 0, 0x04, 0, 0x01, 0x55, 0x20, 0, 9]);
    seed(seeds, "blkfront", "indirect-bad", &bf)?;

    let n: usize = TARGETS.iter().map(|t| fs::read_dir(seeds.join(t)).map(|d| d.count()).unwrap_or(0)).sum();
    eprintln!("fuzz: {n} seeds in {}", seeds.display());
    Ok(())
}

/// A minimal bzImage (boot protocol 2.08) whose payload is `payload`.
fn bzimage(payload: &[u8]) -> Vec<u8> {
    let setup_sects = 1u8;
    let mut d = vec![0u8; (usize::from(setup_sects) + 1) * 512];
    d[0x1f1] = setup_sects;
    d[0x1fe] = 0x55;
    d[0x1ff] = 0xaa;
    d[0x202..0x206].copy_from_slice(b"HdrS");
    d[0x206..0x208].copy_from_slice(&0x020du16.to_le_bytes());
    d[0x248..0x24c].copy_from_slice(&0u32.to_le_bytes());
    d[0x24c..0x250].copy_from_slice(&(payload.len() as u32).to_le_bytes());
    d.extend_from_slice(payload);
    d
}
