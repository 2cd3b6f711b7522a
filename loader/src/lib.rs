//! rpvboot's logic. The pure parts (configuration, kernel images, memory layout) build and are
//! tested on the host; the parts that touch Xen are compiled only for the PV kernel target.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

extern crate alloc;

pub mod boot;
#[allow(unsafe_code)]
pub mod bootflow;
pub mod config;
pub mod devices;
pub mod image;
pub mod menu;
pub mod plan;

#[cfg(target_os = "none")]
#[allow(unsafe_code)]
pub mod arch;
pub mod xen;
