package ovsrpc

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// framer cuts a byte stream into top-level JSON values (JSON-RPC messages) without decoding
// them: one pass of a small state machine (strings, escapes, nesting). encoding/json's Decoder
// scans a message twice to frame it and twice more to hand out a RawMessage; a 512-port
// reply is a quarter of a megabyte, so that was most of a one-shot read's time on our side.
// Each message may be at most max bytes: a peer that sends more gets an error naming the
// limit, and nothing more is buffered.
type framer struct {
	r   io.Reader
	max int64
	buf []byte // buf[:n] holds bytes read and not yet handed out; nil until the next read
	n   int
}

func newFramer(r io.Reader, max int64) *framer {
	return &framer{r: r, max: max}
}

// next returns the next message's bytes (a JSON object).
func (f *framer) next() ([]byte, error) {
	var (
		depth      int
		inStr, esc bool
		start      = -1 // where the object starts; -1 before its '{'
	)
	if f.buf == nil {
		f.buf = make([]byte, min(64<<10, f.max+1))
	}
	i := 0
	for {
		for ; i < f.n; i++ {
			c := f.buf[i]
			switch {
			case start < 0:
				switch c {
				case ' ', '\t', '\n', '\r':
				case '{':
					start, depth = i, 1
				default:
					return nil, fmt.Errorf("not JSON-RPC: a message must be an object, not %q", c)
				}
			case inStr:
				switch {
				case esc:
					esc = false
				case c == '\\':
					esc = true
				case c == '"':
					inStr = false
				}
			case c == '"':
				// A string without escapes (names, UUIDs: most of a reply's bytes) is passed
				// with one byte search; any other is walked byte by byte.
				if k := bytes.IndexByte(f.buf[i+1:f.n], '"'); k >= 0 && bytes.IndexByte(f.buf[i+1:i+1+k], '\\') < 0 {
					i += k + 1
					continue
				}
				inStr = true
			case c == '{' || c == '[':
				depth++
			case c == '}' || c == ']':
				if depth--; depth == 0 {
					if int64(i+1-start) > f.max {
						return nil, f.tooLarge()
					}
					return f.take(start, i+1), nil
				}
			}
		}
		from := max(start, 0)
		if start < 0 { // only white space so far: drop it
			from = f.n
		}
		if int64(f.n-from) > f.max {
			return nil, f.tooLarge()
		}
		// Need more: move the partial message to the front, grow within the limit, read.
		if from > 0 {
			copy(f.buf, f.buf[from:f.n])
			f.n -= from
			i -= from
			if start > 0 {
				start = 0
			}
		}
		if f.n == len(f.buf) {
			size := min(int64(2*len(f.buf)), f.max+1)
			if int64(len(f.buf)) >= size {
				return nil, f.tooLarge()
			}
			nb := make([]byte, size)
			copy(nb, f.buf[:f.n])
			f.buf = nb
		}
		k, err := f.r.Read(f.buf[f.n:])
		f.n += k
		if k == 0 && err != nil {
			if err == io.EOF && start >= 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
}

// take hands out buf[start:end] and keeps the rest for the next call. The bytes handed out
// are copied, so the caller may keep them while the buffer is reused.
func (f *framer) take(start, end int) []byte {
	if end == f.n && end-start > 64<<10 {
		// A large message that is all the buffer holds (a one-shot read's reply): hand the
		// buffer itself out instead of copying it, and start a new one on the next read.
		out := f.buf[start:end:end]
		f.buf, f.n = nil, 0
		return out
	}
	out := append([]byte(nil), f.buf[start:end]...)
	copy(f.buf, f.buf[end:f.n])
	f.n -= end
	return out
}

func (f *framer) tooLarge() error {
	size := fmt.Sprintf("%d bytes", f.max)
	if f.max >= 1<<20 && f.max%(1<<20) == 0 {
		size = fmt.Sprintf("%d MiB", f.max>>20)
	}
	return fmt.Errorf("sent a message of more than %s: stopped reading it (a broken or hostile peer?)", size)
}

// message is a JSON-RPC 1.0 message's members, undecoded.
type message struct {
	ID, Method, Params, Result, Error json.RawMessage
}

// parseMessage finds the members of one message (a JSON object) without decoding their values.
func parseMessage(b []byte) (message, error) {
	var m message
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return m, errors.New("not JSON-RPC: a message must be an object")
	}
	i++
	for n := 0; ; n++ {
		i = skipSpace(b, i)
		if i < len(b) && b[i] == '}' {
			return m, nil
		}
		if n > 0 {
			if i >= len(b) || b[i] != ',' {
				return m, fmt.Errorf("not JSON: want ',' at byte %d", i)
			}
			i = skipSpace(b, i+1)
		}
		kEnd, err := skipValue(b, i)
		if err != nil || b[i] != '"' {
			return m, fmt.Errorf("not JSON: want a member name at byte %d", i)
		}
		key := b[i+1 : kEnd-1]
		i = skipSpace(b, kEnd)
		if i >= len(b) || b[i] != ':' {
			return m, fmt.Errorf("not JSON: want ':' at byte %d", i)
		}
		i = skipSpace(b, i+1)
		end, err := skipValue(b, i)
		if err != nil {
			return m, err
		}
		v := json.RawMessage(b[i:end])
		switch string(key) {
		case "id":
			m.ID = v
		case "method":
			m.Method = v
		case "params":
			m.Params = v
		case "result":
			m.Result = v
		case "error":
			m.Error = v
		}
		i = end
	}
}

// SplitArray returns the elements of a JSON array, undecoded: a transact's results, say.
func SplitArray(b []byte) ([]json.RawMessage, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, errors.New("not a JSON array")
	}
	i++
	var out []json.RawMessage
	for {
		i = skipSpace(b, i)
		if i < len(b) && b[i] == ']' {
			if j := skipSpace(b, i+1); j != len(b) {
				return nil, fmt.Errorf("not JSON: trailing data at byte %d", j)
			}
			return out, nil
		}
		if len(out) > 0 {
			if i >= len(b) || b[i] != ',' {
				return nil, fmt.Errorf("not JSON: want ',' at byte %d", i)
			}
			i = skipSpace(b, i+1)
		}
		end, err := skipValue(b, i)
		if err != nil {
			return nil, err
		}
		out = append(out, json.RawMessage(b[i:end]))
		i = end
	}
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the end of the JSON value that starts at b[i]. It checks the nesting and
// the strings, not the scalars' spelling (the decoder of the value does).
func skipValue(b []byte, i int) (int, error) {
	if i >= len(b) {
		return 0, errors.New("not JSON: unexpected end")
	}
	switch b[i] {
	case '"':
		if k := bytes.IndexByte(b[i+1:], '"'); k >= 0 && bytes.IndexByte(b[i+1:i+1+k], '\\') < 0 {
			return i + k + 2, nil // no escapes: one byte search
		}
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1, nil
			}
		}
		return 0, errors.New("not JSON: unterminated string")
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, err := skipValue(b, j)
				if err != nil {
					return 0, err
				}
				j = end - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1, nil
				}
			}
		}
		return 0, errors.New("not JSON: unexpected end")
	case ',', ':', '}', ']':
		return 0, fmt.Errorf("not JSON: want a value at byte %d", i)
	}
	j := i
	for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' && b[j] != ':' {
		j++
	}
	return j, nil
}
