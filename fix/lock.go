package fix

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// lockName is the lock file in the state directory. Like dpkg's lock, it is a kernel lock
// (flock) on a file that stays: the lock ends with the process that holds it, however it ends,
// so a crashed run never leaves a stale lock behind. The holder writes its pid and command line
// into the file so that a refused run can say who holds it.
const lockName = "lock"

// ErrLocked is wrapped by the error of a run that found another run holding the state lock.
var ErrLocked = errors.New("another dpdk-doctor is changing this host")

// stateLock is a held lock on a state directory.
type stateLock struct{ f *os.File }

// lockState takes the lock of the state directory dir (made, 0700, when missing) without
// waiting. When another process holds it, the error wraps ErrLocked and says who it is.
func lockState(dir string, now time.Time) (*stateLock, error) {
	if err := makeStateDir(dir); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, lockName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is held by %s. Nothing was changed. Wait for that run to finish "+
				"(the lock goes with the process, so there is never a stale lock to remove), then look at the result with a dry run",
				ErrLocked, path, holder(path))
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	args := make([]string, len(os.Args))
	for i, a := range os.Args {
		args[i] = strconv.Quote(a)
	}
	info := fmt.Sprintf("pid %d\nstarted %s\ncommand %s\n", os.Getpid(), now.UTC().Format(time.RFC3339), strings.Join(args, " "))
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(info), 0)
		f.Sync()
	}
	return &stateLock{f}, nil
}

// holder says who holds the lock, from what the holder wrote into the lock file.
func holder(path string) string {
	b, _ := os.ReadFile(path)
	var pid, started, command string
	for _, line := range strings.Split(string(b), "\n") {
		k, v, _ := strings.Cut(line, " ")
		switch k {
		case "pid":
			pid = v
		case "started":
			started = v
		case "command":
			var args []string
			for rest := v; rest != ""; {
				q, err := strconv.QuotedPrefix(rest)
				if err != nil {
					break
				}
				a, _ := strconv.Unquote(q)
				args = append(args, a)
				rest = strings.TrimPrefix(rest[len(q):], " ")
			}
			command = shellJoin(args)
		}
	}
	if pid == "" {
		return "another process (it has not written its pid yet)"
	}
	s := "pid " + pid
	if command != "" {
		s += " (" + command + ")"
	}
	if started != "" {
		s += ", since " + started
	}
	return s
}

// unlock releases the lock. The file stays, as dpkg's does.
func (l *stateLock) unlock() {
	if l != nil && l.f != nil {
		l.f.Close()
		l.f = nil
	}
}

// shellJoin quotes args for a POSIX shell, for printing a command the user can paste.
func shellJoin(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		switch {
		case a != "" && strings.Trim(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=,+@%") == "":
			out[i] = a
		case strings.IndexFunc(a, func(r rune) bool { return !strconv.IsPrint(r) }) >= 0:
			// Control characters are printed escaped, in bash's $'...' form.
			q := strconv.Quote(a)
			out[i] = "$'" + strings.ReplaceAll(q[1:len(q)-1], "'", `\'`) + "'"
		default:
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}
