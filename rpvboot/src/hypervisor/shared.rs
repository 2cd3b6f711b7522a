//! The shared_info page: clocks, event pending bits, the PV `cr2`.
//!
//! Xen writes this page at any time, so every access is volatile or atomic.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use xenfront::raw::{SharedInfo, VcpuTimeInfo};

/// Access to the mapped shared_info page (vCPU 0 only: rpvboot never starts other vCPUs).
#[derive(Clone, Copy)]
pub struct Shared {
    ptr: NonNull<SharedInfo>,
}

// SAFETY: the page is mapped for the life of the loader and only accessed with volatile/atomic
// operations; there is one vCPU.
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}

impl Shared {
    /// Wraps the page mapped at `ptr`.
    ///
    /// # Safety
    /// `ptr` must be the VA where shared_info is mapped, and stay mapped for `'static`.
    pub const unsafe fn new(ptr: NonNull<SharedInfo>) -> Self {
        Self { ptr }
    }

    /// A consistent copy of vCPU 0's time record (seqlock: retry while odd or changed).
    pub fn vcpu_time(&self) -> VcpuTimeInfo {
        let t = self.ptr.as_ptr().cast::<u8>().wrapping_add(32).cast::<VcpuTimeInfo>();
        loop {
            // SAFETY: `t` points into the mapped page (offset 32, 32 bytes, aligned 8).
            let v1 = unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*t).version)) };
            core::sync::atomic::fence(Ordering::Acquire);
            // SAFETY: as above; a torn copy is detected by the version check.
            let copy = unsafe { core::ptr::read_volatile(t) };
            core::sync::atomic::fence(Ordering::Acquire);
            // SAFETY: as above.
            let v2 = unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*t).version)) };
            if v1 & 1 == 0 && v1 == v2 {
                return copy;
            }
            core::hint::spin_loop();
        }
    }

    /// Xen system time now, in ns since the host booted (the `SCHEDOP_poll` clock).
    pub fn now_ns(&self) -> u64 {
        let t = self.vcpu_time();
        xenfront::time::system_time_ns(&t, rdtsc())
    }

    /// The faulting address of the last #PF (`vcpu_info[0].arch.cr2`).
    pub fn cr2(&self) -> u64 {
        // SAFETY: offset 16 of vcpu_info[0], inside the mapped page.
        unsafe { core::ptr::read_volatile(core::ptr::addr_of!((*self.ptr.as_ptr()).vcpu_info[0].cr2)) }
    }

    /// `vcpu_info[0].evtchn_upcall_mask` (1 = masked; rpvboot keeps it 1).
    pub fn upcall_mask(&self) -> u8 {
        self.mask_byte().load(Ordering::Relaxed)
    }

    /// Masks upcalls (sets `evtchn_upcall_mask` = 1).
    pub fn mask_upcalls(&self) {
        self.mask_byte().store(1, Ordering::SeqCst);
    }

    fn mask_byte(&self) -> &AtomicU8 {
        // SAFETY: the byte is inside the mapped page, valid for 'static, only accessed atomically.
        unsafe { AtomicU8::from_ptr(core::ptr::addr_of_mut!((*self.ptr.as_ptr()).vcpu_info[0].evtchn_upcall_mask)) }
    }

    fn pending_word(&self, port: u32) -> Option<&AtomicU64> {
        let idx = usize::try_from(port / 64).ok().filter(|&i| i < 64)?;
        // SAFETY: idx < 64 keeps the word inside evtchn_pending; aligned 8; only accessed atomically.
        Some(unsafe { AtomicU64::from_ptr(core::ptr::addr_of_mut!((*self.ptr.as_ptr()).evtchn_pending[idx])) })
    }

    /// Atomically clears `port`'s pending bit; true if it was set.
    pub fn test_and_clear_pending(&self, port: u32) -> bool {
        let bit = 1u64 << (port % 64);
        self.pending_word(port).is_some_and(|w| w.fetch_and(!bit, Ordering::SeqCst) & bit != 0)
    }

    /// Whether `port` is pending.
    pub fn is_pending(&self, port: u32) -> bool {
        let bit = 1u64 << (port % 64);
        self.pending_word(port).is_some_and(|w| w.load(Ordering::SeqCst) & bit != 0)
    }

    /// The VA of the page.
    pub fn as_ptr(&self) -> *mut SharedInfo {
        self.ptr.as_ptr()
    }
}

/// The time-stamp counter.
pub fn rdtsc() -> u64 {
    let lo: u32;
    let hi: u32;
    // SAFETY: rdtsc only reads the TSC (PV guests may execute it: CR4.TSD is clear).
    unsafe { core::arch::asm!("rdtsc", out("eax") lo, out("edx") hi, options(nomem, nostack, preserves_flags)) };
    (u64::from(hi) << 32) | u64::from(lo)
}
