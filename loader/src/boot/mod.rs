//! The new domain: memory layout planning (pure, host-tested) and the handover.

pub mod handover;
pub mod layout;
