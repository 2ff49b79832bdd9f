package eas

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"
)

// Autodiscover namespaces (MS-ASCMD 2.2.1.1, schemas 6.2–6.4).
const (
	autodiscoverRequestNS  = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/requestschema/2006"
	autodiscoverMobileNS   = "http://schemas.microsoft.com/exchange/autodiscover/mobilesync/responseschema/2006"
	autodiscoverResponseNS = "http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006"
)

type autodiscoverRequest struct {
	XMLName xml.Name `xml:"Autodiscover"`
	Request struct {
		EMailAddress             string `xml:"EMailAddress"`
		AcceptableResponseSchema string `xml:"AcceptableResponseSchema"`
	} `xml:"Request"`
}

type autodiscoverResponse struct {
	XMLName  xml.Name `xml:"Autodiscover"`
	NS       string   `xml:"xmlns,attr"`
	Response struct {
		NS      string            `xml:"xmlns,attr"`
		Culture string            `xml:"Culture,omitempty"`
		User    *autodiscoverUser `xml:"User,omitempty"`
		Action  *struct {
			Settings struct {
				Server []autodiscoverServer `xml:"Server"`
			} `xml:"Settings"`
		} `xml:"Action,omitempty"`
		Error *autodiscoverError `xml:"Error,omitempty"`
	} `xml:"Response"`
}

type autodiscoverUser struct {
	DisplayName  string `xml:"DisplayName,omitempty"`
	EMailAddress string `xml:"EMailAddress"`
}

type autodiscoverServer struct {
	Type string `xml:"Type"`
	URL  string `xml:"Url"`
	Name string `xml:"Name"`
}

type autodiscoverError struct {
	ErrorCode int    `xml:"ErrorCode"`
	Message   string `xml:"Message"`
	DebugData string `xml:"DebugData"`
}

// baseURL is where phones reach easgate: the configured public URL, or what
// the request (and a trusted proxy) says.
func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimSuffix(s.cfg.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := r.Host
	if s.trusted(s.peerAddr(r)) {
		if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
			scheme = p
		}
		if h := r.Header.Get("X-Forwarded-Host"); h != "" {
			host = h
		}
	}
	return scheme + "://" + host
}

// maxAutodiscoverBody bounds an Autodiscover request, a few hundred bytes
// of XML in practice.
const maxAutodiscoverBody = 64 << 10

// handleAutodiscover answers the mobilesync Autodiscover request, so a
// phone can set the account up from an e-mail address and password alone.
func (s *Server) handleAutodiscover(ctx context.Context, r *request) (*reply, error) {
	if err := s.login(ctx, r); err != nil {
		return nil, err
	}
	if err := s.readBody(r, maxAutodiscoverBody); err != nil {
		return nil, err
	}
	var req autodiscoverRequest
	email := r.cred.Username
	schema := autodiscoverMobileNS
	// Some Android clients post no body at all, only credentials: they
	// want the mobilesync answer.
	if len(strings.TrimSpace(string(r.body))) > 0 {
		if err := xml.Unmarshal(r.body, &req); err != nil {
			return autodiscoverFailure(600, "Invalid Request", err)
		}
		if req.Request.EMailAddress != "" {
			email = req.Request.EMailAddress
		}
		schema = strings.TrimSpace(req.Request.AcceptableResponseSchema)
	}
	if schema != autodiscoverMobileNS {
		return autodiscoverFailure(601, "The requested schema is not available", fmt.Errorf("schema %q", schema))
	}
	var resp autodiscoverResponse
	resp.NS = autodiscoverResponseNS
	resp.Response.NS = autodiscoverMobileNS
	resp.Response.Culture = "en:us"
	resp.Response.User = &autodiscoverUser{DisplayName: email, EMailAddress: email}
	url := s.baseURL(r.http) + "/Microsoft-Server-ActiveSync"
	resp.Response.Action = &struct {
		Settings struct {
			Server []autodiscoverServer `xml:"Server"`
		} `xml:"Settings"`
	}{}
	resp.Response.Action.Settings.Server = []autodiscoverServer{{Type: "MobileSync", URL: url, Name: url}}
	return autodiscoverReply(&resp, 0, nil)
}

// autodiscoverFailure is an Autodiscover error answer (HTTP 200 with an
// Error element); code goes to the log as the request's status.
func autodiscoverFailure(code int, msg string, reason error) (*reply, error) {
	var resp autodiscoverResponse
	resp.NS = autodiscoverResponseNS
	resp.Response.NS = autodiscoverMobileNS
	resp.Response.Error = &autodiscoverError{ErrorCode: code, Message: msg, DebugData: "MobileSync"}
	return autodiscoverReply(&resp, code, reason)
}

func autodiscoverReply(resp *autodiscoverResponse, code int, reason error) (*reply, error) {
	b, err := xml.MarshalIndent(resp, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode autodiscover answer: %w", err)
	}
	return &reply{
		raw: append([]byte(xml.Header), b...), contentType: "text/xml; charset=utf-8",
		easStatus: code, reason: reason,
	}, nil
}

// handleAutodiscoverJSON answers the newer, unauthenticated discovery
// ("Autodiscover v2") that Outlook mobile and recent clients use before
// falling back to the XML form: GET /autodiscover/autodiscover.json with
// Email and Protocol parameters (or /autodiscover/autodiscover.json/v1.0/
// <address>?Protocol=…).
func (s *Server) handleAutodiscoverJSON(ctx context.Context, r *request) (*reply, error) {
	proto := ""
	for k, v := range r.http.URL.Query() {
		if strings.EqualFold(k, "Protocol") && len(v) > 0 {
			proto = v[0]
		}
	}
	base := s.baseURL(r.http)
	var body any
	code := http.StatusOK
	switch strings.ToLower(proto) {
	case "activesync":
		body = map[string]string{"Protocol": "ActiveSync", "Url": base + "/Microsoft-Server-ActiveSync"}
	case "autodiscoverv1":
		body = map[string]string{"Protocol": "AutodiscoverV1", "Url": base + "/autodiscover/autodiscover.xml"}
	default:
		code = http.StatusBadRequest
		body = map[string]string{
			"ErrorCode":    "InvalidProtocol",
			"ErrorMessage": "The given protocol value '" + proto + "' is invalid. Supported values are 'ActiveSync,AutodiscoverV1'",
		}
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode autodiscover answer: %w", err)
	}
	return &reply{status: code, raw: append(b, '\n'), contentType: "application/json; charset=utf-8"}, nil
}
