//go:build dpdkdoctor_testhooks

package main

// Test builds only: a --root tree stands for this machine (see treeIsThisHost).
func init() { treeIsThisHost = true }
