//! Shared pieces of the fuzz targets: the configuration parsers' body ([`config_format`]), a
//! bounded whole-tree walk over any [`Filesystem`], and a scripted Xen platform whose xenstore
//! replies and blkif responses come from the fuzz input.
//!
//! Every target must return for every input without panicking, hanging or allocating more
//! than libFuzzer's RSS limit: that is the property fuzzed.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use bootconfig::{self as config, menulst, Device, Format};
use fs::{BlockDevice, FileType, Filesystem, MemDisk, NodeId};
use xenfront::platform::{DomId, GrantRef, Mfn, Platform, PlatformError, Port, SharedPage, PAGE_SIZE};

/// Most directory entries one walk visits (a corrupt directory may claim millions).
pub const MAX_NODES: usize = 512;
/// Deepest directory level walked.
pub const MAX_DEPTH: usize = 24;
/// Most bytes read from one file.
pub const MAX_FILE_READ: u64 = 4 << 20;
/// Most bytes read from the whole filesystem.
pub const MAX_TOTAL_READ: u64 = 32 << 20;

/// One configuration parser (`format`) over `data`, then every entry planned (with a device,
/// and as NetBSD without one) and printed as the menu would: the body of the `menu_lst`,
/// `grub_cfg` and `boot_cfg` targets.
pub fn config_format(format: Format, data: &[u8]) {
    let m = config::parse(format, data, "fuzz");
    let _ = menulst::print(&m);
    let dev = Device::parse("(hd0,0)");
    for i in 0..m.entries.len().min(64) {
        let _ = m.plan(i, dev.as_ref(), None, false);
        let _ = m.plan(i, None, Some(config::OsHint::NetBsd), true);
        if let Some(e) = m.entries.get(i) {
            let _ = menulst::entry_lines(e);
        }
    }
    let _ = Format::sniff(data);
}

/// The fuzz input as a disk of 512-byte sectors.
pub fn disk(data: &[u8]) -> Box<dyn BlockDevice> {
    Box::new(MemDisk::new(data.to_vec(), 512))
}

/// Reads one file in 64 KiB steps, up to [`MAX_FILE_READ`] bytes; returns the bytes read.
fn read_file(fs: &mut dyn Filesystem, id: NodeId, budget: u64) -> u64 {
    let Ok(meta) = fs.metadata(id) else {
        return 0;
    };
    let want = meta.size.min(MAX_FILE_READ).min(budget);
    let mut buf = vec![0u8; 64 * 1024];
    let mut off = 0u64;
    while off < want {
        match fs.read_at(id, off, &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => off = off.saturating_add(n as u64),
        }
    }
    // A read past the end and an odd-sized read must behave too.
    let _ = fs.read_at(id, meta.size, &mut buf[..1]);
    let _ = fs.read_at(id, u64::MAX - 1, &mut buf[..3]);
    off
}

/// Opens nothing itself: walks every directory reachable from the root of `fs`, reading every
/// file and link, resolving each path with and without following links.
pub fn walk(fs: &mut dyn Filesystem) {
    let _ = fs.info();
    let root = fs.root();
    let _ = fs.metadata(root);
    let mut seen = BTreeSet::new();
    seen.insert(root);
    let mut stack = vec![(String::new(), root, 0usize)];
    let mut nodes = 0usize;
    let mut read = 0u64;
    while let Some((path, id, depth)) = stack.pop() {
        let Ok(entries) = fs.read_dir(id) else {
            continue;
        };
        for e in entries {
            nodes += 1;
            if nodes > MAX_NODES {
                return;
            }
            if e.name == "." || e.name == ".." {
                continue;
            }
            let p = format!("{path}/{}", e.name);
            let _ = fs.metadata(e.id);
            let _ = fs.lookup_nofollow(&p);
            let followed = fs.lookup(&p);
            match e.file_type {
                FileType::Directory => {
                    if depth < MAX_DEPTH && seen.insert(e.id) {
                        stack.push((p, e.id, depth + 1));
                    }
                }
                FileType::Symlink => {
                    let _ = fs.read_link(e.id);
                    let _ = fs.read_at(e.id, 0, &mut [0u8; 64]);
                    if let Ok(m) = followed {
                        if m.file_type == FileType::File && read < MAX_TOTAL_READ {
                            read += read_file(fs, m.id, MAX_TOTAL_READ - read);
                        }
                    }
                }
                FileType::File | FileType::Other => {
                    if read < MAX_TOTAL_READ {
                        read += read_file(fs, e.id, MAX_TOTAL_READ - read);
                    }
                }
            }
        }
    }
    for p in ["/", "/boot/../netbsd", "/./a/../../b", "/grub/menu.lst", "/x/y/z/w"] {
        let _ = fs.lookup(p);
    }
}

