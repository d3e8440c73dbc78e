package kmsg

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// synthLog is a 20,000-line kernel log in dmesg form: boot chatter with the messages Events
// recognises sprinkled in, as a busy host's log looks.
func synthLog() []byte {
	noise := []string{
		"usb 1-1: new high-speed USB device number 2 using ehci-pci",
		"EXT4-fs (sda1): mounted filesystem with ordered data mode. Opts: (null)",
		"e1000e 0000:00:19.0 eno1: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx",
		"audit: type=1400 audit(1700000000.000:42): apparmor=\"STATUS\" operation=\"profile_load\"",
		"ACPI: Added _OSI(Module Device)",
		"Freeing unused kernel image (initmem) memory: 2904K",
		"IPv6: ADDRCONF(NETDEV_CHANGE): eno1: link becomes ready",
		"raid6: avx2x4   gen() 23456 MB/s",
	}
	hits := []string{
		"DMAR: RMRR base: 0x000000771e3000 end: 0x00000077202fff",
		"vfio-pci 0000:03:00.0: Device is ineligible for IOMMU domain attach due to platform RMRR requirement.  Contact your platform vendor.",
		"DMAR: IOMMU enabled",
		"AMD-Vi: Interrupt remapping enabled",
		"iommu: Default domain type: Translated",
		"DMAR: [DMA Read NO_PASID] Request device [03:00.0] fault addr 0x771e3000",
		"EAL: 0000:01:00.1 VFIO group is not viable! Not all devices in IOMMU group bound to VFIO or unbound",
		"vfio-pci 0000:04:00.1: Firmware has requested this device have a 1:1 IOMMU mapping, rejecting configuring the device without a 1:1 mapping. Contact your platform vendor.",
	}
	var b bytes.Buffer
	for i := range 20000 {
		s := noise[i%len(noise)]
		if i%97 == 0 {
			s = hits[(i/97)%len(hits)]
		}
		fmt.Fprintf(&b, "[%6d.%06d] %s\n", i/100, i%1000000, s)
	}
	return b.Bytes()
}

// TestPrefilterSameEvents checks that the literal-keyword pre-filter and the cheap header guards
// find exactly the events the regexp-only code found, on every fixture and a synthetic log.
func TestPrefilterSameEvents(t *testing.T) {
	files, err := filepath.Glob("../testdata/fixtures/dmesg/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dmesg fixtures: %v", err)
	}
	inputs := map[string][]byte{"synthetic-20k": synthLog()}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs[f] = b
	}
	total := 0
	for name, b := range inputs {
		oldLines, newLines := parseRegexpOnly(b), Parse(b)
		if !reflect.DeepEqual(oldLines, newLines) {
			t.Errorf("%s: Parse differs from the regexp-only parser", name)
		}
		oldEv, newEv := eventsRegexpOnly(oldLines), Events(newLines)
		if !reflect.DeepEqual(oldEv, newEv) {
			t.Errorf("%s: events differ:\nold %+v\nnew %+v", name, oldEv, newEv)
		}
		total += len(newEv)
	}
	if total < 200 {
		t.Errorf("only %d events over all inputs: the comparison proves little", total)
	}
}

func BenchmarkEvents20k(b *testing.B) {
	log := synthLog()
	for b.Loop() {
		Events(Parse(log))
	}
}

func BenchmarkEvents20kRegexpOnly(b *testing.B) {
	log := synthLog()
	for b.Loop() {
		eventsRegexpOnly(parseRegexpOnly(log))
	}
}

// TestSignatureLiterals: every line a signature's regexp matches, in every fixture and the
// synthetic log, holds one of the signature's literals (so skipping the others loses nothing),
// and a real host's log reaches only some of the regexps (the others are never compiled).
func TestSignatureLiterals(t *testing.T) {
	files, err := filepath.Glob("../testdata/fixtures/dmesg/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no dmesg fixtures: %v", err)
	}
	inputs := map[string][]byte{"synthetic-20k": synthLog()}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		inputs[f] = b
	}
	matched := 0
	for name, b := range inputs {
		reached := map[int]bool{}
		for _, l := range Parse(b) {
			for k, sig := range signatures() {
				if holdsAny(l.Text, sig.lits) {
					reached[k] = true
				}
				if sig.re().MatchString(l.Text) {
					matched++
					if !holdsAny(l.Text, sig.lits) {
						t.Errorf("%s: signature %d (%s) matches %q, which holds none of %q", name, k, sig.kind, l.Text, sig.lits)
					}
				}
			}
		}
		if name != "synthetic-20k" && len(reached) == len(signatures()) {
			t.Logf("%s reaches every signature", name)
		}
	}
	if matched < 200 {
		t.Errorf("only %d matches over all inputs: the check proves little", matched)
	}
}
