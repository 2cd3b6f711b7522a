//! [`Platform`] for rpvboot (PV and PVH alike): grant table v1 mapped with `GNTTABOP_setup_table` +
//! `update_va_mapping`, event channels with `EVTCHNOP_{alloc_unbound,send,close}`, waits with
//! `SCHEDOP_poll` (events stay masked; never `SCHEDOP_block`), pages from the global heap
//! (VA = memory::pfn_to_va(PFN), MFN from the p2m).

use alloc::alloc::{alloc_zeroed, dealloc, Layout};
use alloc::rc::Rc;
use core::cell::RefCell;
use core::ptr::NonNull;

use super::hypercall::{self, hypercall5};
use super::shared::Shared;
use crate::memory;
use crate::trace::{self, Wait};
use xenfront::gnttab::GrantTable;
use xenfront::platform::{DomId, GrantRef, Mfn, Platform, PlatformError, Port, SharedPage, PAGE_SIZE};
use xenfront::raw::{pte, DOMID_SELF};
use xenfront::ring::RawPage;

/// `__HYPERVISOR_grant_table_op`.
const GRANT_TABLE_OP: usize = 20;
const GNTTABOP_SETUP_TABLE: u64 = 2;
const GNTTABOP_QUERY_SIZE: u64 = 6;
const EVTCHNOP_CLOSE: usize = 3;
const EVTCHNOP_ALLOC_UNBOUND: usize = 6;
/// Grant frames we ask for, if Xen allows (mini-os uses 4 = 2048 refs; each disk takes about
/// 300 refs for its ring and data pool, so 16 frames leave room for many disks).
const GNTTAB_FRAMES: u32 = 16;

/// `struct gnttab_setup_table` (24 bytes).
#[repr(C)]
struct SetupTable {
    dom: u16,
    _pad: u16,
    nr_frames: u32,
    status: i16,
    _pad2: [u8; 6],
    frame_list: u64,
}
const _: () = assert!(core::mem::size_of::<SetupTable>() == 24);

/// `struct gnttab_query_size` (16 bytes).
#[repr(C)]
struct QuerySize {
    dom: u16,
    _pad: u16,
    nr_frames: u32,
    max_nr_frames: u32,
    status: i16,
    _pad2: u16,
}
const _: () = assert!(core::mem::size_of::<QuerySize>() == 16);

/// `struct evtchn_alloc_unbound` (8 bytes).
#[repr(C)]
struct AllocUnbound {
    dom: u16,
    remote_dom: u16,
    port: u32,
}

fn page_layout() -> Layout {
    // 4096 is a power of two and non-zero: this cannot fail.
    Layout::from_size_align(PAGE_SIZE, PAGE_SIZE).unwrap_or(Layout::new::<u8>())
}

/// A page: either heap-allocated (freed on drop) or the xenstore ring (never freed).
#[derive(Debug)]
pub struct XenPage {
    raw: RawPage,
    owned: bool,
}

impl Drop for XenPage {
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: owned pages come from `alloc_zeroed(page_layout())` in `alloc_page`, and
            // drivers only drop a page after its grant ended (they leak it otherwise).
            unsafe { dealloc(self.raw.as_ptr(), page_layout()) };
        }
    }
}

impl SharedPage for XenPage {
    fn frame(&self) -> Mfn {
        self.raw.frame()
    }
    fn load_u32(&self, off: usize) -> u32 {
        self.raw.load_u32(off)
    }
    fn store_u32(&self, off: usize, val: u32) {
        self.raw.store_u32(off, val);
    }
    fn read(&self, off: usize, buf: &mut [u8]) {
        if off == 0 && buf.len() <= PAGE_SIZE {
            self.raw.read_page(buf);
        } else {
            self.raw.read(off, buf);
        }
    }
    fn write(&self, off: usize, data: &[u8]) {
        self.raw.write(off, data);
    }
    fn full_fence(&self) {
        self.raw.full_fence();
    }
}

struct Inner {
    gnttab: RefCell<GrantTable>,
    shared: Shared,
    store_mfn: u64,
    store_port: u32,
    /// How long [`Platform::poll`] watches the pending bit before it blocks.
    spin_ns: core::cell::Cell<u64>,
}

/// How long a wait watches the pending bit before it blocks in `SCHEDOP_poll`. The answer
/// of dom0 often comes within a fraction of a millisecond, and a blocked vCPU then still has
/// to be woken and scheduled: measured under TCG (`rpvboot.test=spin` of commit cb5f88a:
/// block and spin interleaved in one boot), a 0.5 ms spin cut the median xenstore round trip
/// from 404–433 to 336–346 µs and did not slow disk reads; longer spins did not help more.
const SPIN_NS_DEFAULT: u64 = 500_000;

/// rpvboot's platform handle for `xenfront`'s drivers.
#[derive(Clone)]
pub struct XenPlatform(Rc<Inner>);

fn xen_err(op: &'static str, code: i64) -> PlatformError {
    PlatformError::Hypercall { op, code }
}

