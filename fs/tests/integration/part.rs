//! part image tests.
