//! Xen 4.17 public ABI structures (x86_64) as `#[repr(C)]`, with compile-time size and offset
//! checks against the numbers in docs/xen-pv-abi.md (measured with gcc on the 4.17 headers).
//!
//! Plain data only: no pointers into guest memory are dereferenced here.

use core::mem::{offset_of, size_of};

/// Hypercall numbers (`xen.h`).
pub mod nr {
    /// `set_trap_table(trap_info *)`.
    pub const SET_TRAP_TABLE: usize = 0;
    /// `mmu_update(reqs, count, done, foreigndom)`.
    pub const MMU_UPDATE: usize = 1;
    /// `set_callbacks(event, failsafe, syscall)`.
    pub const SET_CALLBACKS: usize = 4;
    /// `memory_op(cmd, arg)`.
    pub const MEMORY_OP: usize = 12;
    /// `update_va_mapping(va, pte, flags)`.
    pub const UPDATE_VA_MAPPING: usize = 14;
    /// `xen_version(cmd, arg)`.
    pub const XEN_VERSION: usize = 17;
    /// `console_io(cmd, count, buf)`.
    pub const CONSOLE_IO: usize = 18;
    /// `mmuext_op(ops, count, done, foreigndom)`.
    pub const MMUEXT_OP: usize = 26;
    /// `sched_op(cmd, arg)`.
    pub const SCHED_OP: usize = 29;
    /// `event_channel_op(cmd, arg)`.
    pub const EVENT_CHANNEL_OP: usize = 32;
}

/// `DOMID_SELF`, the `foreigndom` argument for our own page tables.
pub const DOMID_SELF: u16 = 0x7ff0;
/// `UVMF_INVLPG`: flush the one page after `update_va_mapping`.
pub const UVMF_INVLPG: u64 = 2;
/// `MMU_NORMAL_PT_UPDATE` (low bits of `mmu_update.ptr`).
pub const MMU_NORMAL_PT_UPDATE: u64 = 0;
/// `MMU_MACHPHYS_UPDATE`.
pub const MMU_MACHPHYS_UPDATE: u64 = 1;
/// Where Xen maps the read-only machine-to-phys table (L4 slot 256), 8 bytes per MFN.
pub const M2P_VIRT_START: u64 = 0xffff_8000_0000_0000;
/// `FLAT_KERNEL_CS` (64-bit PV kernel code selector, RPL 3).
pub const FLAT_KERNEL_CS: u16 = 0xe033;
/// Size of `start_info.cmd_line` (`MAX_GUEST_CMDLINE`).
pub const MAX_GUEST_CMDLINE: usize = 1024;

/// Page-table entry bits.
pub mod pte {
    /// Present.
    pub const P: u64 = 0x1;
    /// Writable.
    pub const RW: u64 = 0x2;
    /// User (Xen adds it for PV kernel mappings anyway).
    pub const U: u64 = 0x4;
    /// Accessed.
    pub const A: u64 = 0x20;
    /// Dirty.
    pub const D: u64 = 0x40;
    /// Mask of the frame address bits (bits 12..51).
    pub const ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
    /// L1 entry for ordinary RAM, as libxc writes it.
    pub const L1_RW: u64 = P | RW | A; // 0x023
    /// L1 entry for a page-table frame (must never be writable).
    pub const L1_RO: u64 = P | A; // 0x021
    /// L2..L4 entry, as libxc writes it.
    pub const TABLE: u64 = P | RW | U | A | D; // 0x067
}

/// `SCHEDOP_*` commands.
pub mod schedop {
    /// Give up the CPU.
    pub const YIELD: usize = 0;
    // 1 is SCHEDOP_block: deliberately absent. It unmasks event delivery, and without an event
    // callback Xen then crashes the domain (docs/xen-pv-abi.md §5.4).
    /// Shut the domain down with a reason.
    pub const SHUTDOWN: usize = 2;
    /// Wait for one of a set of event channels, with a timeout.
    pub const POLL: usize = 3;
}

/// `SHUTDOWN_*` reasons (what `xl` logs as "reason code").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ShutdownReason {
    /// Clean power off (reason code 0).
    Poweroff = 0,
    /// Reboot (1).
    Reboot = 1,
    /// Crash (3).
    Crash = 3,
}

