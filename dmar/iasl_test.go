package dmar

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

// iaslStructure is what `iasl -d` says of one remapping structure.
type iaslStructure struct {
	typ, offset int
	segment     uint64
	base, end   uint64
	scopes      []iaslScope
}

type iaslScope struct {
	typ, offset, enum, bus int
	path                   []PathEntry
}

// parseIASL reads the structures out of an iasl data-table disassembly (.dsl).
func parseIASL(t *testing.T, dsl string) []iaslStructure {
	var out []iaslStructure
	var cur *iaslStructure
	var sc *iaslScope
	f, err := os.Open(dsl)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Text()
		if strings.Contains(line, "Raw Table Data") {
			break
		}
		if !strings.HasPrefix(line, "[") {
			continue
		}
		head, rest, _ := strings.Cut(line, "]")
		offs := strings.Fields(strings.TrimPrefix(head, "["))
		off, _ := strconv.Atoi(offs[1])
		name, val, ok := strings.Cut(rest, " : ")
		if !ok {
			continue
		}
		name, val = strings.TrimSpace(name), strings.Fields(val)[0]
		hex := func() uint64 {
			v, err := strconv.ParseUint(val, 16, 64)
			if err != nil {
				t.Fatalf("%s: %q: %v", dsl, line, err)
			}
			return v
		}
		switch name {
		case "Subtable Type":
			out = append(out, iaslStructure{typ: int(hex()), offset: off})
			cur, sc = &out[len(out)-1], nil
		case "PCI Segment Number":
			cur.segment = hex()
		case "Base Address":
			cur.base = hex()
		case "End Address (limit)":
			cur.end = hex()
		case "Device Scope Type":
			cur.scopes = append(cur.scopes, iaslScope{typ: int(hex()), offset: off})
			sc = &cur.scopes[len(cur.scopes)-1]
		case "Enumeration ID":
			sc.enum = int(hex())
		case "PCI Bus Number":
			sc.bus = int(hex())
		case "PCI Path":
			d, fn, _ := strings.Cut(strings.TrimSpace(strings.SplitN(rest, " : ", 2)[1]), ",")
			dv, _ := strconv.ParseUint(d, 16, 8)
			fv, _ := strconv.ParseUint(fn, 16, 8)
			sc.path = append(sc.path, PathEntry{uint8(dv), uint8(fv)})
		}
	}
	return out
}

// tables returns every DMAR table the comparison covers: the real ones in testdata/fixtures/dmar
// and the generated ones in the host trees.
func tables(t *testing.T) []string {
	real, _ := filepath.Glob("../testdata/fixtures/dmar/*.dmar.bin")
	gen, _ := filepath.Glob("../testdata/hosts/*/sys/firmware/acpi/tables/DMAR")
	if len(real) < 10 {
		t.Fatalf("found %d real DMAR tables in testdata/fixtures/dmar, want 10", len(real))
	}
	return append(real, gen...)
}

// TestAgainstIASL decodes every table with iasl -d (Debian's acpica-tools) and with Parse and
// requires every structure's type and offset, and every RMRR's segment, base, end and scopes
// (type, enumeration ID, start bus, path), to agree.
func TestAgainstIASL(t *testing.T) {
	iasl, err := exec.LookPath("iasl")
	if err != nil {
		testenv.Unavailable(t, "iasl is required (apt-get install acpica-tools)")
	}
	for _, file := range tables(t) {
		t.Run(strings.TrimPrefix(file, "../testdata/"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			bin := filepath.Join(dir, "dmar.bin")
			if err := os.WriteFile(bin, raw, 0o644); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(iasl, "-d", bin)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("iasl -d: %v\n%s", err, out)
			}
			want := parseIASL(t, filepath.Join(dir, "dmar.dsl"))
			tab, err := Parse(raw)
			if err != nil {
				t.Fatal(err)
			}
			if len(tab.Structures) != len(want) {
				t.Fatalf("%d structures, iasl says %d", len(tab.Structures), len(want))
			}
			rmrrs := 0
			for i, w := range want {
				g := tab.Structures[i]
				if int(g.Type) != w.typ || g.Offset != w.offset {
					t.Errorf("structure %d: type %d at %#x, iasl: type %d at %#x", i, g.Type, g.Offset, w.typ, w.offset)
				}
				if w.typ != TypeRMRR {
					continue
				}
				rmrrs++
				if uint64(g.Segment) != w.segment || g.Address != w.base || g.End != w.end {
					t.Errorf("RMRR at %#x: seg %d %#x-%#x, iasl: seg %d %#x-%#x", g.Offset, g.Segment, g.Address, g.End, w.segment, w.base, w.end)
				}
				if len(g.Scopes) != len(w.scopes) {
					t.Fatalf("RMRR at %#x: %d scopes, iasl says %d", g.Offset, len(g.Scopes), len(w.scopes))
				}
				for j, ws := range w.scopes {
					gs := g.Scopes[j]
					if int(gs.Type) != ws.typ || gs.Offset != ws.offset || int(gs.EnumerationID) != ws.enum || int(gs.StartBus) != ws.bus || !samePath(gs.Path, ws.path) {
						t.Errorf("RMRR at %#x scope %d: %+v, iasl: %+v", g.Offset, j, gs, ws)
					}
				}
			}
			if rmrrs != len(tab.RMRRs()) {
				t.Errorf("%d RMRRs, iasl shows %d", len(tab.RMRRs()), rmrrs)
			}
		})
	}
}

func samePath(a, b []PathEntry) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
