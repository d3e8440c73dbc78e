package check

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/internal/testhost"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

func run(t *testing.T, tree string, devices ...string) []Finding {
	t.Helper()
	r, err := host.Dir(filepath.Join("..", "testdata", "hosts", tree))
	if err != nil {
		t.Fatal(err)
	}
	var addrs []pci.Address
	for _, d := range devices {
		a, err := pci.ParseAddress(d)
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, a)
	}
	f, err := Gather(r, Options{Devices: addrs})
	if err != nil {
		t.Fatal(err)
	}
	return Run(f)
}

func find(fs []Finding, id, subject string) *Finding {
	for i := range fs {
		if fs[i].ID == id && fs[i].Subject == subject {
			return &fs[i]
		}
	}
	return nil
}

// TestTrees judges every test host and checks the verdicts that host exists to show.
func TestTrees(t *testing.T) {
	type want struct {
		id, subject string
		sev         Severity
		contains    string // in the summary
	}
	cases := map[string][]want{
		"dl360e-gen8": {
			{"device.rmrr", "0000:03:00.0", Fail, "slot 2"},
			{"device.rmrr", "0000:03:00.1", Fail, "0x7df83000-0x7df84fff"},
			{"device.rmrr", "0000:02:00.0", OK, "RMRR-locked"},   // on igb, the host's uplink: information
			{"device.rmrr", "0000:02:00.1", Warn, "RMRR-locked"}, // on igb, down: matters once bound for DPDK
			{"device.driver", "0000:02:00.0", OK, "on igb (eno1, active: default route, address 10.20.0.15/24, SSH session from 10.20.0.99)"},
			{"device.driver", "0000:02:00.1", OK, "on igb (eno2)"},
			{"device.driver", "0000:03:00.0", OK, "vfio-pci"},
			{"device.placement", "0000:03:00.0", OK, "physical slot 2"},
			{"kernellog.rmrr-ineligible", "0000:03:00.0", Fail, ""},
			{"iommu.kernel", "host", OK, "dmar0"},
			{"hugepages.pool", "host", OK, "4 GiB"},
		},
		"dl360e-gen8-after-conrep": {
			{"device.rmrr", "0000:03:00.0", OK, "no RMRR"},
			{"device.rmrr", "0000:03:00.1", OK, "no RMRR"},
			{"kernellog.clean", "host", OK, ""},
		},
		"dl360e-gen8-relax-rmrr": {
			{"device.rmrr", "0000:03:00.0", Warn, "relax_rmrr"},
			{"kernellog.rmrr-relaxed", "host", Warn, ""},
		},
		"dl360e-gen8-two-slots": {
			{"device.rmrr", "0000:04:00.0", Fail, "physical slot 1"},
			{"device.rmrr", "0000:03:00.1", Fail, "physical slot 2"},
		},
		"dl380-gen9-hpe-nic": {
			{"device.rmrr", "0000:03:00.0", Fail, "slot 2"},
		},
		"no-hugepages": {
			{"hugepages.pool", "host", Fail, "no huge pages"},
			{"hugepages.mount", "host", Fail, "no hugetlbfs"},
		},
		"iommu-off-firmware": {
			{"iommu.firmware", "host", Fail, "off in firmware"},
			{"iommu.kernel", "host", Fail, "firmware does not announce"},
			{"device.iommu_group", "0000:02:00.0", Fail, "no IOMMU group"},
			{"device.rmrr", "0000:02:00.0", OK, "no DMAR table"},
		},
		"iommu-off-kernel": {
			{"iommu.firmware", "host", OK, "DMAR"},
			{"iommu.kernel", "host", Fail, "off in the kernel"},
		},
		"vfio-noiommu": {
			{"vfio.noiommu", "host", Warn, "no-IOMMU"},
			{"device.iommu_group", "0000:02:00.0", Warn, "no-IOMMU"},
		},
		"usb-only-rmrr": {
			{"device.rmrr", "0000:02:00.0", OK, "no RMRR"},
			{"device.iommu_group", "0000:02:00.0", OK, "viable"},
		},
		"nic-on-ixgbe": {
			{"device.driver", "0000:02:00.0", OK, "on ixgbe (ens1f0)"}, // not named: information
			{"device.iommu_group", "0000:02:00.0", Warn, "not viable"},
		},
		"shared-group": {
			{"device.iommu_group", "0000:02:00.0", Fail, "0000:02:00.1 on ixgbe"},
		},
		"bridge-scope": {
			{"device.rmrr", "0000:07:00.0", Fail, "bridge scope 00:03.0"},
			{"device.rmrr", "0000:08:00.0", Warn, "RMRR-locked"},
			{"device.placement", "0000:07:00.0", OK, "behind a switch in physical slot 4"},
			{"kernellog.rmrr-identity-required", "0000:07:00.0", Fail, ""},
		},
		"amd-iommu-off": {
			{"iommu.firmware", "host", OK, "AMD-Vi"},
			{"iommu.kernel", "host", Fail, "amd_iommu=off is on the command line"},
			{"vfio.driver", "host", Fail, "this kernel has no vfio-pci"},
		},
		"kvm-guest": {
			{"iommu.firmware", "host", Fail, "virtual machine has no IOMMU"},
			{"iommu.kernel", "host", Fail, "hypervisor gives this VM none"},
			{"vfio.driver", "host", Fail, "as a module"},
			{"cpu.hypervisor", "host", Warn, "virtual machine"},
			{"device.driver", "0000:01:00.0", OK, "on virtio-pci (enp1s0, active: default route, address 192.168.122.50/24, 2001:db8:122::50/64, SSH session from 192.168.122.1)"},
			{"device.driver", "0000:02:00.0", OK, "on virtio-pci (enp2s0)"},
			{"device.iommu_group", "0000:01:00.0", OK, "matters only if it is given to DPDK"}, // the uplink
			{"device.iommu_group", "0000:02:00.0", Warn, "no IOMMU group"},
		},
		"dl380p-gen8-hewlett-packard": {
			{"device.rmrr", "0000:03:00.0", Fail, "slot 2"},
		},
		"amd": {
			{"iommu.firmware", "host", OK, "AMD-Vi"},
			{"cpu.virtualization", "host", OK, "svm"},
			{"device.rmrr", "0000:41:00.0", OK, "no IVMD"}, // reserved_regions: no direct region
		},
		"amd-ivmd-6.1": {
			{"iommu.firmware", "host", OK, "AMD-Vi"},
			{"device.rmrr", "0000:41:00.0", Warn, "allowed by this kernel"},
			{"device.rmrr", "0000:41:00.1", OK, "no IVMD"},
		},
		"amd-ivmd-6.12": {
			{"device.rmrr", "0000:41:00.0", Fail, "IVMD-locked by IVMD 0x7b800000-0x7b800fff"},
			{"device.rmrr", "0000:41:00.1", OK, "no IVMD"},
		},
		// The multi-node hosts of `plan`: huge pages on some NICs' nodes only.
		"numa2-xeon": {
			{"hugepages.node", "node0", OK, "0000:18:00.0"},
			{"hugepages.node", "node1", Fail, "0000:af:00.0"},
			{"device.rmrr", "0000:af:00.0", OK, "no RMRR"},
		},
		"numa4-epyc": {
			{"hugepages.node", "node2", OK, "0000:81:00.0"},
			{"hugepages.node", "node3", Fail, "0000:c1:00.0"},
			{"iommu.firmware", "host", OK, "AMD-Vi"},
		},
	}
	if len(cases) != len(testhost.Names) {
		t.Errorf("%d trees have expectations, %d trees exist", len(cases), len(testhost.Names))
	}
	for tree, wants := range cases {
		t.Run(tree, func(t *testing.T) {
			fs := run(t, tree)
			for _, w := range wants {
				f := find(fs, w.id, w.subject)
				if f == nil {
					t.Errorf("no %s finding for %s", w.id, w.subject)
					continue
				}
				if f.Severity != w.sev || !strings.Contains(f.Summary, w.contains) {
					t.Errorf("%s %s: %s %q, want %s containing %q", w.id, w.subject, f.Severity, f.Summary, w.sev, w.contains)
				}
				if f.Severity != OK && len(f.Evidence) == 0 {
					t.Errorf("%s %s: %s without evidence", w.id, w.subject, f.Severity)
				}
			}
		})
	}
}

