package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testhost"
	"github.com/dpdk-doctor/dpdk-doctor/ivrs"
)

// ivmdHost writes an AMD host running kernel release rel whose IVRS (the lab's table) has an
// IVMD 21h for the X710 at 01:00.0 on vfio-pci.
func ivmdHost(t *testing.T, rel string) string {
	t.Helper()
	tab := ivrs.LabTable(2, ivrs.IVMD(ivrs.TypeIVMDDevice, ivrs.ID(1, 0, 0), 0, 0x7f000000, 0x10000, false))
	b, err := tab.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	h := &testhost.Host{
		Name: "ivmd", CPUVendor: "AuthenticAMD", CPUs: 2, Nodes: 1, KernelRelease: rel, IOMMUUnits: []string{"ivhd0"}, VFIO: true,
		Extra: map[string]string{ivrs.TablePath: string(b)},
		Devices: []testhost.Device{
			{Addr: "0000:00:00.0", Vendor: 0x1022, Device: 0x1480, Class: 0x060000, Group: 0, NUMA: -1},
			{Addr: "0000:00:01.1", Vendor: 0x1022, Device: 0x1483, Class: 0x060400, Bridge: true, Secondary: 1, Subordinate: 1, Driver: "pcieport", Group: 1, NUMA: -1},
			{Addr: "0000:01:00.0", Parent: "0000:00:01.1", Vendor: 0x8086, Device: 0x1572, Class: 0x020000, Driver: "vfio-pci", Group: 2, NUMA: -1},
		},
	}
	dir := filepath.Join(t.TempDir(), "host")
	if err := h.Write(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestReservedIVMD(t *testing.T) {
	for rel, refused := range map[string]bool{"6.12.0-1-amd64": true, "6.1.0-18-amd64": false} {
		root := ivmdHost(t, rel)
		out, errs, code := runBin(t, "reserved", "--root", root)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", rel, code, errs)
		}
		line := "-> 0000:01:00.0"
		if !strings.Contains(out, "No DMAR table") || !strings.Contains(out, "IVMD 1 (21h)  segment 0000  device 01:00.0  0x7f000000-0x7f00ffff  (unity, read, write)") ||
			!strings.Contains(out, line) || strings.Contains(out, "REFUSED to VFIO by "+rel) != refused {
			t.Errorf("%s: text report:\n%s", rel, out)
		}
		out, _, code = runBin(t, "reserved", "--root", root, "--json")
		var doc struct {
			KernelRelease string          `json:"kernel_release"`
			DMAR          json.RawMessage `json:"dmar"`
			IVRS          struct {
				IVMD []struct {
					Start   string `json:"start"`
					Devices []struct {
						Address string `json:"address"`
						Via     string `json:"via"`
						Refused bool   `json:"refused"`
					} `json:"devices"`
				} `json:"ivmd"`
			} `json:"ivrs"`
		}
		if err := json.Unmarshal([]byte(out), &doc); err != nil || code != 0 {
			t.Fatalf("%s: exit %d, %v:\n%s", rel, code, err, out)
		}
		if doc.KernelRelease != rel || string(doc.DMAR) != "null" || len(doc.IVRS.IVMD) != 1 || doc.IVRS.IVMD[0].Start != "0x7f000000" ||
			len(doc.IVRS.IVMD[0].Devices) != 1 || doc.IVRS.IVMD[0].Devices[0].Via != "device" || doc.IVRS.IVMD[0].Devices[0].Refused != refused {
			t.Errorf("%s: JSON: %+v", rel, doc)
		}
	}
}

func TestReservedFiles(t *testing.T) {
	fx := func(p string) string { return filepath.Join("..", "..", "testdata", "fixtures", p) }
	out, errs, code := runBin(t, "reserved", "--dmar", fx("dmar/hp-proliant-dl380e-gen8.dmar.bin"), "--ivrs", fx("ivrs/lenovo-ideapad-slim3-15abr8.ivrs.bin"))
	if code != 0 || !strings.Contains(out, "9 RMRRs") || !strings.Contains(out, "IVRS LENOVO CB-01") ||
		!strings.Contains(out, "unknown block type 0x51") {
		t.Errorf("both tables: exit %d %s\n%s", code, errs, out)
	}
	// An Intel host: the DMAR part as `rmrr` shows it, no IVRS.
	out, _, code = runBin(t, "reserved", "--root", tree("dl360e-gen8"))
	rmrr, _, _ := runBin(t, "rmrr", "--root", tree("dl360e-gen8"))
	if code != 0 || !strings.HasPrefix(out, rmrr) || !strings.HasSuffix(out, "No IVRS table: no AMD IVMDs.\n") {
		t.Errorf("Intel host: exit %d\n%s", code, out)
	}
	for _, c := range []struct{ args, want string }{
		{"reserved --ivrs " + fx("dmar/supermicro-x8sil.dmar.bin"), "supermicro-x8sil.dmar.bin: no IVRS table"},
		{"reserved --ivrs /nonexistent/ivrs.bin", "/nonexistent/ivrs.bin"},
		{"reserved --dmar " + fx("ivrs/gigabyte-990fxa-ud3.ivrs.bin"), "no DMAR table"},
		{"reserved --root " + tree("iommu-off-firmware"), "no DMAR or IVRS table"},
	} {
		_, errs, code := runBin(t, strings.Fields(c.args)...)
		if code != 2 || !strings.Contains(errs, c.want) {
			t.Errorf("%s: exit %d, %q (want exit 2 and %q)", c.args, code, errs, c.want)
		}
	}
}