/// Size of one page of a [`SparseDisk`] input record.
pub const SPARSE_PAGE: usize = 4096;
/// Size of the disk a [`SparseDisk`] presents.
pub const SPARSE_DISK_BYTES: u64 = 64 << 20;

/// A 64 MiB disk of zeros with the input's pages laid over it: XFS and btrfs put their
/// structures megabytes apart (btrfs: superblock at 64 KiB, chunk tree at 1 MiB, the other
/// trees at 5 MiB), which a flat input of a few hundred KiB cannot reach. The input is a
/// sequence of records: a little-endian `u32` page number (4 KiB units) and up to 4096 bytes
/// of that page (the last record may be short); pages past the disk are dropped.
pub struct SparseDisk {
    pages: std::collections::HashMap<u64, Vec<u8>>,
}

impl SparseDisk {
    /// Parses the records of `data`.
    pub fn new(data: &[u8]) -> Self {
        let mut pages = std::collections::HashMap::new();
        let mut rest = data;
        while rest.len() > 4 {
            let page = u64::from(u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]));
            let body = &rest[4..];
            let n = body.len().min(SPARSE_PAGE);
            if page < SPARSE_DISK_BYTES / SPARSE_PAGE as u64 {
                let mut p = vec![0u8; SPARSE_PAGE];
                p[..n].copy_from_slice(&body[..n]);
                pages.insert(page, p);
            }
            rest = &body[n..];
        }
        Self { pages }
    }
}

impl BlockDevice for SparseDisk {
    fn block_size(&self) -> u32 {
        512
    }
    fn num_blocks(&self) -> u64 {
        SPARSE_DISK_BYTES / 512
    }
    fn read_blocks(&mut self, lba: fs::Lba, buf: &mut [u8]) -> Result<(), fs::IoError> {
        fs::block::check_request(512, self.num_blocks(), lba, buf.len())?;
        let mut at = lba.0 * 512;
        let mut rest = buf;
        while !rest.is_empty() {
            let page = at / SPARSE_PAGE as u64;
            let within = (at % SPARSE_PAGE as u64) as usize;
            let n = (SPARSE_PAGE - within).min(rest.len());
            let (dst, tail) = rest.split_at_mut(n);
            match self.pages.get(&page) {
                Some(p) => dst.copy_from_slice(&p[within..within + n]),
                None => dst.fill(0),
            }
            rest = tail;
            at += n as u64;
        }
        Ok(())
    }
}

/// Opens the input, as a [`SparseDisk`], with `open` and walks it.
pub fn open_sparse_and_walk<F: Filesystem + 'static>(
    data: &[u8],
    open: fn(Box<dyn BlockDevice>) -> Result<F, fs::Error>,
) {
    if let Ok(mut f) = open(Box::new(SparseDisk::new(data))) {
        walk(&mut f);
    }
}

/// Opens the input with `open` and walks it, on 512-byte sectors.
pub fn open_and_walk<F: Filesystem + 'static>(data: &[u8], open: fn(Box<dyn BlockDevice>) -> Result<F, fs::Error>) {
    if let Ok(mut f) = open(disk(data)) {
        walk(&mut f);
    }
}

