//! The global allocator: `talc` over the free RAM that start-up found (mapped at
//! [`crate::memory::pfn_to_va`]).
//!
//! The heap grows *upwards* from the bottom of free RAM, claiming memory only when talc runs
//! out, so rpvboot's footprint stays a PFN prefix `[0, heap_top)`. Callers that need whole
//! pages nobody else touches (the handover's target region) take them from the *top* with
//! [`take_top_pages`]; the two meet in the middle and never overlap.
//!
//! Allocations of [`BIG`] bytes or more are page-aligned: a decompressed kernel's segment
//! data then lies in whole pages that the handover can give to the new kernel as they are
//! (the p2m is a permutation, `boot::handover::plan_sources`) instead of copying them. The
//! wrapper also counts bytes in use and their peak ([`stats`]), to see what limits small
//! domains.

use core::alloc::{GlobalAlloc, Layout};
use core::ops::Range;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicUsize, Ordering};

use talc::base::binning::Binning;
use talc::base::Talc;
use talc::source::Source;

use crate::memory::{self as mm, PAGE_SIZE};

/// Smallest step by which the heap grows (keeps the number of `acquire`s low).
const GROW_STEP: usize = 2 << 20;

/// The heap's memory source: a bump pointer over `[next, limit)`.
#[derive(Debug)]
pub struct GrowUp {
    /// First unclaimed byte.
    next: usize,
    /// End of claimable memory (lowered by `take_top_pages`).
    limit: usize,
    /// talc's current heap end (0 before the first claim).
    heap_end: usize,
}

// SAFETY: `acquire` only hands talc memory in [next, limit), which init() set to free RAM owned
// by nobody else (mapped by `mm::ensure_mapped` before it is claimed), and it never touches the
// allocator through the global path.
unsafe impl Source for GrowUp {
    fn acquire<B: Binning>(talc: &mut Talc<Self, B>, layout: Layout) -> Result<(), ()> {
        let src = &talc.source;
        let want = layout
            .size()
            .checked_add(layout.align())
            .and_then(|s| s.checked_add(64 * 1024)) // talc metadata and tags
            .ok_or(())?
            .max(GROW_STEP)
            .next_multiple_of(PAGE_SIZE as usize);
        let (next, limit, heap_end) = (src.next, src.limit, src.heap_end);
        // A request that cannot fit must not claim the rest of RAM on its way to failing:
        // the heap never shrinks, and the handover needs those pages (a corrupt kernel's
        // huge size hint would otherwise leave nothing for the fallback entry).
        let need = layout.size().saturating_add(layout.align()).saturating_add(64 * 1024);
        if next.saturating_add(need) > limit {
            return Err(());
        }
        let new_end = next.saturating_add(want).min(limit);
        if new_end <= next {
            return Err(());
        }
        // Free RAM is mapped when first claimed (mm.rs maps 2 MiB chunks on demand).
        mm::ensure_mapped(mm::va_to_pfn(next as u64).ok_or(())?..pfn_up(new_end)).map_err(|_| ())?;
        let end = if heap_end == 0 {
            // SAFETY: [next, new_end) is mapped RW free RAM that only the heap uses.
            unsafe { talc.claim(next as *mut u8, new_end - next) }.ok_or(())?
        } else {
            let he = NonNull::new(heap_end as *mut u8).ok_or(())?;
            // SAFETY: as above; heap_end..next was part of earlier claims, next..new_end is new.
            unsafe { talc.extend(he, new_end as *mut u8) }
        };
        let src = &mut talc.source;
        src.heap_end = end.as_ptr() as usize;
        src.next = new_end;
        Ok(())
    }
}

static HEAP: talc::TalcLock<spin::Mutex<()>, GrowUp> = talc::TalcLock::new(GrowUp { next: 0, limit: 0, heap_end: 0 });

/// Allocations at least this big are page-aligned.
pub const BIG: usize = 64 << 10;

/// Bytes allocated now and at most so far.
static IN_USE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// The layout actually requested from talc for `l`.
fn real(l: Layout) -> Layout {
    if l.size() >= BIG && l.align() < PAGE_SIZE as usize {
        Layout::from_size_align(l.size(), PAGE_SIZE as usize).unwrap_or(l)
    } else {
        l
    }
}

fn count_alloc(n: usize) {
    let now = IN_USE.fetch_add(n, Ordering::Relaxed).saturating_add(n);
    PEAK.fetch_max(now, Ordering::Relaxed);
}

