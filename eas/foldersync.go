package eas

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/easgate/easgate/wbxml"
)

// FolderSyncRequest is the FolderSync command's request (MS-ASCMD 2.2.1.5).
type FolderSyncRequest struct {
	XMLName wbxml.Name `wbxml:"FolderHierarchy:FolderSync"`
	SyncKey string     `wbxml:"SyncKey"`
}

// FolderSyncResponse is the FolderSync command's response.
type FolderSyncResponse struct {
	XMLName wbxml.Name     `wbxml:"FolderHierarchy:FolderSync"`
	Status  int            `wbxml:"Status"`
	SyncKey string         `wbxml:"SyncKey,omitempty"`
	Changes *FolderChanges `wbxml:"Changes,omitempty"`
}

// FolderChanges lists the hierarchy changes since the phone's key.
type FolderChanges struct {
	Count  int            `wbxml:"Count"`
	Update []FolderEntry  `wbxml:"Update"`
	Delete []FolderDelete `wbxml:"Delete"`
	Add    []FolderEntry  `wbxml:"Add"`
}

// FolderEntry is a folder of an Add or Update.
type FolderEntry struct {
	ServerID    string `wbxml:"ServerId"`
	ParentID    string `wbxml:"ParentId"`
	DisplayName string `wbxml:"DisplayName"`
	Type        int    `wbxml:"Type"`
}

// FolderDelete names a folder that is gone.
type FolderDelete struct {
	ServerID string `wbxml:"ServerId"`
}

// newLineage returns a random tag that starts a new line of sync keys.
func newLineage() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("eas: no randomness for a sync key: %v", err))
	}
	return hex.EncodeToString(b[:])
}

// syncKey formats the n-th key of a lineage. Keys are opaque to phones; the
// lineage makes a key issued before a reset useless afterwards.
func syncKey(lineage string, n int) string {
	return "{" + lineage + "}" + strconv.Itoa(n)
}

func (s *Server) handleFolderSync(ctx context.Context, r *request) (*reply, error) {
	var req FolderSyncRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	h, err := s.loadHierarchy(ctx, r)
	if err != nil {
		return nil, err
	}
	var have []deviceFolder
	switch {
	case req.SyncKey == "0":
		h = &hierarchyState{Lineage: newLineage()}
	case h != nil && req.SyncKey == h.Key:
		have = h.Folders
	case h != nil && h.PrevKey != "" && req.SyncKey == h.PrevKey:
		// The phone lost our last answer: compute again from what it had.
		have = h.PrevFolders
	default:
		resp := &FolderSyncResponse{Status: FolderInvalidSyncKey}
		return &reply{body: resp, easStatus: resp.Status}, nil
	}
	mapped, err := s.folderMap(ctx, r)
	if err != nil {
		return nil, err
	}
	want := deviceFolders(mapped)
	adds, updates, deletes := hierarchyDiff(have, want)
	resp := &FolderSyncResponse{Status: FolderSuccess}
	n := len(adds) + len(updates) + len(deletes)
	if n == 0 && req.SyncKey != "0" && req.SyncKey == h.Key {
		resp.SyncKey = h.Key
		resp.Changes = &FolderChanges{}
		return &reply{body: resp, easStatus: resp.Status}, nil
	}
	ch := &FolderChanges{Count: n}
	for _, f := range updates {
		ch.Update = append(ch.Update, folderEntry(f))
	}
	for _, f := range deletes {
		ch.Delete = append(ch.Delete, FolderDelete{ServerID: f.ID})
	}
	for _, f := range adds {
		ch.Add = append(ch.Add, folderEntry(f))
	}
	h.PrevKey, h.PrevFolders = req.SyncKey, have
	if req.SyncKey == "0" {
		h.PrevKey, h.PrevFolders = "", nil
	}
	h.Counter++
	h.Key = syncKey(h.Lineage, h.Counter)
	h.Folders = want
	if err := s.saveHierarchy(ctx, r, h); err != nil {
		return nil, err
	}
	resp.SyncKey = h.Key
	resp.Changes = ch
	return &reply{body: resp, easStatus: resp.Status}, nil
}

func folderEntry(f deviceFolder) FolderEntry {
	return FolderEntry{ServerID: f.ID, ParentID: f.ParentID, DisplayName: f.Name, Type: int(f.Type)}
}
