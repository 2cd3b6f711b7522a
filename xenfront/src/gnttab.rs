//! Grant table v1, our own entries: `xen/include/public/grant_table.h`.
//!
//! [`GrantTable`] owns the mapped table frames and a free list of refs (≥ 8: refs 0–7 are the
//! toolstack's, console and xenstore among them). Granting writes `frame` and `domid`, then
//! `flags` with release ordering (mini-os `gnttab_grant_access`: wmb before flags); ending uses a
//! 16-bit compare-exchange on `flags` that fails while Xen reports the frame mapped
//! (`GTF_reading`/`GTF_writing`), so a busy grant is handed back instead of freed.

use alloc::vec::Vec;
use core::ptr::NonNull;
use core::sync::atomic::{fence, AtomicU16, AtomicU32, Ordering};

use super::platform::{DomId, GrantRef, Mfn, PlatformError, PAGE_SIZE};

/// `GTF_permit_access`.
pub const GTF_PERMIT_ACCESS: u16 = 1;
/// `GTF_readonly`.
pub const GTF_READONLY: u16 = 1 << 2;
/// `GTF_reading`.
pub const GTF_READING: u16 = 1 << 3;
/// `GTF_writing`.
pub const GTF_WRITING: u16 = 1 << 4;
/// `GNTTAB_NR_RESERVED_ENTRIES`.
pub const NR_RESERVED: u32 = 8;
/// Bytes per `grant_entry_v1`.
const ENTRY: usize = 8;
/// Entries per table frame.
pub const ENTRIES_PER_FRAME: u32 = (PAGE_SIZE / ENTRY) as u32;

/// Our grant table.
#[derive(Debug)]
pub struct GrantTable {
    base: NonNull<u8>,
    nr_entries: u32,
    free: Vec<u32>,
    /// One bit per ref: handed out and not yet ended (so ending twice frees once, in O(1):
    /// blkfront grants and ends a page per 4 KiB it reads in place).
    in_use: Vec<u64>,
}

impl GrantTable {
    /// Takes over a mapped table of `nr_frames` frames at `base`.
    ///
    /// # Safety
    /// `base` must be page-aligned and map the `nr_frames` grant-table frames returned by
    /// `GNTTABOP_setup_table`, read-write, for the table's lifetime; nothing else may write
    /// entries ≥ 8.
    pub unsafe fn new(base: NonNull<u8>, nr_frames: u32) -> Self {
        let nr_entries = nr_frames.saturating_mul(ENTRIES_PER_FRAME);
        // Hand out low refs first.
        let free = (NR_RESERVED..nr_entries).rev().collect();
        let words = usize::try_from(nr_entries.div_ceil(64)).unwrap_or(0);
        Self { base, nr_entries, free, in_use: alloc::vec![0; words] }
    }

    /// Marks `r` in use (`true`) or free; returns whether it was in use before.
    fn set_in_use(&mut self, r: u32, on: bool) -> bool {
        let (w, b) = (usize::try_from(r / 64).unwrap_or(usize::MAX), r % 64);
        let Some(word) = self.in_use.get_mut(w) else { return false };
        let was = *word & (1 << b) != 0;
        if on {
            *word |= 1 << b;
        } else {
            *word &= !(1 << b);
        }
        was
    }

    /// Refs still free.
    pub fn free_count(&self) -> usize {
        self.free.len()
    }

    fn flags(&self, r: u32) -> Option<&AtomicU16> {
        if r >= self.nr_entries {
            return None;
        }
        let off = usize::try_from(r).ok()?.checked_mul(ENTRY)?;
        // SAFETY: r < nr_entries, so off..off+8 lies in the mapped table (`new`'s contract);
        // entries are 8-aligned, so `flags` at +0 is 2-aligned. Xen also accesses it atomically.
        Some(unsafe { &*self.base.as_ptr().add(off).cast::<AtomicU16>() })
    }

    fn domid(&self, r: u32) -> Option<&AtomicU16> {
        let off = usize::try_from(r).ok()?.checked_mul(ENTRY)?.checked_add(2)?;
        (r < self.nr_entries).then_some(())?;
        // SAFETY: as in `flags`: in the mapped table, 2-aligned.
        Some(unsafe { &*self.base.as_ptr().add(off).cast::<AtomicU16>() })
    }

    fn frame(&self, r: u32) -> Option<&AtomicU32> {
        let off = usize::try_from(r).ok()?.checked_mul(ENTRY)?.checked_add(4)?;
        (r < self.nr_entries).then_some(())?;
        // SAFETY: as in `flags`: in the mapped table, 4-aligned.
        Some(unsafe { &*self.base.as_ptr().add(off).cast::<AtomicU32>() })
    }

