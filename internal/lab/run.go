package lab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Boot is one guest boot: a machine, a kernel, an initramfs and a command line.
type Boot struct {
	Machine Machine
	Kernel  *Kernel
	Initrd  []byte   // the whole initrd: an uncompressed ACPI cpio (optional) followed by the initramfs
	Cmdline []string // kernel parameters besides the lab's own
	QEMU    string   // default qemu-system-x86_64
	// Share, when not nil, is a read-write 9p share (mount tag "lab") holding these files
	// (mode 0755); what the guest leaves in it comes back in Result.Share.
	Share map[string][]byte
	// HostRoot shares this machine's own / read-only (mount tag "hostroot"), for a guest
	// userland with OVS-DPDK.
	HostRoot bool
}

// BaseCmdline is every lab guest's kernel command line. no_timer_check avoids a 6.12 panic seen
// under load ("timer doesn't work through Interrupt-remapped IO-APIC").
var BaseCmdline = []string{"console=ttyS0", "panic=-1", "quiet", "no_timer_check"}

// Section is one framed answer the guest sent: a command's exit status, stdout and stderr.
type Section struct {
	RC     int
	Stdout []byte
	Stderr []byte
}

// Result is what came back from one boot.
type Result struct {
	Sections map[string]Section
	Order    []string // section names as sent
	Done     bool     // the guest reached the end of its script
	Console  string   // the kernel console (ttyS0)
	Elapsed  time.Duration
	Share    map[string][]byte // the share's files after the boot, by path inside it
	PID      int               // QEMU's process id (gone when Run returns)
	Dir      string            // the boot's temporary directory (removed when Run returns)
}

// Run boots b under QEMU (TCG) and waits until the guest powers off or ctx ends, when QEMU is
// killed. The guest's answers arrive on its second serial port (ttyS1) as sections framed by
// "@@LAB-BEGIN name rc" / "@@LAB-ERR" / "@@LAB-END" with base64 bodies, and "@@LAB-DONE" at
// the end. The temporary directory is removed and QEMU is gone when Run returns, whatever
// happened.
func Run(ctx context.Context, b Boot) (*Result, error) {
	qemu := b.QEMU
	if qemu == "" {
		qemu = "qemu-system-x86_64"
	}
	sweep()
	dir, err := os.MkdirTemp("", tempPrefix)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	res := &Result{Sections: map[string]Section{}, Dir: dir}
	defer os.RemoveAll(dir)
	initrd := filepath.Join(dir, "initrd")
	if err := os.WriteFile(initrd, b.Initrd, 0o600); err != nil {
		return nil, err
	}
	console, results := filepath.Join(dir, "console.log"), filepath.Join(dir, "results.txt")
	accel := "tcg"
	if b.Machine.CPUs > 1 {
		accel = "tcg,thread=multi"
	}
	var shares []string
	share := filepath.Join(dir, "share")
	if b.Share != nil {
		for n, data := range b.Share {
			p := filepath.Join(share, filepath.FromSlash(n))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return nil, err
			}
			if err := os.WriteFile(p, data, 0o755); err != nil {
				return nil, err
			}
		}
		os.MkdirAll(share, 0o755)
		shares = append(shares, "-virtfs", "local,path="+share+",mount_tag=lab,security_model=none")
	}
	if b.HostRoot {
		shares = append(shares, "-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on")
	}
	args := append([]string{"-accel", accel, "-nographic", "-no-reboot", "-monitor", "none",
		"-serial", "file:" + console, "-serial", "file:" + results,
		"-kernel", b.Kernel.Vmlinuz, "-initrd", initrd,
		"-append", strings.Join(append(append([]string{}, BaseCmdline...), b.Cmdline...), " ")},
		append(b.Machine.Args(), shares...)...)
	cmd := exec.Command(qemu, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", qemu, err)
	}
	res.PID = cmd.Process.Pid
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var runErr error
	select {
	case err := <-waited:
		if err != nil {
			runErr = fmt.Errorf("%s: %w: %s", qemu, err, strings.TrimSpace(stderr.String()))
		}
	case <-ctx.Done():
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // its whole process group
		<-waited
		runErr = fmt.Errorf("guest did not power off in time (%v): killed QEMU: %w", time.Since(start).Round(time.Second), ctx.Err())
	}
	res.Elapsed = time.Since(start)
	c, _ := os.ReadFile(console)
	res.Console = string(c)
	r, _ := os.ReadFile(results)
	if b.Share != nil {
		res.Share = map[string][]byte{}
		filepath.WalkDir(share, func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				rel, _ := filepath.Rel(share, p)
				res.Share[filepath.ToSlash(rel)], _ = os.ReadFile(p)
			}
			return nil
		})
	}
	if err := parseSections(r, res); err != nil && runErr == nil {
		runErr = err
	}
	if runErr == nil && !res.Done {
		runErr = errors.New("the guest powered off before the end of its script")
	}
	if runErr != nil {
		return res, fmt.Errorf("%w\nlast console lines:\n%s", runErr, tail(res.Console, 25))
	}
	return res, nil
}

const tempPrefix = "dpdk-doctor-lab-"

// sweep removes boot directories whose owner process is gone: a test binary killed by go
// test's -timeout cannot run its deferred clean-up (its QEMU dies with it: Pdeathsig).
func sweep() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), tempPrefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			os.RemoveAll(d)
		}
	}
}

func parseSections(b []byte, res *Result) error {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var name string
	var rc int
	var out, errb strings.Builder
	cur := &out
	for sc.Scan() {
		l := strings.TrimRight(sc.Text(), "\r")
		switch {
		case strings.HasPrefix(l, "@@LAB-BEGIN "):
			f := strings.Fields(l)
			if len(f) != 3 {
				return fmt.Errorf("guest results: malformed %q", l)
			}
			name = f[1]
			rc, _ = strconv.Atoi(f[2])
			out.Reset()
			errb.Reset()
			cur = &out
		case l == "@@LAB-ERR":
			cur = &errb
		case l == "@@LAB-END":
			o, err1 := base64.StdEncoding.DecodeString(out.String())
			e, err2 := base64.StdEncoding.DecodeString(errb.String())
			if err := errors.Join(err1, err2); err != nil {
				return fmt.Errorf("guest results: section %s: %w", name, err)
			}
			res.Sections[name] = Section{RC: rc, Stdout: o, Stderr: e}
			res.Order = append(res.Order, name)
			name = ""
		case l == "@@LAB-DONE":
			res.Done = true
		case name != "":
			cur.WriteString(l)
		}
	}
	return sc.Err()
}

func tail(s string, n int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > n {
		ls = ls[len(ls)-n:]
	}
	return strings.Join(ls, "\n")
}
