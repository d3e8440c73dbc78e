package iommu

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"regexp"
	"strings"
	"sync"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

// vfioKernel says whether the running kernel has vfio-pci, and which file said so: loaded
// (its driver or module is registered), built in (modules.builtin, or CONFIG_VFIO_PCI=y), a
// module modprobe can load (modules.dep, or CONFIG_VFIO_PCI=m), or absent (modules.dep lists no
// vfio-pci, or the kernel's configuration says it is not set). The release is
// proc/sys/kernel/osrelease; the configuration is proc/config.gz or boot/config-RELEASE.
func vfioKernel(k *kernelFiles, i Info) (state, evidence string) {
	r := k.r
	switch i.VFIOModule {
	case "loaded":
		return VFIOLoaded, r.Path("sys/module/vfio_pci")
	case "builtin":
		if i.VFIODriver {
			return VFIOBuiltin, r.Path("sys/bus/pci/drivers/vfio-pci")
		}
	}
	if i.VFIODriver {
		return VFIOLoaded, r.Path("sys/bus/pci/drivers/vfio-pci")
	}
	rel, err := k.release()
	if err != nil || rel == "" || strings.Contains(rel, "/") {
		rel = ""
	}
	if rel != "" {
		if b, err := k.file("lib/modules/" + rel + "/modules.builtin"); err == nil && hasModule(b) {
			return VFIOBuiltin, r.Path("lib/modules/" + rel + "/modules.builtin")
		}
	}
	var depRead bool
	if rel != "" {
		if b, err := r.ReadHead("lib/modules/"+rel+"/modules.dep", 64<<20); err == nil {
			depRead = true
			if hasModule(b) {
				return VFIOModuleAvailable, r.Path("lib/modules/" + rel + "/modules.dep")
			}
		}
	}
	if v, file := kernelConfig(r, rel, "CONFIG_VFIO_PCI"); file != "" {
		switch v {
		case "y":
			return VFIOBuiltin, file
		case "m":
			if !depRead {
				return VFIOModuleAvailable, file
			}
			// Configured as a module but not installed (a kernel built without its modules).
			return VFIOAbsent, r.Path("lib/modules/" + rel + "/modules.dep")
		default:
			return VFIOAbsent, file
		}
	}
	if depRead {
		return VFIOAbsent, r.Path("lib/modules/" + rel + "/modules.dep")
	}
	return "", ""
}

// vfioModule matches vfio-pci's path in modules.builtin and modules.dep, compressed or not.
// It is compiled on first use, not when the program starts.
var vfioModule = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`(?m)(^|/)vfio-pci\.ko(\.[a-z]+)?(:|$)`) })

func hasModule(b []byte) bool { return vfioModule().Match(b) }

// kernelConfig returns the value of option in the running kernel's configuration ("y", "m",
// or "n" when the file says "is not set" or lacks it) and the file read; file is "" when there
// is no configuration to read.
func kernelConfig(r host.Root, release, option string) (value, file string) {
	var text io.Reader
	if b, err := r.ReadHead("proc/config.gz", 1<<20); err == nil {
		if z, err := gzip.NewReader(bytes.NewReader(b)); err == nil {
			text, file = io.LimitReader(z, 16<<20), r.Path("proc/config.gz")
		}
	}
	if text == nil && release != "" {
		if b, err := r.ReadHead("boot/config-"+release, 16<<20); err == nil {
			text, file = bytes.NewReader(b), r.Path("boot/config-"+release)
		}
	}
	if text == nil {
		return "", ""
	}
	sc := bufio.NewScanner(text)
	sc.Buffer(make([]byte, 4096), 1<<20)
	value = "n"
	prefix := []byte(option + "=")
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), prefix); ok {
			value = string(v)
		}
	}
	if sc.Err() != nil {
		return "", ""
	}
	return value, file
}
