#!/bin/busybox sh
# dom0's /init for `cargo xtask e2e` (shipped in each run's appended cpio, not in the base image).
# Starts the Xen toolstack, then runs every scenario of /guest/scenarios in order:
#   <name> <timeout-secs> <disk,disk,...|->
# with `xl create -c /guest/<name>.cfg` (disks on /dev/loop0.. via losetup, configs use
# script=block-lite), prints the guest's console between markers the host parses, destroys
# leftovers and powers off. Markers (one per line, parsed by xtask/src/e2e/report.rs):
#   E2E-BEGIN <name> | E2E-XL-EXIT <name> rc=<n> | E2E-LOG-BEGIN <name> | E2E-LOG-END <name>
#   E2E-END <name> rc=<n> timeout=<0|1> leftover=<0|1> stopped=<0|1> reason=<code|none> | E2E-ALL-DONE
# A scenario with /guest/<name>.stop is stopped by the host: once its expectations matched, the
# host types Ctrl-] (xl's detach key) into this console; xl create -c returns with the domain
# still running, and it is destroyed here at once (stopped=1).
/bin/busybox --install -s /bin
export PATH=/usr/lib/xen-4.17/bin:/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm; mount -t devpts devpts /dev/pts
ln -sf /proc/self/fd /dev/fd; ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout; ln -sf /proc/self/fd/2 /dev/stderr
mount -t tmpfs tmpfs /run
mkdir -p /run/xen /run/xenstored /run/xen-hotplug /var/log/xen/console
up() { cut -d' ' -f1 /proc/uptime; }
echo "E2E-DOM0-INIT uptime=$(up)"
for m in xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xenfs xen-blkback loop; do
  modprobe $m || echo "E2E-DOM0-FAILED modprobe $m"
done
mount -t xenfs xenfs /proc/xen
xenstored --pid-file /run/xen/xenstored.pid || echo "E2E-DOM0-FAILED xenstored"
xenconsoled --pid-file=/run/xen/xenconsoled.pid --log=guest --log-dir=/var/log/xen/console \
  || echo "E2E-DOM0-FAILED xenconsoled"
xen-init-dom0 || echo "E2E-DOM0-FAILED xen-init-dom0"
# dom0 kernel chatter (blkback, loop) would interleave with guest consoles: warnings only
echo 4 > /proc/sys/kernel/printk
echo "E2E-DOM0-READY uptime=$(up)"

gone() { ! xl domid "$1" >/dev/null 2>&1; }

exec 3< /guest/scenarios
while read -r name tmo disks <&3; do
  [ -n "$name" ] || continue
  echo "E2E-BEGIN $name uptime=$(up)"
  i=0
  if [ "$disks" != "-" ]; then
    for d in $(echo "$disks" | tr ',' ' '); do
      losetup /dev/loop$i "/guest/$d" || echo "E2E-DOM0-FAILED losetup /dev/loop$i /guest/$d"
      i=$((i+1))
    done
  fi
  if [ -s "/guest/$name.keys" ]; then
    # type into the guest console: its pty is in xenstore once xenconsoled attached it
    (
      n=0; tty=
      while [ $n -lt 100 ]; do
        id=$(xl domid "$name" 2>/dev/null) && tty=$(xenstore-read /local/domain/$id/console/tty 2>/dev/null) \
          && [ -n "$tty" ] && break
        sleep 0.2; n=$((n+1))
      done
      sleep "$(cat /guest/$name.keydelay 2>/dev/null || echo 1)"
      if [ -n "$tty" ]; then printf "$(cat /guest/$name.keys)" > "$tty"; echo "E2E-KEYS-SENT $name tty=$tty"
      else echo "E2E-DOM0-FAILED keys: no console tty for $name"; fi
    ) &
  fi
  timeout "$tmo" xl create -c "/guest/$name.cfg"
  rc=$?
  echo
  echo "E2E-XL-EXIT $name rc=$rc uptime=$(up)"
  to=0; { [ $rc -eq 124 ] || [ $rc -eq 143 ] || [ $rc -eq 137 ]; } && to=1
  stopped=0
  if [ -f "/guest/$name.stop" ] && [ $to = 0 ] && ! gone "$name"; then
    stopped=1; xl destroy "$name" || echo "E2E-DOM0-FAILED xl destroy $name"
  fi
  n=0; [ $to = 1 ] && n=20
  while ! gone "$name" && [ $n -lt 20 ]; do sleep 0.25; n=$((n+1)); done
  left=0
  if ! gone "$name"; then left=1; xl destroy "$name" || echo "E2E-DOM0-FAILED xl destroy $name"; fi
  # xl's monitor process logs the shutdown reason just after the domain died
  n=0
  while ! grep -q -e 'shut down' -e 'destroyed' "/var/log/xen/xl-$name.log" 2>/dev/null && [ $n -lt 30 ]; do
    sleep 0.1; n=$((n+1))
  done
  reason=$(sed -n 's/.*has shut down, reason code \([0-9]*\).*/\1/p' "/var/log/xen/xl-$name.log" 2>/dev/null | tail -n 1)
  echo "E2E-LOG-BEGIN $name"
  cat "/var/log/xen/console/guest-$name.log" 2>/dev/null
  echo
  # the scenario's own look at its disks after the guest ended (Scenario::dom0_after)
  [ -f "/guest/$name.after" ] && sh "/guest/$name.after"
  echo "E2E-LOG-END $name"
  echo "E2E-XLLOG-BEGIN $name"
  tail -n 15 "/var/log/xen/xl-$name.log" 2>/dev/null
  tail -n 5 /var/log/xen/xen-hotplug.log 2>/dev/null
  echo "E2E-XLLOG-END $name"
  j=0; while [ $j -lt $i ]; do losetup -d /dev/loop$j 2>/dev/null; j=$((j+1)); done
  echo "E2E-END $name rc=$rc timeout=$to leftover=$left stopped=$stopped reason=${reason:-none} uptime=$(up)"
done
exec 3<&-
# optional dom0-side extras of a run (cargo xtask bench: dd of the disk images)
[ -f /guest/after.sh ] && sh /guest/after.sh
xl list 2>/dev/null | tail -n +3 | while read -r n rest; do xl destroy "$n"; done
echo "E2E-ALL-DONE uptime=$(up)"
sync
poweroff -f
sleep 5
echo o > /proc/sysrq-trigger
