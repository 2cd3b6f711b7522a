//! The one console instance (the PV console ring) and `print!`-style helpers over it.

use core::fmt;

use pvconsole::{Console, Logger, Platform, Ring};

use crate::hypervisor::evtchn::Port;
use crate::hypervisor::hypercall;
use crate::hypervisor::shared::Shared;

/// The console's platform: notify on the console port, wait with `SCHEDOP_poll` on it
/// (events stay masked), Xen system time as the clock.
pub struct ConsolePlatform {
    port: Port,
    shared: Shared,
}

impl Platform for ConsolePlatform {
    fn notify(&self) {
        let _ = self.port.notify();
    }
    fn now_ns(&self) -> u64 {
        self.shared.now_ns()
    }
    fn wait_until(&self, deadline_ns: u64) {
        // An event that came since the caller looked at the ring: return at once so it looks
        // again (clearing the bit). Otherwise poll; a notification arriving after the caller's
        // check sets the bit, and poll returns at once for a pending port: no lost wake-up.
        if self.port.take_pending(&self.shared) {
            return;
        }
        let t = crate::trace::now();
        let _ = self.port.wait(deadline_ns);
        crate::trace::wait(crate::trace::Wait::Console, true, t);
    }
}

/// The console type rpvboot uses.
pub type XenConsole = Console<'static, ConsolePlatform>;

static CONSOLE: spin::Once<XenConsole> = spin::Once::new();
static LOGGER: spin::Once<Logger<'static, ConsolePlatform>> = spin::Once::new();

/// Sets up the console on the ring mapped at `ring_va`, and the `log` backend over it.
///
/// # Safety
/// `ring_va` must be the VA of the console page (mapped for ever) and `port` its event channel.
pub unsafe fn init(ring_va: u64, port: Port, shared: Shared) -> &'static XenConsole {
    // SAFETY: forwarded from the caller.
    let ring = unsafe { Ring::from_raw(ring_va as *mut u8) };
    let con = CONSOLE.call_once(|| Console::new(ring, ConsolePlatform { port, shared }));
    let logger = LOGGER.call_once(|| Logger::new(con, "rpvboot: ", log::LevelFilter::Info));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(log::LevelFilter::Info);
    }
    con
}

/// The console, once [`init`] ran.
pub fn get() -> Option<&'static XenConsole> {
    CONSOLE.get()
}

/// Prints to the console; before it exists, to Xen's console_io (debug hypervisors only).
pub fn print(args: fmt::Arguments<'_>) {
    crate::trace::console(args);
    match get() {
        Some(c) => c.write_fmt_args(args),
        None => {
            struct Early;
            impl fmt::Write for Early {
                fn write_str(&mut self, s: &str) -> fmt::Result {
                    hypercall::console_io_write(s.as_bytes());
                    Ok(())
                }
            }
            let _ = fmt::write(&mut Early, args);
        }
    }
}

/// Waits (up to 2 s) until xenconsoled has taken everything; true if it did.
pub fn drain() -> bool {
    get().is_none_or(|c| c.drain(2_000_000_000))
}

/// `print!` to the PV console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::print(format_args!($($arg)*)) };
}

/// `println!` to the PV console (`\n` becomes `\r\n`).
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => { $crate::console::print(format_args!("{}\n", format_args!($($arg)*))) };
}
