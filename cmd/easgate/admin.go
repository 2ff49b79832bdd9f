package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/easgate/easgate/eas"
)

const adminUsage = `usage: easgate admin [flags] <command>

commands:
  devices                          list every device
  show USER DEVICE                 one device in detail
  reset USER DEVICE                forget its sync state (it resyncs; mail untouched)
  wipe [-account-only] USER DEVICE remote wipe at its next request
  delete USER DEVICE               forget the device entirely
  trace USER DEVICE on|off         log its requests and responses as XML

flags:
`

// adminClient talks to the admin API.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

func (c *adminClient) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("admin API: %w", err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		json.Unmarshal(data, &e)
		if e.Error == "" {
			e.Error = strings.TrimSpace(string(data))
		}
		switch resp.StatusCode {
		case http.StatusUnauthorized:
			return errors.New("the admin API refused the token (check --token-file or EASGATE_ADMIN_TOKEN)")
		case http.StatusNotFound:
			return fmt.Errorf("not found: %s", e.Error)
		}
		return fmt.Errorf("admin API: HTTP %d: %s", resp.StatusCode, e.Error)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("admin API answer: %w", err)
		}
	}
	return nil
}

func devicePath(user, device string) string {
	return "/api/devices/" + url.PathEscape(user) + "/" + url.PathEscape(device)
}

// runAdmin is `easgate admin`.
func runAdmin(args []string, stdout, stderr io.Writer) int {
	return adminMain(context.Background(), args, os.Getenv, stdout, stderr)
}

func adminMain(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("admin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, adminUsage); fs.PrintDefaults() }
	base := fs.String("url", "http://127.0.0.1:8081", "admin API base URL (env EASGATE_ADMIN_URL)")
	tokenFile := fs.String("token-file", "", "file holding the admin token (default: env EASGATE_ADMIN_TOKEN)")
	asJSON := fs.Bool("json", false, "print JSON for scripts")
	if v := getenv("EASGATE_ADMIN_URL"); v != "" {
		*base = v
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	token := getenv("EASGATE_ADMIN_TOKEN")
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			fmt.Fprintf(stderr, "easgate admin: %v\n", err)
			return 2
		}
		token = strings.TrimSpace(string(b))
	}
	if token == "" {
		fmt.Fprintln(stderr, "easgate admin: no token: pass --token-file or set EASGATE_ADMIN_TOKEN")
		return 2
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return 2
	}
	c := &adminClient{base: strings.TrimSuffix(*base, "/"), token: token, http: &http.Client{Timeout: 30 * time.Second}}
	need := func(n int) bool {
		if len(rest)-1 != n {
			fmt.Fprintf(stderr, "easgate admin %s: want %d arguments\n%s", rest[0], n, adminUsage)
			return false
		}
		return true
	}
	var err error
	switch rest[0] {
	case "devices":
		if !need(0) {
			return 2
		}
		var devs []eas.Device
		if err = c.do(ctx, "GET", "/api/devices", nil, &devs); err == nil {
			if *asJSON {
				writeJSONOut(stdout, devs)
			} else {
				printDevices(stdout, devs)
			}
		}
	case "show":
		if !need(2) {
			return 2
		}
		var d eas.Device
		if err = c.do(ctx, "GET", devicePath(rest[1], rest[2]), nil, &d); err == nil {
			if *asJSON {
				writeJSONOut(stdout, d)
			} else {
				printDevice(stdout, &d)
			}
		}
	case "reset", "delete":
		if !need(2) {
			return 2
		}
		method := "POST"
		path := devicePath(rest[1], rest[2])
		if rest[0] == "reset" {
			path += "/reset"
		} else {
			method = "DELETE"
		}
		var res map[string]string
		if err = c.do(ctx, method, path, nil, &res); err == nil {
			report(stdout, *asJSON, res, fmt.Sprintf("%s %s: %s", rest[1], rest[2], res["result"]))
		}
	case "wipe":
		wfs := flag.NewFlagSet("wipe", flag.ContinueOnError)
		wfs.SetOutput(stderr)
		accountOnly := wfs.Bool("account-only", false, "wipe only the account's data (protocol 16.1)")
		if err := wfs.Parse(rest[1:]); err != nil {
			return 2
		}
		rest = append(rest[:1], wfs.Args()...)
		if !need(2) {
			return 2
		}
		var res map[string]string
		body := map[string]bool{"accountOnly": *accountOnly}
		if err = c.do(ctx, "POST", devicePath(rest[1], rest[2])+"/wipe", body, &res); err == nil {
			report(stdout, *asJSON, res, fmt.Sprintf("%s %s: %s; it happens at the device's next request", rest[1], rest[2], res["result"]))
		}
	case "trace":
		if !need(3) {
			return 2
		}
		on := rest[3] == "on"
		if !on && rest[3] != "off" {
			fmt.Fprintln(stderr, "easgate admin trace: want on or off")
			return 2
		}
		var res map[string]bool
		if err = c.do(ctx, "POST", devicePath(rest[1], rest[2])+"/trace", map[string]bool{"on": on}, &res); err == nil {
			report(stdout, *asJSON, res, fmt.Sprintf("%s %s: trace %s", rest[1], rest[2], rest[3]))
		}
	default:
		fmt.Fprintf(stderr, "easgate admin: unknown command %q\n%s", rest[0], adminUsage)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "easgate admin: %v\n", err)
		return 1
	}
	return 0
}

func writeJSONOut(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func report(w io.Writer, asJSON bool, v any, line string) {
	if asJSON {
		writeJSONOut(w, v)
		return
	}
	fmt.Fprintln(w, line)
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

func wipeState(w eas.WipeState) string {
	switch {
	case w.Requested && w.AccountOnly:
		return "account wipe pending"
	case w.Requested:
		return "wipe pending"
	case !w.AckedAt.IsZero():
		return fmt.Sprintf("wiped %s (status %d)", ago(w.AckedAt), w.AckStatus)
	}
	return "-"
}

func printDevices(w io.Writer, devs []eas.Device) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "USER\tDEVICE\tTYPE\tMODEL\tVERSION\tLAST SEEN\tLAST COMMAND\tWIPE")
	for _, d := range devs {
		model := d.Info.Model
		if model == "" {
			model = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.User, d.ID, d.Type, model, d.Protocol,
			ago(d.LastSeen), d.LastCommand, wipeState(d.Wipe))
	}
	tw.Flush()
}

func printDevice(w io.Writer, d *eas.Device) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		}
	}
	row("User", d.User)
	row("Device", d.ID)
	row("Type", d.Type)
	row("Model", d.Info.Model)
	row("Name", d.Info.FriendlyName)
	row("OS", d.Info.OS)
	row("User agent", d.UserAgent)
	row("Protocol", d.Protocol)
	row("First seen", ago(d.FirstSeen))
	row("Last seen", ago(d.LastSeen))
	row("Last command", d.LastCommand)
	prov := "no"
	if d.PolicyKey != 0 {
		prov = "yes"
	}
	row("Provisioned", prov)
	row("Wipe", wipeState(d.Wipe))
	row("Trace", fmt.Sprint(d.Trace))
	if d.LastError != "" {
		row("Last error", d.LastError+" ("+ago(d.LastErrorAt)+")")
	}
	tw.Flush()
}
