package eas

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/easgate/easgate/wbxml"
)

// SendMail, SmartReply and SmartForward (MS-ASCMD 2.2.1.17, 2.2.1.19,
// 2.2.1.20) share everything but the original message; this file holds
// what they share. From 14.0 on the request is WBXML with the message as
// opaque Mime; up to 12.1 the body is the message itself (message/rfc822)
// and the options travel in the query.
//
// Success is HTTP 200 with an empty body. A failure is the command's root
// element with a Status from 14.0 on, and HTTP 500 before (12.1 has no
// status for it). Either way the phone keeps the message and may try again.

// ComposeSource names the original of a SmartReply or SmartForward: a
// FolderId and ItemId from Sync, or a LongId from Search. InstanceId picks
// an occurrence of a meeting, which a mail-only server has none of.
type ComposeSource struct {
	FolderID   string `wbxml:"FolderId,omitempty"`
	ItemID     string `wbxml:"ItemId,omitempty"`
	LongID     string `wbxml:"LongId,omitempty"`
	InstanceID string `wbxml:"InstanceId,omitempty"`
}

// composeKind tells the three commands apart.
type composeKind int

const (
	composeSend composeKind = iota
	composeReply
	composeForward
)

// composeRequest is a SendMail, SmartReply or SmartForward in either form.
type composeRequest struct {
	// legacy: the 12.1 form (no ClientId; failures are HTTP 500).
	legacy      bool
	clientID    string
	accountID   string
	templateID  string
	saveInSent  bool
	replaceMime bool
	mime        []byte
	source      *ComposeSource
	forwardees  []string
}

// maxClientID bounds the ClientId kept per sent message. MS-ASCMD allows
// 40 characters; longer ones are accepted as long as they stay reasonable.
const maxClientID = 256

// rfc822Body reports whether the request carries a bare message: always up
// to 12.1, and from 14.0 on when the Content-Type says so.
func (r *request) rfc822Body() bool {
	if !r.version().AtLeast(V140) {
		return true
	}
	mt, _, _ := mime.ParseMediaType(r.http.Header.Get("Content-Type"))
	return strings.EqualFold(mt, "message/rfc822")
}

// legacyCompose reads the 12.1 form: the body is the message, SaveInSent,
// ItemId, CollectionId and LongId come from the query.
func (r *request) legacyCompose(kind composeKind) *composeRequest {
	req := &composeRequest{legacy: true, mime: r.body, saveInSent: r.q.SaveInSent}
	if kind != composeSend && (r.q.ItemID != "" || r.q.LongID != "") {
		req.source = &ComposeSource{FolderID: r.q.CollectionID, ItemID: r.q.ItemID, LongID: r.q.LongID}
	}
	return req
}

// handleCompose runs one of the three commands.
func (s *Server) handleCompose(ctx context.Context, r *request, req *composeRequest, kind composeKind) (*reply, error) {
	st, err := s.compose(ctx, r, req, kind)
	if err != nil {
		return nil, err
	}
	switch {
	case st == 0:
		return &reply{}, nil
	case req.legacy:
		return &reply{status: 500, easStatus: st}, nil
	}
	return statusReply(r.cmd, st), nil
}

// compose checks the request, sends the message unless it was sent before,
// and returns the failure status (0 on success). Errors end the request
// (the phone is gone, or its credentials stopped working).
func (s *Server) compose(ctx context.Context, r *request, req *composeRequest, kind composeKind) (int, error) {
	log := r.log.With(zap.String("cmd", r.cmd.name))
	if req.clientID != "" {
		log = log.With(zap.String("clientId", req.clientID))
	}
	refuse := func(st int, why string) (int, error) {
		log.Warn("message not sent", zap.Int("status", st), zap.String("reason", why))
		return st, nil
	}
	if !req.legacy {
		switch {
		case req.clientID == "":
			return refuse(StatusInvalidXML, "no ClientId")
		case len(req.clientID) > maxClientID:
			return refuse(StatusInvalidXML, "ClientId too long")
		case req.accountID != "":
			// Settings names no accounts, so no AccountId can be valid.
			return refuse(StatusInvalidAccountID, "unknown AccountId")
		case req.templateID != "":
			// Sending a message meant to be rights-protected without the
			// protection would leak it; easgate has no IRM.
			return refuse(StatusIRMFeatureDisabled, "rights management template requested")
		}
	}
	if len(req.mime) == 0 {
		return refuse(StatusInvalidMIME, "no message")
	}

	if req.clientID != "" {
		sent, err := s.wasSent(ctx, r, req.clientID)
		if err != nil {
			return 0, err
		}
		if sent {
			// The phone missed our answer and sent the message again. It
			// went out the first time, so the phone hears success: AOSP's
			// Exchange client (EasOutboxSyncHandler) treats every Status in
			// a SendMail answer as a failure and leaves the message in its
			// Outbox marked failed, which for Status 118 would invite the
			// user to send it a third time.
			log.Info("ClientId already sent; not sending it again")
			return 0, nil
		}
	}

	c := Compose{
		MIME: req.mime, Forward: kind == composeForward, ReplaceMime: req.replaceMime,
		SaveInSent: req.saveInSent, Forwardees: req.forwardees,
	}
	if kind != composeSend {
		src, err := s.composeSource(ctx, r, req.source)
		if err != nil {
			return 0, err
		}
		// With ReplaceMime the message is complete without its original;
		// a vanished original then only goes without its flag.
		if src == nil && !req.replaceMime {
			return refuse(StatusItemNotFound, "original message not found")
		}
		c.Source = src
	}

	mb, err := r.mailbox(ctx)
	if err != nil {
		if errors.Is(err, ErrUnavailable) {
			return refuse(StatusServerErrorRetryLater, err.Error())
		}
		return 0, err
	}
	if err := mb.Send(ctx, c); err != nil {
		st := sendStatus(err)
		var se *SendError
		fields := []zap.Field{zap.Int("status", st), zap.Error(err)}
		if errors.As(err, &se) && se.Code != 0 {
			fields = append(fields, zap.Int("upstreamCode", se.Code))
		}
		log.Warn("message not sent", fields...)
		return st, nil
	}
	if req.clientID != "" {
		// The message is out: remember it even if the phone hung up.
		if err := s.recordSent(context.WithoutCancel(ctx), r, req.clientID); err != nil {
			log.Error("message sent, but its ClientId was not recorded; a retry would send it again", zap.Error(err))
		}
	}
	return 0, nil
}

