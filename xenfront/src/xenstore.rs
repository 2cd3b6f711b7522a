//! Xenstore client over the store ring: `xen/include/public/io/xs_wire.h`,
//! `docs/misc/xenstore-ring.txt`.
//!
//! Replies are untrusted: header lengths are bounded by `XENSTORE_PAYLOAD_MAX`, the ring indices
//! are checked, replies are matched by `req_id` (strays are dropped, watch events queued), and
//! an `XS_ERROR` reply becomes a typed [`XsErrno`]. Every wait has a deadline.

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::num::Wrapping;

use super::platform::{Deadline, Platform, PlatformError, Port, SharedPage, MS};

const REQ_OFF: usize = 0;
const RSP_OFF: usize = 1024;
const RING: u32 = 1024;
const REQ_CONS: usize = 2048;
const REQ_PROD: usize = 2052;
const RSP_CONS: usize = 2056;
const RSP_PROD: usize = 2060;
/// `XENSTORE_PAYLOAD_MAX`.
pub const PAYLOAD_MAX: usize = 4096;
const HEADER: usize = 16;

/// Message types used here (`enum xsd_sockmsg_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum XsOp {
    /// `XS_DIRECTORY`.
    Directory = 1,
    /// `XS_READ`.
    Read = 2,
    /// `XS_WATCH`.
    Watch = 4,
    /// `XS_UNWATCH`.
    Unwatch = 5,
    /// `XS_TRANSACTION_START`.
    TransactionStart = 6,
    /// `XS_TRANSACTION_END`.
    TransactionEnd = 7,
    /// `XS_WRITE`.
    Write = 11,
    /// `XS_RM`.
    Rm = 13,
    /// `XS_WATCH_EVENT`.
    WatchEvent = 15,
    /// `XS_ERROR`.
    Error = 16,
}

/// The errno names xenstored sends back in `XS_ERROR` (`xsd_errors[]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum XsErrno {
    /// No such node.
    Enoent,
    /// Permission denied.
    Eacces,
    /// Transaction conflict: retry.
    Eagain,
    /// Invalid request.
    Einval,
    /// Node exists.
    Eexist,
    /// Quota or space.
    Enospc,
    /// I/O error.
    Eio,
    /// Unsupported operation.
    Enosys,
    /// Read-only.
    Erofs,
    /// Busy.
    Ebusy,
    /// Too big.
    E2big,
    /// Not permitted.
    Eperm,
    /// Quota exceeded.
    Equota,
    /// Anything else.
    Other,
}

impl XsErrno {
    fn from_name(name: &[u8]) -> Self {
        match name {
            b"ENOENT" => Self::Enoent,
            b"EACCES" => Self::Eacces,
            b"EAGAIN" => Self::Eagain,
            b"EINVAL" => Self::Einval,
            b"EEXIST" => Self::Eexist,
            b"ENOSPC" => Self::Enospc,
            b"EIO" => Self::Eio,
            b"ENOSYS" => Self::Enosys,
            b"EROFS" => Self::Erofs,
            b"EBUSY" => Self::Ebusy,
            b"E2BIG" => Self::E2big,
            b"EPERM" => Self::Eperm,
            b"EQUOTA" => Self::Equota,
            _ => Self::Other,
        }
    }
}

/// Xenstore failures.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum XsError {
    /// xenstored answered `XS_ERROR` with this errno.
    Errno(XsErrno),
    /// A value is not what the caller asked for (not UTF-8, not a number).
    Parse {
        /// The node.
        path: String,
        /// Its value (cut to 64 bytes).
        value: String,
    },
    /// The ring or a message broke the protocol (index overrun, oversized length); the
    /// connection is unusable afterwards.
    Protocol(&'static str),
    /// A request or its arguments exceed the wire limits.
    TooLong,
    /// No reply in time.
    Timeout,
    /// A transaction kept failing with `EAGAIN`.
    TooManyRetries,
    /// The platform failed (event channel).
    Platform(PlatformError),
}

impl XsError {
    /// True for `ENOENT`.
    pub fn is_not_found(&self) -> bool {
        *self == Self::Errno(XsErrno::Enoent)
    }
}

impl fmt::Display for XsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Errno(e) => write!(f, "xenstore error {e:?}"),
            Self::Parse { path, value } => {
                write!(f, "xenstore node {path}: unexpected value {value:?}")
            }
            Self::Protocol(what) => write!(f, "xenstore protocol error: {what}"),
            Self::TooLong => f.write_str("xenstore request too long"),
            Self::Timeout => f.write_str("xenstore did not answer in time"),
            Self::TooManyRetries => f.write_str("xenstore transaction kept conflicting"),
            Self::Platform(e) => write!(f, "xenstore: {e}"),
        }
    }
}

