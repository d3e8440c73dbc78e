package capture

import (
	"encoding/binary"
	"errors"
	"fmt"

	"golang.org/x/net/bpf"
)

// snapLen is what an accepting program returns: the whole frame.
const snapLen = 262144

// Compile turns the filter into a classic BPF program for an AF_PACKET socket. With metadata,
// VLAN tests read the tag the kernel moved to metadata (SKF_AD_VLAN_TAG*) before looking for an
// in-band one, as libpcap does on Linux; without it (for frames read from a pcap file, and for
// x/net/bpf's VM, which has no extensions) only in-band tags are seen.
func (f *Filter) Compile(metadata bool) ([]bpf.Instruction, error) {
	g := &gen{meta: metadata, reloadX: usesL4(f.root)}
	accept, reject := g.label(), g.label()
	if needsShift(f.root) {
		g.shiftPrologue()
	}
	g.node(f.root, accept, reject)
	g.mark(accept)
	g.emit(bpf.RetConstant{Val: snapLen})
	g.mark(reject)
	g.emit(bpf.RetConstant{Val: 0})
	return g.resolve()
}

// Raw assembles the program for setsockopt(SO_ATTACH_FILTER).
func Raw(prog []bpf.Instruction) ([]bpf.RawInstruction, error) { return bpf.Assemble(prog) }

func needsShift(n node) bool {
	switch n := n.(type) {
	case andNode:
		return needsShift(n.a) || needsShift(n.b)
	case orNode:
		return needsShift(n.a) || needsShift(n.b)
	case notNode:
		return needsShift(n.a)
	case protoNode:
		return n.depth > 0
	case stpNode:
		return n.depth > 0
	case vlanNode:
		return n.depth > 0
	case cmpNode:
		return n.depth > 0
	}
	return false
}

// An op is an instruction whose conditional or unconditional jump targets are labels until
// resolve turns them into skips.
type op struct {
	ins     bpf.Instruction
	jt, jf  int // labels for JumpIf (jf may be -1: fall through)
	ja      int // label for Jump
	isLabel bool
	labelID int
}

type gen struct {
	meta    bool
	reloadX bool // transport tests clobber X: the prologue keeps the tag room in M[0]
	ops     []op
	labels  int
}

func (g *gen) label() int             { g.labels++; return g.labels }
func (g *gen) mark(l int)             { g.ops = append(g.ops, op{isLabel: true, labelID: l}) }
func (g *gen) emit(i bpf.Instruction) { g.ops = append(g.ops, op{ins: i, jt: -1, jf: -1, ja: -1}) }
func (g *gen) jeq(v uint32, t, f int) {
	g.ops = append(g.ops, op{ins: bpf.JumpIf{Cond: bpf.JumpEqual, Val: v}, jt: t, jf: f, ja: -1})
}
func (g *gen) jgt(v uint32, t, f int) {
	g.ops = append(g.ops, op{ins: bpf.JumpIf{Cond: bpf.JumpGreaterThan, Val: v}, jt: t, jf: f, ja: -1})
}
func (g *gen) jump(l int) {
	g.ops = append(g.ops, op{ins: bpf.Jump{}, jt: -1, jf: -1, ja: l})
}

// shiftPrologue sets X to the room the first VLAN tag takes in the frame, as libpcap does: 0
// when the kernel moved it to metadata, else 4. Tests after vlan keywords load relative to X.
func (g *gen) shiftPrologue() {
	if g.reloadX { // transport tests clobber X: keep the room in M[0]
		defer g.emit(bpf.StoreScratch{Src: bpf.RegX, N: 0})
	}
	if !g.meta {
		g.emit(bpf.LoadConstant{Dst: bpf.RegX, Val: 4})
		return
	}
	zero, done := g.label(), g.label()
	g.emit(bpf.LoadExtension{Num: bpf.ExtVLANTagPresent})
	g.jeq(1, zero, -1)
	g.emit(bpf.LoadConstant{Dst: bpf.RegX, Val: 4})
	g.jump(done)
	g.mark(zero)
	g.emit(bpf.LoadConstant{Dst: bpf.RegX, Val: 0})
	g.mark(done)
}

