package lab

import (
	"github.com/dpdk-doctor/dpdk-doctor/dmar"
	"github.com/dpdk-doctor/dpdk-doctor/vfio"
)

// Guest addresses of the Standard machine's devices, and their scope paths from bus 0.
const (
	NICSlot2   = "0000:01:00.0" // behind root port 00:02.0, slot 2
	NICSlot3   = "0000:02:00.0" // behind root port 00:03.0, slot 3
	NICSwitchA = "0000:05:00.0" // behind the switch's downstream port in slot 5
	NICSwitchB = "0000:06:00.0" // behind the switch's downstream port in slot 6
	NICMF0     = "0000:07:00.0" // function 0 of a multi-function e1000e, slot 7
	NICMF1     = "0000:07:00.1" // function 1
	USB        = "0000:08:00.0" // qemu-xhci, slot 8
	Display    = "0000:09:00.0" // bochs-display, slot 9
	PCINIC1    = "0000:0a:01.0" // e1000 behind the conventional PCI bridge 00:08.0
	PCINIC2    = "0000:0a:02.0"
)

const (
	rmrrBase = 0xf4000 // e820-reserved under SeaBIOS
	rmrrEnd  = 0xf4fff
)

func every(o vfio.Outcome) map[string]vfio.Outcome { return map[string]vfio.Outcome{"": o} }

// Scenarios are the truth tests, each booted on every lab kernel.
var Scenarios = []Scenario{
	{
		Name:  "endpoint-rmrr-slot",
		About: "an endpoint RMRR on the NIC in slot 2 (the seed's DL360e); the NIC in slot 3 is the control",
		RMRRs: []RMRR{{rmrrBase, rmrrEnd, []dmar.Scope{Endpoint("02.0/00.0")}}},
		Bind:  []string{NICSlot2, NICSlot3},
		Expect: map[string]map[string]vfio.Outcome{
			NICSlot2: every(vfio.Refused), NICSlot3: every(vfio.Attached),
		},
		Slots: map[string]string{NICSlot2: "2", NICSlot3: "3"},
	},
}
