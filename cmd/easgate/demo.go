package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/easgate/easgate/bridge"
	"github.com/easgate/easgate/bridge/upstream/demo"
)

// runDemo is `easgate demo`: the gateway in front of an embedded mail
// server with sample mail, so that a phone (or `easgate probe`) can be
// pointed at it with nothing else installed.
func runDemo(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return demoMain(ctx, args, stdout, stderr)
}

// demoMain runs the demo until ctx ends.
func demoMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", ":8080", "EAS listener address")
	db := fs.String("db", "./easgate-demo.db", "SQLite state file")
	adminListen := fs.String("admin-listen", "127.0.0.1:8081", "admin API listener address")
	logLevel := fs.String("log-level", "info", "log level")
	if err := parseWithEnv(fs, args, os.Getenv); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "easgate demo: %v\n", err)
		return 2
	}
	log, err := newLogger("console", *logLevel, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "easgate demo: %v\n", err)
		return 2
	}
	defer log.Sync()

	up, err := demo.Start(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "easgate demo: start the demo mail server: %v\n", err)
		return 1
	}
	defer up.Close()
	cal, err := demo.StartCalDAV(time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "easgate demo: start the demo calendar server: %v\n", err)
		return 1
	}
	defer cal.Close()
	cards, err := demo.StartCardDAV(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "easgate demo: start the demo CardDAV server: %v\n", err)
		return 1
	}
	defer cards.Close()

	var tok [16]byte
	rand.Read(tok[:])
	token := hex.EncodeToString(tok[:])
	c := &serveConfig{
		Listen: *listen, IMAP: up.IMAPAddr, IMAPSecurity: "none", DB: *db,
		SMTP: up.SMTPAddr, SMTPSecurity: "none", SentCopy: true,
		CardDAV: cards.URL, DAVPollInterval: 10e9,
		AdminListen: *adminListen, LogFormat: "console", LogLevel: *logLevel,
		MaxRequest: 64 << 20, MinHeartbeat: 60e9, MaxHeartbeat: 3540e9,
		FolderCheckInterval: bridge.DefaultCheckInterval,
		oof:                 demo.NewOof(),
		CalDAV:              cal.URL,
	}
	g, err := startGateway(ctx, c, log, token)
	if err != nil {
		fmt.Fprintf(stderr, "easgate demo: %v\n", err)
		return 1
	}
	defer func() {
		if err := g.Close(); err != nil {
			log.Error("close", zap.Error(err))
		}
	}()

	fmt.Fprintf(stdout, "easgate demo is running.\n\n")
	fmt.Fprintf(stdout, "Add an Exchange account on a phone (or run `easgate probe`):\n")
	for _, u := range demoURLs(g.easLn.Addr()) {
		fmt.Fprintf(stdout, "  server:   %s\n", u)
	}
	fmt.Fprintf(stdout, "  user:     %s\n  password: %s\n\n", up.User, up.Password)
	fmt.Fprintf(stdout, "Contacts: sample address book over CardDAV at %s (same login)\n", cards.URL)
	fmt.Fprintf(stdout, "Calendar and tasks: sample calendar over CalDAV at %s (same login)\n", cal.URL)
	fmt.Fprintf(stdout, "Admin API: http://%s/api/devices  (Authorization: Bearer %s)\n", g.admLn.Addr(), token)
	fmt.Fprintf(stdout, "State: %s. Stop with Ctrl-C.\n", *db)
	log.Info("demo ready", zap.String("eas", g.easLn.Addr().String()), zap.String("imap", up.IMAPAddr))
	<-ctx.Done()
	return 0
}

// demoURLs lists the URLs a phone on the same network could use.
func demoURLs(addr net.Addr) []string {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok {
		return []string{"http://" + addr.String() + "/Microsoft-Server-ActiveSync"}
	}
	var hosts []string
	if !tcp.IP.IsUnspecified() {
		hosts = append(hosts, tcp.IP.String())
	} else {
		hosts = append(hosts, "127.0.0.1")
		if ifs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range ifs {
				if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
					hosts = append(hosts, ipn.IP.String())
				}
			}
		}
	}
	var out []string
	for _, h := range hosts {
		hp := net.JoinHostPort(h, fmt.Sprint(tcp.Port))
		out = append(out, "http://"+strings.TrimSuffix(hp, ":80")+"/Microsoft-Server-ActiveSync")
	}
	return out
}
