//! The global allocator: `talc` over the free RAM that [`super::mm`] mapped.
//!
//! The heap grows *upwards* from the bottom of free RAM, claiming memory only when talc runs
//! out, so rpvboot's footprint stays a PFN prefix `[0, heap_top)`. Callers that need whole
//! pages nobody else touches (the handover's target region) take them from the *top* with
//! [`take_top_pages`]; the two meet in the middle and never overlap.

use core::alloc::Layout;
use core::ops::Range;
use core::ptr::NonNull;

use talc::base::binning::Binning;
use talc::base::Talc;
use talc::source::Source;

use super::mm::{self, PAGE_SIZE};

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

// SAFETY: `acquire` only hands talc memory in [next, limit), which init() set to mapped free RAM
// owned by nobody else, and it never touches the allocator through the global path.
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

#[global_allocator]
static HEAP: talc::TalcLock<spin::Mutex<()>, GrowUp> = talc::TalcLock::new(GrowUp { next: 0, limit: 0, heap_end: 0 });

/// Gives the heap the mapped free RAM `pfns` (called once by init).
pub fn init(pfns: Range<u64>) {
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

/// Reserves `n` whole pages from the top of free RAM (mapped RW at `mm::pfn_to_va`); the heap will
/// never grow into them. Returns their PFN range, or `None` if that much is not free.
pub fn take_top_pages(n: u64) -> Option<Range<u64>> {
    let mut t = HEAP.lock();
    let limit_pfn = mm::va_to_pfn(t.source.limit as u64)?;
    let floor = pfn_up(t.source.next);
    let start = limit_pfn.checked_sub(n).filter(|&s| s >= floor)?;
    t.source.limit = mm::pfn_to_va(start) as usize;
    Some(start..limit_pfn)
}
