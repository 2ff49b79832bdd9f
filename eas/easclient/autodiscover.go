package easclient

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
)

const (
	autodiscoverRequestNS = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"
	autodiscoverMobileNS  = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"
)

// AutodiscoverURLs are the places a phone tries for an address, in order
// (MS-OXDISCO): the mail domain, then autodiscover.<domain>.
func AutodiscoverURLs(email string) ([]string, error) {
	_, domain, ok := strings.Cut(email, "@")
	if !ok || domain == "" {
		return nil, fmt.Errorf("%q is not an e-mail address", email)
	}
	return []string{
		"https://" + domain + "/autodiscover/autodiscover.xml",
		"https://autodiscover." + domain + "/autodiscover/autodiscover.xml",
	}, nil
}

// AutodiscoverError is an Autodiscover answer with an error code.
type AutodiscoverError struct {
	Code    string
	Message string
}

func (e *AutodiscoverError) Error() string {
	return fmt.Sprintf("autodiscover error %s: %s", e.Code, e.Message)
}

// Autodiscover posts the mobilesync Autodiscover request to url and returns
// the MobileSync server URL it answers.
func (c *Client) Autodiscover(ctx context.Context, url, email string) (string, error) {
	body := `<?xml version="1.0" encoding="utf-8"?>` +
		`<Autodiscover xmlns="` + autodiscoverRequestNS + `"><Request><EMailAddress>` + xmlEscape(email) +
		`</EMailAddress><AcceptableResponseSchema>` + autodiscoverMobileNS + `</AcceptableResponseSchema></Request></Autodiscover>`
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader([]byte(body)))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := c.do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", &HTTPError{Code: resp.StatusCode, Header: resp.Header, Body: string(data)}
	}
	var doc struct {
		Response struct {
			Error *struct {
				ErrorCode string `xml:"ErrorCode"`
				Message   string `xml:"Message"`
			} `xml:"Error"`
			Action struct {
				Redirect string `xml:"Redirect"`
				Error    *struct {
					Status  string `xml:"Status"`
					Message string `xml:"Message"`
				} `xml:"Error"`
				Settings struct {
					Server []struct {
						Type string `xml:"Type"`
						URL  string `xml:"Url"`
					} `xml:"Server"`
				} `xml:"Settings"`
			} `xml:"Action"`
		} `xml:"Response"`
	}
	if err := xml.Unmarshal(data, &doc); err != nil {
		return "", fmt.Errorf("autodiscover answer is not XML: %w", err)
	}
	r := doc.Response
	switch {
	case r.Error != nil:
		return "", &AutodiscoverError{Code: r.Error.ErrorCode, Message: r.Error.Message}
	case r.Action.Error != nil:
		return "", &AutodiscoverError{Code: r.Action.Error.Status, Message: r.Action.Error.Message}
	case r.Action.Redirect != "":
		return "", &AutodiscoverError{Code: "redirect", Message: "redirected to " + r.Action.Redirect}
	}
	for _, s := range r.Action.Settings.Server {
		if s.Type == "MobileSync" && s.URL != "" {
			return s.URL, nil
		}
	}
	return "", errors.New("autodiscover answer names no MobileSync server")
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	xml.EscapeText(&b, []byte(s))
	return b.String()
}
