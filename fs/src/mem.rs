//! Allocation that fails with an error value instead of aborting.
//!
//! Every buffer whose size comes from the disk goes through these: in the PV kernel the heap
//! is what the domain has left, its allocator returns null when that is gone, and an
//! infallible allocation (`vec![0; n]`, `Vec::push`) then panics and kills the domain before
//! the next partition or the `fallback` entry is tried. `try_reserve` turns the same failure
//! into [`Error::NoMemory`], which the caller reports like any other unreadable file.

use alloc::vec::Vec;

use crate::error::Error;

/// Makes room for `additional` more elements in `v`, or says how many bytes did not fit.
///
/// # Errors
/// [`Error::NoMemory`] when the allocator refuses.
pub fn reserve<T>(v: &mut Vec<T>, additional: usize) -> Result<(), Error> {
    v.try_reserve(additional).map_err(|_| Error::NoMemory {
        requested: (additional as u64).saturating_mul(core::mem::size_of::<T>() as u64),
    })
}

/// Appends `item`, growing `v` fallibly.
///
/// # Errors
/// [`Error::NoMemory`] when the allocator refuses.
pub fn push<T>(v: &mut Vec<T>, item: T) -> Result<(), Error> {
    if v.len() == v.capacity() {
        reserve(v, 1)?;
    }
    v.push(item);
    Ok(())
}

/// A zero-filled buffer of `len` bytes, allocated fallibly.
///
/// # Errors
/// [`Error::NoMemory`] when the allocator refuses.
pub fn zeroed(len: usize) -> Result<Vec<u8>, Error> {
    /// Copied in, rather than `resize(len, 0)`: at the PV kernel's opt-level "z" that became a
    /// byte loop, which made reading a 64 MiB file about a third slower under TCG.
    const ZEROS: [u8; 4096] = [0; 4096];
    let mut v = Vec::new();
    reserve(&mut v, len)?;
    while v.len() < len {
        let n = (len - v.len()).min(ZEROS.len());
        v.extend_from_slice(ZEROS.get(..n).unwrap_or_default());
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_sizes_are_errors() {
        assert_eq!(zeroed(usize::MAX).err(), Some(Error::NoMemory { requested: usize::MAX as u64 }));
        let mut v: Vec<u64> = Vec::new();
        assert!(matches!(reserve(&mut v, usize::MAX / 4), Err(Error::NoMemory { .. })));
        push(&mut v, 7).unwrap();
        assert_eq!(zeroed(3).unwrap(), [0, 0, 0]);
        assert_eq!(v, [7]);
    }
}
