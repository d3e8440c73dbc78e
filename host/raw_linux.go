package host

import (
	"sync/atomic"
	"syscall"
	"unsafe"
)

func openat(dirfd int, name string, flags int) (int, error) {
	return syscall.Openat(dirfd, name, flags|syscall.O_CLOEXEC, 0)
}

func readlinkat(dirfd int, name string, buf []byte) (int, error) {
	p, err := syscall.BytePtrFromString(name)
	if err != nil {
		return 0, err
	}
	n, _, e := syscall.Syscall6(syscall.SYS_READLINKAT, uintptr(dirfd), uintptr(unsafe.Pointer(p)),
		uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)), 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func fstatatFlags(dirfd int, name string, st *syscall.Stat_t, flags int) error {
	p, err := syscall.BytePtrFromString(name)
	if err != nil {
		return err
	}
	_, _, e := syscall.Syscall6(sysFstatat, uintptr(dirfd), uintptr(unsafe.Pointer(p)), uintptr(unsafe.Pointer(st)), uintptr(flags), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

func fstatat(dirfd int, name string, st *syscall.Stat_t) error {
	return fstatatFlags(dirfd, name, st, 0)
}

func fstatatNoFollow(dirfd int, name string, st *syscall.Stat_t) error {
	return fstatatFlags(dirfd, name, st, atSymlinkNofollow)
}

const (
	atSymlinkNofollow = 0x100
	oPath             = 0x200000 // O_PATH: the directory is only a starting point for *at calls
	sysOpenat2        = 437      // the same number on every architecture
	resolveNoMagic    = 0x02
	resolveNoSymlinks = 0x04
	resolveBeneath    = 0x08
	renameNoreplace   = 0x1
)

type openHow struct {
	flags, mode, resolve uint64
}

var noOpenat2 atomic.Bool

// openBeneath opens p, a path without links inside the directory dirfd, refusing to follow any
// link or to leave the directory: with openat2 where the kernel has it (Linux 5.6), else one
// component at a time with O_NOFOLLOW, as os.Root does.
func openBeneath(dirfd int, p string, flags int) (int, error) {
	flags |= syscall.O_CLOEXEC | syscall.O_NOFOLLOW
	if p == "." {
		return openat(dirfd, ".", flags)
	}
	if !noOpenat2.Load() {
		b, err := syscall.BytePtrFromString(p)
		if err != nil {
			return -1, err
		}
		how := openHow{flags: uint64(flags), resolve: resolveBeneath | resolveNoSymlinks | resolveNoMagic}
		for {
			fd, _, e := syscall.Syscall6(sysOpenat2, uintptr(dirfd), uintptr(unsafe.Pointer(b)), uintptr(unsafe.Pointer(&how)), unsafe.Sizeof(how), 0, 0)
			switch e {
			case 0:
				return int(fd), nil
			case syscall.EINTR, syscall.EAGAIN:
				continue
			case syscall.ENOSYS, syscall.EPERM, syscall.E2BIG:
				noOpenat2.Store(true) // not this kernel, or a seccomp filter refuses it
			default:
				return -1, e
			}
			break
		}
	}
	// One component at a time.
	fd := dirfd
	for {
		var c string
		i := 0
		for i < len(p) && p[i] != '/' {
			i++
		}
		c, p = p[:i], p[min(i+1, len(p)):]
		if c == "" || c == "." || c == ".." {
			if fd != dirfd {
				syscall.Close(fd)
			}
			return -1, syscall.EINVAL
		}
		fl := oPath | syscall.O_DIRECTORY | syscall.O_NOFOLLOW | syscall.O_CLOEXEC
		if p == "" {
			fl = flags
		}
		next, err := openat(fd, c, fl)
		if fd != dirfd {
			syscall.Close(fd)
		}
		if err != nil {
			return -1, err
		}
		if p == "" {
			return next, nil
		}
		fd = next
	}
}

// renameNoReplace renames from to to, failing with EEXIST when to exists.
func renameNoReplace(from, to string) error {
	f, err := syscall.BytePtrFromString(from)
	if err != nil {
		return err
	}
	t, err := syscall.BytePtrFromString(to)
	if err != nil {
		return err
	}
	const atFDCWD = -100
	fdcwd := atFDCWD
	_, _, e := syscall.Syscall6(sysRenameat2, uintptr(fdcwd), uintptr(unsafe.Pointer(f)), uintptr(fdcwd), uintptr(unsafe.Pointer(t)), renameNoreplace, 0)
	if e != 0 {
		return e
	}
	return nil
}
