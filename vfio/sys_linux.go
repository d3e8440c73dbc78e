package vfio

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// sysKernel makes the real system calls.
type sysKernel struct{}

func (sysKernel) open(name string) (int, error) {
	fd, err := unix.Open(name, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	return fd, nil
}

func (sysKernel) close(fd int) error { return unix.Close(fd) }

func (sysKernel) ioctl(fd int, req uintptr, arg uintptr) (int, error) {
	r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, arg)
	if e != 0 {
		return int(r), e
	}
	return int(r), nil
}

func (sysKernel) ioctlPtr(fd int, req uintptr, arg any) (int, error) {
	var p unsafe.Pointer
	switch a := arg.(type) {
	case *int32:
		p = unsafe.Pointer(a)
	case *groupStatus:
		p = unsafe.Pointer(a)
	case string:
		b, err := unix.BytePtrFromString(a)
		if err != nil {
			return -1, err
		}
		p = unsafe.Pointer(b)
	default:
		return -1, fmt.Errorf("vfio: ioctl argument of type %T", arg)
	}
	r, _, e := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(p))
	if e != 0 {
		return int(r), e
	}
	return int(r), nil
}
