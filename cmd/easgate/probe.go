package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/term"

	"github.com/easgate/easgate/eas"
	"github.com/easgate/easgate/eas/easclient"
)

// probeConfig is what `easgate probe` is told.
type probeConfig struct {
	URL          string
	User         string
	PasswordFile string
	Version      string
	DeviceType   string
	DeviceID     string
	JSON         bool
	SendTo       string
	Push         bool
	Timeout      time.Duration
	PushWait     time.Duration
	password     string
	httpClient   *http.Client
}

// probeStep is one line of the report.
type probeStep struct {
	Name    string `json:"step"`
	OK      bool   `json:"ok"`
	Skipped bool   `json:"skipped,omitempty"`
	Millis  int64  `json:"ms"`
	Detail  string `json:"detail,omitempty"`
	// Explain says in plain words what a failure means.
	Explain string `json:"explain,omitempty"`
}

// prober acts as a phone against an EAS server, one step at a time.
type prober struct {
	cfg   probeConfig
	c     *easclient.Client
	steps []probeStep
	// what earlier steps found
	inboxID  string
	inboxKey string
	// defaultFolders are the default folders of the classes other than
	// mail that FolderSync listed, by type.
	defaultFolders map[eas.FolderType]string
	version        eas.Version
	// minHeartbeat is the shortest heartbeat the server accepts, in seconds.
	minHeartbeat int
}

func (p *prober) run(ctx context.Context, name string, fn func(ctx context.Context) (string, error)) bool {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	start := time.Now()
	detail, err := fn(ctx)
	st := probeStep{Name: name, OK: err == nil, Millis: time.Since(start).Milliseconds(), Detail: detail}
	if err != nil {
		st.Detail = err.Error()
		st.Explain = explain(err)
	}
	p.steps = append(p.steps, st)
	return err == nil
}

func (p *prober) skip(name, why string) {
	p.steps = append(p.steps, probeStep{Name: name, OK: true, Skipped: true, Detail: why})
}

// explain turns an error into what an administrator should check.
func explain(err error) string {
	var he *easclient.HTTPError
	var ue x509.UnknownAuthorityError
	var hn x509.HostnameError
	var ci x509.CertificateInvalidError
	var tlsRec tls.RecordHeaderError
	var dnsErr *net.DNSError
	var opErr *net.OpError
	var pe *easclient.ProvisionError
	var ae *easclient.AutodiscoverError
	var se *statusError
	switch {
	case errors.As(err, &hn):
		return fmt.Sprintf("TLS: the server's certificate is not valid for %q (it names %s)", hn.Host, certNames(hn.Certificate))
	case errors.As(err, &ue):
		return "TLS: the server's certificate is signed by an authority this machine does not trust (self-signed or a missing intermediate certificate)"
	case errors.As(err, &ci):
		if ci.Reason == x509.Expired {
			return "TLS: the server's certificate has expired or is not yet valid"
		}
		return "TLS: the server's certificate is invalid: " + ci.Error()
	case errors.As(err, &tlsRec):
		return "TLS: the server did not answer with TLS (is it plain HTTP? try http://)"
	case errors.As(err, &dnsErr):
		return "the host name does not resolve: check the URL and DNS"
	case errors.As(err, &he):
		switch he.Code {
		case http.StatusUnauthorized:
			return "HTTP 401: wrong user name or password (the server refused the credentials)"
		case http.StatusForbidden:
			return "HTTP 403: the user is not allowed to use ActiveSync"
		case http.StatusNotFound:
			return "HTTP 404: no ActiveSync endpoint at this URL (check the path and the proxy configuration)"
		case 449:
			return "HTTP 449: the server wants the device provisioned (security policy) first"
		case http.StatusRequestEntityTooLarge:
			return "HTTP 413: the request was too large for the server or its proxy (client_max_body_size in nginx)"
		case http.StatusNotImplemented:
			return "HTTP 501: the server does not implement this command"
		case http.StatusBadGateway, http.StatusGatewayTimeout:
			return fmt.Sprintf("HTTP %d: the proxy could not reach the ActiveSync server behind it", he.Code)
		case http.StatusServiceUnavailable:
			return "HTTP 503: the server is up but cannot reach the mail server behind it (IMAP down or unreachable), or is overloaded"
		}
		if he.Code >= 500 {
			body := strings.TrimSpace(he.Body)
			if len(body) > 200 {
				body = body[:200] + "…"
			}
			return fmt.Sprintf("HTTP %d: server error: %s", he.Code, body)
		}
		return fmt.Sprintf("HTTP %d: unexpected answer", he.Code)
	case errors.As(err, &pe):
		return fmt.Sprintf("provisioning refused (status %d, policy status %d)", pe.Status, pe.Policy)
	case errors.As(err, &ae):
		return "autodiscover answered with an error: " + ae.Message
	case errors.As(err, &se):
		return se.explain
	case errors.Is(err, context.DeadlineExceeded):
		return "no answer in time: the server or a proxy in between hangs"
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return "cannot connect: nothing listens there, or a firewall is in the way"
	}
	return ""
}

