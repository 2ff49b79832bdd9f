package notes

import (
	"context"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/easgate/easgate/bridge"
	"github.com/easgate/easgate/bridge/mailconv"
	"github.com/easgate/easgate/eas"
)

// converted is a note read for the phone; err says what could not be
// read of it.
type converted struct {
	note *eas.Note
	err  error
}

var wholeSection = &imap.FetchItemBodySection{Peek: true}

// notes fetches the messages of want and converts them.
func (s *Session) notes(ctx context.Context, path string, want []*note, body eas.BodyOptions) (map[string]converted, error) {
	var set imap.UIDSet
	byUID := make(map[imap.UID]*note, len(want))
	for _, n := range want {
		set.AddNum(n.uid)
		byUID[n.uid] = n
	}
	var msgs []*imapclient.FetchMessageBuffer
	err := s.m.InFolder(ctx, path, true, func(c *imapclient.Client, _ *imap.SelectData) error {
		var err error
		msgs, err = c.Fetch(set, &imap.FetchOptions{UID: true, Flags: true, InternalDate: true,
			BodySection: []*imap.FetchItemBodySection{wholeSection}}).Collect()
		return err
	})
	if err != nil {
		return nil, s.missing(err)
	}
	out := make(map[string]converted, len(msgs))
	opt := noteBody(body)
	for _, msg := range msgs {
		n := byUID[msg.UID]
		if n == nil {
			continue
		}
		out[n.id] = toNote(msg.FindBodySection(wholeSection), msg.Flags, msg.InternalDate, opt)
	}
	return out, nil
}

// noteBody keeps the body types a note has (MS-ASNOTE: plain text and
// HTML): a note is never sent as MIME.
func noteBody(o eas.BodyOptions) eas.BodyOptions {
	o.MIMESupport = 0
	return o
}

// toNote converts a note's message: the Subject is the title, the Date
// the last change (INTERNALDATE when there is none), the keywords the
// categories.
func toNote(raw []byte, flags []imap.Flag, internal time.Time, body eas.BodyOptions) converted {
	e, err := mailconv.Convert(raw, mailconv.Options{Body: body})
	n := &eas.Note{
		Subject:      e.Subject,
		Body:         e.Body,
		MessageClass: "IPM.StickyNote",
		Categories:   &eas.NoteCategories{Category: bridge.FlagCategories(flags)},
	}
	n.LastModifiedDate = e.DateReceived
	if n.LastModifiedDate.IsZero() {
		n.LastModifiedDate = internal
	}
	n.LastModifiedDate = n.LastModifiedDate.UTC()
	return converted{note: n, err: err}
}