// load loads size bytes of the link-layer field at base, after depth vlan keywords.
func (g *gen) load(base uint32, size, depth int) {
	if depth == 0 {
		g.emit(bpf.LoadAbsolute{Off: base, Size: size})
		return
	}
	if g.reloadX {
		g.emit(bpf.LoadScratch{Dst: bpf.RegX, N: 0})
	}
	g.emit(bpf.LoadIndirect{Off: base + 4*uint32(depth-1), Size: size})
}

// usesL4 reports whether n holds a test past the IPv4 header (which loads X).
func usesL4(n node) bool {
	switch n := n.(type) {
	case andNode:
		return usesL4(n.a) || usesL4(n.b)
	case orNode:
		return usesL4(n.a) || usesL4(n.b)
	case notNode:
		return usesL4(n.a)
	case cmpNode:
		return n.l4
	}
	return false
}

// loadL4 loads size bytes at off past the IPv4 header (its length from the IHL nibble).
func (g *gen) loadL4(off uint32, size, depth int) {
	if depth == 0 {
		g.emit(bpf.LoadMemShift{Off: 14})
		g.emit(bpf.LoadIndirect{Off: 14 + off, Size: size})
		return
	}
	base := 14 + 4*uint32(depth-1)
	g.emit(bpf.LoadScratch{Dst: bpf.RegX, N: 0})
	g.emit(bpf.LoadIndirect{Off: base, Size: 1})
	g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xf})
	g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpShiftLeft, Val: 2})
	g.emit(bpf.ALUOpX{Op: bpf.ALUOpAdd})
	g.emit(bpf.TAX{})
	g.emit(bpf.LoadIndirect{Off: base + off, Size: size})
}

// node emits code that jumps to t when n matches and to f when it does not.
func (g *gen) node(n node, t, f int) {
	switch n := n.(type) {
	case allNode:
		g.jump(t)
	case andNode:
		mid := g.label()
		g.node(n.a, mid, f)
		g.mark(mid)
		g.node(n.b, t, f)
	case orNode:
		mid := g.label()
		g.node(n.a, t, mid)
		g.mark(mid)
		g.node(n.b, t, f)
	case notNode:
		g.node(n.a, f, t)
	case vlanNode:
		inband := g.label()
		if g.meta && n.depth == 0 {
			meta := g.label()
			g.emit(bpf.LoadExtension{Num: bpf.ExtVLANTagPresent})
			g.jeq(1, meta, inband)
			g.mark(meta)
			if n.id < 0 {
				g.jump(t)
			} else {
				g.emit(bpf.LoadExtension{Num: bpf.ExtVLANTag})
				g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xfff})
				g.jeq(uint32(n.id), t, f)
			}
		}
		g.mark(inband)
		tag := g.label()
		g.load(12, 2, n.depth)
		g.jeq(0x8100, tag, -1)
		g.jeq(0x88a8, tag, -1)
		g.jeq(0x9100, tag, f)
		g.mark(tag)
		if n.id < 0 {
			g.jump(t)
		} else {
			g.load(14, 2, n.depth)
			g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: 0xfff})
			g.jeq(uint32(n.id), t, f)
		}
	case protoNode:
		g.load(12, 2, n.depth)
		g.jeq(uint32(n.proto), t, f)
	case stpNode:
		llc := g.label()
		g.load(12, 2, n.depth)
		g.jgt(1500, f, llc)
		g.mark(llc)
		g.load(14, 1, n.depth)
		g.jeq(0x42, t, f)
	case cmpNode:
		if n.l4 {
			g.loadL4(uint32(n.off), n.size, n.depth)
		} else {
			g.load(uint32(n.off), n.size, n.depth)
		}
		switch n.kind {
		case cmpSet:
			g.ops = append(g.ops, op{ins: bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: n.val}, jt: t, jf: f, ja: -1})
		case cmpGE:
			g.ops = append(g.ops, op{ins: bpf.JumpIf{Cond: bpf.JumpGreaterOrEqual, Val: n.val}, jt: t, jf: f, ja: -1})
		case cmpGT:
			g.jgt(n.val, t, f)
		default:
			if n.mask != 0xffffffff {
				g.emit(bpf.ALUOpConstant{Op: bpf.ALUOpAnd, Val: n.mask})
			}
			g.jeq(n.val, t, f)
		}
	case macNode:
		hi, lo := uint32(binary.BigEndian.Uint16(n.mac[0:2])), binary.BigEndian.Uint32(n.mac[2:6])
		test := func(off uint32, yes, no int) {
			mid := g.label()
			g.emit(bpf.LoadAbsolute{Off: off + 2, Size: 4})
			g.jeq(lo, mid, no)
			g.mark(mid)
			g.emit(bpf.LoadAbsolute{Off: off, Size: 2})
			g.jeq(hi, yes, no)
		}
		switch {
		case n.src && n.dst:
			other := g.label()
			test(0, t, other)
			g.mark(other)
			test(6, t, f)
		case n.dst:
			test(0, t, f)
		default:
			test(6, t, f)
		}
	}
}

