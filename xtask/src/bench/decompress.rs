//! `cargo xtask bench --decompress`: rpvboot's decoders against the reference C tools on the
//! host, on Debian's uncompressed vmlinux (`target/e2e/out/vmlinux-dom0`, 63 MiB) packed the
//! way kernels are packed: `gzip -9`; `xz --check=crc32 --x86 --lzma2=preset=9,dict=32MiB`
//! (Linux's `xz_wrap.sh`); `zstd -19 -T1`; `lz4 -l -9` (Linux's legacy frame).
//!
//! Ours is `kernelimage/examples/decode.rs` built with rpvboot's own `pv` profile (opt-level
//! "z", LTO, the decoders at opt-level 3: the code the loader runs, not the `release` build);
//! the C tool is `TOOL -dc FILE > /dev/null`. Per format (ratios are ours / C):
//!
//! - **Ir**: instructions of the whole process under `valgrind --tool=callgrind` (left out when
//!   valgrind is not installed). Repeatable under load, but callgrind counts a `rep movs` /
//!   `rep stos` once per byte, so glibc's `memcpy`/`memset` of long runs weigh more than they
//!   cost.
//! - **CPU**: user + system time of the whole process (start, read, decode, exit), read by
//!   bash's `time` (`getrusage`, millisecond precision), best of N rounds (`--rounds`), ours,
//!   the tool (and the C library, below) rotating which goes first. CPU time is what the run
//!   itself cost: on a machine shared with other work it moves far less than wall time (the
//!   same ratios in wall time are reported too, and are noisy there).
//! - **warm**: one more read + decode in a process whose memory is already set up: best of N of
//!   (two passes) − best of N of (one pass); ours with `decode FORMAT FILE 2`, the tool given the
//!   file twice (`-dc FILE FILE`, lz4 `-m`). Both run with glibc's mmap threshold raised
//!   (`GLIBC_TUNABLES`), so that our 63 MiB output buffer, freed after the first pass, is reused
//!   by the second instead of being mapped afresh. This takes out the host kernel's page faults
//!   on our output (each fault zero-fills a fresh page, ~16,000 of them), which the tools do not
//!   pay as they stream through small buffers into a pipe. Our own zero fill of the output
//!   (`kernelimage`'s `OutBuf`) stays in, because the loader runs it too.
//!
//! What the PV guest does: rpvboot's heap claims free RAM in 2 MiB steps and maps each step when
//! claimed (one L1 table filled and hooked in with a batched `mmu_update`, Xen validating its
//! 512 entries; `rpvboot/src/pv/mm.rs`), so there are no per-page faults and nobody zeroes the
//! pages but `OutBuf`. The guest's cost is therefore close to the warm column plus one mapping
//! per 2 MiB of heap growth; the one-pass CPU and wall columns overstate it by the host's page
//! faults.
//!
//! **C library into one buffer** (the "lib" columns): the tools stream through a window of a
//! few MiB that stays in the cache and write into a pipe, while the loader (like Linux's own
//! boot decompressors) decodes the whole kernel into one buffer of its full size. So the same
//! file is also decoded by `xtask/bench-c/decode.c`, built here with the system `cc -O2`
//! against the C libraries (zlib's `inflate`, liblzma's `lzma_stream_buffer_decode`,
//! `ZSTD_decompressDCtx`, `LZ4_decompress_safe` per legacy-frame block), in one call into one
//! buffer of the uncompressed size, allocated once and reused by every pass (no zero fill: C
//! does not need one). Same method as above (Ir, one pass CPU, warm = two passes − one), its
//! output checked the same way; its -dev packages are installed when missing
//! ([`LIB_PACKAGES`], the bench only). Ratios "× lib" are ours / this harness.
//!
//! Before timing, our output is checked against the uncompressed file (length and FNV-1a). The
//! table goes to stdout and to `target/bench/decompress.md` and `.json`, with the machine, the
//! date and the load average before and after. This is a benchmark: it never fails on a timing.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};

use crate::util::{self, mkdirp, project_root};

/// glibc tunables of the warm column: allocations up to 1 GiB from the heap (not `mmap`) and
/// no trimming, so a freed output buffer keeps its pages for the next pass.
const WARM_TUNABLES: &str = "glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=4294967295";