/// `EVTCHNOP_send`.
pub const EVTCHNOP_SEND: usize = 4;
/// `XENVER_version`: returns `(major << 16) | minor`.
pub const XENVER_VERSION: usize = 0;
/// `CONSOLEIO_write` (works for a domU only on debug hypervisors; best effort).
pub const CONSOLEIO_WRITE: usize = 0;
/// `MMUEXT_CLEAR_PAGE`.
pub const MMUEXT_CLEAR_PAGE: u32 = 16;

/// `struct start_info` (x86_64, 1168 bytes).
#[derive(Clone, Copy)]
#[repr(C)]
pub struct StartInfo {
    /// `"xen-3.0-x86_64"`, NUL-terminated.
    pub magic: [u8; 32],
    /// Total pages of the domain.
    pub nr_pages: u64,
    /// Machine address of shared_info.
    pub shared_info: u64,
    /// `SIF_*`.
    pub flags: u32,
    /// Padding.
    pub _pad0: u32,
    /// MFN of the xenstore ring.
    pub store_mfn: u64,
    /// xenstore event channel.
    pub store_evtchn: u32,
    /// Padding.
    pub _pad1: u32,
    /// domU console ring MFN.
    pub console_mfn: u64,
    /// domU console event channel.
    pub console_evtchn: u32,
    /// Padding.
    pub _pad2: u32,
    /// VA of the bootstrap L4.
    pub pt_base: u64,
    /// Number of bootstrap page-table frames.
    pub nr_pt_frames: u64,
    /// VA of the p2m array.
    pub mfn_list: u64,
    /// VA (or PFN with `SIF_MOD_START_PFN`) of the module.
    pub mod_start: u64,
    /// Module length in bytes.
    pub mod_len: u64,
    /// Command line (`extra=`), NUL-terminated.
    pub cmd_line: [u8; MAX_GUEST_CMDLINE],
    /// Only with INIT_P2M.
    pub first_p2m_pfn: u64,
    /// Only with INIT_P2M.
    pub nr_p2m_frames: u64,
}

const _: () = {
    assert!(size_of::<StartInfo>() == 1168);
    assert!(offset_of!(StartInfo, nr_pages) == 32);
    assert!(offset_of!(StartInfo, shared_info) == 40);
    assert!(offset_of!(StartInfo, flags) == 48);
    assert!(offset_of!(StartInfo, store_mfn) == 56);
    assert!(offset_of!(StartInfo, store_evtchn) == 64);
    assert!(offset_of!(StartInfo, console_mfn) == 72);
    assert!(offset_of!(StartInfo, console_evtchn) == 80);
    assert!(offset_of!(StartInfo, pt_base) == 88);
    assert!(offset_of!(StartInfo, nr_pt_frames) == 96);
    assert!(offset_of!(StartInfo, mfn_list) == 104);
    assert!(offset_of!(StartInfo, mod_start) == 112);
    assert!(offset_of!(StartInfo, mod_len) == 120);
    assert!(offset_of!(StartInfo, cmd_line) == 128);
    assert!(offset_of!(StartInfo, first_p2m_pfn) == 1152);
    assert!(offset_of!(StartInfo, nr_p2m_frames) == 1160);
};

/// `struct vcpu_time_info` (32 bytes).
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct VcpuTimeInfo {
    /// Odd while Xen updates the record.
    pub version: u32,
    /// Padding.
    pub _pad0: u32,
    /// TSC at `system_time`.
    pub tsc_timestamp: u64,
    /// ns since host boot at `tsc_timestamp`.
    pub system_time: u64,
    /// 32.32 fixed-point TSC-to-ns multiplier.
    pub tsc_to_system_mul: u32,
    /// Shift applied to the TSC delta before the multiply.
    pub tsc_shift: i8,
    /// `XEN_PVCLOCK_*`.
    pub flags: u8,
    /// Padding.
    pub _pad1: [u8; 2],
}

/// `struct vcpu_info` (64 bytes).
#[derive(Clone, Copy)]
#[repr(C)]
pub struct VcpuInfo {
    /// Set by Xen when an unmasked port is pending.
    pub evtchn_upcall_pending: u8,
    /// 1 = upcalls masked (we keep it 1 for ever).
    pub evtchn_upcall_mask: u8,
    /// Padding.
    pub _pad0: [u8; 6],
    /// Selector bits into `evtchn_pending`.
    pub evtchn_pending_sel: u64,
    /// PV page-fault address.
    pub cr2: u64,
    /// Padding.
    pub _pad1: u64,
    /// The vCPU's clock.
    pub time: VcpuTimeInfo,
}

