//! Hypercalls through the hypercall page that Xen filled for us (`XEN_ELFNOTE_HYPERCALL_PAGE`).
//!
//! Entry `n` of the page is a 32-byte stub at `hypercall_page + 32*n`. Arguments go in
//! rdi, rsi, rdx, r10, r8; rcx, r11 and all argument registers are clobbered. No `nomem`:
//! Xen reads and writes the memory the arguments point to.
//!
//! Calls that can break memory safety (page tables, trap table) are `unsafe fn`; the rest are
//! safe wrappers.

use core::arch::asm;
use core::fmt;

use xenfront::raw::{self, nr, MmuUpdate, MmuextOp, TrapInfo};

extern "C" {
    /// The page Xen fills with hypercall stubs; defined in the entry assembly.
    static hypercall_page: [u8; 4096];
}

/// A negative hypercall result (`-errno`, Linux numbering).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XenError(pub i64);

impl fmt::Display for XenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match -self.0 {
            1 => "EPERM",
            2 => "ENOENT",
            7 => "E2BIG",
            11 => "EAGAIN",
            12 => "ENOMEM",
            13 => "EACCES",
            14 => "EFAULT",
            16 => "EBUSY",
            22 => "EINVAL",
            38 => "ENOSYS",
            _ => "?",
        };
        write!(f, "Xen error {} ({name})", self.0)
    }
}

/// Turns a raw result into `Ok(value)` or `Err(-errno)`.
pub fn check(rc: i64) -> Result<u64, XenError> {
    u64::try_from(rc).map_err(|_| XenError(rc))
}

/// VA of the hypercall page (a PVH start tells Xen its physical address).
pub fn page_va() -> u64 {
    core::ptr::addr_of!(hypercall_page) as u64
}

/// Whether Xen has filled the hypercall page. Always for PV (the domain builder does it); a
/// PVH start has it filled through an MSR first (`hvm::init_hypercall_page`), and a message
/// printed before that (or off Xen) must not call into an empty page.
pub fn page_ready() -> bool {
    // SAFETY: the page is part of the image; reading its first byte is harmless.
    unsafe { core::ptr::read_volatile(core::ptr::addr_of!(hypercall_page).cast::<u8>()) != 0 }
}

fn stub(n: usize) -> usize {
    let base = core::ptr::addr_of!(hypercall_page) as usize;
    base + 32 * n
}

/// Raw hypercall with up to five arguments.
///
/// # Safety
/// The caller must pass arguments that are valid for hypercall `n` (pointers to live memory of
/// the right layout) and must uphold whatever that hypercall changes (mappings, traps).
#[inline]
pub unsafe fn hypercall5(n: usize, a1: u64, a2: u64, a3: u64, a4: u64, a5: u64) -> i64 {
    let ret: i64;
    // SAFETY: the stub at `stub(n)` is Xen's 32-byte hypercall stub; argument validity is the
    // caller's contract. All registers the stub or Xen may clobber are declared.
    unsafe {
        asm!(
            "call rax",
            inout("rax") stub(n) => ret,
            inout("rdi") a1 => _,
            inout("rsi") a2 => _,
            inout("rdx") a3 => _,
            inout("r10") a4 => _,
            inout("r8") a5 => _,
            out("r9") _,
            out("rcx") _,
            out("r11") _,
        );
    }
    ret
}

/// `update_va_mapping(va, pte, UVMF_INVLPG)`.
///
/// # Safety
/// Changing a mapping can invalidate live references; the caller must make sure nothing
/// borrowed lives in the page at `va` (or that the new frame holds what the old one did).
pub unsafe fn update_va_mapping(va: u64, pte: u64) -> Result<(), XenError> {
    // SAFETY: no pointers are passed; the mapping change is the caller's contract.
    check(unsafe { hypercall5(nr::UPDATE_VA_MAPPING, va, pte, raw::UVMF_INVLPG, 0, 0) }).map(|_| ())
}