/// apt packages the C-library harness is built against.
const LIB_PACKAGES: &[&str] = &["zlib1g-dev", "liblzma-dev", "libzstd-dev", "liblz4-dev"];

/// One compression format: how the file is packed and how the C tool decodes it.
struct Codec {
    /// Format name for `decode` and the table.
    name: &'static str,
    tool: &'static str,
    ext: &'static str,
    pack: &'static [&'static str],
    /// `-dc` and the options to decode several files to stdout.
    unpack: &'static [&'static str],
}

const CODECS: [Codec; 4] = [
    Codec { name: "gzip", tool: "gzip", ext: "gz", pack: &["-c", "-9"], unpack: &["-dc"] },
    Codec {
        name: "xz",
        tool: "xz",
        ext: "xz",
        pack: &["-c", "--check=crc32", "--x86", "--lzma2=preset=9,dict=32MiB"],
        unpack: &["-dc"],
    },
    Codec { name: "zstd", tool: "zstd", ext: "zst", pack: &["-c", "-q", "-19", "-T1"], unpack: &["-dc", "-q"] },
    Codec { name: "lz4", tool: "lz4", ext: "lz4", pack: &["-c", "-q", "-l", "-9"], unpack: &["-dc", "-q", "-m"] },
];

/// Seconds of one run: wall clock, and CPU time (user + system) of the process.
#[derive(Clone, Copy)]
struct Times {
    wall: f64,
    cpu: f64,
}

impl Times {
    const MAX: Times = Times { wall: f64::MAX, cpu: f64::MAX };

    fn min(self, o: Times) -> Times {
        Times { wall: self.wall.min(o.wall), cpu: self.cpu.min(o.cpu) }
    }

    fn minus(self, o: Times) -> Times {
        Times { wall: (self.wall - o.wall).max(0.0), cpu: (self.cpu - o.cpu).max(0.0) }
    }
}

/// One format's measurements, each pair [ours, C].
struct Row {
    packed: u64,
    ir: Option<(Ir, Ir)>,
    /// One pass, default environment.
    cold: (Times, Times),
    /// One and two passes with [`WARM_TUNABLES`].
    one: (Times, Times),
    two: (Times, Times),
    /// The C library decoding into one buffer (`bench-c/decode.c`), the same figures.
    lib: Lib,
}

/// The C-library harness's figures of one format.
struct Lib {
    ir: Option<Ir>,
    cold: Times,
    one: Times,
    two: Times,
}

impl Row {
    fn warm(&self) -> (Times, Times) {
        (self.two.0.minus(self.one.0), self.two.1.minus(self.one.1))
    }
}

impl Lib {
    fn warm(&self) -> Times {
        self.two.minus(self.one)
    }
}

/// Runs the benchmark with `rounds` timing rounds (at least 1).
pub fn run(rounds: u32) -> Result<()> {
    crate::setup::ensure_host()?;
    let input = crate::util::e2e_dir().join("out/vmlinux-dom0");
    if !input.exists() {
        bail!("{} is missing: run `cargo xtask setup` first", input.display());
    }
    let rounds = rounds.max(1);
    let load_before = loadavg();
    let decode = build_decode()?;
    let dir = crate::bench::bench_dir().join("decompress");
    mkdirp(&dir)?;
    let clib = build_c(&dir)?;
    let raw = fs::read(&input).with_context(|| format!("reading {}", input.display()))?;
    let want = (raw.len(), crate::probe::fnv1a(&raw));
    drop(raw);
    let valgrind = util::have("valgrind");
    let mut rows = Vec::new();
    for c in &CODECS {
        let file = pack(c, &input, &dir)?;
        check(ours(&decode, c, &file, 1), c, "our", want)?;
        let lib = |passes| lib(&clib, c, &file, want.0, passes);
        check(lib(1), c, "the C library's", want)?;
        let (ir, lib_ir) = if valgrind {
            eprintln!("decompress: {} under callgrind", c.name);
            let ir = (callgrind(&ours(&decode, c, &file, 1), &dir)?, callgrind(&theirs(c, &file, 1), &dir)?);
            (Some(ir), Some(callgrind(&lib(1), &dir)?))
        } else {
            (None, None)
        };
        eprintln!("decompress: {} timed, {rounds} rounds", c.name);
        let runs = |passes, warm| {
            best_of(rounds, [&|| ours(&decode, c, &file, passes), &|| theirs(c, &file, passes), &|| lib(passes)], warm)
        };
        let ([cold_a, cold_b, cold_l], [one_a, one_b, one_l], [two_a, two_b, two_l]) =
            (runs(1, false)?, runs(1, true)?, runs(2, true)?);
        let row = Row {
            packed: fs::metadata(&file)?.len(),
            ir,
            cold: (cold_a, cold_b),
            one: (one_a, one_b),
            two: (two_a, two_b),
            lib: Lib { ir: lib_ir, cold: cold_l, one: one_l, two: two_l },
        };
        rows.push((c, row));
    }
    let lib_versions = util::output(Command::new(&clib).arg("--versions")).unwrap_or_default();
    report(&rows, rounds, valgrind, &load_before, &input, lib_versions.trim())
}