// sendStatus maps a failed send to the ComposeMail status the phone sees.
func sendStatus(err error) int {
	var se *SendError
	if !errors.As(err, &se) {
		switch {
		case errors.Is(err, ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
			return StatusServerErrorRetryLater
		case errors.Is(err, ErrNotFound):
			return StatusItemNotFound
		}
		return StatusServerError
	}
	switch {
	case se.Reason == SendSourceNotFound:
		return StatusItemNotFound
	case se.Reason == SendInvalidMIME:
		return StatusInvalidMIME
	case se.Reason == SendNoRecipient:
		return StatusMessageHasNoRecipient
	case se.Reason == SendTooLarge:
		return StatusAttachmentTooLarge
	case se.Temporary:
		return StatusServerErrorRetryLater
	case se.Reason == SendRecipientRejected:
		return StatusRecipientUnresolved
	case se.Reason == SendComposeFailed:
		return StatusMessageReplyFailed
	}
	return StatusMailSubmissionFailed
}

// composeSource finds the original a SmartReply or SmartForward names; nil
// when it names none easgate knows.
func (s *Server) composeSource(ctx context.Context, r *request, src *ComposeSource) (*ItemRef, error) {
	if src == nil {
		return nil, nil
	}
	var coll, id string
	switch {
	case src.LongID != "":
		c, i, err := parseLongID(src.LongID)
		if err != nil {
			return nil, nil
		}
		coll, id = c, i
	case src.ItemID != "" && src.FolderID != "":
		i, ok := splitServerID(src.FolderID, src.ItemID)
		if !ok {
			return nil, nil
		}
		coll, id = src.FolderID, i
	case src.ItemID != "":
		// The ServerId names its collection itself.
		c, i, ok := parseServerID(src.ItemID)
		if !ok {
			return nil, nil
		}
		coll, id = c, i
	default:
		return nil, nil
	}
	path, err := s.folderPath(ctx, r, coll)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	cursor, err := s.cursorOf(ctx, r, coll)
	if err != nil {
		return nil, err
	}
	return &ItemRef{Path: path, ServerID: id, Cursor: cursor}, nil
}

// Sent ClientIds.
//
// A ClientId is recorded only after its message went out, so that a failed
// send stays retryable, and the device lock keeps a retry from racing the
// first attempt.

// sentMemory is how long a ClientId is remembered; phones retry within
// minutes, but one that was offline for a weekend retries then.
const sentMemory = 7 * 24 * time.Hour

// wasSent reports whether the device's message with this ClientId went out.
func (s *Server) wasSent(ctx context.Context, r *request, clientID string) (bool, error) {
	sent, err := s.store.SentBefore(ctx, r.user, r.q.DeviceID, clientID, s.cfg.Now().Add(-sentMemory))
	if err != nil {
		return false, fmt.Errorf("look up ClientId: %w", err)
	}
	return sent, nil
}

// recordSent remembers that the message with this ClientId went out.
func (s *Server) recordSent(ctx context.Context, r *request, clientID string) error {
	if _, err := s.store.MarkSent(ctx, r.user, r.q.DeviceID, clientID, s.cfg.Now()); err != nil {
		return fmt.Errorf("record ClientId: %w", err)
	}
	return nil
}

// Responses: the root element of the request with a Status, on failure.

// SendMailResponse is a failed SendMail's answer.
type SendMailResponse struct {
	XMLName wbxml.Name `wbxml:"ComposeMail:SendMail"`
	Status  int        `wbxml:"Status"`
}

// SmartReplyResponse is a failed SmartReply's answer.
type SmartReplyResponse struct {
	XMLName wbxml.Name `wbxml:"ComposeMail:SmartReply"`
	Status  int        `wbxml:"Status"`
}

// SmartForwardResponse is a failed SmartForward's answer.
type SmartForwardResponse struct {
	XMLName wbxml.Name `wbxml:"ComposeMail:SmartForward"`
	Status  int        `wbxml:"Status"`
}
