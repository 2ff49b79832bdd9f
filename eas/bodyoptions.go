package eas

// legacyTruncation maps the 2.5-era AirSync Truncation codes, which old
// clients still put in Options, to bytes; 0 means the whole body.
var legacyTruncation = map[int]uint32{
	0: 1, 1: 512, 2: 1 << 10, 3: 2 << 10, 4: 5 << 10, 5: 10 << 10, 6: 20 << 10, 7: 50 << 10, 8: 100 << 10,
}

// mimeTruncation maps MIMETruncation codes to bytes; 0 means no truncation.
// Code 0 ("truncate everything") keeps one byte so that the body is still
// marked truncated and the phone fetches it when opened.
var mimeTruncation = map[int]uint32{
	0: 1, 1: 4 << 10, 2: 5 << 10, 3: 7 << 10, 4: 10 << 10, 5: 20 << 10, 6: 50 << 10, 7: 100 << 10,
}

// bodyOptions turns a request's body preferences into BodyOptions. Unknown
// body types are dropped, and a repeated type keeps its first preference.
func bodyOptions(prefs []BodyPreference, mimeSupport, mimeTrunc, legacyTrunc *int, v Version) BodyOptions {
	o := BodyOptions{Version: v}
	seen := map[int]bool{}
	for _, p := range prefs {
		if p.Type < BodyPlain || p.Type > BodyMIME || seen[p.Type] {
			continue
		}
		seen[p.Type] = true
		if !v.AtLeast(V140) {
			p.Preview = 0
		}
		p.Preview = min(max(p.Preview, 0), 255)
		o.Preferences = append(o.Preferences, p)
	}
	if len(o.Preferences) == 0 && legacyTrunc != nil {
		if n, ok := legacyTruncation[*legacyTrunc]; ok {
			o.Preferences = []BodyPreference{{Type: BodyPlain, TruncationSize: n}}
		}
	}
	if mimeSupport != nil && *mimeSupport >= 0 && *mimeSupport <= 2 {
		o.MIMESupport = *mimeSupport
	}
	if mimeTrunc != nil {
		o.MIMETruncation = mimeTruncation[*mimeTrunc]
	}
	return o
}
