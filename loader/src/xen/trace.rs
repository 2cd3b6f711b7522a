//! TEMPORARY start-up profiling: timestamps of named points, printed at the handover.
#[cfg(target_os = "none")]
static MARKS: spin::Mutex<heapless_marks::Marks> = spin::Mutex::new(heapless_marks::Marks::new());

mod heapless_marks {
    pub struct Marks {
        pub buf: [(&'static str, u64, u64); 512],
        pub n: usize,
    }
    impl Marks {
        pub const fn new() -> Self {
            Self { buf: [("", 0, 0); 512], n: 0 }
        }
    }
}

/// Records `what` at `t` ns with an argument.
pub fn mark(what: &'static str, t: u64, arg: u64) {
    #[cfg(not(target_os = "none"))]
    let _ = (what, t, arg);
    #[cfg(target_os = "none")]
    {
    let mut m = MARKS.lock();
    let n = m.n;
    if let Some(slot) = m.buf.get_mut(n) {
        *slot = (what, t, arg);
        m.n = n + 1;
    }
    }
}

/// Writes and clears the marks.
#[cfg(target_os = "none")]
pub fn dump(out: &mut dyn core::fmt::Write) {
    let mut m = MARKS.lock();
    let n = m.n;
    let t0 = m.buf.first().map_or(0, |x| x.1);
    let mut prev = t0;
    for &(w, t, a) in m.buf.iter().take(n) {
        let _ = writeln!(out, "TRACE {:>7} +{:>6} {w} {a}", (t.saturating_sub(t0)) / 1000, t.saturating_sub(prev) / 1000);
        prev = t;
    }
    m.n = 0;
}
