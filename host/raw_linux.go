package host

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

func openat(dirfd int, name string) (int, error) {
	return syscall.Openat(dirfd, name, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
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

// fstatat stats name relative to dirfd, following a final link. It goes through x/sys/unix,
// which picks the right system call per architecture (newfstatat on amd64, fstatat on arm64);
// syscall.Stat_t and unix.Stat_t are the same kernel struct stat.
func fstatat(dirfd int, name string, st *syscall.Stat_t) error {
	return unix.Fstatat(dirfd, name, (*unix.Stat_t)(unsafe.Pointer(st)), 0)
}