impl core::error::Error for XsError {}

impl From<PlatformError> for XsError {
    fn from(e: PlatformError) -> Self {
        Self::Platform(e)
    }
}

/// A watch event: the node that changed and the watch's token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchEvent {
    /// The changed path.
    pub path: String,
    /// The token given to [`Xenstore::watch`].
    pub token: String,
}

/// One request of a [`Xenstore::batch`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op<'a> {
    /// `XS_READ` of a path: the reply is the value.
    Read(&'a str),
    /// `XS_WRITE` of a path and value.
    Write(&'a str, &'a str),
    /// `XS_WATCH` of a path with a token (xenstored fires one event at once).
    Watch(&'a str, &'a str),
    /// `XS_UNWATCH` of a path and token (queued events of the token are dropped).
    Unwatch(&'a str, &'a str),
    /// `XS_RM` of a path (recursive).
    Rm(&'a str),
}

impl Op<'_> {
    fn encode(&self) -> Result<(XsOp, Vec<Vec<u8>>), XsError> {
        Ok(match *self {
            Op::Read(p) => (XsOp::Read, alloc::vec![path_arg(p)?]),
            Op::Write(p, v) => (XsOp::Write, alloc::vec![path_arg(p)?, v.as_bytes().to_vec()]),
            Op::Watch(p, t) => (XsOp::Watch, alloc::vec![path_arg(p)?, path_arg(t)?]),
            Op::Unwatch(p, t) => (XsOp::Unwatch, alloc::vec![path_arg(p)?, path_arg(t)?]),
            Op::Rm(p) => (XsOp::Rm, alloc::vec![path_arg(p)?]),
        })
    }
}

/// A path or token as a NUL-terminated argument.
fn path_arg(path: &str) -> Result<Vec<u8>, XsError> {
    if path.len() > 3072 || path.as_bytes().contains(&0) {
        return Err(XsError::TooLong);
    }
    let mut v = Vec::with_capacity(path.len() + 1);
    v.extend_from_slice(path.as_bytes());
    v.push(0);
    Ok(v)
}

/// How long one request may wait for its reply.
const REPLY_TIMEOUT: u64 = 10_000 * MS;
/// Queued watch events kept at most; older ones are dropped (a watch only says "look again").
const MAX_QUEUED_EVENTS: usize = 64;
/// Replies with a foreign `req_id` skipped before giving up on one request.
const MAX_STRAY_REPLIES: usize = 64;
/// Attempts of a transaction that ends in `EAGAIN`.
pub const TRANSACTION_ATTEMPTS: u32 = 8;

/// A connection to xenstored.
pub struct Xenstore<P: Platform> {
    plat: P,
    page: P::Page,
    port: Port,
    next_id: u32,
    /// Queued events, each with the number of replies received before it arrived.
    events: VecDeque<(WatchEvent, u64)>,
    /// Replies received so far (orders events against replies).
    replies: u64,
    broken: bool,
    /// Round trips and time spent in them (start-up profiling, `rpvboot.verbose`).
    pub stats: XsStats,
}

/// What the connection cost so far: each request is a round trip through xenstored in dom0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct XsStats {
    /// Requests answered (or failed).
    pub requests: u64,
    /// Times we waited for xenstored: one per request, one per group of a [`Xenstore::batch`].
    pub round_trips: u64,
    /// Time from sending a request to its reply.
    pub request_ns: u64,
    /// Time in [`Xenstore::wait_event`] (waiting for another domain, e.g. a backend).
    pub event_wait_ns: u64,
}

/// A reply's header fields rpvboot uses (its length is the body's).
struct Header {
    ty: u32,
    req_id: u32,
}

impl<P: Platform> Xenstore<P> {
    /// Connects over the platform's store ring.
    ///
    /// # Errors
    /// The platform cannot map the ring.
    pub fn new(plat: P) -> Result<Self, XsError> {
        let (page, port) = plat.xenstore()?;
        Ok(Self {
            plat,
            page,
            port,
            next_id: 1,
            events: VecDeque::new(),
            replies: 0,
            broken: false,
            stats: XsStats::default(),
        })
    }

    /// The platform handle.
    pub fn platform(&self) -> &P {
        &self.plat
    }