/// The pages of the scripted machines: the fake platform's (`xenfront::fake`), shared with
/// the host tests. A page lives as long as someone holds it; pages blkfront takes out of
/// circulation are kept by the machine ([`Platform::retire_page`]) and go with it, so
/// nothing leaks across fuzz runs.
pub use xenfront::fake::FakePage as Page;

// xs_wire ring offsets.
const XS_RSP_OFF: usize = 1024;
const XS_REQ_CONS: usize = 2048;
const XS_REQ_PROD: usize = 2052;
const XS_RSP_CONS: usize = 2056;
const XS_RSP_PROD: usize = 2060;

struct State {
    xs: Page,
    input: Vec<u8>,
    pos: usize,
    clock: u64,
    next_mfn: u64,
    next_ref: u32,
    next_port: u32,
    retired: Vec<Page>,
}

/// A Xen whose xenstored answers every request with the next bytes of the fuzz input, as
/// much as the reply ring has room for, and whose clock runs on every poll.
#[derive(Clone)]
pub struct Scripted(Rc<RefCell<State>>);

impl Scripted {
    /// A machine replaying `input` as xenstore reply bytes.
    pub fn new(input: &[u8]) -> Self {
        Self(Rc::new(RefCell::new(State {
            xs: Page::detached(1),
            input: input.to_vec(),
            pos: 0,
            clock: 0,
            next_mfn: 2,
            next_ref: 8,
            next_port: 2,
            retired: Vec::new(),
        })))
    }

    /// xenstored's turn: swallow the requests, write reply bytes.
    fn serve(&self) {
        let mut st = self.0.borrow_mut();
        let prod = st.xs.load_u32(XS_REQ_PROD);
        st.xs.store_u32(XS_REQ_CONS, prod);
        let rp = st.xs.load_u32(XS_RSP_PROD);
        let rc = st.xs.load_u32(XS_RSP_CONS);
        let used = rp.wrapping_sub(rc);
        if used >= 1024 {
            return;
        }
        let room = (1024 - used) as usize;
        let n = room.min(st.input.len().saturating_sub(st.pos));
        for i in 0..n {
            let b = st.input.get(st.pos + i).copied().unwrap_or(0);
            let at = XS_RSP_OFF + (rp.wrapping_add(i as u32) % 1024) as usize;
            st.xs.write(at, &[b]);
        }
        st.pos += n;
        st.xs.store_u32(XS_RSP_PROD, rp.wrapping_add(n as u32));
    }
}

impl Platform for Scripted {
    type Page = Page;
    fn alloc_page(&self) -> Result<Page, PlatformError> {
        let mut st = self.0.borrow_mut();
        st.next_mfn += 1;
        if st.next_mfn > 4096 {
            return Err(PlatformError::NoMemory);
        }
        Ok(Page::detached(st.next_mfn))
    }
    fn xenstore(&self) -> Result<(Page, Port), PlatformError> {
        Ok((self.0.borrow().xs.clone(), Port(1)))
    }
    fn grant(&self, _domid: DomId, _frame: Mfn, _readonly: bool) -> Result<GrantRef, PlatformError> {
        let mut st = self.0.borrow_mut();
        st.next_ref += 1;
        Ok(GrantRef(st.next_ref))
    }
    fn end_grant(&self, _gref: GrantRef) -> Result<(), PlatformError> {
        Ok(())
    }
    fn alloc_unbound(&self, _remote: DomId) -> Result<Port, PlatformError> {
        let mut st = self.0.borrow_mut();
        st.next_port += 1;
        Ok(Port(st.next_port))
    }
    fn close_port(&self, _port: Port) -> Result<(), PlatformError> {
        Ok(())
    }
    fn notify(&self, port: Port) -> Result<(), PlatformError> {
        if port == Port(1) {
            self.serve();
        }
        Ok(())
    }
    fn poll(&self, _port: Port, timeout_ns: u64) -> Result<bool, PlatformError> {
        self.serve();
        let mut st = self.0.borrow_mut();
        st.clock = st.clock.saturating_add(timeout_ns.max(1));
        Ok(true)
    }
    fn now_ns(&self) -> u64 {
        let mut st = self.0.borrow_mut();
        st.clock = st.clock.saturating_add(1000);
        st.clock
    }
    fn retire_page(&self, page: Page) {
        self.0.borrow_mut().retired.push(page);
    }
}

