//go:build linux && !arm64

package host

import "syscall"

// sysFstatat is the fstatat system call's number: newfstatat on amd64.
const sysFstatat = syscall.SYS_NEWFSTATAT
