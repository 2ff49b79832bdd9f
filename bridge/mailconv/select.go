package mailconv

import (
	"fmt"
	"unicode/utf8"

	"github.com/easgate/easgate/eas"
)

// selectBody renders the body the phone asked for.
//
// The rules, from MS-ASAIRS and what Exchange does:
//
//   - No BodyPreference at all: plain text, whole, which is what a client
//     that predates AirSyncBase preferences expects.
//   - MIME (Type 4) is sent when MIMESupport is 2 and the phone has a Type 4
//     preference, or when MIMESupport is 1 and the message is S/MIME, which
//     cannot be shown any other way (MS-ASCMD, MIMESupport). The data is the
//     whole RFC 5322 message, cut on a byte boundary at the smaller of
//     MIMETruncation and the Type 4 TruncationSize.
//   - Otherwise the text preferences are tried: first the one whose Type
//     matches the message's native format (MS-ASAIRS 2.2.2.3.2: by default
//     the server returns the type that matches the native storage format),
//     then the others in the phone's order. RTF (Type 3) is not produced.
//   - A preference whose body would be truncated and that carries AllOrNone
//     is skipped in favour of the next (MS-ASAIRS 2.2.2.3.2). When every
//     preference is skipped so, the first one is answered with Truncated,
//     the full EstimatedDataSize and no data: the phone learns the size and
//     can fetch the whole body.
//   - HTML asked for and only plain text there: the text is sent as a
//     minimal HTML document. MS-ASAIRS 2.2.2.32 (NativeBodyType) expects the
//     server to change the format to match the request, and Exchange does
//     so; phones that ask only for HTML (AOSP, Outlook) would otherwise get
//     nothing. Plain text asked for and only HTML there: html2text.
//   - TruncationSize cuts Data to at most that many bytes on a UTF-8
//     character boundary, sets Truncated and keeps EstimatedDataSize at the
//     full size. Preview (14.0+) is up to the asked number of characters,
//     at most 255, of the plain text, sent with whatever type is chosen.
//
// A body built from parts read only in part (ConvertPieces) is rendered
// the same; it must reach past the truncation by renderMargin, else the
// answer is ErrNeedMore.
func selectBody(opt eas.BodyOptions, mime source, body content, smime bool) (*eas.Body, error) {
	prefs := opt.Preferences
	if len(prefs) == 0 {
		return renderText(eas.BodyPreference{Type: eas.BodyPlain}, body)
	}

	var mimePref *eas.BodyPreference
	for i := range prefs {
		if prefs[i].Type == eas.BodyMIME {
			mimePref = &prefs[i]
		}
	}
	if (opt.MIMESupport == 2 && mimePref != nil) || (opt.MIMESupport == 1 && smime) {
		p := eas.BodyPreference{Type: eas.BodyMIME, TruncationSize: opt.MIMETruncation}
		if mimePref != nil {
			p.AllOrNone, p.Preview = mimePref.AllOrNone, mimePref.Preview
			if t := mimePref.TruncationSize; t != 0 && (p.TruncationSize == 0 || t < p.TruncationSize) {
				p.TruncationSize = t
			}
		}
		if mb, ok, err := renderMIME(p, mime, body); ok || err != nil {
			return mb, err
		}
	}

	native := eas.BodyPlain
	if body.hasHTML {
		native = eas.BodyHTML
	}
	var order []eas.BodyPreference
	for _, p := range prefs {
		if p.Type == native {
			order = append(order, p)
		}
	}
	for _, p := range prefs {
		if p.Type != native && (p.Type == eas.BodyPlain || p.Type == eas.BodyHTML) {
			order = append(order, p)
		}
	}
	if len(order) == 0 {
		// Only RTF, or MIME the phone may not have: plain text, within the
		// size the phone asked for.
		order = []eas.BodyPreference{{Type: eas.BodyPlain, TruncationSize: prefs[0].TruncationSize, Preview: prefs[0].Preview}}
	}
	var first *eas.Body
	for _, p := range order {
		data, cut, rest := rendering(p, body)
		size := int64(len(data)) + rest
		if !p.AllOrNone || p.TruncationSize == 0 || size <= int64(p.TruncationSize) {
			return renderText(p, body)
		}
		if cut && int64(len(data)) <= int64(p.TruncationSize) {
			return nil, fmt.Errorf("%d bytes of text for a body of %d: %w", len(data), p.TruncationSize, ErrNeedMore)
		}
		if first == nil {
			pv, err := cutPreview(body, p.Preview)
			if err != nil {
				return nil, err
			}
			first = &eas.Body{Type: p.Type, EstimatedDataSize: size, Truncated: true, Preview: pv}
		}
	}
	return first, nil
}

