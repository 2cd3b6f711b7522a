//! How rpvboot stops, on either start-up path: drain the console, then shut the domain down;
//! a panic is reported on the console first.

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
