//! In-process fake Xen for host tests: a grant table, event channels, a clock, a xenstored
//! speaking the ring protocol, and blkback instances serving reads from [`MemDisk`]s.
//!
//! The fake reacts synchronously: a notify runs the peer at once; `poll` without a pending
//! event advances the clock by the timeout (so timeouts are instant in tests). Misbehaving
//! backends are selected with [`Behaviour`].

use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::rc::Rc;
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::RefCell;

use fs::{BlockDevice, MemDisk};

use super::blkif::{self, Request, Response};
use super::platform::{DomId, GrantRef, Mfn, Platform, PlatformError, Port, SharedPage, PAGE_SIZE};
use super::ring::SRING_HEADER;

/// Our domain id in the fake.
pub const DOMID: u32 = 7;
/// Marks the "frames" of the frontend's own memory handed out by `frame_of`: the page's
/// address >> 12 with this bit set. The fake backend writes those pages in place, as a real
/// backend writes a granted frame.
const OWN_MEMORY: u64 = 1 << 60;
const XS_PORT: u32 = 1;

/// A page of the fake machine.
#[derive(Clone, Debug)]
pub struct FakePage {
    mfn: u64,
    mem: Rc<RefCell<Vec<u8>>>,
}

impl FakePage {
    /// A zeroed page outside any machine, with frame number `mfn`: for ring tests and the
    /// fuzz targets' scripted platforms (both sides read and write it through
    /// [`SharedPage`]).
    pub fn detached(mfn: u64) -> Self {
        Self { mfn, mem: Rc::new(RefCell::new(alloc::vec![0u8; PAGE_SIZE])) }
    }
}

impl SharedPage for FakePage {
    fn frame(&self) -> Mfn {
        Mfn(self.mfn)
    }
    fn load_u32(&self, off: usize) -> u32 {
        let mut b = [0u8; 4];
        self.read(off, &mut b);
        u32::from_le_bytes(b)
    }
    fn store_u32(&self, off: usize, v: u32) {
        self.write(off, &v.to_le_bytes());
    }
    /// Out of range (also a hostile offset that overflows): zeros, as the trait says.
    fn read(&self, off: usize, buf: &mut [u8]) {
        let m = self.mem.borrow();
        match off.checked_add(buf.len()).and_then(|end| m.get(off..end)) {
            Some(s) => buf.copy_from_slice(s),
            None => buf.fill(0),
        }
    }
    /// Out of range: ignored, as the trait says.
    fn write(&self, off: usize, d: &[u8]) {
        let mut m = self.mem.borrow_mut();
        if let Some(s) = off.checked_add(d.len()).and_then(|end| m.get_mut(off..end)) {
            s.copy_from_slice(d);
        }
    }
    fn full_fence(&self) {}
}

/// How a fake blkback behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Like Linux blkback.
    Normal,
    /// Stays in Initialising forever (no backend driver).
    NeverConnect,
    /// Goes to Closed when the frontend publishes its ring.
    FailConnect,
    /// Answers each batch in reverse order.
    Reverse,
    /// Answers with `BLKIF_RSP_ERROR` for requests covering this 512-byte sector.
    ErrorAt(u64),
    /// Answers with an id it never got.
    BadId,
    /// Claims more responses than requests.
    Overflow,
    /// Never answers requests.
    Silent,
    /// Serves requests but never unmaps what it mapped (the ring, data pages, callers' pages
    /// read into in place), not even when it closes: those grants can never end.
    KeepsMapped,
}

struct Backend {
    devid: u32,
    front: String,
    back: String,
    disk: MemDisk,
    behaviour: Behaviour,
    max_indirect: Option<u32>,
    ring: Option<(u64, u32, u32)>, // (ring mfn, ring gref, frontend port)
    req_cons: u32,
    rsp_prod: u32,
    /// Requests seen, and their segment counts.
    seen: Vec<(bool, usize)>,
    /// Flush requests served.
    flushes: u32,
}

