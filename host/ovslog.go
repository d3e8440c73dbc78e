package host

import (
	"bytes"
	"path"
	"strings"
)

// OVSLogPath returns, relative to the root, the log file of ovs-vswitchd, where DPDK's EAL lines
// are, or "" when there is none. On the live host it is the file the running ovs-vswitchd names
// with --log-file (the default when it names none), else the default when it exists; in a tree,
// the copy a capture made (OVSLog).
func OVSLogPath(r Root) string {
	if !r.live {
		if r.Exists(OVSLog) {
			return OVSLog
		}
		return ""
	}
	procs, _ := r.ReadDir("proc")
	for _, p := range procs {
		if p.Name()[0] < '0' || p.Name()[0] > '9' {
			continue
		}
		comm, err := r.ReadString("proc/" + p.Name() + "/comm")
		// The kernel keeps 15 bytes of the name: Debian's DPDK build is "ovs-vswitchd-dp".
		if err != nil || !strings.HasPrefix(comm, "ovs-vswitchd") {
			continue
		}
		cmdline, err := r.ReadFile("proc/" + p.Name() + "/cmdline")
		if err != nil {
			continue
		}
		if f := logFileArg(cmdline); f != "" {
			return f
		}
	}
	if r.Exists(OVSLog) {
		return OVSLog
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
