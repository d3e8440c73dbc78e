package ansiblemod_test

// Integration tests with the real ansible-core: the collection in ../ansible, its modules the
// dpdk-doctor binary built here, run by ansible-playbook over real SSH to sshd in network
// namespaces, and over the local connection for 200 inventory hosts.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/fleet"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

var (
	repo, _       = filepath.Abs("..")
	collectionDir = filepath.Join(repo, "ansible", "ansible_collections", "dpdkdoctor", "doctor")
	playbooks     = filepath.Join(collectionDir, "playbooks")
	buildOnce     sync.Once
	buildErr      error
)

// needAnsible skips without ansible-core, and fails under CI=true.
func needAnsible(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range append([]string{"ansible-playbook", "ansible-doc", "ansible"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Unavailable(t, "%s is required (apt-get install ansible-core openssh-server openssh-client)", tool)
		}
	}
}

// buildModule builds the static binary into the collection's bin/ (git-ignored), where the
// modules' symbolic links point.
func buildModule(t *testing.T) {
	t.Helper()
	buildOnce.Do(func() {
		out, err := goBuild(filepath.Join(collectionDir, "bin", "dpdk-doctor"))
		if err != nil {
			buildErr = fmt.Errorf("%v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
}

func goBuild(out string, tags ...string) ([]byte, error) {
	args := []string{"build", "-o", out}
	if len(tags) > 0 {
		args = append(args, "-tags", strings.Join(tags, ","))
	}
	cmd := exec.Command("go", append(args, "./cmd/dpdk-doctor")...)
	cmd.Dir = repo
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	return cmd.CombinedOutput()
}

// ansibleEnv keeps Ansible's files in dir: temp dirs, no config file, no retry files, no cows.
func ansibleEnv(dir, collections string) []string {
	cfg := filepath.Join(dir, "ansible.cfg")
	os.WriteFile(cfg, nil, 0o644)
	return append(os.Environ(),
		"ANSIBLE_CONFIG="+cfg,
		"ANSIBLE_COLLECTIONS_PATH="+collections,
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(dir, "local-tmp"),
		"ANSIBLE_REMOTE_TEMP="+filepath.Join(dir, "remote-tmp"),
		"ANSIBLE_SSH_CONTROL_PATH_DIR="+filepath.Join(dir, "cp"),
		"ANSIBLE_HOST_KEY_CHECKING=False",
		"ANSIBLE_RETRY_FILES_ENABLED=False",
		"ANSIBLE_NOCOWS=1",
		"ANSIBLE_GATHERING=explicit",
		"ANSIBLE_STDOUT_CALLBACK=results_json",
		"ANSIBLE_CALLBACK_PLUGINS="+filepath.Join(repo, "ansiblemod", "testdata", "callback"),
		"ANSIBLE_DEPRECATION_WARNINGS=False",
		"ANSIBLE_PYTHON_INTERPRETER=auto_silent",
	)
}

// playResult is the json callback's output, the parts the tests read.
type playResult struct {
	Plays []struct {
		Tasks []struct {
			Task  struct{ Name string } `json:"task"`
			Hosts map[string]map[string]any
		} `json:"tasks"`
	} `json:"plays"`
	Stats map[string]map[string]int `json:"stats"`
}

// task returns the named task's per-host results.
func (p *playResult) task(name string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, pl := range p.Plays {
		for _, tk := range pl.Tasks {
			if tk.Task.Name == name {
				for h, r := range tk.Hosts {
					out[h] = r
				}
			}
		}
	}
	return out
}

func runPlaybook(t *testing.T, env []string, args ...string) (*playResult, time.Duration) {
	t.Helper()
	return runPlaybookExit(t, env, 0, args...)
}

// runPlaybookExit runs ansible-playbook and fails the test unless it exits with want (2: a
// host failed).
func runPlaybookExit(t *testing.T, env []string, want int, args ...string) (*playResult, time.Duration) {
	t.Helper()
	cmd := exec.Command("ansible-playbook", args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	var p playResult
	if jerr := json.Unmarshal(out.Bytes(), &p); jerr != nil {
		t.Fatalf("ansible-playbook %s: %v (exit %v)\nstdout: %.3000s\nstderr: %.3000s", strings.Join(args, " "), jerr, err, out.String(), errb.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != want || (err != nil && code == 0) {
		t.Fatalf("ansible-playbook %s: %v (want exit %d)\nstats %v\nstdout: %.6000s\nstderr: %.3000s", strings.Join(args, " "), err, want, p.Stats, out.String(), errb.String())
	}
	return &p, took
}

func readReport(t *testing.T, dir string) (*fleet.Report, string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "fleet.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r fleet.Report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	txt, err := os.ReadFile(filepath.Join(dir, "fleet.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return &r, string(txt)
}

func group(r *fleet.Report, cause string) *fleet.Group {
	for i := range r.Groups {
		if r.Groups[i].Cause == cause {
			return &r.Groups[i]
		}
	}
	return nil
}

func tree(name string) string { return filepath.Join(repo, "testdata", "hosts", name) }

// TestAnsibleDoc: ansible-doc finds every module's sidecar documentation.
func TestAnsibleDoc(t *testing.T) {
	needAnsible(t)
	buildModule(t)
	env := ansibleEnv(t.TempDir(), filepath.Join(repo, "ansible"))
	for mod, want := range map[string][]string{
		"check":        {"dpdk_doctor_platform", "fail_on", "check mode"},
		"fix_rmrr":     {"Endpoints_Excluded", "state_dir", "conrep -s"},
		"fleet_report": {"fleet.json", "dest"},
	} {
		cmd := exec.Command("ansible-doc", "dpdkdoctor.doctor."+mod)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("ansible-doc %s: %v\n%s", mod, err, out)
		}
		for _, w := range want {
			if !strings.Contains(string(out), w) {
				t.Errorf("ansible-doc %s lacks %q:\n%s", mod, w, out)
			}
		}
	}
}

// knownTrees are the trees the fleet tests give their hosts, round robin.
var knownTrees = []string{"dl360e-gen8", "iommu-off-kernel", "nic-on-ixgbe", "dl360e-gen8-two-slots", "amd",
	"dl380-gen9-hpe-nic", "no-hugepages", "iommu-off-firmware", "usb-only-rmrr", "shared-group", "vfio-noiommu",
	"dl360e-gen8-after-conrep", "bridge-scope", "dl360e-gen8-relax-rmrr"}

// wantCauses are the trees' known problems as fleet causes (not all of each tree's causes).
var wantCauses = map[string][]string{
	"device.rmrr fail, slot 2": {"dl360e-gen8", "dl360e-gen8-two-slots", "dl380-gen9-hpe-nic", "no-hugepages"},
	"device.rmrr fail, slot 1": {"dl360e-gen8-two-slots"},
	"device.rmrr fail, slot 4": {"bridge-scope"},
	"iommu.kernel fail":        {"iommu-off-kernel", "iommu-off-firmware", "vfio-noiommu"},
	"iommu.firmware fail":      {"iommu-off-firmware"},
	"hugepages.pool fail":      {"no-hugepages"},
}

// checkKnownProblems checks the report against the trees' known problems: every wanted cause
// names exactly the hosts on the trees that have it.
func checkKnownProblems(t *testing.T, r *fleet.Report, treeOf map[string]string) {
	t.Helper()
	for cause, trees := range wantCauses {
		var want []string
		for h, tr := range treeOf {
			for _, w := range trees {
				if tr == w {
					want = append(want, h)
				}
			}
		}
		sort.Strings(want)
		g := group(r, cause)
		var got []string
		if g != nil {
			got = g.Hosts
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("cause %q: hosts %v, want %v", cause, got, want)
		}
	}
	for _, h := range r.HostTable {
		tr := treeOf[h.Name]
		wantOK := tr == "amd" || tr == "usb-only-rmrr"
		if (h.Status == "ok") != wantOK {
			t.Errorf("host %s (%s): status %s", h.Name, tr, h.Status)
		}
	}
}