func TestExplicitDeviceFailsWhenLocked(t *testing.T) {
	fs := run(t, "dl360e-gen8", "0000:02:00.0")
	if f := find(fs, "device.rmrr", "0000:02:00.0"); f == nil || f.Severity != Fail {
		t.Errorf("a device named with --device must fail when locked: %+v", f)
	}
	if f := find(fs, "device.rmrr", "0000:03:00.0"); f != nil {
		t.Error("only the named device is judged")
	}
}

func TestLockedRemedyNamesConrep(t *testing.T) {
	f := find(run(t, "dl360e-gen8"), "device.rmrr", "0000:03:00.0")
	if f == nil || len(f.Remedy) == 0 || !strings.Contains(f.Remedy[0], "dpdk-doctor fix rmrr 0000:03:00.0") {
		t.Fatalf("remedy: %+v", f)
	}
	if !strings.Contains(fmt.Sprint(f.Evidence), "Device is ineligible") {
		t.Error("the kernel's refusal should be evidence too")
	}
}

func TestReservedRegionsDisagreement(t *testing.T) {
	// bridge-scope's groups carry reserved_regions typed "direct": they agree with the table.
	f := find(run(t, "bridge-scope"), "device.rmrr", "0000:07:00.0")
	if f == nil || strings.Contains(f.Explanation, "reserved_regions say") {
		t.Errorf("no disagreement expected: %+v", f)
	}
	var found bool
	for _, e := range f.Evidence {
		found = found || strings.Contains(e.File, "reserved_regions") && strings.Contains(e.Value, "direct")
	}
	if !found {
		t.Error("reserved_regions should be evidence")
	}
}
