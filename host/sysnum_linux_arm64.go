package host

import "syscall"

// sysFstatat is the fstatat system call's number: arm64 has no newfstatat, its fstatat is the
// same call.
const sysFstatat = syscall.SYS_FSTATAT