func certNames(c *x509.Certificate) string {
	if c == nil {
		return "nothing"
	}
	if len(c.DNSNames) > 0 {
		return strings.Join(c.DNSNames, ", ")
	}
	return c.Subject.CommonName
}

// statusError is a command answered with a failure status.
type statusError struct {
	cmd     string
	status  int
	explain string
}

func (e *statusError) Error() string { return fmt.Sprintf("%s status %d", e.cmd, e.status) }

// commandStatus explains the top-level status of a command.
func commandStatus(cmd string, status int) error {
	if status == 1 {
		return nil
	}
	var why string
	switch status {
	case eas.StatusDeviceNotProvisioned, eas.StatusInvalidPolicyKey, eas.StatusPolicyRefresh:
		why = "the server wants the device provisioned (again)"
	case eas.StatusRemoteWipeRequested:
		why = "an administrator asked to wipe this device"
	case eas.StatusServerError, eas.StatusServerErrorRetryLater, eas.StatusMailboxServerOffline:
		why = "the server failed; it may work later"
	case eas.FolderInvalidSyncKey:
		if cmd == "FolderSync" {
			why = "the server did not accept the folder sync key"
		}
	}
	if why == "" {
		why = fmt.Sprintf("the server answered %s with status %d", cmd, status)
	}
	return &statusError{cmd: cmd, status: status, explain: why}
}

