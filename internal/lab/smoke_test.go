package lab

import (
	"context"
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
