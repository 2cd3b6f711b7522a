//! The whole boot decision, short of the jump: [`read_entry`] reads and checks one entry,
//! [`dry_run`] runs the loader's entry order over it. Both are the loader's own code: the PV
//! kernel's unattended path (`select::select`) is [`dry_run_with`] with [`Overrides::keep`]
//! set, the interactive menu (`select::select_with`) calls [`read_entry`] for each choice, and
//! `rpvboot-inspect boot` calls [`dry_run`] over disk image files. So the layout the dry run
//! prints is the layout the PV kernel plans, for the same disks and memory.
//!
//! [`read_entry`]: the entry's boot plan (`config`), its kernel (or an alternative such as
//! `/netbsd.gz`) and modules read within the memory the loader has left, a `module` line's
//! compressed file unpacked as GRUB legacy (and pvgrub) do, the kernel unpacked and checked once
//! by `check` (decompression limit, ELF, Xen notes, BSD symbol block), the final command line
//! (with `bootdev=` once the notes say NetBSD), and the new domain's memory planned
//! (`check::Unpacked::plan`: layout fit, rpvboot's own L4 slot) with the inputs the handover
//! executes. Every problem comes back with where it is (`file:line`, the file,
//! or `memory`); no printing, no Xen, no `std`.
//!
//! The loader's own pages (`pages_in_use`) only decide whether the region fits beside rpvboot;
//! the regions themselves do not depend on them. The PV kernel passes its real figure (all but
//! the heap's free pages, plus [`work_pages`]); the dry run assumes [`estimate_loader_pages`]
//! unless told.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
pub use kernelimage::Container;

use crate::check::{self, CheckedKernel, FILE_LIMIT};
use crate::handover::{self, Inherited};
use crate::layout::{self, Layout};
use bootconfig::search::{self, Loaded, ReadError, Volumes};
use bootconfig::{BootPlan, Device, Format as CfgFormat, ModuleKind, OsHint, PlannedFile};
use kernelimage::{self as image, notes::XenNotes, Detected};

/// x86 page size.
pub const PAGE_SIZE: u64 = 4096;

/// rpvboot's own pages (image, page tables, stack, what its heap holds) before it reads any
/// file: the dry run's estimate, rounded up from what real boots print with `rpvboot.verbose`
/// (about 330 pages in 96 MiB, 500 in 256 MiB). The PV kernel passes its real figure in
/// [`Overrides::loader_pages`].
pub const LOADER_BASE_PAGES: u64 = 512;

/// Heap pages the handover allocates while it builds a region of about `region` pages in a
/// domain of `nr` (old and new p2m at 16 bytes a page, the page lists and m2p updates at 64
/// bytes a region page, and a little more).
pub fn work_pages(nr: u64, region: u64) -> u64 {
    nr.saturating_mul(16).saturating_add(region.saturating_mul(64)).div_ceil(PAGE_SIZE).saturating_add(64)
}

/// What the dry run assumes rpvboot uses before it reads any file: [`LOADER_BASE_PAGES`]
/// plus [`work_pages`] for a region of a quarter of the domain, as the PV kernel counts.
pub fn estimate_loader_pages(nr_pages: u64) -> u64 {
    LOADER_BASE_PAGES.saturating_add(work_pages(nr_pages, nr_pages / 4))
}

/// What the caller decides instead of the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overrides {
    /// Boot this entry instead of the menu's default (0-based).
    pub entry: Option<usize>,
    /// The new domain's pages (`start_info.nr_pages`).
    pub nr_pages: u64,
    /// Pages the loader uses before it reads any file (the PV kernel: all but the heap's free
    /// pages, plus [`work_pages`]); `None`: [`estimate_loader_pages`].
    pub loader_pages: Option<u64>,
    /// Keep the bytes to hand over ([`Prepared`]); a dry run does not need them.
    pub keep: bool,
    /// The domain the kernel boots in: a PVH domain boots only PVH-capable kernels
    /// (`check::unpack_for`), and refuses a PV-only one so the fallback is tried.
    pub container: Container,
}

impl Overrides {
    /// The loader's pages before any file is read: given or estimated.
    pub fn base_pages(&self) -> u64 {
        self.loader_pages.unwrap_or_else(|| estimate_loader_pages(self.nr_pages))
    }
}

/// Hears what [`read_entry`] and [`dry_run_with`] do while they do it (the PV kernel prints
/// it on the console; the dry run is quiet).
pub trait Observer {
    /// The configuration was found (before any entry is tried).
    fn loaded(&mut self, _l: &Loaded) {}
    /// `done` of `size` bytes of `file` (`(hd0)/path`) have been read.
    fn progress(&mut self, _file: &str, _done: u64, _size: u64) {}
    /// An entry was read and checked (in the order tried).
    fn tried(&mut self, _r: &EntryRead) {}
}

/// An [`Observer`] that ignores everything.
pub struct Quiet;

impl Observer for Quiet {}

/// How the boot ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The chosen entry boots.
    Boot,
    /// The chosen entry fails; an entry of the `fallback` chain boots.
    Fallback,
    /// Nothing boots.
    Error,
}

impl Outcome {
    /// `boot`, `fallback` or `error`.
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Boot => "boot",
            Outcome::Fallback => "fallback",
            Outcome::Error => "error",
        }
    }
}

