package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"go.uber.org/zap"
)

// parseServe parses args, with env as the environment, as serve does.
func parseServe(t *testing.T, args []string, env map[string]string) serveConfig {
	t.Helper()
	var c serveConfig
	fs := serveFlags(&c, io.Discard)
	if err := parseWithEnv(fs, args, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	return c
}

// wantRefused checks that startGateway refuses c, completed with a
// reachable-looking IMAP server and a database, with an error naming flag.
func wantRefused(t *testing.T, c serveConfig, flag string) {
	t.Helper()
	c.IMAP, c.IMAPSecurity, c.DB = "127.0.0.1:1", "none", t.TempDir()+"/x.db"
	c.MinHeartbeat, c.MaxHeartbeat = 60e9, 120e9
	if _, err := startGateway(context.Background(), &c, zap.NewNop(), ""); err == nil || !strings.Contains(err.Error(), flag) {
		t.Fatalf("startGateway with a bad %s: %v", flag, err)
	}
}
