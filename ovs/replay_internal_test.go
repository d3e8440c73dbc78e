package ovs

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/internal/ovstest"
)

// speedReply is the reply ovsdb-server gives ReadOnce's transact for TestPairedSpeed's
// database (one netdev bridge with n ports, half type=internal, half type=dpdk with an attach
// error), in the server's own spelling, with request id 1.
func speedReply(n int) []byte {
	uuid := func(kind, i int) string {
		return fmt.Sprintf(`["uuid","%08x-%04x-4000-8000-%012x"]`, i*2654435761%(1<<32), kind, i)
	}
	var b strings.Builder
	b.WriteString(`{"id":1,"result":[{"rows":[{"manager_options":["set",[]],"dpdk_initialized":false,"bridges":` + uuid(1, 0) +
		`,"_uuid":` + uuid(0, 0) + `,"ovs_version":["set",[]],"dpdk_version":["set",[]],"other_config":["map",[]]}]},`)
	b.WriteString(`{"rows":[{"name":"br-speed","controller":["set",[]],"datapath_type":"netdev","other_config":["map",[]],"mirrors":["set",[]],"ports":["set",[`)
	for i := 0; i <= n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(uuid(2, i))
	}
	b.WriteString(`]],"_uuid":` + uuid(1, 0) + `,"fail_mode":["set",[]]}]},{"rows":[`)
	name := func(i int) string {
		if i == 0 {
			return "br-speed"
		}
		return fmt.Sprintf("p%d", i-1)
	}
	for i := 0; i <= n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"name":%q,"interfaces":%s,"_uuid":%s,"external_ids":["map",[]],"trunks":["set",[]],"tag":["set",[]]}`, name(i), uuid(3, i), uuid(2, i))
	}
	b.WriteString(`]},{"rows":[`)
	for i := 0; i <= n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		if i == 0 || (i-1)%2 == 0 {
			fmt.Fprintf(&b, `{"name":%q,"options":["map",[]],"external_ids":["map",[]],"type":"internal","link_state":["set",[]],"_uuid":%s,"ofport":["set",[]],"error":["set",[]]}`, name(i), uuid(3, i))
			continue
		}
		addr := fmt.Sprintf("0000:99:00.%d", (i-1)%8)
		fmt.Fprintf(&b, `{"name":%q,"options":["map",[["dpdk-devargs",%q]]],"external_ids":["map",[]],"type":"dpdk","link_state":["set",[]],"_uuid":%s,"ofport":-1,"error":"Error attaching device '%s' to DPDK"}`, name(i), addr, uuid(3, i), addr)
	}
	b.WriteString(`]},{"rows":[]},{"rows":[]},{"rows":[]}],"error":null}`)
	return []byte(b.String())
}

// BenchmarkReadOnceReplay512 times ReadOnce's own part of a 512-port read: dial, request,
// framing, parsing and decoding the reply, assembling the State, against a local server that
// answers at once with the bytes ovsdb-server sends (TestPairedSpeed's database).
func BenchmarkReadOnceReplay512(b *testing.B) {
	reply := speedReply(512)
	db := ovstest.Listen(b, func(c net.Conn) {
		buf := make([]byte, 4096)
		if _, err := c.Read(buf); err == nil {
			c.Write(reply)
			c.Read(buf) // until the client closes
		}
	})
	ctx := context.Background()
	b.SetBytes(int64(len(reply)))
	b.ReportAllocs()
	for b.Loop() {
		st, err := ReadOnce(ctx, db, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if len(st.Bridges) != 1 || len(st.Bridges[0].Ports) != 513 {
			b.Fatalf("%d bridges", len(st.Bridges))
		}
	}
}

// TestStartReadOnceSends: StartReadOnce has the request on the server's side when it returns
// (ovs show sends it before gathering the host's facts, so that ovsdb-server answers while
// they are read); Wait then gives the State, the same as ReadOnce's.
func TestStartReadOnceSends(t *testing.T) {
	reply := speedReply(8)
	got := make(chan []byte, 2)
	db := ovstest.Listen(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		n, err := c.Read(buf)
		if err == nil {
			got <- buf[:n]
			c.Write(reply)
			c.Read(buf)
		}
	})
	ctx := context.Background()
	pr := StartReadOnce(ctx, db, Options{})
	select {
	case req := <-got:
		if !strings.Contains(string(req), `"transact"`) || !strings.Contains(string(req), `"Interface"`) {
			t.Errorf("the request: %s", req)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("StartReadOnce returned and the server has no request")
	}
	st, err := pr.Wait()
	if err != nil {
		t.Fatal(err)
	}
	once, err := ReadOnce(ctx, db, Options{})
	if err != nil {
		t.Fatal(err)
	}
	<-got
	if !reflect.DeepEqual(st, once) || len(st.Bridges) != 1 || len(st.Bridges[0].Ports) != 9 {
		t.Errorf("Wait's State %+v\nReadOnce's %+v", st, once)
	}
	// A bad endpoint or an unreachable server is Wait's error, and Wait may be called with it.
	if _, err := StartReadOnce(ctx, "bogus", Options{}).Wait(); err == nil {
		t.Error("no error for a bad endpoint")
	}
	if _, err := StartReadOnce(ctx, "unix:"+filepath.Join(t.TempDir(), "none.sock"), Options{}).Wait(); err == nil || !strings.Contains(err.Error(), "none.sock") {
		t.Errorf("a missing socket: %v", err)
	}
}

// TestReadParams: the one-shot read's hand-built request parameters are the JSON that
// encoding/json makes of readOps' operations (what Client.Read sends), as values.
func TestReadParams(t *testing.T) {
	want, err := json.Marshal(append([]any{"Open_vSwitch"}, readOps()...))
	if err != nil {
		t.Fatal(err)
	}
	var a, b any
	if err := json.Unmarshal(readParams(), &a); err != nil {
		t.Fatalf("%v: %s", err, readParams())
	}
	if err := json.Unmarshal(want, &b); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("hand-built %s\nencoding/json %s", readParams(), want)
	}
}