/// Where the grant table's frames are reached.
#[derive(Clone, Copy, Debug)]
pub enum GrantFrames {
    /// PV: Xen lists the frames (`GNTTABOP_setup_table`); we map them over heap pages.
    Listed,
    /// PVH: Xen places frame `i` at guest frame `gfn + i` (`XENMEM_add_to_physmap`), where
    /// nothing else is and our map already covers ([`crate::memory::pfn_to_va`]).
    PlacedAt(u64),
}

impl XenPlatform {
    /// Maps our grant table and records the xenstore ring.
    ///
    /// # Errors
    /// The grant-table hypercalls fail or no memory for the mapping.
    pub fn new(shared: Shared, store_mfn: u64, store_port: u32, frames: GrantFrames) -> Result<Self, PlatformError> {
        let mut q = QuerySize { dom: DOMID_SELF, _pad: 0, nr_frames: 0, max_nr_frames: 0, status: 0, _pad2: 0 };
        // SAFETY: `q` is a live gnttab_query_size for the call.
        let rc = unsafe { hypercall5(GRANT_TABLE_OP, GNTTABOP_QUERY_SIZE, core::ptr::addr_of_mut!(q) as u64, 1, 0, 0) };
        if rc < 0 || q.status != 0 {
            return Err(xen_err("GNTTABOP_query_size", if rc < 0 { rc } else { i64::from(q.status) }));
        }
        let n = GNTTAB_FRAMES.min(q.max_nr_frames).max(1);
        let base = match frames {
            GrantFrames::Listed => map_listed_frames(n)?,
            GrantFrames::PlacedAt(gfn) => place_frames(n, gfn)?,
        };
        // SAFETY: `base` maps the n grant-table frames read-write, for 'static (never freed),
        // and only this table writes entries ≥ 8.
        let table = unsafe { GrantTable::new(base, n) };
        Ok(Self(Rc::new(Inner {
            gnttab: RefCell::new(table),
            shared,
            store_mfn,
            store_port,
            spin_ns: core::cell::Cell::new(SPIN_NS_DEFAULT),
        })))
    }
    /// Sets how long a wait spins on the pending bit before it blocks (`rpvboot.spin=<us>`).
    pub fn set_spin_ns(&self, ns: u64) {
        self.0.spin_ns.set(ns);
    }

    /// Refs still free (for the log).
    pub fn free_grants(&self) -> usize {
        self.0.gnttab.borrow().free_count()
    }
}

/// PV: `GNTTABOP_setup_table` lists the `n` frames' MFNs; they are mapped over a block of heap
/// pages (never freed) with `update_va_mapping`. Returns the block.
fn map_listed_frames(n: u32) -> Result<NonNull<u8>, PlatformError> {
    let mut frames = [0u64; GNTTAB_FRAMES as usize];
    let mut st = SetupTable {
        dom: DOMID_SELF,
        _pad: 0,
        nr_frames: n,
        status: 0,
        _pad2: [0; 6],
        frame_list: frames.as_mut_ptr() as u64,
    };
    // SAFETY: `st` and the `frames` array (room for n ≤ GNTTAB_FRAMES entries) are live for the call.
    let rc = unsafe { hypercall5(GRANT_TABLE_OP, GNTTABOP_SETUP_TABLE, core::ptr::addr_of_mut!(st) as u64, 1, 0, 0) };
    if rc < 0 || st.status != 0 {
        return Err(xen_err("GNTTABOP_setup_table", if rc < 0 { rc } else { i64::from(st.status) }));
    }
    let bytes = usize::try_from(n).unwrap_or(1) * PAGE_SIZE;
    let layout = Layout::from_size_align(bytes, PAGE_SIZE).map_err(|_| PlatformError::NoMemory)?;
    // SAFETY: non-zero size. The block is never freed: its VAs are re-pointed to the grant
    // frames below and stay so for rpvboot's life.
    let base = NonNull::new(unsafe { alloc_zeroed(layout) }).ok_or(PlatformError::NoMemory)?;
    for (i, &mfn) in frames.iter().take(usize::try_from(n).unwrap_or(0)).enumerate() {
        let va = base.as_ptr() as u64 + (i * PAGE_SIZE) as u64;
        // SAFETY: `va` is a page of the block we just allocated and nothing references it;
        // after this it maps grant-table frame `mfn`, which Xen lets us map read-write.
        unsafe { hypercall::update_va_mapping(va, (mfn << 12) | pte::L1_RW | pte::D) }
            .map_err(|e| xen_err("update_va_mapping(grant table)", e.0))?;
    }
    Ok(base)
}

/// PVH: `XENMEM_add_to_physmap(XENMAPSPACE_grant_table)` puts frame `i` at guest frame
/// `gfn + i` (above RAM, already in our map). Returns its VA.
fn place_frames(n: u32, gfn: u64) -> Result<NonNull<u8>, PlatformError> {
    for i in 0..u64::from(n) {
        // SAFETY: the start-up chose gfn.. outside every memory map entry: nothing is replaced.
        unsafe { super::hvm::add_to_physmap(super::hvm::Space::GrantTable, i, gfn + i) }
            .map_err(|e| xen_err("XENMEM_add_to_physmap(grant table)", e.0))?;
    }
    NonNull::new(memory::pfn_to_va(gfn) as *mut u8).ok_or(PlatformError::NoMemory)
}

