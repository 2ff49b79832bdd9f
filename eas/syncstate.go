package eas

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// collectionState is what one device holds of one collection: the items it
// has (with the version each had when sent) after its current SyncKey, the
// backend's cursor, and the generation before it, so that a phone that
// repeats its previous key (our answer was lost) gets the same outcome
// again instead of duplicates or a full resync.
//
// Only the current and the previous generation are kept. The previous one
// is stored as the difference from the current one, which is small: one
// window of changes.
type collectionState struct {
	Meta collectionMeta
	// Known maps ServerId (as the backend gives it, without the collection
	// prefix) to version.
	Known map[string]string
	// prevDiff turns Known back into the previous generation: an entry's
	// previous version, or absent (nil) if the item was not there.
	prevDiff map[string]*string
}

// collectionMeta is the small part of the state, kept as JSON.
type collectionMeta struct {
	Lineage string `json:"lineage"`
	Counter int    `json:"n"`
	Key     string `json:"key"`
	Cursor  string `json:"cursor"`
	PrevKey string `json:"prevKey,omitempty"`
	// PrevCursor is the cursor of the previous generation.
	PrevCursor string `json:"prevCursor,omitempty"`
	// Class of the collection's items, set when the collection is made
	// (SyncKey 0); "" in states of before classes were kept: mail.
	Class Class `json:"class,omitempty"`
	// Supported are the elements the collection's first Sync listed in
	// Supported (contacts, calendar): a Change that leaves one out
	// clears it.
	Supported []string `json:"supported,omitempty"`
	// Options the phone last sent for this collection; they persist until it
	// sends new ones (MS-ASAIRS BodyPreference).
	Options syncOptions `json:"options"`
	// Replay holds what the last request's client commands produced, keyed
	// by a hash of those commands, so a repeated request is answered the
	// same way without applying its commands twice.
	Replay json.RawMessage `json:"replay,omitempty"`
}

// syncOptions are the persistent Options of a collection.
type syncOptions struct {
	// FilterType 0 all, 1 one day, 2 three days, 3 one week, 4 two weeks,
	// 5 one month (6 three and 7 six months are calendar values, accepted),
	// 8 incomplete tasks only.
	FilterType int         `json:"filter,omitempty"`
	Body       BodyOptions `json:"body"`
	// Conflict: 0 client wins, 1 server wins (the default).
	Conflict *int `json:"conflict,omitempty"`
}

// filterAges maps FilterType to the age of the oldest item kept.
var filterAges = map[int]time.Duration{
	1: 24 * time.Hour, 2: 3 * 24 * time.Hour, 3: 7 * 24 * time.Hour, 4: 14 * 24 * time.Hour,
	5: 31 * 24 * time.Hour, 6: 92 * 24 * time.Hour, 7: 183 * 24 * time.Hour,
}

// since is the oldest DateReceived the filter keeps; zero for no filter.
func (o syncOptions) since(now time.Time) time.Time {
	if d, ok := filterAges[o.FilterType]; ok {
		return now.Add(-d)
	}
	return time.Time{}
}

// incompleteOnly tells whether the filter keeps open tasks only.
func (o syncOptions) incompleteOnly() bool { return o.FilterType == filterIncompleteTasks }

// filterIncompleteTasks is the tasks FilterType that keeps open tasks only.
const filterIncompleteTasks = 8

// knownItems adapts a map to the KnownItems interface.
type knownItems map[string]string

func (k knownItems) Len() int { return len(k) }
func (k knownItems) Version(id string) (string, bool) {
	v, ok := k[id]
	return v, ok
}
func (k knownItems) Range(fn func(id, version string) bool) {
	for id, v := range k {
		if !fn(id, v) {
			return
		}
	}
}

