//! Kernel images: format detection, decompression, Xen ELF notes, bzImage, BSD symbol table.
