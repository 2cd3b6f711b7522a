//! The Xen PV console: the ring shared with xenconsoled, flow-controlled output that never
//! drops bytes, input for the menu, a `log` backend and `core::fmt::Write`.
//!
//! The ring logic is independent of Xen: the caller supplies a [`Platform`] (notify the peer,
//! wait with a timeout, read a clock), so everything here is tested on the host against an
//! in-memory page and a fake xenconsoled.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

mod console;
pub mod editor;
mod logger;
pub mod ring;
pub mod screen;
pub mod term;

pub use console::{Console, Platform, POLL_SLICE_NS};
pub use logger::Logger;
pub use ring::{Ring, XenconsInterface};
