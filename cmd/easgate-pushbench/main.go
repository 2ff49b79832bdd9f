// Command easgate-pushbench measures push: how many phones can wait in a
// Ping at once, what each costs the gateway, and how long a message takes
// from its APPEND upstream to the Ping's answer.
//
// The gateway runs in a child process (this same program with -serve), so
// that its memory and goroutines are its own and not the simulated
// phones'. The upstream runs in this process: go-imap's in-memory server
// (-upstream mem, the default) or a throwaway Dovecot (-upstream dovecot,
// Debian's dovecot-imapd).
//
//	easgate-pushbench -accounts 1000 -devices 10
//	easgate-pushbench -upstream dovecot -accounts 200 -devices 10
//	easgate-pushbench -upstream dovecot -deliver lmtp -push-source dovecot -accounts 2000 -devices 1
//
// With -deliver lmtp the messages are delivered by LMTP, as an MTA does,
// instead of appended; with -push-source dovecot or both the gateway takes
// Dovecot's push notifications (the OX driver, which reports LMTP
// deliveries), as `easgate serve --push-source` does. Run it with idle and
// with dovecot on the same settings to compare latency, upstream
// connections and memory per waiting phone.
//
// Every phone provisions, runs FolderSync and syncs INBOX, then pings
// INBOX. Once all are waiting, the gateway's heap and stacks are measured;
// then messages are appended, one account at a time, and the time until
// each of that account's phones has its Ping answered is recorded. A phone
// whose Ping answered syncs and pings again, as a real one does.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/easgate/easgate/bridge"
	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
)

type options struct {
	upstream    string
	accounts    int
	devices     int
	rounds      int
	concurrency int
	heartbeat   int
	verbose     bool
	// poolIdle is the gateway's IMAP pool IdleTimeout.
	poolIdle time.Duration
	// deliver is "append" or "lmtp"; pushSource the gateway's
	// --push-source; check its --folder-check-interval.
	deliver    string
	pushSource string
	check      time.Duration
	// profiles is where to save the gateway's heap and goroutine profiles.
	profiles string
	// serve mode (the child)
	serve  bool
	imap   string
	db     string
	listen string
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the program; the benchmark's own test calls it too.
func run(args []string, stdout, stderr io.Writer) int {
	var o options
	flag := flag.NewFlagSet("easgate-pushbench", flag.ContinueOnError)
	flag.SetOutput(stderr)
	flag.StringVar(&o.upstream, "upstream", "mem", "upstream IMAP server: mem (go-imap's in-memory server) or dovecot")
	flag.IntVar(&o.accounts, "accounts", 1000, "accounts")
	flag.IntVar(&o.devices, "devices", 10, "phones per account")
	flag.IntVar(&o.rounds, "rounds", 200, "messages appended (one account each) to measure push latency")
	flag.IntVar(&o.concurrency, "concurrency", 32, "phones set up at once")
	flag.IntVar(&o.heartbeat, "heartbeat", 1800, "Ping heartbeat in seconds")
	flag.BoolVar(&o.verbose, "v", false, "print every round")
	flag.StringVar(&o.profiles, "profile", "", "save the gateway's heap and goroutine profiles, before and with the Pings, in this directory")
	flag.DurationVar(&o.poolIdle, "pool-idle", bridge.DefaultIdleTimeout,
		"the gateway's IMAP pool idle timeout (short: the set-up's pooled connections are gone before the Pings are measured)")
	flag.StringVar(&o.deliver, "deliver", "append", "how messages arrive: append (IMAP APPEND) or lmtp (Dovecot's LMTP, -upstream dovecot)")
	flag.StringVar(&o.pushSource, "push-source", "idle", "the gateway's --push-source: idle, dovecot or both (dovecot and both need -upstream dovecot -deliver lmtp)")
	flag.DurationVar(&o.check, "folder-check-interval", bridge.DefaultCheckInterval, "the gateway's --folder-check-interval")
	flag.BoolVar(&o.serve, "serve", false, "run the gateway (used by the benchmark itself)")
	flag.StringVar(&o.imap, "imap", "", "with -serve: the upstream IMAP address")
	flag.StringVar(&o.db, "db", "", "state database: an empty postgres:// URL to measure on PostgreSQL (default: an SQLite file in a temporary folder); with -serve: the gateway's")
	flag.StringVar(&o.listen, "listen", "127.0.0.1:0", "with -serve: the listener")
	if err := flag.Parse(args); err != nil {
		return 2
	}

	raiseFileLimit()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if o.serve {
		err = serve(ctx, o, stdout)
	} else {
		var res *result
		if res, err = drive(ctx, o, stdout); err == nil {
			res.report(stdout)
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "easgate-pushbench:", err)
		return 1
	}
	return 0
}

// raiseFileLimit lifts the soft limit on open files to the hard one: every
// waiting phone holds a connection.
func raiseFileLimit() {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return
	}
	lim.Cur = lim.Max
	syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
}

