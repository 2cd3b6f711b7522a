//! Boot configuration: menu.lst, a grub.cfg subset and NetBSD /boot.cfg parsed into one model.
