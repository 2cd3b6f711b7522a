//! A bounded block cache (hashbrown) shared by the filesystem readers.