// newCollectionState starts a new line of keys: the answer to SyncKey 0.
func newCollectionState() *collectionState {
	st := &collectionState{Known: map[string]string{}, prevDiff: map[string]*string{}}
	st.Meta.Lineage = newLineage()
	st.Meta.Counter = 1
	st.Meta.Key = syncKey(st.Meta.Lineage, 1)
	return st
}

// Items returns the phone's items as KnownItems for a backend query.
func (st *collectionState) Items() KnownItems { return knownItems(st.Known) }

// rewind makes the previous generation current again; the phone repeated
// its previous key. It reports false when there is none.
func (st *collectionState) rewind() bool {
	if st.Meta.PrevKey == "" {
		return false
	}
	for id, v := range st.prevDiff {
		if v == nil {
			delete(st.Known, id)
		} else {
			st.Known[id] = *v
		}
	}
	st.prevDiff = map[string]*string{}
	st.Meta.Key, st.Meta.Cursor = st.Meta.PrevKey, st.Meta.PrevCursor
	st.Meta.PrevKey, st.Meta.PrevCursor = "", ""
	return true
}

// Begin starts a new generation from the current one: what follows (Set,
// Forget) is what the phone will hold after the next key. It returns that
// key.
func (st *collectionState) Begin() string {
	st.prevDiff = map[string]*string{}
	st.Meta.PrevKey, st.Meta.PrevCursor = st.Meta.Key, st.Meta.Cursor
	st.Meta.Counter++
	st.Meta.Key = syncKey(st.Meta.Lineage, st.Meta.Counter)
	return st.Meta.Key
}

// remember records id's value before its first change in this generation.
func (st *collectionState) remember(id string) {
	if _, done := st.prevDiff[id]; done {
		return
	}
	if v, ok := st.Known[id]; ok {
		st.prevDiff[id] = &v
	} else {
		st.prevDiff[id] = nil
	}
}

// Set records that the phone holds id at version.
func (st *collectionState) Set(id, version string) {
	st.remember(id)
	st.Known[id] = version
}

// Forget records that the phone no longer holds id.
func (st *collectionState) Forget(id string) {
	st.remember(id)
	delete(st.Known, id)
}

// SetBoth records a change the phone made itself outside Sync (MoveItems):
// it holds in every generation, since the phone applied it whatever key it
// replays.
func (st *collectionState) SetBoth(id, version string) {
	st.Known[id] = version
	if d, ok := st.prevDiff[id]; ok && d != nil {
		v := version
		st.prevDiff[id] = &v
	} else if ok {
		delete(st.prevDiff, id)
	}
}

// ForgetBoth is SetBoth for an item the phone moved away or deleted.
func (st *collectionState) ForgetBoth(id string) {
	delete(st.Known, id)
	delete(st.prevDiff, id)
}

// The stored form: "ECS1", the JSON meta with its length, then the known
// items and the previous-generation difference as length-prefixed strings.
// Binary because a folder of 10,000 messages is read on every Sync of it.
var stateMagic = []byte("ECS1")

var errCorruptState = errors.New("corrupt collection state")

