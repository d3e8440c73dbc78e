package iommu

import (
	"bytes"
	"compress/gzip"
	"testing"
	"testing/fstest"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

func gz(s string) string {
	var b bytes.Buffer
	z := gzip.NewWriter(&b)
	z.Write([]byte(s))
	z.Close()
	return b.String()
}

// TestVFIOKernel tells apart a kernel whose vfio-pci is loaded, built in, a module modprobe can
// load, or missing, from the files a host has (lib/modules, proc/config.gz, boot/config-*).
func TestVFIOKernel(t *testing.T) {
	const rel = "6.1.0-18-amd64"
	dep := "lib/modules/" + rel + "/modules.dep"
	cases := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"loaded", map[string]string{"sys/bus/pci/drivers/vfio-pci/bind": "", "sys/module/vfio_pci/refcnt": "0\n"}, VFIOLoaded},
		{"modules.dep, zstd", map[string]string{dep: "kernel/drivers/vfio/pci/vfio-pci.ko.zst: kernel/drivers/vfio/pci/vfio-pci-core.ko.zst\n"}, VFIOModuleAvailable},
		{"modules.dep without it", map[string]string{dep: "kernel/drivers/net/ethernet/intel/igb/igb.ko: kernel/drivers/dca/dca.ko\nkernel/drivers/vfio/pci/vfio-pci-core.ko:\n"}, VFIOAbsent},
		{"modules.builtin", map[string]string{"lib/modules/" + rel + "/modules.builtin": "kernel/drivers/vfio/pci/vfio-pci.ko\n"}, VFIOBuiltin},
		{"config.gz =y", map[string]string{"proc/config.gz": gz("CONFIG_VFIO=y\nCONFIG_VFIO_PCI=y\n")}, VFIOBuiltin},
		{"config.gz =m", map[string]string{"proc/config.gz": gz("CONFIG_VFIO_PCI=m\n")}, VFIOModuleAvailable},
		{"boot config, not set", map[string]string{"boot/config-" + rel: "# CONFIG_VFIO_PCI is not set\nCONFIG_VFIO_PCI_CORE=m\n"}, VFIOAbsent},
		{"=m but modules not installed", map[string]string{"boot/config-" + rel: "CONFIG_VFIO_PCI=m\n", dep: "kernel/fs/fat/fat.ko:\n"}, VFIOAbsent},
		{"nothing to tell", nil, ""},
	}
	for _, c := range cases {
		m := fstest.MapFS{"proc/sys/kernel/osrelease": {Data: []byte(rel + "\n")}}
		for k, v := range c.files {
			m[k] = &fstest.MapFile{Data: []byte(v)}
		}
		i, err := Read(host.FS(m, c.name))
		if err != nil {
			t.Fatal(err)
		}
		if i.VFIOKernel != c.want || c.want != "" && i.VFIOEvidence == "" {
			t.Errorf("%s: %q (%s), want %q", c.name, i.VFIOKernel, i.VFIOEvidence, c.want)
		}
	}
}

func FuzzKernelConfig(f *testing.F) {
	f.Add([]byte("CONFIG_VFIO_PCI=m\n"), true)
	f.Fuzz(func(t *testing.T, b []byte, zipped bool) {
		name := "boot/config-1"
		if zipped {
			name = "proc/config.gz"
		}
		m := fstest.MapFS{"proc/sys/kernel/osrelease": {Data: []byte("1\n")}, name: {Data: b}}
		kernelConfig(host.FS(m, "fuzz"), "1", "CONFIG_VFIO_PCI")
	})
}
