//! Xen shared rings, front (guest) side: `xen/include/public/io/ring.h`.
//!
//! [`FrontRing`] owns one shared page and exposes a safe surface: `push` a request, `publish`
//! (tells whether the backend needs a notification), `poll` a response. Indices are free-running
//! `Wrapping<u32>`; every value the backend writes (`rsp_prod`) is checked before use, so a
//! backend that claims more responses than the ring holds yields [`RingError`], not a panic.
//! [`RawPage`] is the only unsafe part: a page of memory accessed with atomics and volatile copies.

use core::marker::PhantomData;
use core::num::Wrapping;
use core::ptr::NonNull;
use core::sync::atomic::{fence, AtomicU32, Ordering};

use super::platform::{Mfn, SharedPage, PAGE_SIZE};

/// Offsets of the `*_sring` header (ring.h `DEFINE_RING_TYPES`).
const REQ_PROD: usize = 0;
const REQ_EVENT: usize = 4;
const RSP_PROD: usize = 8;
const RSP_EVENT: usize = 12;
/// Size of the shared header before `ring[]`.
pub const SRING_HEADER: usize = 64;

/// The wire format carried by a ring.
pub trait RingProto {
    /// A request, encoded by value into a slot.
    type Req;
    /// A response, decoded by value from a slot.
    type Rsp;
    /// Bytes per slot (the request/response union).
    const SLOT_SIZE: usize;
    /// Writes `req` into `slot` (exactly `SLOT_SIZE` bytes).
    fn encode(req: &Self::Req, slot: &mut [u8]);
    /// Reads a response from `slot` (exactly `SLOT_SIZE` bytes).
    fn decode(slot: &[u8]) -> Self::Rsp;
}

/// Number of slots in a one-page ring: `__CONST_RING_SIZE` (largest power of two that fits).
pub const fn ring_size(slot_size: usize) -> u32 {
    let n = (PAGE_SIZE - SRING_HEADER) / slot_size;
    if n == 0 {
        return 0;
    }
    1u32 << (usize::BITS - 1 - n.leading_zeros())
}

/// The ring is full; retry after consuming responses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RingFull;

/// The backend broke the ring protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingError {
    /// `rsp_prod - rsp_cons` exceeds the requests we have outstanding (ring.h
    /// `RING_RESPONSE_PROD_OVERFLOW`).
    RspProdOverflow {
        /// The backend's `rsp_prod`.
        rsp_prod: u32,
        /// Our `rsp_cons`.
        rsp_cons: u32,
    },
}

impl core::fmt::Display for RingError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::RspProdOverflow { rsp_prod, rsp_cons } => {
                write!(f, "backend rsp_prod {rsp_prod} runs past rsp_cons {rsp_cons} and our requests")
            }
        }
    }
}

/// The front end of a one-page shared ring.
#[derive(Debug)]
pub struct FrontRing<Pg, P> {
    page: Pg,
    req_prod_pvt: Wrapping<u32>,
    rsp_cons: Wrapping<u32>,
    size: u32,
    _proto: PhantomData<P>,
}

impl<Pg: SharedPage, P: RingProto> FrontRing<Pg, P> {
    /// Initialises the shared header on `page` (`SHARED_RING_INIT` + `FRONT_RING_INIT`).
    pub fn new(page: Pg) -> Self {
        Self::new_at(page, 0)
    }

    /// Like [`Self::new`] with all indices starting at `start` (tests use it to cross the u32 wrap).
    pub fn new_at(page: Pg, start: u32) -> Self {
        page.write(0, &[0u8; SRING_HEADER]);
        page.store_u32(REQ_PROD, start);
        page.store_u32(RSP_PROD, start);
        page.store_u32(REQ_EVENT, start.wrapping_add(1));
        page.store_u32(RSP_EVENT, start.wrapping_add(1));
        Self {
            page,
            req_prod_pvt: Wrapping(start),
            rsp_cons: Wrapping(start),
            size: ring_size(P::SLOT_SIZE),
            _proto: PhantomData,
        }
    }

    /// The shared page (to grant it).
    pub fn page(&self) -> &Pg {
        &self.page
    }

    /// Gives the page back (once the backend has unmapped it).
    pub fn into_page(self) -> Pg {
        self.page
    }

    /// Slots in the ring.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Requests pushed whose responses have not been consumed.
    pub fn outstanding(&self) -> u32 {
        (self.req_prod_pvt - self.rsp_cons).0
    }

    /// Free request slots.
    pub fn free_slots(&self) -> u32 {
        self.size.saturating_sub(self.outstanding())
    }

    fn slot_offset(&self, idx: Wrapping<u32>) -> usize {
        let mask = self.size.saturating_sub(1);
        let i = usize::try_from(idx.0 & mask).unwrap_or(0);
        SRING_HEADER + i * P::SLOT_SIZE
    }

