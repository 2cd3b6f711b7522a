//! The deterministic file tree every filesystem image is made of.
