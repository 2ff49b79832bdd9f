package sieve

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/easgate/easgate/eas"
)

// scriptCases are settings whose texts stress the Sieve strings and the
// settings comment; oof_compile_test.go stores each on Dovecot too.
func scriptCases() []struct {
	name string
	cfg  eas.OofConfig
	rule rule
} {
	start := time.Date(2026, 12, 24, 8, 0, 0, 0, time.UTC)
	text := eas.OofReply{Enabled: true, Message: "Quotes \" and \\ backslashes, ${vars} and $${double},\nÜmläute, 日本語, emoji 🏖\r\nand a CR\ronly line"}
	return []struct {
		name string
		cfg  eas.OofConfig
		rule rule
	}{
		{"global", eas.OofConfig{State: eas.OofGlobal, Internal: text, ExternalUnknown: text}, rule{Address: "anna@example.com"}},
		{"scheduled", eas.OofConfig{State: eas.OofTimeBased, Start: start, End: start.Add(72 * time.Hour), Internal: text, ExternalKnown: text, ExternalUnknown: text}, rule{Address: "anna@example.com", Days: 7}},
		{"html", eas.OofConfig{State: eas.OofGlobal, Internal: eas.OofReply{Enabled: true, HTML: true, Message: `<p class="x">Hi &amp; ${bye}</p>`}}, rule{Address: "anna@example.com"}},
		{"no domain", eas.OofConfig{State: eas.OofGlobal, Internal: text, ExternalUnknown: text}, rule{}},
		{"known only", eas.OofConfig{State: eas.OofGlobal, ExternalKnown: text}, rule{Address: "anna@example.com"}},
		{"off with texts", eas.OofConfig{State: eas.OofDisabled, Internal: text, ExternalUnknown: eas.OofReply{Message: "x"}}, rule{Address: "anna@example.com"}},
		{"empty", eas.OofConfig{}, rule{}},
	}
}

func TestOofScriptRoundTrip(t *testing.T) {
	for _, tt := range scriptCases() {
		script, err := oofScript(&tt.cfg, tt.rule)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		got, err := parseOofScript(script)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !reflect.DeepEqual(*got, tt.cfg) {
			t.Errorf("%s: read back %+v, want %+v", tt.name, *got, tt.cfg)
		}
	}
}

func TestOofScriptRules(t *testing.T) {
	byName := map[string]string{}
	for _, tt := range scriptCases() {
		s, err := oofScript(&tt.cfg, tt.rule)
		if err != nil {
			t.Fatal(err)
		}
		byName[tt.name] = s
	}
	tests := []struct {
		script    string
		vacations int
		contains  []string
		lacks     []string
	}{
		{"global", 2, []string{`envelope :domain :is "from" "example.com"`, `:from "anna@example.com"`, ":days 1 "}, []string{"currentdate"}},
		{"scheduled", 2, []string{`:value "ge" "iso8601" "2026-12-24T08:00:00Z"`, `:value "lt" "iso8601" "2026-12-27T08:00:00Z"`, ":days 7 "}, nil},
		{"html", 1, []string{":mime", `multipart/alternative; boundary=\"=_easgate-oof\"`, `Content-Type: text/plain; charset=utf-8`,
			`Content-Type: text/html; charset=utf-8`, "Content-Transfer-Encoding: quoted-printable", `${dollar}{bye}`}, nil},
		// Without the user's domain nobody is internal.
		{"no domain", 1, nil, []string{"envelope :domain", ":from"}},
		{"known only", 0, nil, []string{"require"}},
		{"off with texts", 0, nil, []string{"require"}},
		{"empty", 0, nil, []string{"require"}},
	}
	for _, tt := range tests {
		s := byName[tt.script]
		if n := strings.Count(s, "vacation :days"); n != tt.vacations {
			t.Errorf("%s: %d vacation actions, want %d:\n%s", tt.script, n, tt.vacations, s)
		}
		for _, c := range tt.contains {
			if !strings.Contains(s, c) {
				t.Errorf("%s: lacks %q:\n%s", tt.script, c, s)
			}
		}
		for _, c := range tt.lacks {
			if strings.Contains(s, c) {
				t.Errorf("%s: has %q:\n%s", tt.script, c, s)
			}
		}
	}
}

func TestOofScriptRefuses(t *testing.T) {
	start := time.Now()
	tests := []struct {
		name string
		cfg  eas.OofConfig
	}{
		{"invalid UTF-8", eas.OofConfig{State: eas.OofGlobal, Internal: eas.OofReply{Enabled: true, Message: "a\xffb"}}},
		{"NUL", eas.OofConfig{State: eas.OofGlobal, ExternalUnknown: eas.OofReply{Message: "a\x00b"}}},
		{"empty window", eas.OofConfig{State: eas.OofTimeBased, Start: start, End: start}},
	}
	for _, tt := range tests {
		if _, err := oofScript(&tt.cfg, rule{Address: "a@b.c"}); !errors.Is(err, eas.ErrOofInvalid) {
			t.Errorf("%s: %v, want ErrOofInvalid", tt.name, err)
		}
	}
}

func TestWrapperRoundTrip(t *testing.T) {
	for _, w := range []wrapper{{}, {Prior: "roundcube", HadPrior: true}, {Prior: `my "rules" \ Ü`, HadPrior: true}} {
		s, err := wrapperScript(w)
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseWrapper(s)
		if err != nil || got != w {
			t.Errorf("%+v read back as %+v, %v", w, got, err)
		}
		if n := strings.Count(s, "include "); n != map[bool]int{true: 2, false: 1}[w.HadPrior] {
			t.Errorf("%+v: %d includes:\n%s", w, n, s)
		}
	}
	if _, err := parseWrapper("require \"fileinto\";\n"); err == nil {
		t.Error("a script easgate did not write was taken for its wrapper")
	}
	if _, err := parseOofScript("keep;\n"); err == nil {
		t.Error("a script without the settings comment was read as settings")
	}
}
