package main

import (
	"os"
	"runtime/debug"
)

// oneShotGCPercent is the garbage collector's target for dpdk-doctor. Most commands read, print
// and exit after allocating a few megabytes; with Go's default (100: the first collection at a
// 4 MB heap) a 512-port `ovs show` spent one collection, 4 ms of its 20, on memory the exit
// frees anyway. At 400 the first collection comes at 16 MB. The long-running commands (top,
// traffic) keep a live heap of a few megabytes, so the bound on their memory stays small. A
// GOGC the user sets wins.
const oneShotGCPercent = 400

func init() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(oneShotGCPercent)
	}
}
