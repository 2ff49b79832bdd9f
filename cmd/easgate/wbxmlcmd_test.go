package main

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const pingHex = "03 01 6a 00 00 0d 45 48 03 34 38 30 00 01 49 4a 4b 03 35 00 01 4c 03 45 6d 61 69 6c 00 01 01 01 01"

const pingXML = `<?xml version="1.0" encoding="UTF-8"?>
<Ping xmlns="Ping">
  <HeartbeatInterval>480</HeartbeatInterval>
  <Folders>
    <Folder>
      <Id>5</Id>
      <Class>Email</Class>
    </Folder>
  </Folders>
</Ping>
`

// wbxml2xml's rendering of the same document.
const pingLibwbxml = `<?xml version="1.0"?>
<!DOCTYPE ActiveSync PUBLIC "-//MICROSOFT//DTD ActiveSync//EN" "http://www.microsoft.com/">
<Ping xmlns="Ping:">
<HeartbeatInterval>480</HeartbeatInterval>
<Folders>
<Folder>
<Id>5</Id>
<Class>Email</Class>
</Folder>
</Folders>
</Ping>
`

func TestRunWBXML(t *testing.T) {
	dir := t.TempDir()
	pingFile := filepath.Join(dir, "ping.wbxml")
	if err := os.WriteFile(pingFile, unhex(t, pingHex), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		stdin  []byte
		status int
		stdout []byte
		// stderr is a substring the single error line must contain.
		stderr string
	}{
		{"decode stdin", []string{"decode"}, unhex(t, pingHex), 0, []byte(pingXML), ""},
		{"decode file", []string{"decode", pingFile}, nil, 0, []byte(pingXML), ""},
		{"decode compact", []string{"decode", "-compact", pingFile}, nil, 0,
			[]byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<Ping xmlns="Ping"><HeartbeatInterval>480</HeartbeatInterval><Folders><Folder><Id>5</Id><Class>Email</Class></Folder></Folders></Ping>` + "\n"), ""},
		{"encode ours", []string{"encode"}, []byte(pingXML), 0, unhex(t, pingHex), ""},
		{"encode wbxml2xml's", []string{"encode", "-"}, []byte(pingLibwbxml), 0, unhex(t, pingHex), ""},
		{"decode unknown token", []string{"decode"}, unhex(t, "03 01 6a 00 7f 01"), 1, nil,
			"easgate: wbxml: offset 4: unknown token 0x3F in code page 0"},
		{"decode truncated", []string{"decode"}, unhex(t, pingHex)[:20], 1, nil, "easgate: wbxml: offset 20: unexpected end of document"},
		{"decode empty input", []string{"decode"}, nil, 1, nil, "easgate: wbxml: offset 0: unexpected end of document"},
		{"decode XML by mistake", []string{"decode"}, []byte(pingXML), 1, nil, "easgate: wbxml: offset 0: unsupported WBXML version 0x3C"},
		{"encode unknown element", []string{"encode"}, []byte(`<Ping xmlns="Ping"><Foo/></Ping>`), 1, nil,
			"easgate: wbxml: offset 19: unknown element <Foo> in namespace Ping"},
		{"encode malformed XML", []string{"encode"}, []byte("<Ping xmlns=\"Ping\">\n<Status>1</Ping>"), 1, nil, "closed by </Ping>"},
		{"encode WBXML by mistake", []string{"encode"}, unhex(t, pingHex), 1, nil, "easgate: wbxml: offset "},
		{"missing file", []string{"decode", filepath.Join(dir, "nope")}, nil, 1, nil, "no such file"},
		{"unknown subcommand", []string{"dump"}, nil, 2, nil, `unknown subcommand "dump"`},
		{"no subcommand", nil, nil, 2, nil, "usage: easgate wbxml"},
		{"two files", []string{"encode", "a", "b"}, nil, 2, nil, "at most one FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			status := runWBXML(tt.args, bytes.NewReader(tt.stdin), &stdout, &stderr)
			if status != tt.status {
				t.Fatalf("status %d, want %d; stderr %q", status, tt.status, stderr.String())
			}
			if tt.status == 0 {
				if stderr.Len() != 0 {
					t.Fatalf("stderr %q", stderr.String())
				}
				if !bytes.Equal(stdout.Bytes(), tt.stdout) {
					t.Fatalf("stdout:\n%q\nwant\n%q", stdout.String(), tt.stdout)
				}
				return
			}
			if tt.status == 1 {
				if stdout.Len() != 0 {
					t.Fatalf("output on failure: %q", stdout.String())
				}
				if n := strings.Count(stderr.String(), "\n"); n != 1 || !strings.HasSuffix(stderr.String(), "\n") {
					t.Fatalf("stderr is not one line: %q", stderr.String())
				}
			}
			if !strings.Contains(stderr.String(), tt.stderr) {
				t.Fatalf("stderr %q lacks %q", stderr.String(), tt.stderr)
			}
		})
	}
}

// Every corpus document survives encode then decode unchanged, through the
// command as a user runs it.
func TestRunWBXMLCorpus(t *testing.T) {
	files, err := filepath.Glob("../../testdata/wbxml/*.xml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no corpus: %v", err)
	}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var bin, xml, stderr bytes.Buffer
		if st := runWBXML([]string{"encode", f}, nil, &bin, &stderr); st != 0 {
			t.Fatalf("%s: encode: %d %s", f, st, stderr.String())
		}
		if st := runWBXML([]string{"decode"}, &bin, &xml, &stderr); st != 0 {
			t.Fatalf("%s: decode: %d %s", f, st, stderr.String())
		}
		if !bytes.Equal(xml.Bytes(), src) {
			t.Fatalf("%s: encode|decode differs:\n%s", f, xml.String())
		}
	}
}

func TestRunDispatch(t *testing.T) {
	tests := []struct {
		args   []string
		status int
		out    string
	}{
		{nil, 2, "usage: easgate"},
		{[]string{"help"}, 0, "wbxml decode"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"wbxml"}, 2, "usage: easgate wbxml"},
	}
	for _, tt := range tests {
		var stdout, stderr bytes.Buffer
		status := run(tt.args, strings.NewReader(""), &stdout, &stderr)
		if status != tt.status || !strings.Contains(stdout.String()+stderr.String(), tt.out) {
			t.Errorf("run(%q) = %d, %q %q; want %d containing %q", tt.args, status, stdout.String(), stderr.String(), tt.status, tt.out)
		}
	}
}
