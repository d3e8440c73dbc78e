package ovsrpc

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// peer runs serve on the far end of a connected pair and returns a Session on the near end.
func peer(t *testing.T, max int64, serve func(c net.Conn, dec *json.Decoder)) *Session {
	t.Helper()
	a, b := net.Pipe()
	go func() {
		defer b.Close()
		serve(b, json.NewDecoder(b))
	}()
	s := NewSession(a, "test-peer", max)
	t.Cleanup(func() { s.Close() })
	return s
}

type request struct {
	ID     int             `json:"id"`
	Method string          `json:"method"`
	Params json.RawMessage `json:"params"`
}

// TestSessionCancelKeepsConnection: a call whose context ends returns at once, its late reply
// is dropped, and the next call on the same session gets its own answer. (The connection a
// one-shot Conn uses is spent once its context ends; a Client's must survive a Ctrl-C, for
// the teardown runs on it.)
func TestSessionCancelKeepsConnection(t *testing.T) {
	s := peer(t, 0, func(c net.Conn, dec *json.Decoder) {
		var first, second request
		if dec.Decode(&first) != nil || dec.Decode(&second) != nil {
			return
		}
		// An echo request first, then both answers, the abandoned one first.
		json.NewEncoder(c).Encode(map[string]any{"method": "echo", "params": []any{}, "id": "echo"})
		var echo map[string]any
		if dec.Decode(&echo) != nil || echo["id"] != "echo" {
			return
		}
		json.NewEncoder(c).Encode(map[string]any{"id": first.ID, "result": "late", "error": nil})
		json.NewEncoder(c).Encode(map[string]any{"id": second.ID, "result": "second", "error": nil})
	})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	var out string
	start := time.Now()
	if err := s.Call(ctx, "first", []any{}, &out); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("first call: %v", err)
	}
	if time.Since(start) > time.Second {
		t.Errorf("the cancelled call took %v", time.Since(start))
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	if err := s.Call(ctx2, "second", []any{}, &out); err != nil || out != "second" {
		t.Fatalf("second call on the same session: %q %v", out, err)
	}
}

// TestSessionLimit: a message over the limit ends the session with an error naming the peer
// and the limit; calls waiting and later calls get that error.
func TestSessionLimit(t *testing.T) {
	s := peer(t, 1<<20, func(c net.Conn, dec *json.Decoder) {
		var r request
		if dec.Decode(&r) != nil {
			return
		}
		c.Write([]byte(`{"id":0,"error":null,"result":"`))
		chunk := []byte(strings.Repeat("A", 64<<10))
		for {
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.Call(ctx, "x", []any{}, nil)
	if err == nil || !strings.Contains(err.Error(), "test-peer") || !strings.Contains(err.Error(), "more than 1 MiB") {
		t.Fatalf("want an error naming the peer and the limit, got %v", err)
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("the session still runs")
	}
	if err2 := s.Call(ctx, "y", []any{}, nil); err2 == nil || err2.Error() != err.Error() {
		t.Errorf("a later call: %v", err2)
	}
}

// TestSessionServerError: an error reply is an *Error naming the method; a peer that goes
// away ends the session.
func TestSessionServerError(t *testing.T) {
	s := peer(t, 0, func(c net.Conn, dec *json.Decoder) {
		var r request
		if dec.Decode(&r) != nil {
			return
		}
		json.NewEncoder(c).Encode(map[string]any{"id": r.ID, "result": nil, "error": "unknown database"})
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var e *Error
	if err := s.Call(ctx, "get_schema", []any{"nope"}, nil); !errors.As(err, &e) || e.Method != "get_schema" || e.Msg != "unknown database" {
		t.Fatalf("got %v", err)
	}
	<-s.Done()
	if err := s.Call(ctx, "again", []any{}, nil); err == nil {
		t.Error("a call after the peer left succeeded")
	}
}

// TestSessionWriteDeadline: a call whose context has ended, or whose write times out before a
// byte is sent (the peer is not reading), fails with that and leaves the session usable: the
// next call is answered. (A Client's wait that ran out of time broke its connection so.)
func TestSessionWriteDeadline(t *testing.T) {
	ready := make(chan struct{})
	s := peer(t, 0, func(c net.Conn, dec *json.Decoder) {
		<-ready // not reading until the failed calls are over
		var r request
		if dec.Decode(&r) != nil {
			return
		}
		json.NewEncoder(c).Encode(map[string]any{"id": r.ID, "result": "ok", "error": nil})
	})
	done, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Call(done, "x", []any{}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("a call with its context over: %v", err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	if err := s.Call(short, "y", []any{}, nil); err == nil {
		t.Fatal("a write nobody reads succeeded")
	}
	close(ready)
	ctx, cancel3 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel3()
	var out string
	if err := s.Call(ctx, "z", []any{}, &out); err != nil || out != "ok" {
		t.Fatalf("the session after them: %q %v", out, err)
	}
}

// lateContext's deadline has passed but its Err still says nothing: the moment between a
// context's deadline and its timer firing.
type lateContext struct{ context.Context }

func (lateContext) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }
func (lateContext) Err() error                  { return nil }

// TestSessionWriteAtDeadline: a write that fails because the context's deadline passed just
// before it (and nothing was sent) reports context.DeadlineExceeded, as the context itself
// will, not the socket's "i/o timeout" (a Client's WaitPort reported that now and then when
// its last wait slice ended with the context); the session stays usable.
func TestSessionWriteAtDeadline(t *testing.T) {
	s := peer(t, 0, func(c net.Conn, dec *json.Decoder) {
		var r request
		if dec.Decode(&r) != nil {
			return
		}
		json.NewEncoder(c).Encode(map[string]any{"id": r.ID, "result": "ok", "error": nil})
	})
	if err := s.Call(lateContext{context.Background()}, "x", []any{}, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("a write at the deadline: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out string
	if err := s.Call(ctx, "z", []any{}, &out); err != nil || out != "ok" {
		t.Fatalf("the session after it: %q %v", out, err)
	}
}
