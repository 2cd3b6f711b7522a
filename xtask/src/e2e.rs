//! `cargo xtask e2e`: boots rpvboot as a PV domU under real Xen 4.17 inside QEMU (TCG).
//!
//! ONE QEMU boot runs every scenario: the base dom0 initramfs built by setup gets a second
//! cpio appended with dom0's /init (`xtask/e2e/dom0-init.sh`), the scenario list, one xl
//! config per scenario, the kernels and the disk images. dom0 runs them one by one with
//! `xl create -c`, prints each guest's console between markers and powers off; the host
//! judges each scenario from the serial log (see `e2e/report.rs`) and ends with
//! `N passed, M failed`. Logs: `target/e2e/runs/<time>/serial.log` and `<scenario>.console.log`.

mod corrupt;
mod distro;
mod grubenv;
pub mod images;
mod netbsd;
mod pvh_handover;
mod pvh_linux;
mod pvh_probe;
mod qemu;
mod report;
pub mod scenarios;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::setup;
use crate::util::{self, e2e_dir, mkdirp, write_file};
use scenarios::{Disk, Kernel, QemuKind, Scenario};

const DOM0_INIT: &str = include_str!("../e2e/dom0-init.sh");

/// dom0's memory when the images are small; QEMU gets 2 GiB (about 1.2 GiB left for domUs).
const DOM0_MEM_MIB: u64 = 768;
const QEMU_MEM_MIB: u64 = 2048;
/// Xen + dom0 boot budget under TCG on a loaded 2-core machine (typically 17-25 s).
const BOOT_BUDGET_SECS: u64 = 240;
/// Per-scenario overhead on top of its own timeout (xl, hotplug, log dumps).
const SCENARIO_SLACK_SECS: u64 = 30;

/// `cargo xtask e2e`.
#[derive(clap::Args)]
pub struct E2e {
    /// Ad-hoc mode: boot one rpvboot domU with this disk image (repeatable: xvda, xvdb, …).
    #[arg(long = "disk", value_name = "IMG")]
    disks: Vec<PathBuf>,
    /// Ad-hoc mode: the domU's memory in MiB.
    #[arg(long, value_name = "MIB")]
    memory: Option<u32>,
    /// Ad-hoc mode: the domU's `extra=` command line.
    #[arg(long)]
    extra: Option<String>,
    /// Ad-hoc mode: bytes to type into the guest console after it starts (\n \r \t \e \xHH \\).
    #[arg(long)]
    keys: Option<String>,
    /// Ad-hoc mode: a regex the guest console must match (repeatable; multi-line mode). The run
    /// passes when every one matched, and stops the domain as soon as they all did.
    #[arg(long = "expect", value_name = "REGEX")]
    expects: Vec<String>,
    /// Run only these scenarios (repeatable); `--list` shows them.
    #[arg(long = "scenario", value_name = "NAME")]
    scenarios: Vec<String>,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
    /// Per-scenario timeout in seconds (inside dom0), overriding each scenario's own.
    #[arg(long, value_name = "SECS")]
    timeout: Option<u32>,
    /// Boot this PV kernel instead of building rpvboot (harness development, comparisons).
    #[arg(long, value_name = "ELF")]
    kernel: Option<PathBuf>,
    /// Hard limit for the whole QEMU run in seconds (default: a boot budget plus each
    /// scenario's timeout and slack).
    #[arg(long, value_name = "SECS")]
    qemu_timeout: Option<u64>,
    /// Print the whole serial console (Xen, dom0), not only the guests' consoles.
    #[arg(long, short)]
    verbose: bool,
}