/// `mmu_update(reqs, n, &done, DOMID_SELF)`; returns how many were done.
///
/// # Safety
/// As for [`update_va_mapping`], for every PTE the requests write.
pub unsafe fn mmu_update(reqs: &[MmuUpdate]) -> Result<usize, XenError> {
    let mut done: u32 = 0;
    let n = u64::try_from(reqs.len()).unwrap_or(u64::MAX);
    // SAFETY: `reqs` and `done` are live for the call; Xen reads `n` entries and writes `done`.
    let rc = unsafe {
        hypercall5(
            nr::MMU_UPDATE,
            reqs.as_ptr() as u64,
            n,
            core::ptr::addr_of_mut!(done) as u64,
            u64::from(raw::DOMID_SELF),
            0,
        )
    };
    check(rc).map(|_| done as usize)
}

/// `mmuext_op(ops, n, NULL, DOMID_SELF)`.
///
/// # Safety
/// The operations may change page-table types, the base pointer or TLBs.
pub unsafe fn mmuext_op(ops: &[MmuextOp]) -> Result<(), XenError> {
    let n = u64::try_from(ops.len()).unwrap_or(u64::MAX);
    // SAFETY: `ops` is live for the call; the effect is the caller's contract.
    check(unsafe { hypercall5(nr::MMUEXT_OP, ops.as_ptr() as u64, n, 0, u64::from(raw::DOMID_SELF), 0) }).map(|_| ())
}

/// `set_trap_table(table)`; `None` clears it (before a handover).
///
/// # Safety
/// Every non-zero `address` must be a handler that copes with Xen's bounce frame, and the
/// table must end with an all-zero entry.
pub unsafe fn set_trap_table(table: Option<&[TrapInfo]>) -> Result<(), XenError> {
    let p = table.map_or(0, |t| t.as_ptr() as u64);
    // SAFETY: the table is live for the call (Xen copies it); handler validity is the caller's.
    check(unsafe { hypercall5(nr::SET_TRAP_TABLE, p, 0, 0, 0, 0) }).map(|_| ())
}

/// `set_callbacks(event, failsafe, syscall)`; zeros unregister.
///
/// # Safety
/// The addresses must be valid entry points for Xen bounce frames (or 0).
pub unsafe fn set_callbacks(event: u64, failsafe: u64) -> Result<(), XenError> {
    // SAFETY: no pointers are dereferenced by Xen here; entry validity is the caller's.
    check(unsafe { hypercall5(nr::SET_CALLBACKS, event, failsafe, 0, 0, 0) }).map(|_| ())
}

/// `xen_version(XENVER_version)`: `(major, minor)`.
pub fn xen_version() -> (u32, u32) {
    // SAFETY: XENVER_version takes no buffer.
    let v = unsafe { hypercall5(nr::XEN_VERSION, raw::XENVER_VERSION as u64, 0, 0, 0, 0) };
    let v = u32::try_from(v).unwrap_or(0);
    (v >> 16, v & 0xffff)
}

/// `console_io(CONSOLEIO_write)`: Xen's own console. Only debug hypervisors let a domU use it
/// (release Xen returns -EPERM), so this is a last-resort channel and errors are ignored.
pub fn console_io_write(bytes: &[u8]) {
    if !page_ready() {
        return;
    }
    let n = u64::try_from(bytes.len()).unwrap_or(0);
    // SAFETY: Xen reads `n` bytes from the live slice.
    let _ = unsafe { hypercall5(nr::CONSOLE_IO, raw::CONSOLEIO_WRITE as u64, n, bytes.as_ptr() as u64, 0, 0) };
}

/// `sched_op(cmd, arg)`.
///
/// # Safety
/// `arg` must point to the structure `cmd` expects (or be null where allowed).
pub unsafe fn sched_op(cmd: usize, arg: u64) -> i64 {
    // SAFETY: forwarded contract.
    unsafe { hypercall5(nr::SCHED_OP, cmd as u64, arg, 0, 0, 0) }
}

/// `event_channel_op(cmd, arg)`.
///
/// # Safety
/// `arg` must point to the structure `cmd` expects.
pub unsafe fn event_channel_op(cmd: usize, arg: u64) -> i64 {
    // SAFETY: forwarded contract.
    unsafe { hypercall5(nr::EVENT_CHANNEL_OP, cmd as u64, arg, 0, 0, 0) }
}
