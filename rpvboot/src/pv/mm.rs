//! PV memory: rpvboot's one mapping of the whole domain at `VA = VIRT_BASE + (PFN << 12)`.
//!
//! `VIRT_BASE` ([`bootplan::check::LOADER_VIRT_BASE`], 0x7f80_0000_0000) is the start of L4
//! slot 255, so the whole mapping is one slot (link.ld says why that slot). Xen/libxc map only
//! the bootstrap region, PFNs `[0, F0)` (image, p2m, start_info, xenstore and console rings,
//! bootstrap page tables, boot stack, padding up to a 4 MiB boundary). rpvboot adds page
//! tables so that every PFN `< nr_pages` (up to 512 GiB) is mapped at [`pfn_to_va`] too, 2 MiB
//! at a time when the heap first claims a page of it ([`ensure_mapped`]):
//!
//! ```text
//! PFN            what (at VIRT_BASE + PFN<<12; VA 0 and the rest of slot 0 stay unmapped)
//! 0              page 0: libxc padding, unmapped
//! 0x1000..       rpvboot image (.text, hypercall page, .rodata/notes, .data, .bss with the
//!                stack, its unmapped guard page, the shared_info page, the map window)
//! ...            libxc's p2m, start_info, xenstore ring, console ring, bootstrap page
//!                tables (read-only), boot stack, padding          — up to F0 (4 MiB aligned)
//! F0..F0+k       the k page tables rpvboot adds (L1s, then L2s), mapped read-only
//! F0+k..         free RAM: the heap grows upwards from here on demand (heap.rs);
//!                handover/DMA pages can be taken from the top down (heap::take_top_pages)
//! nr_pages       end of RAM; everything above is unmapped (the slot covers up to 512 GiB)
//! ```
//! New frames are filled through a one-page window (a `.bss` page temporarily re-pointed with
//! `update_va_mapping`), then hooked into the live tree with batched `mmu_update`s, so no
//! page-table frame ever keeps a writable mapping (Xen would refuse to type it).

use core::ops::Range;

use crate::hypervisor::hypercall::{self, XenError};
use crate::memory::{pfn_to_va, va_to_pfn};
use xenfront::raw::{pte, MmuUpdate, M2P_VIRT_START, MMU_NORMAL_PT_UPDATE};
use xenfront::start_info::StartInfo;

const ENTRIES: u64 = 512;
/// PFNs per L1 table (2 MiB).
const L1_SPAN: u64 = ENTRIES;
/// rpvboot's L4 slot: everything it maps is in it.
const SLOT: u64 = bootplan::check::LOADER_L4_SLOT;
/// PFNs one L4 slot can map (512 GiB); RAM above this is not mapped (nor used by rpvboot).
const SLOT_PAGES: u64 = ENTRIES * ENTRIES * ENTRIES;

/// What went wrong while taking over memory.
#[derive(Clone, Debug)]
pub enum MmError {
    /// A page-table entry that should be present is not, or points outside the known tables.
    BadTable(&'static str, u64),
    /// The bootstrap mapping does not cover what start_info says it holds.
    BadBootstrap(&'static str, u64),
    /// Too little RAM beyond the bootstrap region for page tables and a heap.
    NotEnoughMemory { nr_pages: u64, needed: u64 },
    /// A hypercall failed.
    Xen(&'static str, XenError),
}

impl core::fmt::Display for MmError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadTable(what, v) => write!(f, "page tables: {what} ({v:#x})"),
            Self::BadBootstrap(what, v) => write!(f, "bootstrap mapping: {what} ({v:#x})"),
            Self::NotEnoughMemory { nr_pages, needed } => {
                write!(f, "not enough memory: {nr_pages} pages, need at least {needed}")
            }
            Self::Xen(what, e) => write!(f, "{what}: {e}"),
        }
    }
}

/// The layout established by [`init`]. All ranges are PFNs; VA = [`pfn_to_va`].
#[derive(Clone, Debug)]
pub struct MemoryMap {
    /// Pages of the domain.
    pub nr_pages: u64,
    /// End of libxc's bootstrap mapping (PFN of `virt_pgtab_end`).
    pub bootstrap_end: u64,
    /// Frames reserved for the page tables rpvboot adds (read-only mapped).
    pub new_tables: Range<u64>,
    /// Free RAM: `[free.start, free.end)`, mapped read-write on demand ([`ensure_mapped`]).
    /// The heap uses it.
    pub free: Range<u64>,
}

