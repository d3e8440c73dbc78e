package ovsrpc

import (
	"bytes"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// frames cuts the stream in into messages with reads of at most step bytes.
func frames(in []byte, step int, max int64) ([][]byte, error) {
	f := newFramer(iotest.OneByteReader(bytes.NewReader(in)), max)
	if step > 1 {
		f = newFramer(&chunked{r: bytes.NewReader(in), n: step}, max)
	}
	var out [][]byte
	for {
		b, err := f.next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, b)
	}
}

type chunked struct {
	r io.Reader
	n int
}

func (c *chunked) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

func TestFramer(t *testing.T) {
	in := []byte(` {"id":1,"result":["a}\"]{",{"k":[1,2]}],"error":null}` + "\n" + `{"method":"echo","params":[],"id":"echo"}`)
	for _, step := range []int{1, 3, 7, 4096} {
		msgs, err := frames(in, step, 1000)
		if err != nil || len(msgs) != 2 || !json.Valid(msgs[0]) || !json.Valid(msgs[1]) {
			t.Fatalf("step %d: %q %v", step, msgs, err)
		}
		m, err := parseMessage(msgs[0])
		if err != nil || string(m.ID) != "1" || string(m.Error) != "null" || len(m.Method) != 0 {
			t.Fatalf("step %d: %+v %v", step, m, err)
		}
		res, err := SplitArray(m.Result)
		if err != nil || len(res) != 2 || string(res[0]) != `"a}\"]{"` || string(res[1]) != `{"k":[1,2]}` {
			t.Fatalf("step %d: %q %v", step, res, err)
		}
		if m, _ := parseMessage(msgs[1]); !isMethod(m.Method, "echo") {
			t.Errorf("step %d: echo not seen: %+v", step, m)
		}
	}
	// Over the limit, whole or in pieces; a truncated message; not an object.
	for _, bad := range []struct{ in, want string }{
		{`{"result":"` + strings.Repeat("x", 2000) + `"}`, "more than 1000 bytes"},
		{`{"result":"` + strings.Repeat("x", 200), "unexpected EOF"},
		{`[1,2]`, "must be an object"},
	} {
		for _, step := range []int{1, 64, 4096} {
			if _, err := frames([]byte(bad.in), step, 1000); err == nil || !strings.Contains(err.Error(), bad.want) {
				t.Errorf("%.30s, step %d: want %q, got %v", bad.in, step, bad.want, err)
			}
		}
	}
}

// FuzzFramer: however the stream is cut into reads, the framer finds the same messages (or
// the same failure), never panics, and every message it gives is within the limit and starts
// and ends as an object does.
func FuzzFramer(f *testing.F) {
	f.Add([]byte(`{"id":1,"result":["a}\"]{"]} {"method":"echo","params":[]}`), uint8(3))
	f.Add([]byte(`{"result":"xxxxxxxxxxxxxxxxxxxxxxxxxxx`), uint8(1))
	f.Add([]byte(`  x{}`), uint8(2))
	f.Fuzz(func(t *testing.T, in []byte, step uint8) {
		whole, werr := frames(in, 1<<20, 64)
		parts, perr := frames(in, int(step%16)+1, 64)
		if (werr == nil) != (perr == nil) || !reflect.DeepEqual(whole, parts) {
			t.Fatalf("whole: %q %v; in pieces of %d: %q %v", whole, werr, step%16+1, parts, perr)
		}
		for _, m := range whole {
			if len(m) > 64 || m[0] != '{' || (m[len(m)-1] != '}' && m[len(m)-1] != ']') {
				t.Fatalf("message %q", m)
			}
			parseMessage(m)
		}
	})
}

// FuzzSplitArray: the elements of a valid array are what encoding/json finds; anything else
// is an error or elements, never a panic.
func FuzzSplitArray(f *testing.F) {
	f.Add(`[{"rows":[{"a":["set",[]]}]},{"count":1}, "x\"]", 5]`)
	f.Add(`[]`)
	f.Add(`[1,`)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := SplitArray([]byte(s))
		var want []json.RawMessage
		if json.Unmarshal([]byte(s), &want) != nil {
			return
		}
		if err != nil || len(got) != len(want) {
			t.Fatalf("%q: got %q %v, want %q", s, got, err, want)
		}
		for i := range got {
			if !bytes.Equal(bytes.TrimSpace(got[i]), bytes.TrimSpace(want[i])) {
				t.Fatalf("%q: element %d: %q, want %q", s, i, got[i], want[i])
			}
		}
	})
}
