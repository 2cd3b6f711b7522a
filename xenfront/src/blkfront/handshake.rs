//! The blkfront handshake: the xenbus state walk (InitWait → Initialised → Connected) with
//! every backend at once, the ring, event channel and the data pages granted at connect.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::xenbus::{reply_num, reply_text, token, wait_states, StateWait};
use super::{list_vbds, state, vbd_name, BlkError, BlkErrorKind, Blkfront, Config, DataPage, Stats};
use crate::blkif::{self, Blkif};
use crate::platform::{DomId, GrantRef, Platform, PlatformError, Port, SharedPage};
use crate::ring::FrontRing;
use crate::xenstore::{Op, Xenstore, XsError};

/// Resources built up during connect, released on failure.
pub(super) struct Partial<P: Platform> {
    ring: Option<(FrontRing<P::Page, Blkif>, GrantRef)>,
    port: Option<Port>,
    pages: Vec<DataPage<P::Page>>,
}

impl<P: Platform> Partial<P> {
    fn release(self, plat: &P) {
        for p in self.pages {
            // A page whose grant cannot end is leaked: the backend may still write it.
            if plat.end_grant(p.gref).is_err() {
                plat.retire_page(p.page);
            }
        }
        if let Some((ring, gref)) = self.ring {
            if plat.end_grant(gref).is_err() {
                plat.retire_page(ring.into_page());
            }
        }
        if let Some(port) = self.port {
            let _ = plat.close_port(port);
        }
    }
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
    /// The toolstack's `mode` is `w` (a disk attached `r` takes no writes).
    writable: bool,
    /// The backend offers `feature-flush-cache`.
    flush: bool,
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

/// The xenbus handshake (docs/xen-pv-abi.md §10.5) with every vbd of `ids` at once: each step
/// is one request group for all disks, and every backend connects while the others do, so `n`
/// disks cost about what one does. The frontends are published before the data pages are
/// granted, so that this work overlaps the backends' own connect. A disk that fails drops
/// out (its nodes withdrawn, its resources released) without stopping the others.
fn connect_many<P: Platform>(xs: &mut Xenstore<P>, ids: &[u32], cfg: Config) -> Vec<Result<Blkfront<P>, BlkError>> {
    let plat = xs.platform().clone();
    let mut hs: Vec<Handshake<P>> = ids.iter().map(|&id| Handshake::new(id)).collect();
    let n = hs.len() as u64;
    find_backends(xs, &mut hs);
    plat.trace("blkfront: backends found", n);
    wait_init_wait(xs, &mut hs, &cfg);
    plat.trace("blkfront: backends InitWait", n);
    publish_rings(xs, &plat, &mut hs);
    plat.trace("blkfront: rings published", n);
    grant_data_pages(&plat, &mut hs, &cfg);
    plat.trace("blkfront: data pages granted", n);
    wait_connected(xs, &mut hs, &cfg);
    plat.trace("blkfront: backends Connected", n);
    say_connected(xs, &mut hs);
    withdraw_failed(xs, &hs);
    let done = hs.into_iter().map(|h| h.finish(&plat, cfg)).collect();
    plat.trace("blkfront: connected", n);
    done
}

impl<P: Platform> Handshake<P> {
    fn new(id: u32) -> Self {
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
            writable: false,
            flush: false,
            failed: None,
        }
    }

    /// The connected device, or the error with everything this disk took given back.
    fn finish(self, plat: &P, cfg: Config) -> Result<Blkfront<P>, BlkError> {
        let backend = (!self.backend.is_empty()).then(|| self.backend.clone());
        if let Some(kind) = self.failed {
            let mut partial = self.partial;
            partial.pages.extend(self.indirect);
            partial.release(plat);
            return Err(BlkError { path: self.front, backend, kind });
        }
        Blkfront::assemble(plat.clone(), cfg, self).map_err(|(front, kind)| BlkError { path: front, backend, kind })
    }

    /// The backend's geometry from the replies read with its Connected state; then whether
    /// it takes writes (the toolstack's `mode`: `w`; anything else or missing: read-only) and
    /// offers `feature-flush-cache` (blkif.h: `1`).
    fn geometry(&mut self, extra: Vec<Result<Vec<u8>, XsError>>) -> Result<(u32, u64), BlkErrorKind> {
        let mut extra = extra.into_iter();
        let geometry = self.sectors(&mut extra)?;
        self.writable = matches!(extra.next(), Some(Ok(m)) if m.strip_suffix(b"\0").unwrap_or(&m) == b"w");
        self.flush = matches!(extra.next(), Some(Ok(f)) if f.strip_suffix(b"\0").unwrap_or(&f) == b"1");
        Ok(geometry)
    }

