package mailconv

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/easgate/easgate/bridge/upstream/dovecottest"
	"github.com/easgate/easgate/eas"
)

// imapLeaves lists the non-multipart parts of an IMAP body structure with
// their section numbers, descending into attached messages the way section
// numbers do (RFC 3501 6.4.5).
func imapLeaves(bs imap.BodyStructure, prefix []int, out *[]string) {
	switch bs := bs.(type) {
	case *imap.BodyStructureMultiPart:
		for i, c := range bs.Children {
			imapLeaves(c, append(append([]int{}, prefix...), i+1), out)
		}
	case *imap.BodyStructureSinglePart:
		path := prefix
		if len(path) == 0 {
			path = []int{1}
		}
		*out = append(*out, sectionString(path)+" "+bs.MediaType())
		if bs.MessageRFC822 != nil && bs.MessageRFC822.BodyStructure != nil {
			inner := bs.MessageRFC822.BodyStructure
			if single, ok := inner.(*imap.BodyStructureSinglePart); ok {
				// The body of a non-multipart message is part 1 below it.
				imapLeaves(single, append(append([]int{}, path...), 1), out)
			} else {
				imapLeaves(inner, path, out)
			}
		}
	}
}

func sectionString(path []int) string {
	s := make([]string, len(path))
	for i, n := range path {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ".")
}

func parseSection(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ".") {
		n, _ := strconv.Atoi(f)
		out = append(out, n)
	}
	return out
}

// TestPartPathsMatchDovecot checks the section numbering against a real
// IMAP server: for every corpus message, Dovecot's BODYSTRUCTURE must list
// the same parts under the same numbers, and BODY[n] must return exactly
// the bytes this package reads as part n. FileReferences built from the
// paths are fetched from the server with those numbers.
func TestPartPathsMatchDovecot(t *testing.T) {
	srv := dovecottest.New(t, dovecottest.Options{})
	srv.AddUser(t, "anna", "secret")
	c := srv.Dial(t, "anna", "secret")

	files, err := filepath.Glob(filepath.Join(corpusDir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		name := filepath.Base(file)
		t.Run(strings.TrimSuffix(name, ".eml"), func(t *testing.T) {
			raw := readCorpus(t, name)
			if bytes.IndexByte(raw, 0) >= 0 {
				// IMAP literals cannot carry NUL (RFC 3501 4.3).
				raw = bytes.ReplaceAll(raw, []byte{0}, nil)
			}
			uid := srv.Append(t, "anna", "secret", "INBOX", raw)
			if _, err := c.Select("INBOX", nil).Wait(); err != nil {
				t.Fatal(err)
			}
			msgs, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{
				UID:           true,
				BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
			}).Collect()
			if err != nil || len(msgs) != 1 {
				t.Fatalf("fetch BODYSTRUCTURE: %v (%d messages)", err, len(msgs))
			}
			var theirs []string
			imapLeaves(msgs[0].BodyStructure, nil, &theirs)

			p := &parser{}
			root := p.parse(raw, "", 0)
			var ours []string
			leaves := map[string]*node{}
			walk(root, func(n *node) bool {
				if !n.isMultipart() {
					ours = append(ours, n.path+" "+n.mediaType)
					if _, dup := leaves[n.path]; !dup {
						leaves[n.path] = n
					}
				}
				return true
			})
			if p.err() != nil {
				// Broken MIME: each reader makes the best of it in its
				// own way; there is no numbering to agree on.
				t.Logf("damaged message, numbering not compared: %v", p.err())
				return
			}
			if strings.Join(ours, "\n") != strings.Join(theirs, "\n") {
				t.Fatalf("parts differ\n ours: %q\nIMAP: %q", ours, theirs)
			}

			var sections []*imap.FetchItemBodySection
			for path := range leaves {
				sections = append(sections, &imap.FetchItemBodySection{Part: parseSection(path), Peek: true})
			}
			msgs, err = c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, BodySection: sections}).Collect()
			if err != nil || len(msgs) != 1 {
				t.Fatalf("fetch sections: %v", err)
			}
			for _, sec := range sections {
				path := sectionString(sec.Part)
				got := msgs[0].FindBodySection(sec)
				want := toCRLF(leaves[path].raw)
				if !bytes.Equal(toCRLF(got), want) {
					t.Errorf("BODY[%s]: server has %d bytes, we read %d:\n%s", path, len(got), len(want), diffHint(got, want))
				}
			}
		})
	}
}

