package eas

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"

	"github.com/easgate/easgate/wbxml"
)

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

// Kinds of phone commands, as outcomes record them.
const (
	cmdAdd    = "add"
	cmdChange = "change"
	cmdDelete = "delete"
	cmdFetch  = "fetch"
)

type commandOutcome struct {
	Kind     string `json:"k"`
	ServerID string `json:"id,omitempty"`
	ClientID string `json:"cid,omitempty"`
	// Status 0: a Change or Delete that succeeded, which gets no response.
	Status int `json:"st,omitempty"`
	// Atts are the attachments a phone added to a draft.
	Atts []SavedAttachment `json:"a,omitempty"`
	// UID is the UID the server gave a phone's new calendar item.
	UID string `json:"uid,omitempty"`
}

// mutates tells an outcome that changed the store.
func (o *commandOutcome) mutates() bool {
	return o.Kind == cmdChange || o.Kind == cmdDelete || (o.Kind == cmdAdd && o.Status == SyncSuccess)
}

// savedDraftData tells a phone the FileReferences of the attachments it
// added to a draft, or the UID of the calendar item it added; nil when
// there is neither.
func (o *commandOutcome) savedDraftData() *SavedDraftData {
	if len(o.Atts) == 0 && o.UID == "" {
		return nil
	}
	d := &SavedDraftData{UID: o.UID}
	if len(o.Atts) > 0 {
		d.Attachments = &SavedAttachments{Attachment: o.Atts}
	}
	return d
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

// replayed returns the outcomes recorded for the commands of a repeated
// request (key and hash), false when the record is of other commands. A
// record that cannot be read is logged and counted: the commands are then
// applied again, which may duplicate a phone's Add.
func (cs *collSync) replayed(key, hash string) ([]commandOutcome, bool) {
	raw := cs.st.Meta.Replay
	if !cs.replay || len(raw) == 0 {
		return nil, false
	}
	var rec replayRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		cs.run.s.cfg.Metrics.stateCorrupt(cs.log, "replay", fmt.Errorf("replay record unreadable; applying the repeated commands again: %w", err))
		return nil, false
	}
	if rec.Key != key || rec.Hash != hash {
		return nil, false
	}
	return rec.Outcomes, true
}
