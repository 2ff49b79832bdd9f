package eas

import (
	"bytes"
	"context"
	"errors"
	"time"

	"go.uber.org/zap"

	"github.com/easgate/easgate/wbxml"
)

// PingRequest is the Ping command's request (MS-ASCMD 2.2.1.13). An empty
// HTTP body, or a Ping without either element, stands for the device's
// previous parameters.
type PingRequest struct {
	XMLName wbxml.Name `wbxml:"Ping:Ping"`
	// HeartbeatInterval is in seconds.
	HeartbeatInterval *int         `wbxml:"HeartbeatInterval,omitempty"`
	Folders           []PingFolder `wbxml:"Folders>Folder"`
}

// PingFolder is one folder a Ping watches.
type PingFolder struct {
	ID    string `wbxml:"Id"`
	Class string `wbxml:"Class"`
}

// PingResponse is the Ping command's response, its elements in the order
// of the schema.
type PingResponse struct {
	XMLName wbxml.Name `wbxml:"Ping:Ping"`
	Status  int        `wbxml:"Status"`
	// Folders are the ids of the folders that changed (Status 2).
	Folders []string `wbxml:"Folders>Folder"`
	// MaxFolders comes with Status 6.
	MaxFolders int `wbxml:"MaxFolders,omitempty"`
	// HeartbeatInterval comes with Status 5: the bound the request passed.
	HeartbeatInterval int `wbxml:"HeartbeatInterval,omitempty"`
}

const statePing = "ping"

// pingParams are a device's Ping parameters, kept for Pings that omit them
// (MS-ASCMD 3.1.5.8).
type pingParams struct {
	Heartbeat int          `json:"heartbeat"`
	Folders   []PingFolder `json:"folders"`
}

// maxPingFolderID is the longest folder Id the schema allows.
const maxPingFolderID = 64

func pingStatus(resp *PingResponse) *reply {
	return &reply{body: resp, easStatus: resp.Status}
}

// loadPingParams returns the device's stored Ping parameters; unreadable
// ones are missing ones: the phone sends them again after Status 3.
func (s *Server) loadPingParams(ctx context.Context, r *request) (*pingParams, error) {
	return loadDeviceState[pingParams](ctx, s, r, statePing, "ping parameters")
}

func (s *Server) savePingParams(ctx context.Context, r *request, p *pingParams) error {
	return s.saveDeviceState(ctx, r, statePing, "ping parameters", p)
}

// pingWait is what a Ping that passed its checks waits for.
type pingWait struct {
	// folders are the phone's, in its order, for the answer.
	folders  []PingFolder
	watched  []watchedFolder
	deadline time.Time
}

func (s *Server) handlePing(ctx context.Context, r *request) (*reply, error) {
	// The checks run in a function of their own so that their frame is
	// off the stack during the wait (see handleEAS).
	p, rep, err := s.preparePing(ctx, r)
	if p == nil {
		return rep, err
	}
	wait := p.deadline.Sub(s.cfg.Now())
	changed, outcome, err := s.waitForChanges(ctx, r, waitSpec{folders: p.watched, timeout: max(wait, 0), hierarchy: true})
	if err != nil {
		return s.pingFailure(ctx, r, err, p.deadline)
	}
	return pingAnswer(outcome, changed, p.folders), nil
}

// pingAnswer answers a Ping whose wait ended with outcome.
func pingAnswer(outcome waitOutcome, changed []string, folders []PingFolder) *reply {
	switch outcome {
	case waitChanged:
		return pingStatus(&PingResponse{Status: PingChanges, Folders: inRequestOrder(changed, folders)})
	case waitHierarchy:
		return pingStatus(&PingResponse{Status: PingHierarchyChanged})
	}
	// Expired, or superseded by a newer Ping or Sync of the device: Status 1
	// makes the phone simply go on.
	return pingStatus(&PingResponse{Status: PingExpired})
}

