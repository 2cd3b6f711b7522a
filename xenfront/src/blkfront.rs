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

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::sync::atomic::{fence, Ordering};

use fs::block::check_request;
use fs::{BlockDevice, IoError, Lba};

use super::blkif::{self, Blkif, Request, Response, Segment};
use super::platform::{Deadline, DomId, GrantRef, Platform, PlatformError, Port, SharedPage, MS, PAGE_SIZE};
use super::ring::{FrontRing, RingError};
use super::xenstore::{Op, Xenstore, XsError};

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
    ids.sort_unstable();
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

struct DataPage<Pg> {
    page: Pg,
    gref: GrantRef,
}

struct Inflight {
    gen: u32,
    /// Indices into `pages` holding the data, in order.
    pages: Vec<usize>,
    /// Indices into `indirect` used by this request.
    indirect: Vec<usize>,
    /// Grants of the caller's own pages (a request read in place; `pages` is then empty).
    direct: Vec<GrantRef>,
    /// Which of the caller's buffers the data goes to, and where in it.
    part: usize,
    buf_off: usize,
    len: usize,
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

/// Resources built up during connect, released on failure.
struct Partial<P: Platform> {
    ring: Option<(FrontRing<P::Page, Blkif>, GrantRef)>,
    port: Option<Port>,
    pages: Vec<DataPage<P::Page>>,
}

impl<P: Platform> Partial<P> {
    fn release(self, plat: &P) {
        for p in self.pages {
            // A page whose grant cannot end is leaked: the backend may still write it.
            if plat.end_grant(p.gref).is_err() {
                core::mem::forget(p.page);
            }
        }
        if let Some((ring, gref)) = self.ring {
            if plat.end_grant(gref).is_err() {
                core::mem::forget(ring);
            }
        }
        if let Some(port) = self.port {
            let _ = plat.close_port(port);
        }
    }
}

fn token(front: &str) -> String {
    format!("rpvboot:{front}")
}

/// A xenstore reply as text (as [`Xenstore::read`]).
fn reply_text(path: &str, r: Result<Vec<u8>, XsError>) -> Result<String, XsError> {
    let body = r?;
    String::from_utf8(body).map_err(|e| XsError::Parse {
        path: path.into(),
        value: String::from_utf8_lossy(e.as_bytes().get(..64).unwrap_or(e.as_bytes())).into_owned(),
    })
}

/// A xenstore reply as a number (as [`Xenstore::read_parsed`]).
fn reply_num<T: core::str::FromStr>(path: &str, r: Result<Vec<u8>, XsError>) -> Result<T, XsError> {
    let v = reply_text(path, r)?;
    v.trim_end_matches('\0').trim().parse().map_err(|_| XsError::Parse {
        path: path.into(),
        value: String::from_utf8_lossy(v.as_bytes().get(..64).unwrap_or(v.as_bytes())).into_owned(),
    })
}

/// One backend [`wait_states`] waits for.
struct StateWait<'a> {
    /// `<backend>/state`.
    state_path: &'a str,
    /// The token of our watch on it.
    token: &'a str,
    /// Set the watch in the first read (the backend's changes then wake us).
    watch: bool,
    /// More nodes read in the same request group as the state (e.g. the geometry, which a
    /// backend writes before it switches state): their replies are returned with it.
    extra: Vec<String>,
}

/// A backend state [`wait_states`] accepted, and the replies of its extra reads.
type Reached = (u32, Vec<Result<Vec<u8>, XsError>>);