    fn send(&mut self, ty: XsOp, req_id: u32, tx: u32, parts: &[&[u8]]) -> Result<(), XsError> {
        let len = parts.iter().try_fold(0usize, |a, p| a.checked_add(p.len())).ok_or(XsError::TooLong)?;
        if len > PAYLOAD_MAX {
            return Err(XsError::TooLong);
        }
        let mut msg = Vec::with_capacity(HEADER + len);
        msg.extend_from_slice(&(ty as u32).to_le_bytes());
        msg.extend_from_slice(&req_id.to_le_bytes());
        msg.extend_from_slice(&tx.to_le_bytes());
        msg.extend_from_slice(&u32::try_from(len).map_err(|_| XsError::TooLong)?.to_le_bytes());
        for p in parts {
            msg.extend_from_slice(p);
        }
        let deadline = Deadline::after(&self.plat, REPLY_TIMEOUT);
        let mut rest = &msg[..];
        while !rest.is_empty() {
            let cons = Wrapping(self.page.load_u32(REQ_CONS));
            let prod = Wrapping(self.page.load_u32(REQ_PROD));
            let used = (prod - cons).0;
            if used > RING {
                self.broken = true;
                return Err(XsError::Protocol("request ring indices out of range"));
            }
            let free = usize::try_from(RING - used).unwrap_or(0);
            if free == 0 {
                self.wait(&deadline)?;
                continue;
            }
            // Up to the free space and up to the end of the ring buffer.
            let pos = usize::try_from(prod.0 % RING).unwrap_or(0);
            let n = free.min(rest.len()).min(1024 - pos);
            let (chunk, tail) = rest.split_at(n);
            self.page.write(REQ_OFF + pos, chunk);
            // wmb: release store publishes the bytes before the index.
            self.page.store_u32(REQ_PROD, (prod + Wrapping(u32::try_from(n).unwrap_or(0))).0);
            self.plat.notify(self.port)?;
            rest = tail;
        }
        Ok(())
    }

    fn wait(&self, deadline: &Deadline) -> Result<(), XsError> {
        let left = deadline.remaining(&self.plat).ok_or(XsError::Timeout)?;
        self.plat.poll(self.port, left.min(100 * MS))?;
        Ok(())
    }

    /// Reads exactly `buf.len()` bytes from the reply ring, waiting as needed.
    fn recv_exact(&mut self, buf: &mut [u8], deadline: &Deadline) -> Result<(), XsError> {
        let mut got = 0usize;
        while got < buf.len() {
            let prod = Wrapping(self.page.load_u32(RSP_PROD));
            let cons = Wrapping(self.page.load_u32(RSP_CONS));
            let avail = (prod - cons).0;
            if avail > RING {
                self.broken = true;
                return Err(XsError::Protocol("reply ring indices out of range"));
            }
            if avail == 0 {
                self.wait(deadline)?;
                continue;
            }
            let pos = usize::try_from(cons.0 % RING).unwrap_or(0);
            let want = buf.len().saturating_sub(got);
            let n = usize::try_from(avail).unwrap_or(0).min(want).min(1024 - pos);
            let dst = buf.get_mut(got..got.saturating_add(n)).ok_or(XsError::Protocol("reply copy"))?;
            self.page.read(RSP_OFF + pos, dst);
            // mb: our reads of the bytes must complete before we hand the space back.
            self.page.full_fence();
            self.page.store_u32(RSP_CONS, (cons + Wrapping(u32::try_from(n).unwrap_or(0))).0);
            // xenstored waits for room only when the ring was full (it writes what fits); any
            // other notification is a needless dom0 wake-up per reply (Linux's xs_read does
            // the same).
            if avail == RING {
                self.plat.notify(self.port)?;
            }
            got = got.saturating_add(n);
        }
        Ok(())
    }

