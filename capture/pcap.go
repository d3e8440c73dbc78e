package capture

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// PcapWriter writes frames as pcap, to a file or a stream, that tcpdump and Wireshark read.
// The header goes out when the capture starts and every frame is flushed as it is written, so
// whatever ends the process (even SIGKILL) leaves a file that reads to its last whole frame.
type PcapWriter struct {
	f       *os.File // the file, when writing one
	path    string
	created bool // OpenPcap made the file (Abandon removes it)
	out     io.Writer
	bw      *bufio.Writer
	w       *pcapgo.Writer
}

// OpenPcap opens path for a capture before anything else is made, so that a bad path (its
// directory missing or not writable, or path a directory) fails first. An existing file is not
// changed until Start; a file OpenPcap created is removed by Abandon.
func OpenPcap(path string) (*PcapWriter, error) {
	if path == "" {
		return nil, errors.New("pcap output: empty file name")
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return nil, fmt.Errorf("pcap output %s: is a directory", path)
	}
	created := true
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		created = false
		f, err = os.OpenFile(path, os.O_WRONLY, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("pcap output: %w", err)
	}
	return &PcapWriter{f: f, path: path, created: created, out: f}, nil
}

// NewPcapStream writes pcap to w, such as standard output for `-w -`.
func NewPcapStream(w io.Writer) *PcapWriter { return &PcapWriter{out: w, path: "standard output"} }

// Start empties the file and writes the pcap header for Ethernet frames.
func (p *PcapWriter) Start() error {
	if st, err := statOf(p.f); err == nil && st.Mode().IsRegular() {
		if err := p.f.Truncate(0); err != nil {
			return fmt.Errorf("%s: %w", p.path, err)
		}
	}
	p.bw = bufio.NewWriterSize(p.out, 1<<16)
	p.w = pcapgo.NewWriter(p.bw)
	if err := p.w.WriteFileHeader(snapLen, layers.LinkTypeEthernet); err != nil {
		return fmt.Errorf("%s: %w", p.path, err)
	}
	return p.flush()
}

func (p *PcapWriter) flush() error {
	if err := p.bw.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", p.path, err)
	}
	return nil
}

// Write appends one frame and flushes it (one write per frame).
func (p *PcapWriter) Write(pk Packet) error {
	if err := p.w.WritePacket(gopacket.CaptureInfo{Timestamp: pk.Time, CaptureLength: len(pk.Data), Length: pk.WireLen}, pk.Data); err != nil {
		return fmt.Errorf("writing %s: %w", p.path, err)
	}
	return p.flush()
}

// Close flushes and closes the file (a stream is left open); every frame written so far is in
// it, whole.
func (p *PcapWriter) Close() error {
	var err error
	if p.bw != nil {
		err = p.flush()
	}
	if p.f != nil {
		if cerr := p.f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// Abandon undoes OpenPcap when the capture never started: the file is closed, and removed
// when OpenPcap created it (an existing file was never touched).
func (p *PcapWriter) Abandon() {
	if p.f == nil {
		return
	}
	p.f.Close()
	if p.created {
		os.Remove(p.path)
	}
}

func statOf(f *os.File) (os.FileInfo, error) {
	if f == nil {
		return nil, os.ErrInvalid
	}
	return f.Stat()
}