func diffHint(a, b []byte) string {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	lo := max(0, n-40)
	return fmt.Sprintf("first difference at byte %d: server %q, ours %q", n, a[lo:min(len(a), n+40)], b[lo:min(len(b), n+40)])
}

// imapOutline turns a BODYSTRUCTURE into an outline, as a backend does.
func imapOutline(bs imap.BodyStructure) *Structure {
	switch bs := bs.(type) {
	case *imap.BodyStructureMultiPart:
		s := &Structure{Type: bs.MediaType(), Params: map[string]string{}}
		if bs.Extended != nil && bs.Extended.Params != nil {
			s.Params = bs.Extended.Params
		}
		for _, c := range bs.Children {
			s.Children = append(s.Children, imapOutline(c))
		}
		return s
	case *imap.BodyStructureSinglePart:
		s := &Structure{Type: bs.MediaType(), Params: bs.Params, Encoding: strings.ToLower(bs.Encoding), Size: int64(bs.Size)}
		if d := bs.Disposition(); d != nil {
			s.Disposition, s.DispParams = strings.ToLower(d.Value), d.Params
		}
		if bs.MessageRFC822 != nil && bs.MessageRFC822.BodyStructure != nil {
			s.Message = imapOutline(bs.MessageRFC822.BodyStructure)
		}
		return s
	}
	return nil
}

// TestConvertPiecesOnDovecot converts every corpus message from Dovecot's
// BODYSTRUCTURE and the pieces Dovecot sends, planning even for small
// messages: the item is the one Convert makes of the whole message, or the
// outline is refused (ErrNeedWhole) and the message read whole.
func TestConvertPiecesOnDovecot(t *testing.T) {
	srv := dovecottest.New(t, dovecottest.Options{})
	srv.AddUser(t, "anna", "secret")
	c := srv.Dial(t, "anna", "secret")
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.eml"))
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".eml")
		raw := bytes.ReplaceAll(readCorpus(t, filepath.Base(file)), []byte{0}, nil)
		uid := srv.Append(t, "anna", "secret", "INBOX", raw)
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		whole := &imap.FetchItemBodySection{Peek: true}
		msgs, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, RFC822Size: true,
			BodyStructure: &imap.FetchItemBodyStructure{Extended: true}, BodySection: []*imap.FetchItemBodySection{whole}}).Collect()
		if err != nil || len(msgs) != 1 {
			t.Fatalf("%s: fetch: %v", name, err)
		}
		stored := msgs[0].FindBodySection(whole)
		s := imapOutline(msgs[0].BodyStructure)
		for _, bc := range bodyCases {
			t.Run(name+"/"+bc.name, func(t *testing.T) {
				opt := Options{Body: bc.opt}
				want, _ := Convert(stored, opt)
				po := PlanOptions{WholeBelow: -1}
				var got *eas.Email
				for {
					plan := PlanFetch(s, msgs[0].RFC822Size, bc.opt, po)
					if plan.Whole {
						return
					}
					p := &Pieces{Size: msgs[0].RFC822Size, Data: map[Section][]byte{}}
					var items []*imap.FetchItemBodySection
					for _, sec := range plan.Sections {
						is := &imap.FetchItemBodySection{Part: parseSectionOrNil(sec.Part), Peek: true}
						switch sec.Kind {
						case SectionMIME:
							is.Specifier = imap.PartSpecifierMIME
						case SectionHeader:
							is.Specifier, is.HeaderFields = imap.PartSpecifierHeader, HeaderFields
						}
						if sec.Len > 0 {
							is.Partial = &imap.SectionPartial{Size: sec.Len}
						}
						items = append(items, is)
					}
					pm, err := c.Fetch(imap.UIDSetNum(uid), &imap.FetchOptions{UID: true, BodySection: items}).Collect()
					if err != nil || len(pm) != 1 {
						t.Fatalf("fetch pieces: %v", err)
					}
					for i, sec := range plan.Sections {
						if b := pm[0].FindBodySection(items[i]); b != nil {
							p.Data[sec] = b
						}
					}
					got, err = ConvertPieces(s, p, opt)
					if errors.Is(err, ErrNeedMore) && !po.Full {
						po.Full = true
						continue
					}
					if errors.Is(err, ErrNeedWhole) || errors.Is(err, ErrNeedMore) {
						refused++
						t.Logf("read whole: %v", err)
						return
					}
					break
				}
				samePieces(t, want, got)
			})
		}
	}
	t.Logf("%d conversions read the whole message", refused)
}

func parseSectionOrNil(s string) []int {
	if s == "" {
		return nil
	}
	return parseSection(s)
}
