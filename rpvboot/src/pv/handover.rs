//! The handover, executed: the chosen kernel is unpacked and checked once more against the
//! memory the heap really has, the new domain's region is planned (`bootplan::layout`,
//! `bootplan::handover`), its page tables are built, pinned and hooked into rpvboot's L4, the
//! region is filled through rpvboot's own mapping, and the trampoline switches page tables
//! and jumps (docs/handover.md). Everything that can be refused is checked before the first
//! irreversible step (the M2P update), so a refused kernel leaves rpvboot running to report
//! it and try the `fallback` entry.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write;

use bootconfig::ExtraOptions;
use bootplan::check::{self, CheckedKernel};
use bootplan::handover::{self, Inherited};
use bootplan::plan;
use bootplan::select::Selected;
use xenfront::raw::{pte, MmuUpdate, MmuextOp, MMU_NORMAL_PT_UPDATE};
use xenfront::start_info::StartInfo;

use super::{mm, trampoline, traps};
use crate::hypervisor::hypercall;
use crate::memory::{pfn_to_va, va_to_pfn};
use crate::println;
use crate::{console, exit, heap};

extern "C" {
    static hypercall_page: [u8; 4096];
}

/// Hands the domain over to `kernel` (checked and planned by `bootplan::check`) with `modules`
/// (the bytes the layout was planned for, in order). Returns only on a refusal (with the
/// reason), before anything irreversible happened. `verbose`: `rpvboot.verbose` (memory, plan
/// and step times). `last` runs once the region is written, just before the console is
/// drained and the jump: the latest point for work that may overlap the handover, such as
/// waiting for the disks' backends to close; an error from `last` refuses the handover with
/// that reason (e.g. pages a backend still has granted).
pub fn boot_with(
    si: &StartInfo,
    verbose: bool,
    kernel: &CheckedKernel,
    modules: &[&[u8]],
    last: &mut dyn FnMut() -> Result<(), String>,
) -> String {
    match try_boot(si, verbose, kernel, modules, last) {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

enum Never {}

fn try_boot(
    si: &StartInfo,
    verbose: bool,
    checked: &CheckedKernel,
    modules: &[&[u8]],
    before_jump: &mut dyn FnMut() -> Result<(), String>,
) -> Result<Never, String> {
    let t0 = now();
    // Step times under `rpvboot.verbose` (the plan step's parts), printed before the jump.
    let mut marks: Vec<(&str, u64)> = Vec::new();
    let mut mark = |what: &'static str| {
        crate::trace::mark(what, 0);
        if verbose {
            marks.push((what, now()));
        }
    };
    let nr = si.nr_pages;
    let (k, lay, block) = (&checked.image.kernel, &checked.layout, &checked.image.symbols);
    let lens_match = lay.modules.len() == modules.len()
        && lay.modules.iter().zip(modules).all(|(seg, m)| seg.vend.saturating_sub(seg.vstart) >= m.len() as u64);
    if lay.nr_pages != nr || !lens_match {
        return Err(format!(
            "the plan is for {} pages and {} modules, not this domain's {nr} pages and {} modules",
            lay.nr_pages,
            lay.modules.len(),
            modules.len()
        ));
    }
    // Image pages that lie whole in the (page-aligned) unpacked ELF are handed to the new
    // kernel where they are: the region then needs only the rest from free memory.
    let elf_base = checked.image.elf.as_ptr() as u64;
    let file_src = if elf_base.is_multiple_of(4096) { k.page_sources(block.len() as u64) } else { Vec::new() };
    let in_place: Vec<Option<u64>> =
        file_src.iter().map(|o| o.and_then(|off| va_to_pfn(elf_base.checked_add(off)?))).collect();
    let reused = in_place.iter().flatten().count() as u64;
    mark("in-place");
    if verbose {
        println!(
            "rpvboot: memory: {}; ELF at {elf_base:#x}, {reused} of {} image pages in place; the plan counted {} pages as rpvboot's",
            heap::stats(),
            file_src.len(),
            checked.pages_beside
        );
    }
    if verbose {
        println!(
            "rpvboot: kernel {} ({}), entry {:#x}, region {} pages to {:#x}, {} page tables{}",
            checked.image.format_names().join("+"),
            k.image_len(),
            k.entry,
            lay.region_pages,
            lay.virt_pgtab_end,
            lay.nr_pt_frames(),
            if k.bsd_symtab.is_some() { ", BSD symbols" } else { "" }
        );
        // The plan handed over, in the lines `rpvboot-inspect boot` prints (e2e compares).
        for line in plan::plan_lines(lay) {
            println!("rpvboot: {line}");
        }
    }
    mark("print");
    // A's L4 must not use the slots the new kernel needs (docs/handover.md P5).
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
    let fresh = heap::Pages::take(fresh_n)
        .ok_or(format!("not enough free memory for a {}-page region ({fresh_n} pages to take)", lay.region_pages))?;
    let mut fresh_it = fresh.pfns().iter().copied();
    let sources: Vec<u64> = (0..lay.region_pages)
        .map(|p| from_elf(p).or_else(|| fresh_it.next()).ok_or("region pages miscounted"))
        .collect::<Result<_, _>>()?;
    mark("take");
    let plan = handover::plan_sources(lay, &old, &sources, &inh, tramp_mfn).map_err(|e| format!("handover: {e}"))?;
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
    // mappings read-only (docs/handover.md P2).
    for (frame, &old_pfn) in plan.tables.iter().zip(&plan.table_old_pfns) {
        let va = pfn_to_va(old_pfn);
        // SAFETY: old_pfn is one of the reserved pages (mapped RW at pfn<<12, used by nobody).
        unsafe { core::ptr::copy_nonoverlapping(frame.as_ptr(), va as *mut u64, 512) };
    }
    for &old_pfn in &plan.table_old_pfns {
        let mfn = old.get(old_pfn as usize).copied().ok_or("table PFN")?;
        // SAFETY: the page is ours and is not referenced as memory any more.
        unsafe { hypercall::update_va_mapping(pfn_to_va(old_pfn), (mfn << 12) | pte::L1_RO) }
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
    crate::trace::mark("tables+pin", 0);

    // Fill the region through rpvboot's own mapping of each page's source (old) PFN
    // (handover::plan_sources; the three exchanged pages are not written here), not at
    // its final VAs: those start at 0 for a VIRT_BASE-0 kernel (pvgrub2), and Rust must
    // never write through a null pointer. Kernel pages handed over in place already hold
    // their bytes.
    let page_va = |pfn: u64| -> Result<u64, String> {
        sources.get(pfn as usize).map(|&o| pfn_to_va(o)).ok_or_else(|| format!("region page {pfn:#x}"))
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
            k.fill(&checked.image.elf, block, lay.va(pfn), &mut page).map_err(|e| format!("kernel fill: {e}"))?;
        } else {
            page.fill(0);
        }
        write_at(lay.va(pfn), &page)?;
    }
    if let Some(hp) = k.hypercall_page {
        if hp >= k.virt_kstart && hp.saturating_add(4096) <= lay.va(lay.kernel.pfn_end()) {
            // SAFETY: our own hypercall page, 4096 bytes (the same for every PV64 domain, docs/handover.md P7).
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
    crate::trace::mark("fill", 0);
    // The disks' close; an error (pages still granted to a backend) refuses the handover.
    before_jump()?;
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
        println!(
            "rpvboot: handover: plan {} us, tables+pin {} us, fill {} us; {} m2p updates; jumping to {:#x}",
            (t_plan - t0) / 1000,
            (t_pin - t_plan) / 1000,
            (t_fill - t_pin) / 1000,
            plan.m2p.len(),
            k.entry
        );
    } else {
        println!("rpvboot: handover: jumping to {:#x}", k.entry);
    }
    crate::trace::report();
    // From here on there is no way back.
    let _ = console::drain();
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
            _ => exit::shutdown(xenfront::raw::ShutdownReason::Crash),
        }
    }
    let alias = lay.va(lay.bootstack_pfn) + trampoline::CODE_OFFSET as u64;
    // SAFETY: all of jump's preconditions hold (prepared, pinned, hooked, traps cleared, M2P).
    unsafe { trampoline::jump(alias) }
}

