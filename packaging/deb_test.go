// Package packaging holds the nfpm configuration of the Debian package; its test builds the
// package with scripts/deb.sh and checks it with lintian and dpkg.
package packaging

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

const (
	testVersion = "1.2.3~test"
	testEpoch   = "1700000000" // Tue, 14 Nov 2023
)

// need finds a tool; under CI=true its absence fails the test instead of skipping it.
func need(t *testing.T, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		testenv.Unavailable(t, "%s is required (apt-get install %s)", name, pkg)
	}
	return p
}

func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// buildDebs runs scripts/deb.sh into dist and returns the path of the package for arch.
func buildDebs(t *testing.T, dist, archs string) {
	t.Helper()
	run(t, "..", []string{"DIST=" + dist, "ARCHS=" + archs, "VERSION=" + testVersion, "SOURCE_DATE_EPOCH=" + testEpoch},
		"bash", "scripts/deb.sh")
}

func debPath(dist, arch string) string {
	return filepath.Join(dist, "dpdk-doctor_"+testVersion+"_"+arch+".deb")
}

// TestDeb builds the amd64 and arm64 packages, checks they are reproducible and lintian-clean,
// unpacks the amd64 one and checks its files, and installs and purges it with dpkg.
func TestDeb(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two packages (-short)")
	}
	dpkgDeb := need(t, "dpkg-deb", "dpkg")
	lintian := need(t, "lintian", "lintian")
	dist := t.TempDir()
	buildDebs(t, dist, "amd64 arm64")
	for arch, machine := range map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64} {
		deb := debPath(dist, arch)
		if got := strings.TrimSpace(run(t, "", nil, dpkgDeb, "-f", deb, "Architecture")); got != arch {
			t.Errorf("%s: Architecture %q", deb, got)
		}
		if got := strings.TrimSpace(run(t, "", nil, dpkgDeb, "-f", deb, "Version")); got != testVersion {
			t.Errorf("%s: Version %q", deb, got)
		}
		root := t.TempDir()
		run(t, "", nil, dpkgDeb, "-x", deb, root)
		f, err := elf.Open(filepath.Join(root, "usr/bin/dpdk-doctor"))
		if err != nil {
			t.Fatal(err)
		}
		if f.Machine != machine {
			t.Errorf("%s: binary for %v, want %v", arch, f.Machine, machine)
		}
		if f.Section(".interp") != nil {
			t.Errorf("%s: binary has an ELF interpreter: not static", arch)
		}
		f.Close()
	}

	t.Run("reproducible", func(t *testing.T) {
		again := t.TempDir()
		buildDebs(t, again, "amd64")
		a, _ := os.ReadFile(debPath(dist, "amd64"))
		b, _ := os.ReadFile(debPath(again, "amd64"))
		if len(a) == 0 || !bytes.Equal(a, b) {
			t.Errorf("two builds of the same commit differ (%d and %d bytes)", len(a), len(b))
		}
	})

	t.Run("lintian", func(t *testing.T) {
		cmd := exec.Command(lintian, "--tag-display-limit", "0", "-I", "-E", "--pedantic", debPath(dist, "amd64"))
		out, err := cmd.CombinedOutput()
		var tags []string
		for _, l := range strings.Split(string(out), "\n") {
			if l != "" && !strings.Contains(l, "running with root privileges") {
				tags = append(tags, l)
			}
		}
		if err != nil || len(tags) > 0 {
			t.Errorf("lintian: %v\n%s", err, strings.Join(tags, "\n"))
		}
	})

	t.Run("contents", func(t *testing.T) {
		root := t.TempDir()
		run(t, "", nil, dpkgDeb, "-x", debPath(dist, "amd64"), root)
		checkTree(t, root, "")
		ansible := filepath.Join(root, "usr/share/dpdk-doctor/ansible")
		if _, err := os.Stat("../ansible"); err == nil {
			if _, err := os.Stat(filepath.Join(ansible, "ansible_collections/dpdkdoctor/doctor/galaxy.yml")); err != nil {
				t.Errorf("the repository has ansible/ but the package lacks it: %v", err)
			}
			// The modules lead to the installed binary, not to a build output of the checkout.
			if l, err := os.Readlink(filepath.Join(ansible, "ansible_collections/dpdkdoctor/doctor/bin/dpdk-doctor")); err != nil || l != "../../../../../../../bin/dpdk-doctor" {
				t.Errorf("the collection's bin/dpdk-doctor: %q, %v; want a relative link to /usr/bin/dpdk-doctor", l, err)
			}
		} else if _, err := os.Stat(ansible); err == nil {
			t.Errorf("%s in the package without ansible/ in the repository", ansible)
		}
	})

	t.Run("dpkg", func(t *testing.T) { installAndPurge(t, debPath(dist, "amd64")) })
}

