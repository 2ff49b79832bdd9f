package eas

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/easgate/easgate/wbxml"
)

// SyncRequest is the Sync command's request (MS-ASCMD 2.2.1.21). An empty
// HTTP body stands for the previous request again.
type SyncRequest struct {
	XMLName     wbxml.Name       `wbxml:"AirSync:Sync"`
	Collections []SyncCollection `wbxml:"Collections>Collection"`
	// Partial: the listed collections update the cached request; the
	// others keep their cached parameters.
	Partial bool `wbxml:"Partial,empty"`
	// Wait is in minutes (12.1+), HeartbeatInterval in seconds (14.0+).
	Wait              *int `wbxml:"Wait,omitempty"`
	HeartbeatInterval *int `wbxml:"HeartbeatInterval,omitempty"`
	WindowSize        *int `wbxml:"WindowSize,omitempty"`
}

// SyncCollection is one collection of a Sync request.
type SyncCollection struct {
	// Class is sent here by 12.1 and earlier clients.
	Class        string `wbxml:"Class,omitempty"`
	SyncKey      string `wbxml:"SyncKey"`
	CollectionID string `wbxml:"CollectionId"`
	// Supported lists the fields of a contact or calendar the phone
	// handles; mail has no use for it.
	Supported *wbxml.Element `wbxml:"Supported,omitempty"`
	// DeletesAsMoves absent or true: a phone's Delete moves to the trash.
	DeletesAsMoves *bool `wbxml:"DeletesAsMoves,omitempty"`
	// GetChanges absent: true, except with SyncKey 0.
	GetChanges       *bool         `wbxml:"GetChanges,omitempty"`
	WindowSize       *int          `wbxml:"WindowSize,omitempty"`
	ConversationMode *bool         `wbxml:"ConversationMode,omitempty"`
	Options          []SyncOptions `wbxml:"Options"`
	Commands         *SyncCommands `wbxml:"Commands,omitempty"`
}

// SyncOptions are a collection's Options; 14.0+ clients may send one per
// Class (Email, SMS).
type SyncOptions struct {
	Class              string           `wbxml:"Class,omitempty"`
	FilterType         *int             `wbxml:"FilterType,omitempty"`
	BodyPreference     []BodyPreference `wbxml:"AirSyncBase:BodyPreference"`
	BodyPartPreference []BodyPreference `wbxml:"AirSyncBase:BodyPartPreference"`
	Conflict           *int             `wbxml:"Conflict,omitempty"`
	MIMESupport        *int             `wbxml:"MIMESupport,omitempty"`
	MIMETruncation     *int             `wbxml:"MIMETruncation,omitempty"`
	// Truncation is the 2.5-era body truncation code some clients still
	// send instead of BodyPreference.
	Truncation *int `wbxml:"Truncation,omitempty"`
	MaxItems   *int `wbxml:"MaxItems,omitempty"`
}

// SyncCommands holds a phone's commands in the order it sent them: Add,
// Change, Delete and Fetch elements, read with SyncCommands.Decode.
type SyncCommands struct {
	Items []*wbxml.Element `wbxml:",any"`
}

// SyncClientAdd is a phone's Add.
type SyncClientAdd struct {
	Class           string `wbxml:"Class,omitempty"`
	ClientID        string `wbxml:"ClientId"`
	ApplicationData *Email `wbxml:"ApplicationData,omitempty"`
	Send            bool   `wbxml:"Email2:Send,empty"`
}

// SyncItem is an item with its data: a phone's Change, a server Add or
// Change.
type SyncItem struct {
	ServerID string `wbxml:"ServerId"`
	// ApplicationData is a mail item as a client reads it and writes it.
	ApplicationData *Email `wbxml:"ApplicationData,omitempty"`
	// Item is the ApplicationData the server sends, of any class (a
	// decoder fills ApplicationData, the first field of the tag).
	Item Item `wbxml:"ApplicationData,omitempty"`
	// Send, in a 16.0+ phone's Change of a draft, sends it.
	Send bool `wbxml:"Email2:Send,empty"`
}

// SyncItemID names an item: a phone's Delete or Fetch, a server Delete or
// SoftDelete.
type SyncItemID struct {
	ServerID string `wbxml:"ServerId"`
}

var (
	tagSyncAdd    = wbxml.MustLookup("AirSync", "Add")
	tagSyncChange = wbxml.MustLookup("AirSync", "Change")
	tagSyncDelete = wbxml.MustLookup("AirSync", "Delete")
	tagSyncFetch  = wbxml.MustLookup("AirSync", "Fetch")
	tagCommands   = wbxml.MustLookup("AirSync", "Commands")
)

// AddCommand appends a phone's Add.
func (c *SyncCommands) AddCommand(a SyncClientAdd) error { return c.append(tagSyncAdd, a) }

