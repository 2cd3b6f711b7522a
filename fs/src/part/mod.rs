//! Partition maps: MBR (with extended/logical), GPT, NetBSD disklabel.
