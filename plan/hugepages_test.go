package plan

import "testing"

// TestHugePagesIsDerive: HugePages gives each node Derive's huge_pages_needed for the page size
// asked (0: the plan's own), leaves out nodes that need none, and refuses other sizes.
func TestHugePagesIsDerive(t *testing.T) {
	in := input(t, "numa4-epyc")
	in.NICs = nics(t, "numa4-epyc", 9000, "0000:41:00.0") // node 1 only; node 0 keeps house
	for _, c := range []struct {
		sizeKB uint64
		pdpe   bool
		want   map[int]uint64
	}{
		{0, true, map[int]uint64{0: 1, 1: 3}},
		{2048, true, map[int]uint64{0: 512, 1: 1528}},
		{1 << 20, false, map[int]uint64{0: 1, 1: 3}},
	} {
		in.Pdpe1GB = c.pdpe
		got, err := HugePages(in, c.sizeKB)
		if err != nil {
			t.Fatal(err)
		}
		ref := in
		ref.Pdpe1GB = c.sizeKB == 1<<20 || c.sizeKB == 0 && c.pdpe
		p, err := Derive(ref)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(c.want) {
			t.Errorf("%d kB: %d nodes, want %d: %+v", c.sizeKB, len(got), len(c.want), got)
		}
		for _, g := range got {
			if g.Pages != c.want[g.Node] || g.SizeKB != p.PageSizeKB {
				t.Errorf("%d kB: node %d: %d pages of %d kB, want %d", c.sizeKB, g.Node, g.Pages, g.SizeKB, c.want[g.Node])
			}
			for _, n := range p.Nodes {
				if n.Node == g.Node && (n.Pages != g.Pages || n.SocketMem != g.SocketMiB) {
					t.Errorf("node %d: %d pages, Derive %d", g.Node, g.Pages, n.Pages)
				}
			}
		}
	}
	if _, err := HugePages(in, 4096); err == nil {
		t.Error("4096 kB pages accepted")
	}
}
