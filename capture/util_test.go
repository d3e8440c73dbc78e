package capture

import "fmt"

// fmtSscanf reads "HH:MM:SS.uuuuuu" at the start of a tcpdump line.
func fmtSscanf(l string, h, m, s, us *int) (int, error) {
	return fmt.Sscanf(l, "%d:%d:%d.%d", h, m, s, us)
}
