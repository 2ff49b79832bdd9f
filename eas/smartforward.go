package eas

import (
	"context"
	"strings"

	"github.com/easgate/easgate/wbxml"
)

// SmartForwardRequest is the SmartForward command's request from 14.0 on
// (MS-ASCMD 2.2.1.19): the phone's message, to which easgate adds the
// original's text and attachments unless ReplaceMime says it is complete.
// Forwardees (16.0+) are further recipients the message does not name.
type SmartForwardRequest struct {
	XMLName         wbxml.Name     `wbxml:"ComposeMail:SmartForward"`
	ClientID        string         `wbxml:"ClientId"`
	Source          *ComposeSource `wbxml:"Source,omitempty"`
	AccountID       string         `wbxml:"AccountId,omitempty"`
	SaveInSentItems bool           `wbxml:"SaveInSentItems,empty"`
	ReplaceMime     bool           `wbxml:"ReplaceMime,empty"`
	MIME            []byte         `wbxml:"Mime"`
	TemplateID      string         `wbxml:"RightsManagement:TemplateID,omitempty"`
	Forwardees      *Forwardees    `wbxml:"Forwardees,omitempty"`
}

// Forwardees lists the extra recipients of a SmartForward.
type Forwardees struct {
	Forwardee []Forwardee `wbxml:"Forwardee"`
}

// Forwardee is one extra recipient.
type Forwardee struct {
	Name  string `wbxml:"Name,omitempty"`
	Email string `wbxml:"Email"`
}

func (s *Server) handleSmartForward(ctx context.Context, r *request) (*reply, error) {
	if r.rfc822Body() {
		return s.handleCompose(ctx, r, r.legacyCompose(composeForward), composeForward)
	}
	var req SmartForwardRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	c := &composeRequest{
		clientID: req.ClientID, accountID: req.AccountID, templateID: req.TemplateID,
		saveInSent: req.SaveInSentItems, replaceMime: req.ReplaceMime, mime: req.MIME,
		source: req.Source,
	}
	if req.Forwardees != nil {
		for _, f := range req.Forwardees.Forwardee {
			if e := strings.TrimSpace(f.Email); e != "" {
				c.forwardees = append(c.forwardees, e)
			}
		}
	}
	return s.handleCompose(ctx, r, c, composeForward)
}
