package eas

import (
	"encoding/json"
	"reflect"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestMergeSyncRequest(t *testing.T) {
	ip := func(n int) *int { return &n }
	cache := &syncCache{
		Collections: []cachedCollection{{ID: "1", WindowSize: ip(5)}, {ID: "2", Class: "Email"}},
		Heartbeat:   300, WindowSize: ip(50),
	}
	full := []SyncCollection{{SyncKey: "k1", CollectionID: "1"}, {SyncKey: "k3", CollectionID: "3"}, {SyncKey: "x", CollectionID: "1"}}
	tests := []struct {
		name   string
		req    SyncRequest
		empty  bool
		cache  *syncCache
		status int
		// ids of the collections, and how many of them came with the request.
		ids       []string
		cached    int
		wait, hb  *int
		window    *int
		next      *syncCache
		nextSaved bool
	}{
		{name: "empty without cache", empty: true, status: SyncIncompleteRequest},
		{name: "partial without cache", req: SyncRequest{Partial: true}, status: SyncIncompleteRequest},
		{name: "no collections without cache", req: SyncRequest{Wait: ip(5)}, status: SyncIncompleteRequest},
		{name: "empty", empty: true, cache: cache, ids: []string{"1", "2"}, hb: ip(300), window: ip(50)},
		{name: "full", req: SyncRequest{Collections: full, WindowSize: ip(7)}, cache: cache,
			ids: []string{"1", "3"}, cached: 2, window: ip(7), nextSaved: true,
			next: &syncCache{Collections: []cachedCollection{{ID: "1"}, {ID: "3"}}, WindowSize: ip(7)}},
		{name: "only a new heartbeat", req: SyncRequest{HeartbeatInterval: ip(600)}, cache: cache,
			ids: []string{"1", "2"}, hb: ip(600), nextSaved: true,
			next: &syncCache{Collections: cache.Collections, Heartbeat: 600}},
		{name: "partial", req: SyncRequest{Partial: true, Collections: []SyncCollection{{SyncKey: "k2", CollectionID: "2", WindowSize: ip(9)}}},
			cache: cache, ids: []string{"2", "1"}, cached: 1, hb: ip(300), window: ip(50), nextSaved: true,
			next: &syncCache{Collections: []cachedCollection{{ID: "2", WindowSize: ip(9)}, {ID: "1", WindowSize: ip(5)}},
				Heartbeat: 300, WindowSize: ip(50)}},
		{name: "partial with a wait", req: SyncRequest{Partial: true, Wait: ip(3)}, cache: cache,
			ids: []string{"1", "2"}, wait: ip(3), window: ip(50), nextSaved: true,
			next: &syncCache{Collections: cache.Collections, Wait: 3, WindowSize: ip(50)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, status := mergeSyncRequest(tc.req, tc.empty, tc.cache)
			if status != tc.status {
				t.Fatalf("status %d, want %d", status, tc.status)
			}
			if status != 0 {
				return
			}
			var ids []string
			for _, c := range m.colls {
				ids = append(ids, c.CollectionID)
			}
			if !reflect.DeepEqual(ids, tc.ids) || m.cached != tc.cached {
				t.Errorf("collections %v (%d from the request), want %v (%d)", ids, m.cached, tc.ids, tc.cached)
			}
			for i := m.cached; i < len(m.colls); i++ {
				if m.colls[i].SyncKey != "" {
					t.Errorf("cached collection %s has key %q", m.colls[i].CollectionID, m.colls[i].SyncKey)
				}
			}
			if !reflect.DeepEqual(m.wait, tc.wait) || !reflect.DeepEqual(m.heartbeat, tc.hb) || !reflect.DeepEqual(m.window, tc.window) {
				t.Errorf("wait %v heartbeat %v window %v", m.wait, m.heartbeat, m.window)
			}
			if (m.next != nil) != tc.nextSaved || (tc.next != nil && !reflect.DeepEqual(m.next, tc.next)) {
				t.Errorf("cache to store %+v, want %+v", m.next, tc.next)
			}
		})
	}
	if len(cache.Collections) != 2 || cache.Heartbeat != 300 {
		t.Fatalf("the cached request was changed: %+v", cache)
	}
}

// A replay record that cannot be read is logged and counted, not dropped
// in silence.
func TestReplayRecordUnreadable(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		ok      bool
		corrupt float64
	}{
		{"readable", `{"key":"k","hash":"h","out":[{"k":"delete","id":"1:2"}]}`, true, 0},
		{"other commands", `{"key":"k","hash":"other","out":[]}`, false, 0},
		{"unreadable", `{"key":7}`, false, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMetrics()
			core, logs := observer.New(zap.ErrorLevel)
			cs := &collSync{run: &syncRun{s: &Server{cfg: Config{Metrics: m}}}, st: newCollectionState(),
				replay: true, log: zap.New(core)}
			cs.st.Meta.Replay = json.RawMessage(tc.raw)
			_, ok := cs.replayed("k", "h")
			if ok != tc.ok {
				t.Errorf("replayed %v, want %v", ok, tc.ok)
			}
			if n := counter(t, m, "easgate_state_corrupt_total", "kind", "replay"); n != tc.corrupt {
				t.Errorf("easgate_state_corrupt_total{kind=replay} %v, want %v", n, tc.corrupt)
			}
			if logs.Len() != int(tc.corrupt) {
				t.Errorf("%d errors logged", logs.Len())
			}
		})
	}
}

// counter reads the value of a counter with the given label from m.
func counter(t *testing.T, m *Metrics, name, label, value string) float64 {
	t.Helper()
	mfs, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, mt := range mf.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return mt.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
