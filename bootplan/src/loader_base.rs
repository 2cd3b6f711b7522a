/// Where rpvboot itself is linked: the start of L4 slot 255. Its image and all of the domain's
/// RAM are mapped from here, so a kernel whose boot region needs this slot cannot be booted.
/// The one place this number is decided: the PV kernel's build script includes this file for
/// its link script (`__virt_base`), and the kernel check and the page-table code use the const.
pub const LOADER_VIRT_BASE: u64 = 255 << 39;
