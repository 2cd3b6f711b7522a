//! Xen interfaces: start_info, hypercalls, event channels, grant table, xenstore, blkfront.
