#!/usr/bin/env bash
# Runs every test of dpdk-doctor, installing first whatever the tests need on a fresh
# Debian 12 machine. Every package is named: apt runs with --no-install-recommends, so a package
# that is only recommended (Debian's dpdk recommends the librte-* PMD plugins that OVS loads)
# is not there on a fresh machine. Needs root for apt, huge pages and the OVS integration
# tests (internal/ovstest reserves huge pages and mounts /dev/hugepages itself).
# Exits non-zero on any failure; the last line is go test's own.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(
  # Open vSwitch with DPDK, and the DPDK drivers it loads as plugins
  openvswitch-switch-dpdk dpdk
  librte-bus-pci23 librte-bus-vdev23 librte-net-af-packet23 librte-mempool-ring23 librte-net-e1000-23
  # the real tools the tests run
  pciutils tcpdump acpica-tools iproute2
  # report --html is tested in a real browser (report/html)
  chromium
  # go test -race needs cgo
  gcc libc6-dev
  # the real-kernel lab (QEMU, a busybox initramfs)
  qemu-system-x86 busybox-static cpio kmod xz-utils
  # the Ansible collection's tests: the real ansible-core, over real SSH
  ansible-core openssh-server openssh-client
  # the Debian package and Prometheus tests: lintian, promtool, the real node_exporter
  lintian prometheus prometheus-node-exporter
)
need=()
for p in "${pkgs[@]}"; do
  # dpkg-query, not command -v: a binary can be there while a plugin package is missing.
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$st" = "install ok installed" ] || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing: ${need[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages and not root: run as root, or apt-get install --no-install-recommends ${need[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

echo "== gofmt"
bad=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$bad" ]; then echo "gofmt would change: $bad"; exit 1; fi

echo "== go vet"
go vet ./...

echo "== staticcheck"
sc=$(go env GOPATH)/bin/staticcheck
[ -x "$sc" ] || GOFLAGS= go install honnef.co/go/tools/cmd/staticcheck@v0.6.1
"$sc" ./...

echo "== static binary"
CGO_ENABLED=0 go build -o /dev/null ./cmd/dpdk-doctor

echo "== GOARCH=arm64 build"
GOARCH=arm64 CGO_ENABLED=0 go build ./...

echo "== go test -race (the packages that read, judge and decode in parallel)"
go test -race -count=1 ./host/... ./pci/... ./check/... ./ovs/... ./internal/ovsrpc/... ./netif/...

echo "== go test"
# -p 1: the OVS-DPDK integration tests need the machine's hugepages and cores to themselves.
# -timeout 45m: internal/lab boots real kernels under QEMU (CI=true: ~5-15 min), and the OVS tests wait for any other checkout's OVS-DPDK on this machine
# (internal/ovstest's machine-wide lock), which go test's default of 10m does not allow for.
go test -p 1 -count=1 -timeout 45m ./... "$@"
