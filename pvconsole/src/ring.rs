//! The `xencons_interface` page shared with xenconsoled (`xen/include/public/io/console.h`):
//!
//! ```text
//! off    0  in[1024]    xenconsoled -> guest (keyboard)
//! off 1024  out[2048]   guest -> xenconsoled
//! off 3072  in_cons  (guest writes)    3076 in_prod  (daemon writes)
//! off 3080  out_cons (daemon writes)   3084 out_prod (guest writes)
//! ```
//! Indices are free-running `u32`s, masked with `size - 1`. The page is shared with another
//! domain, so it is modelled as atomics: every access is a single load or store that the
//! compiler may neither merge nor elide, and the ordering (`Acquire` on the peer's index,
//! `Release` on ours) gives the barriers the protocol needs. Only [`Ring::from_raw`] is unsafe.

use core::sync::atomic::{AtomicU32, AtomicU8, Ordering};

/// Size of the input ring.
pub const IN_SIZE: usize = 1024;
/// Size of the output ring.
pub const OUT_SIZE: usize = 2048;

/// `struct xencons_interface`.
#[repr(C)]
pub struct XenconsInterface {
    /// Input bytes (daemon → guest).
    pub input: [AtomicU8; IN_SIZE],
    /// Output bytes (guest → daemon).
    pub output: [AtomicU8; OUT_SIZE],
    /// Input consumer index (ours).
    pub in_cons: AtomicU32,
    /// Input producer index (daemon's).
    pub in_prod: AtomicU32,
    /// Output consumer index (daemon's).
    pub out_cons: AtomicU32,
    /// Output producer index (ours).
    pub out_prod: AtomicU32,
}

const _: () = {
    assert!(core::mem::offset_of!(XenconsInterface, output) == 1024);
    assert!(core::mem::offset_of!(XenconsInterface, in_cons) == 3072);
    assert!(core::mem::offset_of!(XenconsInterface, in_prod) == 3076);
    assert!(core::mem::offset_of!(XenconsInterface, out_cons) == 3080);
    assert!(core::mem::offset_of!(XenconsInterface, out_prod) == 3084);
    assert!(core::mem::size_of::<XenconsInterface>() == 3088);
};

impl XenconsInterface {
    /// An all-zero interface (what libxc gives a new domain); for tests and fakes.
    pub const fn new() -> Self {
        Self {
            input: [const { AtomicU8::new(0) }; IN_SIZE],
            output: [const { AtomicU8::new(0) }; OUT_SIZE],
            in_cons: AtomicU32::new(0),
            in_prod: AtomicU32::new(0),
            out_cons: AtomicU32::new(0),
            out_prod: AtomicU32::new(0),
        }
    }
}

impl Default for XenconsInterface {
    fn default() -> Self {
        Self::new()
    }
}

/// Ring arithmetic over one console page, without any waiting or notification.
#[derive(Clone, Copy)]
pub struct Ring<'a> {
    page: &'a XenconsInterface,
}

impl<'a> Ring<'a> {
    /// A ring over `page`.
    pub const fn new(page: &'a XenconsInterface) -> Self {
        Self { page }
    }

