//! blkif wire format, x86_64 native ABI: `xen/include/public/io/blkif.h`.
//!
//! The `#[repr(C)]` structs document the layout and are checked against the header's sizes;
//! the ring itself is written field by field at these offsets (`encode`/`decode`), so no
//! reference into shared memory is ever formed.

use super::ring::RingProto;

/// `BLKIF_OP_READ`.
pub const OP_READ: u8 = 0;
/// `BLKIF_OP_WRITE`.
pub const OP_WRITE: u8 = 1;
/// `BLKIF_OP_FLUSH_DISKCACHE` (when the backend writes `feature-flush-cache` = 1).
pub const OP_FLUSH_DISKCACHE: u8 = 3;
/// `BLKIF_RSP_EOPNOTSUPP`: the backend does not do this operation.
pub const RSP_EOPNOTSUPP: i16 = -2;
/// `BLKIF_OP_INDIRECT`.
pub const OP_INDIRECT: u8 = 6;
/// `BLKIF_MAX_SEGMENTS_PER_REQUEST`.
pub const MAX_SEGMENTS: usize = 11;
/// `BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST`.
pub const MAX_INDIRECT_PAGES: usize = 8;
/// Segment descriptors per indirect page (4096 / 8).
pub const SEGS_PER_INDIRECT_PAGE: usize = 512;
/// `BLKIF_RSP_OKAY`.
pub const RSP_OKAY: i16 = 0;

/// `struct blkif_request_segment`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    /// Grant of the data page.
    pub gref: u32,
    /// First 512-byte sector inside the page (inclusive).
    pub first_sect: u8,
    /// Last 512-byte sector inside the page (inclusive).
    pub last_sect: u8,
    /// Padding.
    pub pad: u16,
}

/// `struct blkif_request`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct RawRequest {
    /// `BLKIF_OP_*`.
    pub operation: u8,
    /// 1..=11.
    pub nr_segments: u8,
    /// The virtual device.
    pub handle: u16,
    /// Echoed in the response.
    pub id: u64,
    /// Start, in 512-byte sectors.
    pub sector_number: u64,
    /// Data pages.
    pub seg: [Segment; MAX_SEGMENTS],
}

/// `struct blkif_request_indirect`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct RawIndirectRequest {
    /// `BLKIF_OP_INDIRECT`.
    pub operation: u8,
    /// The real operation.
    pub indirect_op: u8,
    /// Segments described by the indirect pages.
    pub nr_segments: u16,
    /// Padding (x86_64 `uint32_t _pad1`).
    pub pad1: u32,
    /// Echoed in the response.
    pub id: u64,
    /// Start, in 512-byte sectors.
    pub sector_number: u64,
    /// The virtual device.
    pub handle: u16,
    /// Padding.
    pub pad2: u16,
    /// Grants of the pages holding the segment descriptors.
    pub indirect_grefs: [u32; MAX_INDIRECT_PAGES],
    /// Padding (x86_64 `uint32_t _pad3`).
    pub pad3: u32,
}

/// `struct blkif_response`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct RawResponse {
    /// The request's id.
    pub id: u64,
    /// The request's operation.
    pub operation: u8,
    /// Padding.
    pub pad: u8,
    /// `BLKIF_RSP_*`.
    pub status: i16,
}

const _: () = assert!(core::mem::size_of::<Segment>() == 8);
const _: () = assert!(core::mem::size_of::<RawRequest>() == 112);
const _: () = assert!(core::mem::size_of::<RawIndirectRequest>() == 64);
const _: () = assert!(core::mem::size_of::<RawResponse>() == 16);

/// A request as the driver builds it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Up to 11 segments in the slot.
    Direct {
        /// Echoed id.
        id: u64,
        /// Device handle.
        handle: u16,
        /// 512-byte sector.
        sector: u64,
        /// 1..=11 segments.
        segs: heapless_segs::Segs,
    },
    /// `BLKIF_OP_WRITE`: up to 11 segments of our pages to the disk.
    Write {
        /// Echoed id.
        id: u64,
        /// Device handle.
        handle: u16,
        /// 512-byte sector.
        sector: u64,
        /// 1..=11 segments.
        segs: heapless_segs::Segs,
    },
    /// `BLKIF_OP_FLUSH_DISKCACHE` with no data: earlier writes made durable.
    Flush {
        /// Echoed id.
        id: u64,
        /// Device handle.
        handle: u16,
    },
    /// Segments in separately granted pages.
    Indirect {
        /// Echoed id.
        id: u64,
        /// Device handle.
        handle: u16,
        /// 512-byte sector.
        sector: u64,
        /// Total segments.
        nr_segments: u16,
        /// Grants of the indirect pages (1..=8 used).
        grefs: [u32; MAX_INDIRECT_PAGES],
    },
}