#[repr(C, align(4096))]
struct Page([u8; 4096]);

/// The window through which new page-table frames are filled.
static mut WINDOW: Page = Page([0; 4096]);
/// The page whose VA shared_info is mapped over.
static mut SHARED_INFO_PAGE: Page = Page([0; 4096]);

static P2M: spin::Once<(u64, u64)> = spin::Once::new(); // (VA of mfn_list, nr_pages)

/// The MFN of `pfn` from the p2m list.
pub fn pfn_to_mfn(pfn: u64) -> Option<u64> {
    let &(list, n) = P2M.get()?;
    if pfn >= n {
        return None;
    }
    // SAFETY: init checked that [list, list + 8n) is inside the bootstrap mapping; pfn < n.
    Some(unsafe { core::ptr::read_volatile((list + pfn * 8) as *const u64) })
}

/// The PFN Xen's machine-to-phys table records for `mfn` (not checked against our p2m).
///
/// # Safety
/// `mfn` must be a frame of this domain (Xen's m2p is mapped only up to the host's max MFN).
pub unsafe fn m2p(mfn: u64) -> u64 {
    // SAFETY: the read-only m2p is mapped by Xen in every PV guest at M2P_VIRT_START; the
    // caller guarantees the MFN is in range.
    unsafe { core::ptr::read_volatile((M2P_VIRT_START + mfn * 8) as *const u64) }
}

/// The PFN of one of our own MFNs, checked against the p2m.
pub fn mfn_to_pfn(mfn: u64) -> Option<u64> {
    // SAFETY: only used on MFNs Xen handed us (start_info, our own page-table entries); the
    // answer is verified below.
    let pfn = unsafe { m2p(mfn) };
    (pfn_to_mfn(pfn) == Some(mfn)).then_some(pfn)
}

/// MFN backing the page at `va` (for grants and DMA-style sharing).
pub(crate) fn virt_to_mfn(va: u64) -> Option<u64> {
    pfn_to_mfn(va_to_pfn(va)?)
}

fn read_entry(table_va: u64, idx: u64) -> u64 {
    // SAFETY: callers pass the VA of a mapped page-table frame (checked by `table_va_of`) and
    // idx < 512; page tables are read-only for us but readable.
    unsafe { core::ptr::read_volatile((table_va + idx * 8) as *const u64) }
}

/// VA of the table a present entry points to, if it lies in `known` (a PFN range).
fn table_va_of(entry: u64, known: &Range<u64>) -> Result<u64, MmError> {
    if entry & pte::P == 0 {
        return Err(MmError::BadTable("entry not present", entry));
    }
    let mfn = (entry & pte::ADDR_MASK) >> 12;
    let pfn = mfn_to_pfn(mfn).ok_or(MmError::BadTable("table MFN not ours", mfn))?;
    if !known.contains(&pfn) {
        return Err(MmError::BadTable("table outside the bootstrap tables", pfn));
    }
    Ok(pfn_to_va(pfn))
}

/// Maps shared_info (a machine address) over a page of our .bss and returns its VA.
pub fn map_shared_info(ma: u64) -> Result<u64, XenError> {
    let va = &raw mut SHARED_INFO_PAGE as u64;
    // SAFETY: the page is ours and nothing references its old contents.
    unsafe { hypercall::update_va_mapping(va, (ma & pte::ADDR_MASK) | pte::L1_RW | pte::D) }?;
    Ok(va)
}

/// Unmaps the page at `va` (PFN 0, the stack guard).
///
/// # Safety
/// Nothing may use the page afterwards.
pub unsafe fn unmap(va: u64) -> Result<(), XenError> {
    // SAFETY: forwarded contract.
    unsafe { hypercall::update_va_mapping(va, 0) }
}

/// Records where the p2m list is (start_info.mfn_list), so that [`pfn_to_mfn`] and
/// [`mfn_to_pfn`] work. [`init`] checks afterwards that the list lies in the bootstrap mapping.
pub fn set_p2m(si: &StartInfo) {
    P2M.call_once(|| (si.mfn_list, si.nr_pages));
}