impl E2e {
    pub fn run(self) -> Result<()> {
        let all = scenarios::all();
        if self.list {
            for s in &all {
                println!("{:<12} {}{}", s.name, if s.default { "" } else { "(opt-in) " }, s.expect.join("  "));
            }
            if let Some(note) = netbsd::skipped() {
                println!("e2e: {note}");
            }
            return Ok(());
        }
        let adhoc = !self.disks.is_empty()
            || self.memory.is_some()
            || self.extra.is_some()
            || self.keys.is_some()
            || !self.expects.is_empty();
        let mut list: Vec<Scenario> = if adhoc {
            if !self.scenarios.is_empty() {
                bail!("--scenario cannot be combined with the ad-hoc options (--disk, --extra, …)");
            }
            let keys = match &self.keys {
                Some(k) => unescape(k)?,
                None => Vec::new(),
            };
            vec![Scenario::adhoc(
                "adhoc",
                self.disks.iter().cloned().map(Disk::Path).collect(),
                self.extra.as_deref().unwrap_or(""),
                self.memory.unwrap_or(256),
                keys,
                self.expects.clone(),
            )]
        } else if self.scenarios.is_empty() {
            all.into_iter().filter(|s| s.default).collect()
        } else {
            let mut v = Vec::new();
            for name in &self.scenarios {
                match all.iter().find(|s| &s.name == name) {
                    Some(s) => v.push(s.clone()),
                    None => bail!(
                        "no scenario {name:?}; there are: {}{}",
                        all.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", "),
                        netbsd::skipped().map(|n| format!(" ({n})")).unwrap_or_default()
                    ),
                }
            }
            v
        };
        if let Some(t) = self.timeout {
            for s in &mut list {
                s.timeout_secs = t;
            }
        }
        let opts = RunOpts {
            stream: if self.verbose { Stream::All } else { Stream::Progress },
            kernel: self.kernel,
            qemu_timeout: self.qemu_timeout,
            after: None,
        };
        let skip_note = if adhoc || !self.scenarios.is_empty() { None } else { netbsd::skipped() };
        if let Some(n) = &skip_note {
            println!("e2e: {n}");
        }
        let failed = run_scenarios(&list, &opts)?;
        if let Some(n) = &skip_note {
            println!("e2e: {n}");
        }
        if failed > 0 {
            std::process::exit(1);
        }
        Ok(())
    }
}

/// What to show on the terminal while QEMU runs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Scenario start/end and each guest's live console, prefixed with its name.
    Progress,
    /// Only the guests' live consoles, prefix-free, on stdout (status on stderr).
    Console,
    /// The whole serial console.
    All,
}

/// Options shared by `e2e` and `demo`.
pub struct RunOpts {
    pub stream: Stream,
    /// PV kernel to boot instead of rpvboot.
    pub kernel: Option<PathBuf>,
    /// Overrides the computed hard limit for the QEMU run (seconds).
    pub qemu_timeout: Option<u64>,
    /// A dom0 shell script run after the last scenario (`cargo xtask bench`: dd of the images).
    pub after: Option<String>,
}

/// How many run directories (`target/e2e/runs/*`) to keep.
const KEEP_RUNS: usize = 20;

/// Removes all but the newest [`KEEP_RUNS`] run directories (names sort by time).
fn prune_runs(runs: &Path) {
    let Ok(rd) = fs::read_dir(runs) else { return };
    let mut dirs: Vec<PathBuf> = rd.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    let excess = dirs.len().saturating_sub(KEEP_RUNS);
    for d in dirs.iter().take(excess) {
        let _ = fs::remove_dir_all(d);
    }
}

/// Builds rpvboot through the build module (owned by the PV kernel's engineer).
pub fn rpvboot() -> Result<PathBuf> {
    crate::build::build_rpvboot()
}

