package netif

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

// nlMsg builds one netlink message of type typ with body b.
func nlMsg(typ uint16, flags uint16, seq uint32, b []byte) []byte {
	m := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(b)+3)
	binary.NativeEndian.PutUint32(m, uint32(unix.SizeofNlMsghdr+len(b)))
	binary.NativeEndian.PutUint16(m[4:], typ)
	binary.NativeEndian.PutUint16(m[6:], flags)
	binary.NativeEndian.PutUint32(m[8:], seq)
	m = append(m, b...)
	for len(m)%4 != 0 {
		m = append(m, 0)
	}
	return m
}

// nlAttr builds one attribute.
func nlAttr(typ uint16, v []byte) []byte {
	a := make([]byte, 4, 4+len(v)+3)
	binary.NativeEndian.PutUint16(a, uint16(4+len(v)))
	binary.NativeEndian.PutUint16(a[2:], typ)
	a = append(a, v...)
	for len(a)%4 != 0 {
		a = append(a, 0)
	}
	return a
}

// TestNetlinkMessages: a dump's datagram is split into bodies; the end, the kernel's errors,
// other sequence numbers and an interrupted dump are told apart.
func TestNetlinkMessages(t *testing.T) {
	link := make([]byte, unix.SizeofIfInfomsg)
	binary.NativeEndian.PutUint32(link[4:], 7)
	binary.NativeEndian.PutUint32(link[8:], unix.IFF_UP|unix.IFF_RUNNING|unix.IFF_LOWER_UP)
	link = append(link, nlAttr(unix.IFLA_IFNAME, []byte("eth9\x00"))...)
	link = append(link, nlAttr(unix.IFLA_OPERSTATE, []byte{6})...)
	p := newNLParser()
	var fnErr error
	dg := append(append(nlMsg(unix.RTM_NEWLINK, 0, 2, link), nlMsg(unix.RTM_NEWLINK, 0, 1, link)...), nlMsg(unix.NLMSG_DONE, 0, 2, []byte{0, 0, 0, 0})...)
	done, err := messages(dg, 2, p.link, &fnErr)
	if !done || err != nil || fnErr != nil || len(p.f.links) != 1 {
		t.Fatalf("done %v err %v fnErr %v links %+v", done, err, fnErr, p.f.links)
	}
	if l := p.f.links[0]; l.Name != "eth9" || l.OperState != "up" || l.Flags != unix.IFF_UP {
		t.Errorf("link %+v, want eth9 up with sysfs flags 0x1", l)
	}
	e := make([]byte, 4)
	binary.NativeEndian.PutUint32(e, uint32(0x100000000-int64(unix.EPERM)))
	if _, err := messages(nlMsg(unix.NLMSG_ERROR, 0, 3, e), 3, p.link, &fnErr); err != unix.EPERM {
		t.Errorf("error message: %v, want EPERM", err)
	}
	fnErr = nil
	if _, _ = messages(nlMsg(unix.RTM_NEWLINK, unix.NLM_F_DUMP_INTR, 4, link), 4, p.link, &fnErr); fnErr != errInterrupted {
		t.Errorf("interrupted dump: %v", fnErr)
	}
	if _, err := messages([]byte{200, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 0, p.link, &fnErr); err == nil {
		t.Error("a message longer than its datagram is an error")
	}
}

// FuzzNetlink feeds arbitrary bytes to every netlink body parser and to the datagram splitter:
// they fail or keep what they can read, never panic.
func FuzzNetlink(f *testing.F) {
	link := make([]byte, unix.SizeofIfInfomsg)
	link = append(link, nlAttr(unix.IFLA_IFNAME, []byte("eth0\x00"))...)
	f.Add(link)
	rt := make([]byte, unix.SizeofRtMsg)
	rt[0], rt[1], rt[4] = unix.AF_INET6, 64, unix.RT_TABLE_MAIN
	rt = append(rt, nlAttr(unix.RTA_MULTIPATH, []byte{16, 0, 0, 0, 1, 0, 0, 0, 8, 0, unix.RTA_GATEWAY, 0, 1, 2, 3, 4})...)
	f.Add(rt)
	f.Add(nlMsg(unix.RTM_NEWLINK, 0, 1, link))
	f.Add(make([]byte, sizeofInetDiagMsg))
	f.Fuzz(func(t *testing.T, b []byte) {
		p := newNLParser()
		p.link(b)
		p.names[0] = "eth0" // let addresses and routes through index 0 find an interface
		p.linksDone()
		p.addr(b)
		p.route(b)
		p.sock(b)
		var fnErr error
		messages(b, binary.NativeEndian.Uint32(append(b, make([]byte, 12)...)[8:]), p.route, &fnErr)
		p.f.info(Options{})
	})
}