    fn recv_msg(&mut self, deadline: &Deadline) -> Result<(Header, Vec<u8>), XsError> {
        let mut h = [0u8; HEADER];
        self.recv_exact(&mut h, deadline)?;
        let word = |i: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(h.get(i..i + 4).unwrap_or(&[0; 4]));
            u32::from_le_bytes(w)
        };
        let len = usize::try_from(word(12)).unwrap_or(usize::MAX);
        if len > PAYLOAD_MAX {
            self.broken = true;
            return Err(XsError::Protocol("reply longer than XENSTORE_PAYLOAD_MAX"));
        }
        let mut body = alloc::vec![0u8; len];
        self.recv_exact(&mut body, deadline)?;
        Ok((Header { ty: word(0), req_id: word(4) }, body))
    }

    fn queue_event(&mut self, body: &[u8]) {
        let mut it = body.split(|&b| b == 0);
        let path = it.next().map(|p| String::from_utf8_lossy(p).into_owned());
        let token = it.next().map(|t| String::from_utf8_lossy(t).into_owned());
        if let (Some(path), Some(token)) = (path, token) {
            if self.events.len() >= MAX_QUEUED_EVENTS {
                self.events.pop_front();
            }
            self.events.push_back((WatchEvent { path, token }, self.replies));
        }
    }

    /// Sends one request and returns its reply payload.
    ///
    /// # Errors
    /// [`XsError::Errno`] for an error reply, protocol errors, timeouts.
    pub fn request(&mut self, op: XsOp, tx: u32, parts: &[&[u8]]) -> Result<Vec<u8>, XsError> {
        if self.broken {
            return Err(XsError::Protocol("connection unusable after an earlier protocol error"));
        }
        let t0 = self.plat.now_ns();
        let res = self.request_inner(op, tx, parts);
        self.count_round_trip(1, t0);
        res
    }

    /// One request is a batch of one: the same reply matching, event queueing and checks.
    fn request_inner(&mut self, op: XsOp, tx: u32, parts: &[&[u8]]) -> Result<Vec<u8>, XsError> {
        let mut results = Vec::with_capacity(1);
        self.pipelined(tx, &[(op, parts.to_vec())], &mut results)?;
        results.pop().unwrap_or(Err(XsError::Protocol("no reply")))
    }

    fn read_tx(&mut self, tx: u32, path: &str) -> Result<String, XsError> {
        let body = self.request(XsOp::Read, tx, &[&path_arg(path)?])?;
        String::from_utf8(body).map_err(|e| XsError::Parse { path: path.into(), value: lossy64(e.as_bytes()) })
    }

    fn write_tx(&mut self, tx: u32, path: &str, value: &str) -> Result<(), XsError> {
        self.request(XsOp::Write, tx, &[&path_arg(path)?, value.as_bytes()]).map(drop)
    }

    /// `XS_WRITE`s as one [`Xenstore::batch`]; the first error is returned.
    fn write_many_tx(&mut self, tx: u32, writes: &[(&str, &str)]) -> Result<(), XsError> {
        let ops: Vec<Op<'_>> = writes.iter().map(|&(p, v)| Op::Write(p, v)).collect();
        self.batch_tx(tx, &ops)?.into_iter().try_for_each(|r| r.map(drop))
    }

    /// Sends `ops` back to back and collects their replies: xenstored answers one
    /// connection's requests in order in one wake-up, where one request at a time costs a dom0
    /// round trip each (1–6 ms under TCG). Requests go in groups whose bytes fit in the request
    /// ring at once (a full request ring while replies pile up could stall both sides): one
    /// round trip per group. Each op gets its own result (an `XS_ERROR` reply fails that op
    /// only); the outer error means the connection failed, or an argument is too long (then
    /// nothing was sent).
    ///
    /// # Errors
    /// [`XsError::TooLong`] before sending; protocol errors and timeouts.
    pub fn batch(&mut self, ops: &[Op<'_>]) -> Result<Vec<Result<Vec<u8>, XsError>>, XsError> {
        self.batch_tx(0, ops)
    }

    fn batch_tx(&mut self, tx: u32, ops: &[Op<'_>]) -> Result<Vec<Result<Vec<u8>, XsError>>, XsError> {
        let mut msgs = Vec::with_capacity(ops.len());
        for op in ops {
            msgs.push(op.encode()?);
        }
        if self.broken {
            return Err(XsError::Protocol("connection unusable after an earlier protocol error"));
        }
        for op in ops {
            if let Op::Unwatch(_, token) = op {
                self.events.retain(|(e, _)| e.token != *token);
            }
        }
        let mut results = Vec::with_capacity(msgs.len());
        let mut rest = &msgs[..];
        while !rest.is_empty() {
            // At least one message per group; more while their bytes fit in the ring.
            let mut bytes = 0usize;
            let n = rest
                .iter()
                .take_while(|(_, parts)| {
                    bytes = bytes.saturating_add(HEADER + parts.iter().map(Vec::len).sum::<usize>());
                    bytes <= RING as usize
                })
                .count()
                .max(1);
            let (group, tail) = rest.split_at(n.min(rest.len()));
            rest = tail;
            let group: Vec<(XsOp, Vec<&[u8]>)> =
                group.iter().map(|(op, parts)| (*op, parts.iter().map(Vec::as_slice).collect())).collect();
            let t0 = self.plat.now_ns();
            let res = self.pipelined(tx, &group, &mut results);
            self.count_round_trip(group.len() as u64, t0);
            res?;
        }
        Ok(results)
    }

    /// Statistics for one round trip of `requests` requests that began at `t0`.
    fn count_round_trip(&mut self, requests: u64, t0: u64) {
        self.stats.requests = self.stats.requests.saturating_add(requests);
        self.stats.round_trips = self.stats.round_trips.saturating_add(1);
        self.stats.request_ns = self.stats.request_ns.saturating_add(self.plat.now_ns().saturating_sub(t0));
    }

    /// Sends `msgs` back to back and collects their replies in order into `results` (an
    /// `XS_ERROR` reply is that message's result); watch events that arrive meanwhile are queued.
    fn pipelined(
        &mut self,
        tx: u32,
        msgs: &[(XsOp, Vec<&[u8]>)],
        results: &mut Vec<Result<Vec<u8>, XsError>>,
    ) -> Result<(), XsError> {
        let mut ids = Vec::with_capacity(msgs.len());
        for (op, parts) in msgs {
            let id = self.next_id;
            self.next_id = self.next_id.wrapping_add(1).max(1);
            self.send(*op, id, tx, parts)?;
            ids.push((id, *op));
        }
        let deadline = Deadline::after(&self.plat, REPLY_TIMEOUT);
        let (mut answered, mut strays) = (0usize, 0usize);
        while let Some(&(id, op)) = ids.get(answered) {
            let (h, body) = self.recv_msg(&deadline)?;
            if h.ty == XsOp::WatchEvent as u32 {
                self.queue_event(&body);
                // A ring that never runs dry never makes us wait, so the deadline is checked
                // here too: a stream of events cannot stretch the request past it.
                if deadline.remaining(&self.plat).is_none() {
                    return Err(XsError::Timeout);
                }
                continue;
            }
            // xenstored answers one connection's requests in order.
            if h.req_id != id {
                strays += 1;
                if strays > MAX_STRAY_REPLIES {
                    return Err(XsError::Protocol("too many replies for other requests"));
                }
                continue;
            }
            answered += 1;
            self.replies = self.replies.wrapping_add(1);
            results.push(if h.ty == XsOp::Error as u32 {
                let name = body.split(|&b| b == 0).next().unwrap_or(&[]);
                Err(XsError::Errno(XsErrno::from_name(name)))
            } else if h.ty != op as u32 {
                Err(XsError::Protocol("reply type differs from the request"))
            } else {
                Ok(body)
            });
        }
        Ok(())
    }

    /// `XS_READ`.
    ///
    /// # Errors
    /// [`XsError::Errno`] (`ENOENT` when absent), non-UTF-8 value as [`XsError::Parse`].
    pub fn read(&mut self, path: &str) -> Result<String, XsError> {
        self.read_tx(0, path)
    }

    /// `XS_READ` parsed as a number; absence stays `Errno(Enoent)`, garbage is `Parse`.
    ///
    /// # Errors
    /// As [`Self::read`], plus [`XsError::Parse`].
    pub fn read_parsed<T: core::str::FromStr>(&mut self, path: &str) -> Result<T, XsError> {
        let v = self.read(path)?;
        v.trim_end_matches('\0')
            .trim()
            .parse()
            .map_err(|_| XsError::Parse { path: path.into(), value: lossy64(v.as_bytes()) })
    }

    /// `XS_WRITE`.
    ///
    /// # Errors
    /// Error replies, protocol errors.
    pub fn write(&mut self, path: &str, value: &str) -> Result<(), XsError> {
        self.write_tx(0, path, value)
    }

    /// `XS_RM` (recursive).
    ///
    /// # Errors
    /// Error replies, protocol errors.
    pub fn rm(&mut self, path: &str) -> Result<(), XsError> {
        self.request(XsOp::Rm, 0, &[&path_arg(path)?]).map(drop)
    }

    /// `XS_DIRECTORY`: the child names.
    ///
    /// # Errors
    /// Error replies, protocol errors.
    pub fn directory(&mut self, path: &str) -> Result<Vec<String>, XsError> {
        let body = self.request(XsOp::Directory, 0, &[&path_arg(path)?])?;
        Ok(body.split(|&b| b == 0).filter(|n| !n.is_empty()).map(|n| String::from_utf8_lossy(n).into_owned()).collect())
    }

    /// `XS_WATCH`. xenstored fires one event at once, which lands in the queue.
    ///
    /// # Errors
    /// Error replies, protocol errors.
    pub fn watch(&mut self, path: &str, token: &str) -> Result<(), XsError> {
        self.request(XsOp::Watch, 0, &[&path_arg(path)?, &path_arg(token)?]).map(drop)
    }

    /// `XS_UNWATCH`, and drops queued events of that token.
    ///
    /// # Errors
    /// Error replies, protocol errors.
    pub fn unwatch(&mut self, path: &str, token: &str) -> Result<(), XsError> {
        self.events.retain(|(e, _)| e.token != token);
        self.request(XsOp::Unwatch, 0, &[&path_arg(path)?, &path_arg(token)?]).map(drop)
    }

    /// Replies received so far: a batch's `k`-th reply (from 0) is number `before + k + 1`.
    pub fn replies_received(&self) -> u64 {
        self.replies
    }

    /// Drops the queued events of `token` that arrived before reply number `reply`: the
    /// caller read what they were about with that request, so they say nothing new.
    pub fn forget_events_before(&mut self, token: &str, reply: u64) {
        self.events.retain(|(e, seq)| e.token != token || *seq >= reply);
    }

    /// Returns a queued watch event, or waits up to `timeout_ns` for one.
    ///
    /// # Errors
    /// Protocol errors; an expired wait is `Ok(None)`.
    pub fn wait_event(&mut self, timeout_ns: u64) -> Result<Option<WatchEvent>, XsError> {
        let t0 = self.plat.now_ns();
        let res = self.wait_event_inner(timeout_ns);
        self.stats.event_wait_ns = self.stats.event_wait_ns.saturating_add(self.plat.now_ns().saturating_sub(t0));
        res
    }

    fn wait_event_inner(&mut self, timeout_ns: u64) -> Result<Option<WatchEvent>, XsError> {
        let deadline = Deadline::after(&self.plat, timeout_ns);
        loop {
            if let Some((e, _)) = self.events.pop_front() {
                return Ok(Some(e));
            }
            if self.broken {
                return Err(XsError::Protocol("connection unusable after an earlier protocol error"));
            }
            let prod = Wrapping(self.page.load_u32(RSP_PROD));
            let cons = Wrapping(self.page.load_u32(RSP_CONS));
            if (prod - cons).0 >= HEADER as u32 {
                // Only unsolicited events can be pending here (every request waits for its reply).
                let (h, body) = self.recv_msg(&Deadline::after(&self.plat, REPLY_TIMEOUT))?;
                if h.ty == XsOp::WatchEvent as u32 {
                    self.queue_event(&body);
                }
                continue;
            }
            match deadline.remaining(&self.plat) {
                None => return Ok(None),
                Some(left) => {
                    self.plat.poll(self.port, left.min(100 * MS))?;
                }
            }
        }
    }

    /// Runs `f` inside a transaction, retrying the whole closure when the commit reports
    /// `EAGAIN` (at most [`TRANSACTION_ATTEMPTS`] times). An error from `f` aborts it.
    ///
    /// # Errors
    /// `f`'s error, error replies, [`XsError::TooManyRetries`].
    pub fn transaction<T>(
        &mut self,
        mut f: impl FnMut(&mut Transaction<'_, P>) -> Result<T, XsError>,
    ) -> Result<T, XsError> {
        for _ in 0..TRANSACTION_ATTEMPTS {
            let reply = self.request(XsOp::TransactionStart, 0, &[b"\0"])?;
            let id_text = reply.split(|&b| b == 0).next().unwrap_or(&[]);
            let id: u32 = core::str::from_utf8(id_text)
                .ok()
                .and_then(|s| s.parse().ok())
                .filter(|&id| id != 0)
                .ok_or_else(|| XsError::Parse { path: "transaction id".into(), value: lossy64(id_text) })?;
            let res = f(&mut Transaction { xs: self, id });
            match res {
                Ok(v) => match self.request(XsOp::TransactionEnd, id, &[b"T\0"]) {
                    Ok(_) => return Ok(v),
                    Err(XsError::Errno(XsErrno::Eagain)) => continue,
                    Err(e) => return Err(e),
                },
                Err(e) => {
                    // Abort; its own failure is less interesting than `e`.
                    let _ = self.request(XsOp::TransactionEnd, id, &[b"F\0"]);
                    if e == XsError::Errno(XsErrno::Eagain) {
                        continue;
                    }
                    return Err(e);
                }
            }
        }
        Err(XsError::TooManyRetries)
    }
}

impl<P: Platform> fmt::Debug for Xenstore<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Xenstore").field("port", &self.port).field("broken", &self.broken).finish_non_exhaustive()
    }
}

