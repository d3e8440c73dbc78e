package capture

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/dpdk-doctor/dpdk-doctor/internal/frames"
)

// TestPrintChild is the child process of BenchmarkPrintCPUVsTcpdump: with DDT_PRINT_PCAP set
// it prints every frame of that pcap as `traffic` does (Timestamp, Line, one Fprintf per
// frame) to standard output, through a 64 KiB bufio.Writer as cmd/dpdk-doctor's traffic
// does, or unbuffered (one write per line, the old way) with DDT_PRINT_UNBUFFERED=1.
func TestPrintChild(t *testing.T) {
	path := os.Getenv("DDT_PRINT_PCAP")
	if path == "" {
		return // not started by the benchmark: there is nothing to print, and nothing to test
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(bufio.NewReaderSize(f, 1<<16))
	if err != nil {
		t.Fatal(err)
	}
	var out io.Writer = os.Stdout
	var bw *bufio.Writer
	if os.Getenv("DDT_PRINT_UNBUFFERED") == "" {
		bw = bufio.NewWriterSize(os.Stdout, 64<<10)
		out = bw
	}
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(out, "%s %s\n", Timestamp(ci.Timestamp), Line(data, ci.Length))
	}
	if bw != nil {
		bw.Flush()
	}
}

// BenchmarkPrintCPUVsTcpdump compares the CPU time (user+sys, from each process's rusage) of
// printing every frame of one pcap file in `traffic`'s way with `tcpdump -nne -r` on the same
// file, both writing to /dev/null (or a pipe), paired in one run: ours buffered, ours unbuffered (the old
// way), tcpdump, three rounds. The pcap holds 200,000 frames of the IPv4/IPv6 TCP, UDP, ICMP
// mix of l3Frames (with DDT_PRINT_SEED=1: of the seed's STP, LLDP, VLAN mix). Run:
// go test ./capture -run '^$' -bench PrintCPUVsTcpdump -benchtime 1x -v [DDT_PRINT_PIPE=1 before it]
func BenchmarkPrintCPUVsTcpdump(b *testing.B) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		b.Skip("no tcpdump")
	}
	const n = 200000
	fs, mix := l3Frames(), "l3Frames"
	if os.Getenv("DDT_PRINT_SEED") != "" {
		fs, mix = frames.Seed(), "the seed's frames"
	}
	path := b.TempDir() + "/print.pcap"
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	bw := bufio.NewWriter(f)
	w := pcapgo.NewWriter(bw)
	w.WriteFileHeader(snapLen, layers.LinkTypeEthernet)
	for i := range n {
		fr := fs[i%len(fs)]
		w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(1533580312, int64(i)*1000), CaptureLength: len(fr.Data), Length: len(fr.Data)}, fr.Data)
	}
	bw.Flush()
	f.Close()
	// Standard output is /dev/null, or with DDT_PRINT_PIPE=1 a pipe the benchmark drains (as
	// a terminal or `| less` would take it: every write a real copy).
	var out io.Writer
	if os.Getenv("DDT_PRINT_PIPE") != "" {
		out = io.Discard
	} else {
		null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer null.Close()
		out = null
	}
	cpu := func(cmd *exec.Cmd) time.Duration {
		cmd.Stdout, cmd.Stderr = out, nil
		if err := cmd.Run(); err != nil {
			b.Fatalf("%v: %v", cmd.Args, err)
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	ours := func(unbuffered bool) *exec.Cmd {
		cmd := exec.Command(os.Args[0], "-test.run=^TestPrintChild$", "-test.bench=^$")
		cmd.Env = append(os.Environ(), "DDT_PRINT_PCAP="+path)
		if unbuffered {
			cmd.Env = append(cmd.Env, "DDT_PRINT_UNBUFFERED=1")
		}
		return cmd
	}
	for b.Loop() {
		var buf, unbuf, td time.Duration
		for range 3 {
			buf += cpu(ours(false))
			unbuf += cpu(ours(true))
			td += cpu(exec.Command("tcpdump", "-nne", "-r", path))
		}
		perFrame := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 3 / n }
		b.ReportMetric(perFrame(buf), "ours-ns/frame")
		b.ReportMetric(perFrame(unbuf), "unbuffered-ns/frame")
		b.ReportMetric(perFrame(td), "tcpdump-ns/frame")
		b.Logf("CPU per printed frame over 3x%d frames of %s: ours buffered %.0f ns, ours unbuffered %.0f ns, tcpdump -nne %.0f ns; ratios to tcpdump %.2f and %.2f",
			n, mix, perFrame(buf), perFrame(unbuf), perFrame(td), float64(buf)/float64(td), float64(unbuf)/float64(td))
	}
}
