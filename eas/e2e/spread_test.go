package e2e_test

import (
	"fmt"
	"testing"

	"github.com/easgate/easgate/bridge/upstream/dovecottest"
)

// topology is a way of deploying the gateway that a test runs against.
type topology struct {
	name  string
	start func(t testing.TB, noCondstore bool) *testGateway
	seeds []uint64
}

// topologies are one node on SQLite, as most tests run, and two nodes on
// PostgreSQL behind nginx balancing round robin, so that a phone's
// requests alternate between nodes; each runs its own seeds.
func topologies(oneNode, twoNodes []uint64) []topology {
	return []topology{
		{"one node SQLite", func(t testing.TB, noCondstore bool) *testGateway {
			return startGateway(t, gatewayOptions{NoCondstore: noCondstore})
		}, oneNode},
		{"two nodes PostgreSQL", func(t testing.TB, noCondstore bool) *testGateway {
			return startSpread(t, noCondstore, 2)
		}, twoNodes},
	}
}

// startSpread starts nodes on a fresh PostgreSQL database behind nginx and
// returns them as one gateway: phones speak to nginx, the store, server
// and admin API are the first node's.
func startSpread(t testing.TB, noCondstore bool, nodes int) *testGateway {
	t.Helper()
	c := &cluster{dovecot: dovecottest.New(t, dovecottest.Options{NoCondstore: noCondstore}), db: pg.Database(t)}
	var addrs []string
	for i := range nodes {
		n := c.startNode(t, fmt.Sprintf("node%d", i+1))
		c.nodes = append(c.nodes, n)
		addrs = append(addrs, n.addr)
	}
	c.proxy = startBalancer(t, addrs)
	first := c.nodes[0]
	t.Cleanup(func() {
		// Both nodes must have served the phones, or nothing was spread.
		for _, n := range c.nodes {
			if n.requests.Load() == 0 && !t.Failed() {
				t.Errorf("%s served no request", n.name)
			}
		}
	})
	return &testGateway{Dovecot: c.dovecot, Store: first.store, Server: first.srv, Admin: first.admin,
		Token: adminToken, Backend: first.backend, Push: first.push, URL: c.proxy}
}
