package mailconv

import (
	"fmt"
	"mime"
	"strings"

	"github.com/easgate/easgate/eas"
)

// Attachment returns the decoded bytes and content type of the part at an
// IMAP section path. An attached message comes back whole, as
// message/rfc822. A path that names no such part (or a multipart, which is
// no attachment) gives an error wrapping eas.ErrNotFound.
func Attachment(raw []byte, part string) (data *eas.AttachmentData, err error) {
	defer func() {
		if r := recover(); r != nil {
			data, err = nil, fmt.Errorf("reading part %s: internal error: %v", part, r)
		}
	}()
	return attachment(raw, part)
}

func attachment(raw []byte, part string) (*eas.AttachmentData, error) {
	p := &parser{keep: func(n *node) bool { return n.path == part }}
	root := p.parse(raw, "", 0)
	n := find(root, part)
	if n == nil || !n.kept {
		if perr := p.err(); perr != nil {
			return nil, fmt.Errorf("part %s: %w (message is damaged: %v)", part, eas.ErrNotFound, perr)
		}
		return nil, fmt.Errorf("part %s: %w", part, eas.ErrNotFound)
	}
	b, err := decodeTransfer(n.cte(), n.raw)
	if err != nil {
		return &eas.AttachmentData{ContentType: partContentType(n), Data: b}, fmt.Errorf("part %s: %w", part, err)
	}
	return &eas.AttachmentData{ContentType: partContentType(n), Data: b}, nil
}

// partContentType is the media type of a part, with the charset of text
// kept so the phone can read the bytes it gets.
func partContentType(n *node) string {
	if n.broken {
		return "text/plain"
	}
	if cs := n.params["charset"]; cs != "" && strings.HasPrefix(n.mediaType, "text/") {
		if t := mime.FormatMediaType(n.mediaType, map[string]string{"charset": strings.ToLower(cs)}); t != "" {
			return t
		}
	}
	return n.mediaType
}
