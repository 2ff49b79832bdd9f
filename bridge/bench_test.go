package bridge

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// BenchmarkSync measures, on a Dovecot folder of 10,000 small messages:
//
//	initial:   a first sync through Changes in windows of 512, converting
//	           every message;
//	raw-fetch: one UID FETCH 1:* BODY.PEEK[] of the same folder on the same
//	           kind of connection, reading every byte and nothing more, the
//	           floor for initial;
//	no-change: a Changes of the synced folder when nothing happened (one
//	           SELECT of the folder, which stays selected; cpu-µs/op adds
//	           the Dovecot process's CPU time to this process's).
//
//	ratio:     initial and raw-fetch taken in turns, and initial/raw.
//
// go test -run '^$' -bench Sync -benchtime 5x ./bridge/
func BenchmarkSync(b *testing.B) {
	const n = 10000
	u := startDovecot(b, false, Config{})
	fill(b, u.dial(b), "INBOX", n, 200, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))

	b.Run("initial", func(b *testing.B) {
		mb := u.open(b)
		for b.Loop() {
			initialSync(b, mb, n)
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})

	b.Run("raw-fetch", func(b *testing.B) {
		mb := u.open(b)
		for b.Loop() {
			if got := rawFetch(b, mb.c); got != n {
				b.Fatalf("%d messages, want %d", got, n)
			}
		}
		b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	})

	// ratio alternates the two, so that both see the same load on a busy
	// machine, and reports initial/raw: in wall time, and in CPU time of
	// this process plus the Dovecot process serving the connection, which
	// other load on the machine does not inflate.
	b.Run("ratio", func(b *testing.B) {
		mb := u.open(b)
		server := serverProcess(mb.c.netConn)
		var raw, initial, rawCPU, initialCPU time.Duration
		for b.Loop() {
			c0, t0 := cpuTime(server), time.Now()
			rawFetch(b, mb.c)
			c1, t1 := cpuTime(server), time.Now()
			initialSync(b, mb, n)
			c2, t2 := cpuTime(server), time.Now()
			raw += t1.Sub(t0)
			initial += t2.Sub(t1)
			rawCPU += c1 - c0
			initialCPU += c2 - c1
		}
		b.ReportMetric(float64(raw.Milliseconds())/float64(b.N), "raw-ms/op")
		b.ReportMetric(float64(initial.Milliseconds())/float64(b.N), "initial-ms/op")
		b.ReportMetric(float64(initial)/float64(raw), "initial/raw")
		if server != 0 {
			b.ReportMetric(float64(rawCPU.Milliseconds())/float64(b.N), "raw-cpu-ms/op")
			b.ReportMetric(float64(initialCPU.Milliseconds())/float64(b.N), "initial-cpu-ms/op")
			b.ReportMetric(float64(initialCPU)/float64(rawCPU), "cpu-initial/raw")
		}
	})

	b.Run("no-change", func(b *testing.B) {
		mb := u.open(b)
		p := newPhone("INBOX")
		p.window = 512
		p.syncAll(b, mb)
		p.sync(b, mb) // settles the cursor
		server := serverProcess(mb.c.netConn)
		c0 := cpuTime(server)
		for b.Loop() {
			if cs := p.sync(b, mb); len(cs.Changes) != 0 {
				b.Fatalf("changes in a quiet folder: %d", len(cs.Changes))
			}
		}
		if server != 0 {
			b.ReportMetric(float64((cpuTime(server)-c0).Microseconds())/float64(b.N), "cpu-µs/op")
		}
	})
}

// rawFetch reads every message of INBOX in one UID FETCH 1:* BODY.PEEK[].
func rawFetch(b *testing.B, c *conn) int {
	if _, err := c.selectFolder(context.Background(), "INBOX"); err != nil {
		b.Fatal(err)
	}
	got := 0
	cmd := c.client.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, &imap.FetchOptions{
		BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	})
	for {
		msg := cmd.Next()
		if msg == nil {
			break
		}
		for {
			item := msg.Next()
			if item == nil {
				break
			}
			if body, ok := item.(imapclient.FetchItemDataBodySection); ok {
				if _, err := io.ReadAll(body.Literal); err != nil {
					b.Fatal(err)
				}
				got++
			}
		}
	}
	if err := cmd.Close(); err != nil {
		b.Fatal(err)
	}
	return got
}

// initialSync syncs INBOX from scratch in windows of 512, as eas would:
// keeping the versions, dropping the items once "sent".
func initialSync(b *testing.B, mb *Mailbox, n int) {
	p := newPhone("INBOX")
	p.window = 512
	got := 0
	for {
		cs := p.sync(b, mb)
		got += len(cs.Changes)
		if !cs.More {
			break
		}
	}
	if got != n {
		b.Fatalf("%d changes, want %d", got, n)
	}
}

// serverProcess finds the Dovecot process at the other end of conn through
// /proc (Linux; 0 elsewhere or when it cannot be found).
func serverProcess(conn net.Conn) int {
	local, ok1 := conn.LocalAddr().(*net.TCPAddr)
	remote, ok2 := conn.RemoteAddr().(*net.TCPAddr)
	if !ok1 || !ok2 {
		return 0
	}
	tcp, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return 0
	}
	// The server's side of the socket: local is our remote and vice versa.
	want := fmt.Sprintf("%s:%04X %s:%04X", hostOrder(remote.IP), remote.Port, hostOrder(local.IP), local.Port)
	inode := ""
	for _, line := range strings.Split(string(tcp), "\n") {
		f := strings.Fields(line)
		if len(f) > 9 && strings.EqualFold(f[1]+" "+f[2], want) {
			inode = f[9]
		}
	}
	if inode == "" {
		return 0
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
		for _, fd := range fds {
			if l, _ := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name())); l == "socket:["+inode+"]" {
				return pid
			}
		}
	}
	return 0
}

// hostOrder renders an IPv4 address as /proc/net/tcp does (little endian).
func hostOrder(ip net.IP) string {
	v4 := ip.To4()
	if v4 == nil {
		return ""
	}
	return fmt.Sprintf("%02X%02X%02X%02X", v4[3], v4[2], v4[1], v4[0])
}

// cpuTime is the CPU time of this process plus that of pid (0: none).
func cpuTime(pid int) time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	d := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	if pid == 0 {
		return d
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return d
	}
	// Fields after the command name in parentheses; utime and stime are
	// the 14th and 15th, in clock ticks (100 per second on Linux).
	rest := string(stat)
	if i := strings.LastIndexByte(rest, ')'); i >= 0 {
		rest = rest[i+1:]
	}
	f := strings.Fields(rest)
	if len(f) < 13 {
		return d
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return d + time.Duration(ut+st)*10*time.Millisecond
}
