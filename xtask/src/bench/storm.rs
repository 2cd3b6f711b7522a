//! `cargo xtask bench --storm N`: figure 5, the boot storm (issue 23).
//!
//! A provider's host reboots and every domU starts at once. In one QEMU boot, dom0 starts N
//! domUs at the same moment (N `xl create` in the background), each from its own copy of a
//! small ext2 disk holding the probe kernel, first all with one loader, then all with the
//! other (the order alternates over the rounds). Measured in dom0, by dom0's clocks:
//!
//! * the window: from just before the `xl create`s are launched to the poll at which the
//!   last probe's `RPVBOOT-PROBE T` line is in its console log (xenconsoled's log file, read
//!   with shell builtins every [`POLL`] s, so the poll itself forks only its `sleep`);
//! * dom0's CPU time over that window: the busy ticks of /proc/stat's `cpu` line (user, nice,
//!   system, irq and softirq; dom0 has one vCPU, USER_HZ 100), i.e. all of dom0 — the `xl`
//!   processes, xenstored, xenconsoled, blkback, the loop devices, and the poll itself (the
//!   same for both loaders, per second of window). Steal (time Xen gave the domUs) is not
//!   counted.
//!
//! Before the storms, each loader boots the same disk once alone as an ordinary scenario
//! (`s-rpv-1`, `s-grub-1`): it stages the kernels and the disk, and its xl config is the
//! template of the storm domUs' configs. This is a benchmark: nothing here fails on a timing.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;

use super::{bench_image, field, med_min_max, newest_run, scenario, secs, Loader};
use crate::e2e::{self, RunOpts, Stream};

/// Largest N: dom0 holds N disk copies, Xen N × [`MEM_MIB`] of domUs in QEMU's 2 GiB.
pub const STORM_MAX: u32 = 24;
/// `memory=` of a storm domU (both loaders; figure 4: pvgrub2 needs 12 MiB, rpvboot 8).
const MEM_MIB: u32 = 32;
/// Size of the storm disk (ext2 with the probe), copied N times in dom0's RAM.
const DISK_MIB: u32 = 4;
/// First loop device of the storm disks: the scenarios' are detached by then; loop0–7 exist
/// from the start, the kernel makes higher ones when their node is opened.
const LOOP_BASE: u32 = 0;
/// dom0's poll interval, s.
const POLL: &str = "0.2";
/// Goal from issue 23.
const GOAL_TIME: &str = "< pvgrub2";
const GOAL_CPU: &str = "<= pvgrub2";

/// Seconds a storm of `n` domUs gets before dom0 gives up on the missing probes.
fn storm_timeout(n: u32) -> u32 {
    60 + 15 * n
}

/// The name of the scenario that boots `l` alone; its config is the storm template.
fn alone(l: Loader) -> String {
    format!("s-{}-1", l.tag())
}

/// The storms in run order: (round, loader, N).
fn plan(ns: &[u32], rounds: u32) -> Vec<(u32, Loader, u32)> {
    let mut v = Vec::new();
    for r in 0..rounds {
        let order = if r % 2 == 0 { [Loader::Rpv, Loader::Grub] } else { [Loader::Grub, Loader::Rpv] };
        for &n in ns {
            for l in order {
                v.push((r, l, n));
            }
        }
    }
    v
}

/// Runs the storms in one QEMU boot and returns the run directory.
pub fn boot(ns: &[u32], rounds: u32, grub: &Path) -> Result<PathBuf> {
    let (_, gz) = crate::probe::build_probe()?;
    let probe = std::fs::read(&gz)?;
    let disk = bench_image(
        "storm-ext2",
        "ext2",
        DISK_MIB,
        &[("probe.gz", &probe)],
        "default 0\ntimeout 0\ntitle bench\n  kernel /probe.gz bench\n",
        "set timeout=0\nmenuentry bench {\n  linux /probe.gz bench\n}\n",
    )?;
    let list: Vec<_> = [Loader::Rpv, Loader::Grub]
        .into_iter()
        .map(|l| scenario(&alone(l), l, grub, disk.clone(), MEM_MIB, 60))
        .collect();
    let storms = plan(ns, rounds.max(1));
    let nmax = ns.iter().copied().max().unwrap_or(0);
    // Boot budget, the two lone domUs, and per storm its timeout plus set-up and teardown.
    let budget: u64 = 240 + 2 * 90 + storms.iter().map(|&(_, _, n)| u64::from(storm_timeout(n)) + 60).sum::<u64>();
    let opts = RunOpts {
        stream: Stream::Progress,
        kernel: None,
        qemu_timeout: Some(budget),
        after: Some(script(&storms, nmax)),
    };
    println!(
        "bench: boot storm, N = {ns:?}, {} round(s): {} storms after the two lone domUs (hard timeout {budget} s)",
        rounds.max(1),
        storms.len()
    );
    e2e::run_scenarios(&list, &opts)?;
    newest_run(&alone(Loader::Rpv))
}