func (p *prober) autodiscover(ctx context.Context) (string, error) {
	urls, err := easclient.AutodiscoverURLs(p.cfg.User)
	if err != nil {
		return "", err
	}
	var errs []error
	for _, u := range urls {
		found, err := p.c.Autodiscover(ctx, u, p.cfg.User)
		if err == nil {
			p.cfg.URL = probeBaseURL(found)
			p.c.URL = p.cfg.URL
			return "server " + found, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", u, err))
	}
	return "", errors.Join(errs...)
}

func (p *prober) options(ctx context.Context) (string, error) {
	h, err := p.c.Options(ctx)
	if err != nil {
		return "", err
	}
	offered := h.Get("MS-ASProtocolVersions")
	if offered == "" {
		return "", &statusError{cmd: "OPTIONS", explain: "the answer has no MS-ASProtocolVersions header: not an ActiveSync server"}
	}
	want := p.cfg.Version
	if want == "" {
		// Pick the highest version both sides speak, as phones do.
		for _, v := range eas.Versions {
			if strings.Contains(","+offered+",", ","+v.String()+",") {
				want = v.String()
			}
		}
	}
	v, err := eas.ParseVersion(want)
	if err != nil || !strings.Contains(","+offered+",", ","+want+",") {
		return "", &statusError{cmd: "OPTIONS", explain: fmt.Sprintf("the server offers %s, not %s", offered, want)}
	}
	p.version, p.c.Version = v, v
	return fmt.Sprintf("versions %s; using %s", offered, v), nil
}

func (p *prober) provision(ctx context.Context) (string, error) {
	resp, err := p.c.Provision(ctx, nil)
	if err != nil {
		return "", err
	}
	if resp.RemoteWipe || resp.AccountOnlyWipe {
		return "", &statusError{cmd: "Provision", explain: "the server asks this device to wipe itself; the probe does not acknowledge it"}
	}
	return fmt.Sprintf("policy key %d", p.c.PolicyKey), nil
}

func (p *prober) settings(ctx context.Context) (string, error) {
	resp, err := p.c.Settings(ctx, &eas.SettingsRequest{
		UserInformation: &eas.UserInfoRequest{Get: true},
		DeviceInformation: &eas.DeviceInformation{Set: &eas.DeviceInformationSet{
			Model: "easgate probe", FriendlyName: "easgate probe", OS: "easgate", UserAgent: p.c.UserAgent}},
	})
	if err != nil {
		return "", err
	}
	if err := commandStatus("Settings", resp.Status); err != nil {
		return "", err
	}
	addr := ""
	if ui := resp.UserInformation; ui != nil && ui.Get != nil {
		switch {
		case ui.Get.Accounts != nil && len(ui.Get.Accounts.Account) > 0 && ui.Get.Accounts.Account[0].EmailAddresses != nil:
			a := ui.Get.Accounts.Account[0].EmailAddresses
			addr = a.PrimarySMTPAddress
			if addr == "" && len(a.SMTPAddress) > 0 {
				addr = a.SMTPAddress[0]
			}
		case ui.Get.EmailAddresses != nil && len(ui.Get.EmailAddresses.SMTPAddress) > 0:
			addr = ui.Get.EmailAddresses.SMTPAddress[0]
		}
	}
	if addr == "" {
		return "no e-mail address reported", nil
	}
	return "address " + addr, nil
}

func (p *prober) folderSync(ctx context.Context) (string, error) {
	resp, err := p.c.FolderSync(ctx, "0")
	if err != nil {
		return "", err
	}
	if err := commandStatus("FolderSync", resp.Status); err != nil {
		return "", err
	}
	if resp.Changes == nil {
		return "", &statusError{cmd: "FolderSync", explain: "the server listed no folders"}
	}
	for _, f := range resp.Changes.Add {
		if f.Type == int(eas.FolderInbox) {
			p.inboxID = f.ServerID
		}
		if t := eas.FolderType(f.Type); t.Class() != eas.ClassEmail && t.Class() != "" {
			if p.defaultFolders == nil {
				p.defaultFolders = map[eas.FolderType]string{}
			}
			p.defaultFolders[t] = f.ServerID
		}
	}
	if p.inboxID == "" {
		return "", &statusError{cmd: "FolderSync", explain: "no Inbox among the folders"}
	}
	return fmt.Sprintf("%d folders, Inbox is %s", len(resp.Changes.Add), p.inboxID), nil
}

func (p *prober) syncInbox(ctx context.Context) (string, error) {
	window := 25
	opts := &eas.SyncOptions{BodyPreference: []eas.BodyPreference{{Type: eas.BodyHTML, TruncationSize: 5000}}}
	first, err := p.c.Sync(ctx, &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: "0", CollectionID: p.inboxID, Options: []eas.SyncOptions{*opts}}}})
	if err != nil {
		return "", err
	}
	if first == nil || len(first.Collections) == 0 {
		return "", &statusError{cmd: "Sync", explain: "the server answered the first Sync with nothing"}
	}
	if st := first.Collections[0].Status; st != 1 {
		return "", commandStatus("Sync", st)
	}
	key := first.Collections[0].SyncKey
	resp, err := p.c.Sync(ctx, &eas.SyncRequest{Collections: []eas.SyncCollection{{SyncKey: key, CollectionID: p.inboxID,
		WindowSize: &window, Options: []eas.SyncOptions{*opts}}}})
	if err != nil {
		return "", err
	}
	if resp == nil || len(resp.Collections) == 0 {
		p.inboxKey = key
		return "Inbox is empty", nil
	}
	c := resp.Collections[0]
	if c.Status != 1 {
		return "", commandStatus("Sync", c.Status)
	}
	p.inboxKey = c.SyncKey
	adds, bodies := 0, 0
	if c.Commands != nil {
		for _, a := range c.Commands.Add {
			adds++
			if a.ApplicationData != nil && a.ApplicationData.Body != nil {
				bodies++
			}
		}
	}
	more := ""
	if c.MoreAvailable {
		more = ", more available"
	}
	if adds > 0 && bodies == 0 {
		return "", &statusError{cmd: "Sync", explain: "messages came without bodies"}
	}
	return fmt.Sprintf("%d messages in the first window%s", adds, more), nil
}

