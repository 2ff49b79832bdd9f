package wbxml

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// corpusDir holds ActiveSync documents, requests and responses of every
// command, in the XML form of this package.
const corpusDir = "../testdata/wbxml"

type corpusDoc struct {
	name string
	xml  []byte
	tree *Element
}

func loadCorpus(t testing.TB) []corpusDoc {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.xml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 40 {
		t.Fatalf("corpus has %d documents, want at least 40", len(files))
	}
	sort.Strings(files)
	var docs []corpusDoc
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		tree, err := ParseXML(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		docs = append(docs, corpusDoc{name: filepath.Base(f), xml: b, tree: tree})
	}
	return docs
}

// The corpus files are written exactly as WriteXML renders them, so that
// they document the format and a typo in a name or namespace shows.
func TestCorpusCanonical(t *testing.T) {
	for _, d := range loadCorpus(t) {
		t.Run(d.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := WriteXML(&b, d.tree, true); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(b.Bytes(), d.xml) {
				t.Fatalf("file differs from its rendering:\n%s", b.String())
			}
		})
	}
}

func TestCorpusRoundTrip(t *testing.T) {
	for _, d := range loadCorpus(t) {
		t.Run(d.name, func(t *testing.T) {
			wb, err := d.tree.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			tree, err := Parse(wb)
			if err != nil {
				t.Fatal(err)
			}
			if !tree.Equal(d.tree) {
				t.Fatalf("Parse(Bytes(tree)) differs:\n%s", tree.XML())
			}
			// decode → encode is byte-identical, through the tree and
			// through the token stream.
			again, err := tree.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, wb) {
				t.Fatalf("tree re-encoding differs:\n got % x\nwant % x", again, wb)
			}
			var tok bytes.Buffer
			enc := NewEncoder(&tok)
			dec := NewDecoder(wb)
			for {
				tk, err := dec.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				if err := enc.EncodeToken(tk); err != nil {
					t.Fatal(err)
				}
			}
			if err := enc.Close(); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(tok.Bytes(), wb) {
				t.Fatalf("token re-encoding differs:\n got % x\nwant % x", tok.Bytes(), wb)
			}
			for _, indent := range []bool{false, true} {
				var x bytes.Buffer
				if err := WriteXML(&x, tree, indent); err != nil {
					t.Fatal(err)
				}
				back, err := ParseXML(&x)
				if err != nil {
					t.Fatal(err)
				}
				if !back.Equal(d.tree) {
					t.Fatalf("XML (indent %v) round trip differs", indent)
				}
			}
		})
	}
}

// libwbxmlUnknown are the tags libwbxml 0.11.8 has no name for: it prints
// them as <unknown> and cannot encode them. The test checks each against
// the installed tool, so an upgrade that learns them shows.
var libwbxmlUnknown = map[Tag]string{
	MustLookup("Provision", "AccountOnlyRemoteWipe"):   "EAS 16.1 addition",
	MustLookup("Find", "Find"):                         "the Find page (25) is EAS 16.1",
	MustLookup("Find", "SearchId"):                     "the Find page (25) is EAS 16.1",
	MustLookup("Find", "ExecuteSearch"):                "the Find page (25) is EAS 16.1",
	MustLookup("Find", "MailBoxSearchCriterion"):       "the Find page (25) is EAS 16.1",
	MustLookup("Find", "Query"):                        "the Find page (25) is EAS 16.1",
	MustLookup("Find", "Status"):                       "the Find page (25) is EAS 16.1",
	MustLookup("Find", "FreeText"):                     "the Find page (25) is EAS 16.1",
	MustLookup("Find", "Options"):                      "the Find page (25) is EAS 16.1",
	MustLookup("Find", "Range"):                        "the Find page (25) is EAS 16.1",
	MustLookup("Find", "DeepTraversal"):                "the Find page (25) is EAS 16.1",
	MustLookup("Find", "Response"):                     "the Find page (25) is EAS 16.1",
	MustLookup("Find", "Result"):                       "the Find page (25) is EAS 16.1",
	MustLookup("Find", "Properties"):                   "the Find page (25) is EAS 16.1",
	MustLookup("Find", "Preview"):                      "the Find page (25) is EAS 16.1",
	MustLookup("Find", "HasAttachments"):               "the Find page (25) is EAS 16.1",
	MustLookup("Find", "Total"):                        "the Find page (25) is EAS 16.1",
	MustLookup("Find", "DisplayCc"):                    "the Find page (25) is EAS 16.1",
	MustLookup("Find", "DisplayBcc"):                   "the Find page (25) is EAS 16.1",
	MustLookup("Find", "GalSearchCriterion"):           "the Find page (25) is EAS 16.1",
	MustLookup("Find", "MaxPictures"):                  "the Find page (25) is EAS 16.1",
	MustLookup("Find", "MaxSize"):                      "the Find page (25) is EAS 16.1",
	MustLookup("Find", "Picture"):                      "the Find page (25) is EAS 16.1",
	MustLookup("Calendar", "Attachment"):               "EAS 16.0 calendar attachments",
	MustLookup("Calendar", "Attachments"):              "EAS 16.0 calendar attachments",
	MustLookup("Calendar", "AttName"):                  "EAS 16.0 calendar attachments",
	MustLookup("Calendar", "AttSize"):                  "EAS 16.0 calendar attachments",
	MustLookup("Calendar", "AttOid"):                   "EAS 16.0 calendar attachments",
	MustLookup("Calendar", "AttMethod"):                "EAS 16.0 calendar attachments",
	MustLookup("Calendar", "AttRemoved"):               "EAS 16.0 calendar attachments",
	MustLookup("Calendar", "DisplayName"):              "EAS 16.0 calendar attachments",
	MustLookup("MeetingResponse", "ProposedStartTime"): "EAS 16.1 addition",
	MustLookup("MeetingResponse", "ProposedEndTime"):   "EAS 16.1 addition",
	MustLookup("Ping", "Version"):                      "legacy token",
	MustLookup("Search", "Stores"):                     "missing from its Search page",
	MustLookup("Search", "SubstringOp"):                "legacy token (AOSP)",
	MustLookup("ComposeMail", "Type"):                  "legacy token",
}