/// Runs the scenarios in one QEMU boot, prints a verdict per scenario and the closing
/// `N passed, M failed` line. Returns the number of failures.
pub fn run_scenarios(list: &[Scenario], opts: &RunOpts) -> Result<usize> {
    if list.is_empty() {
        bail!("no scenarios to run");
    }
    for s in list {
        if s.name.is_empty() || !s.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            bail!("scenario name {:?}: use [a-z0-9-]", s.name);
        }
        if list.iter().filter(|t| t.name == s.name).count() > 1 {
            bail!("scenario {:?} listed twice", s.name);
        }
        for re in &s.expect {
            report::compile(re).with_context(|| format!("scenario {}: regex /{re}/", s.name))?;
        }
        if let Some(first) = s.follows {
            let before = list.iter().take_while(|t| t.name != s.name).any(|t| t.name == first);
            if !before {
                bail!("scenario {} is the second start of {first}'s disks: run {first} before it (--scenario {first} --scenario {})", s.name, s.name);
            }
        }
    }
    setup::ensure_host()?;
    let art = setup::ensure_e2e()?;

    let stamp = util::output(Command::new("date").arg("+%Y%m%d-%H%M%S"))?;
    prune_runs(&e2e_dir().join("runs"));
    let run_dir = e2e_dir().join("runs").join(stamp.trim());
    let root = run_dir.join("root");
    if run_dir.exists() {
        fs::remove_dir_all(&run_dir)?;
    }
    mkdirp(&root.join("guest/k"))?;
    mkdirp(&root.join("guest/img"))?;
    write_file(&root.join("init"), DOM0_INIT, 0o755)?;

    let mut rpv: Option<PathBuf> = opts.kernel.clone();
    let mut staged: BTreeMap<PathBuf, String> = BTreeMap::new();
    // Returns the staged name under /guest and whether the file is new to this run.
    let mut stage = |src: &Path, dir: &str| -> Result<(String, bool)> {
        let src = fs::canonicalize(src).with_context(|| format!("{}", src.display()))?;
        if !src.is_file() {
            bail!("{}: not a file", src.display());
        }
        if let Some(n) = staged.get(&src) {
            return Ok((n.clone(), false));
        }
        let n = format!("{dir}/{}", staged.len());
        std::os::unix::fs::symlink(&src, root.join("guest").join(&n))
            .with_context(|| format!("staging {}", src.display()))?;
        staged.insert(src, n.clone());
        Ok((n, true))
    };
    let mut list_file = String::new();
    let mut image_bytes: u64 = 0;
    // Each scenario's disk images on the host, for its host check.
    let mut disk_paths: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    let mut max_mem: u64 = 0;
    let mut timeout_secs = BOOT_BUDGET_SECS;
    for s in list {
        let kernel = match &s.kernel {
            Kernel::Rpvboot => {
                if rpv.is_none() {
                    rpv = Some(rpvboot()?);
                }
                rpv.clone().context("rpvboot path")?
            }
            Kernel::Pvgrub2 => art.pvgrub2.clone(),
            Kernel::File(p) => p.clone(),
            Kernel::Recipe(f) => f().with_context(|| format!("scenario {}: kernel", s.name))?,
        };
        let kname = stage(&kernel, "k")?.0;
        let rname = match &s.ramdisk {
            Some(r) => Some(stage(r, "k")?.0),
            None => None,
        };
        let mut disks = Vec::new();
        for d in &s.disks {
            let path = match d {
                Disk::Path(p) => p.clone(),
                Disk::Recipe(f) => f().with_context(|| format!("scenario {}: disk", s.name))?,
            };
            disk_paths.entry(s.name.clone()).or_default().push(path.clone());
            let (n, new) = stage(&path, "img")?;
            if new {
                image_bytes += fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            }
            disks.push(n);
        }
        fs::write(root.join("guest").join(format!("{}.cfg", s.name)), xl_config(s, &kname, rname.as_deref(), &disks)?)?;
        if let Some(after) = s.dom0_after {
            let paths = disk_paths.get(&s.name).map_or(&[][..], Vec::as_slice);
            let script = after(paths).with_context(|| format!("scenario {}: dom0 script", s.name))?;
            fs::write(root.join("guest").join(format!("{}.after", s.name)), script)?;
        }
        if !s.keys.is_empty() {
            let mut k = String::new();
            for b in &s.keys {
                let _ = write!(k, "\\{b:03o}");
            }
            fs::write(root.join("guest").join(format!("{}.keys", s.name)), k)?;
        }
        if s.stop_when_matched {
            // dom0 destroys the domain when the harness detached the console (all matched).
            fs::write(root.join("guest").join(format!("{}.stop", s.name)), "")?;
        }
        let _ = writeln!(
            list_file,
            "{} {} {}",
            s.name,
            s.timeout_secs,
            if disks.is_empty() { "-".to_string() } else { disks.join(",") }
        );
        max_mem = max_mem.max(u64::from(s.memory_mib));
        timeout_secs += u64::from(s.timeout_secs) + SCENARIO_SLACK_SECS;
    }
    fs::write(root.join("guest/scenarios"), list_file)?;
    if let Some(a) = &opts.after {
        fs::write(root.join("guest/after.sh"), a)?;
    }
    if let Some(t) = opts.qemu_timeout {
        timeout_secs = t;
    }

    // The images live in dom0's RAM twice while the initramfs unpacks.
    let image_mib = image_bytes.div_ceil(1 << 20);
    let dom0_mem = DOM0_MEM_MIB + 2 * image_mib;
    let qemu_mem = QEMU_MEM_MIB.max(dom0_mem + max_mem + 512);
    if image_mib > 512 {
        eprintln!("e2e: warning: {image_mib} MiB of disk images travel through dom0's RAM; QEMU gets {qemu_mem} MiB");
    }
    let extra = run_dir.join("extra.cpio.gz");
    util::mkcpio(&root, &extra, true, 1)?;
    let initrd = run_dir.join("dom0-initrd.gz");
    concat(&[&art.dom0_initrd, &extra], &initrd)?;

    let dom0_mem = u32::try_from(dom0_mem).context("dom0 memory")?;
    let qemu_mem = u32::try_from(qemu_mem).context("QEMU memory")?;
    let emulator = match list.iter().find(|s| s.qemu == QemuKind::Bookworm) {
        Some(s) => {
            println!("e2e: this boot runs under bookworm's QEMU 7.2: scenario {} needs it (docs/pvh-linux.md)", s.name);
            let q = setup::ensure_qemu_bookworm()?;
            qemu::Emulator::bookworm(q.bin, q.module_dir)
        }
        None => qemu::Emulator::host(),
    };
    let boot = qemu::Boot {
        emulator: &emulator,
        xen: &art.xen,
        dom0_kernel: &art.vmlinux_dom0,
        dom0_initrd: &initrd,
        qemu_mem_mib: qemu_mem,
        dom0_mem_mib: dom0_mem,
        timeout: Duration::from_secs(timeout_secs),
        log: run_dir.join("serial.log"),
    };
    println!(
        "e2e: booting Xen + dom0 in QEMU (TCG) for {} scenario(s): {} (hard timeout {timeout_secs} s)",
        list.len(),
        list.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", ")
    );
    let mut view = View { stream: opts.stream, current: None, watch: None };
    let outcome = qemu::boot(&boot, &mut |l| {
        view.show(l);
        view.stop_when_matched(l, list)
    })?;
    let _ = fs::remove_file(&initrd);
    let _ = fs::remove_file(&extra);

    let note = if outcome.timed_out {
        Some(format!("QEMU killed after the overall timeout of {timeout_secs} s"))
    } else if !outcome.lines.iter().any(|l| l.text.contains("E2E-ALL-DONE")) {
        Some(format!("QEMU ended early ({})", outcome.status))
    } else {
        None
    };
    let t = |needle: &str| {
        outcome
            .lines
            .iter()
            .find(|l| l.text.contains(needle))
            .map(|l| format!("{:.1}", l.t))
            .unwrap_or_else(|| "-".into())
    };
    println!(
        "e2e: dom0 ready at {} s, QEMU {} after {:.1} s",
        t("E2E-DOM0-READY"),
        outcome.status,
        outcome.elapsed.as_secs_f64()
    );
    let mut passed = 0;
    let mut failed = 0;
    for s in list {
        let mut v = report::judge(s, &outcome.lines, note.as_deref());
        report::host_check(s, disk_paths.get(&s.name).map_or(&[][..], Vec::as_slice), &mut v);
        let console_log = run_dir.join(format!("{}.console.log", s.name));
        fs::write(&console_log, format!("{}\n", v.console))?;
        let secs = match (v.secs, &v.reason) {
            (Some(x), Some(r)) => format!(" ({x:.1} s, {r})"),
            (Some(x), None) => format!(" ({x:.1} s)"),
            _ => String::new(),
        };
        if v.passed() {
            passed += 1;
            println!("PASS {}{secs}", s.name);
        } else {
            failed += 1;
            println!("FAIL {}{secs}: {}", s.name, v.failures.join("; "));
            println!("     console: {}", console_log.display());
        }
    }
    println!("e2e: serial log {}", boot.log.display());
    println!("{passed} passed, {failed} failed");
    let _ = std::io::stdout().flush();
    Ok(failed)
}