// rendering is the body data for a text preference: whether it is cut,
// and about how much it then lacks.
func rendering(p eas.BodyPreference, body content) (string, bool, int64) {
	if p.Type == eas.BodyHTML {
		cut, rest := body.documentCut()
		return clean(body.document()), cut, rest
	}
	cut, rest := body.textCut()
	return clean(body.text()), cut, rest
}

// renderText renders a text preference, checking that a cut body reaches
// far enough past the truncation.
func renderText(p eas.BodyPreference, body content) (*eas.Body, error) {
	data, cut, rest := rendering(p, body)
	if cut && (p.TruncationSize == 0 || len(data) < int(p.TruncationSize)+renderMargin) {
		return nil, fmt.Errorf("%d bytes of text for a body of %d: %w", len(data), p.TruncationSize, ErrNeedMore)
	}
	b := render(p, data, body)
	if cut {
		b.EstimatedDataSize = int64(len(data)) + rest
	}
	if p.Preview > 0 && cut {
		pv, err := cutPreview(body, p.Preview)
		if err != nil {
			return nil, err
		}
		b.Preview = pv
	}
	return b, nil
}

// cutPreview is the preview, or ErrNeedMore when a cut text ends before it.
// (preview may stop one short of n at a space.)
func cutPreview(body content, n int) (string, error) {
	text := body.text()
	pv := preview(text, n)
	if cut, _ := body.textCut(); cut && utf8.RuneCountInString(pv) < min(n, 255)-1 {
		return "", fmt.Errorf("text ends before the preview: %w", ErrNeedMore)
	}
	return pv, nil
}

// renderMIME renders a MIME preference when the body fits it (ok).
func renderMIME(p eas.BodyPreference, mime source, body content) (*eas.Body, bool, error) {
	data := clean(string(mime.raw))
	size := int64(len(data))
	if mime.cut() {
		size = mime.size
	}
	if p.AllOrNone && p.TruncationSize != 0 && size > int64(p.TruncationSize) {
		return nil, false, nil
	}
	if !mime.cut() {
		return render(p, data, body), true, nil
	}
	if p.TruncationSize == 0 || len(data) < int(p.TruncationSize) {
		return nil, false, fmt.Errorf("%d bytes of a message of %d read: %w", len(mime.raw), mime.size, ErrNeedWhole)
	}
	b := render(p, data, body)
	b.EstimatedDataSize = mime.size
	if p.Preview > 0 {
		pv, err := cutPreview(body, p.Preview)
		if err != nil {
			return nil, false, err
		}
		b.Preview = pv
	}
	return b, true, nil
}

// fits reports whether data may be sent for p: it is not cut, or p
// accepts a cut body.
func fits(p eas.BodyPreference, data string) bool {
	return !p.AllOrNone || p.TruncationSize == 0 || len(data) <= int(p.TruncationSize)
}

func render(p eas.BodyPreference, data string, body content) *eas.Body {
	b := &eas.Body{Type: p.Type, EstimatedDataSize: int64(len(data)), Data: data}
	if p.TruncationSize != 0 && uint64(len(data)) > uint64(p.TruncationSize) {
		if p.Type == eas.BodyMIME {
			b.Data = data[:p.TruncationSize]
		} else {
			b.Data = truncateUTF8(data, int(p.TruncationSize))
		}
		b.Truncated = true
	}
	if p.Preview > 0 {
		b.Preview = preview(body.text(), p.Preview)
	}
	return b
}
