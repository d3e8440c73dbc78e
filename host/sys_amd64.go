package host

const (
	sysFstatat   = 262 // newfstatat
	sysRenameat2 = 316
)
