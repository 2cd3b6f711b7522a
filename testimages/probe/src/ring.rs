//! The PV console ring and a xenstore read, shared by the PV and the PVH probe: the rings are
//! the same for both kinds of guest, only how a probe kicks Xen differs ([`Notify`]). Ring
//! addresses are wherever the probe mapped the page.

use core::fmt;
use core::sync::atomic::{fence, Ordering};

/// How a probe kicks an event channel and gives up its time slice.
pub trait Notify {
    fn send(&self, port: u32);
    fn yield_cpu(&self);
}

fn rd32(va: u64) -> u32 {
    // SAFETY: callers pass the address of a mapped ring page plus an offset inside it.
    unsafe { core::ptr::read_volatile(va as *const u32) }
}
fn rd8(va: u64) -> u8 {
    // SAFETY: as rd32.
    unsafe { core::ptr::read_volatile(va as *const u8) }
}
fn wr32(va: u64, v: u32) {
    // SAFETY: as rd32.
    unsafe { core::ptr::write_volatile(va as *mut u32, v) }
}
fn wr8(va: u64, v: u8) {
    // SAFETY: as rd32.
    unsafe { core::ptr::write_volatile(va as *mut u8, v) }
}

/// The console ring (`xencons_interface`: out[2048] at 1024, out_cons at 3080, out_prod at
/// 3084) at `ring`, its event channel `port`.
pub struct Console<N> {
    pub ring: u64,
    pub port: u32,
    pub notify: N,
}

impl<N: Notify> Console<N> {
    /// Waits (bounded) for xenconsoled to take everything, so that poweroff loses nothing.
    pub fn drain(&self) {
        for _ in 0..100_000 {
            if rd32(self.ring + 3080) == rd32(self.ring + 3084) {
                break;
            }
            self.notify.yield_cpu();
        }
    }
}

impl<N: Notify> fmt::Write for Console<N> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for &b in s.as_bytes() {
            let mut spins = 0u32;
            loop {
                let cons = rd32(self.ring + 3080);
                let prod = rd32(self.ring + 3084);
                if prod.wrapping_sub(cons) < 2048 {
                    wr8(self.ring + 1024 + u64::from(prod % 2048), b);
                    fence(Ordering::SeqCst);
                    wr32(self.ring + 3084, prod.wrapping_add(1));
                    break;
                }
                self.notify.send(self.port);
                self.notify.yield_cpu();
                spins += 1;
                if spins > 1_000_000 {
                    return Err(fmt::Error);
                }
            }
        }
        self.notify.send(self.port);
        Ok(())
    }
}

/// Xenstore XS_READ of `path` into `out` through the ring at `ring` (`xenstore_domain_interface`:
/// req[1024] at 0, rsp[1024] at 1024, req_cons/req_prod at 2048/2052, rsp_cons/rsp_prod at
/// 2056/2060); returns the length.
pub fn xs_read<N: Notify>(n: &N, ring: u64, port: u32, path: &[u8], out: &mut [u8]) -> Result<usize, &'static str> {
    let mut msg = [0u8; 16 + 64];
    let plen = path.len() + 1;
    if plen > 64 {
        return Err("xenstore path too long");
    }
    msg[0..4].copy_from_slice(&2u32.to_le_bytes()); // XS_READ
    msg[4..8].copy_from_slice(&0x5052u32.to_le_bytes());
    msg[12..16].copy_from_slice(&(plen as u32).to_le_bytes());
    msg[16..16 + path.len()].copy_from_slice(path);
    let total = 16 + plen;
    let prod = rd32(ring + 2052);
    let cons = rd32(ring + 2048);
    if prod.wrapping_sub(cons) as usize + total > 1024 {
        return Err("xenstore request ring full");
    }
    for (i, &b) in msg[..total].iter().enumerate() {
        wr8(ring + u64::from(prod.wrapping_add(i as u32) % 1024), b);
    }
    fence(Ordering::SeqCst);
    wr32(ring + 2052, prod.wrapping_add(total as u32));
    n.send(port);
    let mut hdr = [0u8; 16];
    let mut spins = 0u32;
    let rc0 = rd32(ring + 2056);
    loop {
        let rp = rd32(ring + 2060);
        if rp.wrapping_sub(rc0) >= 16 {
            for (i, h) in hdr.iter_mut().enumerate() {
                *h = rd8(ring + 1024 + u64::from(rc0.wrapping_add(i as u32) % 1024));
            }
            let len = u32::from_le_bytes([hdr[12], hdr[13], hdr[14], hdr[15]]);
            if rp.wrapping_sub(rc0) >= 16 + len {
                break;
            }
        }
        spins += 1;
        if spins > 2_000_000 {
            return Err("no xenstore reply");
        }
        n.yield_cpu();
    }
    let ty = u32::from_le_bytes([hdr[0], hdr[1], hdr[2], hdr[3]]);
    let len = u32::from_le_bytes([hdr[12], hdr[13], hdr[14], hdr[15]]) as usize;
    let mut k = 0;
    for i in 0..len {
        let b = rd8(ring + 1024 + u64::from(rc0.wrapping_add(16 + i as u32) % 1024));
        if let Some(o) = out.get_mut(k) {
            *o = b;
            k += 1;
        }
    }
    wr32(ring + 2056, rc0.wrapping_add(16 + len as u32));
    n.send(port);
    if ty != 2 {
        return Err("xenstore read failed");
    }
    Ok(k)
}