    fn sectors(&self, extra: &mut impl Iterator<Item = Result<Vec<u8>, XsError>>) -> Result<(u32, u64), BlkErrorKind> {
        let ss_path = format!("{}/sector-size", self.backend);
        let sector_size: u32 = match reply_num(&ss_path, extra.next().unwrap_or(Err(XsError::TooLong))) {
            Ok(s) => s,
            Err(e) if e.is_not_found() => 512,
            Err(e) => return Err(BlkErrorKind::Xenstore(e)),
        };
        if !sector_size.is_power_of_two() || !(512..=4096).contains(&sector_size) {
            return Err(BlkErrorKind::SectorSize(sector_size));
        }
        let n_path = format!("{}/sectors", self.backend);
        let sectors: u64 =
            reply_num(&n_path, extra.next().unwrap_or(Err(XsError::TooLong))).map_err(BlkErrorKind::Xenstore)?;
        if sectors == 0 || sectors.checked_mul(u64::from(sector_size)).is_none() {
            return Err(BlkErrorKind::Sectors(sectors));
        }
        Ok((sector_size, sectors))
    }
}

/// The disks still in the handshake.
fn live<P: Platform>(hs: &mut [Handshake<P>]) -> impl Iterator<Item = &mut Handshake<P>> {
    hs.iter_mut().filter(|h| h.live())
}

/// Step 1: where each backend is (`backend`, `backend-id`), one group for all disks.
fn find_backends<P: Platform>(xs: &mut Xenstore<P>, hs: &mut [Handshake<P>]) {
    let paths: Vec<[String; 2]> =
        hs.iter().map(|h| [format!("{}/backend", h.front), format!("{}/backend-id", h.front)]).collect();
    let ops: Vec<Op<'_>> = paths.iter().flat_map(|[b, i]| [Op::Read(b), Op::Read(i)]).collect();
    let replies = match xs.batch(&ops) {
        Ok(r) => r,
        Err(e) => return hs.iter_mut().for_each(|h| h.fail(BlkErrorKind::Xenstore(e.clone()))),
    };
    let mut replies = replies.into_iter();
    for (h, [bp, ip]) in hs.iter_mut().zip(&paths) {
        let b = reply_text(bp, replies.next().unwrap_or(Err(XsError::TooLong)));
        let i = reply_num::<u16>(ip, replies.next().unwrap_or(Err(XsError::TooLong)));
        match (b, i) {
            (Ok(b), i) => {
                h.state_path = format!("{b}/state");
                h.backend = b;
                match i {
                    Ok(i) => h.backend_id = DomId(i),
                    Err(e) => h.fail(BlkErrorKind::Xenstore(e)),
                }
            }
            (Err(e), _) => h.fail(BlkErrorKind::Xenstore(e)),
        }
    }
}