/// The fake machine.
pub struct World {
    pages: BTreeMap<u64, Rc<RefCell<Vec<u8>>>>,
    next_mfn: u64,
    grants: BTreeMap<u32, (u16, u64, bool)>,
    mapped: BTreeSet<u32>,
    next_ref: u32,
    ports: BTreeSet<u32>,
    pending: BTreeSet<u32>,
    next_port: u32,
    /// Nanoseconds.
    pub clock: u64,
    /// The store, absolute paths.
    pub store: BTreeMap<String, String>,
    watches: Vec<(String, String)>,
    xs_page: u64,
    xs_in: Vec<u8>,
    xs_out: VecDeque<u8>,
    /// Max bytes xenstored writes per service round (tests partial replies).
    pub xs_chunk: usize,
    /// Next transaction commits fail with EAGAIN this many times.
    pub eagain_commits: u32,
    next_tx: u32,
    /// Extra message injected before the next reply (stray reply tests).
    pub inject: Vec<Vec<u8>>,
    backends: Vec<Backend>,
    /// `frame_of` answers `None` (the frontend then copies through its own pages).
    pub no_frames: bool,
    /// Segments the backend wrote straight into the frontend's memory.
    pub own_writes: u64,
    /// A flood of watch events (hostile xenstored): until this time, every service round
    /// fills the reply ring with events only and takes `.1` ns.
    flood: Option<(u64, u64)>,
    /// Flood events not yet in the ring (whole messages).
    flood_out: VecDeque<u8>,
    /// Pages the frontend took out of circulation ([`Platform::retire_page`]).
    retired: Vec<FakePage>,
}

/// Platform handle to the fake machine.
#[derive(Clone)]
pub struct Fake(pub Rc<RefCell<World>>);

fn abs(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        alloc::format!("/local/domain/{DOMID}/{path}")
    }
}

fn msg(ty: u32, req_id: u32, tx: u32, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::new();
    for w in [ty, req_id, tx, body.len() as u32] {
        m.extend_from_slice(&w.to_le_bytes());
    }
    m.extend_from_slice(body);
    m
}

impl Fake {
    /// A machine with an empty store and a xenstore ring.
    pub fn new() -> Self {
        let mut w = World {
            pages: BTreeMap::new(),
            next_mfn: 0x1000,
            grants: BTreeMap::new(),
            mapped: BTreeSet::new(),
            next_ref: 8,
            ports: BTreeSet::from([XS_PORT]),
            pending: BTreeSet::new(),
            next_port: 10,
            clock: 0,
            store: BTreeMap::new(),
            watches: Vec::new(),
            xs_page: 0,
            xs_in: Vec::new(),
            xs_out: VecDeque::new(),
            xs_chunk: usize::MAX,
            eagain_commits: 0,
            next_tx: 1,
            inject: Vec::new(),
            backends: Vec::new(),
            no_frames: false,
            own_writes: 0,
            flood: None,
            flood_out: VecDeque::new(),
            retired: Vec::new(),
        };
        w.xs_page = w.new_page().mfn;
        Self(Rc::new(RefCell::new(w)))
    }

    /// Adds a disk with the toolstack's nodes, as libxl writes them.
    pub fn add_disk(&self, devid: u32, disk: MemDisk, behaviour: Behaviour, max_indirect: Option<u32>) {
        let mut w = self.0.borrow_mut();
        let front = abs(&alloc::format!("device/vbd/{devid}"));
        let back = alloc::format!("/local/domain/0/backend/vbd/{DOMID}/{devid}");
        let st = &mut w.store;
        st.insert(alloc::format!("{front}/backend"), back.clone());
        st.insert(alloc::format!("{front}/backend-id"), "0".into());
        st.insert(alloc::format!("{front}/state"), "1".into());
        st.insert(alloc::format!("{front}/virtual-device"), devid.to_string());
        st.insert(alloc::format!("{back}/state"), if behaviour == Behaviour::NeverConnect { "1" } else { "2" }.into());
        if let Some(n) = max_indirect {
            st.insert(alloc::format!("{back}/feature-max-indirect-segments"), n.to_string());
        }
        // As libxl (mode) and Linux blkback (feature-flush-cache) write them.
        st.insert(alloc::format!("{back}/mode"), "w".into());
        st.insert(alloc::format!("{back}/feature-flush-cache"), "1".into());
        w.backends.push(Backend {
            devid,
            front,
            back,
            disk,
            behaviour,
            max_indirect,
            ring: None,
            req_cons: 0,
            rsp_prod: 0,
            seen: Vec::new(),
            flushes: 0,
        });
    }

