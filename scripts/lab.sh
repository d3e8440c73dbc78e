#!/usr/bin/env bash
# Runs dpdk-doctor's lab: boots Debian's kernels 6.1 and 6.12 under QEMU (TCG) on a q35 machine
# with an Intel IOMMU and a firmware DMAR built by the project, and checks every verdict of
# `devices`/`check` against the kernel's real VFIO attach (`probe`).
#
#   scripts/lab.sh                        every scenario on both kernels, then the story (3-15 minutes on 2 cores)
#   scripts/lab.sh endpoint-rmrr-slot     one scenario, both kernels
#   scripts/lab.sh endpoint-rmrr-slot 6.1 one scenario, one kernel
#   scripts/lab.sh story                  the seed's story: OVS-DPDK fails on the RMRR, fix rmrr, reboot, it works
#   scripts/lab.sh --update               also rewrite the truth table and the story's times in BENCHMARKS.md
#
# DPDK_DOCTOR_LAB_OUT=DIR keeps every boot's console and answers in DIR/SCENARIO/KERNEL/.
#
# Kernels are fetched once with apt-get download (backports through a private sources list)
# into $DPDK_DOCTOR_LAB_CACHE (default /var/cache/dpdk-doctor-lab). DPDK_DOCTOR_LAB_JOBS sets
# how many guests boot at once (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."

update=()
args=()
for a in "$@"; do
  case "$a" in
    --update) update=(-update) ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) args+=("$a") ;;
  esac
done
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
[ -x /bin/busybox ] || need+=(busybox-static)
command -v cpio >/dev/null || need+=(cpio)
command -v depmod >/dev/null || need+=(kmod)
command -v xz >/dev/null || need+=(xz-utils)
if [ ${#need[@]} -gt 0 ]; then
  echo "lab: missing ${need[*]}: apt-get install ${need[*]}" >&2
  exit 2
fi

run='TestTruth|TestStory'
if [ ${#args[@]} -ge 1 ]; then run="TestTruth/scenario/^${args[0]}\$"; fi
if [ ${#args[@]} -eq 1 ] && [ "${args[0]}" = story ]; then run='TestStory'; fi
if [ ${#args[@]} -ge 2 ]; then run="$run/^${args[1]}\$"; fi
if [ ${#args[@]} -gt 2 ]; then echo "usage: $0 [--update] [SCENARIO [KERNEL]]" >&2; exit 2; fi
if [ ${#update[@]} -gt 0 ] && [ ${#args[@]} -gt 0 ]; then
  echo "lab: --update needs the whole suite (the truth table covers every scenario)" >&2; exit 2
fi
DPDK_DOCTOR_LAB=1 DPDK_DOCTOR_LAB_STORY=1 exec go test -count=1 -v -timeout 45m -run "$run" ./internal/lab "${update[@]}"