/// A fixed array of up to 11 segments (no allocation per request).
pub mod heapless_segs {
    use super::{Segment, MAX_SEGMENTS};
    /// Up to [`MAX_SEGMENTS`] segments.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    pub struct Segs {
        segs: [Segment; MAX_SEGMENTS],
        len: u8,
    }
    impl Segs {
        /// Adds a segment; false when full.
        pub fn push(&mut self, s: Segment) -> bool {
            match self.segs.get_mut(usize::from(self.len)) {
                Some(slot) => {
                    *slot = s;
                    self.len += 1;
                    true
                }
                None => false,
            }
        }
        /// The segments.
        pub fn as_slice(&self) -> &[Segment] {
            self.segs.get(..usize::from(self.len)).unwrap_or(&[])
        }
    }
}

/// A response, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Response {
    /// The id we gave.
    pub id: u64,
    /// Operation echoed.
    pub operation: u8,
    /// `BLKIF_RSP_*`.
    pub status: i16,
}

/// Encodes a segment descriptor (also used inside indirect pages).
pub fn encode_segment(s: &Segment) -> [u8; 8] {
    let mut b = [0u8; 8];
    b[..4].copy_from_slice(&s.gref.to_le_bytes());
    b[4] = s.first_sect;
    b[5] = s.last_sect;
    b
}

/// Decodes a segment descriptor.
pub fn decode_segment(b: &[u8]) -> Segment {
    let mut g = [0u8; 4];
    if let Some(src) = b.get(..4) {
        g.copy_from_slice(src);
    }
    Segment {
        gref: u32::from_le_bytes(g),
        first_sect: b.get(4).copied().unwrap_or(0),
        last_sect: b.get(5).copied().unwrap_or(0),
        pad: 0,
    }
}

fn put(slot: &mut [u8], off: usize, data: &[u8]) {
    if let Some(dst) = off.checked_add(data.len()).and_then(|end| slot.get_mut(off..end)) {
        dst.copy_from_slice(data);
    }
}

fn get<const N: usize>(slot: &[u8], off: usize) -> [u8; N] {
    let mut b = [0u8; N];
    if let Some(src) = off.checked_add(N).and_then(|end| slot.get(off..end)) {
        b.copy_from_slice(src);
    }
    b
}

/// The blkif ring format.
#[derive(Debug)]
pub struct Blkif;

impl RingProto for Blkif {
    type Req = Request;
    type Rsp = Response;
    const SLOT_SIZE: usize = 112;

    fn encode(req: &Request, slot: &mut [u8]) {
        slot.fill(0);
        match req {
            Request::Direct { id, handle, sector, segs } | Request::Write { id, handle, sector, segs } => {
                let op = if matches!(req, Request::Write { .. }) { OP_WRITE } else { OP_READ };
                let n = segs.as_slice().len();
                put(slot, 0, &[op, u8::try_from(n).unwrap_or(0)]);
                put(slot, 2, &handle.to_le_bytes());
                put(slot, 8, &id.to_le_bytes());
                put(slot, 16, &sector.to_le_bytes());
                for (i, s) in segs.as_slice().iter().enumerate() {
                    put(slot, 24 + i * 8, &encode_segment(s));
                }
            }
            Request::Flush { id, handle } => {
                put(slot, 0, &[OP_FLUSH_DISKCACHE, 0]);
                put(slot, 2, &handle.to_le_bytes());
                put(slot, 8, &id.to_le_bytes());
            }
            Request::Indirect { id, handle, sector, nr_segments, grefs } => {
                put(slot, 0, &[OP_INDIRECT, OP_READ]);
                put(slot, 2, &nr_segments.to_le_bytes());
                put(slot, 8, &id.to_le_bytes());
                put(slot, 16, &sector.to_le_bytes());
                put(slot, 24, &handle.to_le_bytes());
                for (i, g) in grefs.iter().enumerate() {
                    put(slot, 28 + i * 4, &g.to_le_bytes());
                }
            }
        }
    }