    /// Grants still active (should be none after a clean close).
    pub fn live_grants(&self) -> usize {
        self.0.borrow().grants.len()
    }
    /// Makes `frame_of` answer `None` (or not), so the frontend copies (or reads in place).
    pub fn set_no_frames(&self, v: bool) {
        self.0.borrow_mut().no_frames = v;
    }
    /// Segments the backends wrote straight into the frontend's memory.
    pub fn own_writes(&self) -> u64 {
        self.0.borrow().own_writes
    }
    /// Pages the frontend took out of circulation for good.
    pub fn retired_pages(&self) -> usize {
        self.0.borrow().retired.len()
    }
    /// Ports still open besides xenstore's.
    pub fn live_ports(&self) -> usize {
        self.0.borrow().ports.len() - 1
    }
    /// Requests the backend of `devid` saw: (indirect, segments).
    pub fn seen(&self, devid: u32) -> Vec<(bool, usize)> {
        self.0.borrow().backends.iter().find(|b| b.devid == devid).map(|b| b.seen.clone()).unwrap_or_default()
    }
    /// The bytes of the disk `devid` (after writes).
    pub fn disk_bytes(&self, devid: u32) -> Vec<u8> {
        self.0.borrow().backends.iter().find(|b| b.devid == devid).map(|b| b.disk.bytes().to_vec()).unwrap_or_default()
    }
    /// Flush requests the backend of `devid` served.
    pub fn flushes(&self, devid: u32) -> u32 {
        self.0.borrow().backends.iter().find(|b| b.devid == devid).map_or(0, |b| b.flushes)
    }
    /// A store value.
    pub fn get(&self, path: &str) -> Option<String> {
        self.0.borrow().store.get(&abs(path)).cloned()
    }
    /// Sets a store value (as another domain would), firing watches.
    pub fn set(&self, path: &str, v: &str) {
        self.0.borrow_mut().xs_write(&abs(path), v);
    }
    /// From now until the clock reaches `until_ns`, xenstored sends nothing but watch events,
    /// as fast as the reply ring takes them, each service round taking `step_ns`: replies
    /// wait behind the flood. Call between requests.
    pub fn flood_events(&self, until_ns: u64, step_ns: u64) {
        self.0.borrow_mut().flood = Some((until_ns, step_ns));
    }
    /// The backend of `devid` goes away: stops serving, unmaps its ring, says Closed.
    pub fn disconnect(&self, devid: u32) {
        let mut w = self.0.borrow_mut();
        let Some(i) = w.backends.iter().position(|b| b.devid == devid) else { return };
        w.backends[i].behaviour = Behaviour::Silent;
        if let Some((_, rr, _)) = w.backends[i].ring.take() {
            w.mapped.remove(&rr);
        }
        let back = w.backends[i].back.clone();
        w.xs_write(&alloc::format!("{back}/state"), "6");
    }
}

impl Default for Fake {
    fn default() -> Self {
        Self::new()
    }
}