/// What the loader does after the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Boot this entry (after the menu's timeout, if any).
    Boot {
        /// The entry.
        entry: usize,
        /// Seconds the menu waits first; `None` waits for a key.
        timeout: Option<u32>,
    },
    /// The entry needs a password (its own, or the menu's for a `lock`ed entry): even the
    /// countdown waits for it.
    Password {
        /// The entry.
        entry: usize,
    },
    /// The entry asks for the command line (boot.cfg `prompt`).
    Prompt,
    /// Nothing can boot: show the menu with the problems and wait for the user.
    Menu,
}

/// One problem and where it comes from: `file:line` for the configuration, the file for
/// kernel images (the message gives the byte offset when there is one), `memory` for what
/// does not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where.
    pub at: String,
    /// What.
    pub message: String,
}

/// The kernel as read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelReport {
    /// Device it was read from.
    pub device: Option<Device>,
    /// Path on it (the alternative actually found, e.g. `/netbsd.gz`).
    pub path: String,
    /// Layers, outermost first (`["bzImage", "xz", "elf64"]`); only the outermost when the
    /// kernel was refused.
    pub formats: Vec<&'static str>,
    /// Bytes of the file.
    pub file_size: u64,
    /// Bytes of the loaded image (`virt_kend - virt_kstart`, BSD symbols included); 0 if the
    /// kernel was refused.
    pub image_size: u64,
    /// Entry VA.
    pub entry_point: u64,
    /// `VIRT_BASE`.
    pub virt_base: u64,
    /// The Xen notes (default when the ELF could not be read).
    pub notes: XenNotes,
    /// The BSD symbol block: (VA, bytes), when the kernel asks for one and has symbols.
    pub symtab: Option<(u64, u64)>,
}

/// A module as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModuleReport {
    /// Device.
    pub device: Option<Device>,
    /// Path.
    pub path: String,
    /// Layers found in the file, outermost first (empty for unrecognised data).
    pub formats: Vec<&'static str>,
    /// Bytes of the file.
    pub file_size: u64,
    /// Bytes passed to the kernel (unpacked for `module`, as stored for `initrd` and
    /// `modulenounzip`, as GRUB legacy and pvgrub do).
    pub size: u64,
}

/// A named run of pages of the new domain's region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// `kernel`, `module0`…, `p2m`, `start_info`, `xenstore`, `console`, `page_tables`,
    /// `boot_stack`.
    pub name: String,
    /// First PFN.
    pub first_page: u64,
    /// Pages.
    pub pages: u64,
}

/// The start_info fields the new kernel will read (decoded from the very bytes the handover
/// writes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartInfoSummary {
    /// `nr_pages`.
    pub nr_pages: u64,
    /// `flags`.
    pub flags: u32,
    /// `pt_base`.
    pub pt_base: u64,
    /// `nr_pt_frames`.
    pub nr_pt_frames: u64,
    /// `mfn_list`.
    pub mfn_list: u64,
    /// `mod_start`.
    pub mod_start: u64,
    /// `mod_len`.
    pub mod_len: u64,
}

/// The bytes to hand over (only with [`Overrides::keep`]).
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The entry.
    pub entry: usize,
    /// The kernel, checked, with its layout: what the handover executes.
    pub kernel: CheckedKernel,
    /// Module bytes as passed on.
    pub modules: Vec<Vec<u8>>,
    /// The final command line.
    pub cmdline: String,
}

/// Everything decided, for the entry that boots (or, if none does, the first one tried).
#[derive(Debug, Clone)]
pub struct BootReport {
    /// The configuration as found and parsed.
    pub loaded: Loaded,
    /// The entry reported on.
    pub entry: Option<usize>,
    /// Entries tried, in order.
    pub tried: Vec<usize>,
    /// Its final command line.
    pub cmdline: Option<String>,
    /// Its kernel, as far as it was read.
    pub kernel: Option<KernelReport>,
    /// Its modules, as far as they were read.
    pub modules: Vec<ModuleReport>,
    /// The new domain's layout.
    pub layout: Option<Layout>,
    /// The layout as named regions, in PFN order.
    pub regions: Vec<Region>,
    /// start_info as the handover writes it.
    pub start_info: Option<StartInfoSummary>,
    /// Domain pages planned for.
    pub nr_pages: u64,
    /// Pages the loader uses before reading files (given or estimated, see `loader_given`).
    pub loader_pages: u64,
    /// Whether `loader_pages` was given ([`Overrides::loader_pages`]) rather than estimated.
    pub loader_given: bool,
    /// Pages the loader uses while it builds the region: `loader_pages` plus the files held.
    pub pages_in_use: u64,
    /// How it ends.
    pub outcome: Outcome,
    /// What the loader does next.
    pub next: Next,
    /// Every problem: the configuration's diagnostics first, then each attempt's.
    pub problems: Vec<Problem>,
}

/// One entry read and checked by [`read_entry`].
#[derive(Debug, Clone)]
pub struct EntryRead {
    /// The entry.
    pub index: usize,
    /// Its title.
    pub title: String,
    /// Its final command line (as far as it was planned).
    pub cmdline: Option<String>,
    /// Its kernel, as far as it was read.
    pub kernel: Option<KernelReport>,
    /// Its modules, as far as they were read.
    pub modules: Vec<ModuleReport>,
    /// The new domain's layout, when the kernel was accepted.
    pub layout: Option<Layout>,
    /// Pages the loader uses while it builds the region (its own plus the files held).
    pub pages_in_use: u64,
    /// Why the entry cannot boot (empty: it can).
    pub problems: Vec<Problem>,
    /// Remarks that do not stop the boot (a command line cut to Xen's limit).
    pub notes: Vec<Problem>,
    /// One line for the console: layers, image size, entry, region pages, BSD symbols.
    pub summary: String,
    /// The bytes to hand over (with [`Overrides::keep`], when the entry can boot).
    pub prepared: Option<Prepared>,
}

