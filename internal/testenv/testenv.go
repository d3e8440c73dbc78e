// Package testenv says what a test does when something it needs is not on the machine: under
// CI=true (the project's CI and scripts/test.sh) it fails, since an integration test that cannot
// run must never pass silently; elsewhere it skips.
package testenv

import (
	"fmt"
	"os"
	"testing"
)

// CI reports whether the tests run under CI=true.
func CI() bool { return os.Getenv("CI") == "true" }

// Unavailable ends the test because what it needs is missing (the message says what): a failure
// under CI=true, a skip elsewhere.
func Unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if CI() {
		t.Fatal("CI: " + msg)
	}
	t.Skip(msg)
}
