package ovs

import (
	"fmt"
	"strings"
)

// MaxCPUMaskDigits bounds a CPU mask: 2048 hex digits are 8192 CPUs, Linux's largest NR_CPUS.
const MaxCPUMaskDigits = 2048

// ParseCPUMask reads a CPU mask as OVS takes pmd-cpu-mask: hex digits of any width, an optional
// 0x, CPU 0 in the lowest bit. It returns the CPUs set, ascending; a mask naming no CPU, or one
// that is not hex, is an error.
func ParseCPUMask(s string) ([]int, error) {
	h := strings.TrimSpace(s)
	if len(h) >= 2 && h[0] == '0' && (h[1] == 'x' || h[1] == 'X') {
		h = h[2:]
	}
	if h == "" {
		return nil, fmt.Errorf("CPU mask %q: no hex digits", s)
	}
	if len(h) > MaxCPUMaskDigits {
		return nil, fmt.Errorf("CPU mask %.20q...: %d hex digits, more than %d (%d CPUs)", s, len(h), MaxCPUMaskDigits, 4*MaxCPUMaskDigits)
	}
	var cpus []int
	for i := len(h) - 1; i >= 0; i-- {
		var v byte
		switch c := h[i]; {
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return nil, fmt.Errorf("CPU mask %q: %q is not a hex digit", s, c)
		}
		base := 4 * (len(h) - 1 - i)
		for b := 0; b < 4; b++ {
			if v&(1<<b) != 0 {
				cpus = append(cpus, base+b)
			}
		}
	}
	if len(cpus) == 0 {
		return nil, fmt.Errorf("CPU mask %q names no CPU", s)
	}
	return cpus, nil
}
