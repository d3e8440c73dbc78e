package capture

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/dpdk-doctor/dpdk-doctor/internal/frames"
)

// BenchmarkThroughputVsTcpdump feeds a veth as fast as one core can for 3 s while this
// package's capture (writing pcap to /dev/null) and `tcpdump -w /dev/null` both read the other
// end, with equal 32 MiB buffers, and reports what each received and what the kernel dropped.
// Run: go test ./capture -run '^$' -bench ThroughputVsTcpdump -benchtime 1x
func BenchmarkThroughputVsTcpdump(b *testing.B) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		b.Skip("no tcpdump")
	}
	a, z := "ddtpa", "ddtpz"
	exec.Command("ip", "link", "delete", a).Run()
	if out, err := exec.Command("ip", "link", "add", a, "type", "veth", "peer", "name", z).CombinedOutput(); err != nil {
		b.Fatalf("%v %s", err, out)
	}
	defer exec.Command("ip", "link", "delete", a).Run()
	for _, n := range []string{a, z} {
		os.WriteFile("/proc/sys/net/ipv6/conf/"+n+"/disable_ipv6", []byte("1"), 0o644)
		exec.Command("ip", "link", "set", n, "up").Run()
	}
	for b.Loop() {
		td := exec.Command("tcpdump", "-i", z, "-B", "32768", "-w", "/dev/null")
		tdErr, _ := td.StderrPipe()
		td.Start()
		ready := make(chan struct{})
		var stats string
		done := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(tdErr)
			for sc.Scan() {
				if regexp.MustCompile(`listening on`).MatchString(sc.Text()) {
					close(ready)
				}
				stats += sc.Text() + "\n"
			}
			close(done)
		}()
		<-ready
		src, err := Open(z, nil)
		if err != nil {
			b.Fatal(err)
		}
		pw, _ := OpenPcap(os.DevNull)
		pw.Start()
		var got atomic.Int64
		ctx, cancel := context.WithCancel(context.Background())
		capDone := make(chan struct{})
		go func() {
			for {
				p, err := src.Next(ctx)
				if err != nil {
					close(capDone)
					return
				}
				pw.Write(p)
				got.Add(1)
			}
		}()
		fd, _ := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0)
		idx, _ := ifindex(a)
		unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: idx})
		frame := frames.UDP4("00:0c:29:93:2f:54", "01:00:5e:00:00:76", 5, 0, "10.5.0.253", "224.0.0.118", 5240, 5240, 18)
		sent := 0
		start := time.Now()
		for time.Since(start) < 3*time.Second {
			for range 256 {
				if _, err := unix.Write(fd, frame); err == nil {
					sent++
				}
			}
		}
		elapsed := time.Since(start)
		unix.Close(fd)
		time.Sleep(300 * time.Millisecond)
		seen, drops, _ := src.Stats()
		cancel()
		<-capDone
		src.Close()
		pw.Close()
		td.Process.Signal(os.Interrupt)
		<-done
		td.Wait()
		num := func(re string) int {
			m := regexp.MustCompile(re).FindStringSubmatch(stats)
			if m == nil {
				return -1
			}
			n, _ := strconv.Atoi(m[1])
			return n
		}
		tdCaptured, tdDropped := num(`(\d+) packets captured`), num(`(\d+) packets dropped by kernel`)
		secs := elapsed.Seconds()
		b.ReportMetric(float64(sent)/secs, "sent/s")
		b.ReportMetric(float64(got.Load())/secs, "ours/s")
		b.ReportMetric(float64(tdCaptured)/secs, "tcpdump/s")
		b.ReportMetric(float64(drops), "ours-drops")
		b.ReportMetric(float64(tdDropped), "tcpdump-drops")
		b.Logf("sent %d in %v; dpdk-doctor captured %d (kernel: %d passed, %d dropped); tcpdump captured %d, dropped %d",
			sent, elapsed.Round(time.Millisecond), got.Load(), seen, drops, tdCaptured, tdDropped)
	}
}

func ifindex(name string) (int, error) {
	b, err := os.ReadFile("/sys/class/net/" + name + "/ifindex")
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(string(b[:len(b)-1]))
}
