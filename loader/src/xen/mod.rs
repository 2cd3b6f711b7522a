//! Xen interfaces: start_info, hypercalls, event channels, shared_info and time; later grant
//! table, xenstore and blkfront.
//!
//! `raw`, `start_info` and the time arithmetic are plain safe Rust and host-tested. The modules
//! that issue hypercalls or touch shared pages exist only in the PV kernel (`target_os = "none"`).

pub mod raw;
pub mod start_info;
pub mod time;

#[cfg(target_os = "none")]
#[allow(unsafe_code)]
pub mod hypercall;

#[cfg(target_os = "none")]
#[allow(unsafe_code)]
pub mod shared;

pub mod blkfront;
pub mod blkif;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
pub mod evtchn;
#[cfg(test)]
pub mod fake;
#[allow(unsafe_code)]
pub mod gnttab;
pub mod platform;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
pub mod pv;
#[allow(unsafe_code)]
pub mod ring;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
pub mod sched;
pub mod xenstore;
