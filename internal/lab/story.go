package lab

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/conrep"
	"github.com/dpdk-doctor/dpdk-doctor/dmar"
)

// The seed's story on a real kernel: a lab host like the DL360e Gen8 (SMBIOS says HP ProLiant
// DL360e Gen8) with an e1000e in slot 2 covered by an RMRR and a second NIC on the same QEMU hub
// (no outside network), the guest's userland being this machine's own Debian root over 9p with
// OVS-DPDK and DPDK's PMD plugins, and 256 huge pages.

// StoryNIC is the NIC the story gives to OVS-DPDK, in slot 2.
const StoryNIC = "0000:01:00.0"

// StoryPeer is the second NIC, on the same QEMU hub, that sends the frames the story captures.
const StoryPeer = "0000:02:00.0"

// storySlots maps the story machine's physical slots to the scope path firmware writes for the
// device in them: what an HPE BIOS drops from its RMRRs when conrep excludes the slot.
var storySlots = map[string]string{"2": "02.0/00.0"}

// StoryMachine is the story's lab host.
func StoryMachine() Machine {
	return Machine{IOMMU: true, MemoryMB: 2048, CPUs: 2, Devices: []Device{
		{Model: "pcie-root-port", ID: "rp2", Props: []string{"addr=0x2.0", "slot=2", "chassis=1"}},
		{Model: "e1000e", Bus: "rp2", Props: []string{"romfile=", "netdev=h0"}},
		{Model: "pcie-root-port", ID: "rp3", Props: []string{"addr=0x3.0", "slot=3", "chassis=2"}},
		{Model: "e1000e", Bus: "rp3", Props: []string{"romfile=", "netdev=h1"}},
	}, Extra: []string{
		"-netdev", "hubport,id=h0,hubid=0", "-netdev", "hubport,id=h1,hubid=0",
		"-smbios", "type=1,manufacturer=HP,product=ProLiant DL360e Gen8",
	}}
}

// StoryModules are loaded in the story's guest besides VFIO: virtio and 9p for the shares, the
// NIC driver, tun and veth for OVS's netdev bridges.
var StoryModules = []string{"virtio_pci", "9pnet_virtio", "9p", "e1000e", "tun", "veth"}

// StoryRMRRs returns the firmware's RMRRs for the next boot: the RMRR over slot 2, less the
// scopes of the slots the NVRAM (conrep's state) excludes.
func StoryRMRRs(defs conrep.Definitions, nvram map[string]uint32) []RMRR {
	excluded := ExcludedSlots(defs, nvram)
	var scopes []dmar.Scope
	slots := make([]string, 0, len(storySlots))
	for s := range storySlots {
		slots = append(slots, s)
	}
	sort.Strings(slots)
	for _, s := range slots {
		if !excluded[s] {
			scopes = append(scopes, Endpoint(storySlots[s]))
		}
	}
	if len(scopes) == 0 {
		return nil
	}
	return []RMRR{{rmrrBase, rmrrEnd, scopes}}
}

// ExcludedSlots reads which slots an HPE NVRAM excludes from RMRR reporting, by the
// RMRDS_Slot<N> sections of conrep's definitions.
func ExcludedSlots(defs conrep.Definitions, nvram map[string]uint32) map[string]bool {
	out := map[string]bool{}
	for name, d := range defs {
		slot, ok := strings.CutPrefix(name, "RMRDS_Slot")
		if !ok {
			continue
		}
		ex, ok := d.Values[conrep.Excluded]
		if !ok {
			continue
		}
		b := nvram["0x"+strconv.FormatUint(uint64(d.NVRAM), 16)]
		if b&d.Mask == ex {
			out[slot] = true
		}
	}
	return out
}

// ConrepNVRAM reads the NVRAM from the conrep double's state file.
func ConrepNVRAM(state []byte) (map[string]uint32, error) {
	var st struct {
		NVRAM map[string]uint32 `json:"nvram"`
	}
	if err := json.Unmarshal(state, &st); err != nil {
		return nil, fmt.Errorf("conrep state: %w", err)
	}
	if st.NVRAM == nil {
		st.NVRAM = map[string]uint32{}
	}
	return st.NVRAM, nil
}

// StoryInit is the story guest's /init: mount this machine's root (read-only) and the lab share
// over 9p, tmpfs on /tmp and /run, move /proc, /sys and /dev in, mount huge pages, and run
// story.sh from the share in that root.
func StoryInit() string {
	return scriptHead + `section modules loadmods
nine="-t 9p -o trans=virtio,version=9p2000.L,msize=262144"
mkdir -p /newroot
mount $nine,ro hostroot /newroot
mount -t tmpfs tmpfs /newroot/tmp
mount -t tmpfs tmpfs /newroot/run
mount $nine lab /newroot/mnt
mount --move /proc /newroot/proc
mount --move /sys /newroot/sys
mount --move /dev /newroot/dev
mkdir -p /newroot/dev/hugepages
mount -t hugetlbfs nodev /newroot/dev/hugepages
chroot /newroot /bin/sh /mnt/story.sh
echo "@@LAB-DONE" >/newroot/dev/ttyS1
sync
poweroff -f
`
}

