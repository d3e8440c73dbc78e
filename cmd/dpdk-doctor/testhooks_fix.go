//go:build dpdkdoctor_testhooks

package main

// Test builds only: `fix cmdline --no-regenerate` leaves update-grub alone.
func init() { grubRegenSkippable = true }