// upstream is the mail server the gateway talks to.
type upstream interface {
	Addr() string
	Close()
}

// processCounter is an upstream whose server processes the benchmark can
// count: what waiting phones cost the IMAP server itself.
type processCounter interface {
	imapProcesses() (procUsage, error)
}

// upstreamProcesses is what up's imap processes hold; nil when up cannot
// say.
func upstreamProcesses(up upstream, out io.Writer) *procUsage {
	pc, ok := up.(processCounter)
	if !ok {
		return nil
	}
	u, err := pc.imapProcesses()
	if err != nil {
		fmt.Fprintf(out, "  counting the upstream's processes: %v\n", err)
		return nil
	}
	return &u
}

func credentials(i int) eas.Credentials {
	return eas.Credentials{Username: fmt.Sprintf("bench%d@example.com", i), Password: fmt.Sprintf("pw-%d", i)}
}

// child is the gateway process.
type child struct {
	cmd  *exec.Cmd
	url  string
	http *http.Client
}

func startChild(ctx context.Context, o options, imapAddr, listen, db string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, self, "-serve", "-imap", imapAddr, "-db", db,
		"-pool-idle", o.poolIdle.String(), "-listen", listen, "-push-source", o.pushSource,
		"-folder-check-interval", o.check.String())
	cmd.Env = append(os.Environ(), secretEnv+"="+benchSecret)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		return nil, fmt.Errorf("gateway did not start: %w", err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if !ok {
		cmd.Process.Kill()
		return nil, fmt.Errorf("gateway said %q", line)
	}
	go io.Copy(io.Discard, out)
	return &child{cmd: cmd, url: "http://" + addr, http: &http.Client{Timeout: time.Minute}}, nil
}

func (c *child) stats(gc bool) (*gatewayStats, error) {
	u := c.url + statsPath
	if gc {
		u += "?gc=1"
	}
	resp, err := c.http.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var s gatewayStats
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return nil, err
	}
	return &s, nil
}

// waitSubscriptions waits until the gateway holds n subscriptions.
func (c *child) waitSubscriptions(ctx context.Context, n int, limit time.Duration) error {
	s, ok, err := c.waitStats(ctx, limit, 20*time.Millisecond, func(s *gatewayStats) bool { return s.Subscriptions == n })
	if err == nil && !ok {
		err = fmt.Errorf("%d Pings waiting, want %d", s.Subscriptions, n)
	}
	return err
}

// waitStats reads the gateway's stats every period until done holds or
// limit has passed, and returns the last ones read and whether done held.
func (c *child) waitStats(ctx context.Context, limit, period time.Duration, done func(*gatewayStats) bool) (*gatewayStats, bool, error) {
	deadline := time.Now().Add(limit)
	for {
		s, err := c.stats(false)
		if err != nil {
			return nil, false, err
		}
		if done(s) {
			return s, true, nil
		}
		if time.Now().After(deadline) {
			return s, false, nil
		}
		select {
		case <-ctx.Done():
			return nil, false, ctx.Err()
		case <-time.After(period):
		}
	}
}