/// Makes our mapping of `pfn` read-only. The handover needs this for every frame that will
/// become a page table of the next kernel (Xen refuses to type a frame that has a writable
/// mapping anywhere: docs/handover.md P2); the whole domain is mapped RW at [`pfn_to_va`].
///
/// # Safety
/// Nothing may write the page through this mapping afterwards (writes fault).
pub unsafe fn map_readonly(pfn: u64) -> Result<(), XenError> {
    let mfn = pfn_to_mfn(pfn).ok_or(XenError(-22))?;
    // SAFETY: same frame, fewer rights; the caller guarantees no writer remains.
    unsafe { hypercall::update_va_mapping(pfn_to_va(pfn), (mfn << 12) | pte::L1_RO) }
}

/// Takes over memory: records the p2m, finds the bootstrap mapping, and plans the mapping of
/// every other page of the domain at [`pfn_to_va`] (module docs), which [`ensure_mapped`] then
/// makes on demand. Call once, early.
pub fn init(si: &StartInfo) -> Result<MemoryMap, MmError> {
    // Beyond one slot nothing is mapped; the p2m still covers all of it.
    let nr = si.nr_pages.min(SLOT_PAGES);
    // Bootstrap tables: [pt_base, +nr_pt_frames) as PFNs.
    let pt_pfn = va_to_pfn(si.pt_base).ok_or(MmError::BadBootstrap("pt_base below the image", si.pt_base))?;
    let boot_tables = pt_pfn..pt_pfn.saturating_add(si.nr_pt_frames);
    set_p2m(si);

    let l4 = si.pt_base;
    let l3 = table_va_of(read_entry(l4, SLOT), &boot_tables)?;
    // Walk L3[0..] / L2[..] of our slot until the first absent L2 entry: that is F0.
    let mut chunks = 0u64;
    'outer: for g in 0..ENTRIES {
        let l3e = read_entry(l3, g);
        if l3e & pte::P == 0 {
            break;
        }
        let l2 = table_va_of(l3e, &boot_tables)?;
        for j in 0..ENTRIES {
            if read_entry(l2, j) & pte::P == 0 {
                break 'outer;
            }
            chunks += 1;
        }
    }
    let bootstrap_end = chunks * L1_SPAN;
    let p2m_end = si.mfn_list.saturating_add(nr.saturating_mul(8));
    if bootstrap_end == 0 || pfn_to_va(bootstrap_end) < p2m_end || bootstrap_end > nr {
        return Err(MmError::BadBootstrap("end of mapping vs p2m / nr_pages", bootstrap_end));
    }
    if boot_tables.end > bootstrap_end {
        return Err(MmError::BadBootstrap("page tables beyond the mapping", boot_tables.end));
    }
    // The last bootstrap L1 must be full (libxc maps up to a 4 MiB boundary).
    let last_l2 = table_va_of(read_entry(l3, (chunks - 1) / ENTRIES), &boot_tables)?;
    let last_l1 = table_va_of(read_entry(last_l2, (chunks - 1) % ENTRIES), &boot_tables)?;
    if read_entry(last_l1, ENTRIES - 1) & pte::P == 0 {
        return Err(MmError::BadBootstrap("last bootstrap L1 not full", chunks));
    }

    // Plan: one L1 per 2 MiB chunk in [c0, c1), one L2 per GiB lacking one, all in a block of
    // frames right after the bootstrap region (filled and hooked by `ensure_mapped`).
    let c0 = chunks;
    let c1 = nr.div_ceil(L1_SPAN);
    let n_l1 = c1.saturating_sub(c0);
    let g1 = c1.div_ceil(ENTRIES);
    let mut st = LAZY.lock();
    let mut n_l2 = 0u64;
    for g in c0 / ENTRIES..g1 {
        if read_entry(l3, g) & pte::P == 0 {
            if let Some(slot) = st.l2_new.get_mut(g as usize) {
                *slot = Some(bootstrap_end + n_l1 + n_l2);
                n_l2 += 1;
            }
        }
    }
    let k = n_l1 + n_l2;
    let tables = bootstrap_end..bootstrap_end + k;
    let needed = tables.end + 256; // at least 1 MiB of heap
    if needed > nr {
        return Err(MmError::NotEnoughMemory { nr_pages: nr, needed });
    }
    let window = &raw mut WINDOW as u64;
    let window_pfn = va_to_pfn(window).ok_or(MmError::BadBootstrap("window below the image", window))?;
    st.window_pte =
        (pfn_to_mfn(window_pfn).ok_or(MmError::BadBootstrap("PFN without MFN", window_pfn))? << 12) | pte::L1_RW;
    st.l3 = l3;
    st.l3_mfn = (read_entry(l4, SLOT) & pte::ADDR_MASK) >> 12;
    st.nr = nr;
    st.c0 = c0;
    st.tables = tables.clone();
    st.ready = true;
    Ok(MemoryMap { nr_pages: si.nr_pages, bootstrap_end, new_tables: tables.clone(), free: tables.end..nr })
}

