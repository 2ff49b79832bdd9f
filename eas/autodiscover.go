package eas

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"strings"

	"go.uber.org/zap"
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

// serveAutodiscover answers the mobilesync Autodiscover request, so a phone
// can set the account up from an e-mail address and password alone.
func (s *Server) serveAutodiscover(w http.ResponseWriter, r *http.Request) {
	start := s.cfg.Now()
	cred, ok := s.credentials(r)
	if !ok {
		s.unauthorized(w)
		s.logRequest(r, nil, "", "Autodiscover", http.StatusUnauthorized, 0, start, 0, nil)
		return
	}
	mb, err := s.auth.check(r.Context(), cred, s.clientAddr(r).String())
	if mb != nil {
		mb.Close()
	}
	if err != nil {
		code := s.authFailure(w, err)
		s.logRequest(r, nil, cred.Username, "Autodiscover", code, 0, start, 0, err)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	var req autodiscoverRequest
	email := cred.Username
	schema := autodiscoverMobileNS
	// Some Android clients post no body at all, only credentials: they
	// want the mobilesync answer.
	if len(strings.TrimSpace(string(body))) > 0 {
		if err := xml.Unmarshal(body, &req); err != nil {
			s.writeAutodiscoverError(w, 600, "Invalid Request")
			s.logRequest(r, nil, cred.Username, "Autodiscover", http.StatusOK, 600, start, len(body), err)
			return
		}
		if req.Request.EMailAddress != "" {
			email = req.Request.EMailAddress
		}
		schema = strings.TrimSpace(req.Request.AcceptableResponseSchema)
	}
	if schema != autodiscoverMobileNS {
		s.writeAutodiscoverError(w, 601, "The requested schema is not available")
		s.logRequest(r, nil, cred.Username, "Autodiscover", http.StatusOK, 601, start, len(body), nil)
		return
	}
	var resp autodiscoverResponse
	resp.NS = autodiscoverResponseNS
	resp.Response.NS = autodiscoverMobileNS
	resp.Response.Culture = "en:us"
	resp.Response.User = &autodiscoverUser{DisplayName: email, EMailAddress: email}
	url := s.baseURL(r) + "/Microsoft-Server-ActiveSync"
	resp.Response.Action = &struct {
		Settings struct {
			Server []autodiscoverServer `xml:"Server"`
		} `xml:"Settings"`
	}{}
	resp.Response.Action.Settings.Server = []autodiscoverServer{{Type: "MobileSync", URL: url, Name: url}}
	s.writeAutodiscover(w, &resp)
	s.logRequest(r, nil, cred.Username, "Autodiscover", http.StatusOK, 0, start, len(body), nil, zap.String("url", url))
}

func (s *Server) writeAutodiscoverError(w http.ResponseWriter, code int, msg string) {
	var resp autodiscoverResponse
	resp.NS = autodiscoverResponseNS
	resp.Response.NS = autodiscoverMobileNS
	resp.Response.Error = &autodiscoverError{ErrorCode: code, Message: msg, DebugData: "MobileSync"}
	s.writeAutodiscover(w, &resp)
}

func (s *Server) writeAutodiscover(w http.ResponseWriter, resp *autodiscoverResponse) {
	b, err := xml.MarshalIndent(resp, "", "  ")
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, xml.Header)
	w.Write(b)
}

// serveAutodiscoverJSON answers the newer, unauthenticated discovery
// ("Autodiscover v2") that Outlook mobile and recent clients use before
// falling back to the XML form: GET /autodiscover/autodiscover.json with
// Email and Protocol parameters (or /autodiscover/autodiscover.json/v1.0/
// <address>?Protocol=…).
func (s *Server) serveAutodiscoverJSON(w http.ResponseWriter, r *http.Request) {
	start := s.cfg.Now()
	q := r.URL.Query()
	proto := ""
	for k, v := range q {
		if strings.EqualFold(k, "Protocol") && len(v) > 0 {
			proto = v[0]
		}
	}
	base := s.baseURL(r)
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
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(body)
	s.logRequest(r, nil, "", "AutodiscoverJSON", code, 0, start, 0, nil)
}
