//! The platform that talks to the real hypervisor: hypercalls through the hypercall page,
//! shared_info (event bits, time), event channels, the scheduler's poll, and
//! [`platform::XenPlatform`], which gives `xenfront`'s drivers real grant tables and shared pages.

pub mod evtchn;
pub mod hvm;
pub mod hypercall;
pub mod platform;
pub mod sched;
pub mod shared;