/// dom0's side (run after the lone scenarios): copies the disk `nmax` times onto loop devices,
/// then runs the storms in order. Lines for the host:
/// `BENCH-STORM loader=L n=N round=R t0=… t1=… busy=TICKS idle=… steal=… missing=M hz=100`
/// and, per domU, `BENCH-STORM-PROBE <name> seen=<uptime> <the probe's T line>`.
fn script(storms: &[(u32, Loader, u32)], nmax: u32) -> String {
    let mut s = format!(
        r#"now() {{ read -r T _ < /proc/uptime; }}
cpu() {{ read -r _ u n s i w q sq st _ < /proc/stat; C=$((u+n+s+q+sq)); I=$((i+w)); S=${{st:-0}}; }}
mkdir -p /run/storm
img=$(awk '$1=="{rpv}"{{print $3}}' /guest/scenarios)
j=0
while [ $j -lt {nmax} ]; do
  l=$(({base}+j))
  [ -b /dev/loop$l ] || mknod /dev/loop$l b 7 $l
  cp "/guest/$img" /run/storm/d$j.img || echo "BENCH-STORM-FAILED copy $j"
  k=0
  until losetup /dev/loop$l /run/storm/d$j.img; do
    k=$((k+1)); [ $k -ge 10 ] && {{ echo "BENCH-STORM-FAILED disk $j on /dev/loop$l"; break; }}; sleep 0.5
  done
  cat /dev/loop$l > /dev/null
  j=$((j+1))
done
storm() {{
  L=$1; N=$2; R=$3; tmo=$4; names=; j=0
  while [ $j -lt $N ]; do
    nm=st$R-$L-$N-$j
    sed -e "s/^name = .*/name = \"$nm\"/" -e "s#/dev/loop0'#/dev/loop$(({base}+j))'#" "/guest/s-$L-1.cfg" > /run/storm/$nm.cfg
    rm -f "/var/log/xen/console/guest-$nm.log"
    names="$names $nm"; j=$((j+1))
  done
  sync; sleep 2
  cpu; c0=$C; i0=$I; s0=$S; now; t0=$T
  for nm in $names; do xl create -q /run/storm/$nm.cfg > /run/storm/$nm.xl 2>&1 & done
  pending=$names; now
  while [ -n "$pending" ] && [ "${{T%.*}}" -lt $((${{t0%.*}}+tmo)) ]; do
    sleep {poll}
    left=
    for nm in $pending; do
      f=0
      if [ -f "/var/log/xen/console/guest-$nm.log" ]; then
        while read -r x; do case "$x" in *"RPVBOOT-PROBE T "*) f=1; break;; esac; done < "/var/log/xen/console/guest-$nm.log"
      fi
      if [ $f = 1 ]; then now; eval "seen_$(echo $nm | tr - _)=$T"; else left="$left $nm"; fi
    done
    pending=$left; now
  done
  now; t1=$T; cpu
  miss=0; for nm in $pending; do miss=$((miss+1)); done
  echo "BENCH-STORM loader=$L n=$N round=$R t0=$t0 t1=$t1 busy=$((C-c0)) idle=$((I-i0)) steal=$((S-s0)) missing=$miss hz=100"
  [ $miss = 0 ] && wait
  k=0
  while [ $k -lt 40 ]; do
    live=0; for nm in $names; do xl domid $nm > /dev/null 2>&1 && live=1; done
    [ $live = 0 ] && break; sleep 0.5; k=$((k+1))
  done
  for nm in $names; do
    xl domid $nm > /dev/null 2>&1 && xl destroy $nm
    eval "v=\$seen_$(echo $nm | tr - _)"
    echo "BENCH-STORM-PROBE $nm seen=${{v:-none}} $(grep -m1 'RPVBOOT-PROBE T ' /var/log/xen/console/guest-$nm.log 2>/dev/null)"
    [ -n "$v" ] || tail -n 3 /run/storm/$nm.xl
  done
  sleep 2
}}
"#,
        rpv = alone(Loader::Rpv),
        base = LOOP_BASE,
        poll = POLL,
    );
    for &(r, l, n) in storms {
        let _ = writeln!(s, "storm {} {n} {r} {}", l.tag(), storm_timeout(n));
    }
    let _ = writeln!(
        s,
        "j=0; while [ $j -lt {nmax} ]; do losetup -d /dev/loop$(({LOOP_BASE}+j)) 2>/dev/null; j=$((j+1)); done"
    );
    s
}

