package capture

import (
	"bufio"
	"fmt"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// PcapWriter writes frames to a pcap file that tcpdump and Wireshark read.
type PcapWriter struct {
	f  *os.File
	bw *bufio.Writer
	w  *pcapgo.Writer
}

// CreatePcap creates (or truncates) a pcap file for Ethernet frames.
func CreatePcap(path string) (*PcapWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	w := pcapgo.NewWriter(bw)
	if err := w.WriteFileHeader(snapLen, layers.LinkTypeEthernet); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &PcapWriter{f: f, bw: bw, w: w}, nil
}

// Write appends one frame.
func (p *PcapWriter) Write(pk Packet) error {
	return p.w.WritePacket(gopacket.CaptureInfo{Timestamp: pk.Time, CaptureLength: len(pk.Data), Length: pk.WireLen}, pk.Data)
}

// Close flushes and closes the file; every frame written so far is in it, whole.
func (p *PcapWriter) Close() error {
	err := p.bw.Flush()
	if cerr := p.f.Close(); err == nil {
		err = cerr
	}
	return err
}