// saveProfiles stores the gateway's heap and goroutine profiles in dir as
// heap-<when>.pprof and goroutine-<when>.pprof; nothing when dir is "".
func (c *child) saveProfiles(dir, when string) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, kind := range []string{"heap", "goroutine"} {
		resp, err := c.http.Get(c.url + "/debug/pprof/" + kind)
		if err != nil {
			return fmt.Errorf("%s profile: %w", kind, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return fmt.Errorf("%s profile: %w", kind, err)
		}
		if err := os.WriteFile(filepath.Join(dir, kind+"-"+when+".pprof"), b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (c *child) stop() {
	c.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		c.cmd.Process.Kill()
	}
}

// phone is one simulated device.
type phone struct {
	*easclient.Client
	account int
	inbox   string
	key     string
}

// answer is a Ping that reported a change.
type answer struct {
	account int
	at      time.Time
}

// settle waits, with a short -pool-idle, until the gateway's pool has
// closed what it no longer uses and, with IDLE, every account's watcher
// is in IDLE (push connections held), so that the measurement holds what
// waiting phones cost and not what setting them up left behind. Closing
// a thousand connections takes Dovecot a while under load: settle polls
// rather than trusting the idle timeout, and gives up after a few
// minutes, reporting what is still open.
func (c *child) settle(ctx context.Context, o options, push int, out io.Writer) (*gatewayStats, error) {
	if o.poolIdle <= 0 || o.poolIdle >= time.Minute {
		return c.stats(true)
	}
	start := time.Now()
	select {
	case <-time.After(o.poolIdle * 2):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	s, ok, err := c.waitStats(ctx, time.Until(start.Add(3*time.Minute)), 250*time.Millisecond, func(s *gatewayStats) bool {
		return s.Connections == s.PushConnections && s.PushConnections == push
	})
	if err != nil {
		return nil, err
	}
	if ok {
		fmt.Fprintf(out, "  settled after %v\n", time.Since(start).Round(time.Millisecond))
	} else {
		fmt.Fprintf(out, "  not settled after %v: %d pooled connections, %d held for push (want %d)\n",
			time.Since(start).Round(time.Millisecond), s.Connections-s.PushConnections, s.PushConnections, push)
	}
	return c.stats(true)
}

// result is what a benchmark run measured.
type result struct {
	o          options
	base, held *gatewayStats
	// upBase and upHeld are the upstream's imap processes at those
	// moments, when it can say.
	upBase, upHeld *procUsage
	// lat are the Ping answers' latencies, ref the upstream's own IDLE
	// notices'.
	lat, ref []time.Duration
	failures int64
}

func drive(ctx context.Context, o options, out io.Writer) (*result, error) {
	if o.accounts <= 0 || o.devices <= 0 {
		return nil, errors.New("-accounts and -devices must be positive")
	}
	dir, err := os.MkdirTemp("", "pushbench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	if o.deliver == "" {
		o.deliver = "append"
	}
	if o.pushSource == "" {
		o.pushSource = "idle"
	}
	source, err := bridge.ParsePushSource(o.pushSource)
	if err != nil {
		return nil, err
	}
	lmtp := o.deliver == "lmtp"
	switch {
	case o.deliver != "append" && !lmtp:
		return nil, fmt.Errorf("-deliver %q: want append or lmtp", o.deliver)
	case lmtp && o.upstream != "dovecot":
		return nil, errors.New("-deliver lmtp needs -upstream dovecot")
	case source != bridge.PushIdle && !lmtp:
		return nil, errors.New("-push-source dovecot or both needs -deliver lmtp (the OX driver reports LMTP deliveries)")
	}
	// Dovecot's configuration names the gateway's address, so it is
	// chosen before either starts.
	listen, err := freeAddr()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "starting the %s upstream with %d accounts\n", o.upstream, o.accounts)
	var up upstream
	switch o.upstream {
	case "mem":
		up, err = startMem(o.accounts)
	case "dovecot":
		notify := ""
		if source != bridge.PushIdle {
			notify = listen
		}
		up, err = startDovecot(o.accounts, lmtp, notify)
	default:
		err = fmt.Errorf("unknown upstream %q", o.upstream)
	}
	if err != nil {
		return nil, err
	}
	defer up.Close()
	senders := &clientCache{addr: up.Addr()}
	defer senders.close()

	db := o.db
	if db == "" {
		db = filepath.Join(dir, "easgate.db")
	}
	gw, err := startChild(ctx, o, up.Addr(), listen, db)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "gateway at %s (profiles under /debug/pprof/)\n", gw.url)
	defer gw.stop()

	transport := &http.Transport{
		MaxIdleConns:        o.accounts*o.devices + 16,
		MaxIdleConnsPerHost: o.accounts*o.devices + 16,
		IdleConnTimeout:     time.Hour,
	}
	hc := &http.Client{Transport: transport}
	n := o.accounts * o.devices
	phones := make([]*phone, n)
	fmt.Fprintf(out, "setting up %d phones (%d accounts x %d)\n", n, o.accounts, o.devices)
	start := time.Now()
	if err := parallel(ctx, n, o.concurrency, func(i int) error {
		p, err := setUp(ctx, gw.url, hc, i/o.devices, i%o.devices)
		phones[i] = p
		return err
	}); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "  took %v\n", time.Since(start).Round(time.Millisecond))

	base, err := gw.settle(ctx, o, 0, out)
	if err != nil {
		return nil, err
	}
	upBase := upstreamProcesses(up, out)
	if err := gw.saveProfiles(o.profiles, "before"); err != nil {
		return nil, err
	}

	answers := make(chan answer, n)
	pctx, cancelPings := context.WithCancel(ctx)
	defer cancelPings()
	var wg sync.WaitGroup
	var failures atomic.Int64
	start = time.Now()
	for _, p := range phones {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.pingLoop(pctx, o.heartbeat, answers, &failures)
		}()
	}
	if err := gw.waitSubscriptions(ctx, n, 10*time.Minute); err != nil {
		return nil, err
	}
	fmt.Fprintf(out, "%d Pings waiting after %v\n", n, time.Since(start).Round(time.Millisecond))
	push := 0
	if source != bridge.PushDovecot {
		push = o.accounts // one IDLE connection per account
	}
	held, err := gw.settle(ctx, o, push, out)
	if err != nil {
		return nil, err
	}
	upHeld := upstreamProcesses(up, out)
	if err := gw.saveProfiles(o.profiles, "waiting"); err != nil {
		return nil, err
	}

	fmt.Fprintf(out, "appending %d messages, one account at a time\n", o.rounds)
	var lat, ref []time.Duration
	for r := range o.rounds {
		a := rand.IntN(o.accounts)
		cred := credentials(a)
		msg := []byte(fmt.Sprintf("From: bench@example.org\r\nTo: %s\r\nSubject: push %d\r\nMessage-ID: <push%d.%d@example.org>\r\n\r\nround %d\r\n",
			cred.Username, r, r, time.Now().UnixNano(), r))
		var sender *imapclient.Client
		if !lmtp {
			if sender, err = senders.client(cred.Username, cred.Password); err != nil {
				return nil, fmt.Errorf("log in to append: %w", err)
			}
		}
		// A plain IMAP client in IDLE on the same INBOX: how long the
		// upstream itself takes to tell of the message. One at a time:
		// every IDLE costs Dovecot an inotify instance, and Linux allows
		// a user 128 by default.
		idler, exists, err := dialIdler(up.Addr(), cred.Username, cred.Password)
		if err != nil {
			return nil, fmt.Errorf("log in to idle: %w", err)
		}
		var idle *imapclient.IdleCommand
		err = bounded(idler, func() error {
			var err error
			idle, err = idler.Idle()
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("idle: %w", err)
		}
		// The memory server starts listening just after it says it idles.
		time.Sleep(10 * time.Millisecond)
		t0 := time.Now()
		if lmtp {
			if err := up.(deliverer).DeliverMail("bench@example.org", []string{cred.Username}, msg); err != nil {
				return nil, err
			}
		} else if err := bounded(sender, func() error { return appendWith(sender, msg) }); err != nil {
			return nil, fmt.Errorf("append: %w", err)
		}
		timeout := time.After(time.Minute)
		first := len(lat)
		for got := 0; got < o.devices; {
			select {
			case ans := <-answers:
				if ans.account != a {
					return nil, fmt.Errorf("a phone of account %d answered for a message to account %d", ans.account, a)
				}
				lat = append(lat, ans.at.Sub(t0))
				got++
			case <-timeout:
				return nil, fmt.Errorf("round %d: %d of %d phones answered", r, got, o.devices)
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		select {
		case at := <-exists:
			ref = append(ref, at.Sub(t0))
		case <-time.After(time.Minute):
			return nil, fmt.Errorf("round %d: the plain IDLE client heard nothing", r)
		}
		err = bounded(idler, func() error {
			if err := idle.Close(); err != nil {
				return err
			}
			return idle.Wait()
		})
		idler.Close()
		if err != nil {
			return nil, err
		}
		if o.verbose {
			fmt.Fprintf(out, "round %d, account %d: first answer %v, last %v\n", r, a, lat[first].Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
		}
		// The phones sync and ping again before the next message.
		if err := gw.waitSubscriptions(ctx, n, time.Minute); err != nil {
			return nil, fmt.Errorf("round %d: %w", r, err)
		}
	}
	cancelPings()
	wg.Wait()

	return &result{o: o, base: base, held: held, upBase: upBase, upHeld: upHeld,
		lat: lat, ref: ref, failures: failures.Load()}, nil
}

func (r *result) report(out io.Writer) {
	o, base, held := r.o, r.base, r.held
	n := o.accounts * o.devices
	mem := func(s *gatewayStats) uint64 { return s.HeapInuse + s.StackInuse }
	fmt.Fprintln(out)
	fmt.Fprintf(out, "upstream %s, %d accounts x %d phones = %d waiting Pings\n", o.upstream, o.accounts, o.devices, n)
	fmt.Fprintf(out, "gateway before the Pings: heap %s, stacks %s, %d goroutines, RSS %s\n",
		size(base.HeapInuse), size(base.StackInuse), base.Goroutines, size(base.RSS))
	fmt.Fprintf(out, "gateway with the Pings:   heap %s, stacks %s, %d goroutines, RSS %s, %d watchers\n",
		size(held.HeapInuse), size(held.StackInuse), held.Goroutines, size(held.RSS), held.Watchers)
	fmt.Fprintf(out, "push source %s, delivery by %s: upstream IMAP connections while the phones wait %d (%d held for push; %.3f per waiting phone)\n",
		o.pushSource, o.deliver, held.Connections, held.PushConnections, float64(held.Connections)/float64(n))
	per := func(a, b uint64) string { return size(uint64(max(int64(a)-int64(b), 0)) / uint64(n)) }
	fmt.Fprintf(out, "per waiting phone: heap+stacks %s (heap %s, stacks %s), RSS %s, %.2f goroutines\n",
		per(mem(held), mem(base)), per(held.HeapInuse, base.HeapInuse), per(held.StackInuse, base.StackInuse),
		per(held.RSS, base.RSS), float64(held.Goroutines-base.Goroutines)/float64(n))
	if r.upBase != nil && r.upHeld != nil {
		fmt.Fprintf(out, "upstream imap processes: before the Pings %d (PSS %s), with the Pings %d (PSS %s); %s per waiting phone\n",
			r.upBase.n, size(r.upBase.pss), r.upHeld.n, size(r.upHeld.pss), per(r.upHeld.pss, r.upBase.pss))
	}
	quantiles(out, "push latency, "+r.o.arrival()+" to Ping answer", r.lat)
	quantiles(out, "upstream's own IDLE notice, "+r.o.arrival()+" to EXISTS", r.ref)
	if r.failures > 0 {
		fmt.Fprintf(out, "%d Pings failed (see above)\n", r.failures)
	}
}

func quantiles(out io.Writer, what string, d []time.Duration) {
	if len(d) == 0 {
		return
	}
	slices.Sort(d)
	q := func(p float64) time.Duration {
		return d[min(int(p*float64(len(d))), len(d)-1)].Round(100 * time.Microsecond)
	}
	fmt.Fprintf(out, "%s, %d samples: p50 %v, p90 %v, p99 %v, max %v\n", what, len(d), q(0.5), q(0.9), q(0.99), q(1))
}

func size(b uint64) string {
	switch {
	case b >= 10<<20:
		return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20))
	case b >= 10<<10:
		return fmt.Sprintf("%.1f KiB", float64(b)/(1<<10))
	}
	return fmt.Sprintf("%d B", b)
}

// parallel runs fn(0..n-1), at most width at a time, and returns the first
// error.
func parallel(ctx context.Context, n, width int, fn func(i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var first error
	var once sync.Once
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(width, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if err := fn(i); err != nil {
					once.Do(func() { first = err; cancel() })
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if first == nil && ctx.Err() != nil {
		first = ctx.Err()
	}
	return first
}

func setUp(ctx context.Context, url string, hc *http.Client, account, device int) (*phone, error) {
	cred := credentials(account)
	c := easclient.New(url, cred.Username, cred.Password, fmt.Sprintf("bench%dx%d", account, device), eas.V161)
	c.HTTP = hc
	if _, err := c.Provision(ctx, nil); err != nil {
		return nil, fmt.Errorf("provision %s: %w", c.DeviceID, err)
	}
	fs, err := c.FolderSync(ctx, "0")
	if err != nil || fs.Status != eas.FolderSuccess {
		return nil, fmt.Errorf("FolderSync %s: %+v %w", c.DeviceID, fs, err)
	}
	p := &phone{Client: c, account: account}
	for _, f := range fs.Changes.Add {
		if f.Type == int(eas.FolderInbox) {
			p.inbox = f.ServerID
		}
	}
	if p.inbox == "" {
		return nil, fmt.Errorf("no INBOX for %s", c.DeviceID)
	}
	if err := p.syncInbox(ctx, "0"); err != nil {
		return nil, err
	}
	return p, nil
}

// pingLoop pings until ctx ends, reporting every Ping that announces a
// change and syncing the change before pinging again.
func (p *phone) pingLoop(ctx context.Context, heartbeat int, answers chan<- answer, failures *atomic.Int64) {
	for ctx.Err() == nil {
		resp, err := p.PingFolders(ctx, heartbeat, p.inbox)
		at := time.Now()
		if err != nil {
			if ctx.Err() == nil {
				failures.Add(1)
				fmt.Fprintf(os.Stderr, "ping %s: %v\n", p.DeviceID, err)
				time.Sleep(time.Second)
			}
			continue
		}
		if resp.Status != eas.PingChanges {
			continue
		}
		answers <- answer{account: p.account, at: at}
		if err := p.syncInbox(ctx, p.key); err != nil && ctx.Err() == nil {
			failures.Add(1)
			fmt.Fprintln(os.Stderr, err)
		}
	}
}

// syncInbox brings the phone's INBOX up to date from key, starting again
// from key 0 when the server says the key is no good (Status 3), as a phone
// does.
func (p *phone) syncInbox(ctx context.Context, key string) error {
	res, err := p.SyncAll(ctx, p.inbox, key, 0, nil)
	var se *easclient.SyncStatusError
	if errors.As(err, &se) && se.Status == eas.SyncInvalidSyncKey && key != "0" {
		res, err = p.SyncAll(ctx, p.inbox, "0", 0, nil)
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", p.DeviceID, err)
	}
	p.key = res.Key
	return nil
}

// imapWait bounds the benchmark's own IMAP commands: imapclient has no
// timeouts, and a server out of processes would hang the run.
const imapWait = time.Minute

// bounded runs fn, closing c if it takes longer than imapWait.
func bounded(c *imapclient.Client, fn func() error) error {
	t := time.AfterFunc(imapWait, func() { c.Close() })
	defer t.Stop()
	if err := fn(); err != nil {
		if !t.Stop() {
			return fmt.Errorf("no answer from the IMAP server within %v: %w", imapWait, err)
		}
		return err
	}
	return nil
}

func appendWith(c *imapclient.Client, msg []byte) error {
	cmd := c.Append("INBOX", int64(len(msg)), &imap.AppendOptions{})
	if _, err := cmd.Write(msg); err != nil {
		return err
	}
	if err := cmd.Close(); err != nil {
		return err
	}
	_, err := cmd.Wait()
	return err
}

// clientCache keeps one logged-in connection per account, so that the time
// measured from an APPEND has no login in it.
type clientCache struct {
	addr    string
	mu      sync.Mutex
	clients map[string]*imapclient.Client
}

func (cc *clientCache) client(user, password string) (*imapclient.Client, error) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.clients == nil {
		cc.clients = map[string]*imapclient.Client{}
	}
	if c := cc.clients[user]; c != nil {
		return c, nil
	}
	c, err := imapclient.DialInsecure(cc.addr, nil)
	if err != nil {
		return nil, err
	}
	if err := bounded(c, func() error { return c.Login(user, password).Wait() }); err != nil {
		c.Close()
		return nil, err
	}
	cc.clients[user] = c
	return c, nil
}

func (cc *clientCache) close() {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	for _, c := range cc.clients {
		c.Close()
	}
}

// dialIdler logs in, selects INBOX and returns the connection with a
// channel that receives the time of every EXISTS the server sends.
func dialIdler(addr, user, password string) (*imapclient.Client, <-chan time.Time, error) {
	// A Dovecot holding thousands of sessions may cut a login now and
	// then (its master forks one imap process per session); try again.
	var err error
	for range 5 {
		var c *imapclient.Client
		var exists <-chan time.Time
		if c, exists, err = dialIdlerOnce(addr, user, password); err == nil {
			return c, exists, nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return nil, nil, err
}

func dialIdlerOnce(addr, user, password string) (*imapclient.Client, <-chan time.Time, error) {
	exists := make(chan time.Time, 16)
	c, err := imapclient.DialInsecure(addr, &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Mailbox: func(m *imapclient.UnilateralDataMailbox) {
			if m.NumMessages != nil {
				select {
				case exists <- time.Now():
				default:
				}
			}
		},
	}})
	if err != nil {
		return nil, nil, err
	}
	err = bounded(c, func() error {
		if err := c.Login(user, password).Wait(); err != nil {
			return err
		}
		_, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait()
		return err
	})
	if err != nil {
		c.Close()
		return nil, nil, err
	}
	return c, exists, nil
}

// arrival names how messages arrive, for the report.
func (o options) arrival() string {
	if o.deliver == "lmtp" {
		return "LMTP delivery"
	}
	return "APPEND"
}

// deliverer is an upstream that takes mail by LMTP.
type deliverer interface {
	DeliverMail(from string, to []string, raw []byte) error
}

// freeAddr picks a free port on the loopback address.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
