//! Xen front-end drivers, written against [`platform::Platform`] (hypercalls, shared pages,
//! event channels) so that everything here is host-tested with [`fake`] and fuzzed: the ABI
//! types (`raw`, `start_info`), Xen time arithmetic, shared rings, grant tables, xenstore,
//! the blkif protocol and blkfront. The platform that issues real hypercalls lives in the PV
//! kernel (`rpvboot/src/hypervisor`).
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

extern crate alloc;

pub mod blkfront;
pub mod blkif;
#[cfg(any(test, feature = "fake"))]
pub mod fake;
#[allow(unsafe_code)]
pub mod gnttab;
pub mod hvm_start_info;
pub mod platform;
pub mod raw;
#[allow(unsafe_code)]
pub mod ring;
pub mod start_info;
pub mod time;
pub mod xenstore;
