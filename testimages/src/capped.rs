//! A global allocator with a hard cap, for tests that feed hostile images to the parsers.
//!
//! Inside the PV kernel the heap is what the domain has (8–64 MiB) and an allocation that does
//! not fit returns null: `try_reserve` then fails cleanly, while an infallible allocation
//! (`vec![0; n]`, `Vec::push`) ends in `handle_alloc_error`, a panic that kills the domain.
//! [`CappedAlloc`] gives a host test binary the same behaviour: past the cap it returns null,
//! so code that checks sizes first gets an error value, and code that does not aborts the whole
//! test process (which fails the test run, as it should).
//!
//! A global allocator is per binary: each test that uses it lives in its own test file
//! (`tests/<name>.rs`) and declares
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: testimages::capped::CappedAlloc = testimages::capped::CappedAlloc::new(32 << 20);
//! ```
//!
//! The counters are global to the binary: tests that read [`CappedAlloc::peak`] take turns
//! through [`CappedAlloc::measure`].

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// The cap the hostile-image tests use: the smallest domU rpvboot is meant to boot in.
pub const TEST_CAP: usize = 32 << 20;

/// Forwards to the system allocator while the bytes in use stay within `cap`; returns null
/// (allocation failure) for any request that would go past it.
pub struct CappedAlloc {
    cap: usize,
    current: AtomicUsize,
    peak: AtomicUsize,
    refused: AtomicUsize,
    lifted: AtomicBool,
    turn: Mutex<()>,
}

impl CappedAlloc {
    /// An allocator that refuses to hold more than `cap` bytes at once.
    pub const fn new(cap: usize) -> Self {
        Self {
            cap,
            current: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            refused: AtomicUsize::new(0),
            lifted: AtomicBool::new(false),
            turn: Mutex::new(()),
        }
    }

    /// The cap in bytes.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Bytes in use now.
    pub fn current(&self) -> usize {
        self.current.load(Ordering::Relaxed)
    }

    /// Most bytes in use at once since the last [`Self::measure`] began (or since start).
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// How many requests were refused (returned null) so far.
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::Relaxed)
    }

    /// Runs `f` alone (other `measure` calls wait) and returns its result with the peak heap
    /// it added above what was in use when it started, and how many requests it had refused.
    pub fn measure<R>(&self, f: impl FnOnce() -> R) -> (R, Measured) {
        let _turn = self.turn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let base = self.current();
        self.peak.store(base, Ordering::Relaxed);
        let refused = self.refused();
        let r = f();
        let m = Measured { peak: self.peak().saturating_sub(base), refused: self.refused() - refused };
        (r, m)
    }

    /// Adds `n` bytes if they fit under the cap. Once a thread panics (a failed assertion
    /// printing its message and backtrace) the cap is lifted for good: the run is failing
    /// already, and it should fail with that message, not with an abort in another thread.
    fn take(&self, n: usize) -> bool {
        let mut cur = self.current.load(Ordering::Relaxed);
        loop {
            if std::thread::panicking() {
                self.lifted.store(true, Ordering::Relaxed);
            }
            let fits = |v: &usize| *v <= self.cap || self.lifted.load(Ordering::Relaxed);
            let Some(next) = cur.checked_add(n).filter(fits) else {
                self.refused.fetch_add(1, Ordering::Relaxed);
                return false;
            };
            match self.current.compare_exchange_weak(cur, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => {
                    self.peak.fetch_max(next, Ordering::Relaxed);
                    return true;
                }
                Err(seen) => cur = seen,
            }
        }
    }

    fn give_back(&self, n: usize) {
        self.current.fetch_sub(n, Ordering::Relaxed);
    }
}

/// What [`CappedAlloc::measure`] saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Measured {
    /// Peak heap in bytes above the starting point.
    pub peak: usize,
    /// Allocation requests refused (each one a `try_reserve` that failed cleanly, or the
    /// start of an abort).
    pub refused: usize,
}

// SAFETY: every block comes from `System` with the caller's layout and goes back to it with the
// same layout; the counters only decide whether to ask `System` at all.
unsafe impl GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !self.take(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller upholds `alloc`'s contract, which is `System.alloc`'s.
        let p = unsafe { System.alloc(layout) };
        if p.is_null() {
            self.give_back(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !self.take(layout.size()) {
            return std::ptr::null_mut();
        }
        // SAFETY: as in `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if p.is_null() {
            self.give_back(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this layout (see `alloc`).
        unsafe { System.dealloc(ptr, layout) };
        self.give_back(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = layout.size();
        if new_size > old && !self.take(new_size - old) {
            return std::ptr::null_mut();
        }
        // SAFETY: the caller upholds `realloc`'s contract, which is `System.realloc`'s.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if p.is_null() {
            if new_size > old {
                self.give_back(new_size - old);
            }
        } else if new_size < old {
            self.give_back(old - new_size);
        }
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_cap_and_gives_back() {
        let a = CappedAlloc::new(4096);
        let small = Layout::from_size_align(1000, 8).unwrap();
        let big = Layout::from_size_align(5000, 8).unwrap();
        // SAFETY: layouts are non-zero; every block is freed with its layout.
        unsafe {
            assert!(a.alloc(big).is_null());
            assert_eq!(a.refused(), 1);
            let p = a.alloc(small);
            assert!(!p.is_null());
            assert_eq!(a.current(), 1000);
            let q = a.realloc(p, small, 4000);
            assert!(!q.is_null());
            assert_eq!(a.current(), 4000);
            assert!(a.realloc(q, Layout::from_size_align(4000, 8).unwrap(), 4097).is_null());
            assert_eq!(a.current(), 4000);
            a.dealloc(q, Layout::from_size_align(4000, 8).unwrap());
        }
        assert_eq!(a.current(), 0);
        assert_eq!(a.peak(), 4000);
    }
}
