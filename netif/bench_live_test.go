package netif

import (
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

// BenchmarkReadLive reads the live host over netlink (files=false) and from its files.
func BenchmarkReadLive(b *testing.B) {
	for _, files := range []bool{false, true} {
		name := map[bool]string{false: "netlink", true: "files"}[files]
		b.Run(name, func(b *testing.B) {
			forceFiles = files
			defer func() { forceFiles = false }()
			for b.Loop() {
				if _, err := Read(host.Live(), Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
