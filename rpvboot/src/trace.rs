//! `rpvboot.trace`: a developer timing trace of the whole boot, from the first instruction to
//! the jump (docs/loader-time.md).
//!
//! Each mark records Xen system time and this vCPU's runstate times
//! (`VCPUOP_get_runstate_info`: running, runnable, blocked), so that the time since the
//! domain was unpaused is split the way `cargo xtask bench`'s probe splits it; between marks
//! it counts the waits for dom0 by what was waited on (xenstore, a disk, the console) and how
//! many of them had to block. Every console line is recorded too (its first words), which
//! dates the stages inside the menu code. Nothing is printed until [`report`], just before
//! the jump, so the trace hardly disturbs what it measures; without the option only the
//! start-up marks are recorded (a few hypercalls) and nothing is printed.

//! Built only with the `trace` cargo feature (`RPVBOOT_FEATURES=trace cargo xtask build`):
//! without it every function here is empty and the image is what it was (the option then says
//! that the image has no trace).

use core::sync::atomic::{AtomicU64, Ordering};

/// Whether this image records the trace (the `trace` feature).
pub const BUILT: bool = cfg!(feature = "trace");

/// What a wait for dom0 waited on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// The xenstore ring: xenstored's replies and watch events (the backends' state changes).
    Xenstore = 0,
    /// A disk's ring: blkback's responses.
    Disk = 1,
    /// The console ring: xenconsoled taking our output.
    Console = 2,
}

/// The TSC at the PV entry's first instruction (pv/entry.rs stores it after zeroing .bss).
#[no_mangle]
pub static ENTRY_TSC: [AtomicU64; 3] = [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)];

/// Records the TSC before the first hypercall (the shared_info mapping), for [`start`].
pub fn stamp_tsc() {
    ENTRY_TSC[2].store(crate::hypervisor::shared::rdtsc(), Ordering::Relaxed);
}

pub use imp::*;

/// The recorder (the `trace` feature).
#[cfg(feature = "trace")]
mod imp {
    use core::fmt::{self, Write};
    use core::sync::atomic::Ordering;

    use super::{Wait, ENTRY_TSC};

    use crate::hypervisor::hypercall::hypercall5;
    use crate::hypervisor::shared::Shared;

    /// Events kept (later ones are counted, not kept).
    const EVENTS: usize = 192;
    /// Bytes of a console line kept.
    const TEXT: usize = 44;

    /// Waits of one kind: how many, how many blocked in `SCHEDOP_poll`, wall ns spent.
    #[derive(Clone, Copy, Default)]
    struct Waits {
        n: u32,
        blocked: u32,
        ns: u64,
    }

    /// All fields zero when empty (`what: None`), so that [`STATE`] lies in .bss, not in the image.
    #[derive(Clone, Copy)]
    struct Event {
        what: Option<&'static str>,
        n: u64,
        text: [u8; TEXT],
        text_len: u8,
        /// Xen system time.
        t: u64,
        /// Runstate times: running, runnable, blocked, offline.
        rs: [u64; 4],
        /// Waits since the previous event.
        waits: [Waits; 3],
    }

    const EMPTY: Event =
        Event { what: None, n: 0, text: [0; TEXT], text_len: 0, t: 0, rs: [0; 4], waits: [Waits::ZERO; 3] };

    impl Waits {
        const ZERO: Waits = Waits { n: 0, blocked: 0, ns: 0 };
    }

    struct State {
        shared: Option<Shared>,
        /// Recording (before the command line is read, and with `rpvboot.trace`).
        on: bool,
        events: [Event; EVENTS],
        len: usize,
        dropped: u32,
        /// Waits since the last event, and over the whole trace.
        waits: [Waits; 3],
        total: [Waits; 3],
        /// The console line being written.
        line: [u8; TEXT],
        line_len: usize,
    }

    static STATE: spin::Mutex<State> = spin::Mutex::new(State {
        shared: None,
        on: false,
        events: [EMPTY; EVENTS],
        len: 0,
        dropped: 0,
        waits: [Waits::ZERO; 3],
        total: [Waits::ZERO; 3],
        line: [0; TEXT],
        line_len: 0,
    });