    /// Writes a request into the next private slot (`RING_GET_REQUEST`, `req_prod_pvt++`).
    ///
    /// # Errors
    /// [`RingFull`] when every slot awaits a response.
    pub fn push(&mut self, req: &P::Req) -> Result<(), RingFull> {
        if self.free_slots() == 0 {
            return Err(RingFull);
        }
        let mut slot = [0u8; 128];
        let slot = slot.get_mut(..P::SLOT_SIZE).ok_or(RingFull)?;
        P::encode(req, slot);
        self.page.write(self.slot_offset(self.req_prod_pvt), slot);
        self.req_prod_pvt += 1;
        Ok(())
    }

    /// Makes pushed requests visible (`RING_PUSH_REQUESTS_AND_CHECK_NOTIFY`); returns whether
    /// the backend asked to be notified.
    pub fn publish(&mut self) -> bool {
        let old = Wrapping(self.page.load_u32(REQ_PROD));
        let new = self.req_prod_pvt;
        // wmb: store_u32 is a release store, so the slot contents are visible before req_prod.
        self.page.store_u32(REQ_PROD, new.0);
        // mb: our req_prod store must be ordered before the req_event load.
        self.page.full_fence();
        let event = Wrapping(self.page.load_u32(REQ_EVENT));
        (new - event).0 < (new - old).0
    }

    /// Takes the next response if there is one; re-arms `rsp_event` when there is none
    /// (`RING_FINAL_CHECK_FOR_RESPONSES`).
    ///
    /// # Errors
    /// [`RingError`] when the backend's `rsp_prod` is not believable.
    pub fn poll(&mut self) -> Result<Option<P::Rsp>, RingError> {
        for _ in 0..2 {
            // rmb: acquire load, so the response slots are read after rsp_prod.
            let prod = Wrapping(self.page.load_u32(RSP_PROD));
            let avail = (prod - self.rsp_cons).0;
            if avail > self.outstanding() {
                return Err(RingError::RspProdOverflow { rsp_prod: prod.0, rsp_cons: self.rsp_cons.0 });
            }
            if avail > 0 {
                let mut slot = [0u8; 128];
                let Some(slot) = slot.get_mut(..P::SLOT_SIZE) else {
                    return Ok(None);
                };
                self.page.read(self.slot_offset(self.rsp_cons), slot);
                self.rsp_cons += 1;
                return Ok(Some(P::decode(slot)));
            }
            // Nothing left: ask for an event at the next response, then look once more.
            self.page.store_u32(RSP_EVENT, (self.rsp_cons + Wrapping(1)).0);
            // mb: rsp_event store before re-reading rsp_prod.
            self.page.full_fence();
        }
        Ok(None)
    }
}

/// A page of memory accessed only by copying, with atomics for the shared indices.
///
/// The PV kernel uses it for pages it allocated (granted to a backend) and for the xenstore page.
#[derive(Debug)]
pub struct RawPage {
    ptr: NonNull<u8>,
    frame: Mfn,
}

impl RawPage {
    /// Wraps the page at `ptr`.
    ///
    /// # Safety
    /// `ptr` must be 4096-byte aligned, mapped read-write for 4096 bytes for as long as the
    /// `RawPage` lives, and not accessed through Rust references elsewhere (only the other
    /// domain may write it concurrently). `frame` must be the machine frame behind it.
    pub unsafe fn new(ptr: NonNull<u8>, frame: Mfn) -> Self {
        Self { ptr, frame }
    }

    /// The page's address.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    fn range_ok(off: usize, len: usize) -> bool {
        off.checked_add(len).is_some_and(|end| end <= PAGE_SIZE)
    }

    fn atomic(&self, off: usize) -> Option<&AtomicU32> {
        if !off.is_multiple_of(4) || !Self::range_ok(off, 4) {
            return None;
        }
        // SAFETY: `new`'s contract makes the page valid for 4096 bytes; `off` is 4-aligned and
        // in range, so this is an aligned u32 inside the page. It is only accessed atomically
        // here, which matches how the other domain treats ring indices.
        Some(unsafe { &*self.ptr.as_ptr().add(off).cast::<AtomicU32>() })
    }
}

impl SharedPage for RawPage {
    fn frame(&self) -> Mfn {
        self.frame
    }
    fn load_u32(&self, off: usize) -> u32 {
        self.atomic(off).map_or(0, |a| a.load(Ordering::Acquire))
    }
    fn store_u32(&self, off: usize, val: u32) {
        if let Some(a) = self.atomic(off) {
            a.store(val, Ordering::Release);
        }
    }
    fn read(&self, off: usize, buf: &mut [u8]) {
        if !Self::range_ok(off, buf.len()) {
            buf.fill(0);
            return;
        }
        for (i, b) in buf.iter_mut().enumerate() {
            // SAFETY: off + i < 4096 (checked above) and the page is valid per `new`. Volatile
            // because the other domain may write concurrently; a torn value is acceptable since
            // every value read here is validated afterwards.
            *b = unsafe { self.ptr.as_ptr().add(off + i).read_volatile() };
        }
    }
    fn write(&self, off: usize, data: &[u8]) {
        if !Self::range_ok(off, data.len()) {
            return;
        }
        for (i, b) in data.iter().enumerate() {
            // SAFETY: as in `read`: in range of the valid page, volatile for shared memory.
            unsafe { self.ptr.as_ptr().add(off + i).write_volatile(*b) };
        }
    }
    fn full_fence(&self) {
        fence(Ordering::SeqCst);
    }
}