/// A Xen whose xenstored speaks the protocol correctly (answers the blkfront handshake with
/// a geometry taken from the input) and whose blkback answers every request as the input
/// says: wrong ids, error status, wrong operation, `rsp_prod` past the requests, no answer.
#[derive(Clone)]
pub struct Blkback(Rc<RefCell<Back>>);

struct Back {
    xs: Page,
    pages: std::collections::BTreeMap<u64, Page>,
    grants: std::collections::BTreeMap<u32, u64>,
    next_mfn: u64,
    next_ref: u32,
    next_port: u32,
    clock: u64,
    ring: Option<u64>,
    geometry: [String; 3],
    script: Vec<u8>,
    pos: usize,
    req_cons: u32,
    rsp_prod: u32,
    retired: Vec<Page>,
    /// Never lets a grant end (a backend that keeps every page mapped).
    keeps_mapped: bool,
}

impl Back {
    fn byte(&mut self) -> Option<u8> {
        let b = self.script.get(self.pos).copied();
        self.pos += 1;
        b
    }

    fn xs_reply(&self, ty: u32, id: u32, body: &[u8]) {
        let rp = self.xs.load_u32(XS_RSP_PROD);
        let mut msg = Vec::new();
        for w in [ty, id, 0, body.len() as u32] {
            msg.extend_from_slice(&w.to_le_bytes());
        }
        msg.extend_from_slice(body);
        for (i, b) in msg.iter().enumerate() {
            self.xs.write(XS_RSP_OFF + (rp.wrapping_add(i as u32) % 1024) as usize, &[*b]);
        }
        self.xs.store_u32(XS_RSP_PROD, rp.wrapping_add(msg.len() as u32));
    }

    /// Answers every whole request in the xenstore request ring.
    fn serve_xs(&mut self) {
        loop {
            let cons = self.xs.load_u32(XS_REQ_CONS);
            let prod = self.xs.load_u32(XS_REQ_PROD);
            let avail = prod.wrapping_sub(cons) as usize;
            if avail < 16 {
                return;
            }
            let get = |n: usize, at: u32| {
                let mut v = vec![0u8; n];
                for (i, b) in v.iter_mut().enumerate() {
                    let mut x = [0u8];
                    self.xs.read((at.wrapping_add(i as u32) % 1024) as usize, &mut x);
                    *b = x[0];
                }
                v
            };
            let h = get(16, cons);
            let w = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
            let (ty, id, len) = (w(0), w(4), w(12) as usize);
            if avail < 16 + len {
                return;
            }
            let body = get(len, cons.wrapping_add(16));
            self.xs.store_u32(XS_REQ_CONS, cons.wrapping_add((16 + len) as u32));
            let path = String::from_utf8_lossy(body.split(|&b| b == 0).next().unwrap_or(&[])).into_owned();
            match ty {
                2 => {
                    let v = if path.ends_with("/backend") {
                        Some("backend/vbd/0/768".to_string())
                    } else if path.ends_with("/backend-id") {
                        Some("0".to_string())
                    } else if path.starts_with("backend/") && path.ends_with("/state") {
                        Some("4".to_string())
                    } else if path.ends_with("/feature-max-indirect-segments") {
                        Some(self.geometry[2].clone())
                    } else if path.ends_with("/sector-size") {
                        Some(self.geometry[1].clone())
                    } else if path.ends_with("/sectors") {
                        Some(self.geometry[0].clone())
                    } else {
                        None
                    };
                    match v {
                        Some(v) => self.xs_reply(2, id, v.as_bytes()),
                        None => self.xs_reply(16, id, b"ENOENT\0"),
                    }
                }
                1 => self.xs_reply(1, id, b"768\0"),
                6 => self.xs_reply(6, id, b"1\0"),
                11 => {
                    if path.ends_with("/ring-ref") {
                        let v = body.split(|&b| b == 0).nth(1).unwrap_or(&[]);
                        let gref: Option<u32> = std::str::from_utf8(v).ok().and_then(|s| s.parse().ok());
                        self.ring = gref.and_then(|g| self.grants.get(&g).copied());
                    }
                    self.xs_reply(11, id, b"OK\0")
                }
                _ => self.xs_reply(ty, id, b"OK\0"),
            }
        }
    }

