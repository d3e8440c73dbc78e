#!/usr/bin/env bash
# Runs every test of dpdk-doctor, installing first whatever the tests need on a fresh
# Debian 12 machine: pciutils (lspci), acpica-tools (iasl), tcpdump, Open vSwitch with DPDK,
# and staticcheck. Needs root for apt, hugepages and the OVS integration tests.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v lspci >/dev/null || need+=(pciutils)
command -v iasl >/dev/null || need+=(acpica-tools)
command -v tcpdump >/dev/null || need+=(tcpdump)
[ -x /usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk ] || need+=(openvswitch-switch-dpdk dpdk)
command -v ip >/dev/null || need+=(iproute2)
command -v gcc >/dev/null || need+=(gcc libc6-dev)   # for go test -race
for t in lintian:lintian promtool:prometheus prometheus-node-exporter:prometheus-node-exporter dpkg-deb:dpkg; do command -v "${t%%:*}" >/dev/null || need+=("${t#*:}"); done   # packaging and metrics tests
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing: ${need[*]}"
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

echo "== go test -race (the packages that read and judge in parallel)"
go test -race -count=1 ./host/... ./pci/... ./check/...

echo "== go test"
# -p 1: the OVS-DPDK integration tests need the machine's hugepages and cores to themselves.
go test -p 1 -count=1 ./... "$@"
