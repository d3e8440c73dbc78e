package host

import (
	"bytes"
	"os"
	"path"
	"slices"
	"strings"
)

// OVSLogPath returns, relative to the root, the log file of ovs-vswitchd, where DPDK's EAL lines
// are, or "" when there is none. On the live host it is the file the running ovs-vswitchd names
// with --log-file (the default when it names none), else the default when it exists; in a tree,
// the copy a capture made (OVSLog). runDirs are absolute directories where an ovs-vswitchd.pid
// may be besides OVS_RUNDIR and the standard ones (the directory of the database's socket).
func OVSLogPath(r Root, runDirs ...string) string {
	if !r.live {
		if r.Exists(OVSLog) {
			return OVSLog
		}
		return ""
	}
	var dirs []string
	for _, d := range append(slices.Clip(runDirs), os.Getenv("OVS_RUNDIR"), "/run/openvswitch", "/var/run/openvswitch") {
		if path.IsAbs(d) {
			dirs = append(dirs, clean(path.Clean(d)))
		}
	}
	if f := vswitchdLog(r, dirs); f != "" {
		return f
	}
	if r.Exists(OVSLog) {
		return OVSLog
	}
	return ""
}

// vswitchdLog returns the --log-file of the running ovs-vswitchd. Its pidfile in one of runDirs
// names it; a run directory where OVS keeps pidfiles (ovsdb-server.pid) without a live
// ovs-vswitchd's says none runs there. Only when no run directory has OVS's pidfiles (started
// by hand without --pidfile) are the processes looked at, each one's name: on a busy host that
// takes milliseconds.
func vswitchdLog(r Root, runDirs []string) string {
	isVswitchd := func(pid string) bool {
		comm, err := r.ReadString("proc/" + pid + "/comm")
		// The kernel keeps 15 bytes of the name: Debian's DPDK build is "ovs-vswitchd-dp".
		return err == nil && strings.HasPrefix(comm, "ovs-vswitchd")
	}
	logOf := func(pid string) string {
		cmdline, err := r.ReadFile("proc/" + pid + "/cmdline")
		if err != nil {
			return ""
		}
		return logFileArg(cmdline)
	}
	pidfiles := false
	for _, d := range runDirs {
		pid, err := r.ReadString(d + "/ovs-vswitchd.pid")
		if err == nil && pid != "" && strings.Trim(pid, "0123456789") == "" && isVswitchd(pid) {
			return logOf(pid)
		}
		pidfiles = pidfiles || err == nil || r.Exists(d+"/ovsdb-server.pid")
	}
	if pidfiles {
		return ""
	}
	procs, _ := r.ReadDir("proc")
	for _, p := range procs {
		if n := p.Name(); n[0] >= '0' && n[0] <= '9' && isVswitchd(n) {
			if f := logOf(n); f != "" {
				return f
			}
		}
	}
	return ""
}

// logFileArg returns the root-relative --log-file of an ovs-vswitchd command line (NUL
// separated), the default for a bare --log-file, "" when it logs to no file.
func logFileArg(cmdline []byte) string {
	for _, a := range bytes.Split(cmdline, []byte{0}) {
		s := string(a)
		switch {
		case s == "--log-file":
			return OVSLog
		case strings.HasPrefix(s, "--log-file="):
			f := strings.TrimPrefix(s, "--log-file=")
			if !strings.HasPrefix(f, "/") {
				return "" // relative to its working directory: not ours to guess
			}
			return clean(path.Clean(f))
		}
	}
	return ""
}