/// Writes `data` at `off` of the frontend's page number `page` (its address >> 12): what a
/// real backend does to a frame granted for a read.
#[allow(unsafe_code)]
fn write_own_page(page: u64, off: usize, data: &[u8]) {
    let Some(addr) = usize::try_from(page << 12).ok().and_then(|a| a.checked_add(off)) else { return };
    if off.saturating_add(data.len()) > PAGE_SIZE {
        return;
    }
    // SAFETY: the frontend granted this page of its own memory, writable, for the request
    // being served, and holds the buffer (an exclusive borrow) until it has consumed the
    // response; `off + len` stays inside the page (checked above).
    unsafe { core::ptr::copy_nonoverlapping(data.as_ptr(), addr as *mut u8, data.len()) };
}

impl World {
    fn new_page(&mut self) -> FakePage {
        let mfn = self.next_mfn;
        self.next_mfn += 1;
        let mem = Rc::new(RefCell::new(alloc::vec![0u8; PAGE_SIZE]));
        self.pages.insert(mfn, mem.clone());
        FakePage { mfn, mem }
    }

    fn page(&self, mfn: u64) -> Option<FakePage> {
        self.pages.get(&mfn).map(|m| FakePage { mfn, mem: m.clone() })
    }

    /// Backend maps a grant: checks it exists, is for dom0, writable if needed.
    fn map_grant(&self, gref: u32, write: bool) -> Option<FakePage> {
        let &(dom, mfn, ro) = self.grants.get(&gref)?;
        if dom != 0 || (write && ro) {
            return None;
        }
        self.page(mfn)
    }

    fn xs_write(&mut self, path: &str, v: &str) {
        self.store.insert(path.to_string(), v.to_string());
        self.fire(path);
        self.react();
    }

    fn fire(&mut self, path: &str) {
        let hits: Vec<_> = self
            .watches
            .iter()
            .filter(|(w, _)| path == w || path.starts_with(&alloc::format!("{w}/")))
            .cloned()
            .collect();
        for (_, tok) in hits {
            let mut body = Vec::new();
            body.extend_from_slice(path.as_bytes());
            body.push(0);
            body.extend_from_slice(tok.as_bytes());
            body.push(0);
            self.xs_out.extend(msg(15, 0, 0, &body));
        }
    }

    /// The backends' xenbus state machines (Linux blkback `frontend_changed`).
    fn react(&mut self) {
        for i in 0..self.backends.len() {
            let (front, back, beh) = {
                let b = &self.backends[i];
                (b.front.clone(), b.back.clone(), b.behaviour)
            };
            let fst: u32 = self.store.get(&alloc::format!("{front}/state")).and_then(|s| s.parse().ok()).unwrap_or(0);
            let bst: u32 = self.store.get(&alloc::format!("{back}/state")).and_then(|s| s.parse().ok()).unwrap_or(0);
            let next = match (fst, bst) {
                (_, 1) if beh == Behaviour::NeverConnect => None,
                (3, 2) if beh == Behaviour::FailConnect => Some(6),
                (3, 2) => {
                    let rr = self.store.get(&alloc::format!("{front}/ring-ref")).and_then(|s| s.parse::<u32>().ok());
                    let ev =
                        self.store.get(&alloc::format!("{front}/event-channel")).and_then(|s| s.parse::<u32>().ok());
                    let proto = self.store.get(&alloc::format!("{front}/protocol")).cloned();
                    match (rr, ev) {
                        (Some(rr), Some(ev)) if proto.as_deref() == Some("x86_64-abi") => {
                            let mfn = self.map_grant(rr, true).map(|p| p.mfn);
                            match mfn {
                                Some(mfn) if self.ports.contains(&ev) => {
                                    self.mapped.insert(rr);
                                    let b = &mut self.backends[i];
                                    b.ring = Some((mfn, rr, ev));
                                    b.req_cons = 0;
                                    b.rsp_prod = 0;
                                    let ss = b.disk.block_size();
                                    let n = b.disk.num_blocks();
                                    self.store.insert(alloc::format!("{back}/sector-size"), ss.to_string());
                                    self.store.insert(alloc::format!("{back}/sectors"), n.to_string());
                                    self.store.insert(alloc::format!("{back}/info"), "4".into());
                                    Some(4)
                                }
                                _ => Some(6),
                            }
                        }
                        _ => Some(6),
                    }
                }
                (5, 4) | (5, 2) => Some(5),
                (6, 5) | (6, 4) => {
                    if let Some((_, rr, _)) = self.backends[i].ring.take() {
                        if beh != Behaviour::KeepsMapped {
                            self.mapped.remove(&rr);
                        }
                    }
                    Some(6)
                }
                (1, 6) => Some(2),
                _ => None,
            };
            if let Some(n) = next {
                self.store.insert(alloc::format!("{back}/state"), n.to_string());
                self.fire(&alloc::format!("{back}/state"));
            }
        }
    }