/// An open transaction (see [`Xenstore::transaction`]).
pub struct Transaction<'a, P: Platform> {
    xs: &'a mut Xenstore<P>,
    id: u32,
}

impl<P: Platform> fmt::Debug for Transaction<'_, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction").field("id", &self.id).finish_non_exhaustive()
    }
}

impl<P: Platform> Transaction<'_, P> {
    /// `XS_READ` inside the transaction.
    ///
    /// # Errors
    /// As [`Xenstore::read`].
    pub fn read(&mut self, path: &str) -> Result<String, XsError> {
        self.xs.read_tx(self.id, path)
    }
    /// `XS_WRITE` inside the transaction.
    ///
    /// # Errors
    /// As [`Xenstore::write`].
    pub fn write(&mut self, path: &str, value: &str) -> Result<(), XsError> {
        self.xs.write_tx(self.id, path, value)
    }
    /// Several `XS_WRITE`s inside the transaction, in order, sent together (one dom0
    /// round trip instead of one each when they fit in the ring).
    ///
    /// # Errors
    /// The first write's error, as [`Xenstore::write`].
    pub fn write_many(&mut self, writes: &[(&str, &str)]) -> Result<(), XsError> {
        self.xs.write_many_tx(self.id, writes)
    }
}

fn lossy64(b: &[u8]) -> String {
    String::from_utf8_lossy(b.get(..64).unwrap_or(b)).into_owned()
}