fn now() -> u64 {
    console::get().map_or(0, |c| pvconsole::Platform::now_ns(c.platform()))
}

/// Boots what `bootplan::select` chose; returns only with the reason it could not. `last` as
/// for [`boot_with`].
pub fn boot_selected(
    si: &StartInfo,
    verbose: bool,
    sel: &Selected,
    last: &mut dyn FnMut() -> Result<(), String>,
) -> String {
    let mods: Vec<&[u8]> = sel.modules.iter().map(Vec::as_slice).collect();
    boot_with(si, verbose, &sel.kernel, &mods, last)
}

fn pages_in_use(si: &StartInfo) -> u64 {
    crate::devices::pages_in_use(si.nr_pages)
}

/// `rpvboot.test=ramdisk`: the xl `ramdisk=` is the kernel; its command line is everything
/// after ` -- ` on rpvboot's. Lets the handover be proven without the disk path.
pub fn boot_ramdisk(si: &StartInfo, extra: &ExtraOptions) -> String {
    if si.mod_start == 0 || si.mod_len == 0 {
        return String::from("no ramdisk given");
    }
    let len = match usize::try_from(si.mod_len) {
        Ok(l) => l,
        Err(_) => return String::from("ramdisk too big"),
    };
    // SAFETY: libxc mapped the module at mod_start (a VA in our bootstrap region), mod_len bytes.
    let kernel = unsafe { core::slice::from_raw_parts(si.mod_start as *const u8, len) };
    let next = extra.dev.ramdisk_cmdline.as_deref().unwrap_or("");
    match check::check(kernel.to_vec(), &[], next.as_bytes(), si.nr_pages, pages_in_use(si)) {
        Ok(k) => boot_with(si, extra.verbose, &k, &[], &mut || Ok(())),
        Err(r) => format!("{r}"),
    }
}
