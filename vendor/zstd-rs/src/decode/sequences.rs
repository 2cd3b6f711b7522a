//! Sequences section (RFC 8878 §3.1.1.3.2): header, table modes, and the
//! decode-and-execute loop.
use super::execute::{short_or_dict_match, Exec};
use super::literals::Lits;
use super::seqtable::{Kind, SeqEntry, SeqTable, TABLE};
use super::state::{DecState, Predefined, Src, LL, ML, OF};
use super::DecoderDictionary;
use crate::bits::RevReader;
use crate::error::{Error, Result};
use crate::fse::ncount;

/// Parses the sequence count; returns (count, header bytes).
fn count(src: &[u8]) -> Result<(usize, usize)> {
    let b0 = *src.first().ok_or(Error::Truncated)? as usize;
    let byte = |i: usize| src.get(i).copied().map(|b| b as usize).ok_or(Error::Truncated);
    Ok(match b0 {
        0..=127 => (b0, 1),
        128..=254 => (((b0 - 128) << 8) + byte(1)?, 2),
        _ => (byte(1)? + (byte(2)? << 8) + 0x7F00, 3),
    })
}

fn load_table(src: &[u8], mode: u8, i: usize, st: &mut DecState) -> Result<usize> {
    let kind = [Kind::LiteralLength, Kind::Offset, Kind::MatchLength][i];
    match mode {
        0 => {
            st.seq_src[i] = Src::Predefined;
            Ok(0)
        }
        1 => {
            let s = *src.first().ok_or(Error::Truncated)?;
            st.seq_local[i].rle(s, kind)?;
            st.seq_src[i] = Src::Local;
            Ok(1)
        }
        2 => {
            let (norm, used) = ncount::read(src, kind.max_symbols(), kind.max_log())?;
            st.seq_local[i].build(&norm, kind)?;
            st.seq_src[i] = Src::Local;
            Ok(used)
        }
        _ => {
            if st.seq_src[i] == Src::None {
                return Err(Error::Corrupt("repeat mode without a previous table"));
            }
            Ok(0)
        }
    }
}

#[inline(always)]
fn state_update(e: &SeqEntry, r: &mut RevReader<'_>) -> usize {
    e.next as usize + r.read(e.nb_bits as u32) as usize
}

/// Decodes the sequences section in `src` and executes it into `ex`.
pub fn decode(
    block: &[u8],
    seq_at: usize,
    lits: Lits,
    st: &mut DecState,
    pre: &Predefined,
    dict: Option<&DecoderDictionary>,
    ex: &mut Exec<'_>,
) -> Result<()> {
    let src = &block[seq_at..];
    let (n, mut at) = count(src)?;
    if n == 0 {
        if at != src.len() {
            return Err(Error::Corrupt("bytes after an empty sequences section"));
        }
        return match lits {
            Lits::InBlock(a, b) => ex.finish(&block[a..], b - a),
            Lits::Buffer(n) => ex.finish(&st.lits, n),
        };
    }
    let modes = *src.get(at).ok_or(Error::Truncated)?;
    at += 1;
    if modes & 3 != 0 {
        return Err(Error::Reserved);
    }
    for (i, shift) in [(LL, 6), (OF, 4), (ML, 2)] {
        at += load_table(&src[at..], (modes >> shift) & 3, i, st)?;
    }
    let missing = Error::Corrupt("missing sequence table");
    let ll_t: &SeqTable = st.seq_table(LL, pre, dict).ok_or(missing)?;
    let of_t: &SeqTable = st.seq_table(OF, pre, dict).ok_or(missing)?;
    let ml_t: &SeqTable = st.seq_table(ML, pre, dict).ok_or(missing)?;
    let mut r = RevReader::new(&src[at..])?;
    let states = [r.read(ll_t.log) as usize, r.read(of_t.log) as usize, r.read(ml_t.log) as usize];
    let t = Tables { ll: ll_t.entries().ok_or(missing)?, of: of_t.entries().ok_or(missing)?, ml: ml_t.entries().ok_or(missing)? };
    let (lits, lits_len): (&[u8], usize) = match lits {
        Lits::InBlock(a, b) => (&block[a..], b - a),
        Lits::Buffer(n) => (&st.lits, n),
    };
    let mut reps = st.reps;
    // The output slice is handed to `run` by itself, so that its pointer and length stay in
    // registers there (through `ex` they were loaded again for every sequence).
    let buf = core::mem::take(&mut ex.buf);
    let res = run(&mut r, &t, states, n, lits, lits_len, &mut reps, buf, ex);
    ex.buf = buf;
    res?;
    r.refill();
    if !r.finished() {
        return Err(Error::Corrupt("sequence bitstream not consumed exactly"));
    }
    let done = ex.finish(lits, lits_len);
    st.reps = reps;
    done
}

/// The three tables of a sequences section.
struct Tables<'a> {
    ll: &'a [SeqEntry; TABLE],
    of: &'a [SeqEntry; TABLE],
    ml: &'a [SeqEntry; TABLE],
}

