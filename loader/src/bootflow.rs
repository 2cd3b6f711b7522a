//! The boot flow after the menu: the chosen entry's kernel and modules are read from the
//! disks and checked ([`select`], host-tested: parse, decompress, ELF + Xen notes, layout
//! fits) while the disks are open; then, while blkfront's close completes (it finishes just
//! before the jump, `boot_with`), the PV part ([`boot`]) plans the handover
//! (`boot::handover`), writes the region, pins and jumps (handover-notes §2). Everything that can be refused is checked before the first
//! irreversible step (the M2P update), so a refused kernel leaves rpvboot running to report
//! it and try the `fallback` entry.

use alloc::borrow::Cow;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use crate::boot::layout::{self, LayoutInput};
use crate::config::search::{self, Volumes};
use crate::image::{self, elf::Elf64, PvKernel};
use crate::plan;

/// Where rpvboot itself is linked (loader/build.rs, `RPVBOOT_VIRT_BASE`; link.ld says why).
/// Its image and all of the domain's RAM are mapped from here (`arch::x86_64::mm`).
pub const LOADER_VIRT_BASE: u64 = parse_u64(env!("RPVBOOT_VIRT_BASE"));

/// The L4 slot rpvboot's own mapping uses: one slot covers its image and 512 GiB of RAM, and a
/// kernel whose boot region needs it cannot be booted (its L4 entries are hooked into ours).
pub const LOADER_L4_SLOT: u64 = (LOADER_VIRT_BASE >> 39) & 511;

// The whole mapping must be one slot from its start (mm.rs walks one L3 from index 0).
const _: () = assert!(LOADER_VIRT_BASE & ((1 << 39) - 1) == 0 && !(256 <= LOADER_L4_SLOT && LOADER_L4_SLOT < 272));

/// A decimal `u64` at compile time (for the build script's `RPVBOOT_VIRT_BASE`).
const fn parse_u64(s: &str) -> u64 {
    let b = s.as_bytes();
    assert!(!b.is_empty(), "RPVBOOT_VIRT_BASE is empty");
    let mut v: u64 = 0;
    let mut i = 0;
    while i < b.len() {
        assert!(b[i].is_ascii_digit(), "RPVBOOT_VIRT_BASE is not decimal");
        v = match v.checked_mul(10) {
            Some(x) => match x.checked_add((b[i] - b'0') as u64) {
                Some(y) => y,
                None => panic!("RPVBOOT_VIRT_BASE overflows"),
            },
            None => panic!("RPVBOOT_VIRT_BASE overflows"),
        };
        i += 1;
    }
    v
}

/// Largest kernel or module file read (compressed size).
pub const FILE_LIMIT: usize = 512 << 20;

/// An entry whose files were read and whose kernel was accepted.
#[derive(Debug, Clone, Default)]
pub struct Selected {
    /// Its title.
    pub title: String,
    /// The kernel's ELF image (decompressed).
    pub kernel: Vec<u8>,
    /// Modules in order, as stored.
    pub modules: Vec<Vec<u8>>,
    /// The command line for the kernel.
    pub cmdline: String,
}

/// What [`select`] needs besides the disks (the device stage carries it, see
/// `devices::Options::boot`).
#[derive(Debug, Clone, Default)]
pub struct SelectArgs {
    /// The domU's `extra=` line (rpvboot's command line).
    pub extra: String,
    /// Pages of the domain.
    pub nr_pages: u64,
    /// Pages rpvboot uses besides the files it reads (heap top plus slack).
    pub pages_in_use: u64,
}

/// Checks that a kernel image can be loaded into a domain of `nr_pages` while the loader
/// keeps `pages_in_use`: returns a one-line description, or why not.
pub fn check_kernel(
    kernel: &[u8],
    modules: &[u64],
    cmdline: &[u8],
    nr_pages: u64,
    pages_in_use: u64,
) -> Result<String, String> {
    checked(kernel, modules, cmdline, nr_pages, pages_in_use).map(|(_, what)| what)
}

/// The pages to count as rpvboot's while it builds the region of kernel `k`, whose ELF of
/// `elf_len` bytes it holds: `pages_in_use` (its own and the files it read) plus a decompressed
/// ELF's pages (`decompressed`; a plain ELF is the file itself), less the ELF pages the
/// handover gives to the new kernel in place ([`PvKernel::page_sources`]).
pub fn pages_beside_region(pages_in_use: u64, k: &PvKernel, elf_len: usize, decompressed: bool) -> u64 {
    let block_len = k.bsd_symtab.as_ref().map_or(0, |s| s.size);
    let reused = k.page_sources(block_len).iter().flatten().count() as u64;
    if decompressed {
        pages_in_use.saturating_add((elf_len as u64).div_ceil(4096).saturating_sub(reused))
    } else {
        pages_in_use.saturating_sub(reused)
    }
}

