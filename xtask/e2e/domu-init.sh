#!/bin/busybox sh
# /init of the Linux domU initrd (target/e2e/out/domu-initrd.gz): proves a Linux PV guest booted
# (directly or through a bootloader such as rpvboot or pvgrub2) and can read its first disk.
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "DOMU-INIT-START uptime=$(cut -d' ' -f1 /proc/uptime)"
ln -sf /bin/busybox /sbin/modprobe   # the kernel's request_module() runs /sbin/modprobe
modprobe xen-blkfront
modprobe crc32c_generic              # ext4 needs crc32c through the crypto API
modprobe ext4
i=0
while [ ! -b /dev/xvda ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
if [ -b /dev/xvda ]; then
  echo "DOMU-XVDA-PRESENT size=$(cat /sys/block/xvda/size) sectors"
  dev=/dev/xvda; [ -b /dev/xvda1 ] && dev=/dev/xvda1
  if mount -o ro "$dev" /mnt; then
    [ -e /mnt/hello.txt ] && echo "DOMU-DISK-READ: $(cat /mnt/hello.txt)"
    umount /mnt
  else
    echo "DOMU-DISK-MOUNT-FAILED"
  fi
else
  echo "DOMU-NO-XVDA"
fi
echo "DOMU-CMDLINE: $(cat /proc/cmdline)"
echo "DOMU-BOOTED-OK uptime=$(cut -d' ' -f1 /proc/uptime)"
sync
poweroff -f