    fn xs_handle(&mut self, ty: u32, id: u32, tx: u32, body: &[u8]) {
        let mut args = body.split(|&b| b == 0);
        let path = abs(&String::from_utf8_lossy(args.next().unwrap_or(&[])));
        let reply = |w: &mut World, ty: u32, b: &[u8]| w.xs_out.extend(msg(ty, id, tx, b));
        let err = |w: &mut World, e: &str| {
            let mut b = e.as_bytes().to_vec();
            b.push(0);
            w.xs_out.extend(msg(16, id, tx, &b));
        };
        for m in core::mem::take(&mut self.inject) {
            self.xs_out.extend(m);
        }
        match ty {
            1 => {
                let prefix = alloc::format!("{path}/");
                let mut kids: Vec<String> = self
                    .store
                    .keys()
                    .filter_map(|k| k.strip_prefix(&prefix).map(|r| r.split('/').next().unwrap_or("").to_string()))
                    .collect();
                kids.dedup();
                if kids.is_empty() && !self.store.contains_key(&path) {
                    return err(self, "ENOENT");
                }
                let mut b = Vec::new();
                for k in kids {
                    b.extend_from_slice(k.as_bytes());
                    b.push(0);
                }
                reply(self, 1, &b);
            }
            2 => match self.store.get(&path).cloned() {
                Some(v) => reply(self, 2, v.as_bytes()),
                None => err(self, "ENOENT"),
            },
            4 => {
                let tok = String::from_utf8_lossy(args.next().unwrap_or(&[])).into_owned();
                self.watches.push((path.clone(), tok));
                reply(self, 4, b"OK\0");
                self.fire(&path);
            }
            5 => {
                let tok = String::from_utf8_lossy(args.next().unwrap_or(&[])).into_owned();
                self.watches.retain(|(p, t)| !(p == &path && t == &tok));
                reply(self, 5, b"OK\0");
            }
            6 => {
                let t = self.next_tx;
                self.next_tx += 1;
                reply(self, 6, alloc::format!("{t}\0").as_bytes());
            }
            7 => {
                if body.starts_with(b"T") && self.eagain_commits > 0 {
                    self.eagain_commits -= 1;
                    return err(self, "EAGAIN");
                }
                reply(self, 7, b"OK\0");
            }
            11 => {
                let pos = body.iter().position(|&b| b == 0).unwrap_or(body.len());
                let v = String::from_utf8_lossy(body.get(pos + 1..).unwrap_or(&[])).into_owned();
                // Writes inside a transaction apply directly (no conflicts modelled beyond
                // `eagain_commits`).
                reply(self, 11, b"OK\0");
                self.xs_write(&path, &v);
            }
            13 => {
                let prefix = alloc::format!("{path}/");
                self.store.retain(|k, _| k != &path && !k.starts_with(&prefix));
                reply(self, 13, b"OK\0");
            }
            _ => err(self, "ENOSYS"),
        }
    }

