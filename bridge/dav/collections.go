package dav

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// propertyUpdate is a PROPPATCH body (RFC 4918 14.19) that sets the
// display name; go-webdav's client sends no PROPPATCH.
type propertyUpdate struct {
	XMLName     xml.Name `xml:"DAV: propertyupdate"`
	DisplayName string   `xml:"DAV: set>prop>displayname"`
}

// multiStatus is what a PROPPATCH answers: one status per property.
type multiStatus struct {
	Responses []struct {
		PropStats []struct {
			Status string `xml:"DAV: status"`
		} `xml:"DAV: propstat"`
	} `xml:"DAV: response"`
}

// Rename sets the display name of the collection at path (PROPPATCH).
// The path stays: DAV clients find collections by path, names are for
// people.
func (c *Client) Rename(ctx context.Context, path, name string) error {
	resp, err := c.sendXML(ctx, "PROPPATCH", dirPath(path), "", propertyUpdate{DisplayName: name})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusMultiStatus {
		return nil
	}
	var ms multiStatus
	if err := xml.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&ms); err != nil {
		return fmt.Errorf("dav: PROPPATCH %s: read the answer: %w", path, err)
	}
	for _, r := range ms.Responses {
		for _, ps := range r.PropStats {
			if code := propStatCode(ps.Status); !success(code) {
				return &StatusError{Method: "PROPPATCH", Path: path, Code: code, Body: ps.Status}
			}
		}
	}
	return nil
}

// propStatCode is the code of a multistatus status line ("HTTP/1.1 200
// OK"), 500 when it has none.
func propStatCode(status string) int {
	var code int
	fields := strings.Fields(status)
	if len(fields) < 2 {
		return http.StatusInternalServerError
	}
	if _, err := fmt.Sscanf(fields[1], "%d", &code); err != nil {
		return http.StatusInternalServerError
	}
	return code
}

// success reports whether a status code is a 2xx.
func success(code int) bool { return code/100 == 2 }

// DeleteCollection removes the collection at path with everything in it;
// one that is gone already is no error.
func (c *Client) DeleteCollection(ctx context.Context, path string) error {
	return c.Delete(ctx, dirPath(path), "")
}