/// `struct shared_info` (x86_64, 3136 bytes; Xen may grow it within its page).
#[derive(Clone, Copy)]
#[repr(C)]
pub struct SharedInfo {
    /// `XEN_LEGACY_MAX_VCPUS` = 32 entries.
    pub vcpu_info: [VcpuInfo; 32],
    /// 2-level pending bits, 64 words.
    pub evtchn_pending: [u64; 64],
    /// 2-level mask bits, 64 words.
    pub evtchn_mask: [u64; 64],
    /// Wallclock seqlock.
    pub wc_version: u32,
    /// Wallclock seconds (low 32).
    pub wc_sec: u32,
    /// Wallclock ns.
    pub wc_nsec: u32,
    /// Wallclock seconds (high 32).
    pub wc_sec_hi: u32,
    /// `arch_shared_info` (save/restore fields; leave them alone).
    pub arch: [u64; 6],
}

const _: () = {
    assert!(size_of::<VcpuTimeInfo>() == 32);
    assert!(offset_of!(VcpuTimeInfo, tsc_timestamp) == 8);
    assert!(offset_of!(VcpuTimeInfo, system_time) == 16);
    assert!(offset_of!(VcpuTimeInfo, tsc_to_system_mul) == 24);
    assert!(offset_of!(VcpuTimeInfo, tsc_shift) == 28);
    assert!(offset_of!(VcpuTimeInfo, flags) == 29);
    assert!(size_of::<VcpuInfo>() == 64);
    assert!(offset_of!(VcpuInfo, evtchn_upcall_mask) == 1);
    assert!(offset_of!(VcpuInfo, evtchn_pending_sel) == 8);
    assert!(offset_of!(VcpuInfo, cr2) == 16);
    assert!(offset_of!(VcpuInfo, time) == 32);
    assert!(size_of::<SharedInfo>() == 3136);
    assert!(offset_of!(SharedInfo, evtchn_pending) == 2048);
    assert!(offset_of!(SharedInfo, evtchn_mask) == 2560);
    assert!(offset_of!(SharedInfo, wc_version) == 3072);
    assert!(offset_of!(SharedInfo, arch) == 3088);
};

/// `struct trap_info` (16 bytes).
#[derive(Clone, Copy, Default, Debug)]
#[repr(C)]
pub struct TrapInfo {
    /// Exception vector.
    pub vector: u8,
    /// Bits 0-1 DPL, bit 2 "mask events on entry".
    pub flags: u8,
    /// Code selector of the handler.
    pub cs: u16,
    /// Padding.
    pub _pad: u32,
    /// Handler address; 0 terminates the table.
    pub address: u64,
}

/// `struct mmu_update` (16 bytes).
#[derive(Clone, Copy, Default, Debug)]
#[repr(C)]
pub struct MmuUpdate {
    /// Machine address of the PTE (or frame) | command in the low 2 bits.
    pub ptr: u64,
    /// New value.
    pub val: u64,
}

/// `struct mmuext_op` (24 bytes).
#[derive(Clone, Copy, Default, Debug)]
#[repr(C)]
pub struct MmuextOp {
    /// `MMUEXT_*`.
    pub cmd: u32,
    /// Padding.
    pub _pad: u32,
    /// `mfn` or `linear_addr`.
    pub arg1: u64,
    /// `nr_ents`, `vcpumask` or `src_mfn`.
    pub arg2: u64,
}

/// `struct sched_poll` (24 bytes).
#[derive(Clone, Copy, Debug)]
#[repr(C)]
pub struct SchedPoll {
    /// Pointer to a `u32` port array.
    pub ports: u64,
    /// Number of ports (≤ 128).
    pub nr_ports: u32,
    /// Padding.
    pub _pad: u32,
    /// Absolute system time (ns) to give up at; 0 = never.
    pub timeout: u64,
}

const _: () = {
    assert!(size_of::<TrapInfo>() == 16);
    assert!(offset_of!(TrapInfo, cs) == 2);
    assert!(offset_of!(TrapInfo, address) == 8);
    assert!(size_of::<MmuUpdate>() == 16);
    assert!(size_of::<MmuextOp>() == 24);
    assert!(offset_of!(MmuextOp, arg1) == 8);
    assert!(offset_of!(MmuextOp, arg2) == 16);
    assert!(size_of::<SchedPoll>() == 24);
    assert!(offset_of!(SchedPoll, nr_ports) == 8);
    assert!(offset_of!(SchedPoll, timeout) == 16);
};
