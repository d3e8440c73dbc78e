package kmsg

import (
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Kind names a known kernel (or DPDK EAL) message that explains a VFIO or DPDK failure.
type Kind string

// The messages dpdk-doctor recognises.
const (
	// RMRRIneligible: the kernel (3.17 to 6.5) refused a device to VFIO because a firmware RMRR
	// covers it.
	RMRRIneligible Kind = "rmrr-ineligible"
	// RMRRIdentity: the same refusal as worded by Linux 6.6 and later.
	RMRRIdentity Kind = "rmrr-identity-required"
	// RMRRBase: the kernel listed an RMRR from the DMAR table ("DMAR: RMRR base: ... end: ...").
	RMRRBase Kind = "rmrr-base"
	// RMRRBroken: the firmware's RMRR entry for a device is malformed.
	RMRRBroken Kind = "rmrr-broken"
	// RMRRRelaxed: intel_iommu=relax_rmrr (a Proxmox/out-of-tree patch) is in effect.
	RMRRRelaxed Kind = "rmrr-relaxed"
	// IOMMUDisabled: the kernel says the IOMMU is off or was turned off.
	IOMMUDisabled Kind = "iommu-disabled"
	// IOMMUEnabled: the kernel says the IOMMU is on.
	IOMMUEnabled Kind = "iommu-enabled"
	// NoIOMMU: vfio-pci was used in no-IOMMU (unsafe) mode.
	NoIOMMU Kind = "vfio-noiommu"
	// GroupNotViable: DPDK's EAL found a device's IOMMU group not wholly bound to VFIO.
	GroupNotViable Kind = "eal-group-not-viable"
	// EALVFIO: another DPDK EAL VFIO error.
	EALVFIO Kind = "eal-vfio-error"
	// DMARFault: a DMA remapping fault raised by a device.
	DMARFault Kind = "dmar-fault"
)

// Event is one recognised message. Device is the PCI address it is about ("0000:03:00.0"), or ""
// when the message names none. Base and End are set for RMRRBase.
type Event struct {
	Kind   Kind   `json:"kind"`
	Device string `json:"device,omitempty"`
	Base   uint64 `json:"base,omitempty"`
	End    uint64 `json:"end,omitempty"`
	Line   Line   `json:"-"`
}

const bdf = `((?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])`

// signature is a message Events recognises and the regexp that finds it. lits are literal
// texts of which every match holds at least one: a line with none of them is not given to the
// regexp, and a regexp no line gets that far is never compiled (compiling all of them was a
// third of a millisecond of every check).
type signature struct {
	kind Kind
	lits []string
	re   func() *regexp.Regexp
}

func sig(kind Kind, lits []string, src string) signature {
	return signature{kind, lits, sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(src) })}
}

// signatures are made on first use, not when the program starts; each regexp when it is first
// needed.
var signatures = sync.OnceValue(func() []signature {
	return []signature{
		sig(RMRRIneligible, []string{"Device is ineligible for IOMMU domain attach due to platform RMRR requirement"}, bdf+`: (?:DMAR: )?Device is ineligible for IOMMU domain attach due to platform RMRR requirement`),
		sig(RMRRIdentity, []string{"Firmware has requested this device have a 1:1 IOMMU mapping"}, bdf+`: Firmware has requested this device have a 1:1 IOMMU mapping`),
		sig(RMRRIdentity, []string{"Firmware has requested this device have a 1:1 IOMMU mapping"}, `Firmware has requested this device have a 1:1 IOMMU mapping`),
		sig(RMRRBase, []string{"RMRR base: 0x"}, `RMRR base: 0x([0-9a-fA-F]+) end: 0x([0-9a-fA-F]+)`),
		sig(RMRRBroken, []string{"RMRR entry for device "}, `RMRR entry for device ([0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]) is broken`),
		sig(RMRRBroken, []string{"No firmware reserved region can cover this RMRR", "Your BIOS is broken; RMRR"}, `No firmware reserved region can cover this RMRR|Your BIOS is broken; RMRR`),
		sig(RMRRRelaxed, []string{"assuming all RMRRs are relaxable"}, `assuming all RMRRs are relaxable`),
		sig(IOMMUDisabled, []string{"DMAR", "Intel-IOMMU: disabled", "AMD-Vi: "}, `DMAR: IOMMU disabled|Intel-IOMMU: disabled|DMAR: Disabling IOMMU|AMD-Vi: .*disabl|DMAR reported at address (?:0|zero)|DMAR: Forcing Intel-IOMMU to disabled`),
		sig(IOMMUEnabled, []string{"DMAR: ", "AMD-Vi: Interrupt remapping enabled", "iommu: Default domain type"}, `DMAR: (?:IOMMU enabled|Intel\(R\) Virtualization Technology for Directed I/O)|AMD-Vi: Interrupt remapping enabled|iommu: Default domain type`),
		sig(NoIOMMU, []string{"vfio-noiommu", "VFIO - User Level meta-driver"}, bdf+`: Adding kernel taint for vfio-noiommu|VFIO - User Level meta-driver.*no-IOMMU|vfio-noiommu`),
		sig(GroupNotViable, []string{" VFIO group is not viable"}, bdf+` VFIO group is not viable`),
		sig(EALVFIO, []string{"EAL: "}, `EAL: +`+bdf+` (?:failed to select IOMMU type|cannot be used|failed to setup container)|EAL: .*(?:VFIO support could not be initialized|Cannot open /dev/vfio)`),
		sig(DMARFault, []string{"DMAR: [DMA "}, `DMAR: \[DMA (?:Read|Write)[^\]]*\] Request device \[([0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])\]`),
	}
})

// Events finds every recognised message in lines, in order. A device named without its PCI
// segment ("03:00.0") is reported in segment 0000.
func Events(lines []Line) []Event {
	var out []Event
	for _, l := range lines {
		if !mayMatch(l.Text) {
			continue
		}
		for _, sig := range signatures() {
			if !holdsAny(l.Text, sig.lits) {
				continue
			}
			m := sig.re().FindStringSubmatch(l.Text)
			if m == nil {
				continue
			}
			ev := Event{Kind: sig.kind, Line: l}
			switch {
			case sig.kind == RMRRBase:
				ev.Base, _ = strconv.ParseUint(m[1], 16, 64)
				ev.End, _ = strconv.ParseUint(m[2], 16, 64)
			case len(m) > 1:
				for _, g := range m[1:] {
					if g != "" {
						ev.Device = fullBDF(g)
						break
					}
				}
			}
			out = append(out, ev)
			break
		}
	}
	return out
}

// keywords are literal words of which every signature's match holds at least one; a line
// holding none of them is skipped before any regexp runs (most of a kernel log).
var keywords = []string{"RMRR", "IOMMU", "iommu", "DMAR", "AMD-Vi", "VFIO", "vfio", "EAL:"}

// mayMatch reports whether s holds one of the keywords.
func mayMatch(s string) bool {
	for _, k := range keywords {
		if strings.Contains(s, k) {
			return true
		}
	}
	return false
}

// holdsAny reports whether s holds one of lits.
func holdsAny(s string, lits []string) bool {
	for _, k := range lits {
		if strings.Contains(s, k) {
			return true
		}
	}
	return false
}

func fullBDF(s string) string {
	s = strings.ToLower(s)
	if strings.Count(s, ":") == 1 {
		return "0000:" + s
	}
	return s
}
