//! What to boot, chosen while the disks are open: with a console to type on, the configuration
//! from a file and no `timeout 0` (or `rpvboot.menu` on the `extra=` line), the menu is shown
//! and each choice is read and checked with `plan::read_entry` (with progress lines); otherwise
//! the default entry and its `fallback` chain are tried in turn ([`select`], the dry run's own
//! path), with no menu (`timeout 0` means exactly that in GRUB too). `rpvboot.console=dumb`
//! draws plain numbered lines. Either way the accepted entry's files come back as a
//! [`Selected`] for the handover. The `extra=` options arrive parsed ([`ExtraOptions`]) and
//! travel with the configuration ([`Loaded::options`]).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;
use kernelimage::Container;

use bootconfig::search::{self, DiskVolumes, Loaded, Volumes};
use bootconfig::{ExtraOptions, Format};
use bootmenu::{run_until_boot, Action, Choice, Options, ProbedDisks, Terminal};
use fs::probe::Disk;

use crate::check::CheckedKernel;
use crate::plan;

/// Whether the menu is shown for this configuration.
pub fn interactive(loaded: &Loaded) -> bool {
    let forced = loaded.options.menu;
    // No configuration but a NetBSD kernel is boot(8)'s countdown: a one-entry menu with its
    // timeout (nothing at all to boot stays as it was).
    let from_file = matches!(loaded.source.format, Format::MenuLst | Format::GrubCfg | Format::BootCfg)
        || loaded.reason == bootconfig::search::Reason::Builtin;
    forced || (from_file && loaded.menu.timeout != Some(0))
}

/// The device stage's choice over `disks`: the menu on `term` when [`interactive`], else
/// [`select_loaded`] (`None`: no menu).
///
/// `now` is the clock for the progress lines' rates.
pub fn select_with(
    args: &SelectArgs,
    disks: &[Disk],
    out: &mut dyn Write,
    term: Option<&mut dyn Terminal>,
    now: fn() -> u64,
) -> Option<Selected> {
    let (nr_pages, pages_in_use, container) = (args.nr_pages, args.pages_in_use, args.container);
    let mut v = DiskVolumes::new(disks);
    let loaded = search::load_options(args.extra.clone(), &mut v);
    let term = match term {
        Some(t) if interactive(&loaded) => t,
        _ => return select_loaded(loaded, &mut v, nr_pages, pages_in_use, container, out),
    };
    loaded.write_summary(out, ", menu");
    let opts = Options { dumb: loaded.options.dumb_console };
    let verbose = loaded.options.verbose;
    let mut chosen: Option<Selected> = None;
    let mut boot = |c: &Choice| -> Result<(), String> {
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
        let o = plan::Overrides { entry: None, nr_pages, loader_pages: Some(pages_in_use), keep: true, container };
        let mut progress = Progress { out: &mut *out, file: String::new(), t0: 0, next_report: 0, now };
        let r = plan::read_entry(&l, idx, &mut v, &o, &mut progress);
        say_tried(out, &r, &c.title, verbose.then_some(pages_in_use));
        match r.prepared {
            Some(p) if r.ok() => {
                let _ = writeln!(out, "rpvboot: command line \"{}\"", p.cmdline);
                chosen = Some(Selected::from_prepared(&l, p));
                Ok(())
            }
            _ => Err(r.why()),
        }
    };
    let mut model = loaded.menu.clone();
    if model.timeout == Some(0) {
        // Only `rpvboot.menu` gets here with `timeout 0`: it asks for the menu, so wait.
        model.timeout = None;
    }
    let mut pd = ProbedDisks(disks);
    match run_until_boot(model, opts, term, &mut pd, &mut boot) {
        Action::Boot(_) => {
            if chosen.is_some() {
                clear_one_shot(&loaded, &mut v, out);
            }
            chosen
        }
        Action::Shutdown => {
            let _ = writeln!(out, "rpvboot: halt requested on the command line");
            None
        }
    }
}

/// Bytes read between two progress lines.
const PROGRESS_STEP: u64 = 16 << 20;

/// Progress lines (bytes, MiB/s) while `plan::read_entry` reads a choice's files: every
/// 16 MiB, and at the end of files of 1 MiB or more (kernels under emulation take seconds).
struct Progress<'a> {
    out: &'a mut dyn Write,
    file: String,
    t0: u64,
    next_report: u64,
    now: fn() -> u64,
}

impl plan::Observer for Progress<'_> {
    fn progress(&mut self, file: &str, done: u64, size: u64) {
        if file != self.file {
            self.file = String::from(file);
            self.t0 = (self.now)();
            self.next_report = PROGRESS_STEP;
        }
        let last = done >= size;
        if (done >= self.next_report && !last) || (last && size >= 1 << 20) {
            self.next_report = self.next_report.saturating_add(PROGRESS_STEP).max(done);
            let line = pvconsole::screen::progress(file, done, size, (self.now)().saturating_sub(self.t0));
            let _ = writeln!(self.out, "rpvboot: {line}");
        }
    }
}

/// An entry whose files were read and whose kernel was accepted.
#[derive(Debug, Clone)]
pub struct Selected {
    /// Its title.
    pub title: String,
    /// The kernel, checked, with the layout the handover executes.
    pub kernel: CheckedKernel,
    /// Modules in order, as stored.
    pub modules: Vec<Vec<u8>>,
    /// The command line for the kernel.
    pub cmdline: String,
}

