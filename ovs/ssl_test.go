package ovs_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/dpdk-doctor/dpdk-doctor/internal/ovstest"
	"github.com/dpdk-doctor/dpdk-doctor/ovs"

	"github.com/dpdk-doctor/dpdk-doctor/internal/testenv"
)

// TestSSLEndpoint: an ssl: endpoint works end to end against a real ovsdb-server serving
// pssl (OpenSSL), in a network namespace the test makes (the only place its TCP goes): the
// one-shot read gives the same State as over the unix socket, a Client adds a port over TLS,
// and a CA that did not sign the server's certificate is refused.
func TestSSLEndpoint(t *testing.T) {
	in, err := ovstest.Start(ovstest.Options{}) // for the machine-wide lock, and OVS installed
	if err != nil {
		testenv.Unavailable(t, "the real ovsdb-server must run: %v", err)
	}
	defer in.Stop()
	dir := t.TempDir()
	ca, caKey := newCert(t, dir, "ca", nil, nil)
	newCert(t, dir, "server", ca, caKey)
	newCert(t, dir, "client", ca, caKey)
	newCert(t, dir, "other-ca", nil, nil)

	ns := "ddt-ovsssl"
	exec.Command("ip", "netns", "delete", ns).Run()
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", ns).Run() })
	if out, err := exec.Command("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v %s", err, out)
	}
	db, sock, pid := filepath.Join(dir, "conf.db"), filepath.Join(dir, "db.sock"), filepath.Join(dir, "ovsdb-server.pid")
	if out, err := exec.Command("ovsdb-tool", "create", db, ovstest.Schema).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	if out, err := exec.Command("ip", "netns", "exec", ns, "ovsdb-server", db, "--remote=pssl:16650:127.0.0.1", "--remote=punix:"+sock,
		"--private-key="+filepath.Join(dir, "server-key.pem"), "--certificate="+filepath.Join(dir, "server-cert.pem"), "--ca-cert="+filepath.Join(dir, "ca-cert.pem"),
		"--pidfile="+pid, "--unixctl="+filepath.Join(dir, "ovsdb-server.ctl"), "--detach", "--log-file="+filepath.Join(dir, "ovsdb-server.log")).CombinedOutput(); err != nil {
		t.Fatalf("ovsdb-server: %v %s", err, out)
	}
	t.Cleanup(func() {
		if b, err := os.ReadFile(pid); err == nil {
			if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && p > 0 {
				if proc, err := os.FindProcess(p); err == nil {
					proc.Kill()
				}
			}
		}
	})
	unixDB := "unix:" + sock
	vsctl := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ovs-vsctl", append([]string{"--db=" + unixDB, "--timeout=10", "--no-wait"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("ovs-vsctl %v: %v %s", args, err, out)
		}
	}
	vsctl("init")
	vsctl("add-br", "br-ssl", "--", "set", "bridge", "br-ssl", "datapath_type=netdev")
	vsctl("add-port", "br-ssl", "p1", "--", "set", "Interface", "p1", "type=dpdk", "options:dpdk-devargs=0000:99:00.1")

	sslDB := "ssl:127.0.0.1:16650"
	good := ovs.Options{Timeout: 10 * time.Second, TLS: ovs.TLS{Key: filepath.Join(dir, "client-key.pem"), Cert: filepath.Join(dir, "client-cert.pem"), CA: filepath.Join(dir, "ca-cert.pem")}}
	bad := good
	bad.TLS.CA = filepath.Join(dir, "other-ca-cert.pem")
	ctx := context.Background()
	var c *ovs.Client
	var viaSSL *ovs.State
	var dialErr, readErr, badErr error
	inNamespace(t, ns, func() { // the sockets are made in the namespace; they stay there
		c, dialErr = ovs.DialWith(ctx, sslDB, good)
		viaSSL, readErr = ovs.ReadOnce(ctx, sslDB, good)
		_, badErr = ovs.ReadOnce(ctx, sslDB, bad)
	})
	if dialErr != nil || readErr != nil {
		t.Fatalf("over ssl: dial %v, read %v (server log: %s)", dialErr, readErr, readLog(dir))
	}
	defer c.Close()
	if badErr == nil || !strings.Contains(badErr.Error(), "certificate") {
		t.Errorf("a CA that did not sign the server's certificate: %v", badErr)
	}
	viaUnix, err := ovs.ReadOnce(ctx, unixDB, ovs.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(viaSSL, viaUnix) || len(viaSSL.Bridges) != 1 || len(viaSSL.Bridges[0].Ports) != 2 {
		t.Fatalf("over ssl %+v\nover unix %+v", viaSSL, viaUnix)
	}
	if err := c.AddPort(ctx, "br-ssl", "p2", "dpdk", map[string]string{"dpdk-devargs": "0000:99:00.2"}, nil); err != nil {
		t.Fatalf("add-port over ssl: %v", err)
	}
	st, err := c.Read(ctx)
	if err != nil || len(st.Bridges) != 1 || len(st.Bridges[0].Ports) != 3 {
		t.Fatalf("after add-port over ssl: %+v %v", st, err)
	}
}

// inNamespace runs fn on a thread in network namespace ns and comes back.
func inNamespace(t *testing.T, ns string, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	target, err := netns.GetFromName(ns)
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		t.Fatal(err)
	}
	defer netns.Set(orig)
	fn()
}

func readLog(dir string) string {
	b, _ := os.ReadFile(filepath.Join(dir, "ovsdb-server.log"))
	return string(b)
}

// newCert writes NAME-key.pem and NAME-cert.pem in dir: a CA when parent is nil, else a
// certificate parent signs for 127.0.0.1.
func newCert(t *testing.T, dir, name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "dpdk-doctor test " + name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	signer, signKey := tmpl, key
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	} else {
		signer, signKey = parent, parentKey
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(file, typ string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, file), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(name+"-key.pem", "EC PRIVATE KEY", kb)
	write(name+"-cert.pem", "CERTIFICATE", der)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert, key
}
