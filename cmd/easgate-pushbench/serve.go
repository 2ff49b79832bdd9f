package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/easgate/easgate/bridge"
	"github.com/easgate/easgate/bridge/dovecotpush"
	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/store"
	"go.uber.org/zap"
)

// statsPath is where the gateway process reports on itself.
const statsPath = "/pushbench/stats"

// gatewayStats is what the gateway process reports.
type gatewayStats struct {
	HeapInuse     uint64 `json:"heapInuse"`
	StackInuse    uint64 `json:"stackInuse"`
	RSS           uint64 `json:"rss"`
	Goroutines    int    `json:"goroutines"`
	Watchers      int    `json:"watchers"`
	Subscriptions int    `json:"subscriptions"`
	// Connections are the upstream IMAP connections open, pooled and
	// held for push; PushConnections those held for push (IDLE).
	Connections     int `json:"connections"`
	PushConnections int `json:"pushConnections"`
}

// The secret Dovecot's notifications carry; the benchmark hands it to the
// gateway process in the environment.
const (
	benchSecret = "pushbench0123456789abcdef"
	secretEnv   = "PUSHBENCH_SECRET"
)

// serve runs the gateway as `easgate serve` builds it: bridge Backend and
// Notifier, eas Server, SQLite state; it logs warnings only.
func serve(ctx context.Context, o options, stdout io.Writer) error {
	st, err := store.Open(ctx, o.db)
	if err != nil {
		return err
	}
	defer st.Close()
	// Warnings and errors only: a line per request would measure the log.
	zcfg := zap.NewProductionConfig()
	zcfg.Level = zap.NewAtomicLevelAt(zap.WarnLevel)
	zl, err := zcfg.Build()
	if err != nil {
		return err
	}
	b := bridge.New(bridge.Config{Addr: o.imap, Security: bridge.SecurityNone, Logger: zl, IdleTimeout: o.poolIdle})
	defer b.Close()
	source, err := bridge.ParsePushSource(o.pushSource)
	if err != nil {
		return err
	}
	push := bridge.NewNotifier(b, bridge.WatchConfig{Source: source, CheckInterval: o.check})
	srv := eas.NewServer(eas.Config{Logger: zl}, b, st, push)

	mux := http.NewServeMux()
	if source != bridge.PushIdle {
		h, err := dovecotpush.NewHandler(dovecotpush.Config{Poker: push, Secret: os.Getenv(secretEnv)})
		if err != nil {
			return err
		}
		mux.Handle("/api/push/dovecot", h)
	}
	mux.HandleFunc(statsPath, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("gc") != "" {
			// Twice: the first cycle's finalizers free more in the second.
			runtime.GC()
			runtime.GC()
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s := gatewayStats{HeapInuse: ms.HeapInuse, StackInuse: ms.StackInuse, RSS: rss(), Goroutines: runtime.NumGoroutine()}
		s.Watchers, s.Subscriptions = push.Watching()
		s.PushConnections = push.Stats().Connected
		s.Connections = b.Stats().Connections + s.PushConnections
		json.NewEncoder(w).Encode(&s)
	})
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.Handle("/", srv.Handler())
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 30 * time.Second}
	go hs.Serve(ln)
	fmt.Fprintf(stdout, "listening %s\n", ln.Addr())
	<-ctx.Done()
	push.Close()
	hs.Close()
	return nil
}

// rss is the resident set size of this process (Linux), 0 elsewhere.
func rss() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0
	}
	pages, _ := strconv.ParseUint(f[1], 10, 64)
	return pages * uint64(os.Getpagesize())
}
