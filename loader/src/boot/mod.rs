//! The new domain: memory layout planning (pure, host-tested) and the handover.

pub mod layout;
pub mod handover;
