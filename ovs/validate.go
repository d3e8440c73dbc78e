package ovs

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dpdk-doctor/dpdk-doctor/pci"
)

// Name limits. A bridge's local port is a kernel network device (a tap device in the
// user-space datapath), and so are ports of the kernel types, so Linux's rule applies to them:
// IFNAMSIZ is 16 with the NUL, 15 usable bytes. Other ports (dpdk, dpdkvhostuser, patch) are
// only rows in OVSDB, and a vhost-user port's name becomes a socket file name: MaxPortName
// keeps them printable and well within a unix socket path.
const (
	MaxKernelName = 15
	MaxPortName   = 64
)

// ValidName checks a bridge or port name before anything is touched. A "bridge" (and any kind
// that ends up a kernel device) must be a valid Linux interface name: 1 to 15 bytes, not "." or
// "..", no '/', ':', whitespace or control characters. Other kinds ("port") follow OVS: 1 to 64
// bytes of valid UTF-8 without '/', whitespace or control characters.
func ValidName(kind, s string) error {
	if kind == "bridge" {
		return validKernelName(kind, s)
	}
	return validOVSName(kind, s)
}

// ValidPortName checks a port's name for an interface of type typ: kernel rules for the types
// that make a kernel device ("", "system", "internal", "tap"), OVS's otherwise.
func ValidPortName(name, typ string) error {
	switch typ {
	case "", "system", "internal", "tap":
		return validKernelName("port", name)
	}
	return validOVSName("port", name)
}

func validOVSName(kind, s string) error {
	if err := printableName(kind, s, MaxPortName); err != nil {
		return err
	}
	return nil
}

func validKernelName(kind, s string) error {
	if err := printableName(kind, s, MaxKernelName); err != nil {
		return err
	}
	if s == "." || s == ".." {
		return fmt.Errorf("%s name %q: not a valid interface name", kind, s)
	}
	if strings.ContainsRune(s, ':') {
		return fmt.Errorf("%s name %q: Linux interface names cannot contain ':'", kind, s)
	}
	return nil
}

func printableName(kind, s string, max int) error {
	switch {
	case s == "":
		return fmt.Errorf("%s name is empty", kind)
	case len(s) > max:
		return fmt.Errorf("%s name %q is %d bytes long: at most %d", kind, s, len(s), max)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s name %q is not valid UTF-8", kind, s)
	case strings.ContainsRune(s, '/'):
		return fmt.Errorf("%s name %q: names cannot contain '/'", kind, s)
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || !unicode.IsPrint(r) {
			return fmt.Errorf("%s name %q: names cannot contain spaces or control characters", kind, s)
		}
	}
	return nil
}

var vdevName = lazyRE(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ValidDevargs checks a dpdk-devargs value before it is written to OVS. Its first
// comma-separated field is the device: a PCI address (0000:03:00.0 or 03:00.0; anything with a
// ':' that is not a valid one is refused, where OVS would take it for a virtual device), a vdev
// name (net_af_packet0), or key=value syntax (class=eth,mac=...), passed on as it is.
func ValidDevargs(s string) error {
	switch {
	case s == "":
		return errors.New("--devargs is empty: give the device, e.g. 0000:03:00.0 or net_af_packet0,iface=veth0")
	case len(s) > 1024:
		return fmt.Errorf("devargs %.40q...: longer than 1024 bytes", s)
	case !utf8.ValidString(s):
		return fmt.Errorf("devargs %q is not valid UTF-8", s)
	}
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) || r == '"' || r == '\'' {
			return fmt.Errorf("devargs %q: no spaces, quotes or control characters (give the device, e.g. 0000:03:00.0 or net_af_packet0,iface=veth0)", s)
		}
	}
	dev, _, _ := strings.Cut(s, ",")
	switch {
	case strings.Contains(dev, "="):
		return nil
	case strings.Contains(dev, ":") || pciAddrShape.MatchString(dev):
		if _, err := pci.ParseAddress(dev); err != nil || !pciAddrShape.MatchString(dev) {
			if err == nil {
				err = fmt.Errorf("PCI address %q: want dddd:bb:dd.f, e.g. 0000:03:00.0", dev)
			}
			return fmt.Errorf("devargs %q: %w", s, err)
		}
		return nil
	case vdevName.MatchString(dev):
		return nil
	}
	return fmt.Errorf("devargs %q: %q is neither a PCI address (0000:03:00.0) nor a DPDK vdev name (net_af_packet0)", s, dev)
}

// PortRequest is a DPDK port to add, checked whole before anything is touched.
type PortRequest struct {
	Bridge, Port, Type, Devargs string
}

// Validate checks the names and the devargs, without looking at OVS.
func (r PortRequest) Validate() error {
	if err := ValidName("bridge", r.Bridge); err != nil {
		return err
	}
	if r.Type == "" || strings.ContainsFunc(r.Type, func(c rune) bool { return !(c == '_' || c == '-' || unicode.IsLetter(c) || unicode.IsDigit(c)) }) {
		return fmt.Errorf("interface type %q: want a type such as dpdk", r.Type)
	}
	if err := ValidPortName(r.Port, r.Type); err != nil {
		return err
	}
	return ValidDevargs(r.Devargs)
}

// Target checks the request against OVS's state: the bridge exists (else the error lists the
// bridges there are) and no port or interface has the name yet.
func (r PortRequest) Target(st *State) error {
	var names []string
	found := false
	for _, b := range st.Bridges {
		names = append(names, b.Name)
		found = found || b.Name == r.Bridge
		for _, p := range b.Ports {
			if p.Name == r.Port {
				return fmt.Errorf("a port named %s already exists on bridge %s", r.Port, b.Name)
			}
			for _, i := range p.Interfaces {
				if i.Name == r.Port {
					return fmt.Errorf("an interface named %s already exists on bridge %s", r.Port, b.Name)
				}
			}
		}
	}
	if !found {
		return NoBridgeError(r.Bridge, names)
	}
	return nil
}

// NoBridgeError says a bridge is missing and which bridges there are.
func NoBridgeError(name string, have []string) error {
	sort.Strings(have)
	if len(have) == 0 {
		return fmt.Errorf("no bridge named %s: this Open vSwitch has no bridges", name)
	}
	return fmt.Errorf("no bridge named %s (bridges: %s)", name, strings.Join(have, ", "))
}

// CheckDelete checks that bridge exists and has port, before a port is removed.
func CheckDelete(st *State, bridge, port string) error {
	var names []string
	for _, b := range st.Bridges {
		names = append(names, b.Name)
		if b.Name != bridge {
			continue
		}
		for _, p := range b.Ports {
			if p.Name == port {
				return nil
			}
		}
		return fmt.Errorf("bridge %s has no port named %s", bridge, port)
	}
	return NoBridgeError(bridge, names)
}