/// A kernel file that passed [`unwrap_checked_owned`]'s check.
pub struct CheckedKernel {
    /// The ELF: the file itself when it was a plain ELF, else what its layers unpacked to.
    pub elf: Vec<u8>,
    /// The layers peeled to reach the ELF, outermost first, ending with `Elf64`.
    pub formats: Vec<image::Format>,
    /// One line for the console: formats, bytes loaded, entry, region pages, BSD symbols.
    pub summary: String,
}

/// [`check_kernel`] for a file the caller owns, also returning the ELF, so that it is
/// decompressed once (xz under TCG takes tens of seconds for a Linux kernel). A plain ELF comes
/// back as the very same buffer instead of a copy (a big uncompressed kernel would otherwise
/// be held twice).
pub fn unwrap_checked_owned(
    kernel: Vec<u8>,
    modules: &[u64],
    cmdline: &[u8],
    nr_pages: u64,
    pages_in_use: u64,
) -> Result<CheckedKernel, String> {
    let (un, summary) = checked(&kernel, modules, cmdline, nr_pages, pages_in_use)?;
    let image::Unwrapped { formats, elf } = un;
    let whole = elf.as_ptr() == kernel.as_ptr() && elf.len() == kernel.len();
    let copy = match elf {
        Cow::Owned(v) => Some(v),
        Cow::Borrowed(b) if !whole => Some(b.to_vec()),
        Cow::Borrowed(_) => None,
    };
    Ok(CheckedKernel { elf: copy.unwrap_or(kernel), formats, summary })
}

/// The kernel check behind [`check_kernel`] and [`unwrap_checked_owned`]: the unpacked image
/// (its ELF borrowed when the file is one) and the summary. Decompression may use most of the memory rpvboot does not
/// use: the handover gives the ELF's own pages to the new kernel wherever they hold a whole
/// page of its image ([`PvKernel::page_sources`]; the PV heap page-aligns big buffers), so
/// only the rest of the ELF and of the region count twice.
fn checked<'a>(
    kernel: &'a [u8],
    modules: &[u64],
    cmdline: &[u8],
    nr_pages: u64,
    pages_in_use: u64,
) -> Result<(image::Unwrapped<'a>, String), String> {
    // zstd's window is allocated infallibly beside the output: an eighth stays for it. xz's
    // dictionary is bounded by what the output leaves (image::xz); gzip and lz4 use the output.
    // A small margin stays anyway: the heap's free count ignores its fragmentation.
    let free = nr_pages.saturating_sub(pages_in_use);
    let reserve = if image::compression_of(kernel) == Some(image::Format::Zstd) { free / 8 } else { free / 64 + 64 };
    let limit = usize::try_from((free - reserve).saturating_mul(4096)).unwrap_or(usize::MAX);
    let un = image::unwrap(kernel, limit).map_err(|e| format!("kernel image: {e}"))?;
    let elf = Elf64::parse(&un.elf).map_err(|e| format!("kernel ELF: {e}"))?;
    let k = PvKernel::parse(&elf).map_err(|e| format!("kernel: {e}"))?;
    let held = pages_beside_region(pages_in_use, &k, un.elf.len(), matches!(un.elf, Cow::Owned(_)));
    let lay = layout::plan(&LayoutInput {
        virt_base: k.virt_base,
        kernel_start: k.virt_kstart,
        kernel_end: k.virt_kend,
        modules,
        nr_pages,
        pages_in_use: held,
        cmdline,
    })
    .map_err(|e| format!("layout: {e}"))?;
    // rpvboot hooks the new kernel's L4 entries into its own tree (handover-notes P5): the
    // region must not need rpvboot's slot, nor Xen's 256..272.
    let slot = |va: u64| (va >> 39) & 511;
    let (lo, hi) = (slot(lay.virt_base), slot(lay.virt_pgtab_end.saturating_sub(1)));
    if let Some(s) = (lo..=hi).find(|&s| s == LOADER_L4_SLOT || (256..272).contains(&s)) {
        let whose = if s == LOADER_L4_SLOT { "where rpvboot itself lives" } else { "which is Xen's" };
        return Err(format!(
            "kernel: its region {:#x}..{:#x} needs L4 slot {s}, {whose} (rpvboot is linked at {:#x})",
            lay.virt_base, lay.virt_pgtab_end, LOADER_VIRT_BASE
        ));
    }
    let what = format!(
        "{} kernel, {} bytes loaded, entry {:#x}, {} pages{}",
        un.format_names().join("+"),
        k.image_len(),
        k.entry,
        lay.region_pages,
        if k.bsd_symtab.is_some() { ", BSD symbols" } else { "" }
    );
    Ok((un, what))
}

/// Finds the configuration on `v` (as `config::search::load`), then tries the default entry
/// and its `fallback` chain in turn with `plan::read_entry` (the dry run's own path: reads the
/// kernel, or an alternative such as `/netbsd.gz`, and modules, and checks the kernel with
/// [`unwrap_checked_owned`]), and accepts the first that can boot. Every refusal is reported on
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
    select_loaded(extra, loaded, v, nr_pages, pages_in_use, out)
}

