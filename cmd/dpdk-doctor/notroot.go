package main

import (
	"errors"
	"io/fs"
	"strings"
)

// deniedErr reports whether err is a refusal for want of privilege (EACCES, EPERM); the OVSDB
// library does not always wrap the dial error, so its text is looked at too.
func deniedErr(err error) bool {
	return errors.Is(err, fs.ErrPermission) || strings.Contains(err.Error(), "permission denied")
}
