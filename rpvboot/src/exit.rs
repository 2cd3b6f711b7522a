//! How rpvboot stops, on either start-up path: drain the console, then shut the domain down;
//! a panic or a fatal CPU trap is reported on the console first.

use crate::hypervisor::sched;
use xenfront::raw::ShutdownReason;

/// Drains the console, then shuts the domain down. Never returns.
pub fn shutdown(reason: ShutdownReason) -> ! {
    let _ = crate::console::drain();
    sched::shutdown(reason)
}

/// What the panic handler does: print `rpvboot: panic at <file>:<line>:<col>: <message>`,
/// drain, crash the domain.
pub fn panic_report(info: &core::panic::PanicInfo<'_>) -> ! {
    use core::sync::atomic::{AtomicBool, Ordering};
    static PANICKING: AtomicBool = AtomicBool::new(false);
    if PANICKING.swap(true, Ordering::SeqCst) {
        // A panic while reporting a panic.
        sched::shutdown(ShutdownReason::Crash);
    }
    match info.location() {
        Some(l) => crate::println!("rpvboot: panic at {}:{}:{}: {}", l.file(), l.line(), l.column(), info.message()),
        None => crate::println!("rpvboot: panic at <unknown>: {}", info.message()),
    }
    shutdown(ShutdownReason::Crash)
}

/// A fatal trap as a start-up path's stub found it: the PV path reads Xen's bounce frame and
/// shared_info's `cr2`, the PVH path the CPU's frame and CR2 itself.
pub struct Trap {
    pub vector: u64,
    pub rip: u64,
    pub err: u64,
    pub cr2: u64,
    pub rsp: u64,
    pub rflags: u64,
    pub cs: u64,
}

/// Prints `rpvboot: fatal trap <name> (vector N) at rip=… err=… cr2=…` (the line the e2e fault
/// scenarios expect on both paths), drains, crashes the domain.
pub fn fatal_trap(t: &Trap) -> ! {
    crate::println!(
        "rpvboot: fatal trap {} (vector {}) at rip={:#x}: err={:#x} cr2={:#x} rsp={:#x} rflags={:#x} cs={:#x}",
        trap_name(t.vector),
        t.vector,
        t.rip,
        t.err,
        t.cr2,
        t.rsp,
        t.rflags,
        t.cs
    );
    crate::println!("rpvboot: crashing the domain");
    shutdown(ShutdownReason::Crash)
}

/// The x86 exception's mnemonic; 256 and 257 are the PV event and failsafe callbacks.
fn trap_name(vector: u64) -> &'static str {
    match vector {
        0 => "#DE",
        1 => "#DB",
        2 => "NMI",
        3 => "#BP",
        4 => "#OF",
        5 => "#BR",
        6 => "#UD",
        7 => "#NM",
        8 => "#DF",
        9 => "coprocessor overrun",
        10 => "#TS",
        11 => "#NP",
        12 => "#SS",
        13 => "#GP",
        14 => "#PF",
        15 => "spurious",
        16 => "#MF",
        17 => "#AC",
        18 => "#MC",
        19 => "#XM",
        256 => "event callback",
        257 => "failsafe callback",
        _ => "?",
    }
}