// checkTree checks an unpacked or installed package under root ("" for /, as installed).
func checkTree(t *testing.T, root, _ string) {
	t.Helper()
	p := func(rel string) string { return filepath.Join(root, rel) }
	for _, rel := range []string{
		"usr/bin/dpdk-doctor",
		"usr/share/bash-completion/completions/dpdk-doctor",
		"usr/share/zsh/vendor-completions/_dpdk-doctor",
		"usr/share/fish/vendor_completions.d/dpdk-doctor.fish",
		"lib/systemd/system/dpdk-doctor-textfile.service",
		"lib/systemd/system/dpdk-doctor-textfile.timer",
		"usr/share/doc/dpdk-doctor/copyright",
		"usr/share/doc/dpdk-doctor/changelog.gz",
		"usr/share/man/man1/dpdk-doctor.1.gz",
		"usr/share/man/man1/dpdk-doctor-check.1.gz",
		"usr/share/man/man1/dpdk-doctor-fix-rmrr.1.gz",
	} {
		if st, err := os.Stat(p(rel)); err != nil || st.Size() == 0 {
			t.Errorf("%s: missing or empty (%v)", rel, err)
		}
	}
	out, err := exec.Command(p("usr/bin/dpdk-doctor"), "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), "dpdk-doctor version "+testVersion+" ") {
		t.Errorf("--version: %q, %v (want version %s)", out, err, testVersion)
	}
	man := gunzip(t, p("usr/share/man/man1/dpdk-doctor-check.1.gz"))
	if !strings.Contains(man, `.TH "DPDK-DOCTOR-CHECK" "1" "Nov 2023" "dpdk-doctor `+testVersion+`"`) {
		t.Errorf("dpdk-doctor-check(1): no .TH with the SOURCE_DATE_EPOCH date and the version:\n%.300s", man)
	}
	if !strings.Contains(man, "textfile") {
		t.Error("dpdk-doctor-check(1) does not document --textfile")
	}
	if groff, err := exec.LookPath("groff"); err == nil {
		// Every page renders without a single groff warning.
		pages, _ := filepath.Glob(p("usr/share/man/man1/dpdk-doctor*.1.gz"))
		for _, page := range pages {
			cmd := exec.Command(groff, "-man", "-Tutf8", "-ww", "-z")
			cmd.Stdin = strings.NewReader(gunzip(t, page))
			if out, err := cmd.CombinedOutput(); err != nil || len(out) > 0 {
				t.Errorf("groff %s: %v\n%s", filepath.Base(page), err, out)
			}
		}
		if len(pages) < 10 {
			t.Errorf("only %d man pages", len(pages))
		}
	}
	if mancmd, err := exec.LookPath("man"); err == nil {
		cmd := exec.Command(mancmd, "-l", p("usr/share/man/man1/dpdk-doctor-check.1.gz"))
		cmd.Env = append(os.Environ(), "MANPAGER=cat", "MANWIDTH=80")
		if out, err := cmd.Output(); err != nil || !strings.Contains(string(out), "dpdk-doctor check [flags]") {
			t.Errorf("man -l dpdk-doctor-check.1.gz: %v\n%.400s", err, out)
		}
	}
	if cl := gunzip(t, p("usr/share/doc/dpdk-doctor/changelog.gz")); !strings.HasPrefix(cl, "dpdk-doctor ("+testVersion+") ") ||
		!strings.Contains(cl, time.Unix(1700000000, 0).UTC().Format("02 Jan 2006")) {
		t.Errorf("changelog:\n%s", cl)
	}
	for rel, want := range map[string]string{
		"usr/share/bash-completion/completions/dpdk-doctor":    "__start_dpdk-doctor",
		"usr/share/zsh/vendor-completions/_dpdk-doctor":        "#compdef dpdk-doctor",
		"usr/share/fish/vendor_completions.d/dpdk-doctor.fish": "complete -c dpdk-doctor",
	} {
		if b, _ := os.ReadFile(p(rel)); !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %q", rel, want)
		}
	}
	unit, _ := os.ReadFile(p("lib/systemd/system/dpdk-doctor-textfile.service"))
	for _, want := range []string{"Type=oneshot", "SuccessExitStatus=1", "ExecStart=/usr/bin/dpdk-doctor check --textfile /var/lib/prometheus/node-exporter"} {
		if !strings.Contains(string(unit), want+"\n") {
			t.Errorf("service lacks %s", want)
		}
	}
}

