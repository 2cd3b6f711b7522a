//! Reads: requests through the data pages or straight into the caller's memory (the in-place
//! reads, one grant per page and request), several in flight, responses checked, and the
//! read-ahead window for small sequential reads.

use alloc::vec::Vec;
use core::sync::atomic::{fence, Ordering};

use fs::block::check_request;
use fs::{BlockDevice, IoError, Lba};

use super::Blkfront;
use crate::blkif::{self, Request, Response, Segment};
use crate::platform::{Deadline, GrantRef, Platform, PlatformError, SharedPage, MS, PAGE_SIZE};
use crate::ring::RingError;

pub(super) struct Inflight {
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

impl<P: Platform> Blkfront<P> {
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
                    self.end_direct(&grants)?;
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
                // The push failed: the first error is the one reported.
                let _ = self.end_direct(&grants);
                Err(e)
            }
        }
    }

    /// Ends grants of a caller's pages once the backend is done with them. The backend
    /// unmaps before it responds, so this normally succeeds at once; a grant still mapped is
    /// waited for a while. One that stays mapped fences the device and fails the read: the
    /// grant is kept for the close to retry, and if it still cannot end then, the close
    /// reports the page as still granted (the caller refuses the handover).
    fn end_direct(&mut self, grants: &[GrantRef]) -> Result<(), IoError> {
        let mut result = Ok(());
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
                result = Err(IoError::Device);
                if matches!(e, PlatformError::GrantBusy(_)) {
                    log::warn!("{}: backend keeps a page of our memory mapped after its request ({e})", self.front);
                    self.stuck.push(g);
                }
            }
        }
        self.direct_free = self.direct_free.saturating_add(grants.len()).min(self.cfg.direct_pages);
        result
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
            // The read fails already; a grant that stays mapped is kept for the close.
            let _ = self.end_direct(&left);
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
        let ended = if inflight.direct.is_empty() {
            Ok(())
        } else {
            // Read in place: the data is in the caller's pages once their grants end.
            let r = self.end_direct(&inflight.direct);
            fence(Ordering::Acquire);
            r
        };
        let ok = ok && ended.is_ok();
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

    /// The request id of a write or flush: the read path's ids are `gen << 32 | slot` with
    /// `slot` below the ring size, so this one is never theirs.
    const SYNC_ID: u64 = u64::MAX;

    /// Pushes one request (reads are never in flight here: every read waits for its
    /// responses) and waits for its response.
    fn one_request(&mut self, req: &Request, op: u8) -> Result<Response, IoError> {
        if self.ring.outstanding() != 0 || self.ring.push(req).is_err() {
            return Err(IoError::Device);
        }
        self.stats.requests += 1;
        if self.ring.publish() {
            self.plat.notify(self.port).map_err(|_| IoError::Device)?;
        }
        let deadline = Deadline::after(&self.plat, self.cfg.io_timeout_ns);
        loop {
            match self.ring.poll() {
                Ok(Some(rsp)) if rsp.id == Self::SYNC_ID && rsp.operation == op => return Ok(rsp),
                Ok(Some(rsp)) => {
                    log::warn!("{}: response {:#x} op {} to a request never made", self.front, rsp.id, rsp.operation);
                    self.broken = Some(IoError::Device);
                    return Err(IoError::Device);
                }
                Ok(None) => {}
                Err(_) => {
                    self.broken = Some(IoError::Device);
                    return Err(IoError::Device);
                }
            }
            let Some(left) = deadline.remaining(&self.plat) else {
                self.broken = Some(IoError::Timeout);
                return Err(IoError::Timeout);
            };
            self.plat.poll(self.port, left.min(1000 * MS)).map_err(|_| IoError::Device)?;
        }
    }

    /// `BLKIF_OP_WRITE` of `buf` at `lba`: the data is copied into fresh pages, each granted
    /// to the backend read-only and for this request only (it reads them; our data pages,
    /// granted writable for reads, are not used). At most 11 pages.
    fn write_inner(&mut self, lba: Lba, buf: &[u8]) -> Result<(), IoError> {
        if !self.writable {
            return Err(IoError::ReadOnly);
        }
        check_request(self.sector_size, self.sectors, lba, buf.len())?;
        if let Some(e) = self.broken {
            return Err(e);
        }
        if buf.len() > blkif::MAX_SEGMENTS * PAGE_SIZE {
            return Err(IoError::OutOfRange);
        }
        let sector = lba.0.checked_mul(u64::from(self.sector_size) / 512).ok_or(IoError::OutOfRange)?;
        // Reads after this one must see the new bytes.
        self.ra.clear();
        let mut pages = Vec::new();
        let mut grants = Vec::new();
        let mut segs = blkif::heapless_segs::Segs::default();
        let mut result = Ok(());
        for chunk in buf.chunks(PAGE_SIZE) {
            let granted = self.plat.alloc_page().and_then(|p| {
                p.write(0, chunk);
                let g = self.plat.grant(self.backend_id, p.frame(), true);
                pages.push(p);
                g
            });
            match granted {
                Ok(g) => {
                    grants.push(g);
                    let last = u8::try_from(chunk.len() / 512).unwrap_or(8).saturating_sub(1);
                    segs.push(Segment { gref: g.0, first_sect: 0, last_sect: last, pad: 0 });
                }
                Err(_) => {
                    result = Err(IoError::Device);
                    break;
                }
            }
        }
        if result.is_ok() {
            let req = Request::Write { id: Self::SYNC_ID, handle: self.handle, sector, segs };
            result = self.one_request(&req, blkif::OP_WRITE).and_then(|rsp| {
                if rsp.status == blkif::RSP_OKAY {
                    Ok(())
                } else {
                    log::warn!("{}: write at sector {sector} failed with status {}", self.front, rsp.status);
                    Err(IoError::Device)
                }
            });
        }
        // Pages whose grant cannot end stay out of circulation (the backend still maps them).
        let ended = self.end_direct(&grants);
        if ended.is_err() {
            for p in pages {
                self.plat.retire_page(p);
            }
        }
        result.and(ended)
    }

    /// `BLKIF_OP_FLUSH_DISKCACHE` when the backend offers it; nothing otherwise (blkif.h:
    /// without the feature the backend has no cache to flush). A backend that answers
    /// `BLKIF_RSP_EOPNOTSUPP` is taken at its word.
    fn flush_inner(&mut self) -> Result<(), IoError> {
        if !self.flush_cache {
            return Ok(());
        }
        if let Some(e) = self.broken {
            return Err(e);
        }
        let rsp =
            self.one_request(&Request::Flush { id: Self::SYNC_ID, handle: self.handle }, blkif::OP_FLUSH_DISKCACHE)?;
        match rsp.status {
            blkif::RSP_OKAY | blkif::RSP_EOPNOTSUPP => Ok(()),
            s => {
                log::warn!("{}: flush failed with status {s}", self.front);
                Err(IoError::Device)
            }
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
}

impl<P: Platform> Blkfront<P> {
    /// A read of `buf.len()` bytes at `lba`, small ones through the read-ahead window.
    fn read_windowed(&mut self, lba: Lba, buf: &mut [u8]) -> Result<(), IoError> {
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
}

impl<P: Platform> BlockDevice for Blkfront<P> {
    fn block_size(&self) -> u32 {
        self.sector_size
    }
    fn num_blocks(&self) -> u64 {
        self.sectors
    }
    fn read_blocks(&mut self, lba: Lba, buf: &mut [u8]) -> Result<(), IoError> {
        let r = self.read_windowed(lba, buf);
        self.plat.trace("blkfront: read bytes", buf.len() as u64);
        r
    }
    fn write_refusal(&self) -> Option<&'static str> {
        (!self.writable).then_some("the disk is attached read-only (its mode is not w)")
    }
    fn write_blocks(&mut self, lba: Lba, buf: &[u8]) -> Result<(), IoError> {
        self.write_inner(lba, buf)
    }
    fn flush(&mut self) -> Result<(), IoError> {
        self.flush_inner()
    }
    fn read_blocks_vectored(&mut self, reqs: &mut [(Lba, &mut [u8])]) -> Result<(), IoError> {
        if let Some(&(lba, ref buf)) = reqs.last() {
            let count = check_request(self.sector_size, self.sectors, lba, buf.len())?;
            self.last_end = lba.0.saturating_add(count);
        }
        let r = self.read_parts(reqs);
        self.plat.trace("blkfront: read bytes", reqs.iter().map(|r| r.1.len() as u64).sum());
        r
    }
}
