package eas

import (
	"fmt"
	"strings"
)

// Version is an ActiveSync protocol version times ten (121 = 12.1), the form
// the base64 query carries.
type Version uint8

// The versions easgate speaks.
const (
	V121 Version = 121
	V140 Version = 140
	V141 Version = 141
	V160 Version = 160
	V161 Version = 161
)

// Versions are advertised in OPTIONS, lowest first.
var Versions = []Version{V121, V140, V141, V160, V161}

// ParseVersion reads an MS-ASProtocolVersion header value such as "14.1".
func ParseVersion(s string) (Version, error) {
	s = strings.TrimSpace(s)
	for _, v := range Versions {
		if v.String() == s {
			return v, nil
		}
	}
	return 0, fmt.Errorf("unsupported protocol version %q", s)
}

// Supported reports whether easgate speaks v.
func (v Version) Supported() bool {
	for _, s := range Versions {
		if s == v {
			return true
		}
	}
	return false
}

func (v Version) String() string {
	return fmt.Sprintf("%d.%d", v/10, v%10)
}

// AtLeast reports whether v is w or newer.
func (v Version) AtLeast(w Version) bool { return v >= w }
