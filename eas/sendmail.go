package eas

import (
	"context"

	"github.com/easgate/easgate/wbxml"
)

// SendMailRequest is the SendMail command's request from 14.0 on (MS-ASCMD
// 2.2.1.17). SaveInSentItems asks for a copy in Sent; Mime is the message.
type SendMailRequest struct {
	XMLName         wbxml.Name `wbxml:"ComposeMail:SendMail"`
	ClientID        string     `wbxml:"ClientId"`
	AccountID       string     `wbxml:"AccountId,omitempty"`
	SaveInSentItems bool       `wbxml:"SaveInSentItems,empty"`
	MIME            []byte     `wbxml:"Mime"`
	TemplateID      string     `wbxml:"RightsManagement:TemplateID,omitempty"`
}

func (s *Server) handleSendMail(ctx context.Context, r *request) (*reply, error) {
	if r.rfc822Body() {
		return s.handleCompose(ctx, r, r.legacyCompose(composeSend), composeSend)
	}
	var req SendMailRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	return s.handleCompose(ctx, r, &composeRequest{
		clientID: req.ClientID, accountID: req.AccountID, templateID: req.TemplateID,
		saveInSent: req.SaveInSentItems, mime: req.MIME,
	}, composeSend)
}
