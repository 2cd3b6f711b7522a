//! The menu inside the device stage: while the disks are open, show the menu, read and check
//! each choice's files (as `bootflow::select` does for the unattended path), and hand back the
//! accepted one. `devices::run` calls [`select`] in place of `bootflow::select`.
//!
//! When the menu is shown: there is a console to type on (the PV kernel; never on the host
//! unless a terminal is passed to [`select_with`]), the configuration came from a file, and it
//! does not say `timeout 0` — or `rpvboot.menu` is on the `extra=` line. Otherwise the default
//! entry and its fallback chain are booted as before, with no menu (`timeout 0` means exactly
//! that in GRUB too). `rpvboot.console=dumb` draws plain numbered lines.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use fs::probe::Disk;

use super::{run_until_boot, Action, Options, ProbedDisks, Terminal};
use crate::bootflow::{self, Selected, FILE_LIMIT};
use crate::config::search::{self, DiskVolumes, Loaded, ReadError, Volumes};
use crate::config::Format;

/// The device stage's choice of what to boot (see the module doc). `out` is the console as a
/// `Write` (log lines); the menu itself talks to the console ring directly.
pub fn select(extra: &str, disks: &[Disk], nr_pages: u64, pages_in_use: u64, out: &mut dyn Write) -> Option<Selected> {
    #[cfg(target_os = "none")]
    {
        if let Some(con) = crate::arch::x86_64::console::get() {
            let mut term = con;
            return select_with(extra, disks, nr_pages, pages_in_use, out, Some(&mut term));
        }
    }
    select_with(extra, disks, nr_pages, pages_in_use, out, None)
}

/// Whether the menu is shown for this configuration.
pub fn interactive(extra: &str, loaded: &Loaded) -> bool {
    let forced = extra.split_ascii_whitespace().any(|w| w == "rpvboot.menu");
    let from_file = matches!(loaded.source.format, Format::MenuLst | Format::GrubCfg | Format::BootCfg);
    forced || (from_file && loaded.menu.timeout != Some(0))
}

/// [`select`] with an explicit terminal (`None`: no menu).
pub fn select_with(
    extra: &str,
    disks: &[Disk],
    nr_pages: u64,
    pages_in_use: u64,
    out: &mut dyn Write,
    term: Option<&mut dyn Terminal>,
) -> Option<Selected> {
    let mut v = DiskVolumes::new(disks);
    let loaded = search::load(extra, &mut v);
    let term = match term {
        Some(t) if interactive(extra, &loaded) => t,
        _ => return bootflow::select(extra, &mut v, nr_pages, pages_in_use, out),
    };
    let _ = writeln!(
        out,
        "rpvboot: configuration {}{} ({}), menu",
        loaded.source.device.as_ref().map(|d| format!("{d}")).unwrap_or_default(),
        loaded.source.path,
        loaded.reason.describe()
    );
    let opts = Options { dumb: extra.split_ascii_whitespace().any(|w| w == "rpvboot.console=dumb") };
    let mut chosen: Option<Selected> = None;
    let mut boot = |c: &super::Choice| -> Result<(), String> {
        let mut l = loaded.clone();
        let idx = if c.edited {
            let e = c.to_entry(&l.menu)?;
            match c.entry.and_then(|i| l.menu.entries.get_mut(i).map(|slot| (i, slot))) {
                Some((i, slot)) => {
                    *slot = e;
                    i
                }
                None => {
                    l.menu.entries.push(e);
                    l.menu.entries.len().saturating_sub(1)
                }
            }
        } else {
            c.entry.ok_or("nothing chosen")?
        };
        match read_entry(&l, idx, &mut v, nr_pages, pages_in_use, disks, out) {
            Ok((sel, what)) => {
                let _ = writeln!(out, "rpvboot: booting entry {idx} \"{}\": {what}", c.title);
                let _ = writeln!(out, "rpvboot: command line \"{}\"", sel.cmdline);
                chosen = Some(sel);
                Ok(())
            }
            Err(e) => {
                let _ = writeln!(out, "rpvboot: entry {idx} \"{}\" cannot boot: {e}", c.title);
                Err(e)
            }
        }
    };
    let mut model = loaded.menu.clone();
    if model.timeout == Some(0) {
        // Only `rpvboot.menu` gets here with `timeout 0`: it asks for the menu, so wait.
        model.timeout = None;
    }
    let mut pd = ProbedDisks(disks);
    match run_until_boot(model, opts, term, &mut pd, &mut boot) {
        Action::Boot(_) => chosen,
        Action::Shutdown => {
            let _ = writeln!(out, "rpvboot: halt requested on the command line");
            None
        }
    }
}