/// Builds the decode example with the `pv` profile and returns its path.
fn build_decode() -> Result<PathBuf> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    util::run(
        Command::new(cargo)
            .args(["build", "--profile", "pv", "-p", "kernelimage", "--example", "decode"])
            .current_dir(project_root()),
    )?;
    Ok(project_root().join("target/pv/examples/decode"))
}

/// Builds `xtask/bench-c/decode.c` (the C-library baseline) with the system `cc -O2`,
/// installing the libraries' -dev packages first when missing; returns the binary's path.
fn build_c(dir: &Path) -> Result<PathBuf> {
    crate::setup::ensure_packages(LIB_PACKAGES)?;
    let bin = dir.join("decode-c");
    util::run(
        Command::new("cc")
            .args(["-O2", "-o"])
            .arg(&bin)
            .arg(project_root().join("xtask/bench-c/decode.c"))
            .args(["-lz", "-llzma", "-lzstd", "-llz4"]),
    )?;
    Ok(bin)
}

/// The packed file, made once per input and packing command (a stamp beside it).
fn pack(c: &Codec, input: &Path, dir: &Path) -> Result<PathBuf> {
    let file = dir.join(format!("vmlinux.{}", c.ext));
    let meta = fs::metadata(input)?;
    let recipe = format!("{} {:?} {} {:?}\n", c.tool, c.pack, meta.len(), meta.modified().ok());
    let stamp = dir.join(format!("vmlinux.{}.stamp", c.ext));
    if file.exists() && util::stamp_ok(&stamp, &recipe) {
        return Ok(file);
    }
    eprintln!("decompress: packing with {} {}", c.tool, c.pack.join(" "));
    let out = fs::File::create(&file).with_context(|| format!("creating {}", file.display()))?;
    util::run(Command::new(c.tool).args(c.pack).arg(input).stdout(out))?;
    util::write_stamp(&stamp, &recipe)?;
    Ok(file)
}

/// A decoder's output (ours, or the C library's in `whose`) must be the uncompressed file.
fn check(mut cmd: Command, c: &Codec, whose: &str, (len, hash): (usize, u64)) -> Result<()> {
    let out = cmd.env("DECODE_HASH", "1").output().with_context(|| format!("running {cmd:?}"))?;
    let err = String::from_utf8_lossy(&out.stderr);
    let expect = format!("{len} bytes fnv1a={hash:016x}");
    if !out.status.success() || !err.starts_with(&expect) {
        bail!("{}: {whose} output is not the input ({expect} expected): {}", c.name, err.trim());
    }
    Ok(())
}

fn ours(decode: &Path, c: &Codec, file: &Path, passes: u32) -> Command {
    let mut cmd = Command::new(decode);
    cmd.arg(c.name).arg(file).arg(passes.to_string());
    cmd
}

/// The C-library harness: FORMAT FILE SIZE PASSES.
fn lib(clib: &Path, c: &Codec, file: &Path, size: usize, passes: u32) -> Command {
    let mut cmd = Command::new(clib);
    cmd.arg(c.name).arg(file).arg(size.to_string()).arg(passes.to_string());
    cmd
}

fn theirs(c: &Codec, file: &Path, passes: u32) -> Command {
    let mut cmd = Command::new(c.tool);
    cmd.args(c.unpack);
    for _ in 0..passes {
        cmd.arg(file);
    }
    cmd
}