    fn service_xs(&mut self) {
        let Some(pg) = self.page(self.xs_page) else {
            return;
        };
        // Requests.
        let cons = pg.load_u32(2048);
        let prod = pg.load_u32(2052);
        let mut c = cons;
        while c != prod {
            let mut b = [0u8; 1];
            pg.read((c % 1024) as usize, &mut b);
            self.xs_in.push(b[0]);
            c = c.wrapping_add(1);
        }
        pg.store_u32(2048, c);
        while self.xs_in.len() >= 16 {
            let w = |i: usize| u32::from_le_bytes(self.xs_in[i..i + 4].try_into().unwrap());
            let len = w(12) as usize;
            if self.xs_in.len() < 16 + len {
                break;
            }
            let (ty, id, tx) = (w(0), w(4), w(8));
            let body: Vec<u8> = self.xs_in[16..16 + len].to_vec();
            self.xs_in.drain(..16 + len);
            self.xs_handle(ty, id, tx, &body);
        }
        // Replies, as much as fits (and at most xs_chunk); during a flood, events only.
        let flooding = self.flood.is_some_and(|(until, _)| self.clock < until);
        if let Some((_, step)) = self.flood.filter(|_| flooding) {
            self.clock = self.clock.saturating_add(step);
        }
        let rc = pg.load_u32(2056);
        let mut rp = pg.load_u32(2060);
        let mut budget = self.xs_chunk;
        while budget > 0 && rp.wrapping_sub(rc) < 1024 {
            if flooding && self.flood_out.is_empty() {
                self.flood_out.extend(msg(15, 0, 0, b"/local/domain/7/flood\0flood\0"));
            }
            let next = if flooding || !self.flood_out.is_empty() {
                self.flood_out.pop_front()
            } else {
                self.xs_out.pop_front()
            };
            let Some(b) = next else {
                break;
            };
            pg.write(1024 + (rp % 1024) as usize, &[b]);
            rp = rp.wrapping_add(1);
            budget -= 1;
        }
        if rp != pg.load_u32(2060) {
            pg.store_u32(2060, rp);
            self.pending.insert(XS_PORT);
        }
    }

    fn service_blk(&mut self, i: usize) {
        let Some((ring_mfn, _, port)) = self.backends[i].ring else {
            return;
        };
        let Some(ring) = self.page(ring_mfn) else {
            return;
        };
        let beh = self.backends[i].behaviour;
        if beh == Behaviour::Silent {
            return;
        }
        let prod = ring.load_u32(0);
        let mut rsps = Vec::new();
        while self.backends[i].req_cons != prod {
            let c = self.backends[i].req_cons;
            let mut slot = [0u8; 112];
            ring.read(SRING_HEADER + (c % 32) as usize * 112, &mut slot);
            self.backends[i].req_cons = c.wrapping_add(1);
            let rsp = self.serve(i, &slot);
            rsps.push(rsp);
        }
        if rsps.is_empty() {
            return;
        }
        match beh {
            Behaviour::Reverse => rsps.reverse(),
            Behaviour::BadId => rsps[0].id ^= 0x5555_0000_0000,
            _ => {}
        }
        let mut rp = self.backends[i].rsp_prod;
        for r in &rsps {
            let mut slot = [0u8; 112];
            blkif::encode_response(r, &mut slot);
            ring.write(SRING_HEADER + (rp % 32) as usize * 112, &slot);
            rp = rp.wrapping_add(1);
        }
        if beh == Behaviour::Overflow {
            rp = rp.wrapping_add(5);
        }
        self.backends[i].rsp_prod = rp;
        ring.store_u32(8, rp);
        // Like RING_FINAL_CHECK_FOR_REQUESTS: ask for the next request.
        ring.store_u32(4, self.backends[i].req_cons.wrapping_add(1));
        self.pending.insert(port);
    }