/// The xl config of one scenario; disks are the loop devices dom0's /init attaches in order.
fn xl_config(s: &Scenario, kernel: &str, ramdisk: Option<&str>, disk_names: &[String]) -> Result<String> {
    let ndisks = disk_names.len();
    if s.extra.chars().any(|c| c == '"' || c == '\\' || c.is_control()) {
        bail!("scenario {}: extra {:?} may not hold '\"', '\\' or control characters", s.name, s.extra);
    }
    if ndisks > 8 {
        bail!("scenario {}: at most 8 disks", s.name);
    }
    let mut c = String::new();
    let _ = writeln!(c, "name = \"{}\"", s.name);
    let _ = writeln!(c, "type = \"{}\"", if s.pvh { "pvh" } else { "pv" });
    let _ = writeln!(c, "kernel = \"/guest/{kernel}\"");
    if let Some(r) = ramdisk {
        let _ = writeln!(c, "ramdisk = \"/guest/{r}\"");
    }
    let _ = writeln!(c, "memory = {}", s.memory_mib);
    let _ = writeln!(c, "vcpus = 1");
    let _ = writeln!(c, "extra = \"{}\"", s.extra);
    let disks: Vec<String> = disk_names
        .iter()
        .enumerate()
        .zip(b'a'..)
        .map(|((i, name), l)| {
            if s.file_disks {
                format!("'file:/guest/{name},xvd{},{}'", char::from(l), if s.read_only { "r" } else { "w" })
            } else {
                let access = if s.read_only { "ro" } else { "rw" };
                format!("'vdev=xvd{},access={access},script=block-lite,target=/dev/loop{i}'", char::from(l))
            }
        })
        .collect();
    let _ = writeln!(c, "disk = [ {} ]", disks.join(", "));
    for l in &s.xl_extra {
        let _ = writeln!(c, "{l}");
    }
    for ev in ["on_poweroff", "on_reboot", "on_crash"] {
        let _ = writeln!(c, "{ev} = \"destroy\"");
    }
    Ok(c)
}

