//! Xen interfaces: start_info, hypercalls, event channels, grant table, xenstore, blkfront.

pub mod blkfront;
pub mod blkif;
#[cfg(test)]
pub mod fake;
#[allow(unsafe_code)]
pub mod gnttab;
pub mod platform;
#[allow(unsafe_code)]
pub mod ring;
pub mod xenstore;
#[cfg(target_os = "none")]
#[allow(unsafe_code)]
pub mod pv;