/// [`select`] for a configuration the caller already found on `v` with `extra`.
pub fn select_loaded(
    extra: &str,
    loaded: search::Loaded,
    v: &mut impl Volumes,
    nr_pages: u64,
    pages_in_use: u64,
    out: &mut dyn Write,
) -> Option<Selected> {
    let o = plan::Overrides { entry: None, nr_pages, loader_pages: Some(pages_in_use), keep: true };
    let verbose = extra.split_ascii_whitespace().any(|w| w == "rpvboot.verbose");
    let mut log = Log { out, verbose, loader_pages: pages_in_use };
    let (report, prepared) = plan::dry_run_loaded(loaded, v, &o, &mut log);
    if report.loaded.menu.entries.is_empty() {
        let _ = writeln!(log.out, "rpvboot: the configuration has no boot entries");
    }
    let Some(p) = prepared else {
        let _ = writeln!(log.out, "rpvboot: no entry could be booted");
        return None;
    };
    Some(Selected::from_prepared(&report.loaded, p))
}

impl Selected {
    /// The bytes `plan::read_entry` kept for entry `p.entry` of `l`.
    pub fn from_prepared(l: &search::Loaded, p: plan::Prepared) -> Self {
        let title = l.menu.entries.get(p.entry).map(|e| e.title.clone()).unwrap_or_default();
        Selected { title, kernel: p.elf, modules: p.modules, cmdline: p.cmdline }
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
        let (idx, title) = (r.index, &r.title);
        if r.ok() {
            let _ = writeln!(self.out, "rpvboot: booting entry {idx} \"{title}\": {}", r.summary);
            if self.verbose {
                let _ = writeln!(self.out, "rpvboot: {}", plan::pages_line(self.loader_pages, r.pages_in_use));
            }
        } else {
            let _ = writeln!(self.out, "rpvboot: entry {idx} \"{title}\" cannot boot: {}", r.why());
        }
        for n in &r.notes {
            let _ = writeln!(self.out, "rpvboot: entry {idx} \"{title}\": {}", n.message);
        }
    }
}

#[cfg(target_os = "none")]
pub use pv::{boot, boot_ramdisk, boot_selected, boot_with, select_args};

#[cfg(target_os = "none")]
mod pv {
    use super::*;
    use crate::arch::x86_64::{self as arch, heap, mm, trampoline, traps};
    use crate::boot::handover::{self, Inherited};
    use crate::println;
    use crate::xen::hypercall;
    use crate::xen::raw::{pte, MmuUpdate, MmuextOp, MMU_NORMAL_PT_UPDATE};
    use crate::xen::start_info::StartInfo;

    extern "C" {
        static hypercall_page: [u8; 4096];
    }

    /// Heap pages the handover allocates while it builds a region of about `region` pages in
    /// a domain of `nr` (old and new p2m, the sources and fresh-page lists, the m2p updates).
    fn work_pages(nr: u64, region: u64) -> u64 {
        // One formula with the dry run's estimate.
        plan::work_pages(nr, region)
    }

    /// Loads `kernel` (any supported compression) with `modules` and `cmdline` and hands the
    /// domain over to it. Returns only on a refusal (with the reason), before anything
    /// irreversible happened.
    pub fn boot(si: &StartInfo, kernel: &[u8], modules: &[&[u8]], cmdline: &[u8]) -> String {
        boot_with(si, kernel, modules, cmdline, &mut || {})
    }

    /// [`boot`], calling `last` once the region is written, just before the console is
    /// drained and the jump: the latest point for work that may overlap the handover, such as
    /// waiting for the disks' backends to close.
    pub fn boot_with(
        si: &StartInfo,
        kernel: &[u8],
        modules: &[&[u8]],
        cmdline: &[u8],
        last: &mut dyn FnMut(),
    ) -> String {
        match try_boot(si, kernel, modules, cmdline, last) {
            Ok(never) => match never {},
            Err(e) => e,
        }
    }

    enum Never {}

