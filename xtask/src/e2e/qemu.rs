//! Boots QEMU (TCG only) → Xen → dom0 and collects the serial console, with a hard timeout.
//!
//! QEMU runs in its own process group with a parent-death signal, so neither a timeout nor
//! an interrupted xtask leaves it running.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// The QEMU that runs a boot and the settings that go with it.
pub struct Emulator {
    /// The `qemu-system-x86_64` binary.
    pub bin: PathBuf,
    /// The `-cpu` model.
    pub cpu: &'static str,
    /// Extra environment (an unpacked QEMU's `QEMU_MODULE_DIR`).
    pub env: Vec<(&'static str, PathBuf)>,
    /// Extra arguments (firmware search paths, `-nic none`).
    pub args: Vec<String>,
}

impl Emulator {
    /// The host's QEMU (bookworm-backports 10.0, installed by setup), `-cpu max`.
    pub fn host() -> Self {
        Self { bin: PathBuf::from("qemu-system-x86_64"), cpu: "max", env: Vec::new(), args: Vec::new() }
    }

    /// bookworm's QEMU 7.2 as setup unpacks it (`bin`, its modules in `module_dir`), for
    /// Linux PVH guests (docs/pvh-linux.md): its TCG gives an SVM guest its own CR2, which
    /// 10.0's does not. The unpacked binary looks for firmware where the host's QEMU keeps it
    /// (`-L`), has no NIC ROM (`-nic none`: the harness needs no network), and boots dom0
    /// only without SMAP (`-smap`; with it Xen crashes dom0 in `create_bounce_frame`).
    pub fn bookworm(bin: PathBuf, module_dir: PathBuf) -> Self {
        let args = ["-L", "/usr/share/seabios", "-L", "/usr/share/qemu", "-nic", "none"];
        Self {
            bin,
            cpu: "max,-smap",
            env: vec![("QEMU_MODULE_DIR", module_dir)],
            args: args.iter().map(|a| a.to_string()).collect(),
        }
    }
}

/// Extra QEMU arguments for debugging a run (e.g. `-d int -D /tmp/q.log`), whitespace-split.
const DEBUG_ARGS_VAR: &str = "E2E_QEMU_ARGS";

/// What to boot.
pub struct Boot<'a> {
    pub emulator: &'a Emulator,
    pub xen: &'a Path,
    pub dom0_kernel: &'a Path,
    pub dom0_initrd: &'a Path,
    /// QEMU RAM (MiB).
    pub qemu_mem_mib: u32,
    /// dom0's fixed memory (MiB).
    pub dom0_mem_mib: u32,
    /// Kill QEMU after this long.
    pub timeout: Duration,
    /// Serial log file (each line prefixed with seconds since QEMU started).
    pub log: PathBuf,
}

/// One serial line and when it arrived (seconds since QEMU started).
pub struct Line {
    pub t: f64,
    pub text: String,
}

/// The outcome of a boot.
pub struct Outcome {
    pub lines: Vec<Line>,
    pub timed_out: bool,
    /// QEMU's exit status text (`exit status: 0`, `signal: 9`).
    pub status: String,
    pub elapsed: Duration,
}

/// After dom0 prints this, QEMU should exit by itself (ACPI poweroff) within a short grace.
const ALL_DONE: &str = "E2E-ALL-DONE";
const POWEROFF_GRACE: Duration = Duration::from_secs(30);

