//! ffs image tests.
