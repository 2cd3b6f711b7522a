//! The PVH handover: boots a PVH-capable kernel from a PVH rpvboot (docs/pvh-handover.md).
//!
//! The plan is pure and host-tested (`bootplan::pvh`): destinations at the kernel's
//! `p_paddr`s, modules and the `hvm_start_info` block after it, checked against the domain's
//! memory map, and a copy program in which no copy overwrites a source still to be read. This
//! module only executes it:
//!
//! 1. plan the layout; take one page for the trampoline outside every destination (heap pages
//!    that land inside one are held aside, not freed, so the next try gets another);
//! 2. find where every source is (rpvboot maps physical address `p` at `VIRT_BASE + p`, so a
//!    heap buffer is physically contiguous), stage the copies, relocate the sources that must
//!    move, and write the program into the trampoline page;
//! 3. finish the disks (their grants end, the backends go back to InitWait), drain the console;
//! 4. load page tables that identity-map the trampoline's 2 MiB (a copy of ours plus slot 0),
//!    jump to its identity address; it leaves long mode (compatibility mode, CR0.PG off,
//!    EFER.LME off, CR4 0), runs the copies with paging off, loads the state pvh.pandoc
//!    promises (flat 32-bit CS/DS/ES/SS, a 32-bit TSS with base 0 and limit 0x67, CR0 = PE|ET,
//!    EFLAGS with IF, TF, VM clear), puts the start info's address in `ebx` and jumps to the
//!    `PHYS32_ENTRY`.
//!
//! shared_info and the grant frames rpvboot mapped are at GFNs outside RAM (the PVH start-up
//! path puts them there); [`boot_selected`] refuses to go on if a caller says otherwise, so the
//! next kernel finds every RAM page of the memory map as plain RAM and maps those frames itself.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Range;

use bootplan::pvh::{self, DestKind, Keep, MemmapEntry, ModuleIn, Op, PvhInput, PvhLayout};
use bootplan::select::Selected;

use crate::memory::VIRT_BASE;