/// Decodes and executes `n` sequences. rpvboot: a function of its own, not inlined into the
/// frame decoder (whose size left LLVM keeping this loop's state on the stack, and made its
/// instruction count move with unrelated changes elsewhere), with the bit reader, the states,
/// the repeat offsets and the output cursor in locals, the tables indexed as fixed arrays.
#[inline(never)]
#[allow(clippy::too_many_arguments)]
fn run(
    r_io: &mut RevReader<'_>,
    t: &Tables<'_>,
    states: [usize; 3],
    n: usize,
    lits: &[u8],
    lits_len: usize,
    reps_io: &mut [u32; 3],
    buf: &mut [u8],
    ex: &mut Exec<'_>,
) -> Result<()> {
    const MASK: usize = TABLE - 1;
    let [mut ll_s, mut of_s, mut ml_s] = states;
    let mut reps = *reps_io;
    let mut r = *r_io;
    let (mut pos, mut lp) = (ex.pos, ex.lit_pos);
    let (max_end, frame_start, dict) = (ex.max_end, ex.frame_start, ex.dict);
    let mut left = n;
    while left > 0 {
        left -= 1;
        let (lle, ofe, mle) = (t.ll[ll_s & MASK], t.of[of_s & MASK], t.ml[ml_s & MASK]);
        // A refill leaves at least 57 bits: offset + match length take at most 31 + 16,
        // literal length + the three state updates at most 16 + 26. rpvboot: the second
        // refill only when the three extra-bit counts reach 31 (as the reference decoder
        // does on 64-bit hosts): below that all of it fits in one (30 + 26 < 57).
        r.refill();
        let of_value = ofe.base + r.read(ofe.add_bits as u32) as u32;
        let ml = (mle.base + r.read(mle.add_bits as u32) as u32) as usize;
        if u32::from(ofe.add_bits) + u32::from(mle.add_bits) + u32::from(lle.add_bits) >= 31 {
            r.refill();
        }
        let ll = (lle.base + r.read(lle.add_bits as u32) as u32) as usize;
        let offset = if of_value > 3 {
            let o = of_value - 3;
            reps = [o, reps[0], reps[1]];
            o
        } else {
            let idx = of_value as usize - 1 + (ll == 0) as usize;
            match idx {
                0 => reps[0],
                1 => {
                    let o = reps[1];
                    reps = [o, reps[0], reps[2]];
                    o
                }
                2 => {
                    let o = reps[2];
                    reps = [o, reps[0], reps[1]];
                    o
                }
                _ => {
                    let o = reps[0].wrapping_sub(1);
                    if o == 0 {
                        return Err(Error::Corrupt("zero offset"));
                    }
                    reps = [o, reps[0], reps[1]];
                    o
                }
            }
        } as usize;
        // Execute: one bound for the output (`max_end`, past which `SLACK` more bytes are
        // writable for the wild copies) and one for the literals.
        let end = pos + ll + ml;
        let lit_end = lp + ll;
        if end > max_end {
            return Err(ex.past_end(end));
        }
        if lit_end > lits_len {
            return Err(Error::Corrupt("sequence uses more literals than decoded"));
        }
        if ll > 16 || !copy16(buf, pos, lits, lp) {
            buf[pos..pos + ll].copy_from_slice(&lits[lp..lit_end]);
        }
        let op = pos + ll;
        lp = lit_end;
        if offset > op - frame_start || offset < 16 {
            short_or_dict_match(buf, op, frame_start, dict, offset, ml)?;
        } else {
            // The first 16 bytes lie wholly before `op` (offset >= 16); so does each next
            // chunk's source, written by then.
            let src = op - offset;
            let copied = buf.split_at_mut_checked(op).is_some_and(|(head, tail)| copy16(tail, 0, head, src));
            if !copied {
                return Err(Error::Corrupt("match outside the output"));
            }
            let mut k = 16;
            while k < ml {
                buf.copy_within(src + k..src + k + 16, op + k);
                k += 16;
            }
        }
        pos = end;
        if left > 0 {
            ll_s = state_update(&lle, &mut r);
            ml_s = state_update(&mle, &mut r);
            of_s = state_update(&ofe, &mut r);
        }
    }
    (ex.pos, ex.lit_pos) = (pos, lp);
    *reps_io = reps;
    *r_io = r;
    Ok(())
}

/// Copies 16 bytes from `src[from..]` to `dst[at..]` if both have them (a wild copy: the
/// caller uses fewer); `false` if not.
#[inline(always)]
fn copy16(dst: &mut [u8], at: usize, src: &[u8], from: usize) -> bool {
    match (dst.get_mut(at..).and_then(|d| d.first_chunk_mut::<16>()), src.get(from..).and_then(|s| s.first_chunk::<16>())) {
        (Some(d), Some(s)) => {
            *d = *s;
            true
        }
        _ => false,
    }
}