// ChangeCommand appends a phone's Change.
func (c *SyncCommands) ChangeCommand(serverID string, data *Email) error {
	return c.append(tagSyncChange, SyncItem{ServerID: serverID, ApplicationData: data})
}

// SendDraftCommand appends a 16.0+ phone's Change of a draft that sends
// it (email2:Send); data holds the draft's last edits, if any.
func (c *SyncCommands) SendDraftCommand(serverID string, data *Email) error {
	return c.append(tagSyncChange, SyncItem{ServerID: serverID, ApplicationData: data, Send: true})
}

// DeleteCommand appends a phone's Delete.
func (c *SyncCommands) DeleteCommand(serverID string) error {
	return c.append(tagSyncDelete, SyncItemID{ServerID: serverID})
}

// FetchCommand appends a phone's Fetch.
func (c *SyncCommands) FetchCommand(serverID string) error {
	return c.append(tagSyncFetch, SyncItemID{ServerID: serverID})
}

func (c *SyncCommands) append(tag wbxml.Tag, v any) error {
	e, err := toElement(tag, v)
	if err != nil {
		return err
	}
	c.Items = append(c.Items, e)
	return nil
}

// SyncResponse is the Sync command's response.
type SyncResponse struct {
	XMLName     wbxml.Name               `wbxml:"AirSync:Sync"`
	Status      int                      `wbxml:"Status,omitempty"`
	Limit       int                      `wbxml:"Limit,omitempty"`
	Collections []SyncCollectionResponse `wbxml:"Collections>Collection"`
}

// Collection returns the response's collection with the given id.
func (r *SyncResponse) Collection(id string) (*SyncCollectionResponse, error) {
	for i := range r.Collections {
		if r.Collections[i].CollectionID == id {
			return &r.Collections[i], nil
		}
	}
	if r.Status != 0 && r.Status != SyncSuccess {
		return nil, fmt.Errorf("sync: status %d", r.Status)
	}
	return nil, fmt.Errorf("sync: no collection %s in the response", id)
}

// SyncCollectionResponse is one collection of a Sync response, its
// elements in the order MS-ASCMD lists them.
type SyncCollectionResponse struct {
	Class         string              `wbxml:"Class,omitempty"`
	SyncKey       string              `wbxml:"SyncKey"`
	CollectionID  string              `wbxml:"CollectionId"`
	Status        int                 `wbxml:"Status"`
	MoreAvailable bool                `wbxml:"MoreAvailable,empty"`
	Commands      *SyncServerCommands `wbxml:"Commands,omitempty"`
	Responses     *SyncResponses      `wbxml:"Responses,omitempty"`
}

// SyncServerCommands are the server's changes for the phone.
type SyncServerCommands struct {
	Add        []SyncItem   `wbxml:"Add"`
	Change     []SyncItem   `wbxml:"Change"`
	Delete     []SyncItemID `wbxml:"Delete"`
	SoftDelete []SyncItemID `wbxml:"SoftDelete"`
}

// Len is the number of changes.
func (c *SyncServerCommands) Len() int {
	if c == nil {
		return 0
	}
	return len(c.Add) + len(c.Change) + len(c.Delete) + len(c.SoftDelete)
}

// SyncResponses answers the phone's commands: every Add and Fetch, and the
// Changes and Deletes that failed.
type SyncResponses struct {
	Add    []SyncAddResponse    `wbxml:"Add"`
	Fetch  []SyncFetchResponse  `wbxml:"Fetch"`
	Change []SyncStatusResponse `wbxml:"Change"`
	Delete []SyncStatusResponse `wbxml:"Delete"`
}

// SyncAddResponse answers a phone's Add.
type SyncAddResponse struct {
	Class           string          `wbxml:"Class,omitempty"`
	ClientID        string          `wbxml:"ClientId"`
	ServerID        string          `wbxml:"ServerId,omitempty"`
	Status          int             `wbxml:"Status"`
	ApplicationData *SavedDraftData `wbxml:"ApplicationData,omitempty"`
}

// SyncStatusResponse answers a failed Change or Delete, or a Change of a
// draft that added attachments.
type SyncStatusResponse struct {
	ServerID        string          `wbxml:"ServerId"`
	Status          int             `wbxml:"Status"`
	ApplicationData *SavedDraftData `wbxml:"ApplicationData,omitempty"`
}

// SyncFetchResponse answers a phone's Fetch.
type SyncFetchResponse struct {
	ServerID        string `wbxml:"ServerId"`
	Status          int    `wbxml:"Status"`
	ApplicationData *Email `wbxml:"ApplicationData,omitempty"`
	// Item is the fetched item of any class, as the server sends it.
	Item Item `wbxml:"ApplicationData,omitempty"`
}

// Window sizes (MS-ASCMD 2.2.3.199).
const (
	defaultWindow = 100
	maxWindow     = 512
)

// Wait bounds, in minutes (MS-ASCMD 2.2.3.198).
const (
	minWaitMinutes = 1
	maxWaitMinutes = 59
)