func (p *prober) estimate(ctx context.Context) (string, error) {
	coll := eas.GetItemEstimateCollection{SyncKey: p.inboxKey, CollectionID: p.inboxID}
	if p.version.AtLeast(eas.V140) {
		coll.Options = []eas.SyncOptions{{Class: "Email"}}
	} else {
		coll.Class = "Email"
	}
	resp, err := p.c.GetItemEstimate(ctx, &eas.GetItemEstimateRequest{Collections: []eas.GetItemEstimateCollection{coll}})
	if err != nil {
		return "", err
	}
	if len(resp.Response) == 0 {
		return "", &statusError{cmd: "GetItemEstimate", explain: "no estimate in the answer"}
	}
	r := resp.Response[0]
	if r.Status != 1 {
		return "", commandStatus("GetItemEstimate", r.Status)
	}
	est := 0
	if r.Collection != nil && r.Collection.Estimate != nil {
		est = *r.Collection.Estimate
	}
	return fmt.Sprintf("%d more to sync", est), nil
}

func newDeviceID() string {
	var b [8]byte
	rand.Read(b[:])
	return "easgateprobe" + hex.EncodeToString(b[:])
}

// probe runs every step; it stops at the first failure that makes the
// following steps meaningless.
func (p *prober) probe(ctx context.Context) {
	if p.cfg.URL == "" {
		if !p.run(ctx, "autodiscover", p.autodiscover) {
			return
		}
	} else {
		p.skip("autodiscover", "--url given")
	}
	if !p.run(ctx, "options", p.options) {
		return
	}
	if !p.run(ctx, "provision", p.provision) {
		return
	}
	p.run(ctx, "settings", p.settings)
	if !p.run(ctx, "foldersync", p.folderSync) {
		return
	}
	if !p.run(ctx, "sync", p.syncInbox) {
		return
	}
	p.run(ctx, "estimate", p.estimate)
	p.classSteps(ctx)
	p.run(ctx, "ping", p.ping)
	p.extraSteps(ctx)
}

// ping checks that the server takes a Ping for the Inbox without waiting a
// whole heartbeat: a heartbeat of one second is below every server's
// minimum, so the answer is Status 5 with the shortest one it accepts.
func (p *prober) ping(ctx context.Context) (string, error) {
	resp, err := p.c.PingFolders(ctx, 1, p.inboxID)
	if err != nil {
		return "", err
	}
	switch resp.Status {
	case eas.PingInvalidInterval:
		p.minHeartbeat = resp.HeartbeatInterval
		return fmt.Sprintf("heartbeats from %d s accepted", resp.HeartbeatInterval), nil
	case eas.PingExpired, eas.PingChanges:
		p.minHeartbeat = 1
		return fmt.Sprintf("answered status %d at once", resp.Status), nil
	}
	return "", commandStatus("Ping", resp.Status)
}

// push waits by Ping for a message to arrive in the Inbox.
func (p *prober) push(ctx context.Context) (string, error) {
	hb := max(p.minHeartbeat, 60)
	deadline := time.Now().Add(p.cfg.PushWait)
	for {
		start := time.Now()
		resp, err := p.c.PingFolders(ctx, hb, p.inboxID)
		if err != nil {
			return "", err
		}
		switch resp.Status {
		case eas.PingChanges:
			return fmt.Sprintf("new mail pushed %.1f s after the Ping started", time.Since(start).Seconds()), nil
		case eas.PingExpired:
			if time.Now().After(deadline) {
				return "", &statusError{cmd: "Ping", status: resp.Status,
					explain: fmt.Sprintf("no new message arrived within %v (send one to the account while the probe waits)", p.cfg.PushWait)}
			}
		case eas.PingInvalidInterval:
			hb = resp.HeartbeatInterval
		default:
			return "", commandStatus("Ping", resp.Status)
		}
	}
}

