// Package cpu reads the processor facts that DPDK and VFIO depend on from /proc/cpuinfo.
package cpu

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"github.com/dpdk-doctor/dpdk-doctor/host"
)

// Info is what /proc/cpuinfo says about the processors.
type Info struct {
	Vendor    string          // "GenuineIntel", "AuthenticAMD"
	ModelName string          // of the first processor
	CPUs      int             // logical processors listed
	Flags     map[string]bool // of the first processor
}

// Virtualization returns the hardware virtualisation flag present ("vmx" for Intel VT-x, "svm"
// for AMD-V), or "".
func (i Info) Virtualization() string {
	switch {
	case i.Flags["vmx"]:
		return "vmx"
	case i.Flags["svm"]:
		return "svm"
	}
	return ""
}

// Read reads proc/cpuinfo.
func Read(r host.Root) (Info, error) {
	b, err := r.ReadFile("proc/cpuinfo")
	if err != nil {
		return Info{}, fmt.Errorf("reading %s: %w", r.Path("proc/cpuinfo"), err)
	}
	return Parse(b)
}

// Parse reads the cpuinfo format ("key\t: value" lines, a blank line between processors).
func Parse(b []byte) (Info, error) {
	info := Info{Flags: map[string]bool{}}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() { // lines as bytes: only the values kept become strings
		k, v, ok := bytes.Cut(sc.Bytes(), []byte(":"))
		if !ok {
			continue
		}
		k, v = bytes.TrimSpace(k), bytes.TrimSpace(v)
		switch string(k) {
		case "processor":
			info.CPUs++
		case "vendor_id":
			if info.Vendor == "" {
				info.Vendor = string(v)
			}
		case "model name":
			if info.ModelName == "" {
				info.ModelName = string(v)
			}
		case "flags":
			if len(info.Flags) == 0 {
				for _, f := range strings.Fields(string(v)) {
					info.Flags[f] = true
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return info, fmt.Errorf("cpuinfo: %w", err)
	}
	if info.CPUs == 0 {
		return info, fmt.Errorf("cpuinfo: no \"processor\" lines")
	}
	return info, nil
}