/// What the PVH start-up path knows about the domain and hands to the handover.
#[derive(Debug, Clone, Default)]
pub struct PvhPlatform {
    /// The memory map from rpvboot's own `hvm_start_info` (or `XENMEM_memory_map`).
    pub memmap: Vec<MemmapEntry>,
    /// `rsdp_paddr` from rpvboot's own `hvm_start_info`.
    pub rsdp_paddr: u64,
    /// Physical ranges rpvboot had Xen map (shared_info, grant frames): must be outside RAM.
    pub foreign: Vec<(&'static str, Range<u64>)>,
}

/// What the handover needs from the PVH start: the memory map, the RSDP, and where shared_info
/// and the grant frames were put.
pub fn platform(boot: &super::Boot) -> PvhPlatform {
    let memmap = boot.memmap.entries().iter().map(|e| MemmapEntry { addr: e.addr, size: e.size, ty: e.kind }).collect();
    let gfn = |g: u64| g.saturating_mul(4096);
    PvhPlatform {
        memmap,
        rsdp_paddr: boot.info.rsdp_paddr,
        foreign: alloc::vec![
            ("shared_info", gfn(boot.grant_gfn.saturating_sub(1))..gfn(boot.grant_gfn)),
            ("the grant table", gfn(boot.grant_gfn)..gfn(boot.grant_gfn.saturating_add(super::GRANT_FRAMES))),
        ],
    }
}

/// A page, page-aligned in the heap.
#[repr(C, align(4096))]
#[derive(Clone, Copy)]
struct Page([u8; 4096]);

/// Trampoline page layout (offsets in the page; the code is at 0).
const T_GDT: usize = 0x400;
const T_GDTR: usize = 0x440;
const T_ENTRY: usize = 0x450;
const T_EBX: usize = 0x454;
const T_NOPS: usize = 0x458;
const T_OPS: usize = 0x480;
const T_OP_SIZE: usize = 16;
/// The stack (for the far return and `popfd`) is the page's last 256 bytes.
const T_STACK_BOTTOM: usize = 0xf00;
/// Ops that fit between the op array's start and the stack.
const T_MAX_OPS: usize = (T_STACK_BOTTOM - T_OPS) / T_OP_SIZE;
/// GDT: null, flat 32-bit code (0x08), flat 32-bit data (0x10), 32-bit available TSS with
/// base 0 and limit 0x67 (0x18).
const GDT: [u64; 4] = [0, 0x00cf_9a00_0000_ffff, 0x00cf_9200_0000_ffff, 0x0000_8900_0000_0067];
/// Tries to find a trampoline page outside every destination.
const PAGE_TRIES: usize = 64;

extern "C" {
    static pvh_tramp_start: u8;
    static pvh_tramp_end: u8;
    fn pvh_enter(page: u64, cr3: u64) -> !;
}

// The trampoline: copied into a page below 4 GiB outside every destination and entered at
// its identity address with rdi = that address (docs/pvh-handover.md §3). Position-independent.
core::arch::global_asm!(
    ".section .text.pvh_tramp, \"ax\"",
    ".global pvh_tramp_start",
    ".global pvh_tramp_end",
    ".global pvh_enter",
    ".code64",
    // pvh_enter(page = rdi, cr3 = rsi): runs at rpvboot's address; the new tables keep it mapped.
    "pvh_enter:",
    "cli",
    "mov %rsi, %cr3",
    "jmp *%rdi",
    "pvh_tramp_start:",
    "lea 0x1000(%rdi), %rsp",
    "lgdt 0x440(%rdi)",
    "lea (.Lpvh_c32 - pvh_tramp_start)(%rdi), %rax",
    "pushq $0x08",
    "pushq %rax",
    "lretq",
    ".code32",
    ".Lpvh_c32:",
    "mov $0x10, %eax",
    "mov %eax, %ds",
    "mov %eax, %es",
    "mov %eax, %ss",
    "mov %eax, %fs",
    "mov %eax, %gs",
    "mov %edi, %esi",
    // Leave long mode: paging off (in compatibility mode), then EFER.LME off, CR4 0.
    "mov %cr0, %eax",
    "and $0x7fffffff, %eax",
    "mov %eax, %cr0",
    "mov $0xc0000080, %ecx",
    "rdmsr",
    "and $0xfffffeff, %eax",
    "wrmsr",
    "xor %eax, %eax",
    "mov %eax, %cr4",
    "mov %eax, %cr3",
    // The copy program: {src (0xffffffff = zero), dst, len, 0} per op.
    "mov 0x458(%esi), %ebp",
    "lea 0x480(%esi), %edx",
    ".Lpvh_op:",
    "test %ebp, %ebp",
    "jz .Lpvh_done",
    "mov 8(%edx), %ecx",
    "mov 4(%edx), %edi",
    "mov 0(%edx), %eax",
    "cmp $0xffffffff, %eax",
    "je .Lpvh_zero",
    "push %esi",
    "mov %eax, %esi",
    "cmp %esi, %edi",
    "jbe .Lpvh_fwd",
    // dst above src: copy backwards (memmove).
    "lea -1(%esi,%ecx), %esi",
    "lea -1(%edi,%ecx), %edi",
    "std",
    "rep movsb",
    "cld",
    "pop %esi",
    "jmp .Lpvh_next",
    ".Lpvh_fwd:",
    "cld",
    "rep movsb",
    "pop %esi",
    "jmp .Lpvh_next",
    ".Lpvh_zero:",
    "xor %eax, %eax",
    "cld",
    "rep stosb",
    ".Lpvh_next:",
    "add $16, %edx",
    "dec %ebp",
    "jmp .Lpvh_op",
    // The PVH entry state (pvh.pandoc).
    ".Lpvh_done:",
    "mov $0x18, %eax",
    "ltr %ax",
    "mov $0x11, %eax",
    "mov %eax, %cr0",
    "pushl $2",
    "popfl",
    "mov 0x454(%esi), %ebx",
    "mov 0x450(%esi), %eax",
    "xor %ecx, %ecx",
    "xor %edx, %edx",
    "xor %ebp, %ebp",
    "xor %edi, %edi",
    "xor %esi, %esi",
    "jmp *%eax",
    "pvh_tramp_end:",
    ".code64",
    ".text",
    options(att_syntax)
);

// The trampoline's offsets above are the constants the Rust side writes at.
const _: () = assert!(T_GDTR == 0x440 && T_ENTRY == 0x450 && T_EBX == 0x454 && T_NOPS == 0x458 && T_OPS == 0x480);

/// The physical address of a byte rpvboot can see (`None` below its map).
fn phys_of(p: *const u8) -> Option<u64> {
    (p as u64).checked_sub(VIRT_BASE)
}

/// A fresh, zeroed, page-aligned page from the heap.
fn new_page() -> Result<Vec<Page>, String> {
    let mut v: Vec<Page> = Vec::new();
    v.try_reserve_exact(1).map_err(|_| String::from("out of memory for a trampoline page"))?;
    v.push(Page([0; 4096]));
    Ok(v)
}

fn page_phys(p: &[Page]) -> Result<u64, String> {
    phys_of(p.as_ptr().cast()).ok_or_else(|| String::from("a heap page outside rpvboot's map"))
}

fn overlaps(a: &Range<u64>, b: &Range<u64>) -> bool {
    a.start < b.end && b.start < a.end
}

/// Where the bytes of each destination are now.
fn source_va(sel: &Selected, l: &PvhLayout, kind: DestKind) -> Option<*const u8> {
    let img = &sel.kernel.image;
    match kind {
        DestKind::Segment(i) => {
            let s = img.kernel.segments.get(i)?;
            let off = usize::try_from(s.offset).ok()?;
            img.elf.get(off..).map(<[u8]>::as_ptr)
        }
        DestKind::Symbols => Some(img.symbols.as_ptr()),
        DestKind::Module(i) => sel.modules.get(i).map(|m| m.as_ptr()),
        DestKind::StartInfo => Some(l.info.as_ptr()),
    }
}

/// Boots what `bootplan::select` chose (checked for a PVH domain); returns only with the
/// reason it could not. `last` finishes the disks just before the point of no return.
pub fn boot_selected(
    p: &PvhPlatform,
    verbose: bool,
    sel: &Selected,
    last: &mut dyn FnMut() -> Result<(), String>,
) -> String {
    match prepare(p, verbose, sel) {
        Ok(mut t) => {
            if let Err(e) = last() {
                return format!("devices: {e}");
            }
            crate::println!("rpvboot: starting the kernel (PVH, entry {:#x})", t.entry);
            crate::trace::report();
            let _ = crate::console::drain();
            jump(&mut t)
        }
        Err(e) => e,
    }
}

/// Everything ready for the jump.
struct Ready {
    /// The trampoline page (code, GDT, program, stack).
    page: Vec<Page>,
    /// PML4, PDPT and PD for the identity map.
    tables: Vec<Page>,
    entry: u32,
    /// The plan: its start-info bytes are a copy source, alive until the jump.
    _layout: PvhLayout,
    /// Relocated sources, alive until the jump.
    _moved: Vec<Vec<u8>>,
    /// Heap pages refused as trampoline pages, held so the heap does not give them back.
    _held: Vec<Vec<Page>>,
}

fn plan(p: &PvhPlatform, sel: &Selected, keep: &[Keep]) -> Result<PvhLayout, String> {
    let mods: Vec<ModuleIn<'_>> = sel.modules.iter().map(|m| ModuleIn { len: m.len() as u64, cmdline: b"" }).collect();
    let input = PvhInput {
        kernel: &sel.kernel.image.kernel,
        symbols_len: sel.kernel.image.symbols.len() as u64,
        modules: &mods,
        cmdline: sel.cmdline.as_bytes(),
        memmap: &p.memmap,
        rsdp_paddr: p.rsdp_paddr,
        keep,
    };
    pvh::plan(&input).map_err(|e| format!("PVH layout: {e}"))
}

fn prepare(p: &PvhPlatform, verbose: bool, sel: &Selected) -> Result<Ready, String> {
    for (what, r) in &p.foreign {
        if p.memmap.iter().any(|e| e.ty == pvh::MEMMAP_RAM && e.range().is_some_and(|g| overlaps(&g, r))) {
            return Err(format!("{what} is mapped at {:#x}, inside RAM: the next kernel would inherit it", r.start));
        }
    }
    let first = plan(p, sel, &[])?;
    // The trampoline page: below 4 GiB, outside every destination.
    let mut held = Vec::new();
    let page = loop {
        let pg = new_page()?;
        let at = page_phys(&pg)?;
        let r = at..at.saturating_add(4096);
        if r.end <= 1 << 32 && !first.dests.iter().any(|d| overlaps(&d.range(), &r)) {
            break pg;
        }
        held.push(pg);
        if held.len() >= PAGE_TRIES {
            return Err(String::from("no heap page outside the new kernel's destinations for the trampoline"));
        }
    };
    let tramp = page_phys(&page)?;
    let keep = [Keep { what: "the trampoline page", range: tramp..tramp + 4096 }];
    let layout = plan(p, sel, &keep)?;
    let (ops, moved) = program(sel, &layout)?;
    if verbose {
        crate::println!(
            "rpvboot: PVH layout: start info {:#x}, modules {:x?}, end {:#x}, trampoline {:#x}, {} steps, {} sources relocated",
            layout.start_info_paddr,
            layout.modules,
            layout.end,
            tramp,
            ops.len(),
            moved.len()
        );
    }
    let mut page = page;
    write_trampoline(&mut page, tramp, &layout, &ops)?;
    let tables = identity_tables(tramp)?;
    Ok(Ready { page, tables, entry: layout.entry, _layout: layout, _moved: moved, _held: held })
}

/// The copy program, with the sources that must move relocated (into heap buffers outside
/// every destination, below 4 GiB).
fn program(sel: &Selected, l: &PvhLayout) -> Result<(Vec<Op>, Vec<Vec<u8>>), String> {
    let mut bad = None;
    let (mut copies, zeroes) = pvh::fill_ops(l, |d| match source_va(sel, l, d.what).and_then(phys_of) {
        Some(a) => a,
        None => {
            bad = Some(d.what);
            0
        }
    });
    if let Some(k) = bad {
        return Err(format!("no source for {k:?}"));
    }
    // The sources' kinds, in the order fill_ops produced the copies.
    let kinds: Vec<DestKind> = l.dests.iter().filter(|d| d.filesz > 0).map(|d| d.what).collect();
    let mut moved: Vec<Vec<u8>> = Vec::new();
    let mut held: Vec<Vec<u8>> = Vec::new();
    for _round in 0..2 {
        let s = pvh::stage(&copies, &zeroes);
        if s.relocate.is_empty() {
            if s.ops.len() > T_MAX_OPS {
                return Err(format!("{} copy steps, the trampoline holds {T_MAX_OPS}", s.ops.len()));
            }
            drop(held);
            return Ok((s.ops, moved));
        }
        for &i in &s.relocate {
            let (Some(c), Some(&kind)) = (copies.get(i).copied(), kinds.get(i)) else { continue };
            let src = source_va(sel, l, kind).ok_or("a source vanished")?;
            let len = usize::try_from(c.len).map_err(|_| "a source too long")?;
            let new = relocated(src, len, l, &mut held)?;
            if let Some(cc) = copies.get_mut(i) {
                cc.src = phys_of(new.as_ptr());
            }
            moved.push(new);
        }
    }
    Err(String::from("the copy program still needs relocations"))
}

/// A copy of `len` bytes at `src` in a heap buffer outside every destination and below 4 GiB;
/// buffers that land wrong are kept in `held` so the heap gives another.
fn relocated(src: *const u8, len: usize, l: &PvhLayout, held: &mut Vec<Vec<u8>>) -> Result<Vec<u8>, String> {
    for _ in 0..PAGE_TRIES {
        let mut v: Vec<u8> = Vec::new();
        v.try_reserve_exact(len).map_err(|_| format!("out of memory relocating {len} bytes"))?;
        let at = phys_of(v.as_ptr()).ok_or("a heap buffer outside rpvboot's map")?;
        let r = at..at.saturating_add(len as u64);
        if r.end <= 1 << 32 && !l.dests.iter().any(|d| overlaps(&d.range(), &r)) {
            // SAFETY: `src` points at `len` readable bytes of a buffer `sel` owns (source_va), and
            // `v` has room for `len`; the two are distinct allocations.
            unsafe {
                core::ptr::copy_nonoverlapping(src, v.as_mut_ptr(), len);
                v.set_len(len);
            }
            return Ok(v);
        }
        held.push(v);
    }
    Err(String::from("no heap memory outside the new kernel's destinations to relocate a source"))
}

fn put(b: &mut [u8], at: usize, v: &[u8]) -> Result<(), String> {
    b.get_mut(at..at + v.len()).ok_or("trampoline page overflow")?.copy_from_slice(v);
    Ok(())
}

/// The trampoline page: code at 0, GDT, GDTR (its base is the page's physical address, which
/// is also where it runs), entry, `ebx`, the program.
fn write_trampoline(page: &mut [Page], tramp: u64, l: &PvhLayout, ops: &[Op]) -> Result<(), String> {
    // SAFETY: both symbols are in .text.pvh_tramp (global_asm above), start before end.
    let code = unsafe {
        let s = core::ptr::addr_of!(pvh_tramp_start);
        let e = core::ptr::addr_of!(pvh_tramp_end);
        core::slice::from_raw_parts(s, (e as usize).saturating_sub(s as usize))
    };
    let b = &mut page.first_mut().ok_or("no trampoline page")?.0;
    if code.len() > T_GDT {
        return Err(format!("trampoline code is {} bytes", code.len()));
    }
    put(b, 0, code)?;
    for (i, d) in GDT.iter().enumerate() {
        put(b, T_GDT + 8 * i, &d.to_le_bytes())?;
    }
    put(b, T_GDTR, &((GDT.len() * 8 - 1) as u16).to_le_bytes())?;
    put(b, T_GDTR + 2, &(tramp + T_GDT as u64).to_le_bytes())?;
    put(b, T_ENTRY, &l.entry.to_le_bytes())?;
    let ebx = u32::try_from(l.start_info_paddr).map_err(|_| "start info above 4 GiB")?;
    put(b, T_EBX, &ebx.to_le_bytes())?;
    put(b, T_NOPS, &(ops.len() as u32).to_le_bytes())?;
    for (i, o) in ops.iter().enumerate() {
        let a32 = |v: u64| u32::try_from(v).map_err(|_| format!("copy step {i} above 4 GiB"));
        let src = match o.src {
            Some(s) => a32(s)?,
            None => u32::MAX,
        };
        let at = T_OPS + i * T_OP_SIZE;
        put(b, at, &src.to_le_bytes())?;
        put(b, at + 4, &a32(o.dst)?.to_le_bytes())?;
        put(b, at + 8, &a32(o.len)?.to_le_bytes())?;
    }
    Ok(())
}

/// PDPT and PD that identity-map the 2 MiB around `tramp` (one large page), plus room for
/// the PML4 that [`jump`] fills from the current one.
fn identity_tables(tramp: u64) -> Result<Vec<Page>, String> {
    let mut t: Vec<Page> = Vec::new();
    t.try_reserve_exact(3).map_err(|_| String::from("out of memory for the identity tables"))?;
    t.resize(3, Page([0; 4096]));
    let pdpt = phys_of(t.get(1).ok_or("tables")?.0.as_ptr()).ok_or("tables outside the map")?;
    let pd = phys_of(t.get(2).ok_or("tables")?.0.as_ptr()).ok_or("tables outside the map")?;
    let set = |p: &mut Page, idx: u64, v: u64| {
        let at = (idx as usize & 511) * 8;
        if let Some(d) = p.0.get_mut(at..at + 8) {
            d.copy_from_slice(&v.to_le_bytes());
        }
    };
    if let Some(p) = t.get_mut(0) {
        set(p, 0, pdpt | 0x3);
    }
    if let Some(p) = t.get_mut(1) {
        set(p, tramp >> 30, pd | 0x3);
    }
    if let Some(p) = t.get_mut(2) {
        set(p, tramp >> 21, (tramp & !0x1f_ffff) | 0x83);
    }
    Ok(t)
}

/// Loads the identity tables (a copy of the current PML4 with slot 0 replaced, so rpvboot's
/// own slot stays mapped) and enters the trampoline. No return.
fn jump(t: &mut Ready) -> ! {
    let cr3: u64;
    // SAFETY: reading CR3 has no side effect.
    unsafe { core::arch::asm!("mov {}, cr3", out(reg) cr3, options(nomem, nostack)) };
    let cur = (cr3 & 0x000f_ffff_ffff_f000).saturating_add(VIRT_BASE) as *const [u64; 512];
    // SAFETY: every RAM page, the page tables included, is mapped at VIRT_BASE + its physical
    // address (memory.rs); CR3 names the live PML4, which we only read.
    let current = unsafe { *cur };
    let slot0 = t.tables.first().map(|p| p.0).unwrap_or([0; 4096]);
    let mut pml4 = current;
    pml4[0] = u64::from_le_bytes(slot0.get(..8).and_then(|s| s.try_into().ok()).unwrap_or([0; 8]));
    let (Some(p0), Some(page)) = (t.tables.first_mut(), t.page.first()) else {
        crate::exit::shutdown(xenfront::raw::ShutdownReason::Crash);
    };
    for (i, e) in pml4.iter().enumerate() {
        if let Some(d) = p0.0.get_mut(i * 8..i * 8 + 8) {
            d.copy_from_slice(&e.to_le_bytes());
        }
    }
    let new_cr3 = phys_of(p0.0.as_ptr()).unwrap_or(0);
    let tramp = phys_of(page.0.as_ptr()).unwrap_or(0);
    let _ = t.entry;
    if new_cr3 == 0 || tramp == 0 {
        crate::exit::shutdown(xenfront::raw::ShutdownReason::Crash);
    }
    // SAFETY: the new tables map rpvboot's slot as before and the trampoline page at its
    // physical address; the trampoline never returns. The pages stay allocated (never freed:
    // nothing of rpvboot runs after this).
    unsafe { pvh_enter(tramp, new_cr3) }
}
