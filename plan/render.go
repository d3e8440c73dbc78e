package plan

import (
	"fmt"
	"io"
	"strings"
)

// Quote quotes s for a POSIX shell when it needs it.
func Quote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:/=@+%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Vsctl returns the ovs-vsctl command that sets the plan, as argv.
func (p *Plan) Vsctl() []string {
	args := []string{"ovs-vsctl", "set", "Open_vSwitch", "."}
	for _, s := range p.Settings {
		args = append(args, "other_config:"+s.Key+"="+s.Value)
	}
	return args
}

// WriteVsctl writes the plan as shell commands: ovs-vsctl, then the restart the start-time
// settings need.
func (p *Plan) WriteVsctl(w io.Writer) {
	fmt.Fprintln(w, "# dpdk-doctor plan: OVS-DPDK settings for this host")
	var q []string
	for _, a := range p.Vsctl() {
		q = append(q, Quote(a))
	}
	fmt.Fprintln(w, strings.Join(q, " "))
	var restart []string
	for _, s := range p.Settings {
		if s.Restart {
			restart = append(restart, s.Key)
		}
	}
	if len(restart) > 0 {
		fmt.Fprintf(w, "# %s take effect when ovs-vswitchd starts:\n", strings.Join(restart, " and "))
		fmt.Fprintln(w, "systemctl restart openvswitch-switch")
	}
	if len(p.Kernel) > 0 {
		fmt.Fprintf(w, "# kernel command line (then reboot): set (add, or replace the same parameter) %s\n", strings.Join(p.Kernel, " "))
	}
}

// WriteOSA writes the plan as OpenStack-Ansible user_variables (os_neutron's ovs_dpdk_*).
func (p *Plan) WriteOSA(w io.Writer) {
	fmt.Fprintln(w, "---")
	fmt.Fprintln(w, "# dpdk-doctor plan: /etc/openstack_deploy/user_variables.yml (or the host's host_vars)")
	fmt.Fprintln(w, "ovs_dpdk_support: true")
	fmt.Fprintln(w, "ovs_dpdk_driver: vfio-pci")
	fmt.Fprintln(w, "ovs_dpdk_pci_addresses:")
	for _, n := range p.NICs {
		fmt.Fprintf(w, "  - %q\n", n.Addr)
	}
	fmt.Fprintf(w, "ovs_dpdk_socket_mem: %q\n", p.SocketMem)
	if p.PMDMask != "" {
		fmt.Fprintf(w, "ovs_dpdk_pmd_cpu_mask: %q\n", p.PMDMask)
	}
	fmt.Fprintf(w, "ovs_dpdk_lcore_mask: %q\n", p.LcoreMask)
	var pages uint64
	for _, n := range p.Nodes {
		pages += n.Pages
	}
	if p.PageSizeKB == 1<<20 {
		fmt.Fprintf(w, "ovs_dpdk_nr_1g_pages: %d\n", pages)
	} else {
		fmt.Fprintf(w, "ovs_dpdk_nr_2m_pages: %d\n", pages)
	}
}

// WriteText explains the plan for a person.
func (p *Plan) WriteText(w io.Writer) {
	fmt.Fprintln(w, "Devices:")
	for _, n := range p.NICs {
		name := ""
		if n.Interface != "" {
			name = " (" + n.Interface + ")"
		}
		fmt.Fprintf(w, "  %s%s  node %d  MTU %d\n", n.Addr, name, n.Node, n.MTU)
	}
	fmt.Fprintln(w, "Per NUMA node:")
	for _, n := range p.Nodes {
		fmt.Fprintf(w, "  node %d: dpdk-socket-mem %d MiB (TripleO %d)  PMD CPUs [%s]  %s pages %d needed, %d now\n",
			n.Node, n.SocketMem, n.TripleO, FormatList(n.PMDCPUs), pageName(p.PageSizeKB), n.Pages, n.PagesNow)
		for _, pl := range n.Pools {
			fmt.Fprintf(w, "    pool MTU %d (%s): %d mbufs x %d B = %d MiB\n", pl.MTU, pl.Sharing, pl.Mbufs, pl.Element, pl.MiB)
		}
		fmt.Fprintf(w, "    %s\n", n.Explanation)
	}
	fmt.Fprintln(w, "OVS settings:")
	for _, s := range p.Settings {
		when := "live"
		if s.Restart {
			when = "needs an ovs-vswitchd restart"
		}
		cur := s.Current
		if cur == "" {
			cur = "unset"
		}
		fmt.Fprintf(w, "  other_config:%s=%s   (now %s; %s)\n    %s\n", s.Key, s.Value, cur, when, s.Why)
	}
	if len(p.Kernel) > 0 {
		fmt.Fprintf(w, "Kernel command line, set (add, or replace the same parameter): %s\n", strings.Join(p.Kernel, " "))
	}
	if len(p.KernelOption) > 0 {
		fmt.Fprintf(w, "Optionally, to keep the kernel off the PMD cores: %s\n", strings.Join(p.KernelOption, " "))
	}
	for _, n := range p.Notes {
		fmt.Fprintf(w, "Note: %s\n", n)
	}
}