const stateSyncCache = "synccache"

// syncCache is the last full Sync request of a device, for empty and
// Partial requests (MS-ASCMD 2.2.3.131). Options are not kept here: they
// persist in each collection's state.
type syncCache struct {
	Collections []cachedCollection `json:"collections"`
	Wait        int                `json:"wait,omitempty"`
	Heartbeat   int                `json:"heartbeat,omitempty"`
	WindowSize  *int               `json:"window,omitempty"`
}

type cachedCollection struct {
	ID               string `json:"id"`
	Class            string `json:"class,omitempty"`
	DeletesAsMoves   *bool  `json:"deletesAsMoves,omitempty"`
	GetChanges       *bool  `json:"getChanges,omitempty"`
	WindowSize       *int   `json:"window,omitempty"`
	ConversationMode *bool  `json:"conversationMode,omitempty"`
}

func cacheEntry(c *SyncCollection) cachedCollection {
	return cachedCollection{ID: c.CollectionID, Class: c.Class, DeletesAsMoves: c.DeletesAsMoves,
		GetChanges: c.GetChanges, WindowSize: c.WindowSize, ConversationMode: c.ConversationMode}
}

// loadSyncCache returns the device's cached Sync request; an unreadable
// cache is a missing one: the phone sends a full request after Status 13.
func (s *Server) loadSyncCache(ctx context.Context, r *request) (*syncCache, error) {
	return loadDeviceState[syncCache](ctx, s, r, stateSyncCache, "cached sync request")
}

func (s *Server) saveSyncCache(ctx context.Context, r *request, c *syncCache) error {
	return s.saveDeviceState(ctx, r, stateSyncCache, "cached sync request", c)
}

// replayRecord remembers what a request's commands produced, so that the
// same request sent again (the phone lost our answer) gets the same answer
// without the commands being applied twice.
type replayRecord struct {
	// Key is the SyncKey the commands came with.
	Key  string `json:"key"`
	Hash string `json:"hash"`
	// Outcomes in request order. Fetches are run again on a replay: they
	// change nothing, and their data is too large to keep.
	Outcomes []commandOutcome `json:"out"`
}

type commandOutcome struct {
	Kind     string `json:"k"`
	ServerID string `json:"id,omitempty"`
	ClientID string `json:"cid,omitempty"`
	// Status 0: a Change or Delete that succeeded, which gets no response.
	Status int `json:"st,omitempty"`
	// Atts are the attachments a phone added to a draft.
	Atts []SavedAttachment `json:"a,omitempty"`
}

// savedDraftData tells a phone the FileReferences of the attachments it
// added to a draft; nil when it added none.
func (o *commandOutcome) savedDraftData() *SavedDraftData {
	if len(o.Atts) == 0 {
		return nil
	}
	return &SavedDraftData{Attachments: &SavedAttachments{Attachment: o.Atts}}
}

// commandsHash identifies a request's commands.
func commandsHash(c *SyncCommands) (string, error) {
	b, err := (&wbxml.Element{Tag: tagCommands, Children: c.Items}).Bytes()
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:16]), nil
}