    /// Answers the blkif requests as the script says.
    fn serve_blk(&mut self) {
        let Some(ring) = self.ring.and_then(|m| self.pages.get(&m).cloned()) else {
            return;
        };
        let prod = ring.load_u32(0);
        let mut n = 0;
        while self.req_cons != prod && n < 64 {
            n += 1;
            let mut slot = [0u8; 112];
            ring.read(64 + (self.req_cons % 32) as usize * 112, &mut slot);
            self.req_cons = self.req_cons.wrapping_add(1);
            let Some(req) = xenfront::blkif::decode_request(&slot) else {
                continue;
            };
            let ctl = self.byte().unwrap_or(0);
            if ctl & 0x10 != 0 {
                continue; // never answered
            }
            let fill = self.byte().unwrap_or(0x5a);
            let (id, op) = match &req {
                xenfront::blkif::Request::Direct { id, segs, .. } => {
                    for s in segs.as_slice() {
                        self.fill(s.gref, s.first_sect, s.last_sect, fill);
                    }
                    (*id, 0u8)
                }
                xenfront::blkif::Request::Write { .. } | xenfront::blkif::Request::Flush { .. } => continue,
                xenfront::blkif::Request::Indirect { id, nr_segments, grefs, .. } => {
                    let mut left = usize::from(*nr_segments);
                    for g in grefs {
                        let Some(p) = self.grants.get(g).and_then(|m| self.pages.get(m)).cloned() else {
                            break;
                        };
                        for i in 0..512 {
                            if left == 0 {
                                break;
                            }
                            left -= 1;
                            let mut d = [0u8; 8];
                            p.read(i * 8, &mut d);
                            let s = xenfront::blkif::decode_segment(&d);
                            self.fill(s.gref, s.first_sect, s.last_sect, fill);
                        }
                    }
                    (*id, 6u8)
                }
            };
            let id = match ctl & 3 {
                0 | 3 => id,
                1 => id ^ u64::from(self.byte().unwrap_or(1)),
                _ => id.wrapping_add(1 << 32),
            };
            let rsp = xenfront::blkif::Response {
                id,
                operation: if ctl & 8 != 0 { 3 } else { op },
                status: if ctl & 4 != 0 { -1 } else { 0 },
            };
            let mut out = [0u8; 112];
            xenfront::blkif::encode_response(&rsp, &mut out);
            ring.write(64 + (self.rsp_prod % 32) as usize * 112, &out[..16]);
            self.rsp_prod = self.rsp_prod.wrapping_add(1);
            let shown = if ctl & 0x20 != 0 {
                self.rsp_prod.wrapping_add(u32::from(self.byte().unwrap_or(7)))
            } else {
                self.rsp_prod
            };
            ring.store_u32(8, shown);
        }
    }

    fn fill(&self, gref: u32, first: u8, last: u8, v: u8) {
        if let Some(p) = self.grants.get(&gref).and_then(|m| self.pages.get(m)) {
            let (a, b) = (usize::from(first) * 512, (usize::from(last) + 1) * 512);
            if a < b && b <= PAGE_SIZE {
                p.write(a, &vec![v; b - a]);
            }
        }
    }
}