impl Platform for XenPlatform {
    type Page = XenPage;

    fn alloc_page(&self) -> Result<XenPage, PlatformError> {
        // SAFETY: non-zero size layout.
        let p = NonNull::new(unsafe { alloc_zeroed(page_layout()) }).ok_or(PlatformError::NoMemory)?;
        let Some(mfn) = memory::frame_of_va(p.as_ptr() as u64) else {
            // SAFETY: just allocated with this layout.
            unsafe { dealloc(p.as_ptr(), page_layout()) };
            return Err(PlatformError::NoMemory);
        };
        // SAFETY: a fresh, page-aligned heap page owned by the returned XenPage only; `mfn`
        // backs it (VA = memory::pfn_to_va(PFN), p2m lookup).
        let raw = unsafe { RawPage::new(p, Mfn(mfn)) };
        Ok(XenPage { raw, owned: true })
    }

    fn xenstore(&self) -> Result<(XenPage, Port), PlatformError> {
        let pfn = memory::pfn_of_frame(self.0.store_mfn).ok_or(PlatformError::NoMemory)?;
        let va = NonNull::new(memory::pfn_to_va(pfn) as *mut u8).ok_or(PlatformError::NoMemory)?;
        // SAFETY: the store page lies in the bootstrap mapping at VA = memory::pfn_to_va(PFN) (checked via
        // the p2m), is page-aligned, and is only accessed through this RawPage and xenstored.
        let raw = unsafe { RawPage::new(va, Mfn(self.0.store_mfn)) };
        Ok((XenPage { raw, owned: false }, Port(self.0.store_port)))
    }

    fn grant(&self, domid: DomId, frame: Mfn, readonly: bool) -> Result<GrantRef, PlatformError> {
        self.0.gnttab.borrow_mut().grant(domid, frame, readonly)
    }

    fn end_grant(&self, gref: GrantRef) -> Result<(), PlatformError> {
        self.0.gnttab.borrow_mut().end(gref)
    }

    fn alloc_unbound(&self, remote: DomId) -> Result<Port, PlatformError> {
        let mut a = AllocUnbound { dom: DOMID_SELF, remote_dom: remote.0, port: 0 };
        // SAFETY: `a` is a live evtchn_alloc_unbound for the call.
        let rc = unsafe { hypercall::event_channel_op(EVTCHNOP_ALLOC_UNBOUND, core::ptr::addr_of_mut!(a) as u64) };
        if rc < 0 {
            return Err(xen_err("EVTCHNOP_alloc_unbound", rc));
        }
        Ok(Port(a.port))
    }

    fn close_port(&self, port: Port) -> Result<(), PlatformError> {
        if port.0 == self.0.store_port {
            return Err(xen_err("EVTCHNOP_close(xenstore port)", -1));
        }
        let p = port.0;
        // SAFETY: `p` is a live evtchn_close (one u32).
        let rc = unsafe { hypercall::event_channel_op(EVTCHNOP_CLOSE, core::ptr::addr_of!(p) as u64) };
        if rc < 0 {
            return Err(xen_err("EVTCHNOP_close", rc));
        }
        Ok(())
    }

    fn notify(&self, port: Port) -> Result<(), PlatformError> {
        super::evtchn::Port(port.0).notify().map_err(|e| xen_err("EVTCHNOP_send", e.0))
    }

    fn poll(&self, port: Port, timeout_ns: u64) -> Result<bool, PlatformError> {
        if self.0.shared.test_and_clear_pending(port.0) {
            return Ok(true);
        }
        let kind = if port.0 == self.0.store_port { Wait::Xenstore } else { Wait::Disk };
        let start = self.0.shared.now_ns();
        let spin_end = start.saturating_add(self.0.spin_ns.get().min(timeout_ns));
        while self.0.shared.now_ns() < spin_end {
            if self.0.shared.test_and_clear_pending(port.0) {
                trace::wait(kind, false, start);
                return Ok(true);
            }
            core::hint::spin_loop();
        }
        let deadline = start.saturating_add(timeout_ns.max(1));
        super::sched::poll(&[port.0], deadline).map_err(|e| xen_err("SCHEDOP_poll", e.0))?;
        trace::wait(kind, true, start);
        Ok(self.0.shared.test_and_clear_pending(port.0))
    }

    fn now_ns(&self) -> u64 {
        self.0.shared.now_ns()
    }

    fn trace(&self, what: &'static str, n: u64) {
        trace::mark(what, n);
    }

    fn frame_of(&self, va: usize) -> Option<Mfn> {
        memory::frame_of_va(u64::try_from(va).ok()?).map(Mfn)
    }
}