/// talc behind page alignment for big blocks and byte counters.
struct Counted;

// SAFETY: every call is forwarded to talc with the layout `real` derives from the caller's,
// which is the same for the allocation and its later dealloc/realloc (a realloc that changes
// the derived alignment is done as alloc + copy + dealloc).
unsafe impl GlobalAlloc for Counted {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY: forwarded contract; `real` keeps the size and only raises the alignment.
        let p = unsafe { HEAP.alloc(real(l)) };
        if !p.is_null() {
            count_alloc(l.size());
        }
        p
    }

    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        IN_USE.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: `p` was allocated with `real(l)`.
        unsafe { HEAP.dealloc(p, real(l)) }
    }

    unsafe fn realloc(&self, p: *mut u8, l: Layout, new_size: usize) -> *mut u8 {
        let old = real(l);
        let Ok(nl) = Layout::from_size_align(new_size, l.align()) else {
            return core::ptr::null_mut();
        };
        let new = real(nl);
        let q = if old.align() == new.align() {
            // SAFETY: `p` was allocated with `old`; the alignment stays.
            unsafe { HEAP.realloc(p, old, new_size) }
        } else {
            // SAFETY: a fresh block of `new`, then the old one's bytes copied and freed.
            unsafe {
                let q = HEAP.alloc(new);
                if !q.is_null() {
                    core::ptr::copy_nonoverlapping(p, q, l.size().min(new_size));
                    HEAP.dealloc(p, old);
                }
                q
            }
        };
        if !q.is_null() {
            IN_USE.fetch_sub(l.size(), Ordering::Relaxed);
            count_alloc(new_size);
        }
        q
    }
}

#[global_allocator]
static ALLOC: Counted = Counted;

/// Heap use: bytes allocated now, their peak, and the pages the heap has claimed.
#[derive(Debug, Clone, Copy)]
pub struct Stats {
    /// Bytes in live allocations.
    pub in_use: usize,
    /// Most bytes ever live at once.
    pub peak: usize,
    /// PFNs `[first, top)` claimed by the heap (it never gives them back).
    pub first_pfn: u64,
    /// See `first_pfn`.
    pub top_pfn: u64,
    /// Pages of the second arena ([`donate`]).
    pub donated: u64,
}

static FIRST_PFN: AtomicUsize = AtomicUsize::new(0);
/// Pages given to the heap besides its growing arena ([`donate`]).
static DONATED: AtomicUsize = AtomicUsize::new(0);

/// Current [`Stats`].
pub fn stats() -> Stats {
    Stats {
        in_use: IN_USE.load(Ordering::Relaxed),
        peak: PEAK.load(Ordering::Relaxed),
        first_pfn: FIRST_PFN.load(Ordering::Relaxed) as u64,
        top_pfn: heap_top_pfn(),
        donated: DONATED.load(Ordering::Relaxed) as u64,
    }
}

impl Stats {
    /// Pages the heap could still hand out: unclaimed ones plus the claimed ones no live
    /// allocation uses (an upper bound: talc's tags and fragmentation take a little).
    pub fn free_pages(&self) -> u64 {
        let claimed = self.top_pfn.saturating_sub(self.first_pfn).saturating_add(self.donated);
        let used = (self.in_use as u64).div_ceil(PAGE_SIZE);
        claimed.saturating_sub(used).saturating_add(unclaimed_pfns().count() as u64)
    }
}

/// Gives the heap a second arena: mapped, free RAM outside `init`'s range (libxc's padding
/// after the boot stack, which is otherwise never used). Ignored if talc refuses it.
pub fn donate(pfns: Range<u64>) {
    let n = pfns.end.saturating_sub(pfns.start);
    if n == 0 {
        return;
    }
    let mut t = HEAP.lock();
    let base = mm::pfn_to_va(pfns.start) as *mut u8;
    // SAFETY: the caller hands over mapped RW pages that nothing else uses, outside the
    // growing arena.
    if unsafe { t.claim(base, (n * PAGE_SIZE) as usize) }.is_some() {
        DONATED.fetch_add(n as usize, Ordering::Relaxed);
    }
}

/// Whole pages for the handover's region, from wherever they are free: the top of free RAM
/// first (never claimed by the heap), then page-aligned blocks of the heap. Dropping it
/// gives them back (a refused kernel leaves the memory to the fallback entry).
pub struct Pages {
    top: Range<u64>,
    blocks: alloc::vec::Vec<(NonNull<u8>, usize)>,
    list: alloc::vec::Vec<u64>,
}

