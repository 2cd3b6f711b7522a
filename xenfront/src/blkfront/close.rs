//! The clean close that leaves each disk ready for the next kernel: [`begin_close`] right after
//! the last read (data pages back, Closing said), optionally [`Closing::advance`] (Closed said
//! once the backends are Closing, so that their teardown runs while the caller works),
//! [`Closing::finish`] as late as possible (Closed, Initialising, the ring's grant ended).

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::xenbus::{token, wait_states, StateWait};
use super::{state, BlkError, BlkErrorKind, Blkfront, Config};
use crate::platform::{GrantRef, Platform, PlatformError, Port, MS};
use crate::xenstore::{Op, Xenstore, XsError};

impl<P: Platform> Blkfront<P> {
    /// Clean close of this disk alone: [`begin_close`], then [`Closing::finish`].
    ///
    /// # Errors
    /// The first failure; the close still runs to the end.
    pub fn shutdown(self, xs: &mut Xenstore<P>) -> Result<(), BlkError> {
        begin_close(xs, alloc::vec![self]).finish(xs).disks.pop().unwrap_or(Ok(()))
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
                Ok(()) => plat.retire_page(p.page),
                Err(e) => {
                    self.keep_granted(p.page);
                    result = Err(BlkErrorKind::Platform(e));
                }
            }
        }
        result
    }

    /// Keeps a page whose grant could not end out of the heap (the backend may still write
    /// it) and counts it: such a page must not become the next kernel's memory either.
    fn keep_granted(&mut self, page: P::Page) {
        self.plat.retire_page(page);
        self.still_granted = self.still_granted.saturating_add(1);
    }

    /// Ends the ring's grant and closes the port, once the backend has closed (unmapped it).
    fn release_ring(mut self) -> (Result<(), BlkErrorKind>, usize) {
        let plat = self.plat.clone();
        let mut result = Ok(());
        // Callers' pages the backend kept mapped after their requests: it has closed now.
        for g in core::mem::take(&mut self.stuck) {
            if let Err(e) = end_grant_waiting(&plat, self.port, g) {
                self.still_granted = self.still_granted.saturating_add(1);
                result = Err(BlkErrorKind::Platform(e));
            }
        }
        for p in core::mem::take(&mut self.pages).into_iter().chain(core::mem::take(&mut self.indirect)) {
            // Only when release_pools did not run: its pages are gone.
            if plat.end_grant(p.gref).is_err() {
                self.keep_granted(p.page);
            } else if self.broken.is_some() {
                plat.retire_page(p.page);
            }
        }
        match end_grant_waiting(&plat, self.port, self.ring_gref) {
            Ok(()) => drop(self.ring),
            Err(e) => {
                plat.retire_page(self.ring.into_page());
                self.still_granted = self.still_granted.saturating_add(1);
                result = Err(BlkErrorKind::Platform(e));
            }
        }
        if let Err(e) = plat.close_port(self.port) {
            result = Err(BlkErrorKind::Platform(e));
        }
        (result, self.still_granted)
    }
}

/// Ends a grant, retrying for up to half a second while the backend still maps the page.
pub(super) fn end_grant_waiting<P: Platform>(plat: &P, port: Port, gref: GrantRef) -> Result<(), PlatformError> {
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
    /// [`Closing::advance`] ran: the backends were Closing and we said Closed.
    said_closed: bool,
}

impl<P: Platform> fmt::Debug for Closing<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Closing").field("devs", &self.devs).field("errors", &self.errors).finish()
    }
}

/// Begins the clean close (docs/xen-pv-abi.md §10.6) of every disk of `devs`, to be called as soon
/// as the last read is done: the data pages go back to the heap at once, and every frontend
/// says Closing in one request group, without waiting for the backends.
pub fn begin_close<P: Platform>(xs: &mut Xenstore<P>, mut devs: Vec<Blkfront<P>>) -> Closing<P> {
    let mut errors: Vec<Option<BlkErrorKind>> = devs.iter().map(|_| None).collect();
    for (d, e) in devs.iter_mut().zip(errors.iter_mut()) {
        if let Err(k) = d.release_pools() {
            e.get_or_insert(k);
        }
    }
    let mut c = Closing { devs, errors, said_closed: false };
    c.say(xs, state::CLOSING);
    xs.platform().trace("close: frontends Closing", c.devs.len() as u64);
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

    /// The close's next step, for a caller with work left before [`Closing::finish`]: waits
    /// for every backend to say Closing (one dom0 round trip), then says Closed, so that the
    /// backends' teardown (unmapping the ring, stopping their threads: the longest step of
    /// the close) runs while the caller works. Runs once; `finish` runs it if nobody did.
    pub fn advance(&mut self, xs: &mut Xenstore<P>) {
        if self.said_closed {
            return;
        }
        self.said_closed = true;
        self.wait(xs, state::CLOSING, true, &|s| s >= state::CLOSING);
        xs.platform().trace("close: backends Closing", self.devs.len() as u64);
        self.say(xs, state::CLOSED);
    }

    /// Completes the close: waits for each backend to say Closing, says Closed, waits for
    /// Closed, withdraws our ring nodes and says Initialising, waits for InitWait (the backend
    /// offers the disk again, so the next kernel finds it as a fresh domain would), then
    /// drops our watches, ends the ring grants and closes the ports. Each step is one request
    /// group for all disks. Returns each disk's outcome, in order (the first failure, the
    /// close having run to the end anyway), and how many of our pages are still granted.
    pub fn finish(mut self, xs: &mut Xenstore<P>) -> Closed {
        let (plat, n) = (xs.platform().clone(), self.devs.len() as u64);
        self.advance(xs);
        self.wait(xs, state::CLOSED, false, &|s| s >= state::CLOSED);
        plat.trace("close: backends Closed", n);
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
        plat.trace("close: backends InitWait again", n);
        let ops: Vec<Op<'_>> = nodes.iter().map(|[.., sp, tok]| Op::Unwatch(sp, tok)).collect();
        let res = xs.batch(&ops);
        self.note_replies(res, 1);
        plat.trace("close: unwatched", n);
        let mut still_granted = 0usize;
        let disks = self
            .devs
            .into_iter()
            .zip(self.errors)
            .map(|(d, e)| {
                let (path, backend) = (d.front.clone(), Some(d.backend.clone()));
                // The ring goes in any case; an earlier failure is the one reported.
                let (released, kept) = d.release_ring();
                still_granted = still_granted.saturating_add(kept);
                match e.or(released.err()) {
                    None => Ok(()),
                    Some(kind) => Err(BlkError { path, backend, kind }),
                }
            })
            .collect();
        Closed { disks, still_granted }
    }
}

/// The outcome of [`Closing::finish`].
#[derive(Debug)]
#[must_use = "pages still granted must keep the caller from handing the memory over"]
pub struct Closed {
    /// Each disk's close, in order: the first failure, the close having run to the end.
    pub disks: Vec<Result<(), BlkError>>,
    /// Pages whose grant to a backend could not be ended (the backend keeps them mapped):
    /// they were kept out of rpvboot's heap, but another domain may still write them, so they
    /// must not be handed to the next kernel as memory. Nonzero: refuse the handover.
    pub still_granted: usize,
}