#[cfg(test)]
mod tests {
    use super::super::fake::Fake;
    use super::*;

    fn xs() -> (Fake, Xenstore<Fake>) {
        let f = Fake::new();
        let xs = Xenstore::new(f.clone()).unwrap();
        (f, xs)
    }

    fn header(ty: u32, req_id: u32, len: u32) -> Vec<u8> {
        [ty, req_id, 0, len].iter().flat_map(|w| w.to_le_bytes()).collect()
    }

    #[test]
    fn read_write_directory_rm() {
        let (f, mut xs) = xs();
        xs.write("data/a", "1").unwrap();
        xs.write("data/b", "x").unwrap();
        assert_eq!(f.get("data/a").as_deref(), Some("1"));
        assert_eq!(xs.read("data/a").unwrap(), "1");
        assert_eq!(xs.directory("data").unwrap(), ["a", "b"]);
        assert_eq!(xs.read_parsed::<u32>("data/a"), Ok(1));
        assert!(matches!(xs.read_parsed::<u32>("data/b"), Err(XsError::Parse { .. })));
        assert!(xs.read_parsed::<u32>("data/none").unwrap_err().is_not_found());
        xs.rm("data").unwrap();
        assert_eq!(xs.read("data/a"), Err(XsError::Errno(XsErrno::Enoent)));
    }