func gunzip(t *testing.T, file string) string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	b, err := io.ReadAll(z)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return string(b)
}

// installAndPurge installs the package on this machine with dpkg, checks the installed files,
// the units (systemd-analyze verify) and the man page, and purges it: nothing may be left.
func installAndPurge(t *testing.T, deb string) {
	dpkg := need(t, "dpkg", "dpkg")
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "installing the package with dpkg needs root")
	}
	if _, err := os.Stat("/usr/bin/dpdk-doctor"); err == nil {
		t.Fatal("/usr/bin/dpdk-doctor exists already: refusing to replace (and then remove) an installed dpdk-doctor")
	}
	if out, err := exec.Command("dpkg-query", "-W", "dpdk-doctor").CombinedOutput(); err == nil && strings.Contains(string(out), "\t") && !strings.HasSuffix(strings.TrimSpace(string(out)), "dpdk-doctor") {
		t.Fatalf("dpdk-doctor is installed already (%s): refusing to touch it", strings.TrimSpace(string(out)))
	}
	dpkgRun := func(args ...string) {
		t.Helper()
		var out []byte
		var err error
		for range 30 { // another dpkg (apt) may hold the lock for a while
			out, err = exec.Command(dpkg, args...).CombinedOutput()
			if err == nil || !bytes.Contains(out, []byte("lock")) {
				break
			}
			time.Sleep(2 * time.Second)
		}
		if err != nil {
			t.Fatalf("dpkg %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	files := []string{"/usr/bin/dpdk-doctor", "/lib/systemd/system/dpdk-doctor-textfile.timer",
		"/usr/share/man/man1/dpdk-doctor-check.1.gz", "/usr/share/doc/dpdk-doctor/copyright"}
	wants := "/etc/systemd/system/timers.target.wants/dpdk-doctor-textfile.timer"
	purged := false
	t.Cleanup(func() {
		if !purged {
			exec.Command(dpkg, "--purge", "dpdk-doctor").Run()
		}
	})
	dpkgRun("-i", deb)
	if out, err := exec.Command("dpkg-query", "-W", "-f", "${Status} ${Version}", "dpdk-doctor").Output(); err != nil ||
		string(out) != "install ok installed "+testVersion {
		t.Fatalf("dpkg-query after install: %q, %v", out, err)
	}
	checkTree(t, "/", "")
	if sa, err := exec.LookPath("systemd-analyze"); err == nil {
		cmd := exec.Command(sa, "verify", "/lib/systemd/system/dpdk-doctor-textfile.service", "/lib/systemd/system/dpdk-doctor-textfile.timer")
		if out, err := cmd.CombinedOutput(); err != nil || len(bytes.TrimSpace(out)) > 0 {
			// Documentation=man: needs man-db; a missing man command is not the units' fault.
			if !bytes.Contains(out, []byte("Command 'man ")) || !onlyManComplaints(out) {
				t.Errorf("systemd-analyze verify: %v\n%s", err, out)
			}
		}
	}
	// The administrator enables the timer (what `systemctl enable` does); removal must undo it.
	if err := os.MkdirAll(filepath.Dir(wants), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/lib/systemd/system/dpdk-doctor-textfile.timer", wants); err != nil {
		t.Fatal(err)
	}
	dpkgRun("--purge", "dpdk-doctor")
	purged = true
	for _, f := range append(files, wants) {
		if _, err := os.Lstat(f); err == nil {
			t.Errorf("%s is still there after dpkg --purge", f)
			os.Remove(f)
		}
	}
	if out, err := exec.Command("dpkg-query", "-W", "-f", "${Status}", "dpdk-doctor").CombinedOutput(); err == nil && strings.Contains(string(out), "installed") && !strings.Contains(string(out), "not-installed") {
		t.Errorf("dpkg still knows the package after purge: %s", out)
	}
}

func onlyManComplaints(out []byte) bool {
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if !strings.Contains(l, "Command 'man ") {
			return false
		}
	}
	return true
}