impl RawPage {
    /// Copies the whole page into `buf` (fast path for data pages once the backend is done).
    pub fn read_page(&self, buf: &mut [u8]) {
        let n = buf.len().min(PAGE_SIZE);
        if let Some(dst) = buf.get_mut(..n) {
            // The backend has finished with a data page when we read it: acquire first.
            fence(Ordering::Acquire);
            // SAFETY: `n <= 4096` bytes of the valid page (per `new`) into a distinct Rust buffer.
            unsafe { core::ptr::copy_nonoverlapping(self.ptr.as_ptr(), dst.as_mut_ptr(), n) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::FakePage;

    struct U64Proto;
    impl RingProto for U64Proto {
        type Req = u64;
        type Rsp = u64;
        const SLOT_SIZE: usize = 112;
        fn encode(r: &u64, s: &mut [u8]) {
            s[..8].copy_from_slice(&r.to_le_bytes());
        }
        fn decode(s: &[u8]) -> u64 {
            u64::from_le_bytes(s[..8].try_into().unwrap())
        }
    }

    #[test]
    fn blkif_ring_has_32_slots() {
        // blkif.h: (4096 - 64) / 112 = 36 → 32; a 16-byte slot: 252 → 128.
        assert_eq!(ring_size(112), 32);
        assert_eq!(ring_size(16), 128);
    }

    /// Backend side: answer every published request by echoing it, advancing rsp_prod.
    fn backend_echo(page: &FakePage, req_cons: &mut u32) {
        let prod = page.load_u32(REQ_PROD);
        let mut rsp = page.load_u32(RSP_PROD);
        while *req_cons != prod {
            let off = SRING_HEADER + (*req_cons & 31) as usize * 112;
            let mut v = [0u8; 8];
            page.read(off, &mut v);
            let off = SRING_HEADER + (rsp & 31) as usize * 112;
            page.write(off, &v);
            rsp = rsp.wrapping_add(1);
            *req_cons = req_cons.wrapping_add(1);
        }
        page.store_u32(RSP_PROD, rsp);
    }

    #[test]
    fn wraps_u32_indices_and_fills_ring() {
        let start = u32::MAX - 40;
        let mut ring: FrontRing<_, U64Proto> = FrontRing::new_at(FakePage::detached(1), start);
        let mut cons = start;
        let mut next = 0u64;
        let mut got = Vec::new();
        for _ in 0..5 {
            while ring.push(&next).is_ok() {
                next += 1;
            }
            assert_eq!(ring.outstanding(), 32);
            ring.publish();
            backend_echo(&ring.page, &mut cons);
            while let Some(v) = ring.poll().unwrap() {
                got.push(v);
            }
        }
        assert_eq!(got, (0..160).collect::<Vec<_>>());
        assert!(ring.req_prod_pvt.0 < start, "indices crossed the u32 wrap");
    }

    #[test]
    fn notify_follows_req_event() {
        let mut ring: FrontRing<_, U64Proto> = FrontRing::new(FakePage::detached(1));
        ring.push(&1).unwrap();
        assert!(ring.publish(), "req_event=1 asks for the first request");
        ring.push(&2).unwrap();
        assert!(!ring.publish(), "backend did not re-arm");
        ring.page.store_u32(REQ_EVENT, 3);
        ring.push(&3).unwrap();
        assert!(ring.publish());
    }

    #[test]
    fn rejects_rsp_prod_beyond_outstanding() {
        let mut ring: FrontRing<_, U64Proto> = FrontRing::new(FakePage::detached(1));
        ring.push(&1).unwrap();
        ring.publish();
        ring.page.store_u32(RSP_PROD, 2);
        assert_eq!(ring.poll(), Err(RingError::RspProdOverflow { rsp_prod: 2, rsp_cons: 0 }));
        ring.page.store_u32(RSP_PROD, u32::MAX);
        assert!(ring.poll().is_err());
        ring.page.store_u32(RSP_PROD, 1);
        assert_eq!(ring.poll(), Ok(Some(1)), "slot 0 still holds the echoed request");
        // Re-armed for the next response.
        assert_eq!(ring.poll(), Ok(None));
        assert_eq!(ring.page.load_u32(RSP_EVENT), 2);
    }
}
