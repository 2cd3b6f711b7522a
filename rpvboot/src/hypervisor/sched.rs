//! `sched_op`: yield, poll with a timeout, shut down.
//!
//! Events stay masked for rpvboot's whole life. `SCHEDOP_block` is deliberately absent: it
//! unmasks event delivery, and without an event callback Xen then crashes the domain.

use super::hypercall::{self, XenError};
use xenfront::raw::{schedop, SchedPoll, ShutdownReason};

/// `SCHEDOP_yield`.
pub fn yield_cpu() {
    // SAFETY: SCHEDOP_yield takes no argument.
    let _ = unsafe { hypercall::sched_op(schedop::YIELD, 0) };
}

/// `SCHEDOP_poll`: sleep until one of `ports` is pending or system time reaches `deadline_ns`
/// (absolute; 0 = no timeout). Wakes even for masked ports. May return early: callers re-check.
pub fn poll(ports: &[u32], deadline_ns: u64) -> Result<(), XenError> {
    let nr_ports = u32::try_from(ports.len()).map_err(|_| XenError(-22))?;
    let arg = SchedPoll { ports: ports.as_ptr() as u64, nr_ports, _pad: 0, timeout: deadline_ns };
    // SAFETY: `arg` and the port array it points to are live for the call.
    let rc = unsafe { hypercall::sched_op(schedop::POLL, core::ptr::addr_of!(arg) as u64) };
    hypercall::check(rc).map(|_| ())
}

/// `SCHEDOP_shutdown(reason)`. Does not return; if Xen refuses, spins on yield.
pub fn shutdown(reason: ShutdownReason) -> ! {
    if !hypercall::page_ready() {
        // No way to ask Xen (a PVH start before the hypercall page): stop this vCPU.
        loop {
            // SAFETY: hlt only waits; with interrupts off it waits for ever.
            unsafe { core::arch::asm!("cli", "hlt", options(nomem, nostack)) };
        }
    }
    let r: u32 = reason as u32;
    loop {
        // SAFETY: the argument is a live `u32` reason.
        let _ = unsafe { hypercall::sched_op(schedop::SHUTDOWN, core::ptr::addr_of!(r) as u64) };
        yield_cpu();
    }
}
