//! FFSv1 and FFSv2 (UFS1/UFS2), both byte orders: hand-written, after NetBSD sys/ufs/ffs/fs.h.