    fn decode(slot: &[u8]) -> Response {
        Response {
            id: u64::from_le_bytes(get(slot, 0)),
            operation: get::<1>(slot, 8)[0],
            status: i16::from_le_bytes(get(slot, 10)),
        }
    }
}

/// Decodes a request slot: the backend's view (used by the test backend).
pub fn decode_request(slot: &[u8]) -> Option<Request> {
    let op = get::<1>(slot, 0)[0];
    let id = u64::from_le_bytes(get(slot, 8));
    let sector = u64::from_le_bytes(get(slot, 16));
    match op {
        OP_READ | OP_WRITE => {
            let n = usize::from(get::<1>(slot, 1)[0]);
            let mut segs = heapless_segs::Segs::default();
            for i in 0..n.min(MAX_SEGMENTS) {
                segs.push(decode_segment(&get::<8>(slot, 24 + i * 8)));
            }
            let handle = u16::from_le_bytes(get(slot, 2));
            Some(if op == OP_WRITE {
                Request::Write { id, handle, sector, segs }
            } else {
                Request::Direct { id, handle, sector, segs }
            })
        }
        OP_FLUSH_DISKCACHE => Some(Request::Flush { id, handle: u16::from_le_bytes(get(slot, 2)) }),
        OP_INDIRECT => {
            let mut grefs = [0u32; MAX_INDIRECT_PAGES];
            for (i, g) in grefs.iter_mut().enumerate() {
                *g = u32::from_le_bytes(get(slot, 28 + i * 4));
            }
            Some(Request::Indirect {
                id,
                handle: u16::from_le_bytes(get(slot, 24)),
                sector,
                nr_segments: u16::from_le_bytes(get(slot, 2)),
                grefs,
            })
        }
        _ => None,
    }
}

/// Encodes a response slot (test backend).
pub fn encode_response(r: &Response, slot: &mut [u8]) {
    put(slot, 0, &r.id.to_le_bytes());
    put(slot, 8, &[r.operation, 0]);
    put(slot, 10, &r.status.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_offsets_match_blkif_h() {
        assert_eq!(core::mem::offset_of!(RawRequest, id), 8);
        assert_eq!(core::mem::offset_of!(RawRequest, sector_number), 16);
        assert_eq!(core::mem::offset_of!(RawRequest, seg), 24);
        assert_eq!(core::mem::offset_of!(RawIndirectRequest, id), 8);
        assert_eq!(core::mem::offset_of!(RawIndirectRequest, handle), 24);
        assert_eq!(core::mem::offset_of!(RawIndirectRequest, indirect_grefs), 28);
        assert_eq!(core::mem::offset_of!(RawResponse, status), 10);
    }

    #[test]
    fn request_roundtrip() {
        let mut segs = heapless_segs::Segs::default();
        assert!(segs.push(Segment { gref: 9, first_sect: 0, last_sect: 7, pad: 0 }));
        let r = Request::Direct { id: 77, handle: 51712, sector: 1234, segs: segs.clone() };
        let mut slot = [0u8; 112];
        Blkif::encode(&r, &mut slot);
        assert_eq!(&slot[..2], &[0, 1]);
        assert_eq!(decode_request(&slot), Some(r));
        let r = Request::Write { id: 78, handle: 51712, sector: 9, segs: segs.clone() };
        Blkif::encode(&r, &mut slot);
        assert_eq!(&slot[..2], &[OP_WRITE, 1]);
        assert_eq!(decode_request(&slot), Some(r));
        let r = Request::Flush { id: 79, handle: 51712 };
        Blkif::encode(&r, &mut slot);
        assert_eq!(&slot[..2], &[OP_FLUSH_DISKCACHE, 0]);
        assert_eq!(decode_request(&slot), Some(r));
        let r = Request::Indirect { id: 5, handle: 1, sector: 8, nr_segments: 600, grefs: [1, 2, 0, 0, 0, 0, 0, 0] };
        Blkif::encode(&r, &mut slot);
        assert_eq!(decode_request(&slot), Some(r));
    }
}