/// Times one run (stdout and stderr to /dev/null) through bash's `time`, which reads the
/// child's CPU time from `getrusage` with millisecond precision: CPU time is what the run cost
/// itself, and on a machine shared with other work it moves far less than wall time. Fails if
/// the command does.
fn time(cmd: Command, warm: bool) -> Result<Times> {
    let mut sh = Command::new("bash");
    sh.arg("-c")
        .arg("TIMEFORMAT='%3R %3U %3S'; time \"$@\" >/dev/null 2>&1")
        .arg("bash")
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    if warm {
        sh.env("GLIBC_TUNABLES", WARM_TUNABLES);
    }
    let out = sh.output().with_context(|| format!("running {cmd:?}"))?;
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("{cmd:?} failed: {}", out.status);
    }
    let t: Vec<f64> = err.lines().last().unwrap_or("").split_whitespace().filter_map(|v| v.parse().ok()).collect();
    match t[..] {
        [wall, user, sys] => Ok(Times { wall, cpu: user + sys }),
        _ => bail!("no times from bash for {cmd:?}: {}", err.trim()),
    }
}

/// Best of `rounds` for each command (ours, the tool, the C library), rotating which runs first.
fn best_of<const N: usize>(rounds: u32, cmds: [&dyn Fn() -> Command; N], warm: bool) -> Result<[Times; N]> {
    let mut best = [Times::MAX; N];
    for r in 0..rounds as usize {
        for k in 0..N {
            let i = (r + k) % N;
            best[i] = best[i].min(time(cmds[i](), warm)?);
        }
    }
    Ok(best)
}

/// Instructions of one run under callgrind.
#[derive(Clone, Copy, Default)]
struct Ir {
    /// The whole process (callgrind's "Collected").
    total: u64,
    /// Of which in glibc's `memset`/`memcpy`/`memmove`, where callgrind counts a `rep stos` /
    /// `rep movs` once per byte or word moved.
    mem: u64,
}

/// Runs `cmd` under callgrind and reads its totals with `callgrind_annotate`.
fn callgrind(cmd: &Command, dir: &Path) -> Result<Ir> {
    let out_file = dir.join("callgrind.out");
    let mut v = Command::new("valgrind");
    v.arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out_file.display()))
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let out = v.output().with_context(|| format!("running {v:?}"))?;
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("{v:?} failed: {}", err.trim());
    }
    let total = err
        .lines()
        .find_map(|l| l.split("Collected :").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .with_context(|| format!("no instruction count from {v:?}: {}", err.trim()))?;
    let per_fn = util::output(Command::new("callgrind_annotate").arg("--threshold=100").arg(&out_file))?;
    let _ = fs::remove_file(&out_file);
    Ok(Ir { total, mem: mem_functions(&per_fn) })
}

/// Instructions `callgrind_annotate` attributes to glibc's string-move functions
/// (`__memset_avx2_unaligned_erms`, `__memcpy_…`, `__memmove_…`).
fn mem_functions(annotate: &str) -> u64 {
    annotate
        .lines()
        .filter(|l| ["__memset_", "__memcpy_", "__memmove_"].iter().any(|f| l.contains(f)))
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|n| n.replace(',', "").parse::<u64>().ok())
        .sum()
}

fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".into())
}

fn machine() -> String {
    let cpu = super::cpu_model();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let host = util::output(Command::new("uname").args(["-nrm"])).unwrap_or_default();
    format!("{} ({cpu}, {cores} cores)", host.trim())
}