fn concat(parts: &[&Path], out: &Path) -> Result<()> {
    let mut f = fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    for p in parts {
        let mut src = fs::File::open(p).with_context(|| format!("opening {}", p.display()))?;
        std::io::copy(&mut src, &mut f).with_context(|| format!("writing {}", out.display()))?;
    }
    Ok(())
}

/// Live display of the serial console.
struct View {
    stream: Stream,
    /// The scenario whose `xl create -c` output is streaming.
    current: Option<String>,
    /// Its live console so far, when it stops once its expectations matched.
    watch: Option<Watch>,
}

/// The live console of a [`Scenario::stop_when_matched`] scenario.
struct Watch {
    name: String,
    expect: Vec<regex::Regex>,
    lines: Vec<String>,
    /// Ctrl-] was typed already.
    sent: bool,
}

/// xl's console detach key (`xl console`: Ctrl-]).
const XL_DETACH: u8 = 0x1d;

impl View {
    /// The bytes to type into dom0's console for line `l`: Ctrl-] once every expectation of
    /// the running [`Scenario::stop_when_matched`] scenario matched its live console (the
    /// same ANSI-stripped, multi-line matching as the verdict). Only its own `xl create -c`
    /// reads them: it is running while its lines stream.
    fn stop_when_matched(&mut self, l: &qemu::Line, list: &[Scenario]) -> Vec<u8> {
        let t = l.text.as_str();
        if t.contains("E2E-BEGIN") {
            self.watch = list
                .iter()
                .find(|s| s.stop_when_matched && !s.expect.is_empty() && report::is_marker(t, "E2E-BEGIN", &s.name))
                .map(|s| Watch {
                    name: s.name.clone(),
                    expect: s.expect.iter().filter_map(|re| report::compile(re).ok()).collect(),
                    lines: Vec::new(),
                    sent: false,
                });
            return Vec::new();
        }
        let Some(w) = self.watch.as_mut() else { return Vec::new() };
        if self.current.as_deref() != Some(w.name.as_str()) {
            self.watch = None;
            return Vec::new();
        }
        if w.sent || t.contains("E2E-") {
            return Vec::new();
        }
        w.lines.push(l.text.clone());
        let lines: Vec<&str> = w.lines.iter().map(String::as_str).collect();
        let console = report::strip_ansi(&lines);
        if w.expect.iter().all(|re| re.is_match(&console)) {
            w.sent = true;
            println!("e2e: {}: every --expect matched: stopping the domain", w.name);
            return vec![XL_DETACH];
        }
        Vec::new()
    }