    /// The ring in the console page mapped at `va`.
    ///
    /// # Safety
    /// `va` must be the page-aligned address of the mapped console page, mapped for `'static`,
    /// and nothing else in this domain may access it except through [`Ring`]s.
    #[allow(unsafe_code)]
    pub unsafe fn from_raw(va: *mut u8) -> Ring<'static> {
        // SAFETY: the caller guarantees a live, aligned, 'static mapping; the peer only changes
        // it with single aligned stores, which atomics model; AtomicU8/AtomicU32 have the same
        // layout as u8/u32.
        let page = unsafe { &*va.cast::<XenconsInterface>() };
        Ring { page }
    }

    /// The page.
    pub fn page(&self) -> &'a XenconsInterface {
        self.page
    }

    /// Bytes written by us and not yet consumed by the daemon. A corrupt pair of indices (more
    /// than the ring size apart) reads as a full ring, so writers wait rather than scribble.
    pub fn out_pending(&self) -> usize {
        let cons = self.page.out_cons.load(Ordering::Acquire);
        let prod = self.page.out_prod.load(Ordering::Relaxed);
        (prod.wrapping_sub(cons) as usize).min(OUT_SIZE)
    }

    /// Free bytes in the output ring.
    pub fn out_space(&self) -> usize {
        OUT_SIZE - self.out_pending()
    }

    /// Copies as much of `data` as fits into the output ring and publishes it; returns the
    /// count. Never overwrites unconsumed bytes.
    pub fn write_some(&self, data: &[u8]) -> usize {
        let cons = self.page.out_cons.load(Ordering::Acquire);
        let mut prod = self.page.out_prod.load(Ordering::Relaxed);
        let used = prod.wrapping_sub(cons) as usize;
        if used >= OUT_SIZE {
            return 0;
        }
        let n = data.len().min(OUT_SIZE - used);
        for &b in data.iter().take(n) {
            if let Some(slot) = self.page.output.get(prod as usize & (OUT_SIZE - 1)) {
                slot.store(b, Ordering::Relaxed);
            }
            prod = prod.wrapping_add(1);
        }
        // Release: the bytes are visible before the new index (the protocol's wmb()).
        self.page.out_prod.store(prod, Ordering::Release);
        n
    }

    /// Bytes waiting in the input ring (at most [`IN_SIZE`], whatever the indices say).
    pub fn in_available(&self) -> usize {
        let prod = self.page.in_prod.load(Ordering::Acquire);
        let cons = self.page.in_cons.load(Ordering::Relaxed);
        (prod.wrapping_sub(cons) as usize).min(IN_SIZE)
    }

    /// Moves up to `buf.len()` input bytes into `buf` and publishes the new consumer index;
    /// returns the count.
    pub fn read_some(&self, buf: &mut [u8]) -> usize {
        let n = self.in_available().min(buf.len());
        let mut cons = self.page.in_cons.load(Ordering::Relaxed);
        for out in buf.iter_mut().take(n) {
            *out = self.page.input.get(cons as usize & (IN_SIZE - 1)).map_or(0, |s| s.load(Ordering::Relaxed));
            cons = cons.wrapping_add(1);
        }
        if n > 0 {
            // Release: our reads of the slots happen before the daemon may reuse them (mb()).
            self.page.in_cons.store(cons, Ordering::Release);
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn out_bytes(p: &XenconsInterface, from: u32, n: usize) -> Vec<u8> {
        (0..n).map(|i| p.output[(from as usize + i) & (OUT_SIZE - 1)].load(Ordering::Relaxed)).collect()
    }

    #[test]
    fn layout_matches_console_h() {
        // Oracle: console.h's struct, offsets from gcc (docs/xen-pv-abi.md §11.1); checked at compile
        // time above, and here through a raw byte view of a page.
        let mut page = [0u32; 1024];
        page[3084 / 4] = 7; // out_prod
        page[3080 / 4] = 3; // out_cons
        #[allow(unsafe_code)]
        // SAFETY: the array is 4096 bytes, aligned 4, and outlives the ring (leaked below).
        let ring = unsafe { Ring::from_raw(Box::leak(Box::new(page)).as_mut_ptr().cast()) };
        assert_eq!(ring.out_pending(), 4);
    }

    #[test]
    fn write_then_wrap() {
        let p = XenconsInterface::new();
        let r = Ring::new(&p);
        assert_eq!(r.write_some(b"hello"), 5);
        assert_eq!(p.out_prod.load(Ordering::Relaxed), 5);
        assert_eq!(out_bytes(&p, 0, 5), b"hello");
        // Indices near the end of the ring and near u32 wraparound.
        for start in [2040u32, u32::MAX - 3] {
            p.out_cons.store(start, Ordering::Relaxed);
            p.out_prod.store(start, Ordering::Relaxed);
            assert_eq!(r.write_some(b"0123456789"), 10);
            assert_eq!(p.out_prod.load(Ordering::Relaxed), start.wrapping_add(10));
            assert_eq!(out_bytes(&p, start, 10), b"0123456789");
            assert_eq!(r.out_pending(), 10);
        }
    }

    #[test]
    fn full_ring_takes_nothing_more() {
        let p = XenconsInterface::new();
        let r = Ring::new(&p);
        let big = vec![b'x'; 3000];
        assert_eq!(r.write_some(&big), OUT_SIZE);
        assert_eq!(r.out_space(), 0);
        assert_eq!(r.write_some(b"y"), 0);
        // The daemon consumes 100: exactly 100 fit again.
        p.out_cons.fetch_add(100, Ordering::Relaxed);
        assert_eq!(r.write_some(&big), 100);
    }

    #[test]
    fn corrupt_indices_read_as_full() {
        let p = XenconsInterface::new();
        let r = Ring::new(&p);
        p.out_prod.store(5000, Ordering::Relaxed);
        assert_eq!(r.write_some(b"a"), 0);
        assert_eq!(r.out_pending(), OUT_SIZE);
        p.in_prod.store(99999, Ordering::Relaxed);
        assert_eq!(r.in_available(), IN_SIZE);
    }

    #[test]
    fn read_with_wrap_and_partial_buffer() {
        let p = XenconsInterface::new();
        let r = Ring::new(&p);
        let start = 1020u32;
        for (i, b) in b"abcdefgh".iter().enumerate() {
            p.input[(start as usize + i) & (IN_SIZE - 1)].store(*b, Ordering::Relaxed);
        }
        p.in_cons.store(start, Ordering::Relaxed);
        p.in_prod.store(start + 8, Ordering::Relaxed);
        let mut buf = [0u8; 5];
        assert_eq!(r.read_some(&mut buf), 5);
        assert_eq!(&buf, b"abcde");
        assert_eq!(p.in_cons.load(Ordering::Relaxed), start + 5);
        assert_eq!(r.read_some(&mut buf), 3);
        assert_eq!(&buf[..3], b"fgh");
        assert_eq!(r.read_some(&mut buf), 0);
    }
}
