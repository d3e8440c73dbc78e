package ovstest

import (
	"io"
	"net"
	"path/filepath"
	"testing"
)

// Listen starts a unix socket server for a test, each connection handled by serve in its own
// goroutine, and returns its OVSDB endpoint ("unix:PATH"). It stops when the test ends.
func Listen(t testing.TB, serve func(net.Conn)) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return "unix:" + path
}

// SilentPeer is an endpoint that accepts and reads but never answers, like a stopped
// ovsdb-server: what every bounded wait is tested against.
func SilentPeer(t testing.TB) string {
	t.Helper()
	return Listen(t, func(c net.Conn) { io.Copy(io.Discard, c) })
}