    fn try_boot(
        si: &StartInfo,
        kernel: &[u8],
        modules: &[&[u8]],
        cmdline: &[u8],
        before_jump: &mut dyn FnMut(),
    ) -> Result<Never, String> {
        let t0 = now();
        let verbose = si.has_word("rpvboot.verbose");
        // Step times under `rpvboot.verbose` (the plan step's parts), printed before the jump.
        let mut marks: Vec<(&str, u64)> = Vec::new();
        let mut mark = |what: &'static str| {
            if verbose {
                marks.push((what, now()));
            }
        };
        let nr = si.nr_pages;
        let limit = usize::try_from(nr.saturating_mul(4096)).unwrap_or(usize::MAX);
        let un = image::unwrap(kernel, limit).map_err(|e| format!("kernel image: {e}"))?;
        let elf = Elf64::parse(&un.elf).map_err(|e| format!("kernel ELF: {e}"))?;
        let k = PvKernel::parse(&elf).map_err(|e| format!("kernel: {e}"))?;
        let block = k.bsd_block(&elf).map_err(|e| format!("BSD symbols: {e}"))?;
        let lens: Vec<u64> = modules.iter().map(|m| m.len() as u64).collect();
        mark("parse");
        // Image pages that lie whole in the (page-aligned) decompressed ELF are handed to the
        // new kernel where they are: the region then needs only the rest from free memory.
        let elf_base = un.elf.as_ptr() as u64;
        let file_src = if elf_base.is_multiple_of(4096) { k.page_sources(block.len() as u64) } else { Vec::new() };
        let in_place: Vec<Option<u64>> =
            file_src.iter().map(|o| o.and_then(|off| mm::va_to_pfn(elf_base.checked_add(off)?))).collect();
        let reused = in_place.iter().flatten().count() as u64;
        mark("in-place");
        let hs = heap::stats();
        let free = hs.free_pages();
        let module_pages: u64 = lens.iter().map(|l| l.div_ceil(4096)).sum();
        let region_guess = k.image_len().div_ceil(4096) + module_pages + nr.div_ceil(512) + 1024;
        let in_use = nr.saturating_sub(free.saturating_add(reused)).saturating_add(work_pages(nr, region_guess));
        if si.has_word("rpvboot.verbose") {
            println!(
                "rpvboot: memory: {hs}; ELF at {elf_base:#x}, {reused} of {} image pages in place; counting {in_use} of {nr} pages as rpvboot's",
                file_src.len()
            );
        }
        let lay = layout::plan(&LayoutInput {
            virt_base: k.virt_base,
            kernel_start: k.virt_kstart,
            kernel_end: k.virt_kend,
            modules: &lens,
            nr_pages: nr,
            pages_in_use: in_use,
            cmdline,
        })
        .map_err(|e| format!("layout: {e}"))?;
        mark("layout");
        println!(
            "rpvboot: kernel {} ({}), entry {:#x}, region {} pages to {:#x}, {} page tables{}",
            un.format_names().join("+"),
            k.image_len(),
            k.entry,
            lay.region_pages,
            lay.virt_pgtab_end,
            lay.nr_pt_frames(),
            if k.bsd_symtab.is_some() { ", BSD symbols" } else { "" }
        );
        if si.has_word("rpvboot.verbose") {
            // The plan handed over, in the lines `rpvboot-inspect boot` prints (e2e compares).
            for line in plan::plan_lines(&lay) {
                println!("rpvboot: {line}");
            }
        }
        mark("print");
        // A's L4 must not use the slots the new kernel needs (P5).
        let a_l4_va = si.pt_base;
        let a_l4_mfn = mm::virt_to_mfn(a_l4_va).ok_or("own L4 MFN unknown")?;
        // Xen's p2m list in one copy: a call per page (`mm::pfn_to_mfn`) costs ~10 ms at
        // 192 MiB under TCG. The last entry through mm proves the list is the one mm checked.
        let last = nr.checked_sub(1).ok_or("domain without pages")?;
        if mm::pfn_to_mfn(last).is_none() || !si.mfn_list.is_multiple_of(8) {
            return Err(format!("p2m list at {:#x} is not {nr} aligned entries", si.mfn_list));
        }
        let nr_usize = usize::try_from(nr).map_err(|_| "nr_pages")?;
        // SAFETY: mm::init checked that [mfn_list, mfn_list + 8 nr_pages) is inside the
        // bootstrap mapping (pfn_to_mfn(last) answered, so it was initialised with these
        // pages); the list is 8-aligned (page-aligned by the domain builder) and only read.
        let old: Vec<u64> = unsafe { core::slice::from_raw_parts(si.mfn_list as *const u64, nr_usize) }.to_vec();
        let tramp_mfn = mm::virt_to_mfn(trampoline::page_va()).ok_or("trampoline MFN unknown")?;
        mark("p2m");
        let inh = Inherited {
            nr_pages: nr,
            shared_info: si.shared_info_ma,
            store_mfn: si.store_mfn,
            store_evtchn: si.store_evtchn,
            console_mfn: si.console_mfn,
            console_evtchn: si.console_evtchn,
        };
        let kpfn = lay.kernel.pfn;
        let from_elf = |pfn: u64| pfn.checked_sub(kpfn).and_then(|i| in_place.get(i as usize).copied().flatten());
        let fresh_n = (0..lay.region_pages).filter(|&p| from_elf(p).is_none()).count() as u64;
        let fresh = heap::Pages::take(fresh_n).ok_or(format!(
            "not enough free memory for a {}-page region ({fresh_n} pages to take)",
            lay.region_pages
        ))?;
        let mut fresh_it = fresh.pfns().iter().copied();
        let sources: Vec<u64> = (0..lay.region_pages)
            .map(|p| from_elf(p).or_else(|| fresh_it.next()).ok_or("region pages miscounted"))
            .collect::<Result<_, _>>()?;
        mark("take");
        let plan =
            handover::plan_sources(&lay, &old, &sources, &inh, tramp_mfn).map_err(|e| format!("handover: {e}"))?;
        mark("plan_sources");
        let hook: Vec<(usize, u64)> = plan
            .tables
            .first()
            .map(|l4| {
                l4.iter()
                    .enumerate()
                    .filter(|&(s, &e)| e & pte::P != 0 && !(256..272).contains(&s))
                    .map(|(s, &e)| (s, e))
                    .collect()
            })
            .unwrap_or_default();
        for &(s, _) in &hook {
            // SAFETY: A's L4 is mapped (read-only) at its bootstrap VA; s < 512.
            let cur = unsafe { core::ptr::read_volatile((a_l4_va as *const u64).add(s)) };
            if cur & pte::P != 0 {
                return Err(format!("kernel region uses L4 slot {s}, which rpvboot occupies"));
            }
        }
        let t_plan = now();
        // From the next step on, some of these pages are read-only page tables: even if a
        // later step fails they must never go back to the heap.
        let _fresh = core::mem::ManuallyDrop::new(fresh);

