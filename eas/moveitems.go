package eas

import (
	"context"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/easgate/easgate/wbxml"
)

// MoveItemsRequest is the MoveItems command's request (MS-ASCMD 2.2.1.12).
type MoveItemsRequest struct {
	XMLName wbxml.Name `wbxml:"Move:MoveItems"`
	Move    []MoveItem `wbxml:"Move"`
}

// MoveItem moves one item.
type MoveItem struct {
	SrcMsgID string `wbxml:"SrcMsgId"`
	SrcFldID string `wbxml:"SrcFldId"`
	DstFldID string `wbxml:"DstFldId"`
}

// MoveItemsResponse is the MoveItems command's response.
type MoveItemsResponse struct {
	XMLName  wbxml.Name   `wbxml:"Move:MoveItems"`
	Status   int          `wbxml:"Status,omitempty"`
	Response []MoveResult `wbxml:"Response"`
}

// MoveResult is the outcome of one move; DstMsgId is the item's ServerId in
// the destination.
type MoveResult struct {
	SrcMsgID string `wbxml:"SrcMsgId"`
	Status   int    `wbxml:"Status"`
	DstMsgID string `wbxml:"DstMsgId,omitempty"`
}

func (s *Server) handleMoveItems(ctx context.Context, r *request) (*reply, error) {
	var req MoveItemsRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	resp := &MoveItemsResponse{}
	for _, m := range req.Move {
		res, err := s.moveItem(ctx, r, m)
		if err != nil {
			return nil, err
		}
		resp.Response = append(resp.Response, res)
	}
	st := MoveSuccess
	if len(resp.Response) > 0 {
		st = resp.Response[0].Status
	}
	return &reply{body: resp, easStatus: st}, nil
}

func (s *Server) moveItem(ctx context.Context, r *request, m MoveItem) (MoveResult, error) {
	res := MoveResult{SrcMsgID: m.SrcMsgID}
	src, err := s.folderPath(ctx, r, m.SrcFldID)
	if errors.Is(err, ErrNotFound) {
		res.Status = MoveInvalidSource
		return res, nil
	}
	if err != nil {
		return res, err
	}
	id, ok := splitServerID(m.SrcFldID, m.SrcMsgID)
	if !ok {
		res.Status = MoveInvalidSource
		return res, nil
	}
	dst, err := s.folderPath(ctx, r, m.DstFldID)
	if errors.Is(err, ErrNotFound) {
		res.Status = MoveInvalidDestination
		return res, nil
	}
	if err != nil {
		return res, err
	}
	if m.SrcFldID == m.DstFldID {
		res.Status = MoveSameFolder
		return res, nil
	}
	mb, err := r.mailbox(ctx)
	if err != nil {
		return res, err
	}
	// The source's state is read once: its cursor guards the move, and
	// the move is recorded in it.
	srcState, err := s.loadCollection(ctx, r.user, r.q.DeviceID, m.SrcFldID)
	if err != nil {
		return res, err
	}
	ref := ItemRef{Path: src, ServerID: id}
	if srcState != nil {
		ref.Cursor = srcState.Meta.Cursor
	}
	newID, version, err := mb.Move(ctx, ref, dst)
	switch {
	case err == nil:
	case errors.Is(err, ErrNotFound):
		res.Status = MoveInvalidSource
		return res, nil
	case fatal(err):
		return res, fmt.Errorf("move %s: %w", m.SrcMsgID, err)
	default:
		r.log.Error("move failed", zap.String("item", m.SrcMsgID), zap.String("to", m.DstFldID), zap.Error(err))
		res.Status = MoveFailure
		return res, nil
	}
	res.Status = MoveSuccess
	res.DstMsgID = itemServerID(m.DstFldID, newID)
	return res, s.recordMove(ctx, r, m, srcState, id, newID, version)
}

// recordMove takes a move the phone made into both folders' states:
// neither folder's next Sync may send it back (a Delete in the source, an
// Add in the destination), whichever key the phone uses next.
func (s *Server) recordMove(ctx context.Context, r *request, m MoveItem, srcState *collectionState, id, newID, version string) error {
	// The destination records the flags the phone knew of the item, not
	// those it has now: MOVE keeps them, and a change another client made
	// that the phone has not seen yet must still reach it.
	known := version
	if srcState != nil {
		if v, ok := srcState.Known[id]; ok {
			known = v
		}
		srcState.ForgetBoth(id)
		if err := s.saveCollection(ctx, r.user, r.q.DeviceID, m.SrcFldID, srcState); err != nil {
			return err
		}
	}
	dstState, err := s.loadCollection(ctx, r.user, r.q.DeviceID, m.DstFldID)
	if err != nil || dstState == nil {
		return err
	}
	dstState.SetBoth(newID, known)
	return s.saveCollection(ctx, r.user, r.q.DeviceID, m.DstFldID, dstState)
}