    /// Grants `frame` to `domid`.
    ///
    /// # Errors
    /// [`PlatformError::NoGrantRefs`] when the table is full; a frame above 32 bits
    /// (v1 cannot express it) as a hypercall-style error.
    pub fn grant(&mut self, domid: DomId, frame: Mfn, readonly: bool) -> Result<GrantRef, PlatformError> {
        let f32 = u32::try_from(frame.0)
            .map_err(|_| PlatformError::Hypercall { op: "grant v1 frame above 2^32", code: -22 })?;
        let r = self.free.pop().ok_or(PlatformError::NoGrantRefs)?;
        let (Some(fl), Some(dom), Some(fr)) = (self.flags(r), self.domid(r), self.frame(r)) else {
            return Err(PlatformError::NoGrantRefs);
        };
        fr.store(f32, Ordering::Relaxed);
        dom.store(domid.0, Ordering::Relaxed);
        // wmb (gnttab_grant_access): frame and domid are visible before flags enables the entry.
        fl.store(GTF_PERMIT_ACCESS | if readonly { GTF_READONLY } else { 0 }, Ordering::Release);
        self.set_in_use(r, true);
        Ok(GrantRef(r))
    }

    /// Ends a grant: flags → 0 unless the frame is still mapped.
    ///
    /// # Errors
    /// [`PlatformError::GrantBusy`] while Xen reports it mapped (try again later).
    pub fn end(&mut self, gref: GrantRef) -> Result<(), PlatformError> {
        let r = gref.0;
        if r < NR_RESERVED {
            return Err(PlatformError::Hypercall { op: "end of reserved grant", code: -22 });
        }
        let fl = self.flags(r).ok_or(PlatformError::Hypercall { op: "end of unknown grant", code: -22 })?;
        let mut f = fl.load(Ordering::Acquire);
        for _ in 0..4 {
            if f & (GTF_READING | GTF_WRITING) != 0 {
                return Err(PlatformError::GrantBusy(gref));
            }
            match fl.compare_exchange(f, 0, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    // The backend can no longer start a mapping; our later reads of the frame
                    // must not move before this point.
                    fence(Ordering::SeqCst);
                    if self.set_in_use(r, false) {
                        self.free.push(r);
                    }
                    return Ok(());
                }
                Err(now) => f = now,
            }
        }
        Err(PlatformError::GrantBusy(gref))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grants_from_ref_8_and_refuses_busy_end() {
        let mut mem = vec![0u64; 512 * 2];
        let words = mem.as_mut_ptr();
        let base = NonNull::new(words.cast::<u8>()).unwrap();
        // Plays Xen's part: reads and writes whole entries through the same pointer.
        // SAFETY: i < 1024 entries of `mem`, which outlives every use.
        let entry = |i: usize| unsafe { words.add(i).read_volatile() };
        // SAFETY: as above.
        let set_entry = |i: usize, v: u64| unsafe { words.add(i).write_volatile(v) };
        // SAFETY: `mem` is 8 KiB, 8-aligned (enough for the atomics), outlives `t`.
        let mut t = unsafe { GrantTable::new(base, 2) };
        assert_eq!(t.free_count(), 1024 - 8);
        assert_eq!(t.grant(DomId(0), Mfn(0x1234), false), Ok(GrantRef(8)));
        assert_eq!(t.grant(DomId(3), Mfn(0x55), true), Ok(GrantRef(9)));
        // Entry layout: flags u16 @0, domid u16 @2, frame u32 @4.
        assert_eq!(entry(8), (0x1234u64 << 32) | u64::from(GTF_PERMIT_ACCESS));
        assert_eq!(entry(9), (0x55u64 << 32) | (3 << 16) | u64::from(GTF_PERMIT_ACCESS | GTF_READONLY));
        // Xen marks ref 8 as mapped for writing: ending must fail and keep the ref.
        set_entry(8, entry(8) | u64::from(GTF_WRITING));
        assert_eq!(t.end(GrantRef(8)), Err(PlatformError::GrantBusy(GrantRef(8))));
        set_entry(8, entry(8) & !u64::from(GTF_WRITING));
        assert_eq!(t.end(GrantRef(8)), Ok(()));
        assert_eq!(entry(8) & 0xffff, 0);
        assert!(t.end(GrantRef(1)).is_err(), "reserved refs are never touched");
        assert_eq!(t.grant(DomId(0), Mfn(1), false), Ok(GrantRef(8)));
        // Ending twice frees the ref once: the next two grants get different refs.
        let free = t.free_count();
        assert_eq!(t.end(GrantRef(8)), Ok(()));
        assert_eq!(t.end(GrantRef(8)), Ok(()));
        assert_eq!(t.free_count(), free + 1);
        let (a, b) = (t.grant(DomId(0), Mfn(2), false).unwrap(), t.grant(DomId(0), Mfn(3), false).unwrap());
        assert_ne!(a, b);
        assert!(t.grant(DomId(0), Mfn(1 << 33), false).is_err());
        drop(t);
        drop(mem);
    }
}
