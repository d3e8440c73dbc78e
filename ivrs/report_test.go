package ivrs_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/ivrs"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

func TestReport(t *testing.T) {
	ds := resolveHost(t)
	r := ivrs.NewReport(resolveTable(), ds, func(d *pci.Device) string { return "NIC " + d.Address.String() }, "6.12.0-1-amd64")
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		IVHDType string `json:"ivhd_type"`
		IOMMUs   []struct {
			Type string `json:"type"`
			Read bool   `json:"read_by_kernel"`
			Base string `json:"base"`
		} `json:"iommus"`
		IVMD []struct {
			Type, Kind, First, Last, Start, End, RegionStart, RegionEnd string
			Flags                                                       struct{ Exclusion bool }
			Direct                                                      bool
			Devices                                                     []struct {
				Address, Via, Alias string
				Refused             bool
			}
		} `json:"ivmd"`
	}
	if err := json.Unmarshal([]byte(strings.NewReplacer(`"region_start"`, `"RegionStart"`, `"region_end"`, `"RegionEnd"`).Replace(string(b))), &back); err != nil {
		t.Fatal(err)
	}
	if back.IVHDType != "0x11" || len(back.IOMMUs) != 2 || back.IOMMUs[0].Read || !back.IOMMUs[1].Read || back.IOMMUs[1].Base != "0xfed80000" {
		t.Errorf("IOMMUs: %s %+v", back.IVHDType, back.IOMMUs)
	}
	if len(back.IVMD) != 5 {
		t.Fatalf("%d IVMDs", len(back.IVMD))
	}
	m := back.IVMD[1]
	if m.Type != "0x22" || m.Kind != "range" || m.First != "02:00.0" || m.Last != "02:00.0" || m.Start != "0x7f100800" || m.End != "0x7f1008ff" ||
		m.RegionStart != "0x7f101000" || m.RegionEnd != "0x7f101fff" || !m.Flags.Exclusion || !m.Direct ||
		len(m.Devices) != 1 || m.Devices[0].Address != "0000:02:00.0" || !m.Devices[0].Refused {
		t.Errorf("IVMD 22h: %+v", m)
	}
	m = back.IVMD[2]
	if len(m.Devices) != 2 || m.Devices[1].Address != "0000:03:00.0" || m.Devices[1].Via != "alias" || m.Devices[1].Alias != "00:03.1" || !m.Devices[1].Refused {
		t.Errorf("IVMD on the alias: %+v", m)
	}
	if m = back.IVMD[4]; m.Direct || len(m.Devices) != 11 || m.Devices[0].Refused {
		t.Errorf("IVMD 20h without unity or exclusion: %+v", m)
	}
	var txt strings.Builder
	if err := r.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"IVRS BOCHS BXPC: revision 1, IVinfo 0x2800, 2 IOMMU definitions (the kernel reads type 11h)",
		"IVMD 2 (22h)  segment 0000  devices 02:00.0 to 02:00.0  0x7f100800-0x7f1008ff  (exclusion)",
		"the kernel reserves 0x7f101000-0x7f101fff as a direct (1:1) region",
		"-> 0000:03:00.0  NIC 0000:03:00.0  (its requests carry 00:03.1)  REFUSED to VFIO by 6.12.0-1-amd64",
		"neither unity nor exclusion: the kernel ignores it",
	} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, txt.String())
		}
	}
	// An older kernel: nothing refused.
	r = ivrs.NewReport(resolveTable(), ds, nil, "6.1.0-18-amd64")
	for _, m := range r.IVMD {
		for _, d := range m.Devices {
			if d.Refused {
				t.Errorf("6.1 refuses %s", d.Address)
			}
		}
	}
}

func TestReportRealTable(t *testing.T) {
	raw, _ := os.ReadFile("../testdata/fixtures/ivrs/lenovo-ideapad-slim3-15abr8.ivrs.bin")
	tab, err := ivrs.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	r := ivrs.NewReport(tab, nil, nil, "")
	var txt strings.Builder
	r.WriteText(&txt)
	for _, want := range []string{
		"IVRS LENOVO CB-01: revision 2, IVinfo 0x203043, 3 IOMMU definitions (the kernel reads type 40h)",
		"IVMD 1 (21h)  segment 0000  device 03:00.0  0xccd42000-0xccd67fff  (exclusion)",
		"unknown block type 0x51 at offset 0x1c4 (32 bytes), kept as is",
	} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, txt.String())
		}
	}
}
