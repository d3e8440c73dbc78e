package host

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// Kernel log files looked for in a captured tree, in order.
var kernelLogFiles = []string{"var/log/dmesg", "var/log/kern.log"}

// KernelLog returns the kernel log and where it came from. On the live host it reads the
// kernel's ring buffer through /dev/kmsg (records "prio,seq,usec,flags;text"); in a tree it
// reads var/log/dmesg, else var/log/kern.log. No log at all is not an error: it returns nil
// and an empty source.
func (r Root) KernelLog() (data []byte, source string, err error) {
	var kmsgErr error // a refusal of /dev/kmsg (not root) is reported when no file stands in
	if r.live {
		b, err := readKmsg("/dev/kmsg")
		if err == nil {
			return b, "/dev/kmsg", nil
		}
		if errors.Is(err, fs.ErrPermission) {
			kmsgErr = err
		}
	}
	for _, f := range kernelLogFiles {
		b, err := r.ReadTail(f, MaxLargeRead)
		if err == nil {
			return b, r.Path(f), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, "", fmt.Errorf("kernel log %s: %w", r.Path(f), err)
		}
	}
	return nil, "", kmsgErr
}

const sysSizeBuffer = 10 // SYSLOG_ACTION_SIZE_BUFFER

// readKmsg reads every record now in the kernel's ring buffer without waiting for more.
func readKmsg(name string) ([]byte, error) {
	// Opened with syscall, not os: os.File.Fd would switch the descriptor back to blocking.
	fd, err := syscall.Open(name, syscall.O_RDONLY|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: name, Err: err}
	}
	defer syscall.Close(fd)
	var out bytes.Buffer
	// The records' text is about the size of the kernel's log buffer (syslog(2)
	// SYSLOG_ACTION_SIZE_BUFFER), plus a header each: room for that up front saves growing the
	// buffer (and the garbage of each step) record by record.
	if n, _, e := syscall.Syscall(syscall.SYS_SYSLOG, sysSizeBuffer, 0, 0); e == 0 && n > 0 && n <= 64<<20 {
		out.Grow(int(n) + int(n)/4)
	}
	buf := make([]byte, 8192) // a record is at most 1 KiB of text plus its dictionary
	for {
		n, err := syscall.Read(fd, buf)
		switch {
		case err == syscall.EPIPE: // overwritten while reading: skip ahead
			continue
		case err == syscall.EAGAIN || n == 0:
			return out.Bytes(), nil
		case err != nil:
			return out.Bytes(), err
		}
		out.Write(buf[:n])
	}
}
