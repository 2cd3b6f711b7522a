//! Test support for everything that drives the menu (this crate's tests, `bootplan`'s
//! integration tests): a scripted [`Terminal`]. Built for this crate's own tests and, for
//! other crates' tests, behind the `testing` feature (a dev-dependency feature, never in the
//! PV image).

use alloc::string::String;
use alloc::vec::Vec;

use crate::Terminal;

/// Simulated time after which a script is taken to have run out of keys (the menu would wait
/// for ever).
const GIVE_UP_NS: u64 = 3_600_000_000_000;

/// Types `keys` one read at a time: a read that gets keys lets half its timeout pass (so the
/// pieces of an escape sequence arrive within the sequence's wait), one that gets none lets
/// all of it pass. Everything written is kept in `out`.
#[derive(Debug, Default)]
pub struct Script {
    /// The terminal's clock, ns.
    pub now: u64,
    /// What each coming read returns, in order.
    pub keys: Vec<Vec<u8>>,
    /// All output so far.
    pub out: String,
}

impl Script {
    /// A script that types `keys`, one piece per read.
    pub fn new(keys: &[&[u8]]) -> Self {
        Script { now: 0, keys: keys.iter().map(|k| k.to_vec()).collect(), out: String::new() }
    }
}

impl Terminal for Script {
    fn read(&mut self, buf: &mut [u8], timeout_ns: u64) -> usize {
        if self.keys.is_empty() {
            self.now = self.now.saturating_add(timeout_ns);
            assert!(self.now < GIVE_UP_NS, "the script ran out of keys\n{}", self.out);
            return 0;
        }
        self.now = self.now.saturating_add(timeout_ns / 2);
        let k = self.keys.remove(0);
        let n = k.len().min(buf.len());
        buf[..n].copy_from_slice(&k[..n]);
        n
    }
    fn write(&mut self, s: &str) {
        self.out.push_str(s);
    }
    fn now_ns(&self) -> u64 {
        self.now
    }
}