/// One storm as dom0 reported it.
#[derive(Clone, Debug, PartialEq)]
pub struct Storm {
    loader: Loader,
    n: u32,
    round: u32,
    /// Launch → last probe seen, s.
    secs: f64,
    /// dom0 busy CPU over the window, s.
    cpu: f64,
    /// Probes never seen before the storm's timeout.
    missing: u32,
    /// Each domU's own `xl create` (vCPU creation) → probe entry, s (the probe's clock).
    per_domu: Vec<f64>,
}

/// Figure 5's lines from the serial log.
pub fn parse(serial: &str) -> Vec<Storm> {
    let mut out: Vec<Storm> = Vec::new();
    for l in serial.lines() {
        if l.contains("BENCH-STORM ") {
            let num = |k: &str| field(l, k).and_then(|x| x.parse::<f64>().ok());
            let loader = match field(l, "loader") {
                Some("rpv") => Loader::Rpv,
                Some("grub") => Loader::Grub,
                _ => continue,
            };
            let (Some(n), Some(round), Some(t0), Some(t1), Some(busy)) =
                (num("n"), num("round"), num("t0"), num("t1"), num("busy"))
            else {
                continue;
            };
            let hz = num("hz").filter(|h| *h > 0.0).unwrap_or(100.0);
            out.push(Storm {
                loader,
                n: n as u32,
                round: round as u32,
                secs: t1 - t0,
                cpu: busy / hz,
                missing: num("missing").unwrap_or(0.0) as u32,
                per_domu: Vec::new(),
            });
        } else if let Some(rest) = l.split_once("BENCH-STORM-PROBE ").map(|(_, r)| r) {
            // Name st<R>-<loader>-<N>-<j>: belongs to the storm with those R, loader, N.
            let mut parts = rest.split_whitespace().next().unwrap_or("").split('-');
            let key = (parts.next(), parts.next(), parts.next());
            let ns: Option<f64> = field(rest, "vcpu_ns").and_then(|x| x.parse().ok());
            if let ((Some(r), Some(t), Some(n)), Some(ns)) = (key, ns) {
                let hit = out
                    .iter_mut()
                    .rev()
                    .find(|s| format!("st{}", s.round) == r && s.loader.tag() == t && s.n.to_string() == n);
                if let Some(s) = hit {
                    s.per_domu.push(ns / 1e9);
                }
            }
        }
    }
    out
}

/// Figure 5's rows: per N, the window and dom0's CPU, each loader's median (min–max) over
/// the rounds and the same-round ratios; then the per-storm samples for the notes.
pub fn rows(storms: &[Storm]) -> Vec<(String, String, String, Vec<f64>, &'static str)> {
    let mut by_n: BTreeMap<u32, Vec<&Storm>> = BTreeMap::new();
    for s in storms {
        by_n.entry(s.n).or_default().push(s);
    }
    let mut rows = Vec::new();
    for (n, v) in by_n {
        let get = |l: Loader, f: fn(&Storm) -> f64| -> Vec<f64> {
            v.iter().filter(|s| s.loader == l && s.missing == 0).map(|s| f(s)).collect()
        };
        let pairs = |f: fn(&Storm) -> f64| -> Vec<f64> {
            let mut r = Vec::new();
            for a in v.iter().filter(|s| s.loader == Loader::Rpv && s.missing == 0) {
                let b = v.iter().find(|b| b.loader == Loader::Grub && b.round == a.round && b.missing == 0);
                if let Some(b) = b.filter(|b| f(b) > 0.0) {
                    r.push(f(a) / f(b));
                }
            }
            r
        };
        let missing = |l: Loader| v.iter().filter(|s| s.loader == l).map(|s| s.missing).sum::<u32>();
        let none = |l: Loader| format!("n/a ({} probe(s) not reached)", missing(l));
        let fmt = |l: Loader, f: fn(&Storm) -> f64| secs(&get(l, f), &none(l));
        let time: fn(&Storm) -> f64 = |s| s.secs;
        let cpu: fn(&Storm) -> f64 = |s| s.cpu;
        let per: fn(&Storm) -> f64 = |s| if s.per_domu.is_empty() { f64::NAN } else { med_min_max(&s.per_domu).0 };
        rows.push((
            format!("boot storm, {n} domUs at once: `xl create`s launched → last probe kernel entry (dom0 uptime)"),
            fmt(Loader::Rpv, time),
            fmt(Loader::Grub, time),
            pairs(time),
            GOAL_TIME,
        ));
        rows.push((
            format!("boot storm, {n} domUs: dom0 CPU time over that window (/proc/stat busy)"),
            fmt(Loader::Rpv, cpu),
            fmt(Loader::Grub, cpu),
            pairs(cpu),
            GOAL_CPU,
        ));
        let per_ok = |l: Loader| get(l, per).into_iter().filter(|x| x.is_finite()).collect::<Vec<_>>();
        rows.push((
            format!("boot storm, {n} domUs: median domU's own xl create → entry (probe's vCPU clock)"),
            secs(&per_ok(Loader::Rpv), &none(Loader::Rpv)),
            secs(&per_ok(Loader::Grub), &none(Loader::Grub)),
            pairs(per).into_iter().filter(|x| x.is_finite()).collect(),
            "(context)",
        ));
    }
    rows
}

