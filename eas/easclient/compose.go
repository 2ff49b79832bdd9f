package easclient

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/wbxml"
)

// ComposeError is a SendMail, SmartReply or SmartForward the server answered
// with a Status (14.0 on): the message was not sent.
type ComposeError struct {
	Command string
	Status  int
}

func (e *ComposeError) Error() string {
	return fmt.Sprintf("%s: status %d", e.Command, e.Status)
}

// SendMail sends a message the 14.0 way. A nil error means the server took
// it (HTTP 200, empty body).
func (c *Client) SendMail(ctx context.Context, req *eas.SendMailRequest) error {
	return c.compose(ctx, "SendMail", req)
}

// SmartReply sends a reply the 14.0 way.
func (c *Client) SmartReply(ctx context.Context, req *eas.SmartReplyRequest) error {
	return c.compose(ctx, "SmartReply", req)
}

// SmartForward sends a forward the 14.0 way.
func (c *Client) SmartForward(ctx context.Context, req *eas.SmartForwardRequest) error {
	return c.compose(ctx, "SmartForward", req)
}

func (c *Client) compose(ctx context.Context, cmd string, req any) error {
	res, err := c.DoParams(ctx, cmd, req, nil, Params{})
	if err != nil {
		return err
	}
	if len(res.Body) == 0 {
		return nil
	}
	e, err := wbxml.Parse(res.Body)
	if err != nil {
		return fmt.Errorf("decode %s response: %w", cmd, err)
	}
	st := e.ChildNS("ComposeMail", "Status")
	if st == nil {
		return fmt.Errorf("%s response without a Status", cmd)
	}
	n, err := strconv.Atoi(strings.TrimSpace(st.Text()))
	if err != nil {
		return fmt.Errorf("%s status %q: %w", cmd, st.Text(), err)
	}
	return &ComposeError{Command: cmd, Status: n}
}

// SendMIME sends cmd (SendMail, SmartReply or SmartForward) the 12.1 way:
// the message as a message/rfc822 body, the options in p (SaveInSent, and
// ItemId with CollectionId, or LongId, for the original). A refusal is an
// *HTTPError (12.1 has no status for it).
func (c *Client) SendMIME(ctx context.Context, cmd string, mime []byte, p Params) error {
	p.ContentType = "message/rfc822"
	_, err := c.Raw(ctx, cmd, mime, p)
	return err
}