fn tool_versions() -> String {
    CODECS
        .iter()
        .map(|c| {
            let v = util::output(Command::new(c.tool).arg("--version")).unwrap_or_default();
            let line = v.lines().find(|l| !l.trim().is_empty()).unwrap_or("?").trim().to_string();
            format!("{}: {line}", c.tool)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn ms(s: f64) -> String {
    format!("{:.0} ms", s * 1e3)
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}×", a / b)
    } else {
        "n/a".into()
    }
}

fn mega(n: u64) -> String {
    format!("{:.0} M", n as f64 / 1e6)
}

/// One of a [`Times`]' figures.
type Pick = fn(&Times) -> f64;

/// `[ours, C]` of one figure, for the JSON.
fn pair(f: Pick, p: (Times, Times)) -> String {
    format!("[{:.4}, {:.4}]", f(&p.0), f(&p.1))
}

fn report(
    rows: &[(&Codec, Row)],
    rounds: u32,
    valgrind: bool,
    load_before: &str,
    input: &Path,
    lib_versions: &str,
) -> Result<()> {
    let date = util::output(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"])).unwrap_or_default();
    let date = date.trim();
    let (machine, load_after, versions) = (machine(), loadavg(), tool_versions());
    let size = fs::metadata(input).map_or(0, |m| m.len());
    let mut md = String::new();
    let _ = writeln!(md, "# Decoders: rpvboot (`pv` profile) vs the C tools (cargo xtask bench --decompress)\n");
    let _ = writeln!(
        md,
        "{date} on {machine}; load average {load_before} before, {load_after} after; input {} ({size} B); \
         best of {rounds} rounds; {versions}; C libraries (lib): {lib_versions}.\n",
        input.display()
    );
    let _ = writeln!(
        md,
        "| format | packed | Ir ours (mem*) | Ir C (mem*) | Ir × C | Ir × C without mem* | CPU ours | CPU C | CPU × C \
         | warm CPU ours | warm CPU C | warm × C | wall × C | warm wall × C \
         | Ir lib (mem*) | Ir × lib | CPU lib | CPU × lib | warm CPU lib | warm × lib | warm wall × lib |"
    );
    let _ = writeln!(md, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut json = format!(
        "{{\"date\": \"{date}\", \"machine\": \"{}\", \"load_before\": \"{load_before}\", \"load_after\": \"{load_after}\", \
         \"input_bytes\": {size}, \"rounds\": {rounds}, \"formats\": [\n",
        machine.replace('"', "'")
    );
    for (i, (c, r)) in rows.iter().enumerate() {
        let (ir_a, ir_b, ir_r, ir_rest) = match r.ir {
            Some((a, b)) => (
                format!("{} ({})", mega(a.total), mega(a.mem)),
                format!("{} ({})", mega(b.total), mega(b.mem)),
                ratio(a.total as f64, b.total as f64),
                ratio((a.total - a.mem.min(a.total)) as f64, (b.total - b.mem.min(b.total)) as f64),
            ),
            None => ("n/a".into(), "n/a".into(), "n/a".into(), "n/a".into()),
        };
        let (wa, wb) = r.warm();
        let wl = r.lib.warm();
        let (ir_l, ir_lr) = match (r.ir, r.lib.ir) {
            (Some((a, _)), Some(l)) => {
                (format!("{} ({})", mega(l.total), mega(l.mem)), ratio(a.total as f64, l.total as f64))
            }
            _ => ("n/a".into(), "n/a".into()),
        };
        let _ = writeln!(
            md,
            "| {} | {} B | {ir_a} | {ir_b} | {ir_r} | {ir_rest} | {} | {} | {} | {} | {} | {} | {} | {} \
             | {ir_l} | {ir_lr} | {} | {} | {} | {} | {} |",
            c.name,
            r.packed,
            ms(r.cold.0.cpu),
            ms(r.cold.1.cpu),
            ratio(r.cold.0.cpu, r.cold.1.cpu),
            ms(wa.cpu),
            ms(wb.cpu),
            ratio(wa.cpu, wb.cpu),
            ratio(r.cold.0.wall, r.cold.1.wall),
            ratio(wa.wall, wb.wall),
            ms(r.lib.cold.cpu),
            ratio(r.cold.0.cpu, r.lib.cold.cpu),
            ms(wl.cpu),
            ratio(wa.cpu, wl.cpu),
            ratio(wa.wall, wl.wall),
        );
        let ir = r.ir.map_or("null".to_string(), |(a, b)| format!("[{}, {}]", a.total, b.total));
        let ir_mem = r.ir.map_or("null".to_string(), |(a, b)| format!("[{}, {}]", a.mem, b.mem));
        let (wall, cpu): (Pick, Pick) = (|t| t.wall, |t| t.cpu);
        let l = &r.lib;
        let lib_json = format!(
            "{{\"ir\": {}, \"ir_mem\": {}, \"wall_s\": {:.4}, \"cpu_s\": {:.4}, \
             \"one_pass_warm_env\": {{\"wall_s\": {:.4}, \"cpu_s\": {:.4}}}, \
             \"two_passes_warm_env\": {{\"wall_s\": {:.4}, \"cpu_s\": {:.4}}}, \
             \"warm_wall_s\": {:.4}, \"warm_cpu_s\": {:.4}}}",
            l.ir.map_or("null".to_string(), |i| i.total.to_string()),
            l.ir.map_or("null".to_string(), |i| i.mem.to_string()),
            l.cold.wall,
            l.cold.cpu,
            l.one.wall,
            l.one.cpu,
            l.two.wall,
            l.two.cpu,
            wl.wall,
            wl.cpu
        );
        let _ = writeln!(
            json,
            "  {{\"format\": \"{}\", \"packed_bytes\": {}, \"ir\": {ir}, \"ir_mem\": {ir_mem}, \
             \"wall_s\": {}, \"cpu_s\": {}, \"one_pass_warm_env\": {{\"wall_s\": {}, \"cpu_s\": {}}}, \
             \"two_passes_warm_env\": {{\"wall_s\": {}, \"cpu_s\": {}}}, \"warm_wall_s\": {}, \"warm_cpu_s\": {}, \
             \"c_library\": {lib_json}}}{}",
            c.name,
            r.packed,
            pair(wall, r.cold),
            pair(cpu, r.cold),
            pair(wall, r.one),
            pair(cpu, r.one),
            pair(wall, r.two),
            pair(cpu, r.two),
            pair(wall, (wa, wb)),
            pair(cpu, (wa, wb)),
            if i + 1 < rows.len() { "," } else { "" }
        );
    }
    json.push_str("]}\n");
    let _ = writeln!(
        md,
        "\nIr: whole-process instructions under callgrind{}; (mem*): of which in glibc's memset/memcpy/memmove, \
         where callgrind counts `rep stos`/`rep movs` per byte or word, far above their cost; \
         the C tools mostly copy inline. CPU: user + system time of the whole process (start, read, decode, \
         exit; bash's `time`), best of {rounds}, ours, the tool and lib rotating which goes first. warm: \
         best(two passes) − best(one pass) in one process, glibc keeping freed memory (`GLIBC_TUNABLES={WARM_TUNABLES}`), i.e. one \
         more read + decode without the host's page faults on our output; our own zero fill of the output \
         stays in. wall: the same ratios in wall-clock time (noisy on a shared machine). lib: the C library \
         decoding in one call into one buffer of the full output size, allocated once and reused \
         (xtask/bench-c/decode.c, `cc -O2`), as the loader and Linux's boot decompressors decode; × lib = ours / \
         lib; in the JSON as `c_library`. Seconds as [ours, C] in the JSON. The method: \
         xtask/src/bench/decompress.rs.",
        if valgrind { "" } else { " (valgrind not installed: n/a)" }
    );
    print!("{md}");
    let dir = crate::bench::bench_dir();
    mkdirp(&dir)?;
    fs::write(dir.join("decompress.md"), &md)?;
    fs::write(dir.join("decompress.json"), &json)?;
    eprintln!("decompress: wrote {}", dir.join("decompress.md").display());
    Ok(())
}

#[cfg(test)]
mod tests {
    /// Lines as valgrind 3.19's `callgrind_annotate` prints them (lz4's decode).
    #[test]
    fn mem_functions_sum_glibc_string_moves() {
        let a = "\
--------------------------------------------------------------------------------
Ir                    file:function
--------------------------------------------------------------------------------
123,571,176 (71.58%)  ???:0x000000000002bf80 [/tmp/lz4b/dec-exact]
 37,784,629 (21.89%)  ./string/../sysdeps/x86_64/multiarch/memset-vec-unaligned-erms.S:__memset_avx2_unaligned_erms [/usr/lib/x86_64-linux-gnu/libc.so.6]
 10,983,549 ( 6.36%)  ./string/../sysdeps/x86_64/multiarch/memmove-vec-unaligned-erms.S:__memcpy_avx_unaligned_erms [/usr/lib/x86_64-linux-gnu/libc.so.6]
";
        assert_eq!(super::mem_functions(a), 37_784_629 + 10_983_549);
    }
}