/// What [`select`] needs besides the disks (the device stage carries it, see
/// `devices::Options::boot`).
#[derive(Debug, Clone, Default)]
pub struct SelectArgs {
    /// The domU's `extra=` line (rpvboot's command line), parsed.
    pub extra: ExtraOptions,
    /// Pages of the domain.
    pub nr_pages: u64,
    /// Pages rpvboot uses besides the files it reads (heap top plus slack).
    pub pages_in_use: u64,
    /// The domain type rpvboot runs in (PV or PVH): which kernels can boot.
    pub container: Container,
}

/// Finds the configuration on `v` (as `config::search::load`), then tries the default entry
/// and its `fallback` chain in turn with `plan::read_entry` (the dry run's own path: reads the
/// kernel, or an alternative such as `/netbsd.gz`, and modules, and checks the kernel with
/// `check`), and accepts the first that can boot. Every refusal is reported on
/// `out` with its reason; with `rpvboot.verbose`, the pages rpvboot counted as its own too
/// (`rpvboot-inspect boot --loader-pages` repeats the decision on the host).
pub fn select(
    extra: &str,
    v: &mut impl Volumes,
    nr_pages: u64,
    pages_in_use: u64,
    out: &mut dyn Write,
) -> Option<Selected> {
    let loaded = search::load(extra, v);
    select_loaded(loaded, v, nr_pages, pages_in_use, Container::Pv, out)
}

/// [`select`] for a configuration the caller already found on `v` (its `extra=` options
/// with it).
pub fn select_loaded(
    loaded: search::Loaded,
    v: &mut impl Volumes,
    nr_pages: u64,
    pages_in_use: u64,
    container: Container,
    out: &mut dyn Write,
) -> Option<Selected> {
    let o = plan::Overrides { entry: None, nr_pages, loader_pages: Some(pages_in_use), keep: true, container };
    let verbose = loaded.options.verbose;
    let mut log = Log { out, verbose, loader_pages: pages_in_use };
    let (report, prepared) = plan::dry_run_loaded(loaded, v, &o, &mut log);
    if report.loaded.menu.entries.is_empty() {
        let _ = writeln!(log.out, "rpvboot: the configuration has no boot entries");
    }
    let Some(p) = prepared else {
        let _ = writeln!(log.out, "rpvboot: no entry could be booted");
        return None;
    };
    clear_one_shot(&report.loaded, v, log.out);
    Some(Selected::from_prepared(&report.loaded, p))
}

/// GRUB's `next_entry` one-shot cleared (`Menu::env_write`), once an entry of this
/// configuration was read and its kernel accepted, just before the disks close for the
/// handover: a kernel that fails to load leaves the one-shot for the fallback entries, as it
/// stays in GRUB until `save_env` runs. A failed write is a warning and the entry still boots
/// (GRUB ignores a failed `save_env` too); the one-shot then boots again next time.
fn clear_one_shot(l: &Loaded, v: &mut impl Volumes, out: &mut dyn Write) {
    let Some(w) = &l.menu.env_write else {
        return;
    };
    if l.options.verbose {
        if let Some(line) = plan::env_write_line(l) {
            let _ = writeln!(out, "rpvboot: {line}");
        }
    }
    match v.write_env(w) {
        Ok(()) => {
            let _ = writeln!(out, "rpvboot: {} (read back, verified)", w.describe());
        }
        Err(e) => {
            let _ = writeln!(
                out,
                "rpvboot: warning: next_entry={} not cleared in {}{}: {e}; it will boot again next time",
                w.cleared, w.device, w.path
            );
        }
    }
}

impl Selected {
    /// The bytes `plan::read_entry` kept for entry `p.entry` of `l`.
    pub fn from_prepared(l: &search::Loaded, p: plan::Prepared) -> Self {
        let title = l.menu.entries.get(p.entry).map(|e| e.title.clone()).unwrap_or_default();
        Selected { title, kernel: p.kernel, modules: p.modules, cmdline: p.cmdline }
    }
}

/// The console lines of the unattended boot.
struct Log<'a> {
    out: &'a mut dyn Write,
    verbose: bool,
    loader_pages: u64,
}

impl plan::Observer for Log<'_> {
    fn loaded(&mut self, l: &search::Loaded) {
        l.write_summary(self.out, "");
    }

    fn tried(&mut self, r: &plan::EntryRead) {
        say_tried(self.out, r, &r.title, self.verbose.then_some(self.loader_pages));
    }
}

/// The console lines for one entry read and checked, the same for the unattended order and
/// the menu: `booting entry N "title": summary` or `entry N "title" cannot boot: why`, then
/// its notes. `loader_pages` (with `rpvboot.verbose`): also the pages line `rpvboot-inspect
/// boot --loader-pages` takes.
fn say_tried(out: &mut dyn Write, r: &plan::EntryRead, title: &str, loader_pages: Option<u64>) {
    let idx = r.index;
    if r.ok() {
        let _ = writeln!(out, "rpvboot: booting entry {idx} \"{title}\": {}", r.summary);
        if let Some(base) = loader_pages {
            let _ = writeln!(out, "rpvboot: {}", plan::pages_line(base, r.pages_in_use));
        }
    } else {
        let _ = writeln!(out, "rpvboot: entry {idx} \"{title}\" cannot boot: {}", r.why());
    }
    for n in &r.notes {
        let _ = writeln!(out, "rpvboot: entry {idx} \"{title}\": {}", n.message);
    }
}
