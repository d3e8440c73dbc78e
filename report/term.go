package report

import (
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// Terminal says how to print to f: whether it is a terminal and how wide the text may be. The
// width is the terminal's (TIOCGWINSZ); on a pipe or file it is $COLUMNS when set, else 80, so
// that saved reports read the same as the screen and are byte for byte reproducible.
func Terminal(f *os.File) (width int, tty bool) {
	if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil {
		if ws.Col > 0 {
			return int(ws.Col), true
		}
		return 80, true
	}
	if n, err := strconv.Atoi(os.Getenv("COLUMNS")); err == nil && n >= 20 {
		return n, false
	}
	return 80, false
}

// UseColor decides --color: "always", "never", or "auto" (colour on a terminal, unless the
// NO_COLOR environment variable is set and non-empty or TERM is "dumb").
func UseColor(mode string, tty bool) (bool, error) {
	switch mode {
	case "always":
		return true, nil
	case "never":
		return false, nil
	case "auto", "":
		return tty && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb", nil
	}
	return false, fmt.Errorf("--color %q: want auto, always or never", mode)
}