// libwbxmlExcluded are the corpus documents the cross-check cannot use,
// each because it holds a tag of libwbxmlUnknown. The test fails if this
// list and the corpus disagree, so nothing is left out silently.
var libwbxmlExcluded = map[string]string{
	"provision-accountonlyremotewipe-response.xml": "AccountOnlyRemoteWipe (16.1)",
	"provision-accountonlywipe-ack-request.xml":    "AccountOnlyRemoteWipe (16.1)",
	"find-request.xml":                             "Find (16.1)",
	"find-response.xml":                            "Find (16.1)",
}

func unknownToLibwbxml(e *Element) (Tag, bool) {
	if _, ok := libwbxmlUnknown[e.Tag]; ok {
		return e.Tag, true
	}
	for _, c := range e.Children {
		if t, ok := unknownToLibwbxml(c); ok {
			return t, true
		}
	}
	return Tag{}, false
}

// libwbxmlXML writes a tree the way xml2wbxml reads it: its DOCTYPE, a
// default namespace with a trailing colon declared wherever the page
// changes, its names for tags, and base64 for the elements it takes as
// binary. Indentation would become text, so the output is on one line.
func libwbxmlXML(e *Element) ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0"?>` + "\n")
	b.WriteString(`<!DOCTYPE ActiveSync PUBLIC "` + xmlDoctypeID + `" "http://www.microsoft.com/">` + "\n")
	var write func(e *Element, parentPage int) error
	write = func(e *Element, parentPage int) error {
		name := e.Tag.Name()
		if n, ok := foreignNames[e.Tag]; ok {
			name = n
		}
		b.WriteString("<" + name)
		if int(e.Tag.Page) != parentPage {
			ns := e.Tag.Namespace()
			if e.Tag.Page == 16 {
				ns = "Gal"
			}
			b.WriteString(` xmlns="` + ns + `:"`)
		}
		if e.Data == nil && len(e.Children) == 0 {
			b.WriteString("/>")
			return nil
		}
		b.WriteString(">")
		if e.Data != nil {
			if len(e.Children) > 0 {
				return fmt.Errorf("<%v> mixes data and elements", e.Tag)
			}
			if e.Opaque != foreignBinary[e.Tag] {
				return fmt.Errorf("<%v>: libwbxml takes opaque data only, and always, in its binary elements", e.Tag)
			}
			if len(e.Data) == 0 {
				return fmt.Errorf("<%v>: libwbxml cannot write an empty string", e.Tag)
			}
			if e.Opaque {
				b.WriteString(base64.StdEncoding.EncodeToString(e.Data))
			} else {
				b.Write(appendEscaped(nil, e.Data))
			}
		}
		for _, c := range e.Children {
			if err := write(c, int(e.Tag.Page)); err != nil {
				return err
			}
		}
		b.WriteString("</" + name + ">")
		return nil
	}
	if err := write(e, -1); err != nil {
		return nil, err
	}
	b.WriteString("\n")
	return b.Bytes(), nil
}

func needLibwbxml(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"xml2wbxml", "wbxml2xml"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (Debian package libwbxml2-utils): run ./test.sh, which installs it", tool)
		}
	}
}

