package lab

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// VFIOModules are the modules every lab guest loads: vfio-pci and the type1 IOMMU backend (which
// the kernel would otherwise only request on first use). Their dependencies come from
// modules.dep.
var VFIOModules = []string{"vfio_iommu_type1", "vfio-pci"}

// ModuleOrder returns the modules.dep paths of want and everything they depend on, each after
// its dependencies: the order to insmod them in. Modules named in builtin (modules.builtin:
// built into this kernel, virtio_pci in 6.12) are left out.
func ModuleOrder(dep, builtin []byte, want []string) ([]string, error) {
	inKernel := map[string]bool{}
	for _, l := range strings.Fields(string(builtin)) {
		inKernel[modName(l)] = true
	}
	deps := map[string][]string{} // module path -> its dependencies' paths
	byName := map[string]string{} // normalised module name -> path
	sc := bufio.NewScanner(bytes.NewReader(dep))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if strings.TrimSpace(l) == "" {
			continue
		}
		mod, rest, ok := strings.Cut(l, ":")
		if !ok || mod == "" {
			return nil, fmt.Errorf("modules.dep line %d: no \"module:\" in %q", n, l)
		}
		deps[mod] = strings.Fields(rest)
		byName[modName(mod)] = mod
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("modules.dep: %w", err)
	}
	var out []string
	done, visiting := map[string]bool{}, map[string]bool{}
	var load func(p string) error
	load = func(p string) error {
		if done[p] {
			return nil
		}
		if visiting[p] {
			return fmt.Errorf("modules.dep: dependency loop through %s", p)
		}
		visiting[p] = true
		ds := deps[p]
		for i := len(ds) - 1; i >= 0; i-- { // modprobe loads the list from its end
			if err := load(ds[i]); err != nil {
				return err
			}
		}
		visiting[p] = false
		done[p] = true
		out = append(out, p)
		return nil
	}
	for _, w := range want {
		p, ok := byName[modName(w)]
		if !ok && inKernel[modName(w)] {
			continue
		}
		if !ok {
			return nil, fmt.Errorf("module %s is not in modules.dep (built into the kernel, or not shipped)", w)
		}
		if err := load(p); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// modName turns "kernel/drivers/vfio/pci/vfio-pci.ko.xz" or "vfio-pci" into "vfio_pci".
func modName(p string) string {
	b := path.Base(p)
	for _, ext := range []string{".xz", ".zst", ".gz", ".ko"} {
		b = strings.TrimSuffix(b, ext)
	}
	return strings.ReplaceAll(b, "-", "_")
}

// Initramfs is what goes into a guest's initramfs.
type Initramfs struct {
	Kernel  *Kernel
	Modules []string          // module names to load, beside VFIOModules
	Init    string            // the /init script
	Files   map[string][]byte // more files (the dpdk-doctor binary at bin/dpdk-doctor), mode 0755
	Busybox string            // path of a static busybox; default /bin/busybox
}

// Build returns the gzip-compressed newc archive. Modules are stored uncompressed (the lab's
// busybox insmod does not read .ko.xz) under lib/modules/, listed in load order in
// lab/modules.
func (in Initramfs) Build(ctx context.Context) ([]byte, error) {
	bb := in.Busybox
	if bb == "" {
		bb = "/bin/busybox"
	}
	bbData, err := os.ReadFile(bb)
	if err != nil {
		return nil, fmt.Errorf("initramfs: busybox (install busybox-static): %w", err)
	}
	dep, err := os.ReadFile(filepath.Join(in.Kernel.Modules(), "modules.dep"))
	if err != nil {
		return nil, fmt.Errorf("initramfs: %w", err)
	}
	builtin, _ := os.ReadFile(filepath.Join(in.Kernel.Modules(), "modules.builtin"))
	order, err := ModuleOrder(dep, builtin, append(append([]string{}, VFIOModules...), in.Modules...))
	if err != nil {
		return nil, fmt.Errorf("initramfs for %s: %w", in.Kernel.Release, err)
	}
	files := []cpioFile{
		{Name: "bin/busybox", Mode: 0o755, Data: bbData},
		{Name: "bin/sh", Link: "busybox"},
		{Name: "init", Mode: 0o755, Data: []byte(in.Init)},
		{Name: "proc", Dir: true}, {Name: "sys", Dir: true}, {Name: "dev", Dir: true}, {Name: "tmp", Dir: true},
	}
	var list strings.Builder
	for _, p := range order {
		data, err := readModule(ctx, filepath.Join(in.Kernel.Modules(), p))
		if err != nil {
			return nil, err
		}
		name := modName(p) + ".ko"
		files = append(files, cpioFile{Name: "lib/modules/" + name, Mode: 0o644, Data: data})
		list.WriteString(name + "\n")
	}
	files = append(files, cpioFile{Name: "lab/modules", Mode: 0o644, Data: []byte(list.String())})
	for n, d := range in.Files {
		files = append(files, cpioFile{Name: n, Mode: 0o755, Data: d})
	}
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	if err := writeCPIO(zw, files); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// readModule reads a kernel module, decompressing .ko.xz with xz(1).
func readModule(ctx context.Context, p string) ([]byte, error) {
	if !strings.HasSuffix(p, ".xz") {
		return os.ReadFile(p)
	}
	out, err := run(ctx, "", "xz", "-dc", p)
	if err != nil {
		return nil, fmt.Errorf("decompressing %s (install xz-utils): %w", p, err)
	}
	return []byte(out), nil
}
