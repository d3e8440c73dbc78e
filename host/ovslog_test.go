package host

import "testing"

// TestVswitchdLogPidfile: the running ovs-vswitchd is found by its pidfile, before any process
// is looked at (another ovs-vswitchd earlier in /proc loses); a run directory with OVS's
// pidfiles but no live ovs-vswitchd's means none runs; only without any pidfile are the
// processes looked at.
func TestVswitchdLogPidfile(t *testing.T) {
	procs := map[string]string{
		"proc/1000/comm":    "ovs-vswitchd\n",
		"proc/1000/cmdline": "ovs-vswitchd\x00--log-file=/var/log/other.log\x00",
		"proc/4242/comm":    "ovs-vswitchd-dp\n", // the kernel's 15 bytes of Debian's DPDK build
		"proc/4242/cmdline": "ovs-vswitchd\x00unix:/run/openvswitch/db.sock\x00--log-file=/var/log/openvswitch/mine.log\x00--pidfile\x00",
		"proc/4343/comm":    "ovs-vswitchd\n",
		"proc/4343/cmdline": "ovs-vswitchd\x00--pidfile\x00", // logs to no file
		"proc/77/comm":      "bash\n",
		"proc/77/cmdline":   "bash\x00",
	}
	for _, c := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"pidfile", map[string]string{"srv/ovs/ovs-vswitchd.pid": "4242\n"}, "var/log/openvswitch/mine.log"},
		{"pidfile, no log file", map[string]string{"srv/ovs/ovs-vswitchd.pid": "4343\n"}, ""},
		{"stale pidfile", map[string]string{"srv/ovs/ovs-vswitchd.pid": "999\n"}, ""},
		{"pidfile of another program", map[string]string{"srv/ovs/ovs-vswitchd.pid": "77\n"}, ""},
		{"garbled pidfile", map[string]string{"srv/ovs/ovs-vswitchd.pid": "../1000\n"}, ""},
		{"only ovsdb-server's pidfile", map[string]string{"srv/ovs/ovsdb-server.pid": "5\n"}, ""},
		{"no pidfiles", nil, "var/log/other.log"},
	} {
		dir := t.TempDir()
		files := map[string]string{}
		for k, v := range procs {
			files[k] = v
		}
		for k, v := range c.files {
			files[k] = v
		}
		writeTree(t, dir, files, nil)
		r, err := Dir(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := vswitchdLog(r, []string{"run/openvswitch", "srv/ovs"}); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
