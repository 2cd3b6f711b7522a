//! Blocking console operations on top of [`Ring`]: flow control, drain, timed reads.

use core::fmt;

use crate::ring::Ring;

/// What the console needs from its environment (in rpvboot: the console event channel and
/// Xen system time; in tests: a fake daemon).
pub trait Platform {
    /// Signals the peer that the ring changed (`EVTCHNOP_send` on the console port).
    fn notify(&self);
    /// A monotonic clock in nanoseconds.
    fn now_ns(&self) -> u64;
    /// Sleeps until the peer signals or the clock reaches `deadline_ns`, whichever is first.
    /// Spurious early returns are fine: callers re-check the ring and the clock.
    fn wait_until(&self, deadline_ns: u64);
}

/// How long one wait for ring space or input lasts before the ring is looked at again (10 ms).
/// xenconsoled notifies back after consuming, so waits usually end sooner.
pub const POLL_SLICE_NS: u64 = 10_000_000;

/// A console: a ring plus the platform that notifies and waits.
pub struct Console<'a, P> {
    ring: Ring<'a>,
    platform: P,
}

impl<'a, P: Platform> Console<'a, P> {
    /// A console over `ring`.
    pub const fn new(ring: Ring<'a>, platform: P) -> Self {
        Self { ring, platform }
    }

    /// The ring.
    pub fn ring(&self) -> &Ring<'a> {
        &self.ring
    }

    /// The platform.
    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// Writes all of `data`, byte for byte, then notifies the daemon once. When the ring is
    /// full it notifies and waits for space: output is never dropped (so a dead daemon stalls
    /// the writer).
    pub fn write_bytes(&self, data: &[u8]) {
        self.write_raw(data);
        self.platform.notify();
    }

    /// Writes text, turning each `\n` into `\r\n` (the pty on the other side is raw).
    pub fn write_text(&self, s: &str) {
        self.write_text_raw(s);
        self.platform.notify();
    }

    /// Formats into the console (with `\n` → `\r\n`), with one notification at the end.
    pub fn write_fmt_args(&self, args: fmt::Arguments<'_>) {
        let mut w = Writer(self);
        let _ = fmt::write(&mut w, args);
        self.platform.notify();
    }

    /// Tells the daemon to look at the ring (after [`Writer`] output).
    pub fn notify(&self) {
        self.platform.notify();
    }

    /// Copies `data` into the ring, waiting for space as needed; notifies only to get space.
    fn write_raw(&self, mut data: &[u8]) {
        while !data.is_empty() {
            let n = self.ring.write_some(data);
            data = data.get(n..).unwrap_or(&[]);
            if data.is_empty() {
                break;
            }
            // Full: make sure the daemon knows, then wait for it to consume.
            self.platform.notify();
            let deadline = self.platform.now_ns().saturating_add(POLL_SLICE_NS);
            self.platform.wait_until(deadline);
        }
    }

    fn write_text_raw(&self, s: &str) {
        let mut parts = s.split('\n');
        if let Some(first) = parts.next() {
            self.write_raw(first.as_bytes());
        }
        for part in parts {
            self.write_raw(b"\r\n");
            self.write_raw(part.as_bytes());
        }
    }

    /// Waits until the daemon has consumed everything written, or `timeout_ns` passes.
    /// Returns true when the ring is empty. Call it before shutting the domain down.
    pub fn drain(&self, timeout_ns: u64) -> bool {
        let deadline = self.platform.now_ns().saturating_add(timeout_ns);
        loop {
            if self.ring.out_pending() == 0 {
                return true;
            }
            let now = self.platform.now_ns();
            if now >= deadline {
                return false;
            }
            self.platform.notify();
            self.platform.wait_until(deadline.min(now.saturating_add(POLL_SLICE_NS)));
        }
    }

    /// Reads whatever input is there, without waiting; returns the count (0 = none).
    pub fn read(&self, buf: &mut [u8]) -> usize {
        let n = self.ring.read_some(buf);
        if n > 0 {
            // Tell the daemon there is room again.
            self.platform.notify();
        }
        n
    }

    /// Reads input, waiting up to `timeout_ns` for the first byte; returns the count
    /// (0 = timed out, or `buf` is empty).
    pub fn read_timeout(&self, buf: &mut [u8], timeout_ns: u64) -> usize {
        if buf.is_empty() {
            return 0;
        }
        let deadline = self.platform.now_ns().saturating_add(timeout_ns);
        loop {
            let n = self.read(buf);
            if n > 0 {
                return n;
            }
            let now = self.platform.now_ns();
            if now >= deadline {
                return 0;
            }
            self.platform.wait_until(deadline.min(now.saturating_add(POLL_SLICE_NS)));
        }
    }
}

/// `core::fmt::Write` for a shared console reference. It does not notify the daemon (except to
/// wait for space): call [`Console::notify`] when done, so a formatted line costs one
/// notification instead of one per piece.
pub struct Writer<'c, 'a, P>(pub &'c Console<'a, P>);

impl<P: Platform> fmt::Write for Writer<'_, '_, P> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.0.write_text_raw(s);
        Ok(())
    }
}

