package ovs

import (
	"strings"
	"testing"
)

func TestValidName(t *testing.T) {
	good := [][2]string{{"bridge", "br-provider"}, {"bridge", "br0"}, {"bridge", "123456789012345"}, {"port", "dpdk-p0"},
		{"port", "vhu1234abcd-ef"}, {"port", "dpdk:0000:03:00.0"}, {"port", strings.Repeat("p", 64)}}
	for _, c := range good {
		if err := ValidName(c[0], c[1]); err != nil {
			t.Errorf("%s %q: %v", c[0], c[1], err)
		}
	}
	bad := [][2]string{{"bridge", ""}, {"bridge", "1234567890123456"}, {"bridge", "br/0"}, {"bridge", "br 0"}, {"bridge", "br:0"},
		{"bridge", "."}, {"bridge", ".."}, {"bridge", "br\t0"}, {"bridge", "br\x00"}, {"bridge", "br\x1b[2J"}, {"bridge", "br\xff"},
		{"port", ""}, {"port", "a/b"}, {"port", "a b"}, {"port", "a\nb"}, {"port", "a\u00a0b"}, {"port", strings.Repeat("p", 65)}, {"port", "p\u200b"}}
	for _, c := range bad {
		if err := ValidName(c[0], c[1]); err == nil {
			t.Errorf("%s %q: accepted", c[0], c[1])
		}
	}
	// A port of a kernel type follows Linux's rules; a dpdk port does not.
	if ValidPortName("port:1", "internal") == nil || ValidPortName("port:1", "dpdk") != nil {
		t.Error("kernel-type ports must follow Linux's rules, dpdk ports OVS's")
	}
}

func TestValidDevargs(t *testing.T) {
	for _, s := range []string{"0000:03:00.0", "03:00.0", "0000:af:1f.7", "net_af_packet0,iface=veth0", "net_vhost0,iface=/tmp/sock",
		"class=eth,mac=00:11:22:33:44:55", "0000:03:00.0,representor=[0-3]", "net_tap0"} {
		if err := ValidDevargs(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, s := range []string{"", "0000:zz:00.0", "0000:03:00.8", "0000:03:20.0", "000:03:00.0", "03:00", "0000:03:00.0 ", "a b",
		"0000:03:00.0\n", "03.00.0", "0000-03-00.0", "-x", "'0000:03:00.0'", strings.Repeat("a", 1025), "1:2:3:4"} {
		if err := ValidDevargs(s); err == nil {
			t.Errorf("%q: accepted", s)
		}
	}
	if err := ValidDevargs("0000:zz:00.0"); err == nil || !strings.Contains(err.Error(), "0000:zz:00.0") {
		t.Errorf("the error must name the input: %v", err)
	}
}

func TestPortRequestTarget(t *testing.T) {
	st := &State{Bridges: []Bridge{{Name: "br-b", Ports: []Port{{Name: "p0", Interfaces: []Interface{{Name: "p0"}}}}}, {Name: "br-a"}}}
	err := PortRequest{Bridge: "br-x", Port: "p1", Type: "dpdk", Devargs: "net_tap0"}.Target(st)
	if err == nil || !strings.Contains(err.Error(), "no bridge named br-x (bridges: br-a, br-b)") {
		t.Errorf("missing bridge: %v", err)
	}
	if err := (PortRequest{Bridge: "br-a", Port: "p0"}).Target(st); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("taken name: %v", err)
	}
	if err := (PortRequest{Bridge: "br-a", Port: "p1"}).Target(st); err != nil {
		t.Error(err)
	}
	if err := (PortRequest{Bridge: "br-a", Port: "p1", Type: "dpdk", Devargs: "0000:zz:00.0"}).Validate(); err == nil {
		t.Error("a malformed PCI address must be refused")
	}
	if err := (PortRequest{Bridge: "br-a", Port: "p1", Type: "dp dk", Devargs: "net_tap0"}).Validate(); err == nil {
		t.Error("a malformed type must be refused")
	}
	if err := CheckDelete(st, "br-a", "p0"); err == nil || !strings.Contains(err.Error(), "has no port named p0") {
		t.Errorf("delete: %v", err)
	}
	if err := CheckDelete(st, "br-b", "p0"); err != nil {
		t.Error(err)
	}
	if err := CheckDelete(&State{}, "br-b", "p0"); err == nil || !strings.Contains(err.Error(), "has no bridges") {
		t.Errorf("delete on an empty switch: %v", err)
	}
}

func FuzzValidDevargs(f *testing.F) {
	for _, s := range []string{"0000:03:00.0", "net_af_packet0,iface=x", "0000:zz:00.0", "class=eth,mac=00:11:22:33:44:55"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidDevargs(s) == nil && strings.ContainsAny(s, " \t\n\"'") {
			t.Errorf("%q accepted", s)
		}
		ValidName("bridge", s)
		ValidName("port", s)
	})
}