    /// This vCPU's runstate times (running, runnable, blocked, offline), zeros if Xen refuses.
    fn runstate() -> [u64; 4] {
        let mut rs = [0u64; 6];
        // SAFETY: VCPUOP_get_runstate_info (vcpu_op 24, cmd 4) for vCPU 0 writes a 48-byte
        // vcpu_runstate_info (state, entry time, time[4]) into the live buffer.
        let rc = unsafe { hypercall5(24, 4, 0, rs.as_mut_ptr() as u64, 0, 0) };
        match rs {
            [_, _, a, b, c, d] if rc == 0 => [a, b, c, d],
            _ => [0; 4],
        }
    }

    /// Starts recording at the first instruction that can read the clock. With the TSC of the
    /// entry's first instruction, a first event dates it (its runstate estimated: the wall time
    /// since counted as running).
    pub fn start(shared: Shared) {
        let mut s = STATE.lock();
        s.shared = Some(shared);
        s.on = true;
        push(&mut s, "shared_info mapped", 0, &[]);
        let [first, zeroed, parsed] = [0, 1, 2].map(|i| ENTRY_TSC[i].load(Ordering::Relaxed));
        if first != 0 && zeroed != 0 && parsed != 0 {
            let time = shared.vcpu_time();
            let mapped = s.events[0];
            let at = |tsc: u64, what: &'static str| {
                let t = xenfront::time::system_time_ns(&time, tsc);
                let mut e = mapped;
                e.what = Some(what);
                e.t = t;
                e.rs[0] = e.rs[0].saturating_sub(mapped.t.saturating_sub(t));
                e
            };
            s.events[0] = at(first, "first instruction (est.)");
            s.events[1] = at(zeroed, ".bss zeroed (est.)");
            s.events[2] = at(parsed, "start_info read (est.)");
            s.events[3] = mapped;
            s.len = 4;
        }
    }

    /// Keeps recording if `rpvboot.trace` is on; otherwise stops (the start-up marks are dropped).
    pub fn enable(on: bool) {
        let mut s = STATE.lock();
        s.on = on;
        if !on {
            s.len = 0;
        }
    }

    /// Whether marks are recorded.
    pub fn on() -> bool {
        STATE.lock().on
    }

    fn push(s: &mut State, what: &'static str, n: u64, text: &[u8]) {
        let Some(shared) = s.shared else { return };
        let mut e = Event { what: Some(what), n, t: shared.now_ns(), rs: runstate(), waits: s.waits, ..EMPTY };
        let k = text.len().min(TEXT);
        e.text[..k].copy_from_slice(&text[..k]);
        e.text_len = k as u8;
        s.waits = [Waits::ZERO; 3];
        match s.events.get_mut(s.len) {
            Some(slot) => {
                *slot = e;
                s.len += 1;
            }
            None => s.dropped = s.dropped.saturating_add(1),
        }
    }

    /// Records that stage `what` (of item `n`: a disk's index, a byte count) ended now.
    pub fn mark(what: &'static str, n: u64) {
        let mut s = STATE.lock();
        if s.on {
            push(&mut s, what, n, &[]);
        }
    }

    /// Xen system time now, for [`wait`] (0 before [`start`]).
    pub fn now() -> u64 {
        STATE.lock().shared.map_or(0, |s| s.now_ns())
    }

    /// Counts a wait for dom0 that began at `start_ns` (Xen system time) and ended now, which
    /// blocked in `SCHEDOP_poll` or not.
    pub fn wait(kind: Wait, blocked: bool, start_ns: u64) {
        let mut s = STATE.lock();
        if !s.on {
            return;
        }
        let ns = s.shared.map_or(0, |sh| sh.now_ns().saturating_sub(start_ns));
        let i = kind as usize;
        let st = &mut *s;
        for w in [&mut st.waits[i], &mut st.total[i]] {
            w.n = w.n.saturating_add(1);
            w.blocked = w.blocked.saturating_add(u32::from(blocked));
            w.ns = w.ns.saturating_add(ns);
        }
    }

    /// Records console output: each finished line becomes an event with its first words.
    pub fn console(args: fmt::Arguments<'_>) {
        struct Lines<'a>(&'a mut State);
        impl Write for Lines<'_> {
            fn write_str(&mut self, text: &str) -> fmt::Result {
                for &b in text.as_bytes() {
                    let s = &mut *self.0;
                    if b == b'\n' {
                        let line = s.line;
                        let len = s.line_len;
                        s.line_len = 0;
                        push(s, "line", 0, &line[..len]);
                    } else if s.line_len < TEXT {
                        s.line[s.line_len] = b;
                        s.line_len += 1;
                    }
                }
                Ok(())
            }
        }
        let mut s = STATE.lock();
        if s.on {
            let _ = fmt::write(&mut Lines(&mut s), args);
        }
    }

    /// Prints the trace (and stops recording): one line per event with the time since the
    /// domain was unpaused, the step's wall time and its running/runnable/blocked split, and the
    /// waits in the step; then the totals per kind of wait.
    pub fn report() {
        let mut s = STATE.lock();
        if !s.on {
            return;
        }
        push(&mut s, "report", 0, &[]);
        s.on = false;
        let (events, len, total, dropped) = (s.events, s.len, s.total, s.dropped);
        drop(s);
        crate::println!(
            "rpvboot: trace: since unpause ms | step us: wall run rnb blk | waits n/blocked/us: xs disk con | what"
        );
        if let Some(e) = events.first() {
            crate::println!(
                "rpvboot: trace before the first mark (us): running {} runnable {} blocked {}",
                e.rs[0] / 1000,
                e.rs[1] / 1000,
                e.rs[2] / 1000
            );
        }
        let mut prev: Option<&Event> = None;
        for e in events.iter().take(len) {
            let up = |e: &Event| e.rs[0].saturating_add(e.rs[1]).saturating_add(e.rs[2]);
            let d = |a: u64, b: Option<u64>| b.map_or(0, |b| a.saturating_sub(b) / 1000);
            let mut w = Text { buf: [0; 64], len: 0 };
            for x in e.waits {
                let _ = write!(w, " {}/{}/{}", x.n, x.blocked, x.ns / 1000);
            }
            let text = core::str::from_utf8(&e.text[..usize::from(e.text_len)]).unwrap_or("?");
            crate::println!(
                "rpvboot: trace {:4}.{:03} | {:6} {:6} {:5} {:6} |{} | {} {} {}",
                up(e) / 1_000_000,
                up(e) / 1000 % 1000,
                d(e.t, prev.map(|p| p.t)),
                d(e.rs[0], prev.map(|p| p.rs[0])),
                d(e.rs[1], prev.map(|p| p.rs[1])),
                d(e.rs[2], prev.map(|p| p.rs[2])),
                w.as_str(),
                e.what.unwrap_or(""),
                e.n,
                text,
            );
            prev = Some(e);
        }
        let [x, k, c] = total;
        crate::println!(
            "rpvboot: trace total waits n/blocked/us: xenstore {}/{}/{} disk {}/{}/{} console {}/{}/{}; {dropped} events not kept",
            x.n,
            x.blocked,
            x.ns / 1000,
            k.n,
            k.blocked,
            k.ns / 1000,
            c.n,
            c.blocked,
            c.ns / 1000
        );
    }

    /// A short line buffer for [`report`].
    struct Text {
        buf: [u8; 64],
        len: usize,
    }

    impl Text {
        fn as_str(&self) -> &str {
            core::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
        }
    }

    impl Write for Text {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let end = self.len.checked_add(s.len()).filter(|&e| e <= self.buf.len()).ok_or(fmt::Error)?;
            self.buf[self.len..end].copy_from_slice(s.as_bytes());
            self.len = end;
            Ok(())
        }
    }
}

/// Without the `trace` feature: nothing is recorded and nothing printed; every call is empty
/// and vanishes from the image.
#[cfg(not(feature = "trace"))]
mod imp {
    use super::Wait;
    use crate::hypervisor::shared::Shared;

    /// Does nothing (built without the `trace` feature).
    pub fn start(_shared: Shared) {}
    /// Does nothing (built without the `trace` feature).
    pub fn enable(_on: bool) {}
    /// Does nothing (built without the `trace` feature).
    pub fn mark(_what: &'static str, _n: u64) {}
    /// 0 (built without the `trace` feature).
    pub fn now() -> u64 {
        0
    }
    /// Does nothing (built without the `trace` feature).
    pub fn wait(_kind: Wait, _blocked: bool, _start_ns: u64) {}
    /// Does nothing (built without the `trace` feature).
    pub fn console(_args: core::fmt::Arguments<'_>) {}
    /// Does nothing (built without the `trace` feature).
    pub fn report() {}
}
