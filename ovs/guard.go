package ovs

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// DefaultMaxMessage is the largest single OVSDB message dpdk-doctor accepts from a server. A
// monitor reply of the columns dpdk-doctor reads is about 1 KiB per interface, so this holds
// tens of thousands of ports.
const DefaultMaxMessage = 64 << 20

// guard sits between libovsdb and the OVSDB server and bounds what the server can make us hold
// in memory.
//
// libovsdb dials by endpoint only and reads with an unbounded json.Decoder, so a peer that sends
// one endless message (a broken server, or anything listening on the socket) makes it buffer
// without limit: 800 MB in 3 s was seen. dpdk-doctor therefore dials the server itself and
// gives libovsdb a private unix socket instead, in a fresh 0700 directory that is removed as soon
// as libovsdb has connected. The guard copies bytes both ways; on the way in, a small JSON
// scanner (string, escape and nesting state; no buffering) counts the bytes of each top-level
// message, and a message longer than the limit closes both connections before libovsdb sees more
// than the limit of it. libovsdb's pending call then fails, and the client reports the guard's
// error, which names the peer. Memory stays within a small multiple of the limit (the decoder's
// buffer doubles as it grows) whatever the peer sends.
type guard struct {
	peer   string // the endpoint, for errors
	limit  int64
	server net.Conn
	ln     *net.UnixListener
	dir    string

	mu    sync.Mutex
	local net.Conn
	err   error // why the guard closed, when the peer misbehaved
	done  bool
}

// newGuard starts a guard for server and returns the endpoint libovsdb should dial.
func newGuard(server net.Conn, peer string, limit int64) (*guard, string, error) {
	if limit <= 0 {
		limit = DefaultMaxMessage
	}
	// libovsdb takes the endpoint as a URL and falls back to the default socket when it finds
	// no absolute path in it: the private socket's path must be absolute and plain.
	var err error
	for _, base := range []string{os.TempDir(), "/tmp"} {
		if !filepath.IsAbs(base) || strings.ContainsAny(base, "%?#@ \t\n") {
			continue
		}
		dir, derr := os.MkdirTemp(base, "dpdk-doctor-ovsdb-") // mode 0700: only we can connect
		if derr != nil {
			err = derr
			continue
		}
		path := filepath.Join(dir, "db.sock")
		ln, lerr := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
		if lerr != nil {
			os.RemoveAll(dir)
			err = lerr
			continue
		}
		g := &guard{peer: peer, limit: limit, server: server, ln: ln, dir: dir}
		go g.accept()
		return g, "unix:" + path, nil
	}
	return nil, "", fmt.Errorf("OVSDB %s: making the private socket for the connection: %w", peer, err)
}

func (g *guard) accept() {
	c, err := g.ln.Accept()
	g.ln.Close()
	os.RemoveAll(g.dir)
	if err != nil {
		g.close(nil)
		return
	}
	g.mu.Lock()
	if g.done {
		g.mu.Unlock()
		c.Close()
		return
	}
	g.local = c
	g.mu.Unlock()
	go func() {
		io.Copy(g.server, c)
		g.close(nil)
	}()
	go g.down(c)
}

// down copies the server's bytes to libovsdb, message by message within the limit.
func (g *guard) down(local net.Conn) {
	buf := make([]byte, 32<<10)
	var sc msgScanner
	for {
		n, err := g.server.Read(buf)
		if n > 0 {
			if size, over := sc.feed(buf[:n], g.limit); over {
				g.close(fmt.Errorf("OVSDB %s sent a message of more than %d MiB (%d bytes so far): stopped reading it (a broken or hostile peer?)", g.peer, g.limit>>20, size))
				return
			}
			if _, err := local.Write(buf[:n]); err != nil {
				g.close(nil)
				return
			}
		}
		if err != nil {
			g.close(nil)
			return
		}
	}
}

// close shuts everything; why, when not nil, is kept as the reason.
func (g *guard) close(why error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if why != nil && g.err == nil {
		g.err = why
	}
	if g.done {
		return
	}
	g.done = true
	g.ln.Close()
	os.RemoveAll(g.dir)
	g.server.Close()
	if g.local != nil {
		g.local.Close()
	}
}

// reason returns why the guard cut the connection, or nil.
func (g *guard) reason() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// wrap prefers the guard's reason to err: libovsdb only sees a connection that went away.
func (g *guard) wrap(err error) error {
	if err == nil {
		return nil
	}
	if r := g.reason(); r != nil && !errors.Is(err, r) {
		return r
	}
	return err
}

// msgScanner finds the ends of top-level JSON values in a byte stream without keeping any of it.
type msgScanner struct {
	n      int64 // bytes of the current message so far
	depth  int
	inStr  bool
	escape bool
}

// feed scans b and reports the current message's size and whether it went over limit.
func (s *msgScanner) feed(b []byte, limit int64) (int64, bool) {
	for _, c := range b {
		s.n++
		if s.n > limit {
			return s.n, true
		}
		if s.inStr {
			switch {
			case s.escape:
				s.escape = false
			case c == '\\':
				s.escape = true
			case c == '"':
				s.inStr = false
			}
			continue
		}
		switch c {
		case '"':
			s.inStr = true
		case '{', '[':
			s.depth++
		case '}', ']':
			s.depth--
			if s.depth <= 0 {
				s.depth, s.n = 0, 0
			}
		}
	}
	return s.n, false
}