    fn serve(&mut self, i: usize, slot: &[u8]) -> Response {
        let req = blkif::decode_request(slot);
        let (id, op, sector, segs, indirect) = match req {
            Some(Request::Direct { id, sector, segs, .. }) => {
                (id, blkif::OP_READ, sector, segs.as_slice().to_vec(), false)
            }
            Some(Request::Write { id, sector, segs, .. }) => return self.serve_write(i, id, sector, segs.as_slice()),
            Some(Request::Flush { id, .. }) => {
                self.backends[i].flushes += 1;
                return Response { id, operation: blkif::OP_FLUSH_DISKCACHE, status: 0 };
            }
            Some(Request::Indirect { id, sector, nr_segments, grefs, .. }) => {
                let n = usize::from(nr_segments);
                let max = self.backends[i].max_indirect.unwrap_or(0) as usize;
                if n == 0 || n > max {
                    return Response { id, operation: blkif::OP_INDIRECT, status: -1 };
                }
                let mut segs = Vec::new();
                for k in 0..n {
                    let Some(pg) = self.map_grant(grefs[k / 512], false) else {
                        return Response { id, operation: blkif::OP_READ, status: -1 };
                    };
                    let mut d = [0u8; 8];
                    pg.read((k % 512) * 8, &mut d);
                    segs.push(blkif::decode_segment(&d));
                }
                (id, blkif::OP_READ, sector, segs, true)
            }
            None => {
                return Response {
                    id: u64::from_le_bytes(slot[8..16].try_into().unwrap()),
                    operation: slot[0],
                    status: -2,
                }
            }
        };
        self.backends[i].seen.push((indirect, segs.len()));
        if !indirect && (segs.is_empty() || segs.len() > 11) {
            return Response { id, operation: op, status: -1 };
        }
        let mut sec = sector;
        for s in &segs {
            if s.first_sect > s.last_sect || s.last_sect > 7 {
                return Response { id, operation: op, status: -1 };
            }
            let n = u64::from(s.last_sect - s.first_sect + 1);
            if let Behaviour::ErrorAt(bad) = self.backends[i].behaviour {
                if (sec..sec + n).contains(&bad) {
                    return Response { id, operation: op, status: -1 };
                }
            }
            let own =
                self.grants.get(&s.gref).copied().filter(|&(dom, mfn, ro)| dom == 0 && !ro && mfn & OWN_MEMORY != 0);
            if self.backends[i].behaviour == Behaviour::KeepsMapped && self.grants.contains_key(&s.gref) {
                self.mapped.insert(s.gref);
            }
            let page = match own {
                Some(_) => None,
                None => match self.map_grant(s.gref, true) {
                    Some(pg) => Some(pg),
                    None => return Response { id, operation: op, status: -1 },
                },
            };
            let mut data = alloc::vec![0u8; n as usize * 512];
            // The fake backend reads in 512-byte units, like sector_number.
            let disk = &mut self.backends[i].disk;
            let bytes = disk.bytes();
            let start = (sec * 512) as usize;
            match bytes.get(start..start + data.len()) {
                Some(src) => data.copy_from_slice(src),
                None => return Response { id, operation: op, status: -1 },
            }
            match (page, own) {
                (Some(pg), _) => pg.write(usize::from(s.first_sect) * 512, &data),
                (None, Some((_, mfn, _))) => {
                    self.own_writes += 1;
                    write_own_page(mfn & !OWN_MEMORY, usize::from(s.first_sect) * 512, &data);
                }
                (None, None) => return Response { id, operation: op, status: -1 },
            }
            sec += n;
        }
        Response { id, operation: op, status: 0 }
    }