// fatal tells the errors that end the whole request instead of one item or
// collection: the upstream is gone or the phone hung up.
func fatal(err error) bool {
	return errors.Is(err, ErrUnavailable) || errors.Is(err, ErrUnauthorized) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// syncRun is one Sync request's work.
type syncRun struct {
	s       *Server
	r       *request
	folders *requestFolders
	// window is the request-level WindowSize, 0 when absent.
	window *int
	now    time.Time
	// plan is the next Sync of the first collection answered with
	// MoreAvailable, to be prefetched once the answer is complete.
	plan *prefetchPlan
}

// collectionResult is what syncing one collection gave.
type collectionResult struct {
	resp SyncCollectionResponse
	// something: the phone must hear of it (new key, changes, responses,
	// an error status).
	something bool
	// path is the collection's folder when it synced normally.
	path string
}

func (s *Server) handleSync(ctx context.Context, r *request) (*reply, error) {
	var req SyncRequest
	empty := len(bytes.TrimSpace(r.body)) == 0
	if !empty {
		if err := r.decode(&req); err != nil {
			return nil, err
		}
	}
	cache, err := s.loadSyncCache(ctx, r)
	if err != nil {
		return nil, err
	}

	// Work out the collections and waiting parameters this request stands for.
	var colls []SyncCollection
	next := &syncCache{}
	switch {
	case empty || (len(req.Collections) == 0 && !req.Partial):
		if cache == nil {
			return syncStatus(SyncIncompleteRequest), nil
		}
		if empty {
			req.Wait, req.HeartbeatInterval, req.WindowSize = nil, nil, cache.WindowSize
			if cache.Wait > 0 {
				req.Wait = &cache.Wait
			}
			if cache.Heartbeat > 0 {
				req.HeartbeatInterval = &cache.Heartbeat
			}
		}
		if colls, err = s.cachedCollections(ctx, r, cache.Collections); err != nil {
			return nil, err
		}
		*next = *cache
	case req.Partial:
		if cache == nil {
			return syncStatus(SyncIncompleteRequest), nil
		}
		listed := map[string]bool{}
		for _, c := range req.Collections {
			listed[c.CollectionID] = true
		}
		var kept []cachedCollection
		for _, c := range cache.Collections {
			if !listed[c.ID] {
				kept = append(kept, c)
			}
		}
		rest, err := s.cachedCollections(ctx, r, kept)
		if err != nil {
			return nil, err
		}
		colls = append(dedupe(req.Collections), rest...)
		*next = *cache
		next.Collections = nil
		for i := range colls {
			next.Collections = append(next.Collections, cacheEntry(&colls[i]))
		}
		if req.Wait == nil && req.HeartbeatInterval == nil {
			if cache.Wait > 0 {
				req.Wait = &cache.Wait
			}
			if cache.Heartbeat > 0 {
				req.HeartbeatInterval = &cache.Heartbeat
			}
		}
		if req.WindowSize == nil {
			req.WindowSize = cache.WindowSize
		}
	default:
		colls = dedupe(req.Collections)
		for i := range colls {
			next.Collections = append(next.Collections, cacheEntry(&colls[i]))
		}
	}

	var wait time.Duration
	switch {
	case req.Wait != nil && req.HeartbeatInterval != nil:
		return syncStatus(SyncProtocolError), nil
	case req.Wait != nil:
		if w := *req.Wait; w < minWaitMinutes || w > maxWaitMinutes {
			return syncLimit(min(max(w, minWaitMinutes), maxWaitMinutes)), nil
		}
		wait = time.Duration(*req.Wait) * time.Minute
	case req.HeartbeatInterval != nil:
		lo, hi := int(s.cfg.MinHeartbeat/time.Second), int(s.cfg.MaxHeartbeat/time.Second)
		if h := *req.HeartbeatInterval; h < lo || h > hi {
			return syncLimit(min(max(h, lo), hi)), nil
		}
		wait = time.Duration(*req.HeartbeatInterval) * time.Second
	}
	if !empty {
		next.Wait, next.Heartbeat, next.WindowSize = 0, 0, req.WindowSize
		if req.Wait != nil {
			next.Wait = *req.Wait
		}
		if req.HeartbeatInterval != nil {
			next.Heartbeat = *req.HeartbeatInterval
		}
		if err := s.saveSyncCache(ctx, r, next); err != nil {
			return nil, err
		}
	}

	run := &syncRun{s: s, r: r, folders: newRequestFolders(r), window: req.WindowSize, now: s.cfg.Now()}
	results := make([]collectionResult, 0, len(colls))
	anything := false
	for i := range colls {
		res, err := run.collection(ctx, &colls[i])
		if err != nil {
			return nil, err
		}
		anything = anything || res.something
		results = append(results, res)
	}
	if anything || wait == 0 {
		run.startPrefetch(ctx)
		return syncAnswer(results), nil
	}

	// Nothing for the phone yet: hold the request until something changes.
	var watch []watchedFolder
	byID := map[string]int{}
	for i, res := range results {
		if res.path != "" {
			watch = append(watch, watchedFolder{ID: res.resp.CollectionID, Path: res.path})
			byID[res.resp.CollectionID] = i
		}
	}
	changed, outcome, err := s.waitForChanges(ctx, r, waitSpec{folders: watch, timeout: answerBefore(wait)})
	if err != nil {
		return nil, err
	}
	if outcome != waitChanged || len(changed) == 0 {
		// MS-ASCMD: a hanging Sync that ends without changes has an empty body.
		return &reply{}, nil
	}
	var again []collectionResult
	for _, id := range changed {
		i, ok := byID[id]
		if !ok {
			continue
		}
		c := colls[i]
		c.Commands = nil
		c.Options = nil
		res, err := run.collection(ctx, &c)
		if err != nil {
			return nil, err
		}
		again = append(again, res)
	}
	run.startPrefetch(ctx)
	return syncAnswer(again), nil
}

// dedupe keeps the first of repeated collections.
func dedupe(cs []SyncCollection) []SyncCollection {
	seen := map[string]bool{}
	out := make([]SyncCollection, 0, len(cs))
	for _, c := range cs {
		if seen[c.CollectionID] {
			continue
		}
		seen[c.CollectionID] = true
		out = append(out, c)
	}
	return out
}

// cachedCollections turns cached parameters into collections with the
// device's current keys.
func (s *Server) cachedCollections(ctx context.Context, r *request, cached []cachedCollection) ([]SyncCollection, error) {
	out := make([]SyncCollection, 0, len(cached))
	for _, c := range cached {
		meta, err := s.loadCollectionMeta(ctx, r.user, r.q.DeviceID, c.ID)
		if err != nil {
			return nil, err
		}
		key := ""
		if meta != nil {
			key = meta.Key
		}
		out = append(out, SyncCollection{Class: c.Class, SyncKey: key, CollectionID: c.ID,
			DeletesAsMoves: c.DeletesAsMoves, GetChanges: c.GetChanges, WindowSize: c.WindowSize,
			ConversationMode: c.ConversationMode})
	}
	return out, nil
}

func syncStatus(status int) *reply {
	return &reply{body: &SyncResponse{Status: status}, easStatus: status}
}

func syncLimit(limit int) *reply {
	return &reply{body: &SyncResponse{Status: SyncInvalidInterval, Limit: limit}, easStatus: SyncInvalidInterval}
}

func syncAnswer(results []collectionResult) *reply {
	resp := &SyncResponse{}
	for _, res := range results {
		resp.Collections = append(resp.Collections, res.resp)
	}
	return &reply{body: resp, easStatus: SyncSuccess}
}

// emailOptions picks the Options of the Email class.
func emailOptions(opts []SyncOptions) *SyncOptions {
	for i := range opts {
		if opts[i].Class == "" || strings.EqualFold(opts[i].Class, "Email") {
			return &opts[i]
		}
	}
	return nil
}

// toSyncOptions converts request Options to the stored form.
func toSyncOptions(o *SyncOptions, v Version) syncOptions {
	out := syncOptions{Conflict: o.Conflict}
	if o.FilterType != nil && *o.FilterType >= 0 && *o.FilterType <= 7 {
		out.FilterType = *o.FilterType
	}
	out.Body = bodyOptions(o.BodyPreference, o.MIMESupport, o.MIMETruncation, o.Truncation, v)
	return out
}

// windowSize applies MS-ASCMD's rules: absent 100, 0 or above 512 means 512.
func windowSize(collection, request *int) int {
	w := defaultWindow
	switch {
	case collection != nil:
		w = *collection
	case request != nil:
		w = *request
	}
	if w <= 0 || w > maxWindow {
		w = maxWindow
	}
	return w
}

// collection syncs one collection: applies the phone's commands, collects
// the server's changes, and stores the new state.
func (run *syncRun) collection(ctx context.Context, c *SyncCollection) (collectionResult, error) {
	s, r := run.s, run.r
	v := r.version()
	res := collectionResult{resp: SyncCollectionResponse{SyncKey: c.SyncKey, CollectionID: c.CollectionID, Status: SyncSuccess}}
	if !v.AtLeast(V140) && c.Class != "" {
		res.resp.Class = c.Class
	}
	fail := func(status int) (collectionResult, error) {
		res.resp.Status = status
		if status == SyncInvalidSyncKey {
			// The phone must start again from 0; some clients store
			// whatever key comes back, so it gets that one.
			res.resp.SyncKey = "0"
		}
		res.something = true
		return res, nil
	}
	if c.Class != "" && !strings.EqualFold(c.Class, "Email") {
		// easgate serves mail folders only.
		return fail(SyncProtocolError)
	}
	path, err := s.folderPath(ctx, r, c.CollectionID)
	if errors.Is(err, ErrNotFound) {
		return fail(SyncHierarchyChanged)
	}
	if err != nil {
		return res, err
	}
	log := r.log.With(zap.String("collection", c.CollectionID))

	if c.SyncKey == "0" {
		st := newCollectionState()
		if o := emailOptions(c.Options); o != nil {
			st.Meta.Options = toSyncOptions(o, v)
		}
		if err := s.saveCollection(ctx, r.user, r.q.DeviceID, c.CollectionID, st); err != nil {
			return res, err
		}
		res.resp.SyncKey = st.Meta.Key
		res.something = true
		return res, nil
	}

	st, err := s.loadCollection(ctx, r.user, r.q.DeviceID, c.CollectionID)
	if err != nil {
		return res, err
	}
	replay := false
	switch {
	case st == nil:
		return fail(SyncInvalidSyncKey)
	case c.SyncKey == st.Meta.Key:
	case st.Meta.PrevKey != "" && c.SyncKey == st.Meta.PrevKey:
		// The phone did not get our last answer: answer again from the
		// generation it holds.
		st.rewind()
		replay = true
		log.Info("sync key repeated; answering again", zap.String("key", c.SyncKey))
	default:
		return fail(SyncInvalidSyncKey)
	}
	dirty := replay
	if o := emailOptions(c.Options); o != nil {
		st.Meta.Options = toSyncOptions(o, v)
		dirty = true
	}
	body := st.Meta.Options.Body
	body.Version = v

	getChanges := c.GetChanges == nil || *c.GetChanges
	query := SyncQuery{
		Path:   path,
		Cursor: st.Meta.Cursor,
		Known:  st.Items(),
		Since:  st.Meta.Options.since(run.now),
		Window: windowSize(c.WindowSize, run.window),
		Body:   body,
	}
	hasCommands := c.Commands != nil && len(c.Commands.Items) > 0
	var cs *ChangeSet
	if getChanges && !hasCommands && !replay {
		cs = run.prefetched(ctx, c.CollectionID, c.SyncKey, query, st.Meta.Options.FilterType)
	}
	var mb Mailbox
	if cs == nil {
		if mb, err = r.mailbox(ctx); err != nil {
			return res, err
		}
	}

	// The phone's commands apply to the generation it holds, before the
	// server's changes are gathered, so that its own changes never come
	// back to it.
	var responses *SyncResponses
	mutated := false
	if hasCommands {
		hash, err := commandsHash(c.Commands)
		if err != nil {
			return res, fmt.Errorf("hash sync commands: %w", err)
		}
		var rec replayRecord
		if replay && len(st.Meta.Replay) > 0 {
			if json.Unmarshal(st.Meta.Replay, &rec) != nil {
				rec = replayRecord{}
			}
		}
		var outcomes []commandOutcome
		if replay && rec.Key == c.SyncKey && rec.Hash == hash {
			outcomes = rec.Outcomes
			log.Info("repeated sync commands answered without applying them again", zap.Int("commands", len(outcomes)))
		} else {
			outcomes, err = run.apply(ctx, mb, st, c, path, body)
			if err != nil {
				return res, err
			}
			raw, err := json.Marshal(replayRecord{Key: c.SyncKey, Hash: hash, Outcomes: outcomes})
			if err != nil {
				return res, err
			}
			st.Meta.Replay = raw
		}
		dirty = true
		for _, o := range outcomes {
			if o.Kind == "change" || o.Kind == "delete" || (o.Kind == "add" && o.Status == SyncSuccess) {
				mutated = true
			}
		}
		if responses, err = run.responses(ctx, mb, c.CollectionID, path, st.Meta.Cursor, body, outcomes); err != nil {
			return res, err
		}
	}

	if getChanges && cs == nil {
		cs, err = mb.Changes(ctx, query)
		switch {
		case err == nil:
		case errors.Is(err, ErrStateInvalid):
			// The folder was recreated upstream (UIDVALIDITY): the phone
			// starts this collection again from SyncKey 0.
			log.Info("collection state invalid upstream; phone must resync", zap.Error(err))
			if err := s.store.DeleteCollectionState(ctx, r.user, r.q.DeviceID, c.CollectionID); err != nil {
				return res, fmt.Errorf("drop collection state: %w", err)
			}
			return fail(SyncInvalidSyncKey)
		case errors.Is(err, ErrNotFound):
			return fail(SyncHierarchyChanged)
		case fatal(err):
			return res, fmt.Errorf("changes in %q: %w", path, err)
		default:
			// Keep what the commands did; the phone retries with its key,
			// which the replay record answers.
			log.Error("reading changes failed", zap.Error(err))
			res.resp.Status = SyncServerError
			res.something = true
			cs = nil
		}
	}

	codec := classCodecs[ClassEmail]
	var cmds SyncServerCommands
	if mutated || (cs != nil && len(cs.Changes) > 0) {
		st.Begin()
		if !hasCommands {
			st.Meta.Replay = nil
		}
		dirty = true
	}
	if cs != nil {
		for _, ch := range cs.Changes {
			sid := itemServerID(c.CollectionID, ch.ServerID)
			if ch.Err != nil {
				run.itemError(ctx, log, c.CollectionID, ch)
			}
			switch ch.Kind {
			case ChangeAdd:
				st.Set(ch.ServerID, ch.Version)
				cmds.Add = append(cmds.Add, SyncItem{ServerID: sid, Item: codec.encode(ch.Item, v, true)})
			case ChangeModify:
				st.Set(ch.ServerID, ch.Version)
				cmds.Change = append(cmds.Change, SyncItem{ServerID: sid, Item: codec.encode(ch.Item, v, false)})
			case ChangeDelete:
				st.Forget(ch.ServerID)
				cmds.Delete = append(cmds.Delete, SyncItemID{ServerID: sid})
			case ChangeSoftDelete:
				st.Forget(ch.ServerID)
				cmds.SoftDelete = append(cmds.SoftDelete, SyncItemID{ServerID: sid})
			default:
				log.Error("backend returned an unknown change kind", zap.Stringer("kind", ch.Kind))
			}
		}
		m := s.cfg.Metrics
		m.itemsSent("Add", len(cmds.Add))
		m.itemsSent("Change", len(cmds.Change))
		m.itemsSent("Delete", len(cmds.Delete))
		m.itemsSent("SoftDelete", len(cmds.SoftDelete))
		if st.Meta.Cursor != cs.Cursor {
			st.Meta.Cursor = cs.Cursor
			dirty = true
		}
		res.resp.MoreAvailable = cs.More
	}
	if dirty {
		if err := s.saveCollection(ctx, r.user, r.q.DeviceID, c.CollectionID, st); err != nil {
			return res, err
		}
	}
	if res.resp.MoreAvailable && res.resp.Status == SyncSuccess {
		run.planPrefetch(c.CollectionID, st, query)
	}
	if cmds.Len() > 0 {
		res.resp.Commands = &cmds
	}
	res.resp.Responses = responses
	if st.Meta.Key != c.SyncKey || cmds.Len() > 0 || responses != nil || res.resp.MoreAvailable {
		res.something = true
	}
	res.resp.SyncKey = st.Meta.Key
	if res.resp.Status == SyncSuccess {
		res.path = path
	}
	return res, nil
}

// itemError records a message that could not be converted completely; it
// is still sent, with what could be read.
func (run *syncRun) itemError(ctx context.Context, log *zap.Logger, collectionID string, ch ItemChange) {
	msg := fmt.Sprintf("collection %s, item %s: %v", collectionID, ch.ServerID, ch.Err)
	log.Warn("item converted with errors", zap.String("item", ch.ServerID), zap.Error(ch.Err))
	if err := run.s.store.RecordError(ctx, run.r.user, run.r.q.DeviceID, msg, run.now); err != nil {
		log.Error("store: record item error", zap.Error(err))
	}
}

// apply carries out the phone's commands in order.
func (run *syncRun) apply(ctx context.Context, mb Mailbox, st *collectionState, c *SyncCollection, path string, body BodyOptions) ([]commandOutcome, error) {
	v := run.r.version()
	log := run.r.log.With(zap.String("collection", c.CollectionID))
	out := make([]commandOutcome, 0, len(c.Commands.Items))
	for _, el := range c.Commands.Items {
		switch el.Tag {
		case tagSyncChange:
			var ch SyncItem
			o := commandOutcome{Kind: "change"}
			if err := decodeElement(el, &ch); err != nil {
				o.Status = SyncConversionError
				out = append(out, o)
				continue
			}
			o.ServerID = ch.ServerID
			id, ok := splitServerID(c.CollectionID, ch.ServerID)
			if !ok {
				o.Status = SyncObjectNotFound
				out = append(out, o)
				continue
			}
			if isDraftEdit(ch.ApplicationData, ch.Send) {
				drafts, err := run.draftsCollection(ctx, path)
				if err != nil {
					return nil, err
				}
				if drafts {
					if err := run.saveDraft(ctx, mb, st, c, path, id, ch.ApplicationData, ch.Send, &o); err != nil {
						return nil, err
					}
					out = append(out, o)
					continue
				}
				if ch.Send {
					// Only a draft can be sent this way; saying nothing
					// would let the phone believe it went out.
					o.Status = SyncConversionError
					out = append(out, o)
					continue
				}
			}
			u, status := flagUpdate(ch.ApplicationData, v)
			if status != 0 {
				o.Status = status
				out = append(out, o)
				continue
			}
			if u.Read == nil && u.Flag == nil && u.Categories == nil {
				out = append(out, o)
				continue
			}
			u.Known = st.Known[id]
			version, err := mb.UpdateFlags(ctx, ItemRef{Path: path, ServerID: id, Cursor: st.Meta.Cursor}, u)
			switch {
			case err == nil:
				// Only an item the phone holds gets the new version; one it
				// does not hold is still to be sent as an Add.
				if _, known := st.Known[id]; known {
					st.SetBoth(id, version)
				}
			case errors.Is(err, ErrNotFound):
				o.Status = SyncObjectNotFound
			case fatal(err):
				return nil, fmt.Errorf("change %s: %w", ch.ServerID, err)
			default:
				log.Error("applying a phone's change failed", zap.String("item", ch.ServerID), zap.Error(err))
				o.Status = SyncServerError
			}
			out = append(out, o)
		case tagSyncDelete:
			var d SyncItemID
			o := commandOutcome{Kind: "delete"}
			if err := decodeElement(el, &d); err != nil {
				o.Status = SyncConversionError
				out = append(out, o)
				continue
			}
			o.ServerID = d.ServerID
			id, ok := splitServerID(c.CollectionID, d.ServerID)
			if !ok {
				o.Status = SyncObjectNotFound
				out = append(out, o)
				continue
			}
			trash := ""
			if c.DeletesAsMoves == nil || *c.DeletesAsMoves {
				t, err := run.folders.trashPath(ctx)
				if err != nil {
					return nil, err
				}
				if t != path {
					trash = t
				}
			}
			err := mb.Delete(ctx, ItemRef{Path: path, ServerID: id, Cursor: st.Meta.Cursor}, trash)
			switch {
			case err == nil:
				st.ForgetBoth(id)
			case errors.Is(err, ErrNotFound):
				// Gone already: the phone's copy goes too.
				st.ForgetBoth(id)
				o.Status = SyncObjectNotFound
			case fatal(err):
				return nil, fmt.Errorf("delete %s: %w", d.ServerID, err)
			default:
				log.Error("applying a phone's delete failed", zap.String("item", d.ServerID), zap.Error(err))
				o.Status = SyncServerError
			}
			out = append(out, o)
		case tagSyncFetch:
			var f SyncItemID
			o := commandOutcome{Kind: "fetch", Status: SyncSuccess}
			if err := decodeElement(el, &f); err != nil {
				o.Status = SyncConversionError
			}
			o.ServerID = f.ServerID
			out = append(out, o)
		case tagSyncAdd:
			var a SyncClientAdd
			o := commandOutcome{Kind: "add", Status: SyncConversionError}
			if err := decodeElement(el, &a); err != nil {
				out = append(out, o)
				continue
			}
			o.ClientID = a.ClientID
			drafts, err := run.draftsCollection(ctx, path)
			if err != nil {
				return nil, err
			}
			// Mail is created by Sync only as a 16.0+ draft; any other
			// Add gets Status 6, and the phone stops retrying it.
			if drafts && a.ApplicationData != nil && a.ClientID != "" {
				o.Status = 0
				if err := run.saveDraft(ctx, mb, st, c, path, "", a.ApplicationData, a.Send, &o); err != nil {
					return nil, err
				}
			}
			out = append(out, o)
		default:
			log.Info("ignoring unknown sync command", zap.Stringer("tag", el.Tag))
		}
	}
	return out, nil
}

// flagUpdate reads the writable fields of a phone's Change; a non-zero
// status refuses it.
func flagUpdate(e *Email, v Version) (FlagUpdate, int) {
	var u FlagUpdate
	if e == nil {
		return u, 0
	}
	if e.ConversationID != nil {
		// MS-ASEMAIL: ConversationId is read-only.
		return u, SyncConversionError
	}
	u.Read = e.Read
	if e.Flag != nil {
		if st := e.Flag.Status; st != nil && (*st < FlagCleared || *st > FlagActive) {
			return u, SyncConversionError
		}
		u.Flag = e.Flag
	}
	if e.Categories != nil && v.AtLeast(V140) {
		cats := append([]string{}, e.Categories.Category...)
		u.Categories = &cats
	}
	return u, 0
}

// responses builds the Responses element from the commands' outcomes,
// fetching the items of Fetch commands.
func (run *syncRun) responses(ctx context.Context, mb Mailbox, collectionID, path, cursor string, body BodyOptions, outcomes []commandOutcome) (*SyncResponses, error) {
	var rs SyncResponses
	n := 0
	for _, o := range outcomes {
		switch o.Kind {
		case "change":
			// A changed draft with attachments added learns their
			// FileReferences; other successful changes get no answer.
			if o.Status != 0 || len(o.Atts) > 0 {
				r := SyncStatusResponse{ServerID: o.ServerID, Status: o.Status}
				if r.Status == 0 {
					r.Status = SyncSuccess
				}
				r.ApplicationData = o.savedDraftData()
				rs.Change = append(rs.Change, r)
				n++
			}
		case "delete":
			if o.Status != 0 {
				rs.Delete = append(rs.Delete, SyncStatusResponse{ServerID: o.ServerID, Status: o.Status})
				n++
			}
		case "add":
			r := SyncAddResponse{ClientID: o.ClientID, ServerID: o.ServerID, Status: o.Status}
			if o.Status == SyncSuccess {
				r.ApplicationData = o.savedDraftData()
			}
			rs.Add = append(rs.Add, r)
			n++
		case "fetch":
			fr, err := run.fetchResponse(ctx, mb, collectionID, path, cursor, body, o)
			if err != nil {
				return nil, err
			}
			rs.Fetch = append(rs.Fetch, fr)
			n++
		}
	}
	if n == 0 {
		return nil, nil
	}
	return &rs, nil
}

// fetchResponse answers one Fetch command.
func (run *syncRun) fetchResponse(ctx context.Context, mb Mailbox, collectionID, path, cursor string, body BodyOptions, o commandOutcome) (SyncFetchResponse, error) {
	fr := SyncFetchResponse{ServerID: o.ServerID, Status: o.Status}
	if fr.Status != SyncSuccess {
		return fr, nil
	}
	id, ok := splitServerID(collectionID, o.ServerID)
	if !ok {
		fr.Status = SyncObjectNotFound
		return fr, nil
	}
	e, err := mb.Fetch(ctx, ItemRef{Path: path, ServerID: id, Cursor: cursor}, body)
	switch {
	case err == nil:
		fr.Item = classCodecs[ClassEmail].encode(e, run.r.version(), true)
	case errors.Is(err, ErrNotFound):
		fr.Status = SyncObjectNotFound
	case fatal(err):
		return fr, fmt.Errorf("fetch %s: %w", o.ServerID, err)
	default:
		run.r.log.Error("fetch for a phone failed", zap.String("item", o.ServerID), zap.Error(err))
		fr.Status = SyncServerError
	}
	return fr, nil
}
