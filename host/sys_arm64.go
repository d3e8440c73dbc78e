package host

const (
	sysFstatat   = 79 // newfstatat
	sysRenameat2 = 276
)
