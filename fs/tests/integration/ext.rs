//! ext image tests.