/// The on-demand mapping's state (set by [`init`]).
struct Lazy {
    ready: bool,
    /// PFNs mapped at most (the domain, capped at one slot).
    nr: u64,
    /// First chunk (2 MiB) after the bootstrap region: chunk `c`'s L1 is PFN `tables.start + c - c0`.
    c0: u64,
    /// The frames reserved for new tables (read-only once mapped).
    tables: Range<u64>,
    /// VA and MFN of our slot's L3 (libxc's).
    l3: u64,
    l3_mfn: u64,
    /// Per GiB without a libxc L2: the PFN of the one rpvboot adds.
    l2_new: [Option<u64>; ENTRIES as usize],
    /// Which of those are hooked into the L3.
    l2_hooked: [bool; ENTRIES as usize],
    /// One bit per chunk: mapped.
    mapped: [u64; (SLOT_PAGES / L1_SPAN / 64) as usize],
    /// The window's own PTE (restored before any new table is typed).
    window_pte: u64,
    /// Tables filled and hooked so far (for the log).
    hooked: u64,
}

static LAZY: spin::Mutex<Lazy> = spin::Mutex::new(Lazy {
    ready: false,
    nr: 0,
    c0: 0,
    tables: 0..0,
    l3: 0,
    l3_mfn: 0,
    l2_new: [None; ENTRIES as usize],
    l2_hooked: [false; ENTRIES as usize],
    mapped: [0; (SLOT_PAGES / L1_SPAN / 64) as usize],
    window_pte: 0,
    hooked: 0,
});

/// Page tables rpvboot has filled and hooked so far.
pub fn tables_hooked() -> u64 {
    LAZY.lock().hooked
}

/// Makes sure every PFN in `pfns` (below the mapped limit) is mapped at [`pfn_to_va`]: fills
/// the L1 of each 2 MiB chunk not mapped yet (and the L2 of its GiB if libxc made none)
/// through the window and hooks them in with batched `mmu_update`s. Mapping on demand keeps
/// start-up short: Xen validates all 512 entries of every L1 hooked in, which for the whole
/// of a 192 MiB domain took 54–152 ms under TCG. The heap calls this for what it claims.
pub fn ensure_mapped(pfns: Range<u64>) -> Result<(), MmError> {
    let mut st = LAZY.lock();
    if !st.ready {
        return Err(MmError::BadTable("memory not taken over yet", pfns.start));
    }
    let (lo, hi) = (pfns.start.max(st.c0 * L1_SPAN), pfns.end.min(st.nr));
    if lo >= hi {
        return Ok(());
    }
    let window = &raw mut WINDOW as u64;
    let mfn = |pfn: u64| pfn_to_mfn(pfn).ok_or(MmError::BadBootstrap("PFN without MFN", pfn));
    let mut batch = Batch::new();
    let mut pending: [u64; 64] = [0; 64];
    let mut n_pending = 0usize;
    for c in lo / L1_SPAN..hi.div_ceil(L1_SPAN) {
        let (w, bit) = ((c / 64) as usize, 1u64 << (c % 64));
        if st.mapped.get(w).is_none_or(|&m| m & bit != 0) {
            continue;
        }
        let g = c / ENTRIES;
        // A GiB without an L2: add an empty one first (hooked now, so the L1s can go in).
        let new_l2 = st.l2_new.get(g as usize).copied().flatten();
        let l2_mfn = match new_l2 {
            Some(l2_pfn) => {
                if !st.l2_hooked.get(g as usize).copied().unwrap_or(true) {
                    restore_and_flush(window, st.window_pte, &mut batch)?;
                    mark(&mut st, &pending[..n_pending]);
                    n_pending = 0;
                    fill(window, mfn(l2_pfn)?, &[0; ENTRIES as usize])?;
                    batch.push(st.l3_mfn, g, (mfn(l2_pfn)? << 12) | pte::TABLE);
                    restore_and_flush(window, st.window_pte, &mut batch)?;
                    if let Some(h) = st.l2_hooked.get_mut(g as usize) {
                        *h = true;
                    }
                    st.hooked += 1;
                }
                mfn(l2_pfn)?
            }
            None => (read_entry(st.l3, g) & pte::ADDR_MASK) >> 12,
        };
        let mut entries = [0u64; ENTRIES as usize];
        for (i, e) in entries.iter_mut().enumerate() {
            let pfn = c * L1_SPAN + i as u64;
            if pfn >= st.nr {
                break;
            }
            let flags = if st.tables.contains(&pfn) { pte::L1_RO } else { pte::L1_RW };
            *e = (mfn(pfn)? << 12) | flags;
        }
        let l1_pfn = st.tables.start + (c - st.c0);
        fill(window, mfn(l1_pfn)?, &entries)?;
        batch.push(l2_mfn, c % ENTRIES, (mfn(l1_pfn)? << 12) | pte::TABLE);
        if let Some(p) = pending.get_mut(n_pending) {
            *p = c;
            n_pending += 1;
        }
        if n_pending == pending.len() {
            restore_and_flush(window, st.window_pte, &mut batch)?;
            mark(&mut st, &pending);
            n_pending = 0;
        }
    }
    restore_and_flush(window, st.window_pte, &mut batch)?;
    mark(&mut st, &pending[..n_pending]);
    Ok(())
}

