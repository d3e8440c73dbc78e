package lab

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/dmar"
)

func TestQEMUDMAR(t *testing.T) {
	labEnabled(t)
	ks := labKernels(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b, err := QEMUDMAR(ctx, CacheDir(), ks[0], Standard(true))
	if err != nil {
		t.Fatal(err)
	}
	tb, err := dmar.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if dmar.Trim(tb.OEMID) != "BOCHS" || len(tb.Structures) == 0 || tb.Structures[0].Type != dmar.TypeDRHD {
		t.Fatalf("QEMU's DMAR: OEM %q, %d structures", tb.OEMID, len(tb.Structures))
	}
	again, err := tb.MarshalBinary()
	if err != nil || string(again) != string(b) {
		t.Fatalf("re-encoding QEMU's DMAR with the dmar package changes it (%v)", err)
	}
}

// A real QEMU that does not finish in time is killed, and its directory removed.
func TestRunKillsQEMUOnTimeout(t *testing.T) {
	labEnabled(t)
	ks := labKernels(t)
	var s Script
	s.Raw("sleep 600")
	rd, err := Initramfs{Kernel: ks[0], Init: s.String()}.Build(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	res, err := Run(ctx, Boot{Machine: Standard(true), Kernel: ks[0], Initrd: rd})
	if err == nil || res == nil {
		t.Fatalf("Run of a guest that sleeps: err %v", err)
	}
	if alive(res.PID) {
		t.Errorf("QEMU (pid %d) still running after the timeout", res.PID)
	}
	if _, err := os.Stat(res.Dir); !os.IsNotExist(err) {
		t.Errorf("temporary directory %s left behind", res.Dir)
	}
}