func runTool(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// hasEdgeSpace tells whether some text in the tree starts or ends with
// whitespace, which wbxml2xml trims unless told to keep it.
func hasEdgeSpace(e *Element) bool {
	if !e.Opaque && len(e.Data) > 0 && (isXMLSpace(e.Data[:1]) || isXMLSpace(e.Data[len(e.Data)-1:])) {
		return true
	}
	for _, c := range e.Children {
		if hasEdgeSpace(c) {
			return true
		}
	}
	return false
}

// TestLibwbxmlUnknownTags confirms that the installed libwbxml indeed has
// no name for each tag the cross-check excludes.
func TestLibwbxmlUnknownTags(t *testing.T) {
	needLibwbxml(t)
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.wbxml"), filepath.Join(dir, "out.xml")
	for tag, why := range libwbxmlUnknown {
		doc := append([]byte{}, Header...)
		doc = append(doc, tokSwitchPage, tag.Page, tag.Token)
		if err := os.WriteFile(in, doc, 0o644); err != nil {
			t.Fatal(err)
		}
		runTool(t, "wbxml2xml", "-l", "ACTIVESYNC", "-o", out, in)
		x, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Contains(x, []byte("<unknown")) {
			t.Errorf("%v (%s) is known to libwbxml now:\n%s", tag, why, x)
		}
	}
}

// TestLibwbxmlCrossCheck compares the codec with libwbxml's, an
// independent implementation: xml2wbxml must produce our bytes, we must
// decode its bytes into the source tree, and wbxml2xml's rendering of our
// bytes must parse back into the source tree.
func TestLibwbxmlCrossCheck(t *testing.T) {
	needLibwbxml(t)
	docs := loadCorpus(t)
	seen := map[string]bool{}
	checked := 0
	for _, d := range docs {
		seen[d.name] = true
		unknown, hasUnknown := unknownToLibwbxml(d.tree)
		reason, excluded := libwbxmlExcluded[d.name]
		switch {
		case hasUnknown && !excluded:
			t.Errorf("%s holds %v, which libwbxml does not know (%s): list it in libwbxmlExcluded", d.name, unknown, libwbxmlUnknown[unknown])
			continue
		case !hasUnknown && excluded:
			t.Errorf("%s is excluded (%s) but holds no tag libwbxml lacks: take it off the list", d.name, reason)
		case excluded:
			continue
		}
		checked++
		t.Run(d.name, func(t *testing.T) {
			dir := t.TempDir()
			ours, err := d.tree.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			src, err := libwbxmlXML(d.tree)
			if err != nil {
				t.Fatal(err)
			}
			// The libwbxml form is XML this package must read too.
			if back, err := ParseXML(bytes.NewReader(src)); err != nil || !back.Equal(d.tree) {
				t.Fatalf("ParseXML of the libwbxml form: %v", err)
			}
			in, out := filepath.Join(dir, "in.xml"), filepath.Join(dir, "out.wbxml")
			if err := os.WriteFile(in, src, 0o644); err != nil {
				t.Fatal(err)
			}
			runTool(t, "xml2wbxml", "-k", "-a", "-n", "-v", "1.3", "-o", out, in)
			theirs, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(ours, theirs) {
				t.Fatalf("xml2wbxml encodes differently:\nours   % x\ntheirs % x", ours, theirs)
			}
			tree, err := Parse(theirs)
			if err != nil {
				t.Fatal(err)
			}
			if !tree.Equal(d.tree) {
				t.Fatal("decoding xml2wbxml's bytes gives another tree")
			}

			ourIn := filepath.Join(dir, "ours.wbxml")
			if err := os.WriteFile(ourIn, ours, 0o644); err != nil {
				t.Fatal(err)
			}
			for _, keep := range []bool{true, false} {
				args := []string{"-l", "ACTIVESYNC", "-o", filepath.Join(dir, "back.xml"), ourIn}
				if keep {
					args = append([]string{"-k"}, args...)
				}
				runTool(t, "wbxml2xml", args...)
				x, err := os.ReadFile(filepath.Join(dir, "back.xml"))
				if err != nil {
					t.Fatal(err)
				}
				back, err := ParseXML(bytes.NewReader(x))
				if err != nil {
					t.Fatalf("ParseXML of wbxml2xml's output (keep whitespace %v): %v\n%s", keep, err, x)
				}
				// Without -k wbxml2xml trims text, so only documents
				// without edge whitespace come back whole.
				if (keep || !hasEdgeSpace(d.tree)) && !back.Equal(d.tree) {
					t.Fatalf("wbxml2xml output (keep whitespace %v) parses into another tree:\n%s\nparsed:\n%s", keep, x, back.XML())
				}
			}
		})
	}
	for name := range libwbxmlExcluded {
		if !seen[name] {
			t.Errorf("excluded document %s is not in the corpus", name)
		}
	}
	if checked < 40 {
		t.Errorf("only %d documents cross-checked", checked)
	}
}
