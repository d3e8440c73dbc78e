package ovs

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// listen starts a unix socket server whose connections are handled by serve.
func listen(t *testing.T, serve func(net.Conn)) string {
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

// TestDialFlood: a peer that answers with one endless JSON string is cut off at the limit,
// with an error naming it, and the process allocates a bounded amount on the way. (libovsdb's
// client, used before, buffered the stream until the timeout: 800 MB in 3 s was seen.)
func TestDialFlood(t *testing.T) {
	checkFlood(t, 0, func(db string, o Options) error { _, err := DialWith(context.Background(), db, o); return err })
}

// checkFlood runs read against a peer that answers request id with one endless JSON string and
// checks that it is cut off at an 8 MiB limit, naming the peer and the limit, having allocated a
// bounded amount, in bounded time.
func checkFlood(t *testing.T, id int, read func(db string, o Options) error) {
	t.Helper()
	db := listen(t, func(c net.Conn) {
		fmt.Fprintf(c, `{"id":%d,"error":null,"result":"`, id)
		chunk := []byte(strings.Repeat("A", 64<<10))
		for {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
	const limit = 8 << 20
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	err := read(db, Options{Timeout: 20 * time.Second, MaxMessage: limit})
	took := time.Since(start)
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), db) || !strings.Contains(err.Error(), "more than 8 MiB") {
		t.Fatalf("want an error naming %s and the limit, got %v", db, err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("flood cut after %v; allocated %d MiB in all (limit %d MiB)", took, alloc>>20, limit>>20)
	if alloc > 8*limit {
		t.Errorf("allocated %d MiB for a %d MiB limit", alloc>>20, limit>>20)
	}
	if took > 10*time.Second {
		t.Errorf("took %v", took)
	}
}

// TestDialSilentPeer: a socket that accepts and never answers (a stopped ovsdb-server) gives
// up within the timeout, saying so.
func TestDialSilentPeer(t *testing.T) {
	db := listen(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	})
	start := time.Now()
	_, err := DialWith(context.Background(), db, Options{Timeout: time.Second})
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "no answer in time") || !strings.Contains(err.Error(), db) {
		t.Errorf("want a timeout naming %s, got %v", db, err)
	}
	if took > 2*time.Second {
		t.Errorf("took %v for a 1s timeout", took)
	}
	// The caller's own deadline, shorter, wins.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := DialWith(ctx, db, Options{Timeout: time.Minute}); err == nil || time.Since(start) > time.Second {
		t.Errorf("caller's deadline: %v after %v", err, time.Since(start))
	}
}

func TestDialMissing(t *testing.T) {
	_, err := DialWith(context.Background(), "unix:"+filepath.Join(t.TempDir(), "none.sock"), Options{Timeout: time.Second})
	if err == nil || !strings.Contains(err.Error(), "cannot reach OVSDB") {
		t.Errorf("missing socket: %v", err)
	}
	for _, bad := range []string{"foo", "http://x", "unix:", "tcp"} {
		if err := ValidEndpoint(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
