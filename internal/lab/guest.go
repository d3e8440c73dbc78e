package lab

import (
	"strings"
)

// Script builds a guest's /init: mount the pseudo file systems, load the modules in
// lab/modules, then run steps, each sent back as a framed section, then power off. A step is a
// shell command line written by the lab itself (never user input).
type Script struct {
	steps []string
}

// Step adds a command whose exit status, stdout and stderr come back as section name.
func (s *Script) Step(name, command string) { s.steps = append(s.steps, "section "+name+" "+command) }

// Raw adds a shell line run without a section (binding a device, say).
func (s *Script) Raw(line string) { s.steps = append(s.steps, line) }

// Bind adds the steps that hand dev to vfio-pci: driver_override, unbind, drivers_probe.
func (s *Script) Bind(dev string) {
	p := "/sys/bus/pci/devices/" + dev
	s.Step("bind-"+dev, "sh -c 'echo vfio-pci > "+p+"/driver_override && "+
		"{ [ ! -e "+p+"/driver ] || echo "+dev+" > "+p+"/driver/unbind; } && "+
		"echo "+dev+" > /sys/bus/pci/drivers_probe && readlink "+p+"/driver'")
}

// String returns the /init script.
func (s *Script) String() string {
	var b strings.Builder
	b.WriteString(scriptHead + `section modules loadmods
`)
	for _, l := range s.steps {
		b.WriteString(l + "\n")
	}
	b.WriteString(`section dmesg dmesg
echo "@@LAB-DONE" >$out
sync
poweroff -f
`)
	return b.String()
}

// scriptHead starts every /init: busybox's applets, the pseudo file systems, and the section
// and loadmods functions.
const scriptHead = `#!/bin/sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
out=/dev/ttyS1
stty -F $out raw -echo 2>/dev/null
section() {
	name=$1; shift
	"$@" >/tmp/.o 2>/tmp/.e
	rc=$?
	{ echo "@@LAB-BEGIN $name $rc"; base64 /tmp/.o; echo "@@LAB-ERR"; base64 /tmp/.e; echo "@@LAB-END"; } >$out
}
loadmods() {
	for m in $(cat /lab/modules); do insmod /lib/modules/$m || echo "insmod $m failed" >&2; done
}
`
