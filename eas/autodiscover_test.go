package eas_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/easgate/easgate/eas"
)

func TestAutodiscoverJSON(t *testing.T) {
	// The JSON discovery is unauthenticated and needs no mailbox.
	srv := httptest.NewServer(eas.NewServer(eas.Config{PublicURL: "https://mail.example.com/"}, nil, nil, nil).Handler())
	defer srv.Close()
	tests := []struct {
		path string
		code int
		want map[string]string
	}{
		{"/autodiscover/autodiscover.json?Email=anna@example.com&Protocol=ActiveSync", 200,
			map[string]string{"Protocol": "ActiveSync", "Url": "https://mail.example.com/Microsoft-Server-ActiveSync"}},
		{"/autodiscover/autodiscover.json/v1.0/anna@example.com?Protocol=activesync", 200,
			map[string]string{"Protocol": "ActiveSync", "Url": "https://mail.example.com/Microsoft-Server-ActiveSync"}},
		{"/Autodiscover/Autodiscover.json?Email=anna@example.com&Protocol=AutodiscoverV1", 200,
			map[string]string{"Protocol": "AutodiscoverV1", "Url": "https://mail.example.com/autodiscover/autodiscover.xml"}},
		{"/autodiscover/autodiscover.json?Email=anna@example.com&Protocol=Ews", 400,
			map[string]string{"ErrorCode": "InvalidProtocol"}},
		{"/autodiscover/autodiscover.json?Email=anna@example.com", 400,
			map[string]string{"ErrorCode": "InvalidProtocol"}},
	}
	for _, tt := range tests {
		resp, err := http.Get(srv.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]string
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil || resp.StatusCode != tt.code || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Fatalf("%s: %d %v %v", tt.path, resp.StatusCode, got, err)
		}
		for k, v := range tt.want {
			if got[k] != v {
				t.Errorf("%s: %s = %q, want %q", tt.path, k, got[k], v)
			}
		}
	}
}