/// Waits until every backend's state satisfies `ok` (or `fail`, or the deadline), reading
/// all states still awaited in one request group per wake-up: disks that are waited for
/// together cost one dom0 round trip, not one each. Any watch event means "read again";
/// waits are capped at 100 ms so that a missed event only delays. `read_first`: read before
/// the first wait; else wait for an event first (right after our own write the backend has
/// not answered yet, and a read would only cost a round trip; an event it sent meanwhile is
/// queued and ends the wait at once).
fn wait_states<P: Platform>(
    xs: &mut Xenstore<P>,
    waits: &[StateWait<'_>],
    want: u32,
    timeout_ns: u64,
    read_first: bool,
    ok: &dyn Fn(u32) -> bool,
    fail: &dyn Fn(u32) -> bool,
) -> Vec<Result<Reached, BlkErrorKind>> {
    let deadline = Deadline::after(xs.platform(), timeout_ns);
    let mut out: Vec<Option<Result<Reached, BlkErrorKind>>> = waits.iter().map(|_| None).collect();
    let mut last = alloc::vec![0u32; waits.len()];
    let mut first = true;
    loop {
        let pending: Vec<usize> = (0..waits.len()).filter(|&i| out.get(i).is_some_and(Option::is_none)).collect();
        if pending.is_empty() {
            break;
        }
        if !first || !read_first {
            let Some(left) = deadline.remaining(xs.platform()) else {
                for &i in &pending {
                    if let Some(o) = out.get_mut(i) {
                        *o = Some(Err(BlkErrorKind::Timeout { want, last: last.get(i).copied().unwrap_or(0) }));
                    }
                }
                break;
            };
            if let Err(e) = xs.wait_event(left.min(100 * MS)) {
                for &i in &pending {
                    if let Some(o) = out.get_mut(i) {
                        *o = Some(Err(BlkErrorKind::Xenstore(e.clone())));
                    }
                }
                break;
            }
        }
        let mut ops = Vec::new();
        // Per pending disk: the number its state read's reply will have.
        let mut read_reply = Vec::with_capacity(pending.len());
        let before = xs.replies_received();
        for &i in &pending {
            let Some(w) = waits.get(i) else { continue };
            if first && w.watch {
                ops.push(Op::Watch(w.state_path, w.token));
            }
            ops.push(Op::Read(w.state_path));
            read_reply.push((w.token, before.wrapping_add(ops.len() as u64)));
            ops.extend(w.extra.iter().map(|p| Op::Read(p)));
        }
        let replies = match xs.batch(&ops) {
            Ok(r) => r,
            Err(e) => {
                for &i in &pending {
                    if let Some(o) = out.get_mut(i) {
                        *o = Some(Err(BlkErrorKind::Xenstore(e.clone())));
                    }
                }
                break;
            }
        };
        // Events that came before a disk's state was read (the watch's own first event, or
        // changes the read saw) say nothing new: only later ones end the next wait early.
        for &(token, reply) in &read_reply {
            xs.forget_events_before(token, reply);
        }
        let mut replies = replies.into_iter();
        for &i in &pending {
            let Some(w) = waits.get(i) else { continue };
            let watched = if first && w.watch {
                replies.next().unwrap_or(Err(XsError::Protocol("missing reply"))).map(drop)
            } else {
                Ok(())
            };
            let state = match reply_num::<u32>(w.state_path, replies.next().unwrap_or(Err(XsError::TooLong))) {
                Ok(s) => Ok(s),
                Err(e) if e.is_not_found() => Ok(0),
                Err(e) => Err(e),
            };
            let extra: Vec<_> = (0..w.extra.len()).map(|_| replies.next().unwrap_or(Err(XsError::TooLong))).collect();
            let res = match (watched, state) {
                (Err(e), _) | (_, Err(e)) => Some(Err(BlkErrorKind::Xenstore(e))),
                (Ok(()), Ok(st)) => {
                    if let Some(l) = last.get_mut(i) {
                        *l = st;
                    }
                    if ok(st) {
                        Some(Ok((st, extra)))
                    } else if fail(st) {
                        Some(Err(BlkErrorKind::BackendState(st)))
                    } else {
                        None
                    }
                }
            };
            if let Some(o) = out.get_mut(i) {
                *o = res;
            }
        }
        first = false;
    }
    out.into_iter().map(|o| o.unwrap_or(Err(BlkErrorKind::Timeout { want, last: 0 }))).collect()
}

/// A disk during [`connect_many`]: what is known and held so far.
struct Handshake<P: Platform> {
    id: u32,
    front: String,
    backend: String,
    backend_id: DomId,
    token: String,
    state_path: String,
    /// `feature-max-indirect-segments` as offered (0: none).
    offered: u32,
    partial: Partial<P>,
    indirect: Vec<DataPage<P::Page>>,
    geometry: (u32, u64),
    /// Why this disk dropped out.
    failed: Option<BlkErrorKind>,
}

impl<P: Platform> Handshake<P> {
    fn live(&self) -> bool {
        self.failed.is_none()
    }
    fn fail(&mut self, kind: BlkErrorKind) {
        self.failed.get_or_insert(kind);
    }
}

/// Segments per indirect request to use for a backend's offer (0: direct requests only).
fn indirect_segments(cfg: &Config, offered: u32) -> u32 {
    // `max_indirect_segments` 0 turns indirect requests off altogether.
    let want_segs = if cfg.direct_pages > 0 && cfg.max_indirect_segments > 0 {
        cfg.max_indirect_segments.max(cfg.direct_max_segments)
    } else {
        cfg.max_indirect_segments
    };
    let segs = offered
        .min(want_segs)
        .min(u32::try_from(blkif::MAX_INDIRECT_PAGES * blkif::SEGS_PER_INDIRECT_PAGE).unwrap_or(0));
    // Indirect only pays off beyond what a direct request carries.
    if segs > 11 {
        segs
    } else {
        0
    }
}

/// The xenbus handshake (xen-pv-abi.md §7.5) with every vbd of `ids` at once: each step is
/// one request group for all disks, and every backend connects while the others do, so `n`
/// disks cost about what one does. The frontends are published before the data pages are
/// granted, so that this work overlaps the backends' own connect. A disk that fails drops
/// out (its nodes withdrawn, its resources released) without stopping the others.
fn connect_many<P: Platform>(xs: &mut Xenstore<P>, ids: &[u32], cfg: Config) -> Vec<Result<Blkfront<P>, BlkError>> {
    let plat = xs.platform().clone();
    let mut hs: Vec<Handshake<P>> = ids
        .iter()
        .map(|&id| {
            let front = format!("device/vbd/{id}");
            Handshake {
                id,
                token: token(&front),
                front,
                backend: String::new(),
                backend_id: DomId(0),
                state_path: String::new(),
                offered: 0,
                partial: Partial { ring: None, port: None, pages: Vec::new() },
                indirect: Vec::new(),
                geometry: (512, 0),
                failed: None,
            }
        })
        .collect();
    let xse = BlkErrorKind::Xenstore;

    // Step 1: where each backend is.
    let paths: Vec<(String, String)> =
        hs.iter().map(|h| (format!("{}/backend", h.front), format!("{}/backend-id", h.front))).collect();
    let ops: Vec<Op<'_>> = paths.iter().flat_map(|(b, i)| [Op::Read(b), Op::Read(i)]).collect();
    match xs.batch(&ops) {
        Ok(replies) => {
            let mut replies = replies.into_iter();
            for (h, (bp, ip)) in hs.iter_mut().zip(&paths) {
                let b = reply_text(bp, replies.next().unwrap_or(Err(XsError::TooLong)));
                let i = reply_num::<u16>(ip, replies.next().unwrap_or(Err(XsError::TooLong)));
                match b {
                    Ok(b) => {
                        h.state_path = format!("{b}/state");
                        h.backend = b;
                        match i {
                            Ok(i) => h.backend_id = DomId(i),
                            Err(e) => h.fail(xse(e)),
                        }
                    }
                    Err(e) => h.fail(xse(e)),
                }
            }
        }
        Err(e) => hs.iter_mut().for_each(|h| h.fail(xse(e.clone()))),
    }

    // Step 2: watch each backend's state; it publishes its features in InitWait (or skips to
    // later states).
    let live: Vec<usize> = (0..hs.len()).filter(|&i| hs.get(i).is_some_and(Handshake::live)).collect();
    let feature: Vec<String> = live
        .iter()
        .filter_map(|&i| hs.get(i))
        .map(|h| format!("{}/feature-max-indirect-segments", h.backend))
        .collect();
    let waits: Vec<StateWait<'_>> = live
        .iter()
        .zip(&feature)
        .filter_map(|(&i, f)| {
            let h = hs.get(i)?;
            Some(StateWait { state_path: &h.state_path, token: &h.token, watch: true, extra: alloc::vec![f.clone()] })
        })
        .collect();
    let reached = wait_states(
        xs,
        &waits,
        state::INIT_WAIT,
        cfg.connect_timeout_ns,
        true,
        &|s| (state::INIT_WAIT..=state::CONNECTED).contains(&s),
        &|s| s >= state::CLOSING,
    );
    drop(waits);
    for ((&i, r), path) in live.iter().zip(reached).zip(&feature) {
        let Some(h) = hs.get_mut(i) else { continue };
        match r {
            Ok((_, extra)) => {
                h.offered = match reply_num::<u32>(path, extra.into_iter().next().unwrap_or(Err(XsError::TooLong))) {
                    Ok(n) => n,
                    Err(e) if e.is_not_found() => 0,
                    Err(XsError::Parse { .. }) => 0,
                    Err(e) => {
                        h.fail(xse(e));
                        0
                    }
                };
            }
            Err(k) => h.fail(k),
        }
    }

    // Step 3: ring page, grant, event channel; then every frontend is published in one group
    // (state last: a backend acts on Initialised and then finds the rest written).
    let pe = BlkErrorKind::Platform;
    for h in hs.iter_mut().filter(|h| h.live()) {
        let ring = plat.alloc_page().and_then(|page| {
            let gref = plat.grant(h.backend_id, page.frame(), false)?;
            Ok((FrontRing::<P::Page, Blkif>::new(page), gref))
        });
        match ring {
            Ok(r) => h.partial.ring = Some(r),
            Err(e) => {
                h.fail(pe(e));
                continue;
            }
        }
        match plat.alloc_unbound(h.backend_id) {
            Ok(p) => h.partial.port = Some(p),
            Err(e) => h.fail(pe(e)),
        }
    }
    let publish: Vec<(usize, [(String, String); 4])> = hs
        .iter()
        .enumerate()
        .filter(|(_, h)| h.live())
        .filter_map(|(i, h)| {
            let (gref, port) = (h.partial.ring.as_ref()?.1, h.partial.port?);
            let f = &h.front;
            Some((
                i,
                [
                    (format!("{f}/ring-ref"), format!("{}", gref.0)),
                    (format!("{f}/event-channel"), format!("{}", port.0)),
                    (format!("{f}/protocol"), String::from("x86_64-abi")),
                    (format!("{f}/state"), format!("{}", state::INITIALISED)),
                ],
            ))
        })
        .collect();
    let ops: Vec<Op<'_>> = publish.iter().flat_map(|(_, w)| w.iter().map(|(p, v)| Op::Write(p, v))).collect();
    match xs.batch(&ops) {
        Ok(replies) => {
            let mut replies = replies.into_iter();
            for (i, _) in &publish {
                let r: Result<(), XsError> =
                    (0..4).try_for_each(|_| replies.next().unwrap_or(Err(XsError::TooLong)).map(drop));
                if let (Err(e), Some(h)) = (r, hs.get_mut(*i)) {
                    h.fail(xse(e));
                }
            }
        }
        Err(e) => {
            for (i, _) in &publish {
                if let Some(h) = hs.get_mut(*i) {
                    h.fail(xse(e.clone()));
                }
            }
        }
    }

    // Data pages, granted once for the life of the connection, while the backends connect.
    for h in hs.iter_mut().filter(|h| h.live()) {
        let (bid, segs) = (h.backend_id, indirect_segments(&cfg, h.offered));
        match grant_pools(&plat, bid, &cfg, segs) {
            Ok((pages, indirect)) => {
                h.partial.pages = pages;
                h.indirect = indirect;
            }
            Err((pages, e)) => {
                h.partial.pages = pages;
                h.fail(pe(e));
            }
        }
    }

    // Step 5: backends Connected, with the geometry read in the same group (blkback writes
    // it before it switches state).
    let live: Vec<usize> = (0..hs.len()).filter(|&i| hs.get(i).is_some_and(Handshake::live)).collect();
    let waits: Vec<StateWait<'_>> = live
        .iter()
        .filter_map(|&i| hs.get(i))
        .map(|h| StateWait {
            state_path: &h.state_path,
            token: &h.token,
            watch: false,
            extra: alloc::vec![format!("{}/sector-size", h.backend), format!("{}/sectors", h.backend)],
        })
        .collect();
    let reached =
        wait_states(xs, &waits, state::CONNECTED, cfg.connect_timeout_ns, false, &|s| s == state::CONNECTED, &|s| {
            s >= state::CLOSING
        });
    drop(waits);
    for (&i, r) in live.iter().zip(reached) {
        let Some(h) = hs.get_mut(i) else { continue };
        let geometry = r.and_then(|(_, extra)| {
            let mut extra = extra.into_iter();
            let ss_path = format!("{}/sector-size", h.backend);
            let sector_size: u32 = match reply_num(&ss_path, extra.next().unwrap_or(Err(XsError::TooLong))) {
                Ok(s) => s,
                Err(e) if e.is_not_found() => 512,
                Err(e) => return Err(xse(e)),
            };
            if !sector_size.is_power_of_two() || !(512..=4096).contains(&sector_size) {
                return Err(BlkErrorKind::SectorSize(sector_size));
            }
            let n_path = format!("{}/sectors", h.backend);
            let sectors: u64 = reply_num(&n_path, extra.next().unwrap_or(Err(XsError::TooLong))).map_err(xse)?;
            if sectors == 0 || sectors.checked_mul(u64::from(sector_size)).is_none() {
                return Err(BlkErrorKind::Sectors(sectors));
            }
            Ok((sector_size, sectors))
        });
        match geometry {
            Ok(g) => h.geometry = g,
            Err(k) => h.fail(k),
        }
    }

    // Step 6: Connected, in one group.
    let connected: Vec<(usize, String)> =
        hs.iter().enumerate().filter(|(_, h)| h.live()).map(|(i, h)| (i, format!("{}/state", h.front))).collect();
    let ops: Vec<Op<'_>> = connected.iter().map(|(_, p)| Op::Write(p, "4")).collect();
    let res = xs.batch(&ops);
    for (k, (i, _)) in connected.iter().enumerate() {
        let r = match &res {
            Ok(replies) => replies.get(k).cloned().unwrap_or(Err(XsError::TooLong)).map(drop),
            Err(e) => Err(e.clone()),
        };
        if let (Err(e), Some(h)) = (r, hs.get_mut(*i)) {
            h.fail(xse(e));
        }
    }

    // The failed ones withdraw their nodes (best effort, one group) so that their backends
    // stop looking at rings about to go away, and give back what they took.
    let withdraw: Vec<[String; 3]> = hs
        .iter()
        .filter(|h| !h.live() && !h.backend.is_empty())
        .map(|h| [format!("{}/ring-ref", h.front), format!("{}/event-channel", h.front), format!("{}/state", h.front)])
        .collect();
    let unwatch: Vec<(&str, &str)> = hs
        .iter()
        .filter(|h| !h.live() && !h.backend.is_empty())
        .map(|h| (h.state_path.as_str(), h.token.as_str()))
        .collect();
    let mut ops: Vec<Op<'_>> = Vec::new();
    for ((sp, tok), [rr, ec, st]) in unwatch.iter().zip(&withdraw) {
        ops.extend([Op::Unwatch(sp, tok), Op::Rm(rr), Op::Rm(ec), Op::Write(st, "1")]);
    }
    if !ops.is_empty() {
        let _ = xs.batch(&ops);
    }

    hs.into_iter()
        .map(|h| {
            let backend = (!h.backend.is_empty()).then(|| h.backend.clone());
            if let Some(kind) = h.failed {
                let mut partial = h.partial;
                partial.pages.extend(h.indirect);
                partial.release(&plat);
                return Err(BlkError { path: h.front, backend, kind });
            }
            Blkfront::assemble(plat.clone(), cfg, h).map_err(|(front, kind)| BlkError { path: front, backend, kind })
        })
        .collect()
}

/// The data pages (at least one direct request's worth, else the error with what was
/// granted) and, for indirect requests, the descriptor pages.
#[allow(clippy::type_complexity)]
fn grant_pools<P: Platform>(
    plat: &P,
    backend_id: DomId,
    cfg: &Config,
    indirect_segs: u32,
) -> Result<(Vec<DataPage<P::Page>>, Vec<DataPage<P::Page>>), (Vec<DataPage<P::Page>>, PlatformError)> {
    let want_pages = cfg.data_pages.max(blkif::MAX_SEGMENTS);
    let mut pages = Vec::with_capacity(want_pages);
    let mut failure = None;
    for _ in 0..want_pages {
        match plat.alloc_page().and_then(|page| {
            let gref = plat.grant(backend_id, page.frame(), false)?;
            Ok(DataPage { page, gref })
        }) {
            Ok(p) => pages.push(p),
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    // Fewer pages only means smaller requests; fewer than one direct request is fatal.
    if pages.len() < blkif::MAX_SEGMENTS {
        return Err((pages, failure.unwrap_or(PlatformError::NoMemory)));
    }
    let mut indirect = Vec::new();
    if indirect_segs > 0 {
        // Enough descriptor pages for every request that the data pool and the direct
        // budget can fill at once.
        let per_req = usize::try_from(indirect_segs.div_ceil(512)).unwrap_or(1);
        let bounce = usize::try_from(indirect_segs.min(cfg.max_indirect_segments).max(1)).unwrap_or(1);
        let reqs = pages.len().div_ceil(bounce).max(1)
            + cfg.direct_pages.div_ceil(usize::try_from(indirect_segs).unwrap_or(1));
        for _ in 0..per_req.saturating_mul(reqs).min(64) {
            match plat.alloc_page().and_then(|page| {
                let gref = plat.grant(backend_id, page.frame(), true)?;
                Ok(DataPage { page, gref })
            }) {
                Ok(p) => indirect.push(p),
                Err(_) => break,
            }
        }
    }
    Ok((pages, indirect))
}

impl<P: Platform> Blkfront<P> {
    /// Connects vbd `id` (the xenbus handshake of xen-pv-abi.md §7.5); [`connect_all`] does
    /// every disk at once.
    ///
    /// # Errors
    /// [`BlkError`] naming the frontend path, and the backend path once known.
    pub fn connect(xs: &mut Xenstore<P>, id: u32, cfg: Config) -> Result<Self, BlkError> {
        let front = format!("device/vbd/{id}");
        connect_many(xs, &[id], cfg).pop().unwrap_or(Err(BlkError {
            path: front,
            backend: None,
            kind: BlkErrorKind::Platform(PlatformError::NoMemory),
        }))
    }

    /// The connected device from a finished handshake.
    fn assemble(plat: P, cfg: Config, h: Handshake<P>) -> Result<Self, (String, BlkErrorKind)> {
        let mut partial = h.partial;
        let (Some((ring, ring_gref)), Some(port)) = (partial.ring.take(), partial.port.take()) else {
            partial.pages.extend(h.indirect);
            partial.release(&plat);
            return Err((h.front, BlkErrorKind::Platform(PlatformError::NoMemory)));
        };
        let indirect_segs = if h.indirect.is_empty() { 0 } else { indirect_segments(&cfg, h.offered) };
        let pages = core::mem::take(&mut partial.pages);
        let (n_pages, n_ind) = (pages.len(), h.indirect.len());
        let slots = usize::try_from(ring.size()).unwrap_or(32);
        let (sector_size, sectors) = h.geometry;
        Ok(Self {
            plat,
            cfg,
            backend: h.backend,
            backend_id: h.backend_id,
            handle: u16::try_from(h.id).unwrap_or(0),
            ring,
            ring_gref,
            port,
            sector_size,
            sectors,
            indirect_segs,
            bounce_segs: indirect_segs.min(cfg.max_indirect_segments),
            direct_free: cfg.direct_pages,
            pages,
            free_pages: (0..n_pages).rev().collect(),
            indirect: h.indirect,
            free_indirect: (0..n_ind).rev().collect(),
            inflight: (0..slots).map(|_| None).collect(),
            gen: 1,
            broken: None,
            ra: Vec::new(),
            ra_lba: 0,
            last_end: u64::MAX,
            stats: Stats::default(),
            front: h.front,
        })
    }

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

    fn max_pages_per_request(&self) -> usize {
        let segs = if self.bounce_segs > 0 {
            usize::try_from(self.bounce_segs).unwrap_or(blkif::MAX_SEGMENTS)
        } else {
            blkif::MAX_SEGMENTS
        };
        segs.min(self.pages.len())
    }

    /// Most segments of a request read in place.
    fn max_direct_segments(&self) -> usize {
        if self.indirect_segs > 0 {
            usize::try_from(self.indirect_segs).unwrap_or(blkif::MAX_SEGMENTS)
        } else {
            blkif::MAX_SEGMENTS
        }
    }

    /// Pushes one request for `len` bytes at 512-byte sector `sector` through the data pages;
    /// `len` ≤ free pages.
    fn submit(&mut self, sector: u64, part: usize, buf_off: usize, len: usize) -> Result<(), IoError> {
        let npages = len.div_ceil(PAGE_SIZE);
        if npages == 0 || npages > self.free_pages.len() {
            return Err(IoError::Device);
        }
        let mut pages = Vec::with_capacity(npages);
        let mut segs = Vec::with_capacity(npages);
        for i in 0..npages {
            let idx = self.free_pages.pop().ok_or(IoError::Device)?;
            let bytes = len.saturating_sub(i * PAGE_SIZE).min(PAGE_SIZE);
            let last = u8::try_from(bytes / 512).unwrap_or(8).saturating_sub(1);
            let gref = self.pages.get(idx).ok_or(IoError::Device)?.gref;
            segs.push(Segment { gref: gref.0, first_sect: 0, last_sect: last, pad: 0 });
            pages.push(idx);
        }
        let r = self.push_request(sector, segs, pages.clone(), Vec::new(), part, buf_off, len);
        if r.is_err() {
            self.free_pages.extend(pages.iter().rev());
        }
        r
    }

    /// Pushes one request for `len` bytes at 512-byte sector `sector` straight into the
    /// caller's memory at address `addr` (512-byte aligned): each page it touches is granted
    /// to the backend for this request only. `Ok(false)`: a page has no frame we can grant,
    /// nothing was pushed (the caller copies through the data pages instead).
    fn submit_direct(
        &mut self,
        sector: u64,
        part: usize,
        buf_off: usize,
        addr: usize,
        len: usize,
    ) -> Result<bool, IoError> {
        let mut segs = Vec::new();
        let mut grants = Vec::new();
        let mut cur = addr;
        let end = addr.checked_add(len).ok_or(IoError::OutOfRange)?;
        // One segment per page touched; `cur` advances by at least 512 bytes per pass.
        while cur < end {
            let page = cur - cur % PAGE_SIZE;
            let off = cur - page;
            let n = (PAGE_SIZE - off).min(end - cur);
            let granted = self.plat.frame_of(page).map(|mfn| self.plat.grant(self.backend_id, mfn, false));
            let gref = match granted {
                Some(Ok(g)) => g,
                _ => {
                    self.end_direct(&grants);
                    return Ok(false);
                }
            };
            grants.push(gref);
            let first = u8::try_from(off / 512).unwrap_or(0);
            let last = u8::try_from((off + n) / 512).unwrap_or(8).saturating_sub(1);
            segs.push(Segment { gref: gref.0, first_sect: first, last_sect: last, pad: 0 });
            cur += n;
        }
        let count = grants.len();
        match self.push_request(sector, segs, Vec::new(), grants.clone(), part, buf_off, len) {
            Ok(()) => {
                self.direct_free = self.direct_free.saturating_sub(count);
                Ok(true)
            }
            Err(e) => {
                self.end_direct(&grants);
                Err(e)
            }
        }
    }

    /// Ends grants of a caller's pages once the backend is done with them. The backend
    /// unmaps before it responds, so this normally succeeds at once; a grant still mapped is
    /// waited for a while, and if it stays mapped rpvboot stops: that memory goes back to its
    /// owner and must not be writable by another domain any more.
    fn end_direct(&mut self, grants: &[GrantRef]) {
        for &g in grants {
            let mut r = self.plat.end_grant(g);
            for _ in 0..100 {
                if !matches!(r, Err(PlatformError::GrantBusy(_))) {
                    break;
                }
                let _ = self.plat.poll(self.port, 10 * MS);
                r = self.plat.end_grant(g);
            }
            if let Err(e) = r {
                self.broken = Some(IoError::Device);
                if matches!(e, PlatformError::GrantBusy(_)) {
                    panic!("{}: backend keeps a page of our memory mapped after its request ({e})", self.front);
                }
            }
        }
        self.direct_free = self.direct_free.saturating_add(grants.len()).min(self.cfg.direct_pages);
    }

    /// Ends the grants of requests still in flight when a read gives up (timeout, protocol
    /// error): the caller's buffer is about to be handed back.
    fn revoke_direct(&mut self) {
        let mut left = Vec::new();
        for e in &mut self.inflight {
            if let Some(i) = e.as_mut() {
                left.append(&mut i.direct);
            }
        }
        if !left.is_empty() {
            self.broken.get_or_insert(IoError::Device);
            self.end_direct(&left);
        }
    }

    /// Pushes a request built from `segs` (grants of `pages` or of `direct`).
    #[allow(clippy::too_many_arguments)]
    fn push_request(
        &mut self,
        sector: u64,
        segs: Vec<Segment>,
        pages: Vec<usize>,
        direct: Vec<GrantRef>,
        part: usize,
        buf_off: usize,
        len: usize,
    ) -> Result<(), IoError> {
        let npages = segs.len();
        let slot = self.inflight.iter().position(Option::is_none).ok_or(IoError::Device)?;
        self.gen = self.gen.wrapping_add(1).max(1);
        let id = (u64::from(self.gen) << 32) | u64::try_from(slot).unwrap_or(0);
        let mut indirect = Vec::new();
        let req = if npages <= blkif::MAX_SEGMENTS {
            let mut s = blkif::heapless_segs::Segs::default();
            for seg in &segs {
                s.push(*seg);
            }
            Request::Direct { id, handle: self.handle, sector, segs: s }
        } else {
            let mut grefs = [0u32; blkif::MAX_INDIRECT_PAGES];
            for (chunk, g) in segs.chunks(blkif::SEGS_PER_INDIRECT_PAGE).zip(grefs.iter_mut()) {
                let Some(idx) = self.free_indirect.pop() else {
                    self.free_indirect.extend(indirect.iter().rev());
                    return Err(IoError::Device);
                };
                let dp = self.indirect.get(idx).ok_or(IoError::Device)?;
                let mut bytes = Vec::with_capacity(chunk.len() * 8);
                for seg in chunk {
                    bytes.extend_from_slice(&blkif::encode_segment(seg));
                }
                dp.page.write(0, &bytes);
                *g = dp.gref.0;
                indirect.push(idx);
            }
            self.stats.indirect += 1;
            Request::Indirect {
                id,
                handle: self.handle,
                sector,
                nr_segments: u16::try_from(npages).unwrap_or(0),
                grefs,
            }
        };
        if self.ring.push(&req).is_err() {
            self.free_indirect.extend(indirect.iter().rev());
            return Err(IoError::Device);
        }
        if let Some(e) = self.inflight.get_mut(slot) {
            *e = Some(Inflight { gen: self.gen, pages, indirect, direct, part, buf_off, len });
        }
        self.stats.requests += 1;
        self.stats.max_in_flight = self.stats.max_in_flight.max(self.ring.outstanding());
        Ok(())
    }

    /// Handles one response: validates it and copies the data out.
    fn complete(&mut self, rsp: Response, parts: &mut [(Lba, &mut [u8])]) -> Result<(), IoError> {
        let slot = usize::try_from(rsp.id & 0xffff_ffff).unwrap_or(usize::MAX);
        let gen = u32::try_from(rsp.id >> 32).unwrap_or(0);
        let entry = self.inflight.get_mut(slot).ok_or(IoError::Device)?;
        let inflight = match entry.take() {
            Some(i) if i.gen == gen => i,
            other => {
                *entry = other;
                log::warn!("{}: response with unknown id {:#x}", self.front, rsp.id);
                self.broken = Some(IoError::Device);
                return Err(IoError::Device);
            }
        };
        let ok =
            rsp.status == blkif::RSP_OKAY && (rsp.operation == blkif::OP_READ || rsp.operation == blkif::OP_INDIRECT);
        if !inflight.direct.is_empty() {
            // Read in place: the data is in the caller's pages once their grants end.
            self.end_direct(&inflight.direct);
            fence(Ordering::Acquire);
        }
        if ok {
            let buf: &mut [u8] = match parts.get_mut(inflight.part) {
                Some((_, b)) => b,
                None => &mut [],
            };
            for (i, &idx) in inflight.pages.iter().enumerate() {
                let off = inflight.buf_off.saturating_add(i * PAGE_SIZE);
                let n = inflight.len.saturating_sub(i * PAGE_SIZE).min(PAGE_SIZE);
                if let (Some(dst), Some(dp)) = (buf.get_mut(off..off.saturating_add(n)), self.pages.get(idx)) {
                    dp.page.read(0, dst);
                }
            }
            self.stats.bytes = self.stats.bytes.saturating_add(u64::try_from(inflight.len).unwrap_or(0));
        }
        self.free_pages.extend(inflight.pages.iter().rev());
        self.free_indirect.extend(inflight.indirect.iter().rev());
        if ok {
            Ok(())
        } else {
            log::debug!("{}: request {:#x} failed with status {} op {}", self.front, rsp.id, rsp.status, rsp.operation);
            Err(IoError::Device)
        }
    }

    fn read_inner(&mut self, lba: Lba, buf: &mut [u8]) -> Result<(), IoError> {
        self.read_parts(&mut [(lba, buf)])
    }

    /// Reads every `(lba, buf)` of `parts`, keeping as many requests in flight as the ring
    /// and the data pages allow, across parts: a file in several runs on disk costs no more
    /// round trips than one in a single run.
    fn read_parts(&mut self, parts: &mut [(Lba, &mut [u8])]) -> Result<(), IoError> {
        let r = self.read_parts_inner(parts);
        if r.is_err() {
            self.revoke_direct();
        }
        r
    }

    fn read_parts_inner(&mut self, parts: &mut [(Lba, &mut [u8])]) -> Result<(), IoError> {
        if let Some(e) = self.broken {
            return Err(e);
        }
        for (lba, buf) in parts.iter() {
            check_request(self.sector_size, self.sectors, *lba, buf.len())?;
        }
        let max_bytes = self.max_pages_per_request().saturating_mul(PAGE_SIZE);
        // Cursor: the part being submitted and the next byte of it.
        let mut part = 0usize;
        let mut next = 0usize;
        let mut first_err: Option<IoError> = None;
        let mut deadline = Deadline::after(&self.plat, self.cfg.io_timeout_ns);
        loop {
            // Submit while there is room in the ring and pages in the pool. Each pass submits
            // a request or moves the cursor to the next part, or leaves the loop.
            let mut pushed = false;
            while first_err.is_none() && self.ring.free_slots() > 0 {
                let Some((lba, buf)) = parts.get(part) else { break };
                let total = buf.len();
                if next >= total {
                    part += 1;
                    next = 0;
                    continue;
                }
                let start = lba.0.checked_mul(u64::from(self.sector_size)).ok_or(IoError::OutOfRange)?;
                let byte = start
                    .checked_add(u64::try_from(next).map_err(|_| IoError::OutOfRange)?)
                    .ok_or(IoError::OutOfRange)?;
                // In place when the destination is sector-aligned in memory (blkback wants
                // every segment a whole number of the disk's sectors) and the budget allows a
                // request that is not tiny.
                let addr = (buf.as_ptr() as usize).wrapping_add(next);
                let ss = usize::try_from(self.sector_size).unwrap_or(PAGE_SIZE);
                if self.cfg.direct_pages > 0 && addr.is_multiple_of(ss) {
                    let max_pages = self.max_direct_segments();
                    let mut pages = self.direct_free.min(max_pages);
                    if pages > blkif::MAX_SEGMENTS {
                        let ind = self.free_indirect.len().saturating_mul(blkif::SEGS_PER_INDIRECT_PAGE);
                        pages = pages.min(ind.max(blkif::MAX_SEGMENTS));
                    }
                    let fit = (pages * PAGE_SIZE).saturating_sub(addr % PAGE_SIZE);
                    let len = total.saturating_sub(next).min(fit);
                    let len = len - len % ss;
                    let full = (max_pages * PAGE_SIZE).saturating_sub(addr % PAGE_SIZE);
                    if len == 0 || (len < total.saturating_sub(next) && len < full && self.ring.outstanding() > 0) {
                        // Wait for grants to come back rather than issue a small request.
                        if self.ring.outstanding() > 0 {
                            break;
                        }
                    } else {
                        match self.submit_direct(byte / 512, part, next, addr, len) {
                            Ok(true) => {
                                next = next.saturating_add(len);
                                pushed = true;
                                continue;
                            }
                            Ok(false) => {}
                            Err(e) => {
                                first_err = Some(e);
                                break;
                            }
                        }
                    }
                }
                let mut room = self.free_pages.len().saturating_mul(PAGE_SIZE).min(max_bytes);
                if room > blkif::MAX_SEGMENTS * PAGE_SIZE {
                    // Beyond 11 pages the request needs indirect pages: as many as are free.
                    let ind = self.free_indirect.len().saturating_mul(blkif::SEGS_PER_INDIRECT_PAGE);
                    room = room.min(ind.saturating_mul(PAGE_SIZE).max(blkif::MAX_SEGMENTS * PAGE_SIZE));
                }
                let len = total.saturating_sub(next).min(room);
                // Keep requests large: wait for pages instead of issuing a tiny request.
                if len == 0 || (len < total.saturating_sub(next) && len < max_bytes && self.ring.outstanding() > 0) {
                    break;
                }
                // A failed submit leaves earlier requests in flight: collect them before returning.
                if let Err(e) = self.submit(byte / 512, part, next, len) {
                    first_err = Some(e);
                    break;
                }
                next = next.saturating_add(len);
                pushed = true;
            }
            if pushed && self.ring.publish() {
                self.plat.notify(self.port).map_err(|_| IoError::Device)?;
            }
            if self.ring.outstanding() == 0 {
                break;
            }
            // Collect responses (in any order).
            let mut progress = false;
            loop {
                match self.ring.poll() {
                    Ok(Some(rsp)) => {
                        progress = true;
                        if let Err(e) = self.complete(rsp, parts) {
                            first_err.get_or_insert(e);
                            if self.broken.is_some() {
                                return Err(e);
                            }
                        }
                    }
                    Ok(None) => break,
                    Err(RingError::RspProdOverflow { rsp_prod, rsp_cons }) => {
                        log::warn!("{}: backend rsp_prod {rsp_prod} overruns rsp_cons {rsp_cons}", self.front);
                        self.broken = Some(IoError::Device);
                        return Err(IoError::Device);
                    }
                }
            }
            if progress {
                deadline = Deadline::after(&self.plat, self.cfg.io_timeout_ns);
                continue;
            }
            let Some(left) = deadline.remaining(&self.plat) else {
                // The backend may still write our pages later: never reuse them.
                self.broken = Some(IoError::Timeout);
                return Err(IoError::Timeout);
            };
            self.plat.poll(self.port, left.min(1000 * MS)).map_err(|_| IoError::Device)?;
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Copies `buf` from the read-ahead window if it lies inside.
    fn ra_hit(&mut self, lba: u64, buf: &mut [u8]) -> bool {
        let bs = u64::from(self.sector_size);
        let Some(off) = lba.checked_sub(self.ra_lba).and_then(|d| d.checked_mul(bs)) else {
            return false;
        };
        let Ok(off) = usize::try_from(off) else {
            return false;
        };
        match off.checked_add(buf.len()).and_then(|end| self.ra.get(off..end)) {
            Some(src) => {
                buf.copy_from_slice(src);
                true
            }
            None => false,
        }
    }

    /// Clean close of this disk alone: [`begin_close`], then [`Closing::finish`].
    ///
    /// # Errors
    /// The first failure; the close still runs to the end.
    pub fn shutdown(self, xs: &mut Xenstore<P>) -> Result<(), BlkError> {
        begin_close(xs, alloc::vec![self]).finish(xs).pop().unwrap_or(Ok(()))
    }

    /// Ends the grants of the data and descriptor pages and frees them, and the read-ahead
    /// window: no request outlives a read, and blkback maps our pages per request only (we
    /// offer no persistent grants), so they can go back to the heap before the backend has
    /// closed. A page whose grant cannot end is leaked (the backend may still write it), and
    /// so are a fenced device's.
    fn release_pools(&mut self) -> Result<(), BlkErrorKind> {
        let plat = self.plat.clone();
        let port = self.port;
        let mut result = Ok(());
        let fenced = self.broken.is_some();
        self.ra = Vec::new();
        self.free_pages.clear();
        self.free_indirect.clear();
        for p in core::mem::take(&mut self.pages).into_iter().chain(core::mem::take(&mut self.indirect)) {
            match end_grant_waiting(&plat, port, p.gref) {
                Ok(()) if !fenced => drop(p.page),
                Ok(()) => core::mem::forget(p.page),
                Err(e) => {
                    core::mem::forget(p.page);
                    result = Err(BlkErrorKind::Platform(e));
                }
            }
        }
        result
    }

    /// Ends the ring's grant and closes the port, once the backend has closed (unmapped it).
    fn release_ring(self) -> Result<(), BlkErrorKind> {
        let plat = self.plat.clone();
        let mut result = Ok(());
        match end_grant_waiting(&plat, self.port, self.ring_gref) {
            Ok(()) => drop(self.ring),
            Err(e) => {
                core::mem::forget(self.ring);
                result = Err(BlkErrorKind::Platform(e));
            }
        }
        for p in self.pages.into_iter().chain(self.indirect) {
            // Only when release_pools did not run: its pages are gone.
            if plat.end_grant(p.gref).is_err() || self.broken.is_some() {
                core::mem::forget(p.page);
            }
        }
        if let Err(e) = plat.close_port(self.port) {
            result = Err(BlkErrorKind::Platform(e));
        }
        result
    }
}

/// Ends a grant, retrying for up to half a second while the backend still maps the page.
fn end_grant_waiting<P: Platform>(plat: &P, port: Port, gref: GrantRef) -> Result<(), PlatformError> {
    let mut r = plat.end_grant(gref);
    for _ in 0..50 {
        if !matches!(r, Err(PlatformError::GrantBusy(_))) {
            break;
        }
        let _ = plat.poll(port, 10 * MS);
        r = plat.end_grant(gref);
    }
    r
}

/// Disks whose clean close has begun ([`begin_close`]): their backends tear down while the
/// caller does other work, and [`Closing::finish`] completes the close.
pub struct Closing<P: Platform> {
    devs: Vec<Blkfront<P>>,
    /// The first failure of each disk so far.
    errors: Vec<Option<BlkErrorKind>>,
}

impl<P: Platform> fmt::Debug for Closing<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Closing").field("devs", &self.devs).field("errors", &self.errors).finish()
    }
}

/// Begins the clean close (xen-pv-abi.md §7.6) of every disk of `devs`, to be called as soon
/// as the last read is done: the data pages go back to the heap at once, and every frontend
/// says Closing in one request group, without waiting for the backends.
pub fn begin_close<P: Platform>(xs: &mut Xenstore<P>, mut devs: Vec<Blkfront<P>>) -> Closing<P> {
    let mut errors: Vec<Option<BlkErrorKind>> = devs.iter().map(|_| None).collect();
    for (d, e) in devs.iter_mut().zip(errors.iter_mut()) {
        if let Err(k) = d.release_pools() {
            e.get_or_insert(k);
        }
    }
    let mut c = Closing { devs, errors };
    c.say(xs, state::CLOSING);
    c
}

impl<P: Platform> Closing<P> {
    /// How many disks are closing.
    pub fn len(&self) -> usize {
        self.devs.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.devs.is_empty()
    }

    /// Every frontend's state := `st`, in one request group.
    fn say(&mut self, xs: &mut Xenstore<P>, st: u32) {
        let paths: Vec<String> = self.devs.iter().map(|d| format!("{}/state", d.front)).collect();
        let value = format!("{st}");
        let ops: Vec<Op<'_>> = paths.iter().map(|p| Op::Write(p, &value)).collect();
        self.note_replies(xs.batch(&ops), 1);
    }

    /// Records the first failure of each disk from `per` replies each.
    fn note_replies(&mut self, res: Result<Vec<Result<Vec<u8>, XsError>>, XsError>, per: usize) {
        for (k, e) in self.errors.iter_mut().enumerate() {
            let r = match &res {
                Ok(replies) => (0..per).try_for_each(|j| {
                    replies.get(k * per + j).cloned().unwrap_or(Err(XsError::Protocol("missing reply"))).map(drop)
                }),
                Err(err) => Err(err.clone()),
            };
            if let Err(err) = r {
                e.get_or_insert(BlkErrorKind::Xenstore(err));
            }
        }
    }

    /// Waits until every backend's state satisfies `ok` (0: the node is gone, nothing to
    /// wait for).
    fn wait(&mut self, xs: &mut Xenstore<P>, want: u32, read_first: bool, ok: &dyn Fn(u32) -> bool) {
        let paths: Vec<(String, String)> =
            self.devs.iter().map(|d| (format!("{}/state", d.backend), token(&d.front))).collect();
        let waits: Vec<StateWait<'_>> =
            paths.iter().map(|(p, t)| StateWait { state_path: p, token: t, watch: false, extra: Vec::new() }).collect();
        let timeout = self.devs.first().map_or(Config::default().connect_timeout_ns, |d| d.cfg.connect_timeout_ns);
        let reached = wait_states(xs, &waits, want, timeout, read_first, &|s| s == 0 || ok(s), &|_| false);
        for (e, r) in self.errors.iter_mut().zip(reached) {
            if let Err(k) = r {
                e.get_or_insert(k);
            }
        }
    }

    /// Completes the close: waits for each backend to say Closing, says Closed, waits for
    /// Closed, withdraws our ring nodes and says Initialising, waits for InitWait (the backend
    /// offers the disk again, so the next kernel finds it as a fresh domain would), then
    /// drops our watches, ends the ring grants and closes the ports. Each step is one request
    /// group for all disks. Returns each disk's outcome, in order: the first failure, the
    /// close having run to the end anyway.
    pub fn finish(mut self, xs: &mut Xenstore<P>) -> Vec<Result<(), BlkError>> {
        self.wait(xs, state::CLOSING, true, &|s| s >= state::CLOSING);
        self.say(xs, state::CLOSED);
        self.wait(xs, state::CLOSED, false, &|s| s >= state::CLOSED);
        let nodes: Vec<[String; 5]> = self
            .devs
            .iter()
            .map(|d| {
                let f = &d.front;
                [
                    format!("{f}/ring-ref"),
                    format!("{f}/event-channel"),
                    format!("{f}/state"),
                    format!("{}/state", d.backend),
                    token(f),
                ]
            })
            .collect();
        let initialising = format!("{}", state::INITIALISING);
        let ops: Vec<Op<'_>> =
            nodes.iter().flat_map(|[rr, ec, st, ..]| [Op::Rm(rr), Op::Rm(ec), Op::Write(st, &initialising)]).collect();
        let res = xs.batch(&ops);
        self.note_replies(res, 3);
        self.wait(xs, state::INIT_WAIT, false, &|s| (state::INIT_WAIT..state::CLOSED).contains(&s));
        let ops: Vec<Op<'_>> = nodes.iter().map(|[.., sp, tok]| Op::Unwatch(sp, tok)).collect();
        let res = xs.batch(&ops);
        self.note_replies(res, 1);
        self.devs
            .into_iter()
            .zip(self.errors)
            .map(|(d, e)| {
                let (path, backend) = (d.front.clone(), Some(d.backend.clone()));
                // The ring goes in any case; an earlier failure is the one reported.
                let released = d.release_ring();
                match e.or(released.err()) {
                    None => Ok(()),
                    Some(kind) => Err(BlkError { path, backend, kind }),
                }
            })
            .collect()
    }
}

impl<P: Platform> BlockDevice for Blkfront<P> {
    fn block_size(&self) -> u32 {
        self.sector_size
    }
    fn num_blocks(&self) -> u64 {
        self.sectors
    }
    fn read_blocks(&mut self, lba: Lba, buf: &mut [u8]) -> Result<(), IoError> {
        let count = check_request(self.sector_size, self.sectors, lba, buf.len())?;
        let sequential = lba.0 == self.last_end;
        self.last_end = lba.0.saturating_add(count);
        if buf.len() >= self.cfg.read_ahead {
            return self.read_inner(lba, buf);
        }
        if !self.ra_hit(lba.0, buf) {
            if !sequential {
                return self.read_inner(lba, buf);
            }
            // Sequential small read: fetch a whole window starting here.
            let bs = u64::from(self.sector_size);
            let window = u64::try_from(self.cfg.read_ahead).unwrap_or(0) / bs;
            let n = window.min(self.sectors.saturating_sub(lba.0)).max(count);
            let mut ra = core::mem::take(&mut self.ra);
            ra.resize(usize::try_from(n.saturating_mul(bs)).map_err(|_| IoError::OutOfRange)?, 0);
            if self.read_inner(lba, &mut ra).is_err() {
                // The window may reach a bad sector the caller did not ask for.
                ra.clear();
                self.ra = ra;
                return self.read_inner(lba, buf);
            }
            self.ra = ra;
            self.ra_lba = lba.0;
            if !self.ra_hit(lba.0, buf) {
                return self.read_inner(lba, buf);
            }
        }
        self.stats.ra_hits += 1;
        Ok(())
    }
    fn read_blocks_vectored(&mut self, reqs: &mut [(Lba, &mut [u8])]) -> Result<(), IoError> {
        if let Some(&(lba, ref buf)) = reqs.last() {
            let count = check_request(self.sector_size, self.sectors, lba, buf.len())?;
            self.last_end = lba.0.saturating_add(count);
        }
        self.read_parts(reqs)
    }
}

/// A disk found in `device/vbd`: connected, or the reason it is not.
#[derive(Debug)]
pub struct Disk<P: Platform> {
    /// The vbd id.
    pub id: u32,
    /// `xvda`, ...
    pub name: String,
    /// The device, or why it failed.
    pub dev: Result<Blkfront<P>, BlkError>,
}

/// Connects every `device/vbd/*` at once ([`connect_many`]), listed in numeric order; a
/// failing disk does not stop the others.
///
/// # Errors
/// Only when the vbd list itself cannot be read.
pub fn connect_all<P: Platform>(xs: &mut Xenstore<P>, cfg: Config) -> Result<Vec<Disk<P>>, XsError> {
    let ids = list_vbds(xs)?;
    let devs = connect_many(xs, &ids, cfg);
    Ok(ids.into_iter().zip(devs).map(|(id, dev)| Disk { id, name: vbd_name(id), dev }).collect())
}

#[cfg(test)]
mod tests {
    use super::super::fake::{Behaviour, Fake};
    use super::*;
    use fs::MemDisk;

    /// Disk contents no driver logic produced: a byte pattern keyed by position.
    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len).map(|i| ((i / 512) as u8).wrapping_mul(31) ^ (i as u8) ^ seed).collect()
    }

    fn setup(disks: &[(u32, usize, u32, Behaviour, Option<u32>)]) -> (Fake, Xenstore<Fake>) {
        let f = Fake::new();
        for &(id, len, ss, b, ind) in disks {
            f.add_disk(id, MemDisk::new(pattern(len, id as u8), ss), b, ind);
        }
        // Copies through the data pages unless a test asks for reads in place: buffer
        // alignment would otherwise decide which path a test takes.
        f.set_no_frames(true);
        let xs = Xenstore::new(f.clone()).unwrap();
        (f, xs)
    }

    /// `n` zero bytes starting `skew` bytes past a page boundary of `v` (over-allocated).
    fn at_page_offset(v: &mut Vec<u8>, n: usize, skew: usize) -> &mut [u8] {
        v.resize(n + 2 * PAGE_SIZE, 0);
        let off = v.as_ptr().align_offset(PAGE_SIZE) + skew;
        &mut v[off..off + n]
    }

    #[test]
    fn reads_in_place_into_aligned_buffers() {
        let (f, mut xs) = setup(&[(51712, 4 << 20, 512, Behaviour::Reverse, Some(32))]);
        f.set_no_frames(false);
        let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
        let pool = f.live_grants();
        let disk = pattern(4 << 20, 0);
        // Page-aligned, 512-byte skewed (segments start mid-page), and a 4-sector tail.
        for (skew, lba, n) in [(0usize, 0u64, 3 << 20), (512, 77, (1 << 20) + 2048), (3584, 5000, 4096)] {
            let before = f.own_writes();
            let mut v = Vec::new();
            let buf = at_page_offset(&mut v, n, skew);
            d.read_blocks(Lba(lba), buf).unwrap();
            assert!(buf[..] == disk[lba as usize * 512..][..n], "skew {skew}");
            assert!(f.own_writes() > before, "skew {skew}: read in place");
            assert_eq!(f.live_grants(), pool, "skew {skew}: every grant of our memory ended");
        }
        // 32 segments per request (the backend's offer), 3 MiB page-aligned: 24 requests.
        assert!(f.seen(51712).iter().all(|&(_, n)| n <= 32));
        assert!(d.stats.max_in_flight > 4, "in flight: {}", d.stats.max_in_flight);
        // Not sector-aligned in memory: copied through the data pages.
        let before = f.own_writes();
        let mut v = Vec::new();
        let buf = at_page_offset(&mut v, 64 << 10, 100);
        d.read_blocks(Lba(9), buf).unwrap();
        assert!(buf[..] == disk[9 * 512..][..64 << 10]);
        assert_eq!(f.own_writes(), before);
    }

    #[test]
    fn in_place_on_4096_byte_sectors_only_page_aligned() {
        let (f, mut xs) = setup(&[(51712, 1 << 20, 4096, Behaviour::Normal, Some(32))]);
        f.set_no_frames(false);
        let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
        let disk = pattern(1 << 20, 0);
        for (skew, in_place) in [(0usize, true), (512, false)] {
            let before = f.own_writes();
            let mut v = Vec::new();
            let buf = at_page_offset(&mut v, 64 << 10, skew);
            d.read_blocks(Lba(3), buf).unwrap();
            assert!(buf[..] == disk[3 * 4096..][..64 << 10], "skew {skew}");
            assert_eq!(f.own_writes() > before, in_place, "skew {skew}");
        }
    }

    #[test]
    fn grants_of_our_memory_end_when_a_read_fails() {
        for beh in [Behaviour::Silent, Behaviour::BadId, Behaviour::ErrorAt(300)] {
            let (f, mut xs) = setup(&[(51712, 1 << 20, 512, beh, Some(32))]);
            f.set_no_frames(false);
            let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
            let pool = f.live_grants();
            let mut v = Vec::new();
            let buf = at_page_offset(&mut v, 512 << 10, 0);
            assert!(d.read_blocks(Lba(0), buf).is_err(), "{beh:?}");
            assert_eq!(f.live_grants(), pool, "{beh:?}: no grant of the returned buffer outlives the read");
        }
    }

    fn read_all(d: &mut Blkfront<Fake>, chunk: usize) -> Vec<u8> {
        let total = usize::try_from(d.num_blocks()).unwrap() * d.block_size() as usize;
        let mut out = vec![0u8; total];
        let bs = d.block_size() as usize;
        for (i, c) in out.chunks_mut(chunk).enumerate() {
            d.read_blocks(Lba((i * chunk / bs) as u64), c).unwrap();
        }
        out
    }

    #[test]
    fn disks_in_numeric_order_with_names() {
        let (_f, mut xs) = setup(&[
            (51728, 1 << 20, 512, Behaviour::Normal, None),
            (51712, 1 << 20, 512, Behaviour::Normal, None),
            (268439552, 1 << 16, 512, Behaviour::Normal, None),
        ]);
        let disks = connect_all(&mut xs, Config::default()).unwrap();
        let names: Vec<_> = disks.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["xvda", "xvdb", "xvdq"]);
        assert_eq!(vbd_name(768), "hda");
        assert_eq!(vbd_name(2049), "sda1");
        assert_eq!(vbd_name((1 << 28) | (27 << 8)), "xvdab");
        let d = disks[0].dev.as_ref().unwrap();
        assert_eq!(d.backend_path(), "/local/domain/0/backend/vbd/7/51712");
        assert_eq!((d.block_size(), d.num_blocks()), (512, 2048));
    }

    #[test]
    fn large_read_uses_few_direct_requests_in_flight() {
        let (f, mut xs) = setup(&[(51712, 3 << 20, 512, Behaviour::Normal, None)]);
        let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
        let all = read_all(&mut d, 3 << 20);
        assert!(all == pattern(3 << 20, 0), "data differs from the disk");
        // 3 MiB / 44 KiB per request.
        assert_eq!(d.stats.requests, (3u64 << 20).div_ceil(11 * 4096));
        assert!(d.stats.max_in_flight > 1);
        assert!(f.seen(51712).iter().all(|&(ind, n)| !ind && n <= 11));
    }

    #[test]
    fn indirect_requests_when_offered() {
        let (f, mut xs) = setup(&[(51712, 2 << 20, 512, Behaviour::Normal, Some(32))]);
        let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
        assert_eq!(d.indirect_segments(), 32);
        let all = read_all(&mut d, 2 << 20);
        assert!(all == pattern(2 << 20, 0));
        assert_eq!(d.stats.requests, 16);
        assert!(f.seen(51712).iter().all(|&(ind, n)| ind && n == 32));
        // Unaligned tail: 7 sectors at an odd place, through a 1-segment direct request.
        let mut b = vec![0u8; 7 * 512];
        d.read_blocks(Lba(1001), &mut b).unwrap();
        assert!(b[..] == pattern(2 << 20, 0)[1001 * 512..1008 * 512]);
    }

    #[test]
    fn vectored_reads_keep_several_runs_in_flight() {
        let (f, mut xs) = setup(&[(51712, 4 << 20, 512, Behaviour::Reverse, Some(64))]);
        let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
        let disk = pattern(4 << 20, 0);
        // Runs of a fragmented file: odd places and sizes, each fitting one request.
        let runs = [(7u64, 3 * 512), (100, 64 << 10), (1000, 256 << 10), (5000, 512), (4001, 200 << 10)];
        let mut bufs: Vec<Vec<u8>> = runs.iter().map(|&(_, n)| vec![0u8; n]).collect();
        let mut reqs: Vec<(Lba, &mut [u8])> =
            runs.iter().zip(bufs.iter_mut()).map(|(&(s, _), b)| (Lba(s), b.as_mut_slice())).collect();
        d.read_blocks_vectored(&mut reqs).unwrap();
        for (&(s, n), b) in runs.iter().zip(&bufs) {
            assert!(b[..] == disk[s as usize * 512..][..n], "run at sector {s}");
        }
        // One request per run, all in flight together (one after the other would be 1).
        assert_eq!(d.stats.requests, 5);
        assert_eq!(d.stats.max_in_flight, 5);
        assert!(f.seen(51712).iter().all(|&(_, n)| n <= 64));
        // A run past the end fails the whole call before anything is sent.
        let mut b = [0u8; 1024];
        let before = d.stats.requests;
        assert_eq!(d.read_blocks_vectored(&mut [(Lba(8191), &mut b[..])]), Err(IoError::OutOfRange));
        assert_eq!(d.stats.requests, before);
    }

    #[test]
    fn small_sequential_reads_are_read_ahead() {
        let (_f, mut xs) = setup(&[(51712, 4 << 20, 512, Behaviour::ErrorAt(8000), Some(64))]);
        let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
        let disk = pattern(4 << 20, 0);
        // 1 KiB at a time over 2 MiB: one (indirect) request per 256 KiB window (+1 for the first read,
        // which is not yet known to be sequential).
        let mut b = [0u8; 1024];
        for s in (100..4196).step_by(2) {
            d.read_blocks(Lba(s), &mut b).unwrap();
            assert!(b[..] == disk[s as usize * 512..][..1024]);
        }
        assert_eq!(d.stats.requests, 1 + 2 * 2048 * 512 / (256 << 10));
        // Random small reads do not trigger it.
        let before = d.stats.requests;
        for s in [7000u64, 50, 3000, 10] {
            d.read_blocks(Lba(s), &mut b).unwrap();
            assert!(b[..] == disk[s as usize * 512..][..1024]);
        }
        assert_eq!(d.stats.requests - before, 4);
        // A window reaching a bad sector falls back to the plain read.
        d.read_blocks(Lba(7700), &mut b).unwrap();
        d.read_blocks(Lba(7702), &mut b).unwrap();
        assert!(b[..] == disk[7702 * 512..][..1024]);
        assert_eq!(d.read_blocks(Lba(7999), &mut b), Err(IoError::Device));
    }

    #[test]
    fn sector_size_4096() {
        let (_f, mut xs) = setup(&[(51712, 1 << 20, 4096, Behaviour::Normal, None)]);
        let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
        assert_eq!((d.block_size(), d.num_blocks()), (4096, 256));
        let mut b = vec![0u8; 4096 * 3];
        d.read_blocks(Lba(100), &mut b).unwrap();
        assert!(b[..] == pattern(1 << 20, 0)[100 * 4096..103 * 4096]);
        assert_eq!(d.read_blocks(Lba(0), &mut [0u8; 512]), Err(IoError::Misaligned));
        assert_eq!(d.read_blocks(Lba(255), &mut b), Err(IoError::OutOfRange));
    }

    #[test]
    fn out_of_order_responses_and_ring_wraparound() {
        let (_f, mut xs) = setup(&[(51712, 4 << 20, 512, Behaviour::Reverse, None)]);
        let mut d = Blkfront::connect(&mut xs, 51712, Config { data_pages: 256, ..Config::default() }).unwrap();
        let all = read_all(&mut d, 4 << 20);
        assert!(all == pattern(4 << 20, 0));
        // Many single-sector reads: the 32-slot ring wraps many times.
        for s in (0..8192).step_by(37) {
            let mut b = [0u8; 512];
            d.read_blocks(Lba(s), &mut b).unwrap();
            assert!(b[..] == pattern(4 << 20, 0)[s as usize * 512..][..512]);
        }
        assert!(d.stats.requests > 300);
    }

    #[test]
    fn device_error_fails_that_read_only() {
        let (_f, mut xs) = setup(&[(51712, 1 << 20, 512, Behaviour::ErrorAt(300), None)]);
        let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
        let mut b = vec![0u8; 256 << 10];
        assert_eq!(d.read_blocks(Lba(0), &mut b), Err(IoError::Device));
        d.read_blocks(Lba(1024), &mut b).unwrap();
        assert!(b[..] == pattern(1 << 20, 0)[1024 * 512..][..256 << 10]);
    }

    #[test]
    fn protocol_violations_fence_the_device() {
        for beh in [Behaviour::BadId, Behaviour::Overflow] {
            let (_f, mut xs) = setup(&[(51712, 1 << 20, 512, beh, None)]);
            let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
            let mut b = vec![0u8; 4096];
            assert_eq!(d.read_blocks(Lba(0), &mut b), Err(IoError::Device), "{beh:?}");
            assert_eq!(d.read_blocks(Lba(8), &mut b), Err(IoError::Device), "{beh:?} stays fenced");
        }
    }

    #[test]
    fn silent_backend_times_out() {
        let (_f, mut xs) = setup(&[(51712, 1 << 20, 512, Behaviour::Silent, None)]);
        let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
        assert_eq!(d.read_blocks(Lba(0), &mut [0u8; 512]), Err(IoError::Timeout));
    }

    #[test]
    fn disks_connect_and_close_together() {
        // Round trips to xenstored for `n` disks: connect, then close.
        fn round_trips(n: u32) -> (u64, u64) {
            let disks: Vec<_> =
                (0..n).map(|i| (51712 + 16 * i, 1usize << 20, 512, Behaviour::Normal, Some(32))).collect();
            let (f, mut xs) = setup(&disks);
            let r0 = xs.stats.round_trips;
            let devs: Vec<Blkfront<Fake>> =
                connect_all(&mut xs, Config::default()).unwrap().into_iter().map(|d| d.dev.unwrap()).collect();
            let r1 = xs.stats.round_trips;
            for i in 0..n {
                assert_eq!(f.get(&format!("device/vbd/{}/state", 51712 + 16 * i)).as_deref(), Some("4"));
            }
            let grants = f.live_grants();
            let closing = begin_close(&mut xs, devs);
            // Closing was said for every disk at once, and each gave back its data pages at
            // once: only the rings stay granted until the backends have closed.
            for i in 0..n {
                assert_eq!(f.get(&format!("device/vbd/{}/state", 51712 + 16 * i)).as_deref(), Some("5"));
            }
            assert!(grants > f.live_grants() && f.live_grants() == n as usize, "{grants} {}", f.live_grants());
            let r2 = xs.stats.round_trips;
            assert!(closing.finish(&mut xs).iter().all(Result::is_ok));
            for i in 0..n {
                let id = 51712 + 16 * i;
                assert_eq!(f.get(&format!("device/vbd/{id}/state")).as_deref(), Some("1"));
                assert_eq!(f.get(&format!("/local/domain/0/backend/vbd/7/{id}/state")).as_deref(), Some("2"));
                assert_eq!(f.get(&format!("device/vbd/{id}/ring-ref")), None);
            }
            assert_eq!((f.live_grants(), f.live_ports()), (0, 0));
            (r1 - r0, xs.stats.round_trips - r2 + 1)
        }
        let one = round_trips(1);
        // Every step is one request group for all disks: three cost what one does.
        assert_eq!(round_trips(3), one);
        // Connect: the vbd list, the backends' paths, watch + state + features, publish, state +
        // geometry, Connected. Close: Closing, the state, Closed, the state, ring nodes +
        // Initialising, the state, unwatch.
        assert_eq!(one, (6, 7));
    }

    #[test]
    fn failing_backends_are_reported_and_others_work() {
        let (f, mut xs) = setup(&[
            (51712, 1 << 20, 512, Behaviour::NeverConnect, None),
            (51728, 1 << 20, 512, Behaviour::FailConnect, None),
            (51744, 1 << 20, 512, Behaviour::Normal, None),
        ]);
        let mut disks = connect_all(&mut xs, Config::default()).unwrap();
        let e = disks[0].dev.as_ref().unwrap_err();
        assert_eq!(e.path, "device/vbd/51712");
        assert_eq!(e.kind, BlkErrorKind::Timeout { want: state::INIT_WAIT, last: 1 });
        let msg = e.to_string();
        assert!(msg.contains("device/vbd/51712") && msg.contains("/local/domain/0/backend/vbd/7/51712"), "{msg}");
        assert_eq!(disks[1].dev.as_ref().unwrap_err().kind, BlkErrorKind::BackendState(state::CLOSED));
        let mut b = [0u8; 512];
        disks[2].dev.as_mut().unwrap().read_blocks(Lba(3), &mut b).unwrap();
        assert!(b[..] == pattern(1 << 20, (51744u32 & 0xff) as u8)[1536..2048]);
        // The failed disks gave back what they took.
        drop(disks.remove(2));
        assert_eq!(f.live_ports(), 1);
        assert_eq!(f.get("device/vbd/51728/state").as_deref(), Some("1"));
    }

    #[test]
    fn backend_disconnect_fails_reads_and_close_still_completes() {
        let (f, mut xs) = setup(&[(51712, 1 << 20, 512, Behaviour::Normal, None)]);
        let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
        d.read_blocks(Lba(0), &mut [0u8; 512]).unwrap();
        f.disconnect(51712);
        assert_eq!(d.read_blocks(Lba(8), &mut [0u8; 512]), Err(IoError::Timeout));
        // The close walks Closing/Closed/Initialising with a backend that is already Closed;
        // the backend then offers the disk again (InitWait) and nothing of ours is left.
        d.shutdown(&mut xs).unwrap();
        assert_eq!(f.get("/local/domain/0/backend/vbd/7/51712/state").as_deref(), Some("2"));
        assert_eq!(f.get("device/vbd/51712/state").as_deref(), Some("1"));
        assert_eq!((f.live_grants(), f.live_ports()), (0, 0));
    }

    #[test]
    fn clean_close_leaves_disk_for_next_kernel() {
        let (f, mut xs) = setup(&[(51712, 1 << 20, 512, Behaviour::Normal, Some(64))]);
        for _ in 0..2 {
            let mut d = Blkfront::connect(&mut xs, 51712, Config::default()).unwrap();
            assert_eq!(f.get("device/vbd/51712/state").as_deref(), Some("4"));
            let mut b = vec![0u8; 64 << 10];
            d.read_blocks(Lba(0), &mut b).unwrap();
            d.shutdown(&mut xs).unwrap();
            assert_eq!(f.get("device/vbd/51712/state").as_deref(), Some("1"));
            assert_eq!(f.get("/local/domain/0/backend/vbd/7/51712/state").as_deref(), Some("2"));
            assert_eq!(f.get("device/vbd/51712/ring-ref"), None);
            assert_eq!(f.get("device/vbd/51712/event-channel"), None);
            assert_eq!((f.live_grants(), f.live_ports()), (0, 0));
        }
    }
}