// extraSteps are the optional steps: sending, push.
func (p *prober) extraSteps(ctx context.Context) {
	if p.cfg.SendTo != "" {
		p.run(ctx, "sendmail", p.sendMail)
	}
	if p.cfg.Push {
		// The wait has its own bound; a step's usual timeout would cut it.
		timeout := p.cfg.Timeout
		p.cfg.Timeout = p.cfg.PushWait + time.Hour
		p.run(ctx, "push", p.push)
		p.cfg.Timeout = timeout
	}
}

// sendMail sends a short test message to --send-to.
func (p *prober) sendMail(ctx context.Context) (string, error) {
	id := newDeviceID()[len("easgateprobe"):]
	from := p.cfg.User
	if !strings.Contains(from, "@") {
		from = p.cfg.SendTo
	}
	msg := "From: " + from + "\r\nTo: " + p.cfg.SendTo + "\r\nSubject: easgate probe " + id +
		"\r\nDate: " + time.Now().UTC().Format(time.RFC1123Z) + "\r\nMessage-ID: <probe-" + id + "@easgate.invalid>" +
		"\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" +
		"This message was sent by easgate probe to check that sending works.\r\n"
	var err error
	if p.version.AtLeast(eas.V140) {
		err = p.c.SendMail(ctx, &eas.SendMailRequest{ClientID: "probe" + id, SaveInSentItems: true, MIME: []byte(msg)})
	} else {
		err = p.c.SendMIME(ctx, "SendMail", []byte(msg), easclient.Params{SaveInSent: true})
	}
	if err != nil {
		var ce *easclient.ComposeError
		if errors.As(err, &ce) {
			return "", &statusError{cmd: "SendMail", status: ce.Status, explain: sendStatusExplain(ce.Status)}
		}
		return "", err
	}
	return "sent to " + p.cfg.SendTo + " (subject \"easgate probe " + id + "\")", nil
}

func sendStatusExplain(status int) string {
	switch status {
	case eas.StatusServerErrorRetryLater:
		return "the server could not hand the message on now (mail server unreachable or a temporary refusal); try later"
	case eas.StatusRecipientUnresolved:
		return "the mail server refused the recipient address"
	case eas.StatusMailSubmissionFailed:
		return "the mail server refused the message (or sending is not configured on the server)"
	case eas.StatusAttachmentTooLarge:
		return "the message is larger than the mail server accepts"
	case eas.StatusMessageHasNoRecipient:
		return "the server found no recipient in the message"
	}
	return fmt.Sprintf("the server refused to send (status %d)", status)
}

func (p *prober) passed() bool {
	for _, s := range p.steps {
		if !s.OK {
			return false
		}
	}
	return len(p.steps) > 0
}