impl Pages {
    /// Takes `n` pages, or `None` (nothing kept) if that many are not free.
    pub fn take(n: u64) -> Option<Pages> {
        let unclaimed = unclaimed_pfns();
        let from_top = n.min(unclaimed.end.saturating_sub(unclaimed.start));
        let top = take_top_pages(from_top)?;
        let mut p = Pages { top: top.clone(), blocks: alloc::vec::Vec::new(), list: alloc::vec::Vec::new() };
        p.list.try_reserve_exact(usize::try_from(n).ok()?).ok()?;
        p.list.extend(top);
        let mut left = usize::try_from(n - from_top).ok()?;
        let mut try_pages = left;
        while left > 0 {
            try_pages = try_pages.min(left);
            let l = Layout::from_size_align(try_pages * PAGE_SIZE as usize, PAGE_SIZE as usize).ok()?;
            // SAFETY: a non-zero layout; freed with the same one in Drop.
            match NonNull::new(unsafe { ALLOC.alloc(l) }) {
                Some(b) => {
                    p.blocks.push((b, try_pages));
                    let first = mm::va_to_pfn(b.as_ptr() as u64)?;
                    p.list.extend(first..first + try_pages as u64);
                    left -= try_pages;
                }
                None if try_pages > 1 => try_pages /= 2,
                None => return None,
            }
        }
        Some(p)
    }

    /// The PFNs (top pages first).
    pub fn pfns(&self) -> &[u64] {
        &self.list
    }
}

impl Drop for Pages {
    fn drop(&mut self) {
        for &(b, n) in &self.blocks {
            if let Ok(l) = Layout::from_size_align(n * PAGE_SIZE as usize, PAGE_SIZE as usize) {
                // SAFETY: allocated in `take` with this layout.
                unsafe { ALLOC.dealloc(b.as_ptr(), l) };
            }
        }
        let mut t = HEAP.lock();
        if t.source.limit == mm::pfn_to_va(self.top.start) as usize {
            t.source.limit = mm::pfn_to_va(self.top.end) as usize;
        }
    }
}

impl core::fmt::Display for Stats {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "heap {} KiB in use, peak {} KiB, claimed {} pages (pfn {:#x}..{:#x}) + {} donated, {} pages free; \
             {} page tables mapped",
            self.in_use >> 10,
            self.peak >> 10,
            self.top_pfn.saturating_sub(self.first_pfn),
            self.first_pfn,
            self.top_pfn,
            self.donated,
            self.free_pages(),
            mm::tables_mapped()
        )
    }
}

/// Gives the heap the mapped free RAM `pfns` (called once by init).
pub fn init(pfns: Range<u64>) {
    FIRST_PFN.store(pfns.start as usize, Ordering::Relaxed);
    let mut t = HEAP.lock();
    t.source.next = mm::pfn_to_va(pfns.start) as usize;
    t.source.limit = mm::pfn_to_va(pfns.end) as usize;
}

/// PFN of a heap address (they all lie in rpvboot's map), rounded up.
fn pfn_up(addr: usize) -> u64 {
    mm::va_to_pfn((addr as u64).saturating_add(PAGE_SIZE - 1)).unwrap_or(0)
}

/// End (exclusive PFN) of the memory the heap has claimed so far: every PFN at or above it,
/// below the top reservations, is untouched.
pub fn heap_top_pfn() -> u64 {
    pfn_up(HEAP.lock().source.next)
}

/// Free, never-claimed PFNs between the heap top and the top reservations.
pub fn unclaimed_pfns() -> Range<u64> {
    let t = HEAP.lock();
    pfn_up(t.source.next)..mm::va_to_pfn(t.source.limit as u64).unwrap_or(0)
}

/// Reserves `n` whole pages from the top of free RAM (mapped RW at `mm::pfn_to_va` now); the heap will
/// never grow into them. Returns their PFN range, or `None` if that much is not free.
pub fn take_top_pages(n: u64) -> Option<Range<u64>> {
    let mut t = HEAP.lock();
    let limit_pfn = mm::va_to_pfn(t.source.limit as u64)?;
    let floor = pfn_up(t.source.next);
    let start = limit_pfn.checked_sub(n).filter(|&s| s >= floor)?;
    mm::ensure_mapped(start..limit_pfn).ok()?;
    t.source.limit = mm::pfn_to_va(start) as usize;
    Some(start..limit_pfn)
}