// resolve removes labels and turns jump targets into relative skips. A conditional jump
// reaches at most 255 instructions ahead; a farther target is reached through a trampoline, an
// unconditional jump (32-bit reach) placed right after it, as libpcap does.
func (g *gen) resolve() ([]bpf.Instruction, error) {
	// Each round adds the trampolines the current layout needs; adding them moves other targets
	// farther, so repeat until no jump is too far (or the program is too long anyway).
	for changed := true; changed && g.count() <= MaxInstructions; {
		changed = false
		pos, at := g.positions()
		var fixed []op
		for k, o := range g.ops {
			fixed = append(fixed, o)
			if _, ok := o.ins.(bpf.JumpIf); !ok || o.isLabel {
				continue
			}
			far := func(l int) bool { return l >= 0 && pos[l]-at[k]-1 > 255 }
			if !far(o.jt) && !far(o.jf) {
				continue
			}
			changed = true
			// Fall-through becomes an explicit label after the trampolines.
			next := -1
			if o.jt < 0 || o.jf < 0 {
				next = g.label()
			}
			j := &fixed[len(fixed)-1]
			var tramp []op
			for _, t := range []*int{&j.jt, &j.jf} {
				switch {
				case *t < 0:
					*t = next
				case far(*t):
					l := g.label()
					tramp = append(tramp, op{isLabel: true, labelID: l}, op{ins: bpf.Jump{}, jt: -1, jf: -1, ja: *t})
					*t = l
				}
			}
			fixed = append(fixed, tramp...)
			if next >= 0 {
				fixed = append(fixed, op{isLabel: true, labelID: next})
			}
		}
		g.ops = fixed
	}
	if n := g.count(); n > MaxInstructions {
		return nil, fmt.Errorf("filter compiles to %d BPF instructions, more than the kernel takes (%d)", n, MaxInstructions)
	}
	pos, _ := g.positions()
	var out []bpf.Instruction
	for _, o := range g.ops {
		if o.isLabel {
			continue
		}
		here := len(out)
		skip := func(l int) (uint8, error) {
			if l < 0 {
				return 0, nil
			}
			d := pos[l] - here - 1
			if d < 0 || d > 255 {
				return 0, fmt.Errorf("filter compiler: jump of %d", d)
			}
			return uint8(d), nil
		}
		switch i := o.ins.(type) {
		case bpf.JumpIf:
			var err1, err2 error
			i.SkipTrue, err1 = skip(o.jt)
			i.SkipFalse, err2 = skip(o.jf)
			if err := errors.Join(err1, err2); err != nil {
				return nil, err
			}
			out = append(out, i)
		case bpf.Jump:
			d := pos[o.ja] - here - 1
			if d < 0 {
				return nil, fmt.Errorf("filter compiler: backward jump")
			}
			out = append(out, bpf.Jump{Skip: uint32(d)})
		default:
			out = append(out, o.ins)
		}
	}
	return out, nil
}

// count is the number of instructions (labels take no room).
func (g *gen) count() int {
	n := 0
	for _, o := range g.ops {
		if !o.isLabel {
			n++
		}
	}
	return n
}

// positions maps each label to the instruction it marks, and gives each op's instruction
// position (for a label, that of the instruction after it).
func (g *gen) positions() (labels map[int]int, at []int) {
	labels, at = map[int]int{}, make([]int, len(g.ops))
	n := 0
	for k, o := range g.ops {
		at[k] = n
		if o.isLabel {
			labels[o.labelID] = n
		} else {
			n++
		}
	}
	return labels, at
}
