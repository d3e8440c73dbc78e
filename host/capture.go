package host

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
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

// File is a file a capture adds to the tree it writes (the OVS snapshot).
type File struct {
	Path string // inside the tree ("var/lib/dpdk-doctor/ovs-state.json")
	Data []byte
}

// OVSLog is where ovs-vswitchd logs when started with a bare --log-file (Debian, Red Hat), and
// where a captured tree keeps the end of its log, the file where DPDK's EAL lines are;
// MaxOVSLog is how much of that end is kept.
const (
	OVSLog    = "var/log/openvswitch/ovs-vswitchd.log"
	MaxOVSLog = 4 << 20
)

// Capture copies from src into the new directory dst every file dpdk-doctor reads, keeping
// sysfs's links as links and copying /proc's links as the files they lead to, so that
// `--root dst` later reads the same host (a support bundle). It adds the kernel log (as
// var/log/dmesg), the end of ovs-vswitchd's log when there is one, and extra.
//
// dst must not exist. The tree is written beneath a new sibling directory that only this
// capture writes to, never through a link it made, then renamed to dst: a capture that fails
// leaves nothing behind.
func Capture(src Root, dst string, extra ...File) (err error) {
	if dst == "" {
		return errors.New("capture: the target directory is empty (name a new directory)")
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("capture: %s already exists (name a new directory)", dst)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("capture: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dst), filepath.Base(dst)+".tmp-")
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	root, err := os.OpenRoot(tmp)
	if err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	defer root.Close()
	c := &copier{src: src, dst: root}
	for _, f := range extra { // first: what the caller adds wins over a copy of the same file
		c.write(f.Path, f.Data)
	}
	c.copy()
	if err := errors.Join(c.errs...); err != nil {
		return fmt.Errorf("capture into %s: %w", dst, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("capture: %w", err)
	}
	err = renameNoReplace(tmp, dst)
	if err == syscall.EINVAL || err == syscall.ENOSYS { // a file system without RENAME_NOREPLACE
		if _, lerr := os.Lstat(dst); errors.Is(lerr, fs.ErrNotExist) {
			err = os.Rename(tmp, dst)
		} else {
			err = syscall.EEXIST
		}
	}
	if err != nil {
		return fmt.Errorf("capture: moving %s to %s: %w", tmp, dst, err)
	}
	return nil
}

func (c *copier) copy() {
	src := c.src
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
			continue // not a link: not a device the kernel made
		}
		c.link(link, t)
		dir, err := src.Resolve(link) // the device's real directory, inside the tree
		if err != nil {
			continue
		}
		for _, f := range []string{"config", "numa_node", "vendor", "device", "class", "subsystem_vendor", "subsystem_device", "revision", "modalias", "irq", "resource"} {
			c.file(dir + "/" + f)
		}
		for _, l := range []string{"driver", "iommu_group"} {
			if t, err := src.ReadLink(dir + "/" + l); err == nil {
				c.link(dir+"/"+l, t)
				if l == "driver" {
					if drv, err := src.Resolve(dir + "/driver"); err == nil {
						if rel, err := filepath.Rel(drv, dir); err == nil {
							c.link(drv+"/"+e.Name(), rel)
						}
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
	if rel, err := src.ReadString("proc/sys/kernel/osrelease"); err == nil && !strings.Contains(rel, "/") && rel != ".." {
		c.file("lib/modules/" + rel + "/modules.alias")
		c.file("lib/modules/" + rel + "/modules.builtin")
		c.file("lib/modules/" + rel + "/modules.dep")
		c.file("boot/config-" + rel)
	}
	if log, _, err := src.KernelLog(); err == nil && len(log) > 0 {
		c.write("var/log/dmesg", log)
	}
	if p := OVSLogPath(src); p != "" {
		if b, err := src.ReadTail(p, MaxOVSLog); err == nil && len(b) > 0 {
			c.write(OVSLog, b)
		}
	}
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

// copier writes a tree beneath dst, refusing to write through any link (whatever made it).
type copier struct {
	src  Root
	dst  *os.Root
	errs []error
}

func (c *copier) fail(err error) {
	if len(c.errs) < 10 {
		c.errs = append(c.errs, err)
	}
}

// mkdir makes the directory rel and its parents, all real directories.
func (c *copier) mkdir(rel string) bool {
	if !fs.ValidPath(rel) {
		c.fail(fmt.Errorf("%s: not a path inside the tree", rel))
		return false
	}
	if rel == "." {
		return true
	}
	p := ""
	for _, e := range strings.Split(rel, "/") {
		p = path.Join(p, e)
		st, err := c.dst.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := c.dst.Mkdir(p, 0o755); err != nil {
				c.fail(err)
				return false
			}
		case err != nil:
			c.fail(err)
			return false
		case !st.IsDir(): // a link (or a file) is in the way: never write through it
			c.fail(fmt.Errorf("%s: a link or file is where a directory should be; not written through", p))
			return false
		}
	}
	return true
}

func (c *copier) write(rel string, b []byte) {
	if !fs.ValidPath(rel) || rel == "." {
		c.fail(fmt.Errorf("%s: not a path inside the tree", rel))
		return
	}
	if !c.mkdir(path.Dir(rel)) {
		return
	}
	f, err := c.dst.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		return // copied already (a glob and the device walk may meet)
	}
	if err != nil {
		c.fail(err)
		return
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
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

// link makes the link rel with target (only text: the tree's reader resolves it inside the tree).
func (c *copier) link(rel, target string) {
	if !fs.ValidPath(rel) || rel == "." {
		c.fail(fmt.Errorf("%s: not a path inside the tree", rel))
		return
	}
	if !c.mkdir(path.Dir(rel)) {
		return
	}
	if _, err := c.dst.Lstat(rel); err == nil {
		return
	}
	if err := c.dst.Symlink(target, rel); err != nil {
		c.fail(err)
	}
}

// glob copies what matches pattern, one path element at a time: links as links, except under
// proc/, whose links (mounts -> self/mounts) only make sense on the host that has them: they are
// copied as the file they lead to.
func (c *copier) glob(pattern string) {
	parts := strings.Split(pattern, "/")
	var walk func(prefix string, i int)
	walk = func(prefix string, i int) {
		if i == len(parts) {
			m, err := c.src.lstat(prefix)
			switch {
			case err != nil:
			case m&fs.ModeSymlink != 0 && !strings.HasPrefix(prefix, "proc/"):
				if t, err := c.src.ReadLink(prefix); err == nil {
					c.link(prefix, t)
				}
			case m.IsDir():
				c.mkdir(prefix)
			default:
				c.file(prefix)
			}
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