/// Reads entry `idx`'s kernel (or an alternative) and modules and checks the kernel: what
/// `bootflow::select` does for each entry it tries.
fn read_entry(
    loaded: &Loaded,
    idx: usize,
    v: &mut impl Volumes,
    nr_pages: u64,
    pages_in_use: u64,
    disks: &[Disk],
    out: &mut dyn Write,
) -> Result<(Selected, String), String> {
    let plan = loaded.plan_on(idx, None, v).map_err(|e| format!("{e}"))?;
    let mut kernel = None;
    let mut last = String::from("kernel without a device");
    for f in core::iter::once(&plan.kernel).chain(&plan.alternatives) {
        let Some(dev) = &f.device else { continue };
        match read_progress(disks, &format!("{dev}{}", f.path), FILE_LIMIT, out) {
            Ok(b) => {
                kernel = Some(b);
                break;
            }
            Err(ReadError::NotFound) => last = format!("kernel {dev}{} not found", f.path),
            Err(ReadError::Other(e)) => last = format!("kernel {dev}{}: {e}", f.path),
        }
    }
    let kernel = kernel.ok_or(last)?;
    let mut modules = Vec::new();
    for m in &plan.modules {
        let dev = m.file.device.as_ref().ok_or("module without a device")?;
        let b = read_progress(disks, &format!("{dev}{}", m.file.path), FILE_LIMIT, out).map_err(|e| match e {
            ReadError::NotFound => format!("module {dev}{} not found", m.file.path),
            ReadError::Other(w) => format!("module {dev}{}: {w}", m.file.path),
        })?;
        modules.push(b);
    }
    let lens: Vec<u64> = modules.iter().map(|m| m.len() as u64).collect();
    let held = (kernel.len() as u64).saturating_add(lens.iter().sum::<u64>());
    let pages_in_use = pages_in_use.saturating_add(held.div_ceil(4096));
    let (kernel, what) = bootflow::unwrap_checked(&kernel, &lens, plan.cmdline.as_bytes(), nr_pages, pages_in_use)?;
    let title = loaded.menu.entries.get(idx).map(|e| e.title.clone()).unwrap_or_default();
    Ok((Selected { title, kernel, modules, cmdline: plan.cmdline }, what))
}

/// Bytes read between two progress lines.
const PROGRESS_STEP: u64 = 16 << 20;

fn now_ns() -> u64 {
    #[cfg(target_os = "none")]
    {
        if let Some(c) = crate::arch::x86_64::console::get() {
            return pvconsole::Platform::now_ns(c.platform());
        }
    }
    0
}

/// Reads a whole file (`(dev)/path`) in large pieces, printing a progress line (bytes, MiB/s)
/// every 16 MiB and at the end of files of 1 MiB or more: kernels under emulation take seconds.
fn read_progress(disks: &[Disk], path: &str, limit: usize, out: &mut dyn Write) -> Result<Vec<u8>, ReadError> {
    let mut r = fs::probe::resolve(disks, path).map_err(|e| match e {
        fs::Error::NotFound => ReadError::NotFound,
        e => ReadError::Other(format!("{e}")),
    })?;
    if r.meta.file_type == fs::vfs::FileType::Directory {
        return Err(ReadError::Other(String::from("is a directory")));
    }
    let size = r.meta.size;
    let len = usize::try_from(size)
        .ok()
        .filter(|&l| l <= limit)
        .ok_or_else(|| ReadError::Other(format!("{size} bytes, more than the {limit} bytes rpvboot reads")))?;
    let mut data = alloc::vec![0u8; len];
    let t0 = now_ns();
    let mut done = 0usize;
    let mut next_report = PROGRESS_STEP;
    // Each pass advances `done` or ends the loop.
    while done < len {
        let end = done.saturating_add(4 << 20).min(len);
        let Some(piece) = data.get_mut(done..end) else { break };
        match r.fs.read_at(r.meta.id, done as u64, piece) {
            Ok(0) => break,
            Ok(n) => done = done.saturating_add(n),
            Err(e) => return Err(ReadError::Other(format!("at byte {done}: {e}"))),
        }
        let d = done as u64;
        if d >= next_report && d < size {
            next_report = next_report.saturating_add(PROGRESS_STEP);
            let line = pvconsole::screen::progress(path, d, size, now_ns().saturating_sub(t0));
            let _ = writeln!(out, "rpvboot: {line}");
        }
    }
    data.truncate(done);
    if size >= 1 << 20 {
        let line = pvconsole::screen::progress(path, done as u64, size, now_ns().saturating_sub(t0));
        let _ = writeln!(out, "rpvboot: {line}");
    }
    Ok(data)
}
