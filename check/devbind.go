package check

import (
	"fmt"
	"slices"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

// devbindDrivers are the DPDK drivers dpdk-devbind.py knows, in its order.
var devbindDrivers = []string{"igb_uio", "vfio-pci", "uio_pci_generic"}

// LoadedDPDKDrivers lists the DPDK drivers dpdk-devbind.py would call loaded: those with a
// directory in sys/module (vfio_pci is named vfio-pci), in devbind's order.
func LoadedDPDKDrivers(r host.Root) []string {
	var out []string
	for _, d := range devbindDrivers {
		if r.Exists("sys/module/" + strings.ReplaceAll(d, "-", "_")) {
			out = append(out, d)
		}
	}
	return out
}

// WriteDevbindStatus prints the network devices of rows as `dpdk-devbind.py --status-dev net`
// does (sections for DPDK-compatible, kernel and no driver; `drv=`, `unused=`, `if=`,
// `*Active*`), each line followed by our columns (slot, IOMMU group, RMRR). loaded are the DPDK
// drivers loaded (LoadedDPDKDrivers): devbind offers them as unused= drivers. *Active* is our
// Active (the host uses the interface, or cannot tell), where devbind looks for the device's
// interfaces in `ip -o route`.
func WriteDevbindStatus(rows []DeviceRow, loaded []string) string {
	var dpdk, kernel, none []string
	for _, r := range rows {
		if !strings.HasPrefix(r.Class, "02") {
			continue // devbind's network class; its few vendor-specific extras are not listed
		}
		name := r.DeviceName
		if name == "" {
			name = "Device " + r.DeviceID
		}
		line := fmt.Sprintf("%s '%s %s' ", r.Address, name, r.DeviceID)
		unused := devbindUnused(r, loaded)
		switch {
		case r.Driver == "":
			line += "unused=" + unused
			none = append(none, line+ourColumns(r))
		case slices.Contains(loaded, r.Driver):
			line += fmt.Sprintf("drv=%s unused=%s", r.Driver, unused)
			dpdk = append(dpdk, line+ourColumns(r))
		default:
			active := ""
			if r.Active {
				active = "*Active*"
			}
			line += fmt.Sprintf("if=%s drv=%s unused=%s %s", strings.Join(r.Interfaces, ","), r.Driver, unused, active)
			kernel = append(kernel, line+ourColumns(r))
		}
	}
	var b strings.Builder
	if len(dpdk)+len(kernel)+len(none) == 0 {
		msg := "No 'Network' devices detected"
		fmt.Fprintf(&b, "\n%s\n%s\n", msg, strings.Repeat("=", len(msg)))
		return b.String()
	}
	section := func(title string, lines []string) {
		if len(lines) == 0 {
			return
		}
		slices.Sort(lines)
		fmt.Fprintf(&b, "\n%s\n%s\n%s\n", title, strings.Repeat("=", len(title)), strings.Join(lines, "\n"))
	}
	section("Network devices using DPDK-compatible driver", dpdk)
	section("Network devices using kernel driver", kernel)
	section("Other Network devices", none)
	return b.String()
}

// devbindUnused is devbind's unused= list: the kernel module lspci -k names last, then each
// loaded DPDK driver not already named, without the bound driver.
func devbindUnused(r DeviceRow, loaded []string) string {
	var mods []string
	if len(r.Modules) > 0 {
		mods = strings.Split(r.Modules[len(r.Modules)-1], ",")
		for _, d := range loaded {
			if !strings.Contains(strings.Join(mods, ","), d) {
				mods = append(mods, d)
			}
		}
	} else {
		mods = slices.Clone(loaded)
	}
	if i := slices.Index(mods, r.Driver); r.Driver != "" && i >= 0 {
		mods = slices.Delete(mods, i, i+1)
	}
	return strings.Join(mods, ",")
}

// ourColumns are what dpdk-doctor adds to a devbind line: "  [slot=2 group=17 rmrr=locked]".
func ourColumns(r DeviceRow) string {
	var c []string
	if r.Slot != "" {
		c = append(c, "slot="+r.Slot)
	}
	if r.IOMMUGroup != nil {
		c = append(c, fmt.Sprintf("group=%d", *r.IOMMUGroup))
	}
	if r.RMRR != "" {
		c = append(c, "rmrr="+r.RMRR)
	}
	if len(c) == 0 {
		return ""
	}
	return "  [" + strings.Join(c, " ") + "]"
}
