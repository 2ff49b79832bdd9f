package eas

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

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
	// Item is the new item of a class other than mail.
	Item Item `wbxml:"ApplicationData,omitempty"`
	Send bool `wbxml:"Email2:Send,empty"`
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

// AddItemCommand appends a phone's Add of an item of any class.
func (c *SyncCommands) AddItemCommand(clientID string, it Item) error {
	return c.append(tagSyncAdd, SyncClientAdd{ClientID: clientID, Item: it})
}

// ChangeItemCommand appends a phone's Change of an item of any class.
func (c *SyncCommands) ChangeItemCommand(serverID string, it Item) error {
	return c.append(tagSyncChange, SyncItem{ServerID: serverID, Item: it})
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
	// window is the request-level WindowSize, nil when absent.
	window *int
	// now is when the request arrived.
	now time.Time
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
	// The first pass runs in a function of its own so that its frame is
	// off the stack while the Sync hangs (see handleEAS).
	h, rep, err := s.firstPass(ctx, r)
	if h == nil {
		return rep, err
	}
	return h.hang(ctx)
}

// hangingSync is a Sync whose first pass found nothing for the phone and
// that waits for changes.
type hangingSync struct {
	run   *syncRun
	colls []SyncCollection
	// watch are the folders of the collections that synced normally, byID
	// their indexes in colls.
	watch []watchedFolder
	byID  map[string]int
	wait  time.Duration
}

// firstPass checks a Sync and syncs its collections once. It returns the
// answer, or, when there is nothing to answer yet and the phone asked to
// wait, what hang needs.
func (s *Server) firstPass(ctx context.Context, r *request) (*hangingSync, *reply, error) {
	arrived := r.start
	var req SyncRequest
	empty := len(bytes.TrimSpace(r.body)) == 0
	if !empty {
		if err := r.decode(&req); err != nil {
			return nil, nil, err
		}
	}
	// Parsed: nothing reads the body again, and a Sync may hang an hour.
	r.body = nil
	cache, err := s.loadSyncCache(ctx, r)
	if err != nil {
		return nil, nil, err
	}
	m, status := mergeSyncRequest(req, empty, cache)
	if status != 0 {
		return nil, syncStatus(status), nil
	}
	wait, refused := waitDuration(m, s.cfg.MinHeartbeat, s.cfg.MaxHeartbeat)
	if refused == nil {
		refused = sizeLimit(m.colls)
	}
	if refused != nil {
		return nil, refused, nil
	}
	if err := s.withKeys(ctx, r, m.colls[m.cached:]); err != nil {
		return nil, nil, err
	}
	if m.next != nil {
		if err := s.saveSyncCache(ctx, r, m.next); err != nil {
			return nil, nil, err
		}
	}

	run := &syncRun{s: s, r: r, folders: newRequestFolders(r), window: m.window, now: arrived}
	results, anything, err := run.collections(ctx, m.colls)
	if err != nil {
		return nil, nil, err
	}
	if anything || wait == 0 {
		run.startPrefetch(ctx)
		return nil, syncAnswer(results), nil
	}
	// The first pass took the prefetched window if it was one of its
	// collections': any other is of no use to the collections synced
	// again after the wait, and is not kept for a wait of up to an hour.
	s.dropPrefetch(r)
	watch, byID := watchedCollections(results)
	return &hangingSync{run: run, colls: m.colls, watch: watch, byID: byID, wait: wait}, nil, nil
}

// collections syncs each collection once; anything tells whether the
// phone must hear of one.
func (run *syncRun) collections(ctx context.Context, colls []SyncCollection) ([]collectionResult, bool, error) {
	results := make([]collectionResult, 0, len(colls))
	anything := false
	for i := range colls {
		res, err := run.collection(ctx, &colls[i])
		if err != nil {
			return nil, false, err
		}
		anything = anything || res.something
		results = append(results, res)
	}
	return results, anything, nil
}

// hang holds a Sync that has nothing for the phone yet until something
// changes, for what is left of its heartbeat since the request arrived,
// and then syncs the collections that changed.
func (h *hangingSync) hang(ctx context.Context) (*reply, error) {
	s, r := h.run.s, h.run.r
	left := answerBefore(h.wait) - s.cfg.Now().Sub(h.run.now)
	if left <= 0 {
		// The first pass took the whole heartbeat.
		return &reply{}, nil
	}
	changed, outcome, err := s.waitForChanges(ctx, r, waitSpec{folders: h.watch, timeout: left})
	if err != nil {
		return nil, err
	}
	if outcome != waitChanged || len(changed) == 0 {
		// MS-ASCMD: a hanging Sync that ends without changes has an empty body.
		return &reply{}, nil
	}
	return h.resync(ctx, changed)
}

// watchedCollections lists the folders of the collections that synced
// normally, and their indexes by collection id.
func watchedCollections(results []collectionResult) ([]watchedFolder, map[string]int) {
	var watch []watchedFolder
	byID := map[string]int{}
	for i, res := range results {
		if res.path != "" {
			watch = append(watch, watchedFolder{ID: res.resp.CollectionID, Path: res.path})
			byID[res.resp.CollectionID] = i
		}
	}
	return watch, byID
}

// resync syncs the collections that changed while the Sync hung.
func (h *hangingSync) resync(ctx context.Context, changed []string) (*reply, error) {
	var again []collectionResult
	for _, id := range changed {
		i, ok := h.byID[id]
		if !ok {
			continue
		}
		c := h.colls[i]
		c.Commands = nil
		c.Options = nil
		res, err := h.run.collection(ctx, &c)
		if err != nil {
			return nil, err
		}
		again = append(again, res)
	}
	h.run.startPrefetch(ctx)
	return syncAnswer(again), nil
}

func syncAnswer(results []collectionResult) *reply {
	resp := &SyncResponse{}
	for _, res := range results {
		resp.Collections = append(resp.Collections, res.resp)
	}
	return &reply{body: resp, easStatus: SyncSuccess}
}
