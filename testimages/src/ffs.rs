//! FFSv1/FFSv2 images with NetBSD makefs.
