package e2e_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/easgate/easgate/eas"
)

// nginxProxy is a real nginx running the configuration of
// testdata/nginx/easgate.conf in front of a test gateway.
type nginxProxy struct {
	URL    string
	Client *http.Client
}

func findNginx(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/usr/sbin/nginx", "/usr/bin/nginx"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("nginx"); err == nil {
		return p
	}
	t.Fatal("nginx is not installed (Debian package nginx-light); run ./test.sh, which installs it")
	return ""
}

// startNginx runs nginx with the project's configuration, changed only in
// the addresses and certificate paths, and returns an HTTPS client that
// reaches it from sourceIP.
func startNginx(t testing.TB, upstream string, sourceIP string) *nginxProxy {
	t.Helper()
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	certPEM, keyPEM, pool := selfSigned(t, "mail.example.test")
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, certPEM, 0o644)
	os.WriteFile(keyFile, keyPEM, 0o600)

	site, err := os.ReadFile(filepath.Join("..", "..", "testdata", "nginx", "easgate.conf"))
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	conf := string(site)
	for old, repl := range map[string]string{
		"server 127.0.0.1:8080;":                "server " + upstream + ";",
		"listen 443 ssl;":                       fmt.Sprintf("listen 127.0.0.1:%d ssl;", port),
		"/etc/ssl/certs/mail.example.com.pem":   certFile,
		"/etc/ssl/private/mail.example.com.key": keyFile,
	} {
		if !strings.Contains(conf, old) {
			t.Fatalf("testdata/nginx/easgate.conf no longer contains %q", old)
		}
		conf = strings.ReplaceAll(conf, old, repl)
	}
	addr := runNginx(t, findNginx(t), dir, conf, port)
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(sourceIP)}}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return dialer.DialContext(ctx, network, addr)
		},
		TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "mail.example.test"},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &nginxProxy{URL: "https://mail.example.test", Client: &http.Client{Transport: tr}}
}

// runNginx runs nginx in dir with httpConf as its http block until the test
// ends, and returns its address once it accepts connections on port.
func runNginx(t testing.TB, bin, dir, httpConf string, port int) string {
	t.Helper()
	temp := filepath.Join(dir, "tmp")
	os.Mkdir(temp, 0o777)
	os.Chmod(temp, 0o777)
	main := fmt.Sprintf(`daemon off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 256; }
http {
    access_log %[1]s/access.log;
    client_body_temp_path %[2]s/body;
    proxy_temp_path %[2]s/proxy;
    fastcgi_temp_path %[2]s/fastcgi;
    uwsgi_temp_path %[2]s/uwsgi;
    scgi_temp_path %[2]s/scgi;
%[3]s
}
`, dir, temp, httpConf)
	confFile := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confFile, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", confFile)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
		}
	})
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not start: %v\n%s\n%s", err, out, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func selfSigned(t testing.TB, host string) (certPEM, keyPEM []byte, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), pool
}

func TestBehindNginx(t *testing.T) {
	g := startGateway(t, gatewayOptions{Config: eas.Config{
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
	}})
	u, _ := url.Parse(g.HTTP.URL)
	// The phone connects from 127.0.0.2; nginx reaches easgate from 127.0.0.1.
	proxy := startNginx(t, u.Host, "127.0.0.2")
	user, pw := g.newUser(t)
	c := g.client(user, pw, "nginx1", eas.V161)
	c.URL, c.HTTP = proxy.URL, proxy.Client
	ctx := context.Background()
	if _, err := c.Options(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Provision(ctx, nil); err != nil {
		t.Fatal(err)
	}
	r, err := c.FolderSync(ctx, "0")
	if err != nil || r.Status != 1 {
		t.Fatalf("FolderSync through nginx: %+v %v", r, err)
	}
	// Every request logged names the phone's address, not nginx's.
	reqs := g.Logs.FilterMessage("request").FilterField(zap.String("cmd", "FolderSync")).All()
	if len(reqs) == 0 {
		t.Fatal("no request logged")
	}
	for _, e := range reqs {
		if got := e.ContextMap()["client"]; got != "127.0.0.2" {
			t.Fatalf("logged client %v, want 127.0.0.2", got)
		}
	}

	// Autodiscover through nginx reports the HTTPS URL nginx serves.
	req, _ := http.NewRequest("POST", proxy.URL+"/autodiscover/autodiscover.xml", strings.NewReader(""))
	req.SetBasicAuth(user, pw)
	resp, err := proxy.Client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "<Url>https://mail.example.test/Microsoft-Server-ActiveSync</Url>") {
		t.Fatalf("autodiscover through nginx: %s %s", resp.Status, body)
	}
}
