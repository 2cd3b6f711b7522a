//! The menu inside the device stage: while the disks are open, show the menu, read and check
//! each choice's files with `plan::read_entry` (the path `bootflow::select` and the dry run
//! take too, here with progress lines), and hand back the accepted one. `devices::run` calls [`select`] in place of `bootflow::select`.
//!
//! When the menu is shown: there is a console to type on (the PV kernel; never on the host
//! unless a terminal is passed to [`select_with`]), the configuration came from a file, and it
//! does not say `timeout 0` — or `rpvboot.menu` is on the `extra=` line. Otherwise the default
//! entry and its fallback chain are booted as before, with no menu (`timeout 0` means exactly
//! that in GRUB too). `rpvboot.console=dumb` draws plain numbered lines.

use alloc::string::String;
use core::fmt::Write;

use fs::probe::Disk;

use super::{run_until_boot, Action, Options, ProbedDisks, Terminal};
use crate::bootflow::{self, Selected};
use crate::config::search::{self, DiskVolumes, Loaded};
use crate::config::Format;
use crate::plan;

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
        _ => return bootflow::select_loaded(extra, loaded, &mut v, nr_pages, pages_in_use, out),
    };
    loaded.write_summary(out, ", menu");
    let opts = Options { dumb: extra.split_ascii_whitespace().any(|w| w == "rpvboot.console=dumb") };
    let verbose = extra.split_ascii_whitespace().any(|w| w == "rpvboot.verbose");
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
        let o = plan::Overrides { entry: None, nr_pages, loader_pages: Some(pages_in_use), keep: true };
        let mut progress = Progress { out: &mut *out, file: String::new(), t0: 0, next_report: 0 };
        let r = plan::read_entry(&l, idx, &mut v, &o, &mut progress);
        for n in &r.notes {
            let _ = writeln!(out, "rpvboot: entry {idx} \"{}\": {}", c.title, n.message);
        }
        match r.prepared {
            Some(p) if r.ok() => {
                let _ = writeln!(out, "rpvboot: booting entry {idx} \"{}\": {}", c.title, r.summary);
                if verbose {
                    let _ = writeln!(out, "rpvboot: {}", plan::pages_line(pages_in_use, r.pages_in_use));
                }
                let _ = writeln!(out, "rpvboot: command line \"{}\"", p.cmdline);
                chosen = Some(Selected::from_prepared(&l, p));
                Ok(())
            }
            _ => {
                let e = r.why();
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

/// Progress lines (bytes, MiB/s) while `plan::read_entry` reads a choice's files: every
/// 16 MiB, and at the end of files of 1 MiB or more (kernels under emulation take seconds).
struct Progress<'a> {
    out: &'a mut dyn Write,
    file: String,
    t0: u64,
    next_report: u64,
}

impl plan::Observer for Progress<'_> {
    fn progress(&mut self, file: &str, done: u64, size: u64) {
        if file != self.file {
            self.file = String::from(file);
            self.t0 = now_ns();
            self.next_report = PROGRESS_STEP;
        }
        let last = done >= size;
        if (done >= self.next_report && !last) || (last && size >= 1 << 20) {
            self.next_report = self.next_report.saturating_add(PROGRESS_STEP).max(done);
            let line = pvconsole::screen::progress(file, done, size, now_ns().saturating_sub(self.t0));
            let _ = writeln!(self.out, "rpvboot: {line}");
        }
    }
}
