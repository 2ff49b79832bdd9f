package eas

import (
	"context"

	"github.com/easgate/easgate/wbxml"
)

// SmartReplyRequest is the SmartReply command's request from 14.0 on
// (MS-ASCMD 2.2.1.20): the phone's reply, to which easgate adds the quoted
// original unless ReplaceMime says the reply is complete.
type SmartReplyRequest struct {
	XMLName         wbxml.Name     `wbxml:"ComposeMail:SmartReply"`
	ClientID        string         `wbxml:"ClientId"`
	Source          *ComposeSource `wbxml:"Source,omitempty"`
	AccountID       string         `wbxml:"AccountId,omitempty"`
	SaveInSentItems bool           `wbxml:"SaveInSentItems,empty"`
	ReplaceMime     bool           `wbxml:"ReplaceMime,empty"`
	MIME            []byte         `wbxml:"Mime"`
	TemplateID      string         `wbxml:"RightsManagement:TemplateID,omitempty"`
}

func (s *Server) handleSmartReply(ctx context.Context, r *request) (*reply, error) {
	if r.rfc822Body() {
		return s.handleCompose(ctx, r, r.legacyCompose(composeReply), composeReply)
	}
	var req SmartReplyRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	return s.handleCompose(ctx, r, &composeRequest{
		clientID: req.ClientID, accountID: req.AccountID, templateID: req.TemplateID,
		saveInSent: req.SaveInSentItems, replaceMime: req.ReplaceMime, mime: req.MIME,
		source: req.Source,
	}, composeReply)
}
