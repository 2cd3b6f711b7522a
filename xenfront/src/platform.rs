//! What the device drivers (xenstore client, blkfront) need from the machine underneath.
//!
//! The PV kernel implements [`Platform`] with hypercalls (grant table v1, event channels,
//! `SCHEDOP_poll`); host unit tests implement it with an in-process fake xenstored and blkback.
//! Keeping the drivers behind this trait is what lets their protocol logic — which handles
//! backend-controlled values — be tested without Xen.

use core::fmt;

/// A machine frame number (for PV guests grant entries carry MFNs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mfn(pub u64);

/// A grant reference in our own grant table (refs 0..8 are reserved by the toolstack).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GrantRef(pub u32);

/// A local event-channel port.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port(pub u32);

/// A domain id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DomId(pub u16);

/// Size of a page shared with a backend.
pub const PAGE_SIZE: usize = 4096;

/// Failures of the platform layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlatformError {
    /// A hypercall failed: which one and the (negative) value it returned.
    Hypercall {
        /// The operation, e.g. `"EVTCHNOP_alloc_unbound"`.
        op: &'static str,
        /// Xen's return value or per-op status.
        code: i64,
    },
    /// No memory left for a shared page.
    NoMemory,
    /// The grant table has no free entry.
    NoGrantRefs,
    /// The backend still maps the granted frame; the grant cannot be ended yet.
    GrantBusy(GrantRef),
}

impl fmt::Display for PlatformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Hypercall { op, code } => write!(f, "{op} failed with {code}"),
            Self::NoMemory => f.write_str("out of memory for shared pages"),
            Self::NoGrantRefs => f.write_str("grant table full"),
            Self::GrantBusy(r) => write!(f, "grant {} still mapped by the backend", r.0),
        }
    }
}

impl core::error::Error for PlatformError {}

/// One 4 KiB page shared with another domain.
///
/// Everything is copied in and out by value: no reference into shared memory is ever handed
/// out, because the other side may change it at any time. Offsets are our own constants or
/// masked ring indices; out-of-range accesses are ignored (reads yield zeros), never UB.
pub trait SharedPage {
    /// The machine frame to grant.
    fn frame(&self) -> Mfn;
    /// Reads a shared `u32` index with acquire ordering (`rmb` after the load in ring.h).
    fn load_u32(&self, off: usize) -> u32;
    /// Writes a shared `u32` index with release ordering (`wmb` before the store in ring.h).
    fn store_u32(&self, off: usize, val: u32);
    /// Copies bytes out of the page.
    fn read(&self, off: usize, buf: &mut [u8]);
    /// Copies bytes into the page.
    fn write(&self, off: usize, data: &[u8]);
    /// Full fence (`mb` in ring.h): orders our stores before our following loads.
    fn full_fence(&self);
}

/// Grant table, event channels, polling, time and shared pages.
///
/// Handles are cheap clones of one platform (the PV kernel has one grant table and one set of
/// ports), so several drivers can each keep one.
pub trait Platform: Clone {
    /// A page-aligned page we own and may grant.
    type Page: SharedPage;

    /// Allocates a zeroed page-aligned page.
    ///
    /// # Errors
    /// [`PlatformError::NoMemory`].
    fn alloc_page(&self) -> Result<Self::Page, PlatformError>;
    /// The xenstore ring page (`start_info.store_mfn`) and its already bound port.
    ///
    /// # Errors
    /// When the page cannot be mapped.
    fn xenstore(&self) -> Result<(Self::Page, Port), PlatformError>;
    /// Grants `frame` to `domid` (writable unless `readonly`).
    ///
    /// # Errors
    /// [`PlatformError::NoGrantRefs`].
    fn grant(&self, domid: DomId, frame: Mfn, readonly: bool) -> Result<GrantRef, PlatformError>;
    /// Ends a grant (flags → 0).
    ///
    /// # Errors
    /// [`PlatformError::GrantBusy`] while the other domain still maps the frame.
    fn end_grant(&self, gref: GrantRef) -> Result<(), PlatformError>;
    /// `EVTCHNOP_alloc_unbound(DOMID_SELF, remote)`.
    ///
    /// # Errors
    /// The hypercall's error.
    fn alloc_unbound(&self, remote: DomId) -> Result<Port, PlatformError>;
    /// `EVTCHNOP_close`.
    ///
    /// # Errors
    /// The hypercall's error.
    fn close_port(&self, port: Port) -> Result<(), PlatformError>;
    /// `EVTCHNOP_send`.
    ///
    /// # Errors
    /// The hypercall's error.
    fn notify(&self, port: Port) -> Result<(), PlatformError>;
    /// Waits until `port` is pending or `timeout_ns` passes (`SCHEDOP_poll`, events masked),
    /// then clears its pending bit. Returns whether the port was pending. May return early.
    ///
    /// # Errors
    /// The hypercall's error.
    fn poll(&self, port: Port, timeout_ns: u64) -> Result<bool, PlatformError>;
    /// Monotonic time in nanoseconds.
    fn now_ns(&self) -> u64;
    /// A developer timing mark: step `what` (of item `n`) ended now. rpvboot records it under
    /// `rpvboot.trace` (docs/loader-time.md); the default does nothing.
    fn trace(&self, what: &'static str, n: u64) {
        let _ = (what, n);
    }
    /// The machine frame of the page at virtual address `va` of our own memory, so that a
    /// driver can grant a caller's buffer to a backend instead of copying through its own
    /// pages. `None` (the default): not available, the driver copies.
    fn frame_of(&self, va: usize) -> Option<Mfn> {
        let _ = va;
        None
    }
    /// Takes a page out of circulation for good: its grant could not end (another domain
    /// may still write it) or its device broke the protocol. The default leaks it, which is
    /// what the PV kernel needs (the heap must never hand it out again); a fake may keep it
    /// until the machine goes away, so that fuzzing does not leak across runs.
    fn retire_page(&self, page: Self::Page) {
        core::mem::forget(page);
    }
}

/// A point in time after which a wait gives up.
#[derive(Clone, Copy, Debug)]
pub struct Deadline(u64);

impl Deadline {
    /// `timeout_ns` from now.
    pub fn after<P: Platform>(p: &P, timeout_ns: u64) -> Self {
        Self(p.now_ns().saturating_add(timeout_ns))
    }
    /// Nanoseconds left, `None` once passed.
    pub fn remaining<P: Platform>(&self, p: &P) -> Option<u64> {
        let now = p.now_ns();
        (now < self.0).then(|| self.0.saturating_sub(now))
    }
}

/// Nanoseconds per millisecond, for readable timeouts.
pub const MS: u64 = 1_000_000;
