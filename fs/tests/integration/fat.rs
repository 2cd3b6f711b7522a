//! fat image tests.
