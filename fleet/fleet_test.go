package fleet

import (
	"bytes"
	"strings"
	"testing"
)

func host(name, plat, rom string, devs []Device, findings ...Finding) Host {
	c := &Check{Findings: findings, Counts: map[string]int{}}
	for _, f := range findings {
		c.Counts[f.Severity]++
	}
	return Host{Name: name, Check: c, Platform: &Platform{Vendor: "HPE", Product: plat, BIOSVersion: rom}, Devices: devs}
}

func TestBuildGroupsByCauseAndPlatform(t *testing.T) {
	slot2 := []Device{{Address: "0000:03:00.0", Slot: "2", RMRR: "locked"}, {Address: "0000:02:00.0", RMRR: "locked"}}
	locked := Finding{ID: "device.rmrr", Severity: "fail", Subject: "0000:03:00.0", Summary: "RMRR-locked", Remedy: []string{"dpdk-doctor fix rmrr 0000:03:00.0"}}
	onboard := Finding{ID: "device.rmrr", Severity: "warn", Subject: "0000:02:00.0", Summary: "RMRR-locked"}
	var hosts []Host
	for _, n := range []string{"c", "a", "b"} {
		hosts = append(hosts, host(n, "ProLiant DL360e Gen8", "P73", slot2, locked, onboard, Finding{ID: "cpu.virtualization", Severity: "ok", Subject: "host"}))
	}
	hosts = append(hosts, host("d", "ProLiant DL380 Gen9", "P89", slot2, locked))
	hosts = append(hosts, host("e", "ProLiant DL380 Gen9", "P89", nil, Finding{ID: "iommu.kernel", Severity: "fail", Subject: "host"}))
	hosts = append(hosts, Host{Name: "f"}, host("g", "ProLiant DL20", "U1", nil))
	hosts = append(hosts, host("h", "ProLiant DL20", "U1", []Device{{Address: "0000:03:00.0", Slot: "2", RMRR: "relaxable"}},
		Finding{ID: "device.rmrr", Severity: "warn", Subject: "0000:03:00.0", Summary: "covered by an RMRR, but relaxable"}))
	r := Build(hosts)
	if r.Hosts != 8 || r.Status["fail"] != 5 || r.Status["error"] != 1 || r.Status["ok"] != 1 || r.Status["warn"] != 1 {
		t.Errorf("status %v", r.Status)
	}
	if len(r.Groups) != 4 {
		t.Fatalf("groups %+v", r.Groups)
	}
	g := r.Groups[0]
	if g.Cause != "device.rmrr fail, slot 2" || strings.Join(g.Hosts, ",") != "a,b,c,d" || g.Findings != 4 ||
		g.Sentence != "4 hosts have RMRR-locked NICs in slot 2 (fail); HPE ProLiant DL360e Gen8 with ROM P73: 3, HPE ProLiant DL380 Gen9 with ROM P89: 1" {
		t.Errorf("first group %+v", g)
	}
	if r.Groups[1].Sentence != "1 host has the IOMMU off in the kernel (fail), a HPE ProLiant DL380 Gen9 with ROM P89" {
		t.Errorf("second group %+v", r.Groups[1])
	}
	if r.Groups[2].Cause != "device.rmrr warn, slot on-board" || r.Groups[2].Sentence != "3 hosts have RMRR-locked NICs on board (warn), all HPE ProLiant DL360e Gen8 with ROM P73" {
		t.Errorf("third group %+v", r.Groups[2])
	}
	if r.Groups[3].Cause != "device.rmrr warn, slot 2, relaxable" || r.Groups[3].Sentence != "1 host has NICs under an RMRR the kernel relaxes in slot 2 (warn), a HPE ProLiant DL20 with ROM U1" {
		t.Errorf("fourth group %+v", r.Groups[3])
	}
	var b bytes.Buffer
	r.WriteText(&b)
	for _, w := range []string{"8 hosts, 5 fail, 1 warn, 1 ok, 1 error", "hosts: a, b, c, d", "error f  unknown platform  no check result", "remedy: dpdk-doctor fix rmrr"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("text lacks %q:\n%s", w, b.String())
		}
	}
}

func TestParseHost(t *testing.T) {
	h, err := ParseHost([]byte(`{"host":"HP ProLiant","root":"/","findings":[],"counts":{"ok":0}}`), "n1")
	if err != nil || h.Name != "n1" || h.Check == nil || h.Check.Host != "HP ProLiant" {
		t.Errorf("a check document: %+v %v", h, err)
	}
	h, err = ParseHost([]byte(`{"dpdk_doctor":{"findings":[],"counts":{}},"dpdk_doctor_platform":{"vendor":"HPE","product":"X","bios_version":"P73"}}`), "n2")
	if err != nil || h.Platform.String() != "HPE X with ROM P73" {
		t.Errorf("facts: %+v %v", h, err)
	}
	for _, bad := range []string{`{}`, `[]`, `{"findings":"x"}`, `nope`} {
		if _, err := ParseHost([]byte(bad), "bad.json"); err == nil || !strings.Contains(err.Error(), "bad.json") {
			t.Errorf("%s: %v", bad, err)
		}
	}
}

func FuzzParseHost(f *testing.F) {
	f.Add([]byte(`{"dpdk_doctor":{"findings":[{"id":"device.rmrr","severity":"fail","subject":"0000:03:00.0"}],"counts":{"fail":1}},"dpdk_doctor_devices":[{"address":"0000:03:00.0","slot":"2"}]}`))
	f.Add([]byte(`{"findings":[],"counts":{}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := ParseHost(b, "fuzz")
		if err != nil {
			return
		}
		r := Build([]Host{h, h})
		var w bytes.Buffer
		if err := r.WriteJSON(&w); err != nil {
			t.Fatal(err)
		}
		r.WriteText(&w)
	})
}
