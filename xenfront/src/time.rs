//! Xen system time: nanoseconds since the host booted, from `vcpu_time_info` and the TSC.
//!
//! The arithmetic is pure and host-tested; reading the live record (a seqlock in shared_info)
//! lives in [`super::shared`].

use super::raw::VcpuTimeInfo;

/// Converts a TSC delta to nanoseconds: shift by `tsc_shift`, then multiply by the 32.32
/// fixed-point `tsc_to_system_mul` (Xen's `scale_delta`).
pub fn scale_delta(delta: u64, mul: u32, shift: i8) -> u64 {
    let d = if shift >= 0 {
        delta.checked_shl(u32::from(shift.unsigned_abs())).unwrap_or(0)
    } else {
        delta.checked_shr(u32::from(shift.unsigned_abs())).unwrap_or(0)
    };
    let ns = (u128::from(d) * u128::from(mul)) >> 32;
    u64::try_from(ns).unwrap_or(u64::MAX)
}

/// System time (ns) at TSC value `tsc`, from a consistent copy of the record.
pub fn system_time_ns(t: &VcpuTimeInfo, tsc: u64) -> u64 {
    // A TSC behind the record's timestamp (another pCPU's TSC after a migration) counts as 0.
    let delta = tsc.saturating_sub(t.tsc_timestamp);
    t.system_time.wrapping_add(scale_delta(delta, t.tsc_to_system_mul, t.tsc_shift))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Oracle: hand-computed values from the definition (ns = delta * 2^shift * mul / 2^32).
    #[test]
    fn scale_examples() {
        // 2 GHz TSC: 0.5 ns per tick = mul 2^31, shift 0.
        assert_eq!(scale_delta(2000, 1 << 31, 0), 1000);
        // 1 GHz with shift 1 and mul 2^31: 1 ns per tick.
        assert_eq!(scale_delta(12345, 1 << 31, 1), 12345);
        // 4 GHz: shift -1, mul 2^31 -> delta/2 * 0.5.
        assert_eq!(scale_delta(4000, 1 << 31, -1), 1000);
        // Full 32-bit multiplier (~1 ns/tick minus 2^-32) on a large delta: no overflow.
        assert_eq!(scale_delta(1 << 40, u32::MAX, 0), (1u64 << 40) - (1 << 8));
        // Absurd shifts never panic.
        assert_eq!(scale_delta(5, 1 << 31, 100), 0);
        assert_eq!(scale_delta(5, 1 << 31, -100), 0);
    }

    #[test]
    fn system_time_adds_base() {
        let t = VcpuTimeInfo {
            tsc_timestamp: 1_000_000,
            system_time: 5_000_000_000,
            tsc_to_system_mul: 1 << 31,
            tsc_shift: 0,
            ..Default::default()
        };
        assert_eq!(system_time_ns(&t, 1_002_000), 5_000_001_000);
        assert_eq!(system_time_ns(&t, 999_000), 5_000_000_000);
    }
}