    fn show(&mut self, l: &qemu::Line) {
        let t = l.text.as_str();
        let marker = t.split_whitespace().find(|w| w.starts_with("E2E-"));
        if let Some(m) = marker {
            let name = t.split_whitespace().skip_while(|w| *w != m).nth(1).map(str::to_string);
            match m {
                "E2E-BEGIN" => self.current = name,
                "E2E-XL-EXIT" => self.current = None,
                _ => {}
            }
        }
        match self.stream {
            Stream::All => println!("{t}"),
            Stream::Progress => {
                if let Some(m) = marker {
                    if matches!(
                        m,
                        "E2E-DOM0-READY"
                            | "E2E-BEGIN"
                            | "E2E-END"
                            | "E2E-DOM0-FAILED"
                            | "E2E-KEYS-SENT"
                            | "E2E-ALL-DONE"
                    ) {
                        println!("[{:6.1}] {t}", l.t);
                    }
                } else if let Some(n) = &self.current {
                    println!("[{:6.1}] {n} | {t}", l.t);
                }
            }
            Stream::Console => {
                if marker.is_some() {
                    if matches!(marker, Some("E2E-DOM0-READY" | "E2E-DOM0-FAILED")) {
                        eprintln!("[{:6.1}] {t}", l.t);
                    }
                } else if self.current.is_some() && !t.starts_with("Parsing config from ") {
                    println!("{t}");
                }
            }
        }
    }
}

/// Decodes `--keys`: `\n \r \t \e \\ \xHH`, everything else literally.
pub fn unescape(s: &str) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let Some(&e) = b.get(i) else {
            bail!("--keys: trailing backslash");
        };
        i += 1;
        match e {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'e' => out.push(0x1b),
            b'\\' => out.push(b'\\'),
            b'x' => {
                let hex = b
                    .get(i..i + 2)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .context("--keys: \\x needs two hex digits")?;
                out.push(hex);
                i += 2;
            }
            other => bail!("--keys: unknown escape \\{}", char::from(other)),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_unescape() {
        assert_eq!(unescape(r"a\n\x41\\").ok(), Some(b"a\nA\\".to_vec()));
        assert!(unescape(r"\q").is_err());
        assert!(unescape(r"\x4").is_err());
    }

    #[test]
    fn config_has_disks_in_order() {
        let mut s = Scenario::rpvboot("t", "a b");
        s.memory_mib = 32;
        let names = vec![String::from("img/0"), String::from("img/1")];
        let c = xl_config(&s, "k/0", None, &names).unwrap_or_default();
        assert!(c.contains("target=/dev/loop0'"));
        assert!(c.contains("'vdev=xvdb,access=rw,script=block-lite,target=/dev/loop1'"));
        assert!(c.contains("extra = \"a b\""));
        s.extra = "x\"y".into();
        assert!(xl_config(&s, "k/0", None, &[]).is_err());
        s.extra = String::new();
        s.file_disks = true;
        let c = xl_config(&s, "k/0", None, &names).unwrap_or_default();
        assert!(c.contains("'file:/guest/img/1,xvdb,w'"), "{c}");
    }
}
