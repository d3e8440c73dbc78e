// Package platform says what machine a host is: its maker and model as DMI names them,
// normalised (HP, HPE and Hewlett-Packard are one vendor), and whether it is a virtual machine.
// Remedies that only exist on one vendor's firmware (HPE's conrep) and advice that differs in a
// VM (a virtual IOMMU instead of a BIOS menu) ask this package, so they all give one answer.
package platform

import (
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

// Vendors as normalised by Read.
const (
	HPE        = "HPE"
	Dell       = "Dell"
	Lenovo     = "Lenovo"
	Supermicro = "Supermicro"
)

// Files read from the host (all optional).
const (
	sysVendor   = "sys/class/dmi/id/sys_vendor"
	productName = "sys/class/dmi/id/product_name"
	biosVendor  = "sys/class/dmi/id/bios_vendor"
	biosVersion = "sys/class/dmi/id/bios_version"
	biosDate    = "sys/class/dmi/id/bios_date"
	cpuinfo     = "proc/cpuinfo"
	hypervisor  = "sys/hypervisor/type"
)

// Info is what a host says of its platform.
type Info struct {
	SysVendor   string // DMI sys_vendor as read ("Hewlett-Packard")
	Vendor      string // normalised: "HPE", "Dell", ... or SysVendor when unknown
	Product     string // DMI product_name ("ProLiant DL360e Gen8")
	BIOSVendor  string
	BIOSVersion string // "P73" on HPE
	BIOSDate    string
	// Hypervisor names the hypervisor when the host is a virtual machine ("KVM", "VMware",
	// "Xen", "Hyper-V", ...), "" on bare metal.
	Hypervisor string
	// Evidence says what told us it is a VM ("proc/cpuinfo flags: hypervisor").
	Evidence string
}

// IsVM reports whether the host is a virtual machine.
func (i Info) IsVM() bool { return i.Hypervisor != "" }

// IsHPEProLiant reports whether the host is an HPE ProLiant, the only platform whose firmware
// has conrep's RMRDS slot settings.
func (i Info) IsHPEProLiant() bool {
	return i.Vendor == HPE && strings.Contains(i.Product, "ProLiant")
}

// String names the machine for reports: "HPE ProLiant DL360e Gen8 (BIOS P73 08/02/2014)".
func (i Info) String() string {
	s := strings.TrimSpace(i.Vendor + " " + i.Product)
	if i.BIOSVersion != "" || i.BIOSDate != "" {
		s += " (BIOS " + strings.TrimSpace(i.BIOSVersion+" "+i.BIOSDate) + ")"
	}
	if i.IsVM() {
		s += ", virtual machine (" + i.Hypervisor + ")"
	}
	return s
}

// Read reads the platform facts of r. Missing files leave fields empty; it never fails.
func Read(r host.Root) Info { return ReadWithCPUFlags(r, nil) }

// ReadWithCPUFlags is Read for a caller that has read proc/cpuinfo already (cpu.Read): flags
// are the first processor's, and the file is not read again (on a large host it takes
// milliseconds). With nil flags it reads the file.
func ReadWithCPUFlags(r host.Root, flags map[string]bool) Info {
	var i Info
	i.SysVendor, _ = r.ReadString(sysVendor)
	i.Product, _ = r.ReadString(productName)
	i.BIOSVendor, _ = r.ReadString(biosVendor)
	i.BIOSVersion, _ = r.ReadString(biosVersion)
	i.BIOSDate, _ = r.ReadString(biosDate)
	i.Vendor = NormalizeVendor(i.SysVendor)
	i.Hypervisor, i.Evidence = detectVM(r, i, flags)
	return i
}

// NormalizeVendor maps the names firmware gives one maker to one name.
func NormalizeVendor(v string) string {
	v = strings.TrimSpace(v)
	l := strings.ToLower(v)
	switch {
	case l == "hp" || l == "hpe" || strings.HasPrefix(l, "hewlett-packard") || strings.HasPrefix(l, "hewlett packard"):
		return HPE
	case strings.HasPrefix(l, "dell"):
		return Dell
	case strings.HasPrefix(l, "lenovo"):
		return Lenovo
	case strings.HasPrefix(l, "supermicro"):
		return Supermicro
	}
	return v
}

// DMI strings virtual machines carry, lower case, and the hypervisor they name.
var vmDMI = []struct{ substr, name string }{
	{"qemu", "QEMU"}, {"kvm", "KVM"}, {"vmware", "VMware"}, {"virtualbox", "VirtualBox"},
	{"innotek", "VirtualBox"}, {"xen", "Xen"}, {"bochs", "QEMU"}, {"amazon ec2", "Amazon EC2"},
	{"google compute engine", "Google Compute Engine"}, {"openstack", "OpenStack"},
	{"virtual machine", "Hyper-V"}, {"parallels", "Parallels"}, {"cloud hypervisor", "Cloud Hypervisor"},
}

func detectVM(r host.Root, i Info, flags map[string]bool) (name, evidence string) {
	for _, field := range []struct{ file, value string }{
		{sysVendor, i.SysVendor}, {productName, i.Product}, {biosVendor, i.BIOSVendor},
	} {
		l := strings.ToLower(field.value)
		for _, v := range vmDMI {
			if strings.Contains(l, v.substr) {
				return v.name, r.Path(field.file) + ": " + field.value
			}
		}
	}
	if t, err := r.ReadString(hypervisor); err == nil && t != "" {
		return t, r.Path(hypervisor) + ": " + t
	}
	// The CPU flag "hypervisor" is set by every hypervisor that reports itself (CPUID leaf 1,
	// ECX bit 31). Read only the first processor's flags.
	if flags != nil {
		if flags["hypervisor"] {
			return "unknown hypervisor", r.Path(cpuinfo) + " flags: hypervisor"
		}
	} else if b, err := r.ReadHead(cpuinfo, 64<<10); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "flags") {
				for _, fl := range strings.Fields(line[strings.IndexByte(line, ':')+1:]) {
					if fl == "hypervisor" {
						return "unknown hypervisor", r.Path(cpuinfo) + " flags: hypervisor"
					}
				}
				break
			}
		}
	}
	return "", ""
}