impl<P: Platform> fmt::Write for Console<'_, P> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_text(s);
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::ring::{XenconsInterface, IN_SIZE, OUT_SIZE};
    use core::cell::{Cell, RefCell};
    use core::sync::atomic::Ordering;

    /// A fake xenconsoled: on each wait it consumes up to `chunk` output bytes into `got`
    /// (0 = a dead daemon), and time advances to the deadline.
    pub(crate) struct FakeDaemon<'a> {
        pub page: &'a XenconsInterface,
        pub chunk: usize,
        pub got: RefCell<Vec<u8>>,
        pub now: Cell<u64>,
        pub notifies: Cell<usize>,
        pub waits: Cell<usize>,
    }

    impl<'a> FakeDaemon<'a> {
        pub(crate) fn new(page: &'a XenconsInterface, chunk: usize) -> Self {
            Self {
                page,
                chunk,
                got: RefCell::new(Vec::new()),
                now: Cell::new(0),
                notifies: Cell::new(0),
                waits: Cell::new(0),
            }
        }
        /// Consumes like xenconsoled: reads out[cons..prod], then advances out_cons.
        pub(crate) fn consume(&self, max: usize) {
            let cons = self.page.out_cons.load(Ordering::Acquire);
            let prod = self.page.out_prod.load(Ordering::Acquire);
            let n = (prod.wrapping_sub(cons) as usize).min(max);
            let mut got = self.got.borrow_mut();
            for i in 0..n {
                let idx = (cons as usize).wrapping_add(i) & (OUT_SIZE - 1);
                got.push(self.page.output[idx].load(Ordering::Relaxed));
            }
            self.page.out_cons.store(cons.wrapping_add(n as u32), Ordering::Release);
        }
        pub(crate) fn type_keys(&self, keys: &[u8]) {
            let mut prod = self.page.in_prod.load(Ordering::Relaxed);
            for &k in keys {
                self.page.input[prod as usize & (IN_SIZE - 1)].store(k, Ordering::Relaxed);
                prod = prod.wrapping_add(1);
            }
            self.page.in_prod.store(prod, Ordering::Release);
        }
    }

    impl Platform for &FakeDaemon<'_> {
        fn notify(&self) {
            self.notifies.set(self.notifies.get() + 1);
        }
        fn now_ns(&self) -> u64 {
            self.now.get()
        }
        fn wait_until(&self, deadline_ns: u64) {
            self.waits.set(self.waits.get() + 1);
            assert!(deadline_ns >= self.now.get(), "deadline in the past");
            self.now.set(deadline_ns);
            self.consume(self.chunk);
        }
    }

    #[test]
    fn long_output_through_a_small_ring_is_complete_and_ordered() {
        let page = XenconsInterface::new();
        let d = FakeDaemon::new(&page, 300);
        let con = Console::new(Ring::new(&page), &d);
        let data: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        con.write_bytes(&data);
        assert!(d.waits.get() >= (20_000 - OUT_SIZE) / 300, "writer waited for space");
        assert!(con.drain(1_000_000_000));
        assert_eq!(*d.got.borrow(), data);
        assert_eq!(con.ring().out_pending(), 0);
    }

    #[test]
    fn no_wait_when_it_fits() {
        let page = XenconsInterface::new();
        let d = FakeDaemon::new(&page, 0);
        let con = Console::new(Ring::new(&page), &d);
        con.write_bytes(&[b'z'; OUT_SIZE - 20]);
        assert_eq!(d.waits.get(), 0);
        assert_eq!(d.notifies.get(), 1);
        con.write_fmt_args(format_args!("{} {} {}\n", 1, "two", 3));
        assert_eq!(d.notifies.get(), 2, "one notification per formatted write");
    }

    #[test]
    fn drain_times_out_on_a_dead_daemon() {
        let page = XenconsInterface::new();
        let d = FakeDaemon::new(&page, 0);
        let con = Console::new(Ring::new(&page), &d);
        con.write_bytes(b"stuck");
        assert!(!con.drain(50_000_000));
        assert_eq!(d.now.get(), 50_000_000);
        assert_eq!(d.waits.get(), 5);
    }

    #[test]
    fn text_gets_crlf_and_fmt_works() {
        let page = XenconsInterface::new();
        let d = FakeDaemon::new(&page, usize::MAX);
        let mut con = Console::new(Ring::new(&page), &d);
        con.write_text("a\nb\n");
        con.write_fmt_args(format_args!("n={}\n", 42));
        fmt::Write::write_fmt(&mut con, format_args!("{:#x}", 255)).unwrap();
        d.consume(usize::MAX);
        assert_eq!(*d.got.borrow(), b"a\r\nb\r\nn=42\r\n0xff");
    }

    #[test]
    fn reads() {
        let page = XenconsInterface::new();
        let d = FakeDaemon::new(&page, 0);
        let con = Console::new(Ring::new(&page), &d);
        let mut buf = [0u8; 8];
        assert_eq!(con.read(&mut buf), 0);
        assert_eq!(con.read_timeout(&mut buf, 25_000_000), 0);
        assert_eq!(d.now.get(), 25_000_000);
        d.type_keys(b"\x1b[A");
        let before = d.notifies.get();
        assert_eq!(con.read_timeout(&mut buf, 25_000_000), 3);
        assert_eq!(&buf[..3], b"\x1b[A");
        assert_eq!(d.notifies.get(), before + 1);
        assert_eq!(con.read_timeout(&mut [], 1), 0);
    }
}
