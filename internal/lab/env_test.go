package lab

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

// The lab's tests boot real kernels: they run under CI=true (where they may not skip) or with
// DPDK_DOCTOR_LAB=1, and skip quickly otherwise.
func labEnabled(t *testing.T) {
	t.Helper()
	if os.Getenv("CI") != "true" && os.Getenv("DPDK_DOCTOR_LAB") != "1" {
		t.Skip("lab test: boots Debian kernels under QEMU for minutes; runs under CI=true or DPDK_DOCTOR_LAB=1")
	}
}

// need fails under CI (the lab must run there) and skips elsewhere.
func need(t *testing.T, err error, what string) {
	t.Helper()
	if err == nil {
		return
	}
	testenv.Unavailable(t, "lab: %s: %v (CI=true: the lab may not skip; scripts/test.sh installs what it needs)", what, err)
}

var (
	kernelsOnce sync.Once
	kernels     []*Kernel
	kernelsErr  error

	binOnce sync.Once
	binData []byte
	binErr  error
)

// labKernels fetches (or finds in the cache) every lab kernel, once per test binary.
func labKernels(t *testing.T) []*Kernel {
	t.Helper()
	_, err := exec.LookPath("qemu-system-x86_64")
	need(t, err, "QEMU (apt-get install qemu-system-x86)")
	_, err = os.Stat("/bin/busybox")
	need(t, err, "busybox (apt-get install busybox-static)")
	kernelsOnce.Do(func() {
		for _, src := range Kernels {
			k, err := FetchKernel(context.Background(), CacheDir(), src)
			if err != nil {
				kernelsErr = err
				return
			}
			kernels = append(kernels, k)
		}
	})
	need(t, kernelsErr, "fetching the kernels")
	return kernels
}

// doctorBinary builds the project's static binary for the guest, once per test binary.
func doctorBinary(t *testing.T) []byte {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "dpdk-doctor-lab-bin")
		if err != nil {
			binErr = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "dpdk-doctor")
		cmd := exec.Command("go", "build", "-o", out, "github.com/dpdk-doctor/dpdk-doctor/cmd/dpdk-doctor")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
		if b, err := cmd.CombinedOutput(); err != nil {
			binErr = &buildError{string(b), err}
			return
		}
		binData, binErr = os.ReadFile(out)
	})
	if binErr != nil {
		t.Fatalf("building dpdk-doctor for the guest: %v", binErr)
	}
	return binData
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }
