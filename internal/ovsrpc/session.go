package ovsrpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"
)

// Session is a long-lived JSON-RPC connection on which each call is bounded by its own
// context, for commands that change the database and then wait (add a port, watch it come up,
// tear it down on Ctrl-C). A reader goroutine takes every message off the connection: it
// answers the server's echo requests, hands each reply to the call waiting for it, and drops
// replies nobody waits for any more (a call whose context ended). So a cancelled call leaves
// the connection usable, unlike Conn, whose context is the connection's.
//
// Every message from the peer may be at most the limit given to NewSession: a peer that sends
// more is cut off, and the session ends with an error naming it and the limit.
type Session struct {
	c    net.Conn
	name string

	wmu sync.Mutex // one write at a time

	mu      sync.Mutex
	id      int
	pending map[int]chan reply
	err     error // why the session ended; set before done is closed

	done chan struct{}
}

// echoTimeout bounds the answer to the server's keepalive.
const echoTimeout = 10 * time.Second

type reply struct {
	result json.RawMessage
	err    json.RawMessage
}

// NewSession speaks JSON-RPC over c, a connection the caller opened (unix, tcp or TLS), named
// endpoint in errors; maxMessage bounds each message read (MaxReply when 0 or less).
func NewSession(c net.Conn, endpoint string, maxMessage int64) *Session {
	if maxMessage <= 0 {
		maxMessage = MaxReply
	}
	s := &Session{c: c, name: endpoint, pending: map[int]chan reply{}, done: make(chan struct{})}
	go s.read(newFramer(c, maxMessage))
	return s
}

// read takes messages off the connection until it fails or closes.
func (s *Session) read(fr *framer) {
	for {
		b, err := fr.next()
		if err == nil {
			var msg message
			if msg, err = parseMessage(b); err == nil {
				s.dispatch(msg)
				continue
			}
		}
		s.end(fmt.Errorf("%s: %w", s.name, err))
		return
	}
}

// dispatch answers an echo request or hands a reply to its call.
func (s *Session) dispatch(msg message) {
	if isMethod(msg.Method, "echo") {
		// Bounded: a peer that stops reading must not hold the writer (and every call) forever.
		ctx, cancel := context.WithTimeout(context.Background(), echoTimeout)
		s.write(ctx, echoReply(msg))
		cancel()
		return
	}
	if !isNull(msg.Method) { // a notification (update, locked, ...): not asked for here
		return
	}
	id, err := strconv.Atoi(string(msg.ID))
	if err != nil {
		return
	}
	s.mu.Lock()
	ch := s.pending[id]
	delete(s.pending, id)
	s.mu.Unlock()
	if ch != nil {
		ch <- reply{result: msg.Result, err: msg.Error}
	}
}

// end records why the session is over (the first reason wins) and closes it.
func (s *Session) end(why error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done:
		return
	default:
	}
	s.err = why
	close(s.done)
	s.c.Close()
}

// write sends one message, bounded by ctx's deadline. A write that fails having sent part of
// the message ends the session (the stream holds half a message); one that sent nothing (its
// deadline had passed) leaves it usable.
func (s *Session) write(ctx context.Context, b []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	dl, _ := ctx.Deadline()
	s.c.SetWriteDeadline(dl)
	n, err := s.c.Write(b)
	if err != nil && (n > 0 || !errors.Is(err, os.ErrDeadlineExceeded)) {
		s.end(fmt.Errorf("%s: %w", s.name, err))
	}
	if err != nil && n == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
		// ctx's deadline passed between the check above and the write, before ctx's own
		// timer said so: the caller hears what ctx will say, not the socket's "i/o timeout".
		return context.DeadlineExceeded
	}
	return err
}

// Done is closed when the session has ended: the peer went away, sent something that is not
// JSON-RPC or too large, or Close was called. Err then says why.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err says why the session ended, or nil while it runs.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close ends the session.
func (s *Session) Close() error {
	s.end(fmt.Errorf("%s: connection closed", s.name))
	return nil
}

// Call sends method(params) and decodes the result into out (when not nil). It returns when the
// reply arrives, ctx ends (ctx.Err(), and the session stays usable) or the session ends (why).
func (s *Session) Call(ctx context.Context, method string, params any, out any) error {
	ch := make(chan reply, 1)
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return err
	}
	id := s.id
	s.id++
	s.pending[id] = ch
	s.mu.Unlock()
	forget := func() {
		s.mu.Lock()
		delete(s.pending, id)
		s.mu.Unlock()
	}
	req, err := json.Marshal(map[string]any{"method": method, "params": params, "id": id})
	if err != nil {
		forget()
		return err
	}
	if err := s.write(ctx, req); err != nil {
		forget()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s: sending %s: %w", s.name, method, err)
	}
	var r reply
	select {
	case r = <-ch:
	case <-ctx.Done():
		forget()
		return ctx.Err()
	case <-s.done:
		select {
		case r = <-ch: // it came in just before the end
		default:
			return s.Err()
		}
	}
	if err := replyErr(method, r.err); err != nil {
		return err
	}
	return decodeResult(s.name, method, r.result, out)
}

// Transact runs OVSDB operations (anything that marshals to RFC 7047 operations: libovsdb's
// ovsdb.Operation, maps) on database db in one transaction and returns each operation's result
// as it came, for the caller to decode: rows with a fast decoder, inserts' UUIDs, errors.
func (s *Session) Transact(ctx context.Context, db string, ops ...any) ([]json.RawMessage, error) {
	params := make([]any, 0, len(ops)+1)
	params = append(params, db)
	params = append(params, ops...)
	var res []json.RawMessage
	if err := s.Call(ctx, "transact", params, &res); err != nil {
		return nil, err
	}
	return res, nil
}
