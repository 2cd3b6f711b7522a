//! The xenstore side shared by the handshake and the close: reading backend-controlled
//! values with typed errors, and waiting for backends to reach a state, all disks at once.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::BlkErrorKind;
use crate::platform::{Deadline, Platform, MS};
use crate::xenstore::{Op, Xenstore, XsError};

pub(super) fn token(front: &str) -> String {
    format!("rpvboot:{front}")
}

/// A xenstore reply as text (as [`Xenstore::read`]).
pub(super) fn reply_text(path: &str, r: Result<Vec<u8>, XsError>) -> Result<String, XsError> {
    let body = r?;
    String::from_utf8(body).map_err(|e| XsError::Parse {
        path: path.into(),
        value: String::from_utf8_lossy(e.as_bytes().get(..64).unwrap_or(e.as_bytes())).into_owned(),
    })
}

/// A xenstore reply as a number (as [`Xenstore::read_parsed`]).
pub(super) fn reply_num<T: core::str::FromStr>(path: &str, r: Result<Vec<u8>, XsError>) -> Result<T, XsError> {
    let v = reply_text(path, r)?;
    v.trim_end_matches('\0').trim().parse().map_err(|_| XsError::Parse {
        path: path.into(),
        value: String::from_utf8_lossy(v.as_bytes().get(..64).unwrap_or(v.as_bytes())).into_owned(),
    })
}

/// One backend [`wait_states`] waits for.
pub(super) struct StateWait<'a> {
    /// `<backend>/state`.
    pub(super) state_path: &'a str,
    /// The token of our watch on it.
    pub(super) token: &'a str,
    /// Set the watch in the first read (the backend's changes then wake us).
    pub(super) watch: bool,
    /// More nodes read in the same request group as the state (e.g. the geometry, which a
    /// backend writes before it switches state): their replies are returned with it.
    pub(super) extra: Vec<String>,
}

/// A backend state [`wait_states`] accepted, and the replies of its extra reads.
pub(super) type Reached = (u32, Vec<Result<Vec<u8>, XsError>>);

/// Waits until every backend's state satisfies `ok` (or `fail`, or the deadline), reading
/// all states still awaited in one request group per wake-up: disks that are waited for
/// together cost one dom0 round trip, not one each. Any watch event means "read again";
/// waits are capped at 100 ms so that a missed event only delays. `read_first`: read before
/// the first wait; else wait for an event first (right after our own write the backend has
/// not answered yet, and a read would only cost a round trip; an event it sent meanwhile is
/// queued and ends the wait at once).
pub(super) fn wait_states<P: Platform>(
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
