package pci_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/host"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

// copyTree copies a test host with its links (cp -a) into a temporary directory.
func copyTree(t *testing.T, name string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), name)
	if out, err := exec.Command("cp", "-a", filepath.Join("..", "testdata", "hosts", name), dst).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	return dst
}

// TestReadUnreadableConfig: a function in D3cold (config all ones), one whose config file is
// missing and one whose config is short are listed and marked unreadable, with the reason; the
// rest of the host is read as before.
func TestReadUnreadableConfig(t *testing.T) {
	dir := copyTree(t, "dl360e-gen8")
	devs := filepath.Join(dir, "sys/devices/pci0000:00")
	if err := os.WriteFile(filepath.Join(devs, "0000:00:02.0/0000:03:00.1/config"), bytes.Repeat([]byte{0xff}, 256), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(devs, "0000:00:1a.0/config")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(devs, "0000:00:1c.0/config"), []byte{0x86, 0x80}, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := host.Dir(dir)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := pci.Read(r)
	if err != nil {
		t.Fatalf("one unreadable config space stopped the whole host: %v", err)
	}
	for addr, why := range map[string]string{"0000:03:00.1": "all ones", "0000:00:1a.0": "no such file", "0000:00:1c.0": "2 bytes"} {
		a, _ := pci.ParseAddress(addr)
		d := ds.Get(a)
		if d == nil {
			t.Errorf("%s is not listed", addr)
			continue
		}
		if !strings.Contains(d.Unreadable, why) {
			t.Errorf("%s: Unreadable = %q, want it to say %q", addr, d.Unreadable, why)
		}
	}
	// The D3cold function is still named from the IDs sysfs keeps.
	a, _ := pci.ParseAddress("0000:03:00.1")
	if d := ds.Get(a); d != nil && (d.Config.VendorID != 0x8086 || d.Config.Class>>16 != 0x02 || d.Driver == "") {
		t.Errorf("0000:03:00.1 from sysfs: %+v driver %q", d.Config, d.Driver)
	}
	a, _ = pci.ParseAddress("0000:03:00.0")
	if d := ds.Get(a); d == nil || d.Unreadable != "" || d.Config.DeviceID != 0x10fb {
		t.Errorf("the healthy X520 port: %+v", d)
	}
}

// FuzzReadTree walks random trees (files, directories and links, links that loop or climb) with
// pci.Read: an error or a list, never a panic or a hang.
func FuzzReadTree(f *testing.F) {
	f.Add("sys/bus/pci/devices/0000:00:00.0>../../../devices/pci0000:00/0000:00:00.0\nsys/devices/pci0000:00/0000:00:00.0/config=" + strings.Repeat("\x86", 64) + "\nsys/devices/pci0000:00/0000:00:00.0/driver>/sys/bus/pci/drivers/x\n")
	f.Add("sys/bus/pci/devices/0000:00:00.0>0000:00:00.0\n")
	f.Add("sys/bus/pci/devices/0000:00:00.0>/\nsys/bus/pci/slots/1/address=0000:00:00\nsys/bus/pci/devices/0000:00:01.0>../../../../../..\n")
	f.Add("sys/bus/pci/devices/0000:00:00.0/config=\xff\xff\xff\xff\nsys/bus/pci/devices/0000:00:00.0/iommu_group>../x/7\nsys/bus/pci/devices/0000:00:00.0/net/eth0/\n")
	f.Fuzz(func(t *testing.T, spec string) {
		m := fstest.MapFS{}
		for i, line := range strings.Split(spec, "\n") {
			if i > 128 {
				break
			}
			if name, target, ok := strings.Cut(line, ">"); ok {
				if fs.ValidPath(name) && name != "." {
					m[name] = &fstest.MapFile{Data: []byte(target), Mode: fs.ModeSymlink | 0o777}
				}
				continue
			}
			if name, data, ok := strings.Cut(line, "="); ok {
				if fs.ValidPath(name) && name != "." {
					m[name] = &fstest.MapFile{Data: []byte(data), Mode: 0o644}
				}
				continue
			}
			if name := strings.TrimSuffix(line, "/"); fs.ValidPath(name) && name != "." {
				m[name] = &fstest.MapFile{Mode: fs.ModeDir | 0o755}
			}
		}
		ds, err := pci.Read(host.FS(m, "fuzz"))
		if err != nil {
			return
		}
		for _, d := range ds.List {
			d.Ancestors()
			d.Modalias()
		}
	})
}

// TestReadSelfParent: a device link naming the tree's root made the device its own parent, and
// Read looped forever looking for its slot (found by FuzzReadTree).
func TestReadSelfParent(t *testing.T) {
	m := fstest.MapFS{
		"sys/bus/pci/devices/0000:00:00.0": {Data: []byte("../../../.."), Mode: fs.ModeSymlink | 0o777},
		"config":                           {Data: bytes.Repeat([]byte{0x86}, 64)},
		"sys/bus/pci/slots/1/address":      {Data: []byte("0000:01:00\n")},
	}
	done := make(chan error, 1)
	go func() {
		ds, err := pci.Read(host.FS(m, "loop"))
		if err == nil {
			for _, d := range ds.List {
				d.Ancestors()
			}
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pci.Read loops on a device whose link names the root")
	}
}
