//! Event channels, polled: notify the peer with `EVTCHNOP_send`, wait with `SCHEDOP_poll`,
//! consume with test-and-clear on the pending bit in shared_info.

use super::hypercall::{self, XenError};
use super::shared::Shared;
use xenfront::raw::EVTCHNOP_SEND;

/// An event channel port that is already bound (console, xenstore, or one we allocated).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Port(pub u32);

impl Port {
    /// `EVTCHNOP_send`: tell the other end that something changed.
    pub fn notify(self) -> Result<(), XenError> {
        let p: u32 = self.0;
        // SAFETY: the argument is a live `evtchn_send` (one u32 port).
        hypercall::check(unsafe { hypercall::event_channel_op(EVTCHNOP_SEND, core::ptr::addr_of!(p) as u64) })
            .map(|_| ())
    }

    /// Clears the port's pending bit; true if it was set. Clear *before* scanning the ring, so
    /// an event arriving during the scan makes the next poll return at once.
    pub fn take_pending(self, shared: &Shared) -> bool {
        shared.test_and_clear_pending(self.0)
    }

    /// Waits until this port is pending or `deadline_ns` (absolute system time) passes.
    pub fn wait(self, deadline_ns: u64) -> Result<(), XenError> {
        super::sched::poll(&[self.0], deadline_ns)
    }
}