        // Page tables: fill through our own mapping of the reserved pages, then make those
        // mappings read-only (P2).
        for (frame, &old_pfn) in plan.tables.iter().zip(&plan.table_old_pfns) {
            let va = mm::pfn_to_va(old_pfn);
            // SAFETY: old_pfn is one of the reserved pages (mapped RW at pfn<<12, used by nobody).
            unsafe { core::ptr::copy_nonoverlapping(frame.as_ptr(), va as *mut u64, 512) };
        }
        for &old_pfn in &plan.table_old_pfns {
            let mfn = old.get(old_pfn as usize).copied().ok_or("table PFN")?;
            // SAFETY: the page is ours and is not referenced as memory any more.
            unsafe { hypercall::update_va_mapping(mm::pfn_to_va(old_pfn), (mfn << 12) | pte::L1_RO) }
                .map_err(|e| format!("read-only remap of a page table: {e}"))?;
        }
        let new_l4_mfn = plan.p2m.get(lay.pgtables.pfn as usize).copied().ok_or("L4 MFN")?;
        let pin = [MmuextOp { cmd: 3, arg1: new_l4_mfn, ..MmuextOp::default() }];
        // SAFETY: the tree was just built; Xen validates it.
        unsafe { hypercall::mmuext_op(&pin) }.map_err(|e| format!("PIN_L4_TABLE: {e}"))?;
        let mut reqs: Vec<MmuUpdate> = hook
            .iter()
            .map(|&(s, e)| MmuUpdate { ptr: ((a_l4_mfn << 12) + s as u64 * 8) | MMU_NORMAL_PT_UPDATE, val: e })
            .collect();
        // SAFETY: the slots are empty in our L4 (checked); the entries point into the pinned tree.
        let done = unsafe { hypercall::mmu_update(&reqs) }.map_err(|e| format!("L4 hook: {e}"))?;
        if done != reqs.len() {
            return Err(String::from("L4 hook: partial"));
        }
        reqs.clear();
        let t_pin = now();