func (st *collectionState) encode() ([]byte, error) {
	meta, err := json.Marshal(&st.Meta)
	if err != nil {
		return nil, err
	}
	size := len(stateMagic) + 10 + len(meta) + 20
	for id, v := range st.Known {
		size += len(id) + len(v) + 4
	}
	b := make([]byte, 0, size)
	b = append(b, stateMagic...)
	b = binary.AppendUvarint(b, uint64(len(meta)))
	b = append(b, meta...)
	b = binary.AppendUvarint(b, uint64(len(st.Known)))
	for id, v := range st.Known {
		b = appendString(b, id)
		b = appendString(b, v)
	}
	b = binary.AppendUvarint(b, uint64(len(st.prevDiff)))
	for id, v := range st.prevDiff {
		b = appendString(b, id)
		if v == nil {
			b = append(b, 0)
		} else {
			b = append(b, 1)
			b = appendString(b, *v)
		}
	}
	return b, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

type stateReader struct {
	b   []byte
	err error
}

func (r *stateReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errCorruptState
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *stateReader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errCorruptState
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

func (r *stateReader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errCorruptState
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// readStateMeta reads the magic and the meta of a stored state, leaving r
// at the items.
func readStateMeta(b []byte) (*stateReader, *collectionMeta, error) {
	if len(b) < len(stateMagic) || string(b[:len(stateMagic)]) != string(stateMagic) {
		return nil, nil, errCorruptState
	}
	r := &stateReader{b: b[len(stateMagic):]}
	meta := r.bytes()
	if r.err != nil {
		return nil, nil, r.err
	}
	m := &collectionMeta{}
	if err := json.Unmarshal(meta, m); err != nil {
		return nil, nil, errCorruptState
	}
	return r, m, nil
}

func decodeStateMeta(b []byte) (*collectionMeta, error) {
	_, m, err := readStateMeta(b)
	return m, err
}

func decodeCollectionState(b []byte) (*collectionState, error) {
	r, m, err := readStateMeta(b)
	if err != nil {
		return nil, err
	}
	st := &collectionState{Meta: *m}
	n := r.uvarint()
	if n > uint64(len(r.b)) {
		return nil, errCorruptState
	}
	st.Known = make(map[string]string, n)
	for i := uint64(0); i < n && r.err == nil; i++ {
		id := string(r.bytes())
		st.Known[id] = string(r.bytes())
	}
	n = r.uvarint()
	if n > uint64(len(r.b)) {
		return nil, errCorruptState
	}
	st.prevDiff = make(map[string]*string, n)
	for i := uint64(0); i < n && r.err == nil; i++ {
		id := string(r.bytes())
		if r.byte() == 0 {
			st.prevDiff[id] = nil
		} else {
			v := string(r.bytes())
			st.prevDiff[id] = &v
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	return st, nil
}

// cursorOf is the cursor of the device's sync state of a collection, ""
// when it has none: what an ItemRef into the collection carries.
func (s *Server) cursorOf(ctx context.Context, r *request, collectionID string) (string, error) {
	m, err := s.loadCollectionMeta(ctx, r.user, r.q.DeviceID, collectionID)
	if err != nil || m == nil {
		return "", err
	}
	return m.Cursor, nil
}

// loadCollectionMeta reads only the small part of a device's state of a
// collection, for those who need its key, cursor or options and not the
// thousands of items it knows; nil when there is none or it is unreadable.
func (s *Server) loadCollectionMeta(ctx context.Context, user, device, collectionID string) (*collectionMeta, error) {
	b, err := s.store.CollectionState(ctx, user, device, collectionID)
	if err != nil {
		return nil, fmt.Errorf("read collection state: %w", err)
	}
	if b == nil {
		return nil, nil
	}
	m, err := decodeStateMeta(b)
	if err != nil {
		return nil, nil
	}
	return m, nil
}

// loadCollection reads a device's state of a collection; nil when there is
// none or it is unreadable (the phone then resyncs that collection).
func (s *Server) loadCollection(ctx context.Context, user, device, collectionID string) (*collectionState, error) {
	b, err := s.store.CollectionState(ctx, user, device, collectionID)
	if err != nil {
		return nil, fmt.Errorf("read collection state: %w", err)
	}
	if b == nil {
		return nil, nil
	}
	st, err := decodeCollectionState(b)
	if err != nil {
		s.log.Warn("discarding unreadable collection state")
		return nil, nil
	}
	return st, nil
}

func (s *Server) saveCollection(ctx context.Context, user, device, collectionID string, st *collectionState) error {
	b, err := st.encode()
	if err != nil {
		return fmt.Errorf("encode collection state: %w", err)
	}
	if err := s.store.PutCollectionState(ctx, user, device, collectionID, b); err != nil {
		return fmt.Errorf("save collection state: %w", err)
	}
	return nil
}