// StoryScript is the story's steps, run by this machine's own /bin/sh inside the guest. before
// is the first boot (the RMRR covers slot 2): check, the failing add-port, ovs show, and fix
// rmrr --apply with the conrep double; the second boot checks again and adds the port.
func StoryScript(before bool) string {
	s := `#!/bin/sh
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
out=/dev/ttyS1
section() {
	name=$1; shift
	"$@" >/tmp/.o 2>/tmp/.e
	rc=$?
	{ echo "@@LAB-BEGIN $name $rc"; base64 /tmp/.o; echo "@@LAB-ERR"; base64 /tmp/.e; echo "@@LAB-END"; } >$out
}
dev=` + StoryNIC + `
# The guest is slow: give every OVSDB wait two minutes where the binary has --db-timeout.
dbt() { /mnt/dpdk-doctor "$@" --help 2>&1 | grep -q -- --db-timeout && echo "--db-timeout 120s"; }
D=/tmp/ovs; mkdir -p $D
export OVS_RUNDIR=$D OVS_LOGDIR=$D OVS_DBDIR=$D OVS_SYSCONFDIR=$D
DB=unix:$D/db.sock
section check /mnt/dpdk-doctor check --json --device $dev
p=/sys/bus/pci/devices/$dev
section bind sh -c "echo vfio-pci > $p/driver_override && { [ ! -e $p/driver ] || echo $dev > $p/driver/unbind; } && echo $dev > /sys/bus/pci/drivers_probe && readlink $p/driver"
section ovs-start sh -c "ovsdb-tool create $D/conf.db /usr/share/openvswitch/vswitch.ovsschema &&
 ovsdb-server $D/conf.db --remote=punix:$D/db.sock --pidfile=$D/ovsdb-server.pid --detach --log-file=$D/ovsdb.log &&
 ovs-vsctl --db=$DB --no-wait init &&
 ovs-vsctl --db=$DB --no-wait set Open_vSwitch . other_config:dpdk-init=true other_config:dpdk-socket-mem=256 &&
 /usr/lib/openvswitch-switch-dpdk/ovs-vswitchd-dpdk $DB --pidfile=$D/vswitchd.pid --detach --log-file=$D/vswitchd.log"
i=0
while [ $i -lt 300 ] && [ "$(ovs-vsctl --db=$DB get Open_vSwitch . dpdk_initialized 2>/dev/null)" != true ]; do sleep 1; i=$((i+1)); done
section add-br ovs-vsctl --db=$DB --timeout=300 add-br br-provider -- set bridge br-provider datapath_type=netdev
section add-port ovs-vsctl --db=$DB --timeout=300 add-port br-provider dpdk-p0 -- set Interface dpdk-p0 type=dpdk options:dpdk-devargs=$dev
section iface ovs-vsctl --db=$DB get Interface dpdk-p0 error ofport
section ovs-show /mnt/dpdk-doctor ovs show --json --db $DB $(dbt ovs show)
`
	if !before {
		// Frames from the second NIC (on e1000e, same QEMU hub) reach the DPDK port; traffic
		// mirrors the bridge to a veth, captures, and tears everything down.
		s += `n=$(ls /sys/bus/pci/devices/` + StoryPeer + `/net)
ip link set $n up
( i=0; while [ $i -lt 120 ]; do /bin/busybox arping -U -c 1 -I $n -s 192.0.2.1 192.0.2.1 >/dev/null 2>&1; sleep 1; i=$((i+1)); done ) &
sender=$!
section traffic /mnt/dpdk-doctor traffic br-provider --count 3 --timeout 120s --filter arp --db $DB $(dbt traffic)
kill $sender 2>/dev/null
section leftovers sh -c "ovs-vsctl --db=$DB --columns=name list Mirror; ovs-vsctl --db=$DB list-ports br-provider; ip -o link show type veth"
`
	}
	if before {
		s += `section fix env CONREP_DOUBLE_STATE=/mnt/conrep-state.json /mnt/dpdk-doctor fix rmrr $dev --apply --conrep /mnt/conrep-double --xml /mnt/conrep_rmrds.xml --state-dir /tmp/fix
`
	}
	s += `section vswitchd-log cat $D/vswitchd.log
kill $(cat $D/vswitchd.pid) $(cat $D/ovsdb-server.pid) 2>/dev/null
section dmesg dmesg
`
	return s
}
