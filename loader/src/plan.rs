//! The whole boot decision, short of the jump, as one pure function: [`dry_run`].
//!
//! Given the domU's disks (any [`Volumes`], e.g. [`search::DiskVolumes`] over `fs::probe`
//! disks), the `extra=` line and a few overrides, it finds the configuration (the loader's
//! search order), picks the entry (default, override, `rpvboot.entry=`, then the `fallback`
//! chain), builds the final command line (with any `bootdev=`), reads the kernel and modules
//! within the domain's memory, unwraps and checks the kernel (`image`), plans the new domain's
//! memory (`boot::layout::plan`) and the start_info fields (`boot::handover::start_info_bytes`),
//! and returns a [`BootReport`]: every problem with its cause, the outcome, and what the loader
//! does next. No printing, no Xen, no `std`: `rpvboot-inspect boot` prints the report, and the PV
//! kernel calls the same function (with [`Overrides::keep`] set, to get the bytes to hand over
//! in [`Prepared`]) so the dry run and the real boot cannot disagree.
//!
//! In the PV kernel: `dry_run(extra, &mut DiskVolumes::new(&disks), &Overrides { entry: None,
//! nr_pages: si.nr_pages, pages_in_use: Some(heap_top + heap_slack(nr)), keep: true,
//! byte_limit: Some(free heap bytes) })`; a `Some(Prepared)` is exactly what the handover
//! copies (the ELF, the modules as passed on, the command line), and the report's problems
//! are what the console shows before the menu or the fallback.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::boot::handover::{self, Inherited};
use crate::boot::layout::{self, Layout, LayoutInput};
use crate::config::search::{self, Loaded, ReadError, Volumes};
use crate::config::{BootPlan, Device, Format as CfgFormat, ModuleKind, OsHint, PlannedFile};
use crate::image::{self, elf::Elf64, notes::XenNotes, Detected, PvKernel};

/// x86 page size.
pub const PAGE_SIZE: u64 = 4096;

/// rpvboot's own pages below its heap (image, boot page tables, stack, p2m): a dry-run
/// estimate; the PV kernel passes its real figure in [`Overrides::pages_in_use`].
pub const LOADER_BASE_PAGES: u64 = 1024;

/// Pages the handover keeps free for the heap while it builds the region (the old and new p2m
/// at 16 bytes a page, plus 4 MiB of working room).
pub fn heap_slack(nr_pages: u64) -> u64 {
    nr_pages.saturating_mul(16).div_ceil(PAGE_SIZE).saturating_add(1024)
}

/// What the dry run assumes rpvboot keeps alive while it builds the region: its own pages,
/// the kernel and module bytes it holds, and [`heap_slack`].
pub fn estimate_pages_in_use(nr_pages: u64, held_bytes: u64) -> u64 {
    LOADER_BASE_PAGES.saturating_add(held_bytes.div_ceil(PAGE_SIZE)).saturating_add(heap_slack(nr_pages))
}

/// What the caller decides instead of the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overrides {
    /// Boot this entry instead of the menu's default (0-based).
    pub entry: Option<usize>,
    /// The new domain's pages (`start_info.nr_pages`).
    pub nr_pages: u64,
    /// Pages the loader keeps alive while building the region; `None`: estimate it with
    /// [`estimate_pages_in_use`].
    pub pages_in_use: Option<u64>,
    /// Keep the bytes to hand over ([`Prepared`]); a dry run does not need them.
    pub keep: bool,
    /// The most bytes the kernel file, its decompressed image and the modules may take
    /// together; `None`: the domain's memory. The PV kernel passes its free heap.
    pub byte_limit: Option<u64>,
}

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

