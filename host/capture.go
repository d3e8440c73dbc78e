package host

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// captured lists what a capture copies: every file and link dpdk-doctor reads, by glob
// (path.Match syntax, one level per element).
var captured = []string{
	"proc/cpuinfo", "proc/cmdline", "proc/meminfo", "proc/mounts", "proc/sys/kernel/osrelease",
	"sys/firmware/acpi/tables/DMAR", "sys/firmware/acpi/tables/IVRS",
	"sys/class/iommu/*",
	"sys/kernel/iommu_groups/*/reserved_regions", "sys/kernel/iommu_groups/*/devices/*",
	"sys/kernel/mm/hugepages/*/nr_hugepages", "sys/kernel/mm/hugepages/*/free_hugepages",
	"sys/devices/system/node/node*/cpulist",
	"sys/devices/system/node/node*/hugepages/*/nr_hugepages", "sys/devices/system/node/node*/hugepages/*/free_hugepages",
	"sys/bus/pci/slots/*/address",
	"sys/module/vfio_pci/initstate", "sys/module/vfio_pci/refcnt", "sys/module/vfio/parameters/enable_unsafe_noiommu_mode",
	"sys/class/dmi/id/sys_vendor", "sys/class/dmi/id/product_name", "sys/class/dmi/id/bios_vendor",
	"sys/class/dmi/id/bios_version", "sys/class/dmi/id/bios_date",
	"usr/share/misc/pci.ids", "usr/share/hwdata/pci.ids",
	"var/lib/dpdk-doctor/ovs-state.json", // the OVS snapshot a captured tree carries
	// Which interfaces the host uses (netif): routes, addresses, SSH connections, link state.
	"proc/net/route", "proc/net/ipv6_route", "proc/net/if_inet6", "proc/net/fib_trie", "proc/net/tcp", "proc/net/tcp6",
	"sys/class/net/*", "sys/devices/virtual/net/*/operstate", "sys/devices/virtual/net/*/flags", "sys/devices/virtual/net/*/master",
	"proc/config.gz", // whether the kernel has vfio-pci (iommu)
}

// Capture copies from src into the new directory dst every file dpdk-doctor reads, keeping
// sysfs's links as links, so that `--root dst` later reads the same host (a support bundle).
// dst must not exist. The kernel log is written to var/log/dmesg.
func Capture(src Root, dst string) error {
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("capture: %s already exists", dst)
	}
	c := &copier{src: src, dst: dst}
	for _, g := range captured {
		c.glob(g)
	}
	// PCI devices: the bus's links, each device's directory entries we read, drivers' entries.
	ents, _ := src.ReadDir("sys/bus/pci/devices")
	c.mkdir("sys/bus/pci/devices")
	for _, e := range ents {
		link := "sys/bus/pci/devices/" + e.Name()
		t, err := src.ReadLink(link)
		if err != nil {
			c.fail(err)
			continue
		}
		c.link(link, t)
		dir := path.Clean(path.Join(path.Dir(link), t)) // the device's real directory
		for _, f := range []string{"config", "numa_node", "vendor", "device", "class", "subsystem_vendor", "subsystem_device", "revision", "modalias", "irq", "resource"} {
			c.file(dir + "/" + f)
		}
		for _, l := range []string{"driver", "iommu_group"} {
			if t, err := src.ReadLink(dir + "/" + l); err == nil {
				c.link(dir+"/"+l, t)
				if l == "driver" {
					drv := path.Clean(path.Join(dir, t))
					if rel, err := filepath.Rel(drv, dir); err == nil {
						c.link(drv+"/"+e.Name(), rel)
					}
				}
			}
		}
		c.netDir(dir + "/net")
		if ms, err := src.ReadDir(dir); err == nil { // a virtio device's interfaces: virtioN/net
			for _, m := range ms {
				if strings.HasPrefix(m.Name(), "virtio") {
					c.netDir(dir + "/" + m.Name() + "/net")
				}
			}
		}
	}
	c.mkdir("sys/bus/pci/drivers")
	if src.Exists("sys/bus/pci/drivers/vfio-pci") {
		c.mkdir("sys/bus/pci/drivers/vfio-pci")
	}
	if rel, err := src.ReadString("proc/sys/kernel/osrelease"); err == nil && !strings.Contains(rel, "/") {
		c.file("lib/modules/" + rel + "/modules.alias")
		c.file("lib/modules/" + rel + "/modules.builtin")
		c.file("lib/modules/" + rel + "/modules.dep")
		c.file("boot/config-" + rel)
	}
	if log, _, err := src.KernelLog(); err == nil && len(log) > 0 {
		c.write("var/log/dmesg", log)
	}
	return errors.Join(c.errs...)
}

// netDir copies the interfaces under a device's net directory: address, state, flags, master.
func (c *copier) netDir(nd string) {
	nets, err := c.src.ReadDir(nd)
	if err != nil {
		return
	}
	for _, n := range nets {
		for _, f := range []string{"address", "operstate", "flags"} {
			c.file(nd + "/" + n.Name() + "/" + f)
		}
		if t, err := c.src.ReadLink(nd + "/" + n.Name() + "/master"); err == nil {
			c.link(nd+"/"+n.Name()+"/master", t)
		}
	}
}

type copier struct {
	src  Root
	dst  string
	errs []error
}

func (c *copier) fail(err error) {
	if len(c.errs) < 10 {
		c.errs = append(c.errs, err)
	}
}

func (c *copier) mkdir(rel string) {
	if err := os.MkdirAll(filepath.Join(c.dst, rel), 0o755); err != nil {
		c.fail(err)
	}
}

func (c *copier) write(rel string, b []byte) {
	p := filepath.Join(c.dst, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		c.fail(err)
		return
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		c.fail(err)
	}
}

// file copies rel when it exists and can be read (some sysfs attributes refuse reads).
func (c *copier) file(rel string) {
	b, err := c.src.ReadFile(rel)
	if err != nil {
		return
	}
	c.write(rel, b)
}

func (c *copier) link(rel, target string) {
	p := filepath.Join(c.dst, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		c.fail(err)
		return
	}
	if _, err := os.Lstat(p); err == nil {
		return
	}
	if err := os.Symlink(target, p); err != nil {
		c.fail(err)
	}
}

// glob copies what matches pattern, one path element at a time, links as links.
func (c *copier) glob(pattern string) {
	parts := strings.Split(pattern, "/")
	var walk func(prefix string, i int)
	walk = func(prefix string, i int) {
		if i == len(parts) {
			if t, err := c.src.ReadLink(prefix); err == nil {
				c.link(prefix, t)
				return
			}
			if st, err := fs.Stat(c.src.fsys, clean(prefix)); err == nil && st.IsDir() {
				c.mkdir(prefix)
				return
			}
			c.file(prefix)
			return
		}
		if !strings.ContainsAny(parts[i], "*?[") {
			walk(path.Join(prefix, parts[i]), i+1)
			return
		}
		ents, err := c.src.ReadDir(prefix)
		if err != nil {
			return
		}
		for _, e := range ents {
			if ok, _ := path.Match(parts[i], e.Name()); ok {
				walk(path.Join(prefix, e.Name()), i+1)
			}
		}
	}
	walk("", 0)
}
