//! rpvboot's view of the domain's memory, the same for both start-up paths: one mapping of
//! every page at `VA = VIRT_BASE + (PFN << 12)` ([`pfn_to_va`]), and the one place that knows
//! whether we started as a PV or a PVH guest ([`Guest`]), which decides what a "frame number"
//! handed to Xen or a backend is:
//!
//! * PV: the machine frame (MFN) behind the PFN, from the p2m list (`pv::mm`);
//! * PVH: the guest frame (GFN), which *is* the PFN (the domain's memory is translated by the
//!   hypervisor's second-stage tables; the guest only sees its own physical addresses).
//!
//! `VIRT_BASE` ([`bootplan::check::LOADER_VIRT_BASE`], 0x7f80_0000_0000) is the start of L4
//! slot 255 (the link script says why that slot).

use core::ops::Range;

/// Page size.
pub const PAGE_SIZE: u64 = 4096;
/// Where PFN 0 is mapped (rpvboot's link address).
pub const VIRT_BASE: u64 = bootplan::check::LOADER_VIRT_BASE;

/// How the domain was started, hence how its memory is addressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Guest {
    /// A PV guest: page tables and frame numbers are machine frames (MFNs), reached through
    /// the p2m list Xen gave us.
    Pv,
    /// A PVH guest: an HVM container without emulated devices; frame numbers are guest frames
    /// (GFN = PFN) and rpvboot owns its page tables like any bare-metal kernel.
    Pvh,
}

static GUEST: spin::Once<Guest> = spin::Once::new();

/// Records how we started; called once by the entry path that ran, before anything asks.
pub fn set_guest(g: Guest) {
    GUEST.call_once(|| g);
}

/// How we started (PV until an entry path said otherwise: only the PV path existed before).
pub fn guest() -> Guest {
    GUEST.get().copied().unwrap_or(Guest::Pv)
}

/// VA of a PFN in rpvboot's map.
pub const fn pfn_to_va(pfn: u64) -> u64 {
    VIRT_BASE + (pfn << 12)
}

/// PFN of a VA in rpvboot's map (`None` below it).
pub const fn va_to_pfn(va: u64) -> Option<u64> {
    match va.checked_sub(VIRT_BASE) {
        Some(o) => Some(o >> 12),
        None => None,
    }
}

/// The frame number Xen and the backends know `pfn` by (grants, rings): the MFN for PV, the
/// GFN (= PFN) for PVH.
pub fn frame_of_pfn(pfn: u64) -> Option<u64> {
    match guest() {
        Guest::Pv => crate::pv::mm::pfn_to_mfn(pfn),
        Guest::Pvh => Some(pfn),
    }
}

/// The frame number of the page at `va` in our map ([`frame_of_pfn`]).
pub fn frame_of_va(va: u64) -> Option<u64> {
    frame_of_pfn(va_to_pfn(va)?)
}

/// The PFN of a frame number Xen gave us (xenstore or console ring): the inverse of
/// [`frame_of_pfn`], checked.
pub fn pfn_of_frame(frame: u64) -> Option<u64> {
    match guest() {
        Guest::Pv => crate::pv::mm::mfn_to_pfn(frame),
        Guest::Pvh => Some(frame),
    }
}

/// Page tables rpvboot has built so far (for the heap's statistics line).
pub fn tables_mapped() -> u64 {
    match guest() {
        Guest::Pv => crate::pv::mm::tables_hooked(),
        Guest::Pvh => 0,
    }
}

/// A range of PFNs could not be mapped (the first one).
#[derive(Clone, Copy, Debug)]
pub struct NotMapped(pub u64);

/// Makes sure every page of `pfns` is mapped at [`pfn_to_va`] (the heap calls this for what
/// it claims). PV maps free RAM on demand (`pv::mm::ensure_mapped`).
pub fn ensure_mapped(pfns: Range<u64>) -> Result<(), NotMapped> {
    match guest() {
        Guest::Pv => crate::pv::mm::ensure_mapped(pfns.clone()).map_err(|_| NotMapped(pfns.start)),
        Guest::Pvh => Ok(()),
    }
}