impl EntryRead {
    /// Whether the entry can boot.
    pub fn ok(&self) -> bool {
        self.problems.is_empty() && self.layout.is_some()
    }

    /// The problems in one line (`; ` between them), as the console and the menu show them.
    pub fn why(&self) -> String {
        let v: Vec<&str> = self.problems.iter().map(|p| p.message.as_str()).collect();
        v.join("; ")
    }
}

fn name_of(dev: Option<&Device>, path: &str) -> String {
    match dev {
        Some(d) => format!("{}{path}", d.as_str()),
        None => String::from(path),
    }
}

/// `file:line` of an entry in the configuration (`extra=`, `builtin` when there is no file).
fn config_at(l: &Loaded, entry: usize) -> String {
    let file = match l.source.format {
        CfgFormat::Builtin => String::from("builtin"),
        CfgFormat::Extra => String::from("extra="),
        _ => name_of(l.source.device.as_ref(), &l.source.path),
    };
    match l.menu.entries.get(entry).map(|e| e.line) {
        Some(line) if line > 0 => format!("{file}:{line}"),
        _ => file,
    }
}

fn mib_of_bytes(b: usize) -> usize {
    b >> 20
}

/// Reads one file of a plan: the first of `files` that exists, at most `limit` bytes (a
/// longer file is a problem: it does not fit). `limit_is_memory`: the limit is what the
/// domain has left rather than [`FILE_LIMIT`].
#[allow(clippy::too_many_arguments)]
fn read_file(
    v: &mut impl Volumes,
    what: &str,
    files: &[&PlannedFile],
    limit: usize,
    limit_is_memory: bool,
    at_entry: &str,
    obs: &mut dyn Observer,
    problems: &mut Vec<Problem>,
) -> Option<(PlannedFile, Vec<u8>)> {
    for f in files {
        let Some(dev) = &f.device else {
            continue;
        };
        let name = name_of(Some(dev), &f.path);
        let got =
            v.read_progress(dev, &f.path, limit.saturating_add(1), &mut |done, size| obs.progress(&name, done, size));
        match got {
            Ok(b) if b.len() > limit => {
                let message = if limit_is_memory {
                    format!(
                        "{what} {name} does not fit in the domain's memory ({} MiB left beside rpvboot)",
                        mib_of_bytes(limit)
                    )
                } else {
                    format!("{what} {name} is larger than the {} MiB rpvboot reads", mib_of_bytes(limit))
                };
                problems.push(Problem { at: String::from("memory"), message });
                return None;
            }
            Ok(b) => return Some(((*f).clone(), b)),
            Err(ReadError::NotFound) => {}
            Err(ReadError::Other(why)) => {
                problems.push(Problem { at: name.clone(), message: format!("{what} {name}: {why}") });
                return None;
            }
        }
    }
    let first = files.first();
    let mut message =
        format!("{what} {} not found", first.map_or_else(String::new, |f| name_of(f.device.as_ref(), &f.path)));
    if first.is_some_and(|f| f.device.is_none()) {
        message.push_str(" (no device: no root and no configuration device)");
    }
    for alt in files.iter().skip(1) {
        message.push_str(&format!(", nor {}", name_of(alt.device.as_ref(), &alt.path)));
    }
    problems.push(Problem { at: String::from(at_entry), message });
    None
}

/// The note shown when a NetBSD kernel gets no `bootdev=` because NetBSD's name for the
/// partition it was read from is not knowable (docs/netbsd-bootdev.md): the kernel then picks
/// its root itself (`dk0` or `xbd0a`), and the owner can name it with `root=` in the entry.
fn missing_bootdev(l: &Loaded, plan: &BootPlan, notes: &XenNotes, v: &impl Volumes) -> Option<String> {
    if os_of(notes) != OsHint::NetBsd || l.options.nobootdev || bootconfig::has_netbsd_root(&plan.cmdline) {
        return None;
    }
    let dev = plan.kernel.device.as_ref()?;
    let why = v.netbsd_name(dev).err()?;
    Some(format!("note: no bootdev= passed to NetBSD: {why}; the kernel chooses its root itself (root=NAME in the entry chooses it)"))
}

/// The kernel's OS as the loader sees it once the notes are read (for `bootdev=`).
fn os_of(notes: &XenNotes) -> OsHint {
    match &notes.guest_os {
        Some(os) if os.eq_ignore_ascii_case("netbsd") => OsHint::NetBsd,
        _ => OsHint::Unknown,
    }
}

/// A module's bytes as passed on: a compressed `module` is unpacked (one layer), as GRUB
/// legacy's and pvgrub's `module` do (`modulenounzip` and `initrd` pass the file as stored).
fn module_bytes(kind: ModuleKind, file: Vec<u8>, limit: usize) -> Result<(Vec<&'static str>, Vec<u8>), image::Error> {
    let outer = match image::detect(&file) {
        Detected::Known(f) => Some(f),
        _ => None,
    };
    let mut formats: Vec<&'static str> = outer.iter().map(|f| f.name()).collect();
    match outer {
        Some(f @ (image::Format::Gzip | image::Format::Xz | image::Format::Zstd | image::Format::Lz4))
            if matches!(kind, ModuleKind::Module | ModuleKind::NetbsdLoad | ModuleKind::NetbsdModule) =>
        {
            let out = image::decompress(f, &file, limit)?;
            if let Detected::Known(inner) = image::detect(&out) {
                formats.push(inner.name());
            }
            Ok((formats, out))
        }
        _ => Ok((formats, file)),
    }
}