        // Fill the region through rpvboot's own mapping of each page's source (old) PFN
        // (handover::plan_sources; the three exchanged pages are not written here), not at
        // its final VAs: those start at 0 for a VIRT_BASE-0 kernel (pvgrub2), and Rust must
        // never write through a null pointer. Kernel pages handed over in place already hold
        // their bytes.
        let page_va = |pfn: u64| -> Result<u64, String> {
            sources.get(pfn as usize).map(|&o| mm::pfn_to_va(o)).ok_or_else(|| format!("region page {pfn:#x}"))
        };
        let write_at = |va: u64, data: &[u8]| -> Result<(), String> {
            let mut done = 0usize;
            while done < data.len() {
                let v = va.checked_add(done as u64).ok_or("region address overflow")?;
                let off = v.checked_sub(lay.virt_base).ok_or_else(|| format!("{v:#x} is below the region"))?;
                let (pfn, in_page) = (off / 4096, (off % 4096) as usize);
                if pfn >= lay.region_pages {
                    return Err(format!("{v:#x} is outside the region"));
                }
                let n = (4096 - in_page).min(data.len() - done);
                let src = data.get(done..done + n).ok_or("write range")?;
                // SAFETY: a region page's source PFN: mapped RW in rpvboot's map, owned by the
                // handover (fresh pages or the kernel's own), not a page table; n bytes fit.
                unsafe { core::ptr::copy_nonoverlapping(src.as_ptr(), (page_va(pfn)? + in_page as u64) as *mut u8, n) };
                done += n;
            }
            Ok(())
        };
        let skip = [lay.xenstore_pfn, lay.console_pfn, lay.bootstack_pfn];
        let mut page = [0u8; 4096];
        for pfn in 0..lay.region_pages {
            if lay.is_pgtable(pfn) || skip.contains(&pfn) || from_elf(pfn).is_some() {
                continue;
            }
            let (o, n) = (sources.get(pfn as usize).and_then(|&s| old.get(s as usize)), plan.p2m.get(pfn as usize));
            if o.is_none() || o != n {
                return Err(format!("handover: region page {pfn:#x} does not have its source's MFN"));
            }
            if lay.kernel.pfn <= pfn && pfn < lay.kernel.pfn_end() {
                k.fill(&elf, &block, lay.va(pfn), &mut page).map_err(|e| format!("kernel fill: {e}"))?;
            } else {
                page.fill(0);
            }
            write_at(lay.va(pfn), &page)?;
        }
        if let Some(hp) = k.hypercall_page {
            if hp >= k.virt_kstart && hp.saturating_add(4096) <= lay.va(lay.kernel.pfn_end()) {
                // SAFETY: our own hypercall page, 4096 bytes (the same for every PV64 domain, P7).
                let src = unsafe { core::slice::from_raw_parts((&raw const hypercall_page).cast::<u8>(), 4096) };
                write_at(hp, src)?;
            }
        }
        for (m, seg) in modules.iter().zip(&lay.modules) {
            write_at(seg.vstart, m)?;
        }
        // SAFETY: the p2m's u64s viewed as their bytes (any bit pattern is a valid u8).
        let p2m_bytes = unsafe { core::slice::from_raw_parts(plan.p2m.as_ptr().cast::<u8>(), plan.p2m.len() * 8) };
        write_at(lay.p2m.vstart, p2m_bytes)?;
        write_at(lay.start_info_va(), &plan.start_info)?;
        let t_fill = now();
        before_jump();
        let params = trampoline::Params {
            new_l4_mfn,
            old_l4_mfn: a_l4_mfn,
            rsp: lay.stack_top(),
            rsi: lay.start_info_va(),
            entry: k.entry,
        };
        if verbose {
            let mut line = String::from("rpvboot: handover: plan steps (us):");
            let mut prev = t0;
            for &(what, t) in &marks {
                let _ = write!(line, " {what} {}", t.saturating_sub(prev) / 1000);
                prev = t;
            }
            println!("{line}");
        }
        println!(
            "rpvboot: handover: plan {} us, tables+pin {} us, fill {} us; {} m2p updates; jumping to {:#x}",
            (t_plan - t0) / 1000,
            (t_pin - t_plan) / 1000,
            (t_fill - t_pin) / 1000,
            plan.m2p.len(),
            k.entry
        );
        // From here on there is no way back.
        let _ = arch::console::drain();
        // SAFETY: the page is ours; jump follows.
        unsafe { trampoline::prepare(&params) };
        if let Err(e) = traps::uninstall() {
            return Err(format!("clearing the trap table: {e}"));
        }
        for chunk in plan.m2p.chunks(256) {
            let batch: Vec<MmuUpdate> = chunk.iter().map(|&(ptr, val)| MmuUpdate { ptr, val }).collect();
            // SAFETY: each entry records the new owner PFN of one of our MFNs.
            match unsafe { hypercall::mmu_update(&batch) } {
                Ok(n) if n == batch.len() => {}
                _ => arch::shutdown(crate::xen::raw::ShutdownReason::Crash),
            }
        }
        let alias = lay.va(lay.bootstack_pfn) + trampoline::CODE_OFFSET as u64;
        // SAFETY: all of jump's preconditions hold (prepared, pinned, hooked, traps cleared, M2P).
        unsafe { trampoline::jump(alias) }
    }

    fn now() -> u64 {
        arch::console::get().map_or(0, |c| pvconsole::Platform::now_ns(c.platform()))
    }

    /// Boots what [`select`] chose; returns only with the reason it could not. `last` as for
    /// [`boot_with`].
    pub fn boot_selected(si: &StartInfo, sel: &Selected, last: &mut dyn FnMut()) -> String {
        let mods: Vec<&[u8]> = sel.modules.iter().map(Vec::as_slice).collect();
        boot_with(si, &sel.kernel, &mods, sel.cmdline.as_bytes(), last)
    }

    /// [`SelectArgs`] for this domain; `None` (no boot) under `rpvboot.test=` words that
    /// only exercise the device stage.
    pub fn select_args(si: &StartInfo) -> Option<SelectArgs> {
        if si.has_word("rpvboot.test=ramdisk") || si.has_word("rpvboot.noboot") {
            return None;
        }
        Some(SelectArgs {
            extra: String::from(si.cmd_line()),
            nr_pages: si.nr_pages,
            // Everything but the heap's free pages, plus the handover's working memory.
            pages_in_use: si
                .nr_pages
                .saturating_sub(heap::stats().free_pages())
                .saturating_add(work_pages(si.nr_pages, si.nr_pages / 4)),
        })
    }

    /// `rpvboot.test=ramdisk`: the xl `ramdisk=` is the kernel; its command line is everything
    /// after ` -- ` on rpvboot's. Lets the handover be proven without the disk path.
    pub fn boot_ramdisk(si: &StartInfo) -> String {
        if si.mod_start == 0 || si.mod_len == 0 {
            return String::from("no ramdisk given");
        }
        let len = match usize::try_from(si.mod_len) {
            Ok(l) => l,
            Err(_) => return String::from("ramdisk too big"),
        };
        // SAFETY: libxc mapped the module at mod_start (a VA in our bootstrap region), mod_len bytes.
        let kernel = unsafe { core::slice::from_raw_parts(si.mod_start as *const u8, len) };
        let cmd = si.cmd_line();
        let next = cmd.split_once(" -- ").map_or("", |(_, b)| b);
        boot(si, kernel, &[], next.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::search::{FsKind, MemVolumes};

    /// The NetBSD-shaped kernel assembled and linked by binutils (testimages), gzipped by gzip.
    fn kernels() -> (Vec<u8>, Vec<u8>) {
        let p =
            testimages::kernels::build(&testimages::kernels::images_dir(), &testimages::kernels::KernelSpec::netbsd())
                .unwrap();
        let elf = std::fs::read(&p).unwrap();
        // Compress the bytes read, not the path: a parallel test may rebuild the file meanwhile
        // (each build names its own object file in the symbol table).
        let mut gzip = std::process::Command::new("gzip")
            .args(["-9n", "-c"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = gzip.stdin.take().unwrap();
        let input = elf.clone();
        let writer = std::thread::spawn(move || std::io::Write::write_all(&mut stdin, &input));
        let out = gzip.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(out.status.success());
        (elf, out.stdout)
    }

    fn vols(menu: &str, files: &[(&str, &[u8])]) -> MemVolumes {
        let mut all: Vec<(&str, &[u8])> = vec![("/grub/menu.lst", menu.as_bytes())];
        all.extend_from_slice(files);
        MemVolumes::default().with("(hd0)", FsKind::Ext, &all)
    }

    const MENU: &str = "default 0\nfallback 1 2\ntimeout 0\n\
        title missing\n  kernel /nope.gz a=1\n\
        title corrupt\n  kernel /corrupt.gz b=2\n\
        title good\n  kernel /netbsd.gz c=3\n  module /mod.bin\n";

    #[test]
    fn fallback_chain_reports_each_refusal_and_picks_the_good_entry() {
        let (elf, gz) = kernels();
        let corrupt: Vec<u8> = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3].iter().copied().chain(0..200u8).collect();
        let module = vec![7u8; 100_003];
        let mut v = vols(MENU, &[("/corrupt.gz", &corrupt), ("/netbsd.gz", &gz), ("/mod.bin", &module)]);
        let mut out = String::new();
        let sel = select("", &mut v, 16384, 2048, &mut out).unwrap();
        assert_eq!(sel.title, "good");
        assert_eq!(sel.kernel, elf);
        assert_eq!(sel.modules, vec![module]);
        assert!(sel.cmdline.starts_with("c=3"), "{}", sel.cmdline);
        assert!(out.contains("entry 0 \"missing\" cannot boot: kernel (hd0)/nope.gz not found"), "{out}");
        assert!(out.contains("entry 1 \"corrupt\" cannot boot: kernel image"), "{out}");
        assert!(out.contains("booting entry 2 \"good\": gzip+elf64 kernel"), "{out}");
        assert!(out.contains("BSD symbols"), "{out}");
    }

    #[test]
    fn owned_plain_elf_is_not_copied_and_gzip_gives_the_same_elf() {
        let (elf, gz) = kernels();
        let ptr = elf.as_ptr();
        let plain = unwrap_checked_owned(elf.clone(), &[], b"", 16384, 2048).unwrap();
        assert!(plain.summary.starts_with("elf64 kernel"), "{}", plain.summary);
        assert_eq!(plain.formats, [image::Format::Elf64]);
        let same = unwrap_checked_owned(elf, &[], b"", 16384, 2048).unwrap();
        assert_eq!(same.elf.as_ptr(), ptr, "a plain ELF must come back as the buffer given");
        let un = unwrap_checked_owned(gz, &[], b"", 16384, 2048).unwrap();
        assert!(un.summary.starts_with("gzip+elf64 kernel"), "{}", un.summary);
        assert_eq!(un.formats, [image::Format::Gzip, image::Format::Elf64]);
        assert_eq!(un.elf, plain.elf);
    }

    #[test]
    fn refusals_name_the_reason() {
        let (elf, _) = kernels();
        // Too small: 2 MiB domain.
        let mut out = String::new();
        let mut v = vols("title k\n kernel /k\n", &[("/k", &elf)]);
        assert!(select("", &mut v, 512, 256, &mut out).is_none());
        assert!(out.contains("cannot boot: layout:"), "{out}");
        assert!(out.contains("no entry could be booted"), "{out}");
        // Wrong architecture: e_machine 3 (i386).
        let mut bad = elf.clone();
        bad[18] = 3;
        let mut out = String::new();
        let mut v = vols("title k\n kernel /k\n", &[("/k", &bad)]);
        assert!(select("", &mut v, 16384, 2048, &mut out).is_none());
        assert!(out.contains("entry 0 \"k\" cannot boot: kernel"), "{out}");
        // Not a kernel at all.
        let mut out = String::new();
        let mut v = vols("title k\n kernel /k\n", &[("/k", b"#!/bin/sh\necho hi\n")]);
        assert!(select("", &mut v, 16384, 2048, &mut out).is_none());
        assert!(out.contains("cannot boot: kernel image"), "{out}");
        // check_kernel agrees with the ELF's own entry (object crate as the oracle).
        use object::{Object, ObjectSegment};
        let o = object::File::parse(&*elf).unwrap();
        let what = check_kernel(&elf, &[], b"", 16384, 2048).unwrap();
        assert!(what.contains(&format!("entry {:#x}", o.entry())), "{what}");
        let end = o.segments().map(|s| s.address() + s.size()).max().unwrap();
        assert!(end > testimages::kernels::KERNTEXTOFF);
    }

    /// The NetBSD-shaped kernel re-based to `base` (VIRT_BASE = PADDR_OFFSET = base, text at
    /// base + 2 MiB), assembled and linked by binutils.
    fn kernel_at(base: u64) -> Vec<u8> {
        use testimages::kernels::{ldscript, source, KernelSpec, KERNBASE, KERNTEXTOFF};
        let src = source(&KernelSpec::netbsd()).replace(&format!("{KERNBASE:#x}"), &format!("{base:#x}"));
        let lds = ldscript().replace(&format!("{KERNTEXTOFF:#x}"), &format!("{:#x}", base + 0x20_0000));
        let dir = std::env::temp_dir().join(format!("rpv-bootflow-slot-{base:x}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("k.S"), src).unwrap();
        std::fs::write(dir.join("k.ld"), lds).unwrap();
        let run =
            |cmd: &mut std::process::Command| assert!(cmd.current_dir(&dir).status().unwrap().success(), "{cmd:?}");
        run(std::process::Command::new("as").args(["--64", "-o", "k.o", "k.S"]));
        run(std::process::Command::new("ld").args([
            "-m",
            "elf_x86_64",
            "-static",
            "-nostdlib",
            "-z",
            "max-page-size=0x1000",
            "--no-warn-rwx-segments",
            "-T",
            "k.ld",
            "-o",
            "k.elf",
            "k.o",
        ]));
        let elf = std::fs::read(dir.join("k.elf")).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        elf
    }

    #[test]
    fn kernels_in_rpvboots_l4_slot_or_xens_are_refused_others_load() {
        assert_eq!(LOADER_VIRT_BASE, 255 << 39, "link.ld and mm.rs document slot 255");
        assert_eq!(LOADER_L4_SLOT, 255);
        // VIRT_BASE 0 (pvgrub2, mini-os) and NetBSD/Linux's top slot are fine.
        for base in [0, testimages::kernels::KERNBASE] {
            let what = check_kernel(&kernel_at(base), &[], b"", 16384, 2048);
            assert!(what.is_ok(), "{base:#x}: {what:?}");
        }
        // rpvboot's own slot: refused, and the message says why and where rpvboot is.
        let e = check_kernel(&kernel_at(LOADER_VIRT_BASE), &[], b"", 16384, 2048).unwrap_err();
        assert!(e.contains("needs L4 slot 255, where rpvboot itself lives"), "{e}");
        assert!(e.contains("rpvboot is linked at 0x7f8000000000"), "{e}");
        // A region that starts below the slot and runs into it.
        let e = check_kernel(&kernel_at(LOADER_VIRT_BASE - 0x10_0000), &[], b"", 16384, 2048).unwrap_err();
        assert!(e.contains("needs L4 slot 255"), "{e}");
        // Xen's slots 256..272.
        let e = check_kernel(&kernel_at(0xffff_8000_0000_0000), &[], b"", 16384, 2048).unwrap_err();
        assert!(e.contains("needs L4 slot 256, which is Xen's"), "{e}");
        // And select reports it as the entry's reason.
        let mut out = String::new();
        let mut v = vols("title k\n kernel /k\n", &[("/k", &kernel_at(LOADER_VIRT_BASE))]);
        assert!(select("", &mut v, 16384, 2048, &mut out).is_none());
        assert!(out.contains("entry 0 \"k\" cannot boot: kernel: its region 0x7f8000000000.."), "{out}");
    }
}