/// How many rounds the storms ran (for the report's header).
pub fn rounds(storms: &[Storm]) -> u32 {
    storms.iter().map(|s| s.round + 1).max().unwrap_or(0)
}

/// One line per storm for the report's notes.
pub fn notes(storms: &[Storm]) -> String {
    let mut s = String::new();
    for t in storms {
        let _ = writeln!(
            s,
            "- storm round {} {} N={}: {:.2} s, dom0 CPU {:.2} s, {} probe(s) missing, per-domU entry {}",
            t.round,
            t.loader.tag(),
            t.n,
            t.secs,
            t.cpu,
            t.missing,
            if t.per_domu.is_empty() {
                "n/a".to_string()
            } else {
                let (m, lo, hi) = med_min_max(&t.per_domu);
                format!("{m:.2} s ({lo:.2}–{hi:.2})")
            }
        );
    }
    s
}

/// How figure 5 is measured, for the report.
pub fn method() -> String {
    format!(
        "Figure 5 (boot storm, `--storm N`): after each loader booted the disk once alone, dom0 copies a \
         {DISK_MIB} MiB ext2 probe disk N times onto loop devices (read once into the page cache), and \
         per storm launches N `xl create` (no console) in the background at once, {MEM_MIB} MiB each; the \
         window runs from just before the launch to dom0's poll (every {POLL} s, shell builtins on \
         xenconsoled's log files) that saw the last probe's `RPVBOOT-PROBE T` line. dom0 CPU = the busy \
         ticks (user+nice+system+irq+softirq) of /proc/stat over the window, dom0 having one vCPU: \
         every process and backend in dom0, including the poll; steal is not counted. `xl` serialises \
         domain creation under its own lock, as on a real host, so the loaders of the first domUs run \
         while later domains are built. Ratios pair the storms of the same round and N; rounds \
         alternate which loader storms first."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The host side reads what the dom0 script prints (the field names of `script`).
    #[test]
    fn parses_storm_lines() {
        let serial = "[ 90.0] BENCH-STORM loader=rpv n=2 round=0 t0=100.50 t1=110.70 busy=512 idle=3 steal=40 missing=0 hz=100\n\
             [ 90.1] BENCH-STORM-PROBE st0-rpv-2-0 seen=104.10 RPVBOOT-PROBE T vcpu_ns=2000000000 mod=0\n\
             [ 90.1] BENCH-STORM-PROBE st0-rpv-2-1 seen=110.70 RPVBOOT-PROBE T vcpu_ns=4000000000 mod=0\n\
             [ 99.0] BENCH-STORM loader=grub n=2 round=0 t0=120.00 t1=140.40 busy=1024 idle=0 steal=9 missing=0 hz=100\n\
             [ 99.1] BENCH-STORM-PROBE st0-grub-2-0 seen=none\n";
        let v = parse(serial);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].loader, Loader::Rpv);
        assert!((v[0].secs - 10.2).abs() < 1e-9);
        assert!((v[0].cpu - 5.12).abs() < 1e-9);
        assert_eq!(v[0].per_domu, vec![2.0, 4.0]);
        assert!(v[1].per_domu.is_empty());
        let r = rows(&v);
        assert_eq!(r.len(), 3);
        assert!((r[0].3[0] - 10.2 / 20.4).abs() < 1e-9);
        assert!((r[1].3[0] - 0.5).abs() < 1e-9);
    }

    #[test]
    fn plan_alternates_order() {
        let p = plan(&[8], 2);
        assert_eq!(p, vec![(0, Loader::Rpv, 8), (0, Loader::Grub, 8), (1, Loader::Grub, 8), (1, Loader::Rpv, 8)]);
    }

    #[test]
    fn script_runs_every_storm() {
        let s = script(&plan(&[8, 16], 1), 16);
        assert!(s.contains("storm rpv 8 0 "));
        assert!(s.contains("storm grub 16 0 "));
        assert!(s.contains("/guest/s-$L-1.cfg"));
    }
}