impl Blkback {
    /// Input: sectors (u32), sector-size selector, indirect offer (u16), flags (bit 0: a
    /// malformed `sectors`, bit 1: read-ahead, bit 2: no grant ever ends), then the response
    /// script.
    pub fn new(data: &[u8]) -> Self {
        let b = |i: usize| data.get(i).copied().unwrap_or(0);
        let sectors = u32::from_le_bytes([b(0), b(1), b(2), b(3)]);
        let ss = [512u32, 4096, 1024, 0, 513, 8192, 2048, 4096][usize::from(b(4) & 7)];
        let ind = u16::from_le_bytes([b(5), b(6)]);
        let sectors_s = if b(7) & 1 == 1 { format!("{sectors}x") } else { format!("{sectors}") };
        Self(Rc::new(RefCell::new(Back {
            xs: Page::detached(1),
            pages: Default::default(),
            grants: Default::default(),
            next_mfn: 2,
            next_ref: 8,
            next_port: 2,
            clock: 0,
            ring: None,
            geometry: [sectors_s, ss.to_string(), ind.to_string()],
            script: data.get(8..).unwrap_or(&[]).to_vec(),
            pos: 0,
            req_cons: 0,
            rsp_prod: 0,
            retired: Vec::new(),
            keeps_mapped: b(7) & 4 != 0,
        })))
    }
}

impl Platform for Blkback {
    type Page = Page;
    fn alloc_page(&self) -> Result<Page, PlatformError> {
        let mut st = self.0.borrow_mut();
        st.next_mfn += 1;
        if st.next_mfn > 2048 {
            return Err(PlatformError::NoMemory);
        }
        let m = st.next_mfn;
        let p = Page::detached(m);
        st.pages.insert(m, p.clone());
        Ok(p)
    }
    fn xenstore(&self) -> Result<(Page, Port), PlatformError> {
        Ok((self.0.borrow().xs.clone(), Port(1)))
    }
    fn grant(&self, _domid: DomId, frame: Mfn, _readonly: bool) -> Result<GrantRef, PlatformError> {
        let mut st = self.0.borrow_mut();
        st.next_ref += 1;
        let r = st.next_ref;
        st.grants.insert(r, frame.0);
        Ok(GrantRef(r))
    }
    fn end_grant(&self, gref: GrantRef) -> Result<(), PlatformError> {
        let mut st = self.0.borrow_mut();
        if st.keeps_mapped && st.grants.contains_key(&gref.0) {
            return Err(PlatformError::GrantBusy(gref));
        }
        st.grants.remove(&gref.0);
        Ok(())
    }
    fn alloc_unbound(&self, _remote: DomId) -> Result<Port, PlatformError> {
        let mut st = self.0.borrow_mut();
        st.next_port += 1;
        Ok(Port(st.next_port))
    }
    fn close_port(&self, _port: Port) -> Result<(), PlatformError> {
        Ok(())
    }
    fn notify(&self, port: Port) -> Result<(), PlatformError> {
        let mut st = self.0.borrow_mut();
        if port == Port(1) {
            st.serve_xs();
        } else {
            st.serve_blk();
        }
        Ok(())
    }
    fn poll(&self, _port: Port, timeout_ns: u64) -> Result<bool, PlatformError> {
        let mut st = self.0.borrow_mut();
        st.serve_xs();
        st.serve_blk();
        st.clock = st.clock.saturating_add(timeout_ns.max(1));
        Ok(true)
    }
    fn now_ns(&self) -> u64 {
        let mut st = self.0.borrow_mut();
        st.clock = st.clock.saturating_add(1000);
        st.clock
    }
    fn retire_page(&self, page: Page) {
        self.0.borrow_mut().retired.push(page);
    }
}
