#!/bin/bash
# Verbs tier (npm run test:verbs): runs kiseki's libfabric chunk path over real RDMA verbs
# (verbs;ofi_rxm on Soft-RoCE, rdma_rxe) inside a nested QEMU guest, because the CI kernel has no
# module support and no RDMA subsystem (research/fabric.md §2). The guest boots Debian's stock 6.1
# kernel (downloaded as a .deb and unpacked, never installed) under TCG, shares the host's root
# filesystem read-only over 9p, creates rxe0 on a veth inside the guest, and runs:
#   1. kiseki-client transport probe --json   → must choose "verbs" (ACTIVE rxe0 port + fi_getinfo(verbs))
#   2. dist/test/helpers/verbs-guest-check.js → listener + client processes move chunks over verbs;ofi_rxm
#      (fi_read of registered envelopes, FI_MR_LOCAL/VIRT_ADDR/ALLOCATED/PROV_KEY) with SHA-256 checks
# Needs root; installs what it lacks of: qemu-system-x86 busybox-static cpio kmod (only this tier
# needs them, so they are not in scripts/apt-packages*.txt, which every set-up installs).
# Timing is meaningless under TCG; this tier checks correctness only. Not part of the default suite.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${KISEKI_VERBS_WORK:-$ROOT/build/verbs-qemu}"
TIMEOUT="${KISEKI_VERBS_TIMEOUT:-900}"

PKGS=(qemu-system-x86 busybox-static cpio kmod)
if ! command -v qemu-system-x86_64 >/dev/null || ! command -v busybox >/dev/null || ! command -v cpio >/dev/null || ! command -v depmod >/dev/null; then
  echo "verbs-qemu: installing ${PKGS[*]}"
  apt-get install -y --no-install-recommends "${PKGS[@]}" >/dev/null || { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${PKGS[@]}" >/dev/null; }
fi
for tool in qemu-system-x86_64 busybox cpio modprobe depmod dpkg-deb apt-get; do
  command -v "$tool" >/dev/null || { echo "verbs-qemu: missing $tool; apt-get install -y ${PKGS[*]}" >&2; exit 2; }
done
[ -f "$ROOT/dist/test/helpers/verbs-guest-check.js" ] || { echo "verbs-qemu: run npm run build:ts first" >&2; exit 2; }
[ -f "$ROOT/build/Release/kiseki_native.node" ] || { echo "verbs-qemu: run npm run build:native first" >&2; exit 2; }

mkdir -p "$WORK"
cd "$WORK"

# 1. kernel: the newest 6.1 linux-image in the archive, unpacked only
if [ ! -f vmlinuz ]; then
  PKG="$(apt-cache search --names-only '^linux-image-6\.1\.0-[0-9]+-amd64$' | awk '{print $1}' | sort -V | tail -1)"
  [ -n "$PKG" ] || { echo "verbs-qemu: no linux-image-6.1.0-*-amd64 in apt sources (apt-get update?)" >&2; exit 2; }
  rm -rf kroot ./*.deb
  apt-get download "$PKG"
  dpkg-deb -x ./*.deb kroot
  K="${PKG#linux-image-}"
  depmod -b kroot "$K"
  cp "kroot/boot/vmlinuz-$K" vmlinuz
  echo "$K" > kernel-version
fi
K="$(cat kernel-version)"

# 2. initramfs: busybox + the modules for virtio-9p, rxe and veth, in dependency order
if [ ! -f initrd.gz ]; then
  rm -rf initrd && mkdir -p initrd/{bin,proc,sys,dev,host,mods,mnt}
  cp "$(command -v busybox)" initrd/bin/
  : > initrd/modules.order
  for m in virtio_pci 9pnet_virtio 9p overlay crc32_generic rdma_rxe ib_uverbs rdma_ucm veth; do
    modprobe -d kroot -S "$K" --show-depends "$m" | awk '$1=="insmod"{print $2}'
  done | awk '!seen[$0]++' | while read -r f; do
    cp "$f" initrd/mods/
    basename "$f" >> initrd/modules.order
  done
  cat > initrd/init <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do insmod /mods/$m 2>/dev/null || echo "[init] insmod $m failed"; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000 hostroot /host || echo "[init] 9p root mount failed"
mount -t proc proc /host/proc; mount -t sysfs sys /host/sys; mount -t devtmpfs dev /host/dev
for d in tmp run root var/tmp; do mount -t tmpfs tmpfs /host/$d 2>/dev/null; done
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out /host/mnt || echo "[init] 9p out mount failed"
chroot /host /bin/bash /mnt/guest.sh > /host/mnt/guest.log 2>&1
echo "[init] guest rc=$?"
sync
poweroff -f
INIT
  chmod +x initrd/init
  (cd initrd && find . | cpio -o -H newc 2>/dev/null | gzip -1 > ../initrd.gz)
fi

# 3. the guest's test, run chrooted into the host's (read-only) root filesystem
rm -rf out && mkdir -p out
cat > out/guest.sh <<GUEST
#!/bin/bash
export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root
export FI_UNIVERSE_SIZE=32   # verbs;ofi_rxm CQ sizing vs rxe max_cqe (research/fabric.md §2b)
cd "$ROOT"
echo "== guest \$(uname -r), \$(nproc) cpus"
ip link set lo up
ip link add va type veth peer name vb
ip addr add 10.88.0.1/24 dev va; ip link set va up; ip link set vb up
rdma link add rxe0 type rxe netdev va && echo "rxe0 added"
ibv_devinfo -d rxe0 2>&1 | grep -E 'state|link_layer' || true
echo "== probe"
node dist/src/cli/kiseki-client.js transport probe --json > /tmp/probe.json; echo "probe rc=\$?"
node -e 'const d=require("/tmp/probe.json"); console.log("VERBS-PROBE chosen=" + d.chosen + " provider=" + d.provider); for (const c of d.candidates) console.log("  " + c.transport + " " + c.available + " " + c.reason)'
echo "== chunks over verbs"
timeout 600 node dist/test/helpers/verbs-guest-check.js verbs 10.88.0.1; echo "chunks rc=\$?"
echo "== done"
GUEST

# 4. boot (TCG: KVM does not work for a stock guest inside this nested VM, research/fabric.md §2b)
echo "verbs-qemu: booting $K under TCG (a few minutes)..."
set +e
timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg,thread=multi -cpu max -smp 2 -m 2048 -nographic -no-reboot -net none \
  -kernel vmlinuz -initrd initrd.gz -append "console=ttyS0 panic=-1 quiet" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on \
  -virtfs "local,path=$WORK/out,mount_tag=out,security_model=none" > console.log 2>&1
rc=$?
set -e
cat out/guest.log 2>/dev/null || { echo "verbs-qemu: no guest log (qemu rc=$rc); see $WORK/console.log" >&2; exit 1; }
grep -q '^VERBS-PROBE chosen=verbs' out/guest.log || { echo "verbs-qemu: FAIL: the probe did not choose verbs" >&2; exit 1; }
grep -q '^VERBS-CHUNKS ok' out/guest.log || { echo "verbs-qemu: FAIL: chunks did not move over verbs" >&2; exit 1; }
echo "verbs-qemu: PASS"