    #[test]
    fn long_values_cross_the_ring_in_pieces() {
        let (f, mut xs) = xs();
        // Replies trickle in 7 bytes at a time, values are larger than the 1 KiB ring.
        f.0.borrow_mut().xs_chunk = 7;
        let long: String = (0..3000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        for i in 0..5 {
            xs.write(&format!("big/{i}"), &long).unwrap();
            assert_eq!(xs.read(&format!("big/{i}")).unwrap(), long);
        }
        assert_eq!(xs.write("big/x", &"y".repeat(5000)), Err(XsError::TooLong));
    }

    #[test]
    fn transaction_retries_eagain_then_gives_up() {
        let (f, mut xs) = xs();
        f.0.borrow_mut().eagain_commits = 3;
        let mut runs = 0;
        xs.transaction(|tx| {
            runs += 1;
            tx.write("t/k", "v")
        })
        .unwrap();
        assert_eq!(runs, 4);
        f.0.borrow_mut().eagain_commits = 100;
        assert_eq!(xs.transaction(|tx| tx.write("t/k", "w")), Err(XsError::TooManyRetries));
        // An error inside the closure aborts without retry.
        assert_eq!(xs.transaction(|tx| tx.read("t/missing")), Err(XsError::Errno(XsErrno::Enoent)));
    }

    #[test]
    fn batch_answers_each_op_in_one_round_trip() {
        let (f, mut xs) = xs();
        xs.write("b/x", "1").unwrap();
        let before = xs.stats;
        let r = xs
            .batch(&[
                Op::Read("b/x"),
                Op::Read("b/missing"),
                Op::Write("b/y", "2"),
                Op::Watch("b", "tok"),
                Op::Read("b/y"),
                Op::Rm("b/x"),
            ])
            .unwrap();
        assert_eq!(xs.stats.round_trips - before.round_trips, 1);
        assert_eq!(xs.stats.requests - before.requests, 6);
        assert_eq!(r[0].as_deref(), Ok(&b"1"[..]));
        assert_eq!(r[1], Err(XsError::Errno(XsErrno::Enoent)), "an error fails its op only");
        assert!(r[2].is_ok() && r[3].is_ok() && r[5].is_ok());
        assert_eq!(r[4].as_deref(), Ok(&b"2"[..]), "in order: the write before it landed");
        assert_eq!(f.get("b/x"), None);
        // The watch's own event was queued while the replies were collected; unwatch in a
        // batch drops it.
        xs.batch(&[Op::Unwatch("b", "tok")]).unwrap();
        assert_eq!(xs.wait_event(0).unwrap(), None);
        // More than the request ring holds goes in several groups, with every reply.
        let big = "v".repeat(300);
        let paths: Vec<String> = (0..10).map(|i| format!("c/{i}")).collect();
        let ops: Vec<Op<'_>> = paths.iter().map(|p| Op::Write(p, &big)).collect();
        let before = xs.stats.round_trips;
        assert!(xs.batch(&ops).unwrap().iter().all(Result::is_ok));
        assert_eq!(xs.stats.round_trips - before, 4, "three 316-byte messages per 1 KiB ring");
        assert_eq!(f.get("c/9").as_deref(), Some(big.as_str()));
        // A bad argument refuses the batch before anything is sent.
        assert_eq!(xs.batch(&[Op::Write("d/1", "1"), Op::Read("d/\x002")]), Err(XsError::TooLong));
        assert_eq!(f.get("d/1"), None);
    }

    #[test]
    fn strays_and_events_are_not_taken_for_the_reply() {
        let (f, mut xs) = xs();
        xs.write("w/x", "1").unwrap();
        xs.watch("w", "tok").unwrap();
        // The watch fires once at once.
        assert_eq!(xs.wait_event(0).unwrap().map(|e| e.token), Some("tok".into()));
        let mut stray = header(2, 999, 4);
        stray.extend_from_slice(b"evil");
        let mut ev = header(15, 0, 8);
        ev.extend_from_slice(b"/p\0tok2\0");
        f.0.borrow_mut().inject = vec![stray, ev];
        assert_eq!(xs.read("w/x").unwrap(), "1");
        assert_eq!(xs.wait_event(0).unwrap(), Some(WatchEvent { path: "/p".into(), token: "tok2".into() }));
        f.set("w/x", "2");
        assert_eq!(xs.wait_event(1_000_000).unwrap().map(|e| e.path), Some("/local/domain/7/w/x".into()));
        assert_eq!(xs.wait_event(1_000_000).unwrap(), None);
    }

    #[test]
    fn write_many_lands_every_value_and_reads_every_reply() {
        let (f, mut xs) = xs();
        xs.watch("b", "tok").unwrap();
        assert_eq!(xs.wait_event(0).unwrap().map(|e| e.token), Some("tok".into()));
        // A stray reply and an event ahead of the batch's replies.
        let mut stray = header(11, 999, 3);
        stray.extend_from_slice(b"OK\0");
        let mut ev = header(15, 0, 8);
        ev.extend_from_slice(b"/p\0tok2\0");
        f.0.borrow_mut().inject = vec![stray, ev];
        let before = xs.stats.requests;
        xs.transaction(|tx| tx.write_many(&[("b/ring-ref", "8"), ("b/event-channel", "9"), ("b/state", "3")])).unwrap();
        assert_eq!(xs.stats.requests - before, 5, "start, 3 writes, end");
        for (k, v) in [("b/ring-ref", "8"), ("b/event-channel", "9"), ("b/state", "3")] {
            assert_eq!(f.get(k).as_deref(), Some(v), "{k}");
        }
        assert_eq!(xs.wait_event(0).unwrap().map(|e| e.token), Some("tok2".into()));
        assert_eq!(xs.wait_event(0).unwrap().map(|e| e.token), Some("tok".into()));
        // More than a ring's worth goes one by one, with the same result.
        let big = "x".repeat(400);
        xs.transaction(|tx| tx.write_many(&[("c/1", &big), ("c/2", &big), ("c/3", &big)])).unwrap();
        assert_eq!(f.get("c/3").as_deref(), Some(big.as_str()));
        // A bad path refuses the whole batch before anything is sent.
        assert_eq!(xs.write_many_tx(0, &[("d/1", "1"), ("d/\x002", "2")]), Err(XsError::TooLong));
        assert_eq!(f.get("d/1"), None);
        assert_eq!(xs.read("b/state").unwrap(), "3", "the connection is still in step");
    }

    #[test]
    fn oversized_reply_breaks_the_connection() {
        let (f, mut xs) = xs();
        f.0.borrow_mut().inject = vec![header(2, 1, 5000)];
        assert!(matches!(xs.read("a"), Err(XsError::Protocol(_))));
        assert!(matches!(xs.read("a"), Err(XsError::Protocol(_))));
    }

    #[test]
    fn bogus_ring_index_is_a_protocol_error() {
        let (f, mut xs) = xs();
        let (page, _) = f.xenstore().unwrap();
        page.store_u32(RSP_PROD, 5000);
        assert!(matches!(xs.read("a"), Err(XsError::Protocol(_))));
    }

    #[test]
    fn a_flood_of_watch_events_cannot_stretch_a_request_past_its_deadline() {
        let (f, mut xs) = xs();
        f.set("a", "1");
        // xenstored sends events for 60 s before the reply: the request gives up at its own
        // deadline instead of waiting for the flood to end.
        let t0 = f.0.borrow().clock;
        f.flood_events(t0 + 60_000 * MS, 10 * MS);
        assert_eq!(xs.read("a"), Err(XsError::Timeout));
        let took = f.0.borrow().clock - t0;
        assert!(took <= REPLY_TIMEOUT + 100 * MS, "request took {} ms", took / MS);
    }
}
