package htmltext

import "testing"

func TestToText(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"blocks on their own lines", "<div>one</div><div>two</div>", "one\r\ntwo"},
		{"entities", "<p>a &amp; b &lt;c&gt;</p>", "a & b <c>"},
		{"comment and anchor without href", "<!-- x --><a name=top>top</a> <a href=\"https://e.org/\">link</a>", "top link <https://e.org/>"},
		{"empty blocks collapse", "<div>a</div><div><br></div><div><br></div><div>b</div>", "a\r\n\r\nb"},
		{"no NUL left", "a\x00b", "a b"},
	}
	for _, tt := range tests {
		if got := ToText(tt.in); got != tt.want {
			t.Errorf("%s: ToText(%q) = %q, want %q", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestFromText(t *testing.T) {
	tests := []struct{ in, want string }{
		{"a & <b>\r\nc\n", "a &amp; &lt;b&gt;<br>\r\nc"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := FromText(tt.in); got != tt.want {
			t.Errorf("FromText(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
