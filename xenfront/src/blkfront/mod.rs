//! blkfront, read-only: the xenbus handshake with a block backend and reads over its ring.
//! Spec: `xen/include/public/io/blkif.h` (nodes, state diagram), `io/xenbus.h`; pvgrub/mini-os
//! `blkfront.c` for the close sequence that leaves the disk ready for the next kernel.
//!
//! Everything the backend controls is checked: xenstore values are parsed with typed errors,
//! `sector-size` must be a power of two in 512..=4096, `sectors × sector-size` must not
//! overflow, responses must carry an id we have outstanding (generation-tagged, so a replayed
//! or invented id is caught) and an OK status, and `rsp_prod` may not run ahead of our
//! requests. A device that broke the protocol or timed out is fenced off: its data pages may
//! still be written by the backend, so they are never reused.
//!
//! Reads are split into as few requests as possible — up to 11 pages direct, or up to
//! `feature-max-indirect-segments` pages with `BLKIF_OP_INDIRECT` — with several in flight,
//! through a pool of data pages granted once at connect.
//!
//! Start-up time is mostly waiting for dom0 (each xenstore round trip 0.3–6 ms under TCG, each
//! backend state change more), so every disk goes through each step at once:
//! [`connect_all`] sends one request group per handshake step for all disks and lets every
//! backend connect while the others do; [`begin_close`] says Closing for all right after the
//! last read, and [`Closing::finish`] waits for the backends as late as the caller can.
//!
//! By phase: `handshake` (the xenbus connect of every disk at once), `io` (requests, grants,
//! reads in place, read-ahead), `close` (the clean close and what it could not give back:
//! [`Closed::still_granted`] pages a backend keeps mapped, which must not become the next
//! kernel's memory), and `xenbus` (the state waits and value parsing both ends share).

mod close;
mod handshake;
mod io;
#[cfg(test)]
mod tests;
mod xenbus;

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use fs::IoError;

use super::blkif::Blkif;
use super::platform::{DomId, GrantRef, Platform, PlatformError, Port, MS};
use super::ring::FrontRing;
use super::xenstore::{Xenstore, XsError};

pub use close::{begin_close, Closed, Closing};
pub use handshake::{connect_all, Disk};
use io::Inflight;

/// XenbusState values (`io/xenbus.h`).
pub mod state {
    /// `XenbusStateInitialising`.
    pub const INITIALISING: u32 = 1;
    /// `XenbusStateInitWait`.
    pub const INIT_WAIT: u32 = 2;
    /// `XenbusStateInitialised`.
    pub const INITIALISED: u32 = 3;
    /// `XenbusStateConnected`.
    pub const CONNECTED: u32 = 4;
    /// `XenbusStateClosing`.
    pub const CLOSING: u32 = 5;
    /// `XenbusStateClosed`.
    pub const CLOSED: u32 = 6;
}

/// Tunables.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// How long the backend may take for each handshake step.
    pub connect_timeout_ns: u64,
    /// How long a read may go without any response.
    pub io_timeout_ns: u64,
    /// Data pages granted per device (bounce buffers; bounds memory and grant use).
    pub data_pages: usize,
    /// Upper bound on segments per indirect request through the data pages, below the
    /// backend's offer (0: no indirect requests at all).
    pub max_indirect_segments: u32,
    /// Read-ahead for small sequential reads, in bytes (0: off). Filesystems that read one
    /// block at a time then still cause large requests.
    pub read_ahead: usize,
    /// Pages of callers' buffers that may be granted to the backend directly at once (0: off,
    /// always copy through the data pages). A destination that is 512-byte aligned in memory
    /// is read into in place: no copy, and in flight it is bounded by this budget rather than
    /// by the data pages.
    pub direct_pages: usize,
    /// Upper bound on segments per indirect request into a caller's buffer (below the
    /// backend's offer; `max_indirect_segments` bounds requests through the data pages).
    pub direct_max_segments: u32,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            connect_timeout_ns: 10_000 * MS,
            io_timeout_ns: 30_000 * MS,
            data_pages: 256,
            max_indirect_segments: 64,
            read_ahead: 256 << 10,
            direct_pages: 1024,
            direct_max_segments: 256,
        }
    }
}

/// What went wrong with one disk.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlkErrorKind {
    /// A xenstore operation failed.
    Xenstore(XsError),
    /// The backend did not reach the state in time.
    Timeout {
        /// The state we waited for.
        want: u32,
        /// The backend's last state.
        last: u32,
    },
    /// The backend went to Closing/Closed (or another state) instead of connecting.
    BackendState(u32),
    /// `sector-size` is not a power of two in 512..=4096.
    SectorSize(u32),
    /// `sectors` is zero or the size overflows.
    Sectors(u64),
    /// Grant/event-channel/memory failure.
    Platform(PlatformError),
}

/// A disk error, with the frontend's xenstore path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlkError {
    /// `device/vbd/<id>`.
    pub path: String,
    /// The backend's path when known.
    pub backend: Option<String>,
    /// What happened.
    pub kind: BlkErrorKind,
}

impl fmt::Display for BlkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path)?;
        if let Some(b) = &self.backend {
            write!(f, " (backend {b})")?;
        }
        match &self.kind {
            BlkErrorKind::Xenstore(e) => write!(f, ": {e}"),
            BlkErrorKind::Timeout { want, last } => {
                write!(f, ": backend did not reach state {want} in time (still in state {last})")
            }
            BlkErrorKind::BackendState(s) => write!(f, ": backend went to state {s}"),
            BlkErrorKind::SectorSize(s) => write!(f, ": unsupported sector-size {s}"),
            BlkErrorKind::Sectors(s) => write!(f, ": bad sector count {s}"),
            BlkErrorKind::Platform(e) => write!(f, ": {e}"),
        }
    }
}