// preparePing checks a Ping and finds the folders it watches; without a
// pingWait it returns the Ping's answer at once. The parsed request is
// not kept for the wait: only the folder ids are.
func (s *Server) preparePing(ctx context.Context, r *request) (*pingWait, *reply, error) {
	// The heartbeat runs from the request's arrival: time spent reading
	// the body or waiting for the device counts against it, since the
	// phone's own timer started when it sent the request.
	deadline := r.start.Add(answerBefore(s.cfg.MinHeartbeat))
	var req PingRequest
	if len(bytes.TrimSpace(r.body)) > 0 {
		if err := r.decode(&req); err != nil {
			r.log.Info("malformed Ping", zap.Error(err))
			return nil, pingStatus(&PingResponse{Status: PingSyntaxError}), nil
		}
	}
	// Parsed: nothing reads the body again, and a Ping may wait an hour.
	r.body = nil
	stored, err := s.loadPingParams(ctx, r)
	if err != nil {
		return s.pingFailed(ctx, r, err, deadline)
	}
	p := pingParams{}
	if stored != nil {
		p = *stored
	}
	hasHeartbeat := p.Heartbeat != 0
	if req.HeartbeatInterval != nil {
		p.Heartbeat, hasHeartbeat = *req.HeartbeatInterval, true
	}
	if len(req.Folders) > 0 {
		p.Folders = req.Folders
	}
	if !hasHeartbeat || len(p.Folders) == 0 {
		return nil, pingStatus(&PingResponse{Status: PingMissingParams}), nil
	}

	lo, hi := int(s.cfg.MinHeartbeat/time.Second), int(s.cfg.MaxHeartbeat/time.Second)
	if p.Heartbeat >= lo && p.Heartbeat <= hi {
		deadline = r.start.Add(answerBefore(time.Duration(p.Heartbeat) * time.Second))
	}
	switch {
	case p.Heartbeat < lo:
		return nil, pingStatus(&PingResponse{Status: PingInvalidInterval, HeartbeatInterval: lo}), nil
	case p.Heartbeat > hi:
		return nil, pingStatus(&PingResponse{Status: PingInvalidInterval, HeartbeatInterval: hi}), nil
	}
	if len(p.Folders) > s.cfg.MaxPingFolders {
		return nil, pingStatus(&PingResponse{Status: PingTooManyFolders, MaxFolders: s.cfg.MaxPingFolders}), nil
	}
	seen := make(map[string]bool, len(p.Folders))
	for _, f := range p.Folders {
		if f.ID == "" || len(f.ID) > maxPingFolderID || seen[f.ID] {
			return nil, pingStatus(&PingResponse{Status: PingSyntaxError}), nil
		}
		seen[f.ID] = true
	}
	if req.HeartbeatInterval != nil || len(req.Folders) > 0 {
		if err := s.savePingParams(ctx, r, &p); err != nil {
			return s.pingFailed(ctx, r, err, deadline)
		}
	}

	// A folder the device names but the server no longer has, or a folder
	// list that moved since the device's FolderSync: the phone must run
	// FolderSync before its Ping means anything.
	folders := make([]watchedFolder, 0, len(p.Folders))
	for _, f := range p.Folders {
		path, err := s.folderPath(ctx, r, f.ID)
		if errors.Is(err, ErrNotFound) {
			return nil, pingStatus(&PingResponse{Status: PingHierarchyChanged}), nil
		}
		if err != nil {
			return s.pingFailed(ctx, r, err, deadline)
		}
		folders = append(folders, watchedFolder{ID: f.ID, Path: path})
	}
	moved, err := s.hierarchyChanged(ctx, r)
	if err != nil {
		return s.pingFailed(ctx, r, err, deadline)
	}
	if moved {
		return nil, pingStatus(&PingResponse{Status: PingHierarchyChanged}), nil
	}
	// Nothing after the wait reads the folder ids the checks cached (a
	// notice lists the folders afresh): they are not kept for a wait of
	// up to an hour.
	r.folderIDs = nil
	return &pingWait{folders: p.Folders, watched: folders, deadline: deadline}, nil, nil
}

// pingFailed is pingFailure for preparePing.
func (s *Server) pingFailed(ctx context.Context, r *request, err error, deadline time.Time) (*pingWait, *reply, error) {
	rep, err := s.pingFailure(ctx, r, err, deadline)
	return nil, rep, err
}

// pingFailure answers a failed Ping: the phone went away (no answer), its
// credentials are refused (HTTP 401 through the dispatcher), anything else
// is Status 8 and the phone retries. While the upstream is down, Status 8
// comes only after holdWhileDown: answered at once, phones would ask
// again and again.
func (s *Server) pingFailure(ctx context.Context, r *request, err error, deadline time.Time) (*reply, error) {
	if errors.Is(err, context.Canceled) || errors.Is(err, ErrUnauthorized) {
		return nil, err
	}
	r.log.Warn("ping failed", zap.Error(err))
	if errors.Is(err, ErrUnavailable) {
		s.holdWhileDown(ctx, r, deadline)
	}
	return pingStatus(&PingResponse{Status: PingServerError}), nil
}

// upstreamProbeInterval is how often a Ping held while the upstream is
// down checks whether it is back.
const upstreamProbeInterval = 5 * time.Second

// holdWhileDown holds a Ping whose upstream is down until the upstream
// answers again, UpstreamRetry passes or the Ping's deadline comes, a
// newer request of the device supersedes it, the phone hangs up or the
// server closes. Like a waiting Ping it holds neither the device nor an
// upstream connection meanwhile.
func (s *Server) holdWhileDown(ctx context.Context, r *request, deadline time.Time) {
	hold := min(s.cfg.UpstreamRetry, deadline.Sub(s.cfg.Now()))
	if hold <= 0 {
		return
	}
	// Waiting before letting the device go: a newer request that comes
	// meanwhile finds the wait to end.
	woken, done := s.devices.wait(deviceKey{r.user, r.q.DeviceID}, r.number)
	defer done()
	r.releaseMailbox()
	r.unlockDevice()
	timer := time.NewTimer(hold)
	defer timer.Stop()
	probe := time.NewTicker(min(upstreamProbeInterval, hold))
	defer probe.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-woken:
			return
		case <-timer.C:
			return
		case <-s.quit:
			return
		case <-probe.C:
			if mb, err := s.backend.Open(ctx, r.cred); err == nil {
				mb.Close()
				return
			}
		}
	}
}

// inRequestOrder lists the changed ids in the order the phone listed them.
func inRequestOrder(changed []string, folders []PingFolder) []string {
	set := make(map[string]bool, len(changed))
	for _, id := range changed {
		set[id] = true
	}
	out := make([]string, 0, len(changed))
	for _, f := range folders {
		if set[f.ID] {
			out = append(out, f.ID)
		}
	}
	return out
}