/// Step 2: watch each backend's state; it publishes its features in InitWait (or skips to
/// later states). The indirect offer is read in the same group as the state.
fn wait_init_wait<P: Platform>(xs: &mut Xenstore<P>, hs: &mut [Handshake<P>], cfg: &Config) {
    let waits: Vec<StateWait<'_>> = hs
        .iter()
        .filter(|h| h.live())
        .map(|h| StateWait {
            state_path: &h.state_path,
            token: &h.token,
            watch: true,
            extra: alloc::vec![format!("{}/feature-max-indirect-segments", h.backend)],
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
    for (h, r) in live(hs).zip(reached) {
        match r {
            Ok((_, extra)) => {
                let path = format!("{}/feature-max-indirect-segments", h.backend);
                h.offered = match reply_num::<u32>(&path, extra.into_iter().next().unwrap_or(Err(XsError::TooLong))) {
                    Ok(n) => n,
                    Err(e) if e.is_not_found() => 0,
                    Err(XsError::Parse { .. }) => 0,
                    Err(e) => {
                        h.fail(BlkErrorKind::Xenstore(e));
                        0
                    }
                };
            }
            Err(k) => h.fail(k),
        }
    }
}

/// Step 3: ring page, grant, event channel; then every frontend is published in one group
/// (state last: a backend acts on Initialised and then finds the rest written).
fn publish_rings<P: Platform>(xs: &mut Xenstore<P>, plat: &P, hs: &mut [Handshake<P>]) {
    for h in live(hs) {
        let ring = plat.alloc_page().and_then(|page| {
            let gref = plat.grant(h.backend_id, page.frame(), false)?;
            Ok((FrontRing::<P::Page, Blkif>::new(page), gref))
        });
        match ring {
            Ok(r) => h.partial.ring = Some(r),
            Err(e) => {
                h.fail(BlkErrorKind::Platform(e));
                continue;
            }
        }
        match plat.alloc_unbound(h.backend_id) {
            Ok(p) => h.partial.port = Some(p),
            Err(e) => h.fail(BlkErrorKind::Platform(e)),
        }
    }
    let nodes: Vec<[(String, String); 4]> = hs
        .iter()
        .filter(|h| h.live())
        .map(|h| {
            let (gref, port) = (h.partial.ring.as_ref().map_or(0, |r| r.1 .0), h.partial.port.map_or(0, |p| p.0));
            let f = &h.front;
            [
                (format!("{f}/ring-ref"), format!("{gref}")),
                (format!("{f}/event-channel"), format!("{port}")),
                (format!("{f}/protocol"), String::from("x86_64-abi")),
                (format!("{f}/state"), format!("{}", state::INITIALISED)),
            ]
        })
        .collect();
    let ops: Vec<Op<'_>> = nodes.iter().flat_map(|w| w.iter().map(|(p, v)| Op::Write(p, v))).collect();
    let res = xs.batch(&ops);
    note_replies(hs, res, 4);
}

/// Records the first failure of each live disk from its `per` replies of one group.
fn note_replies<P: Platform>(hs: &mut [Handshake<P>], res: Result<Vec<Result<Vec<u8>, XsError>>, XsError>, per: usize) {
    let mut replies = match res {
        Ok(r) => r.into_iter(),
        Err(e) => return live(hs).for_each(|h| h.fail(BlkErrorKind::Xenstore(e.clone()))),
    };
    for h in live(hs) {
        let r: Result<(), XsError> =
            (0..per).try_for_each(|_| replies.next().unwrap_or(Err(XsError::TooLong)).map(drop));
        if let Err(e) = r {
            h.fail(BlkErrorKind::Xenstore(e));
        }
    }
}

/// Step 4: the data pages, granted once for the life of the connection, while the backends
/// connect.
fn grant_data_pages<P: Platform>(plat: &P, hs: &mut [Handshake<P>], cfg: &Config) {
    for h in live(hs) {
        let (bid, segs) = (h.backend_id, indirect_segments(cfg, h.offered));
        match grant_pools(plat, bid, cfg, segs) {
            Ok((pages, indirect)) => {
                h.partial.pages = pages;
                h.indirect = indirect;
            }
            Err((pages, e)) => {
                h.partial.pages = pages;
                h.fail(BlkErrorKind::Platform(e));
            }
        }
    }
}

/// Step 5: backends Connected, with the geometry read in the same group (blkback writes it
/// before it switches state).
fn wait_connected<P: Platform>(xs: &mut Xenstore<P>, hs: &mut [Handshake<P>], cfg: &Config) {
    let waits: Vec<StateWait<'_>> = hs
        .iter()
        .filter(|h| h.live())
        .map(|h| StateWait {
            state_path: &h.state_path,
            token: &h.token,
            watch: false,
            extra: alloc::vec![
                format!("{}/sector-size", h.backend),
                format!("{}/sectors", h.backend),
                format!("{}/mode", h.backend),
                format!("{}/feature-flush-cache", h.backend),
            ],
        })
        .collect();
    let reached =
        wait_states(xs, &waits, state::CONNECTED, cfg.connect_timeout_ns, false, &|s| s == state::CONNECTED, &|s| {
            s >= state::CLOSING
        });
    drop(waits);
    for (h, r) in live(hs).zip(reached) {
        match r.and_then(|(_, extra)| h.geometry(extra)) {
            Ok(g) => h.geometry = g,
            Err(k) => h.fail(k),
        }
    }
}

/// Step 6: Connected, in one group.
fn say_connected<P: Platform>(xs: &mut Xenstore<P>, hs: &mut [Handshake<P>]) {
    let paths: Vec<String> = hs.iter().filter(|h| h.live()).map(|h| format!("{}/state", h.front)).collect();
    let ops: Vec<Op<'_>> = paths.iter().map(|p| Op::Write(p, "4")).collect();
    let res = xs.batch(&ops);
    note_replies(hs, res, 1);
}

/// The failed disks withdraw their nodes (best effort, one group) so that their backends
/// stop looking at rings about to go away.
fn withdraw_failed<P: Platform>(xs: &mut Xenstore<P>, hs: &[Handshake<P>]) {
    let nodes: Vec<[String; 3]> = hs
        .iter()
        .filter(|h| !h.live() && !h.backend.is_empty())
        .map(|h| [format!("{}/ring-ref", h.front), format!("{}/event-channel", h.front), format!("{}/state", h.front)])
        .collect();
    let failed = hs.iter().filter(|h| !h.live() && !h.backend.is_empty());
    let mut ops: Vec<Op<'_>> = Vec::new();
    for (h, [rr, ec, st]) in failed.zip(&nodes) {
        ops.extend([Op::Unwatch(&h.state_path, &h.token), Op::Rm(rr), Op::Rm(ec), Op::Write(st, "1")]);
    }
    if !ops.is_empty() {
        let _ = xs.batch(&ops);
    }
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
    /// Connects vbd `id` (the xenbus handshake of docs/xen-pv-abi.md §10.5); [`connect_all`] does
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
            writable: h.writable,
            flush_cache: h.flush,
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
            stuck: Vec::new(),
            still_granted: 0,
            ra: Vec::new(),
            ra_lba: 0,
            last_end: u64::MAX,
            stats: Stats::default(),
            front: h.front,
        })
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