    /// `BLKIF_OP_WRITE` as blkback does it: refused on a disk whose `mode` is not `w`, the
    /// granted pages mapped read-only (a write never needs more), the data copied to the disk.
    fn serve_write(&mut self, i: usize, id: u64, sector: u64, segs: &[blkif::Segment]) -> Response {
        let op = blkif::OP_WRITE;
        let mode = self.store.get(&alloc::format!("{}/mode", self.backends[i].back)).cloned();
        if mode.as_deref() != Some("w") || segs.is_empty() || segs.len() > 11 {
            return Response { id, operation: op, status: -1 };
        }
        self.backends[i].seen.push((false, segs.len()));
        let mut sec = sector;
        for s in segs {
            if s.first_sect > s.last_sect || s.last_sect > 7 {
                return Response { id, operation: op, status: -1 };
            }
            let Some(pg) = self.map_grant(s.gref, false) else {
                return Response { id, operation: op, status: -1 };
            };
            let n = usize::from(s.last_sect - s.first_sect + 1) * 512;
            let mut data = alloc::vec![0u8; n];
            pg.read(usize::from(s.first_sect) * 512, &mut data);
            let start = (sec * 512) as usize;
            match self.backends[i].disk.bytes_mut().get_mut(start..start + n) {
                Some(dst) => dst.copy_from_slice(&data),
                None => return Response { id, operation: op, status: -1 },
            }
            sec += (n / 512) as u64;
        }
        Response { id, operation: op, status: 0 }
    }

    fn service(&mut self) {
        self.service_xs();
        for i in 0..self.backends.len() {
            self.service_blk(i);
        }
        self.service_xs();
    }
}

impl Platform for Fake {
    type Page = FakePage;

    fn alloc_page(&self) -> Result<FakePage, PlatformError> {
        Ok(self.0.borrow_mut().new_page())
    }
    fn xenstore(&self) -> Result<(FakePage, Port), PlatformError> {
        let w = self.0.borrow();
        Ok((w.page(w.xs_page).ok_or(PlatformError::NoMemory)?, Port(XS_PORT)))
    }
    fn grant(&self, domid: DomId, frame: Mfn, readonly: bool) -> Result<GrantRef, PlatformError> {
        let mut w = self.0.borrow_mut();
        let r = w.next_ref;
        w.next_ref += 1;
        w.grants.insert(r, (domid.0, frame.0, readonly));
        Ok(GrantRef(r))
    }
    fn end_grant(&self, gref: GrantRef) -> Result<(), PlatformError> {
        let mut w = self.0.borrow_mut();
        if w.mapped.contains(&gref.0) {
            return Err(PlatformError::GrantBusy(gref));
        }
        w.grants.remove(&gref.0).map(drop).ok_or(PlatformError::Hypercall { op: "end unknown grant", code: -3 })
    }
    fn alloc_unbound(&self, _remote: DomId) -> Result<Port, PlatformError> {
        let mut w = self.0.borrow_mut();
        let p = w.next_port;
        w.next_port += 1;
        w.ports.insert(p);
        Ok(Port(p))
    }
    fn close_port(&self, port: Port) -> Result<(), PlatformError> {
        let mut w = self.0.borrow_mut();
        if port.0 == XS_PORT || !w.ports.remove(&port.0) {
            return Err(PlatformError::Hypercall { op: "EVTCHNOP_close", code: -22 });
        }
        Ok(())
    }
    fn notify(&self, port: Port) -> Result<(), PlatformError> {
        let mut w = self.0.borrow_mut();
        if !w.ports.contains(&port.0) {
            return Err(PlatformError::Hypercall { op: "EVTCHNOP_send", code: -22 });
        }
        w.service();
        Ok(())
    }
    fn poll(&self, port: Port, timeout_ns: u64) -> Result<bool, PlatformError> {
        let mut w = self.0.borrow_mut();
        w.service();
        if w.pending.remove(&port.0) {
            return Ok(true);
        }
        w.clock = w.clock.saturating_add(timeout_ns.max(1));
        Ok(false)
    }
    fn frame_of(&self, va: usize) -> Option<Mfn> {
        if self.0.borrow().no_frames {
            return None;
        }
        Some(Mfn((va as u64 >> 12) | OWN_MEMORY))
    }
    fn now_ns(&self) -> u64 {
        self.0.borrow().clock
    }
    fn retire_page(&self, page: FakePage) {
        self.0.borrow_mut().retired.push(page);
    }
}