fn outer_format(file: &[u8]) -> Vec<&'static str> {
    match image::detect(file) {
        Detected::Known(f) => alloc::vec![f.name()],
        _ => Vec::new(),
    }
}

/// The kernel file as read, or already unpacked (see `by_release` in [`read_entry`]).
enum Kernel {
    File(Vec<u8>),
    Unpacked(alloc::boxed::Box<Result<check::Unpacked, check::Refusal>>),
}

/// Reads and checks entry `index` of `l`: the one path the unattended boot, the menu and the
/// dry run share (see the module doc). `obs` hears the read progress.
pub fn read_entry(l: &Loaded, index: usize, v: &mut impl Volumes, o: &Overrides, obs: &mut dyn Observer) -> EntryRead {
    let base = o.base_pages();
    let mut a = EntryRead {
        index,
        title: l.menu.entries.get(index).map(|e| e.title.clone()).unwrap_or_default(),
        cmdline: None,
        kernel: None,
        modules: Vec::new(),
        layout: None,
        pages_in_use: base,
        problems: Vec::new(),
        notes: Vec::new(),
        summary: String::new(),
        prepared: None,
    };
    let at_entry = config_at(l, index);
    let plan = match l.plan_on(index, None, v) {
        Ok(p) => p,
        Err(e) => {
            a.problems.push(Problem { at: at_entry, message: format!("{e}") });
            return a;
        }
    };
    a.cmdline = Some(plan.cmdline.clone());
    if l.menu.entries.get(index).is_some_and(|e| e.prompt) {
        a.problems.push(Problem { at: at_entry.clone(), message: String::from("the entry asks for the command line") });
        return a;
    }
    // What may still be read: the domain's memory beside rpvboot and the files it holds.
    let room = |held: u64| -> (usize, bool) {
        let pages = o.nr_pages.saturating_sub(base).saturating_sub(held.div_ceil(PAGE_SIZE));
        let bytes = usize::try_from(pages.saturating_mul(PAGE_SIZE)).unwrap_or(usize::MAX);
        if bytes < FILE_LIMIT {
            (bytes, true)
        } else {
            (FILE_LIMIT, false)
        }
    };

    // The kernel: the path, or else its alternatives (`/netbsd.gz`).
    let files: Vec<&PlannedFile> = core::iter::once(&plan.kernel).chain(plan.alternatives.iter()).collect();
    let (limit, is_mem) = room(0);
    let Some((kfile, kbytes)) = read_file(v, "kernel", &files, limit, is_mem, &at_entry, obs, &mut a.problems) else {
        return a;
    };
    let kname = name_of(kfile.device.as_ref(), &kfile.path);
    let mut kr = KernelReport {
        device: kfile.device.clone(),
        path: kfile.path.clone(),
        formats: outer_format(&kbytes),
        file_size: kbytes.len() as u64,
        image_size: 0,
        entry_point: 0,
        virt_base: 0,
        notes: XenNotes::default(),
        symtab: None,
    };
    let mut held = kbytes.len() as u64;

    // boot.cfg's `load NAME` is looked up under the kernel's release (bootcfg::module_paths):
    // then the kernel is unpacked first, its unpacked ELF counted while the modules are read.
    let by_release = plan.modules.iter().any(|m| m.kind == ModuleKind::NetbsdModule);
    let kernel = if by_release {
        let pages = base.saturating_add(held.div_ceil(PAGE_SIZE));
        Kernel::Unpacked(alloc::boxed::Box::new(check::unpack_for(kbytes, o.nr_pages, pages, o.container)))
    } else {
        Kernel::File(kbytes)
    };
    let early = match &kernel {
        Kernel::Unpacked(u) => u.as_ref().as_ref().ok(),
        Kernel::File(_) => None,
    };
    let extra = early.filter(|u| u.unpacked).map_or(0, |u| u.elf.len() as u64);
    let release = early.and_then(|u| u.kernel.netbsd_version);

    // Modules, each within what the kernel and the modules before it left.
    let mut mod_bytes: Vec<Vec<u8>> = Vec::new();
    let mut lens: Vec<u64> = Vec::new();
    for m in &plan.modules {
        let what = match m.kind {
            ModuleKind::Initrd => "initrd",
            _ => "module",
        };
        let (left, is_mem) = room(held.saturating_add(extra));
        let mut why = Vec::new();
        let candidates: Vec<PlannedFile> = match m.kind {
            ModuleKind::NetbsdModule => bootconfig::bootcfg::module_paths(&m.file.path, release)
                .into_iter()
                .map(|path| PlannedFile { device: m.file.device.clone(), path })
                .collect(),
            _ => alloc::vec![m.file.clone()],
        };
        let refs: Vec<&PlannedFile> = candidates.iter().collect();
        let Some((mfile, bytes)) = read_file(v, what, &refs, left, is_mem, &at_entry, obs, &mut why) else {
            if matches!(m.kind, ModuleKind::NetbsdLoad | ModuleKind::NetbsdModule) {
                // boot(8) warns and boots the kernel without the module.
                a.notes.extend(why.into_iter().map(|p| Problem {
                    at: p.at,
                    message: format!("warning: {}; booting without it, as NetBSD's boot does", p.message),
                }));
            } else {
                a.problems.append(&mut why);
            }
            continue;
        };
        let mname = name_of(mfile.device.as_ref(), &mfile.path);
        let file_size = bytes.len() as u64;
        match module_bytes(m.kind, bytes, room(held.saturating_add(extra)).0) {
            Ok((formats, out)) => {
                held = held.saturating_add(out.len() as u64);
                lens.push(out.len() as u64);
                a.modules.push(ModuleReport {
                    device: mfile.device,
                    path: mfile.path,
                    formats,
                    file_size,
                    size: out.len() as u64,
                });
                mod_bytes.push(out);
            }
            Err(e) => {
                let at = if e.is_memory() { String::from("memory") } else { mname.clone() };
                a.problems.push(Problem { at, message: format!("{what} {mname}: {e}") });
            }
        }
    }
    if !a.problems.is_empty() {
        a.kernel = Some(kr);
        return a;
    }

    // The kernel check, once (check::unpack: limits, ELF, notes, BSD symbols), with the files
    // held counted as in use. Owned: a plain ELF kernel is kept as read, not copied.
    a.pages_in_use = base.saturating_add(held.div_ceil(PAGE_SIZE));
    let file_pages = kr.file_size.div_ceil(PAGE_SIZE);
    let unpacked = match kernel {
        Kernel::File(file) => check::unpack_for(file, o.nr_pages, a.pages_in_use, o.container),
        Kernel::Unpacked(u) => *u,
    };
    let unpacked = match unpacked {
        Ok(u) => u,
        Err(r) => {
            a.problems.push(Problem { at: r.at(&kname), message: format!("{r}") });
            a.kernel = Some(kr);
            return a;
        }
    };
    // An unpacked kernel's file is freed by then (check::unpack keeps only the ELF): the
    // region is planned beside what rpvboot holds from here on, not beside the file too.
    if unpacked.unpacked {
        a.pages_in_use = a.pages_in_use.saturating_sub(file_pages);
    }
    let k = &unpacked.kernel;
    kr.formats = unpacked.format_names();
    kr.symtab = k.bsd_block_va().map(|va| (va, unpacked.symbols.len() as u64));
    kr.image_size = k.image_len();
    kr.entry_point = k.entry;
    kr.virt_base = k.virt_base;
    kr.notes = k.notes.clone();
    a.kernel = Some(kr);

    // The command line once the kernel's OS is known (NetBSD gets bootdev=).
    let plan = match l.plan_on(index, Some(os_of(&k.notes)), v) {
        Ok(p) => p,
        Err(e) => {
            a.problems.push(Problem { at: at_entry, message: format!("{e}") });
            return a;
        }
    };
    a.cmdline = Some(plan.cmdline.clone());
    if let Some(why) = missing_bootdev(l, &plan, &k.notes, v) {
        a.notes.push(Problem { at: at_entry.clone(), message: why });
    }

    // The layout with the final command line (check::Unpacked::plan: fit, L4 slots).
    let checked = match unpacked.plan(&lens, plan.cmdline.as_bytes(), o.nr_pages, a.pages_in_use) {
        Ok(c) => c,
        Err(r) => {
            a.problems.push(Problem { at: r.at(&kname), message: format!("{r}") });
            return a;
        }
    };
    if checked.layout.cmdline_truncated {
        a.notes.push(Problem {
            at: at_entry,
            message: format!("note: the command line is cut to {} bytes (Xen's limit)", layout::MAX_GUEST_CMDLINE - 1),
        });
    }
    a.summary = checked.summary();
    a.layout = Some(checked.layout.clone());
    if o.keep && a.ok() {
        a.prepared = Some(Prepared { entry: index, kernel: checked, modules: mod_bytes, cmdline: plan.cmdline });
    }
    a
}