/// Records chunks as mapped.
fn mark(st: &mut Lazy, chunks: &[u64]) {
    for &c in chunks {
        if let Some(m) = st.mapped.get_mut((c / 64) as usize) {
            *m |= 1 << (c % 64);
        }
    }
    st.hooked += chunks.len() as u64;
}

/// Points the window back at its own frame (no new table may keep a writable mapping when
/// Xen types it), then sends the batched hooks.
fn restore_and_flush(window: u64, window_pte: u64, batch: &mut Batch) -> Result<(), MmError> {
    if batch.n == 0 {
        return Ok(());
    }
    // SAFETY: the window page is ours; its own frame comes back.
    unsafe { hypercall::update_va_mapping(window, window_pte) }.map_err(|e| MmError::Xen("window restore", e))?;
    batch.flush()
}

/// Writes `entries` into frame `mfn` through the window page.
fn fill(window: u64, mfn: u64, entries: &[u64; ENTRIES as usize]) -> Result<(), MmError> {
    // SAFETY: the window is a .bss page nobody references; it now shows frame `mfn`.
    unsafe { hypercall::update_va_mapping(window, (mfn << 12) | pte::L1_RW) }
        .map_err(|e| MmError::Xen("window map", e))?;
    for (i, &e) in entries.iter().enumerate() {
        // SAFETY: window..window+4096 is mapped RW to the new frame; i < 512.
        unsafe { core::ptr::write_volatile((window as *mut u64).add(i), e) };
    }
    Ok(())
}

/// Batched `MMU_NORMAL_PT_UPDATE`s.
struct Batch {
    reqs: [MmuUpdate; 64],
    n: usize,
}

impl Batch {
    fn new() -> Self {
        Self { reqs: [MmuUpdate::default(); 64], n: 0 }
    }
    /// Adds a request; the caller flushes before the batch is full (64).
    fn push(&mut self, table_mfn: u64, idx: u64, val: u64) {
        if let Some(r) = self.reqs.get_mut(self.n) {
            *r = MmuUpdate { ptr: ((table_mfn << 12) + idx * 8) | MMU_NORMAL_PT_UPDATE, val };
            self.n += 1;
        }
    }
    fn flush(&mut self) -> Result<(), MmError> {
        let reqs = self.reqs.get(..self.n).unwrap_or(&[]);
        if !reqs.is_empty() {
            // SAFETY: each request installs a freshly filled, read-only-mapped table into an
            // empty slot: no existing mapping changes.
            let done = unsafe { hypercall::mmu_update(reqs) }.map_err(|e| MmError::Xen("mmu_update hook", e))?;
            if done != reqs.len() {
                return Err(MmError::Xen("mmu_update hook (partial)", XenError(-22)));
            }
        }
        self.n = 0;
        Ok(())
    }
}
