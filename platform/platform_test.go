package platform

import (
	"testing"
	"testing/fstest"

	"github.com/dpdk-doctor/dpdk-doctor/cpu"
	"github.com/dpdk-doctor/dpdk-doctor/host"
)

func root(files map[string]string) host.Root {
	m := fstest.MapFS{}
	for k, v := range files {
		m[k] = &fstest.MapFile{Data: []byte(v + "\n")}
	}
	return host.FS(m, "test")
}

func TestRead(t *testing.T) {
	for _, tc := range []struct {
		name     string
		files    map[string]string
		vendor   string
		proliant bool
		vm       string
	}{
		{"DL360e Gen8", map[string]string{sysVendor: "HP", productName: "ProLiant DL360e Gen8"}, HPE, true, ""},
		{"Hewlett-Packard", map[string]string{sysVendor: "Hewlett-Packard", productName: "ProLiant DL380e Gen8"}, HPE, true, ""},
		{"HPE Gen10", map[string]string{sysVendor: "HPE", productName: "ProLiant DL380 Gen10"}, HPE, true, ""},
		{"HPE Synergy is not ProLiant", map[string]string{sysVendor: "HPE", productName: "Synergy 480 Gen10"}, HPE, false, ""},
		{"Supermicro", map[string]string{sysVendor: "Supermicro", productName: "X11DPi-N"}, Supermicro, false, ""},
		{"QEMU", map[string]string{sysVendor: "QEMU", productName: "Standard PC (Q35 + ICH9, 2009)"}, "QEMU", false, "QEMU"},
		{"cpu flag", map[string]string{sysVendor: "Dell Inc.", cpuinfo: "processor\t: 0\nflags\t\t: fpu vme hypervisor lm\n"}, Dell, false, "unknown hypervisor"},
		{"nothing", map[string]string{}, "", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := root(tc.files)
			i := Read(r)
			// Given the first processor's flags, it says the same without reading cpuinfo.
			flags := map[string]bool{}
			if c, err := cpu.Read(r); err == nil {
				flags = c.Flags
			}
			if j := ReadWithCPUFlags(r, flags); j != i {
				t.Errorf("ReadWithCPUFlags = %+v, Read = %+v", j, i)
			}
			if i.Vendor != tc.vendor || i.IsHPEProLiant() != tc.proliant || i.Hypervisor != tc.vm {
				t.Errorf("Read = vendor %q proliant %v vm %q, want %q %v %q", i.Vendor, i.IsHPEProLiant(), i.Hypervisor, tc.vendor, tc.proliant, tc.vm)
			}
		})
	}
}