/// The layout as named regions, in PFN order.
pub fn regions(lay: &Layout) -> Vec<Region> {
    let r = |name: String, first_page: u64, pages: u64| Region { name, first_page, pages };
    let mut out = alloc::vec![r(String::from("kernel"), lay.kernel.pfn, lay.kernel.pages)];
    for (i, m) in lay.modules.iter().enumerate() {
        out.push(r(format!("module{i}"), m.pfn, m.pages));
    }
    out.push(r(String::from("p2m"), lay.p2m.pfn, lay.p2m.pages));
    out.push(r(String::from("start_info"), lay.start_info_pfn, 1));
    out.push(r(String::from("xenstore"), lay.xenstore_pfn, 1));
    out.push(r(String::from("console"), lay.console_pfn, 1));
    out.push(r(String::from("page_tables"), lay.pgtables.pfn, lay.pgtables.pages));
    out.push(r(String::from("boot_stack"), lay.bootstack_pfn, 1));
    out
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    b.get(off..off.saturating_add(8)).and_then(|s| <[u8; 8]>::try_from(s).ok()).map_or(0, u64::from_le_bytes)
}

/// start_info as [`handover::start_info_bytes`] writes it, read back at the ABI offsets.
pub fn start_info(lay: &Layout) -> StartInfoSummary {
    let inh = Inherited { nr_pages: lay.nr_pages, ..Inherited::default() };
    let b = handover::start_info_bytes(lay, &inh);
    StartInfoSummary {
        nr_pages: u64_at(&b, 32),
        flags: u32::try_from(u64_at(&b, 48) & 0xffff_ffff).unwrap_or(0),
        pt_base: u64_at(&b, 88),
        nr_pt_frames: u64_at(&b, 96),
        mfn_list: u64_at(&b, 104),
        mod_start: u64_at(&b, 112),
        mod_len: u64_at(&b, 120),
    }
}

