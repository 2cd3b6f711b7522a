//! The trap table: every CPU exception is reported on the console (vector, rip, error code,
//! cr2) and then the domain is crashed, instead of Xen's silent "Unhandled" kill.

use core::sync::atomic::{AtomicBool, Ordering};

use crate::hypervisor::hypercall::{self, XenError};
use crate::hypervisor::sched;
use crate::hypervisor::shared::Shared;
use xenfront::raw::{ShutdownReason, TrapInfo, FLAT_KERNEL_CS};

use super::entry;

static SHARED: spin::Once<Shared> = spin::Once::new();
static IN_TRAP: AtomicBool = AtomicBool::new(false);

/// Installs the trap table and the event/failsafe callbacks (events stay masked, so the event
/// callback only runs if something unmasks them by mistake: it reports that, too).
pub fn install(shared: Shared) -> Result<(), XenError> {
    SHARED.call_once(|| shared);
    let mut table = [TrapInfo::default(); 19]; // 18 vectors + the zero terminator
    for (slot, (vector, addr)) in table.iter_mut().zip(entry::trap_stubs()) {
        *slot = TrapInfo { vector, flags: 0, cs: FLAT_KERNEL_CS, _pad: 0, address: addr };
    }
    let (event, failsafe) = entry::callback_stubs();
    // SAFETY: every entry points at a stub from entry.rs that copes with the bounce frame;
    // the table ends with a zero entry.
    unsafe {
        hypercall::set_trap_table(Some(&table))?;
        hypercall::set_callbacks(event, failsafe)
    }
}

/// Removes the trap table and callbacks: the next kernel must start without them
/// (docs/handover.md §3 step 10, P16).
pub fn uninstall() -> Result<(), XenError> {
    // SAFETY: clearing is always allowed; afterwards exceptions kill the domain (Xen default).
    unsafe {
        hypercall::set_trap_table(None)?;
        hypercall::set_callbacks(0, 0)
    }
}

/// Called by the stubs in entry.rs with the bounce frame. Never returns.
#[no_mangle]
extern "C" fn rpvboot_trap(frame: *const u64, vector: u64) -> ! {
    if IN_TRAP.swap(true, Ordering::SeqCst) {
        // A fault while reporting a fault: no more printing.
        sched::shutdown(ShutdownReason::Crash);
    }
    let has_err = matches!(vector, 8 | 10..=14 | 17);
    let base = if has_err { 3 } else { 2 };
    // SAFETY: Xen built the frame at `frame` (on our stack, mapped): rcx, r11, [err], rip, cs,
    // rflags, rsp, ss; callbacks (256/257) have no error code.
    let word = |i: usize| unsafe { core::ptr::read_volatile(frame.add(i)) };
    let err = if has_err { word(2) } else { 0 };
    let (rip, cs, rflags, rsp) = (word(base), word(base + 1), word(base + 2), word(base + 3));
    let cr2 = SHARED.get().map_or(0, |s| s.cr2());
    crate::exit::fatal_trap(&crate::exit::Trap { vector, rip, err, cr2, rsp, rflags, cs })
}

/// Reads a never-mapped address (page 0), for the `rpvboot.test=fault` trigger.
pub fn fault_by_reading_page_zero() -> u64 {
    let v: u64;
    // SAFETY: page 0 is unmapped at start, so this read traps into `rpvboot_trap` and never
    // completes; asm (not a Rust null deref) so nothing is undefined behaviour.
    unsafe {
        core::arch::asm!("mov {v}, qword ptr [{a}]", v = out(reg) v, a = in(reg) 8u64, options(nostack, readonly))
    };
    v
}