/// One problem and where it comes from: `file:line` for the configuration, the file (and byte
/// offset) for kernel images, `memory` for the layout.
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
    /// Layers, outermost first (`["bzImage", "xz", "elf64"]`); as far as detected on failure.
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
    /// Bytes passed to the kernel (decompressed for `module`, as stored for `initrd` and
    /// `modulenounzip`, as GRUB legacy does).
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
    /// The kernel's ELF, decompressed.
    pub elf: Vec<u8>,
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
    /// Pages assumed in use by the loader.
    pub pages_in_use: u64,
    /// How it ends.
    pub outcome: Outcome,
    /// What the loader does next.
    pub next: Next,
    /// Every problem: the configuration's diagnostics first, then each attempt's.
    pub problems: Vec<Problem>,
}

/// One entry's attempt.
struct Attempt {
    cmdline: Option<String>,
    kernel: Option<KernelReport>,
    modules: Vec<ModuleReport>,
    layout: Option<Layout>,
    pages_in_use: u64,
    problems: Vec<Problem>,
    prepared: Option<Prepared>,
}

impl Attempt {
    fn ok(&self) -> bool {
        self.problems.is_empty() && self.layout.is_some()
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

fn mib(pages: u64) -> u64 {
    pages / 256
}

/// Where an image error is: the file, and the byte offset when the error has one.
fn image_at(name: &str, e: &image::Error) -> String {
    match e {
        image::Error::TooLarge { .. } => String::from("memory"),
        image::Error::Truncated { offset, .. } | image::Error::Corrupt { offset, .. } => {
            format!("{name} at byte {offset}")
        }
        _ => String::from(name),
    }
}

/// Reads one file of a plan: the first of `files` that exists, at most `limit` bytes.
fn read_file(
    v: &mut impl Volumes,
    what: &str,
    files: &[&PlannedFile],
    limit: usize,
    at_entry: &str,
    problems: &mut Vec<Problem>,
) -> Option<(PlannedFile, Vec<u8>)> {
    for f in files {
        let Some(dev) = &f.device else {
            continue;
        };
        match v.read(dev, &f.path, limit.saturating_add(1)) {
            Ok(b) if b.len() > limit => {
                problems.push(Problem {
                    at: String::from("memory"),
                    message: format!(
                        "{what} {} does not fit in the domain's memory ({} MiB left)",
                        name_of(Some(dev), &f.path),
                        limit >> 20
                    ),
                });
                return None;
            }
            Ok(b) => return Some(((*f).clone(), b)),
            Err(ReadError::NotFound) => {}
            Err(ReadError::Other(why)) => {
                problems
                    .push(Problem { at: name_of(Some(dev), &f.path), message: format!("{what}: read failed: {why}") });
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

/// The kernel's OS as the loader sees it once the notes are read (for `bootdev=`).
fn os_of(notes: &XenNotes) -> OsHint {
    match &notes.guest_os {
        Some(os) if os.eq_ignore_ascii_case("netbsd") => OsHint::NetBsd,
        _ => OsHint::Unknown,
    }
}

/// A module's bytes as passed on: a compressed `module` is decompressed (one layer).
fn module_bytes(kind: ModuleKind, file: Vec<u8>, limit: usize) -> Result<(Vec<&'static str>, Vec<u8>), image::Error> {
    let outer = match image::detect(&file) {
        Detected::Known(f) => Some(f),
        _ => None,
    };
    let mut formats: Vec<&'static str> = outer.iter().map(|f| f.name()).collect();
    match outer {
        Some(f @ (image::Format::Gzip | image::Format::Xz | image::Format::Zstd | image::Format::Lz4))
            if kind == ModuleKind::Module =>
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

fn attempt(l: &Loaded, index: usize, v: &mut impl Volumes, o: &Overrides) -> Attempt {
    let mut a = Attempt {
        cmdline: None,
        kernel: None,
        modules: Vec::new(),
        layout: None,
        pages_in_use: o.pages_in_use.unwrap_or(0),
        problems: Vec::new(),
        prepared: None,
    };
    let at_entry = config_at(l, index);
    let limit = usize::try_from(o.byte_limit.unwrap_or(o.nr_pages.saturating_mul(PAGE_SIZE))).unwrap_or(usize::MAX);
    let plan: BootPlan = match l.plan_on(index, None, v) {
        Ok(p) => p,
        Err(e) => {
            a.problems.push(Problem { at: at_entry, message: format!("entry {index}: {e}") });
            return a;
        }
    };
    a.cmdline = Some(plan.cmdline.clone());
    if l.menu.entries.get(index).is_some_and(|e| e.prompt) {
        a.problems.push(Problem { at: at_entry.clone(), message: String::from("the entry asks for the command line") });
    }

    // The kernel: the path, or else its alternatives (`/netbsd.gz`).
    let files: Vec<&PlannedFile> = core::iter::once(&plan.kernel).chain(plan.alternatives.iter()).collect();
    let Some((kfile, kbytes)) = read_file(v, "kernel", &files, limit, &at_entry, &mut a.problems) else {
        return a;
    };
    let kname = name_of(kfile.device.as_ref(), &kfile.path);
    let mut kr = KernelReport {
        device: kfile.device.clone(),
        path: kfile.path.clone(),
        formats: match image::detect(&kbytes) {
            Detected::Known(f) => alloc::vec![f.name()],
            _ => Vec::new(),
        },
        file_size: kbytes.len() as u64,
        image_size: 0,
        entry_point: 0,
        virt_base: 0,
        notes: XenNotes::default(),
        symtab: None,
    };
    let mut held = kbytes.len() as u64;
    // The decompressed ELF comes back owned; a plain ELF is the file itself (no copy).
    let checked = (|| -> Result<(Option<Vec<u8>>, PvKernel), image::Error> {
        let un = image::unwrap(&kbytes, limit)?;
        kr.formats = un.format_names();
        let elf = Elf64::parse(&un.elf)?;
        let k = PvKernel::parse(&elf)?;
        let block = k.bsd_block(&elf)?;
        kr.symtab = k.bsd_block_va().map(|va| (va, block.len() as u64));
        let owned = match un.elf {
            alloc::borrow::Cow::Owned(v) => Some(v),
            alloc::borrow::Cow::Borrowed(_) => None,
        };
        Ok((owned, k))
    })();
    let (elf_bytes, k) = match checked {
        Ok((Some(elf), k)) => (elf, k),
        Ok((None, k)) => (kbytes, k),
        Err(e) => {
            let message = match &e {
                image::Error::TooLarge { .. } => format!("kernel {kname}: {e}"),
                _ => format!("kernel: {e}"),
            };
            a.problems.push(Problem { at: image_at(&kname, &e), message });
            a.kernel = Some(kr);
            return a;
        }
    };
    if kr.formats.len() > 1 {
        held = held.saturating_add(elf_bytes.len() as u64);
    }
    kr.image_size = k.image_len();
    kr.entry_point = k.entry;
    kr.virt_base = k.virt_base;
    kr.notes = k.notes.clone();
    a.kernel = Some(kr);

    // The command line once the kernel's OS is known (NetBSD gets bootdev=).
    let plan = match l.plan_on(index, Some(os_of(&k.notes)), v) {
        Ok(p) => p,
        Err(e) => {
            a.problems.push(Problem { at: at_entry, message: format!("entry {index}: {e}") });
            return a;
        }
    };
    a.cmdline = Some(plan.cmdline.clone());

    let mut mod_bytes: Vec<Vec<u8>> = Vec::new();
    let mut lens: Vec<u64> = Vec::new();
    for m in &plan.modules {
        let what = match m.kind {
            ModuleKind::Initrd => "initrd",
            _ => "module",
        };
        // Everything read is held at once: each module gets what the others left.
        let left = limit.saturating_sub(usize::try_from(held).unwrap_or(usize::MAX));
        let Some((mfile, bytes)) = read_file(v, what, &[&m.file], left, &at_entry, &mut a.problems) else {
            continue;
        };
        let mname = name_of(mfile.device.as_ref(), &mfile.path);
        let file_size = bytes.len() as u64;
        match module_bytes(m.kind, bytes, left) {
            Ok((formats, out)) => {
                held = held.saturating_add(file_size.max(out.len() as u64));
                lens.push(out.len() as u64);
                a.modules.push(ModuleReport {
                    device: mfile.device,
                    path: mfile.path,
                    formats,
                    file_size,
                    size: out.len() as u64,
                });
                if o.keep {
                    mod_bytes.push(out);
                }
            }
            Err(e) => a.problems.push(Problem { at: image_at(&mname, &e), message: format!("{what} {mname}: {e}") }),
        }
    }
    if !a.problems.is_empty() {
        return a;
    }

    a.pages_in_use = o.pages_in_use.unwrap_or_else(|| estimate_pages_in_use(o.nr_pages, held));
    let input = LayoutInput::for_kernel(&k, &lens, o.nr_pages, a.pages_in_use, plan.cmdline.as_bytes());
    match layout::plan(&input) {
        Ok(lay) => {
            if lay.cmdline_truncated {
                a.problems.push(Problem {
                    at: at_entry,
                    message: format!("command line longer than {} bytes (Xen's limit)", layout::MAX_GUEST_CMDLINE - 1),
                });
            }
            a.layout = Some(lay);
        }
        Err(e) => a.problems.push(Problem {
            at: String::from("memory"),
            message: format!("{} pages ({} MiB) are not enough: {e}", o.nr_pages, mib(o.nr_pages)),
        }),
    }
    if o.keep && a.ok() {
        a.prepared = Some(Prepared { entry: index, elf: elf_bytes, modules: mod_bytes, cmdline: plan.cmdline });
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

/// Runs the whole decision for the disks `v` and the `extra=` line. Never panics; every
/// problem is in the report. With [`Overrides::keep`], the second value holds the bytes to
/// hand over when the outcome is not [`Outcome::Error`].
pub fn dry_run(extra_line: &str, v: &mut impl Volumes, o: &Overrides) -> (BootReport, Option<Prepared>) {
    let loaded = search::load(extra_line, v);
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
        pages_in_use: o.pages_in_use.unwrap_or(0),
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
    let chain: Vec<usize> =
        core::iter::once(first).chain(report.loaded.menu.fallback.iter().copied().filter(|&i| i != first)).collect();
    let mut shown: Option<Attempt> = None;
    let mut prepared = None;
    for &i in &chain {
        report.tried.push(i);
        let mut a = attempt(&report.loaded, i, v, o);
        problems.append(&mut a.problems.clone());
        let ok = a.ok();
        if ok {
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
    use crate::config::search::{FsKind, MemVolumes};

    fn netbsd_elf() -> Vec<u8> {
        let dir = testimages::kernels::images_dir();
        let p = testimages::kernels::build(&dir, &testimages::kernels::KernelSpec::netbsd())
            .expect("as/ld (binutils) must be installed");
        std::fs::read(p).unwrap()
    }

    fn o(mib: u64) -> Overrides {
        Overrides { entry: None, nr_pages: mib * 256, pages_in_use: None, keep: true, byte_limit: None }
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
        assert_eq!(p.elf, k);
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

        // Modules share what the kernel leaves: in 8 MiB the first 3 MiB module fits, the second not.
        let m = alloc::vec![7u8; 3 << 20];
        let menu = b"title t\nkernel /netbsd\nmodule /m1\nmodule /m2\n";
        let mut v = MemVolumes::default().with(
            "(hd0,a)",
            FsKind::Ffs,
            &[("/boot/grub/menu.lst", menu), ("/netbsd", &big), ("/m1", &m), ("/m2", &m)],
        );
        let (r, _) = dry_run("", &mut v, &o(8));
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