/// The environment block write the configuration asks for, as a `plan:` line (the dry run
/// prints it, the PV kernel with `rpvboot.verbose` before it writes); `None` when nothing is
/// written.
pub fn env_write_line(l: &Loaded) -> Option<String> {
    l.menu.env_write.as_ref().map(|w| format!("plan: write {}", w.describe()))
}

/// The plan in lines (`plan: …`), the same for the PV kernel's console (`rpvboot.verbose`,
/// from the layout it hands over with) and `rpvboot-inspect boot`: one line for the region,
/// one per region in PFN order, one for start_info. They do not depend on the loader's own
/// pages, so the two can be compared line by line.
pub fn plan_lines(lay: &Layout) -> Vec<String> {
    let si = start_info(lay);
    let mut out = alloc::vec![format!(
        "plan: memory_pages {} region_pages {} pt_frames {} virt_base {:#x}",
        lay.nr_pages,
        lay.region_pages,
        lay.nr_pt_frames(),
        lay.virt_base
    )];
    for r in regions(lay) {
        out.push(format!("plan: region {} first_page {} pages {}", r.name, r.first_page, r.pages));
    }
    out.push(format!(
        "plan: start_info nr_pages {} mod_start {:#x} mod_len {} flags {:#x} pt_base {:#x} nr_pt_frames {} mfn_list {:#x}",
        si.nr_pages, si.mod_start, si.mod_len, si.flags, si.pt_base, si.nr_pt_frames, si.mfn_list
    ));
    out
}

/// The pages the fit check counted, in the form of [`plan_lines`]: rpvboot's own before any
/// file was read (`loader_pages`) and with the files it holds (`pages_in_use`). The PV kernel
/// prints it with `rpvboot.verbose`; `rpvboot-inspect boot --loader-pages` takes the first.
pub fn pages_line(loader_pages: u64, pages_in_use: u64) -> String {
    format!("plan: loader_pages {loader_pages} pages_in_use {pages_in_use}")
}

/// [`dry_run_with`] without an observer.
pub fn dry_run(extra_line: &str, v: &mut impl Volumes, o: &Overrides) -> (BootReport, Option<Prepared>) {
    dry_run_with(extra_line, v, o, &mut Quiet)
}

/// Runs the whole decision for the disks `v` and the `extra=` line: the configuration, then
/// [`read_entry`] for the chosen entry and its `fallback` chain until one can boot. Never
/// panics; every problem is in the report. With [`Overrides::keep`], the second value holds
/// the bytes to hand over when the outcome is not [`Outcome::Error`].
pub fn dry_run_with(
    extra_line: &str,
    v: &mut impl Volumes,
    o: &Overrides,
    obs: &mut dyn Observer,
) -> (BootReport, Option<Prepared>) {
    dry_run_loaded(search::load(extra_line, v), v, o, obs)
}