impl core::error::Error for BlkError {}

/// The vbd device ids of this domain (`device/vbd/*`), in numeric order (xvda first).
/// Names that are not numbers are skipped.
///
/// # Errors
/// The directory cannot be read (absent means no disks: `Ok(vec![])`).
pub fn list_vbds<P: Platform>(xs: &mut Xenstore<P>) -> Result<Vec<u32>, XsError> {
    let names = match xs.directory("device/vbd") {
        Ok(n) => n,
        Err(e) if e.is_not_found() => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut ids: Vec<u32> = names.iter().filter_map(|n| n.parse().ok()).collect();
    // The image's one sort (a sort_unstable of its own here costs about 3 KB of image).
    fs::order::sort_by_key(&mut ids, &|&id| u64::from(id));
    ids.dedup();
    Ok(ids)
}

/// Linux-style name of a vbd id (xen-vbd-interface(7)): `xvda`, `xvdq`, `sda`, `hda`, else `vbd<id>`.
pub fn vbd_name(id: u32) -> String {
    fn letters(mut n: u32) -> String {
        // bijective base 26: 0 → a, 25 → z, 26 → aa
        let mut out = Vec::new();
        for _ in 0..8 {
            out.push(b'a' + u8::try_from(n % 26).unwrap_or(0));
            if n < 26 {
                break;
            }
            n = n / 26 - 1;
        }
        out.reverse();
        String::from_utf8(out).unwrap_or_default()
    }
    let (prefix, disk, part) = if id & (1 << 28) != 0 {
        ("xvd", (id >> 8) & 0xfffff, id & 0xff)
    } else {
        match id >> 8 {
            202 => ("xvd", (id >> 4) & 15, id & 15),
            8 => ("sd", (id >> 4) & 15, id & 15),
            3 => ("hd", (id >> 6) & 3, id & 63),
            _ => return format!("vbd{id}"),
        }
    };
    if part == 0 {
        format!("{prefix}{}", letters(disk))
    } else {
        format!("{prefix}{}{part}", letters(disk))
    }
}

pub(super) struct DataPage<Pg> {
    pub(super) page: Pg,
    pub(super) gref: GrantRef,
}

/// One connected disk.
pub struct Blkfront<P: Platform> {
    plat: P,
    cfg: Config,
    front: String,
    backend: String,
    backend_id: DomId,
    handle: u16,
    ring: FrontRing<P::Page, Blkif>,
    ring_gref: GrantRef,
    port: Port,
    sector_size: u32,
    sectors: u64,
    /// The disk takes writes (the toolstack's `mode` is `w`).
    writable: bool,
    /// The backend offers `BLKIF_OP_FLUSH_DISKCACHE`.
    flush_cache: bool,
    /// Segments per indirect request we use (0: direct only).
    indirect_segs: u32,
    /// Of which for requests through the data pages.
    bounce_segs: u32,
    /// Caller pages that may still be granted ([`Config::direct_pages`] minus those in flight).
    direct_free: usize,
    pages: Vec<DataPage<P::Page>>,
    free_pages: Vec<usize>,
    indirect: Vec<DataPage<P::Page>>,
    free_indirect: Vec<usize>,
    inflight: Vec<Option<Inflight>>,
    gen: u32,
    broken: Option<IoError>,
    /// Grants of callers' pages that the backend kept mapped after their request: retried at
    /// close, and counted in [`Closed::still_granted`] if they still cannot end.
    stuck: Vec<GrantRef>,
    /// Pages kept out of the heap because their grant could not end (the backend may still
    /// write them): they must not become the next kernel's memory either.
    still_granted: usize,
    /// Read-ahead window for small sequential reads: `[ra_lba, ra_lba + ra.len()/sector)`.
    ra: Vec<u8>,
    ra_lba: u64,
    /// End of the previous read, to detect sequential access.
    last_end: u64,
    /// Counters for the report: requests issued and bytes read.
    pub stats: Stats,
}

/// Request counters.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Requests pushed.
    pub requests: u64,
    /// Of which indirect.
    pub indirect: u64,
    /// Bytes delivered.
    pub bytes: u64,
    /// Most requests in flight at once.
    pub max_in_flight: u32,
    /// Small reads served from the read-ahead window.
    pub ra_hits: u64,
}

impl<P: Platform> fmt::Debug for Blkfront<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Blkfront")
            .field("front", &self.front)
            .field("backend", &self.backend)
            .field("sector_size", &self.sector_size)
            .field("sectors", &self.sectors)
            .field("indirect_segs", &self.indirect_segs)
            .finish_non_exhaustive()
    }
}

impl<P: Platform> Blkfront<P> {
    /// The frontend's xenstore directory (`device/vbd/<id>`).
    pub fn path(&self) -> &str {
        &self.front
    }

    /// The backend's xenstore directory.
    pub fn backend_path(&self) -> &str {
        &self.backend
    }

    /// The backend domain.
    pub fn backend_id(&self) -> DomId {
        self.backend_id
    }

    /// Segments per indirect request in use (0: direct requests only).
    pub fn indirect_segments(&self) -> u32 {
        self.indirect_segs
    }
}
