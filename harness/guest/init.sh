#!/bin/sh
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
say() { echo "vb-$*"; }
ms() { read up rest </proc/uptime; f=${up#*.}; f=${f#0}; echo $(( ${up%.*} * 1000 + f * 10 )); }
IP=; WS=0; CHUNK=16; RATE=0; REF=8; CHECK=2000
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    vb.ip=*) IP=${arg#vb.ip=} ;;
    vb.ws=*) WS=${arg#vb.ws=} ;;
    vb.chunk=*) CHUNK=${arg#vb.chunk=} ;;
    vb.rate=*) RATE=${arg#vb.rate=} ;;
    vb.ref=*) REF=${arg#vb.ref=} ;;
    vb.check=*) CHECK=${arg#vb.check=} ;;
  esac
done
say "boot uptime_ms=$(ms)"
for m in $(cat /etc/modules.order); do insmod "/lib/modules/$m" || say "error insmod $m"; done
ip link set lo up
if ip link show eth0 >/dev/null 2>&1; then
  ip link set eth0 up
  [ -n "$IP" ] && ip addr add "$IP" dev eth0
fi
mkdir -p /work
mount -t tmpfs -o size=$((WS + CHUNK * 2 + REF + 8))m tmpfs /work
dd if=/dev/urandom of=/work/ref bs=1M count=$REF 2>/dev/null
REFSUM=$(md5sum </work/ref)
SLOTS=0
if [ "$WS" -gt 0 ]; then
  SLOTS=$((WS / CHUNK))
  dd if=/dev/urandom of=/work/a bs=1M count=$CHUNK 2>/dev/null
  dd if=/dev/urandom of=/work/b bs=1M count=$CHUNK 2>/dev/null
  ASUM=$(md5sum </work/a)
  BSUM=$(md5sum </work/b)
  echo 0 >/work/pos
  writer() {
    i=0; pass=0; written=0; last=$(ms); next=$last
    while :; do
      if [ $((pass % 2)) -eq 0 ]; then src=/work/a; else src=/work/b; fi
      echo $i >/work/pos
      dd if=$src of=/work/ws bs=1M seek=$((i * CHUNK)) count=$CHUNK conv=notrunc 2>/dev/null
      i=$((i + 1))
      if [ $i -ge $SLOTS ]; then i=0; pass=$((pass + 1)); [ $pass -eq 1 ] && : >/work/filled; fi
      written=$((written + CHUNK))
      now=$(ms)
      if [ "$RATE" -gt 0 ]; then
        next=$((next + CHUNK * 1000 / RATE))
        # after a pause (e.g. the migration's stop) pace on from now instead of bursting to catch up
        [ $((now - next)) -gt 200 ] && next=$now
        [ $next -gt $now ] && usleep $(((next - now) * 1000))
      fi
      if [ $((now - last)) -ge 5000 ]; then
        say "workload rate_mbps=$((written * 1000 / (now - last))) pass=$pass"
        written=0; last=$now
      fi
    done
  }
  writer &
  # the workload yields to the kernel's network processing (ksoftirqd runs at nice 0): a busy
  # guest must still answer the probes promptly, as a real guest's network stack would
  renice -n 19 -p $! >/dev/null
  while [ ! -e /work/filled ]; do usleep 100000; done
fi
say "ready ip=$IP ws_mb=$WS chunk_mb=$CHUNK rate_mbps=$RATE ref_mb=$REF uptime_ms=$(ms)"
checker() {
n=0
while :; do
  n=$((n + 1))
  say "check $n begin"
  bad=; raced=
  [ "$(md5sum </work/ref)" = "$REFSUM" ] || bad="reference memory written at boot changed"
  if [ $SLOTS -gt 0 ]; then
    p0=$(cat /work/pos); p0=${p0:-0}
    j=$(((p0 + SLOTS / 2) % SLOTS))
    sum=$(dd if=/work/ws bs=1M skip=$((j * CHUNK)) count=$CHUNK 2>/dev/null | md5sum)
    p1=$(cat /work/pos); p1=${p1:-$p0}
    if [ "$sum" != "$ASUM" ] && [ "$sum" != "$BSUM" ]; then
      ahead=$(((j - p0 + SLOTS) % SLOTS)); moved=$(((p1 - p0 + SLOTS) % SLOTS))
      if [ $moved -ge $ahead ]; then raced=1; else bad="${bad:+$bad; }working-set slot $j matches neither written block"; fi
    fi
  fi
  if [ -n "$bad" ]; then say "check $n FAIL $bad"
  elif [ -n "$raced" ]; then say "check $n raced"
  else say "check $n ok"; fi
  usleep $((CHECK * 1000))
done
}
checker &
renice -n 19 -p $! >/dev/null
# init must never exit: the kernel panics when it does
while :; do wait; sleep 3600; done