func (p *prober) report(w io.Writer) {
	if p.cfg.JSON {
		writeJSONOut(w, struct {
			OK    bool        `json:"ok"`
			Steps []probeStep `json:"steps"`
		}{p.passed(), p.steps})
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range p.steps {
		res := "ok"
		switch {
		case s.Skipped:
			res = "skipped"
		case !s.OK:
			res = "FAILED"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d ms\t%s\n", res, s.Name, s.Millis, s.Detail)
		if s.Explain != "" {
			fmt.Fprintf(tw, "\t\t\t→ %s\n", s.Explain)
		}
	}
	tw.Flush()
}

func readPassword(cfg *probeConfig, getenv func(string) string, stdin io.Reader, stderr io.Writer) error {
	switch {
	case cfg.PasswordFile != "":
		b, err := os.ReadFile(cfg.PasswordFile)
		if err != nil {
			return fmt.Errorf("password file: %w", err)
		}
		cfg.password = strings.TrimRight(string(b), "\r\n")
	case getenv("EASGATE_PROBE_PASSWORD") != "":
		cfg.password = getenv("EASGATE_PROBE_PASSWORD")
	default:
		if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			fmt.Fprintf(stderr, "Password for %s: ", cfg.User)
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(stderr)
			if err != nil {
				return fmt.Errorf("read password: %w", err)
			}
			cfg.password = string(b)
		} else {
			line, err := bufio.NewReader(stdin).ReadString('\n')
			if err != nil && line == "" {
				return errors.New("no password: use --password-file, EASGATE_PROBE_PASSWORD or a terminal")
			}
			cfg.password = strings.TrimRight(line, "\r\n")
		}
	}
	return nil
}

// probeBaseURL is the server's base URL from what a user gives: the base
// itself, or the ActiveSync endpoint's URL as Autodiscover, a phone's
// settings or `easgate demo` show it (the path in any case).
func probeBaseURL(u string) string {
	u = strings.TrimRight(u, "/")
	const endpoint = "/microsoft-server-activesync"
	if strings.HasSuffix(strings.ToLower(u), endpoint) {
		u = u[:len(u)-len(endpoint)]
	}
	return strings.TrimRight(u, "/")
}

// runProbe is `easgate probe`.
func runProbe(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	return probeMain(context.Background(), args, os.Getenv, stdin, stdout, stderr)
}

func probeMain(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	return probeMainWith(ctx, args, getenv, stdin, stdout, stderr, nil)
}

// probeMainWith lets tests adjust the configuration (the HTTP client).
func probeMainWith(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer, adjust func(*probeConfig)) int {
	var cfg probeConfig
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.URL, "url", "", "server URL, the base (https://mail.example.com) or the endpoint (…/Microsoft-Server-ActiveSync); without it, Autodiscover from --user")
	fs.StringVar(&cfg.User, "user", "", "user name or e-mail address (required)")
	fs.StringVar(&cfg.PasswordFile, "password-file", "", "file holding the password (else EASGATE_PROBE_PASSWORD, else a prompt)")
	fs.StringVar(&cfg.Version, "version", "", "protocol version to use (default: the highest the server offers)")
	fs.StringVar(&cfg.DeviceType, "device-type", "iPhone", "DeviceType to present")
	fs.StringVar(&cfg.DeviceID, "device-id", "", "DeviceId to present (default: a new random one)")
	fs.BoolVar(&cfg.JSON, "json", false, "print JSON for scripts")
	fs.StringVar(&cfg.SendTo, "send-to", "", "send a test message to this address (SendMail)")
	fs.BoolVar(&cfg.Push, "push", false, "wait for a new message to arrive by Ping")
	fs.DurationVar(&cfg.Timeout, "timeout", 30*time.Second, "time limit of each step")
	fs.DurationVar(&cfg.PushWait, "push-wait", 5*time.Minute, "how long --push waits for a message")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if cfg.User == "" {
		fmt.Fprintln(stderr, "easgate probe: --user is required")
		return 2
	}
	if err := readPassword(&cfg, getenv, stdin, stderr); err != nil {
		fmt.Fprintf(stderr, "easgate probe: %v\n", err)
		return 2
	}
	if cfg.DeviceID == "" {
		cfg.DeviceID = newDeviceID()
	}
	cfg.URL = probeBaseURL(cfg.URL)
	if adjust != nil {
		adjust(&cfg)
	}
	c := easclient.New(cfg.URL, cfg.User, cfg.password, cfg.DeviceID, eas.V141)
	c.DeviceType = cfg.DeviceType
	c.UserAgent = "easgate-probe/1"
	c.HTTP = cfg.httpClient
	if c.HTTP == nil {
		c.HTTP = &http.Client{}
	}
	p := &prober{cfg: cfg, c: c}
	p.probe(ctx)
	p.report(stdout)
	if !p.passed() {
		return 1
	}
	return 0
}
