package mailconv

import (
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"

	"github.com/easgate/easgate/eas"
)

var cidRef = regexp.MustCompile(`(?i)\bcid:([^"'\s>)]+)`)

// attachmentParts lists the parts offered as attachments: every leaf the
// body does not show, with an attached message offered whole (its own parts
// are not listed).
func attachmentParts(root *node, used map[*node]bool) []*node {
	var out []*node
	walk(root, func(n *node) bool {
		if n.isMultipart() {
			return true
		}
		if !used[n] {
			out = append(out, n)
		}
		return false
	})
	return out
}

func attachments(root *node, used map[*node]bool, body content, ref func(string) string) *eas.Attachments {
	parts := attachmentParts(root, used)
	if len(parts) == 0 {
		return nil
	}
	cids := map[string]bool{}
	if body.hasHTML {
		for _, m := range cidRef.FindAllStringSubmatch(body.html, -1) {
			id := m[1]
			if u, err := url.PathUnescape(id); err == nil {
				id = u
			}
			cids[strings.ToLower(id)] = true
		}
	}
	// Of a cut HTML body the references past the cut are unknown: a part
	// of a multipart/related with a Content-ID is then taken as one.
	related := map[*node]bool{}
	if body.htmlCut {
		walk(root, func(n *node) bool {
			if n.mediaType == "multipart/related" {
				for _, c := range n.children {
					related[c] = true
				}
			}
			return true
		})
	}
	list := make([]eas.Attachment, 0, len(parts))
	for _, n := range parts {
		a := eas.Attachment{
			DisplayName:       attachmentName(n),
			FileReference:     n.path,
			Method:            eas.AttachNormal,
			EstimatedDataSize: n.decodedSize(),
			ContentID:         contentID(n),
			ContentLocation:   oneLine(n.header.Get("Content-Location")),
		}
		if ref != nil {
			a.FileReference = ref(n.path)
		}
		if n.isMessage() {
			a.Method = eas.AttachEmbedded
		}
		a.IsInline = a.ContentID != "" && (cids[strings.ToLower(a.ContentID)] || related[n]) ||
			n.disposition == "inline" && strings.HasPrefix(n.mediaType, "image/")
		list = append(list, a)
	}
	return &eas.Attachments{Attachment: list}
}

func contentID(n *node) string {
	return oneLine(strings.Trim(strings.TrimSpace(n.header.Get("Content-Id")), "<>"))
}

// defaultNames name the parts that senders leave unnamed, by type.
var defaultNames = map[string]string{
	"application/pkcs7-signature":      "smime.p7s",
	"application/x-pkcs7-signature":    "smime.p7s",
	"application/pkcs7-mime":           "smime.p7m",
	"application/x-pkcs7-mime":         "smime.p7m",
	"application/pgp-signature":        "signature.asc",
	"application/pgp-encrypted":        "pgp-version.txt",
	"text/calendar":                    "invite.ics",
	"text/plain":                       "attachment.txt",
	"text/html":                        "attachment.html",
	"text/rfc822-headers":              "headers.txt",
	"message/delivery-status":          "delivery-status.txt",
	"message/disposition-notification": "disposition-notification.txt",
	"image/png":                        "image.png",
	"image/jpeg":                       "image.jpg",
	"image/gif":                        "image.gif",
	"application/pdf":                  "document.pdf",
}

// attachmentName is the file name a phone shows and saves the part under.
func attachmentName(n *node) string {
	name := n.filename()
	if !isValidUTF8(name) {
		name = bestEffort([]byte(name))
	}
	// Some mailers send the full path of the file on the sender's disk.
	name = oneLine(name)
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	if name != "" {
		return name
	}
	if n.isMessage() {
		subject, _ := decodeHeader(n.embedded.header.Get("Subject"), headerCharset(n.embedded))
		subject = strings.Map(func(r rune) rune {
			if strings.ContainsRune(`/\:*?"<>|`, r) {
				return '_'
			}
			return r
		}, oneLine(subject))
		if subject == "" {
			subject = "message"
		}
		return subject + ".eml"
	}
	if d, ok := defaultNames[n.mediaType]; ok {
		return d
	}
	if sub, ok := strings.CutPrefix(n.mediaType, "image/"); ok && path.Base(sub) == sub {
		return fmt.Sprintf("image.%s", sub)
	}
	return "attachment.dat"
}
