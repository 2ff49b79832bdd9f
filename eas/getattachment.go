package eas

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"go.uber.org/zap"
)

// handleGetAttachment answers the 12.1 GetAttachment command (MS-ASCMD
// 2.2.1.8): the AttachmentName query parameter is a FileReference, and the
// answer is the attachment's bytes as they are. Failures have no body to
// carry a status, so they are HTTP statuses; MS-ASCMD gives 500 for an
// attachment that cannot be retrieved.
//
// MS-ASCMD drops the command from 14.0 on; it is still answered for any
// version, since a phone asking for it wants the bytes either way.
func (s *Server) handleGetAttachment(ctx context.Context, r *request) (*reply, error) {
	name := r.q.AttachmentName
	if name == "" {
		return nil, &badRequest{errors.New("GetAttachment without AttachmentName")}
	}
	mb, err := r.mailbox(ctx)
	if err != nil {
		return nil, err
	}
	a, err := mb.Attachment(ctx, name)
	switch {
	case err == nil:
	case fatal(err):
		return nil, fmt.Errorf("get attachment: %w", err)
	default:
		if !errors.Is(err, ErrNotFound) {
			r.log.Info("GetAttachment failed", zap.String("attachment", name), zap.Error(err))
		}
		return &reply{status: http.StatusInternalServerError, raw: []byte{}, contentType: "text/plain"}, nil
	}
	ct := a.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	data := a.Data
	if data == nil {
		data = []byte{}
	}
	return &reply{raw: data, contentType: ct}, nil
}
