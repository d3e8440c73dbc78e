package ansiblemod_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

// sshHost is one test host: a network namespace with one end of a veth pair (the other end in
// this namespace), its own /30, and sshd listening on its address.
type sshHost struct {
	name, ns, addr string
	sshd           *exec.Cmd
}

// TestFleetCheckSSH runs fleet-check.yml over real SSH to three hosts, each a network
// namespace on this machine running sshd with a generated host key, reached with a generated
// client key and a temporary known_hosts; Ansible copies the module binary over itself. Each
// host reads its own tree (dpdk_doctor_root). Everything is removed on every exit.
func TestFleetCheckSSH(t *testing.T) {
	needAnsible(t, "ssh", "ssh-keygen", "/usr/sbin/sshd", "ip")
	if os.Geteuid() != 0 {
		testenv.Unavailable(t, "this test needs root (network namespaces, sshd)")
	}
	buildModule(t)
	dir := t.TempDir()
	os.Chmod(dir, 0o700)
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dpdk-doctor-test-host", "-f", filepath.Join(dir, "host_key"))
	run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dpdk-doctor-test-client", "-f", filepath.Join(dir, "id"))
	pub, _ := os.ReadFile(filepath.Join(dir, "id.pub"))
	os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600)
	// sshd needs its privilege separation directory; Debian's is /run/sshd.
	if _, err := os.Stat("/run/sshd"); err != nil {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatal(err)
		}
	}
	trees := []string{"dl360e-gen8", "iommu-off-kernel", "nic-on-ixgbe"}
	octet := freeOctet(t)
	hosts := make([]*sshHost, len(trees))
	inv := map[string]map[string]any{}
	treeOf := map[string]string{}
	for i, tr := range trees {
		h := &sshHost{name: fmt.Sprintf("ssh%d", i+1), ns: fmt.Sprintf("ddans%d-%d", os.Getpid(), i+1)}
		hosts[i] = h
		base := fmt.Sprintf("10.253.%d.%d", octet, i*4)
		local, remote := base[:strings.LastIndexByte(base, '.')+1]+fmt.Sprint(i*4+1), base[:strings.LastIndexByte(base, '.')+1]+fmt.Sprint(i*4+2)
		h.addr = remote
		vethRoot, vethNS := fmt.Sprintf("dda%d-%dr", os.Getpid()%10000, i+1), fmt.Sprintf("dda%d-%dn", os.Getpid()%10000, i+1)
		run("ip", "netns", "add", h.ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", h.ns).Run() })
		run("ip", "link", "add", vethRoot, "type", "veth", "peer", "name", vethNS)
		t.Cleanup(func() { exec.Command("ip", "link", "del", vethRoot).Run() })
		run("ip", "link", "set", vethNS, "netns", h.ns)
		run("ip", "addr", "add", local+"/30", "dev", vethRoot)
		run("ip", "link", "set", vethRoot, "up")
		run("ip", "-n", h.ns, "addr", "add", remote+"/30", "dev", vethNS)
		run("ip", "-n", h.ns, "link", "set", vethNS, "up")
		run("ip", "-n", h.ns, "link", "set", "lo", "up")
		cfg := filepath.Join(dir, h.name+"-sshd_config")
		os.WriteFile(cfg, []byte(strings.Join([]string{
			"ListenAddress " + remote + ":22",
			"HostKey " + filepath.Join(dir, "host_key"),
			"PidFile " + filepath.Join(dir, h.name+"-sshd.pid"),
			"AuthorizedKeysFile " + filepath.Join(dir, "authorized_keys"),
			"PermitRootLogin prohibit-password",
			"PasswordAuthentication no",
			"KbdInteractiveAuthentication no",
			"UsePAM no",
			"StrictModes no",
			"Subsystem sftp internal-sftp",
			"LogLevel ERROR",
		}, "\n")+"\n"), 0o600)
		h.sshd = exec.Command("ip", "netns", "exec", h.ns, "/usr/sbin/sshd", "-D", "-e", "-f", cfg)
		logf, err := os.Create(filepath.Join(dir, h.name+"-sshd.log"))
		if err != nil {
			t.Fatal(err)
		}
		h.sshd.Stderr = logf // the port probes below make it log "kex_exchange_identification"
		if err := h.sshd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.sshd.Process.Signal(os.Interrupt); h.sshd.Process.Kill(); h.sshd.Wait() })
		waitPort(t, h.addr+":22")
		inv[h.name] = map[string]any{
			"ansible_host": h.addr, "ansible_user": "root", "ansible_connection": "ssh",
			"ansible_ssh_private_key_file": filepath.Join(dir, "id"),
			"ansible_ssh_common_args":      "-F /dev/null -o StrictHostKeyChecking=no -o UserKnownHostsFile=" + filepath.Join(dir, "known_hosts"),
			"dpdk_doctor_root":             tree(tr),
		}
		treeOf[h.name] = tr
	}
	// No ControlPersist: every SSH connection (and sshd's child for it) ends with its task, so
	// nothing outlives the test.
	env := append(ansibleEnv(dir, filepath.Join(repo, "ansible")), "ANSIBLE_SSH_ARGS=-o ControlMaster=no -o ControlPersist=no")
	invFile := writeInventory(t, dir, inv)
	report := filepath.Join(dir, "report")
	p, took := runPlaybook(t, env, "-i", invFile, "-f", "3", "-e", "dpdk_doctor_report_dir="+report, filepath.Join(playbooks, "fleet-check.yml"))
	checks := p.task("Check the host (facts dpdk_doctor, dpdk_doctor_platform, dpdk_doctor_devices)")
	for _, h := range hosts {
		r := checks[h.name]
		facts, _ := r["ansible_facts"].(map[string]any)
		doc, _ := facts["dpdk_doctor"].(map[string]any)
		if doc == nil || doc["root"] != tree(treeOf[h.name]) {
			t.Errorf("%s: no check document of its tree: %v", h.name, r)
		}
	}
	for h, s := range p.Stats {
		if s["failures"] != 0 || s["unreachable"] != 0 {
			t.Errorf("%s: %v", h, s)
		}
	}
	// The module really went over SSH: known_hosts now holds the test host key for every
	// address, and the remote side made Ansible's remote temp dir (where the module binary was
	// copied; the hosts share this file system).
	if st, err := os.Stat(filepath.Join(dir, "remote-tmp")); err != nil || !st.IsDir() {
		t.Errorf("no remote temp dir: %v", err)
	}
	kh, _ := os.ReadFile(filepath.Join(dir, "known_hosts"))
	for _, h := range hosts {
		if !strings.Contains(string(kh), h.addr) {
			t.Errorf("known_hosts lacks %s: %s", h.addr, kh)
		}
	}
	r, txt := readReport(t, report)
	if r.Hosts != 3 {
		t.Fatalf("report of %d hosts", r.Hosts)
	}
	checkKnownProblems(t, r, treeOf)
	g := group(r, "device.rmrr fail, slot 2")
	if g == nil || g.Sentence != "1 host has RMRR-locked NICs in slot 2 (fail), a HPE ProLiant DL360e Gen8 with ROM P73" {
		t.Errorf("slot 2 group: %+v\n%s", g, txt)
	}
	t.Logf("3 hosts over SSH, forks 3: %.1f s total", took.Seconds())

	// fix-rmrr.yml in check mode over the same SSH hosts, one at a time (serial 1), with the
	// conrep double as each host's firmware: only the DL360e plans a change; nothing is loaded.
	double := filepath.Join(dir, "conrep")
	buildDouble(t, double)
	for _, h := range hosts {
		b := filepath.Join(dir, h.name+"-bios.json")
		os.WriteFile(b, []byte(`{"platform":"ProLiant DL360e Gen8","rom_date":"08/02/2014","rom_family":"P73","processor":"Intel"}`), 0o644)
		inv[h.name]["dpdk_doctor_conrep"] = double
		inv[h.name]["dpdk_doctor_xml"] = filepath.Join(repo, "testdata", "conrep", "conrep_rmrds.xml")
		inv[h.name]["dpdk_doctor_state_dir"] = filepath.Join(dir, h.name+"-state")
		inv[h.name]["dpdk_doctor_environment"] = map[string]string{"CONREP_DOUBLE_STATE": b}
	}
	invFile = writeInventory(t, dir, inv)
	p, _ = runPlaybook(t, env, "-i", invFile, "--check", "--diff", filepath.Join(playbooks, "fix-rmrr.yml"))
	fix := p.task("Exclude their slots from the RMRRs (conrep)")
	for _, h := range hosts {
		r := fix[h.name]
		switch treeOf[h.name] {
		case "dl360e-gen8":
			if r["changed"] != true || !strings.Contains(fmt.Sprint(r["msg"]), "would exclude slot(s) 2") {
				t.Errorf("%s: %v", h.name, r)
			}
		default:
			if r["skipped"] != true {
				t.Errorf("%s: fix_rmrr should be skipped: %v", h.name, r)
			}
		}
		if s := readBIOS(t, filepath.Join(dir, h.name+"-bios.json")); len(s.NVRAM) != 0 {
			t.Errorf("%s: check mode loaded %v", h.name, s.NVRAM)
		}
	}
}

// freeOctet picks X for 10.253.X.0/24 that no address or route on this machine uses.
func freeOctet(t *testing.T) int {
	t.Helper()
	out, _ := exec.Command("ip", "-4", "route", "show", "table", "all").CombinedOutput()
	addrs, _ := exec.Command("ip", "-4", "addr").CombinedOutput()
	used := string(out) + string(addrs)
	for x := 200 + os.Getpid()%50; x < 255; x++ {
		if !strings.Contains(used, fmt.Sprintf("10.253.%d.", x)) {
			return x
		}
	}
	t.Fatal("no free 10.253.X.0/24")
	return 0
}

// waitPort waits until addr accepts TCP connections (sshd is up), for 10 s at most.
func waitPort(t *testing.T, addr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var d net.Dialer
	for {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("sshd at %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
