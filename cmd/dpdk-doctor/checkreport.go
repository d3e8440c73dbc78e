package main

import (
	"os"
	"strconv"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/check"
	"github.com/dpdk-doctor/dpdk-doctor/pci"
	"github.com/dpdk-doctor/dpdk-doctor/report"
)

// writeCheck prints check's result on stdout: JSON, or text for a person.
func writeCheck(f *check.Facts, findings []check.Finding, asJSON, verbose bool, color string) error {
	width, tty := report.Terminal(os.Stdout)
	useColor, err := report.UseColor(color, tty)
	if err != nil {
		return usageErr("%v", err)
	}
	res := &report.Result{Identity: report.IdentityOf(f, reportVersion(), reportTime()), Findings: findings,
		Devices: map[string]report.Device{}}
	if asJSON {
		return report.WriteJSON(os.Stdout, res)
	}
	ids, _ := pci.ReadIDs(f.Root)
	for _, fd := range findings {
		a, err := pci.ParseAddress(fd.Subject)
		if err != nil {
			continue
		}
		if d := f.Devices.Get(a); d != nil {
			res.Devices[fd.Subject] = report.Device{Name: check.Name(ids, d), Slot: d.Slot}
		}
	}
	return report.WriteText(os.Stdout, res, report.TextOptions{Verbose: verbose, Color: useColor, Width: width})
}

// reportVersion is the version a report names: the one set at build time, else --version's.
func reportVersion() string {
	if version != "" {
		return version
	}
	return versionString()
}

// reportTime is now, or SOURCE_DATE_EPOCH (seconds since 1970) when set, so that reports can be
// reproduced byte for byte (the golden files).
func reportTime() time.Time {
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return time.Unix(n, 0).UTC()
		}
	}
	return time.Now().UTC()
}