/// [`dry_run_with`] for a configuration the caller already found on `v` (the menu searches
/// first to decide whether to open; the disks are not searched twice).
pub fn dry_run_loaded(
    loaded: search::Loaded,
    v: &mut impl Volumes,
    o: &Overrides,
    obs: &mut dyn Observer,
) -> (BootReport, Option<Prepared>) {
    obs.loaded(&loaded);
    let mut problems: Vec<Problem> = loaded
        .all_diagnostics()
        .map(|d| Problem {
            at: if d.line > 0 { format!("{}:{}", d.file, d.line) } else { d.file.clone() },
            message: format!("{}: {}", d.severity, d.kind),
        })
        .collect();
    let n = loaded.menu.entries.len();
    let mut first = loaded.menu.default;
    if let Some(e) = o.entry {
        if e < n {
            first = e;
        } else {
            problems.push(Problem {
                at: String::from("entry"),
                message: format!("entry {e} does not exist ({n} entries); the default {first} is used"),
            });
        }
    }
    let mut report = BootReport {
        entry: None,
        tried: Vec::new(),
        cmdline: None,
        kernel: None,
        modules: Vec::new(),
        layout: None,
        regions: Vec::new(),
        start_info: None,
        nr_pages: o.nr_pages,
        loader_pages: o.base_pages(),
        loader_given: o.loader_pages.is_some(),
        pages_in_use: o.base_pages(),
        outcome: Outcome::Error,
        next: Next::Menu,
        problems: Vec::new(),
        loaded,
    };
    if n == 0 {
        problems.push(Problem { at: String::from("config"), message: String::from("no entry to boot") });
        report.problems = problems;
        return (report, None);
    }
    let mut shown: Option<EntryRead> = None;
    let mut prepared = None;
    for i in report.loaded.menu.boot_order(first) {
        report.tried.push(i);
        let mut a = read_entry(&report.loaded, i, v, o, obs);
        obs.tried(&a);
        problems.extend(a.problems.iter().cloned());
        problems.extend(a.notes.iter().cloned());
        if a.ok() {
            report.outcome = if i == first { Outcome::Boot } else { Outcome::Fallback };
            report.entry = Some(i);
            let menu = &report.loaded.menu;
            let locked =
                menu.entries.get(i).is_some_and(|e| e.password.is_some() || (e.lock && menu.password.is_some()));
            report.next =
                if locked { Next::Password { entry: i } } else { Next::Boot { entry: i, timeout: menu.timeout } };
            prepared = a.prepared.take();
            shown = Some(a);
            break;
        }
        if shown.is_none() {
            report.entry = Some(i);
            if report.loaded.menu.entries.get(i).is_some_and(|e| e.prompt) {
                report.next = Next::Prompt;
            }
            shown = Some(a);
        }
    }
    if let Some(a) = shown {
        report.cmdline = a.cmdline;
        report.kernel = a.kernel;
        report.modules = a.modules;
        report.pages_in_use = a.pages_in_use;
        if let Some(lay) = &a.layout {
            report.regions = regions(lay);
            report.start_info = Some(start_info(lay));
        }
        report.layout = a.layout;
    }
    report.problems = problems;
    (report, prepared)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bootconfig::search::{FsKind, MemVolumes};

    fn netbsd_elf() -> Vec<u8> {
        let dir = testimages::kernels::images_dir();
        let p = testimages::kernels::build(&dir, &testimages::kernels::KernelSpec::netbsd())
            .expect("as/ld (binutils) must be installed");
        std::fs::read(p).unwrap()
    }

    fn o(mib: u64) -> Overrides {
        Overrides { entry: None, nr_pages: mib * 256, loader_pages: None, keep: true, container: Container::Pv }
    }

    #[test]
    fn boots_fallback_and_errors() {
        let k = netbsd_elf();
        let menu = b"default 0\nfallback 1\ntimeout 3\ntitle missing\nkernel /nope\ntitle ok\nroot (hd0,a)\nkernel /netbsd -s\nmodule /m\n";
        let mut v = MemVolumes::default().with(
            "(hd0,a)",
            FsKind::Ffs,
            &[("/boot/grub/menu.lst", menu), ("/netbsd", &k), ("/m", b"abc")],
        );
        let (r, p) = dry_run("", &mut v, &o(64));
        assert_eq!(r.outcome, Outcome::Fallback, "{:?}", r.problems);
        assert_eq!(r.entry, Some(1));
        assert_eq!(r.tried, [0, 1]);
        assert_eq!(r.cmdline.as_deref(), Some("-s bootdev=xbd0a"));
        assert!(r
            .problems
            .iter()
            .any(|p| p.at == "(hd0,a)/boot/grub/menu.lst:4" && p.message.contains("kernel (hd0,a)/nope not found")));
        let p = p.unwrap();
        assert_eq!(p.modules, [b"abc".to_vec()]);
        assert_eq!(p.kernel.image.elf, k);
        let si = r.start_info.unwrap();
        assert_eq!(si.mod_len, 3);
        assert_eq!(si.nr_pages, 64 * 256);
        assert_eq!(r.next, Next::Boot { entry: 1, timeout: Some(3) });

        // Too little memory: the layout refuses, naming memory.
        let (r, p) = dry_run("", &mut v, &o(4));
        assert_eq!(r.outcome, Outcome::Error);
        assert!(p.is_none());
        assert!(r.problems.iter().any(|p| p.at == "memory"), "{:?}", r.problems);
        assert_eq!(r.next, Next::Menu);
    }

    /// A NetBSD kernel on a partition whose NetBSD name is not known (an MBR slot, for the
    /// in-memory volumes): no bootdev= and a note saying so; root= in the entry: no note.
    #[test]
    fn netbsd_without_a_known_name_gets_a_note() {
        let k = netbsd_elf();
        let menu = b"title a\nkernel /netbsd -s\ntitle b\nkernel /netbsd root=xbd0e\n";
        let mut v =
            MemVolumes::default().with("(hd0,0)", FsKind::Ffs, &[("/boot/grub/menu.lst", menu), ("/netbsd", &k)]);
        let (r, _) = dry_run("", &mut v, &o(64));
        assert_eq!(r.outcome, Outcome::Boot, "{:?}", r.problems);
        assert_eq!(r.cmdline.as_deref(), Some("-s"));
        assert!(
            r.problems.iter().any(|p| p.message.starts_with("note: no bootdev= passed to NetBSD: ") && p.message.contains("(hd0,0)")),
            "{:?}",
            r.problems
        );
        let (r, _) = dry_run("rpvboot.entry=1", &mut v, &o(64));
        assert_eq!(r.cmdline.as_deref(), Some("root=xbd0e"));
        assert!(!r.problems.iter().any(|p| p.message.contains("bootdev")), "{:?}", r.problems);
    }

    #[test]
    fn nothing_to_boot_and_bad_overrides() {
        // No disks at all: no configuration, no FFS partition.
        let (r, p) = dry_run("", &mut MemVolumes::default(), &o(64));
        assert_eq!(r.outcome, Outcome::Error);
        assert_eq!(r.next, Next::Menu);
        assert!(p.is_none() && r.kernel.is_none() && r.layout.is_none());
        assert!(!r.problems.is_empty());

        // An entry past the end: said, and the default is used.
        let k = netbsd_elf();
        let menu = b"title a\nkernel /netbsd\nmodule /gone\n";
        let mut v =
            MemVolumes::default().with("(hd0,0)", FsKind::Ext, &[("/boot/grub/menu.lst", menu), ("/netbsd", &k)]);
        let ov = Overrides { entry: Some(7), keep: false, ..o(64) };
        let (r, p) = dry_run("", &mut v, &ov);
        assert!(p.is_none());
        assert_eq!(r.tried, [0]);
        assert!(r.problems.iter().any(|p| p.at == "entry" && p.message.contains("entry 7")));
        // The missing module is the cause, at the entry's line; the kernel was read and checked.
        assert!(r
            .problems
            .iter()
            .any(|p| p.at == "(hd0,0)/boot/grub/menu.lst:1" && p.message == "module (hd0,0)/gone not found"));
        assert_eq!(r.outcome, Outcome::Error);
        assert_eq!(r.kernel.as_ref().map(|k| k.formats.clone()), Some(alloc::vec!["elf64"]));
        assert_eq!(r.kernel.as_ref().map(|k| k.file_size), Some(k.len() as u64));
    }

    #[test]
    fn boot_cfg_load_that_fails_is_a_warning() {
        // NetBSD's boot(8) (sys/arch/i386/stand/lib/exec.c, module_open): a module it cannot
        // open is "WARNING: couldn't open …" and the kernel boots without it. The menu's
        // verdict (Loaded::check) and the boot agree.
        let k = netbsd_elf();
        let cfg = b"menu=Boot:load solaris;load /there.kmod;boot netbsd\ntimeout=5\n";
        let mut v = MemVolumes::default().with(
            "(hd0,a)",
            FsKind::Ffs,
            &[("/boot.cfg", cfg), ("/netbsd", &k), ("/there.kmod", b"mod")],
        );
        let (r, p) = dry_run("", &mut v, &o(64));
        assert_eq!(r.outcome, Outcome::Boot, "{:?}", r.problems);
        assert_eq!(p.unwrap().modules, [b"mod".to_vec()]);
        assert!(r.problems.iter().any(|p| p.message.contains("solaris") && p.message.starts_with("warning")));
        let plan = r.loaded.plan(0, None).unwrap();
        let checks = r.loaded.check(&plan, &mut v);
        assert!(checks.iter().all(|d| d.severity != bootconfig::Severity::Error), "{checks:?}");
        // A bare name is looked for under the kernel's release (this probe has no NetBSD
        // ident note: `/solaris/solaris.kmod`, then `/solaris`); the warning names the first.
        assert!(r.problems.iter().any(|p| p.message.contains("/solaris/solaris.kmod")), "{:?}", r.problems);
    }

    #[test]
    fn no_configuration_counts_down_like_boot8() {
        // boot2.c: with no boot.cfg, boot(8) counts down 5 s, then tries netbsd, netbsd.gz,
        // onetbsd, onetbsd.gz, netbsd.old, netbsd.old.gz.
        let k = netbsd_elf();
        let mut v = MemVolumes::default().with("(hd0,a)", FsKind::Ffs, &[("/onetbsd", &k)]);
        let (r, p) = dry_run("", &mut v, &o(64));
        assert_eq!(r.outcome, Outcome::Boot, "{:?}", r.problems);
        assert!(p.is_some());
        assert_eq!(r.next, Next::Boot { entry: 0, timeout: Some(5) });
        assert_eq!(r.kernel.as_ref().map(|k| k.path.as_str()), Some("/onetbsd"));
        // The PV kernel shows that countdown too (the same decision as the dry run).
        assert!(crate::select::interactive(&r.loaded));
    }

    #[test]
    fn kernel_file_larger_than_memory() {
        let mut big = netbsd_elf();
        big.resize(5 << 20, 0);
        let mut v = MemVolumes::default().with(
            "(hd0,a)",
            FsKind::Ffs,
            &[("/boot.cfg", b"menu=x:boot netbsd\n"), ("/netbsd", &big)],
        );
        let (r, _) = dry_run("", &mut v, &o(4));
        assert_eq!(r.outcome, Outcome::Error);
        assert!(r
            .problems
            .iter()
            .any(|p| p.at == "memory" && p.message.contains("does not fit in the domain's memory")));
        // With room, the same file boots (ld's ELF ignores the padding at its end).
        let (r, _) = dry_run("", &mut v, &o(64));
        assert_eq!(r.outcome, Outcome::Boot, "{:?}", r.problems);
        assert_eq!(r.cmdline.as_deref(), Some("bootdev=xbd0a"));

        // Modules share what the kernel leaves: 12 MiB less 2 MiB for rpvboot leave 5 MiB after
        // the 5 MiB kernel, so the first 3 MiB module fits and the second does not.
        let m = alloc::vec![7u8; 3 << 20];
        let menu = b"title t\nkernel /netbsd\nmodule /m1\nmodule /m2\n";
        let mut v = MemVolumes::default().with(
            "(hd0,a)",
            FsKind::Ffs,
            &[("/boot/grub/menu.lst", menu), ("/netbsd", &big), ("/m1", &m), ("/m2", &m)],
        );
        let (r, _) = dry_run("", &mut v, &Overrides { loader_pages: Some(512), ..o(12) });
        assert_eq!(r.outcome, Outcome::Error);
        assert!(
            r.problems.iter().any(|p| p.at == "memory" && p.message.starts_with("module (hd0,a)/m2")),
            "{:?}",
            r.problems
        );
        let (r, _) = dry_run("", &mut v, &o(64));
        assert_eq!(r.outcome, Outcome::Boot, "{:?}", r.problems);
        assert_eq!(r.modules.iter().map(|m| m.size).collect::<Vec<_>>(), [3 << 20, 3 << 20]);
    }
}
