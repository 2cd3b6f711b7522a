//! The Xen PV console: the ring shared with xenconsoled, a `log` backend, and terminal I/O.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]
#![warn(missing_docs)]