/// Runs QEMU; `on_line` sees every serial line as it arrives and returns bytes to type into
/// the serial console (Xen passes them to dom0's console; empty: nothing).
pub fn boot(b: &Boot, on_line: &mut dyn FnMut(&Line) -> Vec<u8>) -> Result<Outcome> {
    for p in [b.xen, b.dom0_kernel, b.dom0_initrd] {
        if !p.is_file() {
            bail!("{} missing: run `cargo xtask setup`", p.display());
        }
        if p.to_string_lossy().contains(',') {
            bail!("{}: QEMU's multiboot module list cannot hold a ',' in a path", p.display());
        }
    }
    let xen_cmdline = format!(
        "console=com1 com1=115200,8n1 dom0_mem={m}M,max:{m}M dom0_max_vcpus=1 loglvl=all guest_loglvl=all",
        m = b.dom0_mem_mib
    );
    let modules =
        format!("{} console=hvc0 earlyprintk=xen rdinit=/init,{}", b.dom0_kernel.display(), b.dom0_initrd.display());
    let debug_args: Vec<String> =
        std::env::var(DEBUG_ARGS_VAR).map(|a| a.split_whitespace().map(String::from).collect()).unwrap_or_default();
    let e = b.emulator;
    let mut cmd = Command::new(&e.bin);
    // NEVER KVM: it hangs on these machines. TCG explicitly.
    cmd.args(["-accel", "tcg", "-machine", "q35", "-cpu", e.cpu, "-smp", "2"])
        .envs(e.env.iter().map(|(k, v)| (k, v)))
        .args(&e.args)
        .args(&debug_args)
        .args(["-m", &b.qemu_mem_mib.to_string()])
        .args(["-nographic", "-no-reboot", "-monitor", "none", "-serial", "stdio"])
        .arg("-kernel")
        .arg(b.xen)
        .args(["-append", &xen_cmdline, "-initrd", &modules])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // SAFETY: prctl(PR_SET_PDEATHSIG) is async-signal-safe and touches no memory of ours;
    // it makes the kernel kill QEMU if xtask dies (Ctrl-C only reaches our process group).
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut log = File::create(&b.log).with_context(|| format!("creating {}", b.log.display()))?;
    writeln!(log, "# {cmd:?}")?;
    let t0 = Instant::now();
    let mut child = cmd.spawn().context("cannot start qemu-system-x86_64 (run `cargo xtask setup`)")?;
    let pid = child.id();
    let stdout = child.stdout.take().context("qemu stdout")?;
    let mut stdin = child.stdin.take().context("qemu stdin")?;
    let mut stderr = child.stderr.take().context("qemu stderr")?;
    let (tx, rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut r = BufReader::new(stdout);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let s = String::from_utf8_lossy(&buf);
                    let s = s.trim_end_matches(['\n', '\r']).replace('\r', "");
                    if tx.send(s).is_err() {
                        break;
                    }
                }
            }
        }
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });

    let mut deadline = t0 + b.timeout;
    let mut timed_out = false;
    let mut killed = false;
    let mut lines = Vec::new();
    loop {
        let now = Instant::now();
        if !killed && now >= deadline {
            if lines.iter().any(|l: &Line| l.text.contains(ALL_DONE)) {
                eprintln!("e2e: QEMU did not power off after {ALL_DONE}: killing it");
            } else {
                timed_out = true;
                eprintln!("e2e: overall timeout ({} s): killing QEMU", b.timeout.as_secs());
            }
            kill_group(pid);
            killed = true;
        }
        let wait = if killed { Duration::from_secs(5) } else { deadline.saturating_duration_since(now) };
        match rx.recv_timeout(wait) {
            Ok(text) => {
                let line = Line { t: t0.elapsed().as_secs_f64(), text };
                writeln!(log, "[{:8.3}] {}", line.t, line.text)?;
                let typed = on_line(&line);
                if !typed.is_empty() {
                    // A failed write (QEMU gone) shows in the outcome, not here.
                    let _ = stdin.write_all(&typed).and_then(|()| stdin.flush());
                }
                if line.text.contains(ALL_DONE) {
                    deadline = deadline.min(Instant::now() + POWEROFF_GRACE);
                }
                lines.push(line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if killed {
                    break;
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    if !killed {
        // stdout closed: QEMU is exiting; make sure of it.
        let grace = Instant::now() + Duration::from_secs(10);
        while child.try_wait()?.is_none() && Instant::now() < grace {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    if child.try_wait()?.is_none() {
        kill_group(pid);
    }
    let status = child.wait().context("waiting for QEMU")?;
    let _ = reader.join();
    let err = err_reader.join().unwrap_or_default();
    if !err.trim().is_empty() {
        writeln!(log, "# qemu stderr:\n{err}")?;
        eprintln!("e2e: qemu stderr: {}", err.trim());
    }
    let elapsed = t0.elapsed();
    writeln!(log, "# qemu {status}, {:.1} s", elapsed.as_secs_f64())?;
    Ok(Outcome { lines, timed_out, status: status.to_string(), elapsed })
}

fn kill_group(pid: u32) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: plain syscall; `pid` is our child's process group (process_group(0)).
        unsafe {
            libc::killpg(pid, libc::SIGKILL);
        }
    }
}
