//! Shared pieces of the fuzz targets: a bounded whole-tree walk over any [`Filesystem`], and a
//! scripted Xen platform whose xenstore replies and blkif responses come from the fuzz input.
//!
//! Every target must return for every input without panicking, hanging or allocating more
//! than libFuzzer's RSS limit: that is the property fuzzed.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::rc::Rc;

use fs::{BlockDevice, FileType, Filesystem, MemDisk, NodeId};
use loader::xen::platform::{DomId, GrantRef, Mfn, Platform, PlatformError, Port, SharedPage, PAGE_SIZE};

/// Most directory entries one walk visits (a corrupt directory may claim millions).
pub const MAX_NODES: usize = 512;
/// Deepest directory level walked.
pub const MAX_DEPTH: usize = 24;
/// Most bytes read from one file.
pub const MAX_FILE_READ: u64 = 4 << 20;
/// Most bytes read from the whole filesystem.
pub const MAX_TOTAL_READ: u64 = 32 << 20;

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

/// Opens the input with `open` and walks it, on 512-byte sectors.
pub fn open_and_walk<F: Filesystem + 'static>(data: &[u8], open: fn(Box<dyn BlockDevice>) -> Result<F, fs::Error>) {
    if let Ok(mut f) = open(disk(data)) {
        walk(&mut f);
    }
}

/// A page of the scripted machine.
#[derive(Clone, Debug)]
pub struct Page {
    mfn: u64,
    mem: Rc<RefCell<Vec<u8>>>,
}

impl Page {
    fn new(mfn: u64) -> Self {
        Self { mfn, mem: Rc::new(RefCell::new(vec![0; PAGE_SIZE])) }
    }
    /// A fresh zeroed page (for ring targets).
    pub fn for_fuzz() -> Self {
        Self::new(1)
    }
}

impl SharedPage for Page {
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
    fn read(&self, off: usize, buf: &mut [u8]) {
        let m = self.mem.borrow();
        match off.checked_add(buf.len()).and_then(|e| m.get(off..e)) {
            Some(s) => buf.copy_from_slice(s),
            None => buf.fill(0),
        }
    }
    fn write(&self, off: usize, d: &[u8]) {
        let mut m = self.mem.borrow_mut();
        if let Some(s) = off.checked_add(d.len()).and_then(|e| m.get_mut(off..e)) {
            s.copy_from_slice(d);
        }
    }
    fn full_fence(&self) {}
}

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
}

/// A Xen whose xenstored answers every request with the next bytes of the fuzz input, as
/// much as the reply ring has room for, and whose clock runs on every poll.
#[derive(Clone)]
pub struct Scripted(Rc<RefCell<State>>);

impl Scripted {
    /// A machine replaying `input` as xenstore reply bytes.
    pub fn new(input: &[u8]) -> Self {
        Self(Rc::new(RefCell::new(State {
            xs: Page::new(1),
            input: input.to_vec(),
            pos: 0,
            clock: 0,
            next_mfn: 2,
            next_ref: 8,
            next_port: 2,
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
        Ok(Page::new(st.next_mfn))
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
}
