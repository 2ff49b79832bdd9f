// Package sieve keeps a user's out-of-office settings as a Sieve vacation
// rule (RFC 5230) on a ManageSieve server (RFC 5804), next to the user's own
// Sieve rules and without disturbing them.
//
// Client is a small ManageSieve client: the commands needed to list, read,
// store, activate and delete scripts. Oof builds on it.
package sieve

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"

	"github.com/easgate/easgate/bridge"
)

// ErrAuthFailed is returned by Authenticate when the server refuses the
// credentials.
var ErrAuthFailed = errors.New("managesieve: authentication failed")

// ErrTooLarge is wrapped by the error of an answer larger than the client
// takes: a line longer than maxLine, a literal longer than maxLiteral, or
// an answer longer than maxAnswer. The connection is then out of step:
// the Client can only be closed.
var ErrTooLarge = errors.New("managesieve: answer too large")

// Error is a NO or BYE answer.
type Error struct {
	Command string
	// Code is the response code without its parentheses, e.g. "NONEXISTENT"
	// or "ACTIVE"; "" when the server gave none.
	Code string
	Text string
	// Bye: the server answered BYE and closed the connection.
	Bye bool
}

func (e *Error) Error() string {
	code := ""
	if e.Code != "" {
		code = " (" + e.Code + ")"
	}
	return fmt.Sprintf("managesieve: %s refused%s: %s", e.Command, code, e.Text)
}

// HasCode reports whether err is a NO with the given response code (first
// word, case-insensitive).
func HasCode(err error, code string) bool {
	var e *Error
	if !errors.As(err, &e) {
		return false
	}
	first, _, _ := strings.Cut(e.Code, " ")
	first, _, _ = strings.Cut(first, "/")
	return strings.EqualFold(first, code)
}

// DialConfig says where and how to connect.
type DialConfig struct {
	Addr     string
	Security bridge.Security
	// TLSConfig verifies the server; nil: the system roots, with the host of
	// Addr as the server name.
	TLSConfig *tls.Config
}

// Script is one entry of LISTSCRIPTS.
type Script struct {
	Name   string
	Active bool
}

// Client is one ManageSieve connection. It is not safe for concurrent use.
type Client struct {
	conn net.Conn
	r    *bufio.Reader
	w    *bufio.Writer
	caps map[string]string
	// lineLeft and answerLeft are what the line being read, outside its
	// literals, and the whole answer may still take: a broken or hostile
	// server must not make the client allocate without bound.
	lineLeft, answerLeft int
}

// Dial connects, reads the greeting and, with SecuritySTARTTLS, upgrades the
// connection before returning.
func Dial(ctx context.Context, cfg DialConfig) (*Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("managesieve: dial %s: %w", cfg.Addr, err)
	}
	if cfg.Security == bridge.SecurityTLS {
		conn = tls.Client(conn, tlsConfig(cfg))
	}
	c := newClient(conn)
	err = c.run(ctx, func() error {
		if err := c.readCapabilities("greeting"); err != nil {
			return err
		}
		if cfg.Security != bridge.SecuritySTARTTLS {
			return nil
		}
		return c.startTLS(tlsConfig(cfg))
	})
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

func tlsConfig(cfg DialConfig) *tls.Config {
	tc := &tls.Config{}
	if cfg.TLSConfig != nil {
		tc = cfg.TLSConfig.Clone()
	}
	if tc.ServerName == "" {
		host, _, err := net.SplitHostPort(cfg.Addr)
		if err != nil {
			host = cfg.Addr
		}
		tc.ServerName = host
	}
	return tc
}

func newClient(conn net.Conn) *Client {
	return &Client{conn: conn, r: bufio.NewReader(conn), w: bufio.NewWriter(conn)}
}

// startTLS upgrades the connection; the server then announces its
// capabilities again (RFC 5804 2.2).
func (c *Client) startTLS(tc *tls.Config) error {
	if _, ok := c.caps["STARTTLS"]; !ok {
		return errors.New("managesieve: server does not offer STARTTLS")
	}
	if err := c.command("STARTTLS", nil, nil); err != nil {
		return err
	}
	tconn := tls.Client(c.conn, tc)
	if err := tconn.Handshake(); err != nil {
		return fmt.Errorf("managesieve: TLS handshake: %w", err)
	}
	c.conn, c.r, c.w = tconn, bufio.NewReader(tconn), bufio.NewWriter(tconn)
	return c.readCapabilities("STARTTLS")
}

// Capability returns the value of a capability the server announced, e.g.
// "SIEVE" (the extensions, space separated).
func (c *Client) Capability(name string) (string, bool) {
	v, ok := c.caps[strings.ToUpper(name)]
	return v, ok
}

// Close drops the connection without LOGOUT.
func (c *Client) Close() error { return c.conn.Close() }

// Authenticate logs in with SASL PLAIN.
func (c *Client) Authenticate(ctx context.Context, user, password string) error {
	_, ir, err := sasl.NewPlainClient("", user, password).Start()
	if err != nil {
		return fmt.Errorf("managesieve: PLAIN: %w", err)
	}
	return c.run(ctx, func() error {
		err := c.command("AUTHENTICATE", []string{quote("PLAIN"), quote(base64.StdEncoding.EncodeToString(ir))}, nil)
		// TRYLATER and BYE say the server cannot check the credentials
		// now, not that they are wrong (RFC 5804 1.3).
		var e *Error
		if errors.As(err, &e) && !e.Bye && !HasCode(err, "TRYLATER") {
			return fmt.Errorf("%w: %s", ErrAuthFailed, e.Text)
		}
		return err
	})
}

// ListScripts lists the user's scripts.
func (c *Client) ListScripts(ctx context.Context) ([]Script, error) {
	var out []Script
	err := c.run(ctx, func() error {
		return c.command("LISTSCRIPTS", nil, func(line []token) error {
			if len(line) == 0 || line[0].kind != tokString {
				return fmt.Errorf("managesieve: LISTSCRIPTS: unexpected line %v", line)
			}
			s := Script{Name: line[0].val}
			s.Active = len(line) > 1 && strings.EqualFold(line[1].val, "ACTIVE")
			out = append(out, s)
			return nil
		})
	})
	return out, err
}

// GetScript returns a script's content exactly as stored.
func (c *Client) GetScript(ctx context.Context, name string) (string, error) {
	var content string
	var got bool
	err := c.run(ctx, func() error {
		return c.command("GETSCRIPT", []string{quote(name)}, func(line []token) error {
			if len(line) != 1 || line[0].kind != tokString || got {
				return fmt.Errorf("managesieve: GETSCRIPT: unexpected line %v", line)
			}
			content, got = line[0].val, true
			return nil
		})
	})
	if err == nil && !got {
		err = errors.New("managesieve: GETSCRIPT: no script in the answer")
	}
	return content, err
}

// PutScript stores a script, replacing one of the same name. The server
// checks it first and refuses a script it cannot compile.
func (c *Client) PutScript(ctx context.Context, name, content string) error {
	return c.run(ctx, func() error {
		return c.command("PUTSCRIPT", []string{quote(name), literal(content)}, nil)
	})
}

// SetActive makes name the active script; "" deactivates every script.
func (c *Client) SetActive(ctx context.Context, name string) error {
	return c.run(ctx, func() error {
		return c.command("SETACTIVE", []string{quote(name)}, nil)
	})
}

// DeleteScript deletes a script that is not active.
func (c *Client) DeleteScript(ctx context.Context, name string) error {
	return c.run(ctx, func() error {
		return c.command("DELETESCRIPT", []string{quote(name)}, nil)
	})
}

// Logout ends the session and closes the connection.
func (c *Client) Logout(ctx context.Context) error {
	err := c.run(ctx, func() error { return c.command("LOGOUT", nil, nil) })
	if cerr := c.Close(); err == nil && !errors.Is(cerr, net.ErrClosed) {
		err = cerr
	}
	return err
}

// run does one exchange under ctx: its deadline bounds the connection, and
// its cancellation interrupts a blocked read or write.
func (c *Client) run(ctx context.Context, fn func() error) error {
	dl, _ := ctx.Deadline()
	if err := c.conn.SetDeadline(dl); err != nil {
		return fmt.Errorf("managesieve: %w", err)
	}
	conn := c.conn
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	err := fn()
	if !stop() {
		// The exchange may have been cut in the middle: the connection is
		// out of step and must not be used again.
		c.conn.Close()
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("managesieve: %w", cerr)
		}
	}
	return err
}

// command writes one command and reads its answer, handing every line
// before the final OK to data.
func (c *Client) command(name string, args []string, data func([]token) error) error {
	c.w.WriteString(name)
	for _, a := range args {
		c.w.WriteByte(' ')
		c.w.WriteString(a)
	}
	c.w.WriteString("\r\n")
	if err := c.w.Flush(); err != nil {
		return fmt.Errorf("managesieve: send %s: %w", name, err)
	}
	c.answerLeft = maxAnswer
	for {
		line, err := c.readLine()
		if err != nil {
			return fmt.Errorf("managesieve: %s: %w", name, err)
		}
		if st, ok := status(line); ok {
			if st.ok {
				return nil
			}
			return &Error{Command: name, Code: st.code, Text: st.text, Bye: st.bye}
		}
		if data == nil {
			return fmt.Errorf("managesieve: %s: unexpected line %v", name, line)
		}
		if err := data(line); err != nil {
			return err
		}
	}
}

// readCapabilities reads capability lines up to the OK that ends them.
func (c *Client) readCapabilities(what string) error {
	c.caps = map[string]string{}
	c.answerLeft = maxAnswer
	for {
		line, err := c.readLine()
		if err != nil {
			return fmt.Errorf("managesieve: %s: %w", what, err)
		}
		if st, ok := status(line); ok {
			if !st.ok {
				return &Error{Command: what, Code: st.code, Text: st.text}
			}
			return nil
		}
		if len(line) == 0 || line[0].kind != tokString {
			return fmt.Errorf("managesieve: %s: unexpected line %v", what, line)
		}
		v := ""
		if len(line) > 1 {
			v = line[1].val
		}
		c.caps[strings.ToUpper(line[0].val)] = v
	}
}

type statusLine struct {
	ok, bye    bool
	code, text string
}

func status(line []token) (statusLine, bool) {
	if len(line) == 0 || line[0].kind != tokAtom {
		return statusLine{}, false
	}
	var st statusLine
	switch strings.ToUpper(line[0].val) {
	case "OK":
		st.ok = true
	case "NO":
	case "BYE":
		st.bye = true
	default:
		return statusLine{}, false
	}
	for _, t := range line[1:] {
		switch t.kind {
		case tokCode:
			st.code = t.val
		case tokString:
			st.text = t.val
		}
	}
	return st, true
}

type tokenKind int

const (
	tokAtom tokenKind = iota
	tokString
	tokCode
)

type token struct {
	kind tokenKind
	val  string
}

func (t token) String() string { return strconv.Quote(t.val) }

// Bounds of what the server sends. A script larger than maxLiteral is not
// one easgate wrote or can use (Pigeonhole's sieve_max_script_size is
// 1 MiB by default); names, capabilities and status texts fit in maxLine
// many times over; an answer holds at most one script, or a list of
// names.
const (
	maxLiteral = 1 << 20
	maxLine    = 64 << 10
	maxAnswer  = maxLiteral + maxLine
)

// readByte reads one byte of a line, outside literals, within the line's
// and the answer's budget.
func (c *Client) readByte() (byte, error) {
	if c.lineLeft <= 0 {
		return 0, fmt.Errorf("%w: a line longer than %d bytes", ErrTooLarge, maxLine)
	}
	if c.answerLeft <= 0 {
		return 0, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, maxAnswer)
	}
	b, err := c.r.ReadByte()
	if err == nil {
		c.lineLeft--
		c.answerLeft--
	}
	return b, err
}

// unreadByte gives back the byte readByte read last.
func (c *Client) unreadByte() {
	if c.r.UnreadByte() == nil {
		c.lineLeft++
		c.answerLeft++
	}
}

// readLine reads one response line as tokens: atoms, strings (quoted or
// literal) and a response code, kept whole without its parentheses.
func (c *Client) readLine() ([]token, error) {
	var line []token
	c.lineLeft = maxLine
	for {
		b, err := c.readByte()
		if err != nil {
			return nil, err
		}
		switch {
		case b == ' ':
		case b == '\r':
			if b, err = c.readByte(); err != nil {
				return nil, err
			} else if b != '\n' {
				return nil, errors.New("bare CR in answer")
			}
			return line, nil
		case b == '\n':
			return line, nil
		case b == '"':
			s, err := c.readQuoted()
			if err != nil {
				return nil, err
			}
			line = append(line, token{tokString, s})
		case b == '{':
			s, err := c.readLiteral()
			if err != nil {
				return nil, err
			}
			line = append(line, token{tokString, s})
		case b == '(':
			s, err := c.readCode()
			if err != nil {
				return nil, err
			}
			line = append(line, token{tokCode, s})
		default:
			c.unreadByte()
			a, err := c.readAtom()
			if err != nil {
				return nil, err
			}
			line = append(line, token{tokAtom, a})
		}
	}
}

func (c *Client) readQuoted() (string, error) {
	var sb strings.Builder
	for {
		b, err := c.readByte()
		if err != nil {
			return "", err
		}
		switch b {
		case '"':
			return sb.String(), nil
		case '\\':
			if b, err = c.readByte(); err != nil {
				return "", err
			}
		case '\r', '\n':
			return "", errors.New("line break in quoted string")
		}
		sb.WriteByte(b)
	}
}

func (c *Client) readLiteral() (string, error) {
	spec, err := c.readUntil('}')
	if err != nil {
		return "", err
	}
	n, err := strconv.Atoi(strings.TrimSuffix(spec, "+"))
	if err != nil || n < 0 {
		return "", fmt.Errorf("bad literal length {%s}", spec)
	}
	if n > maxLiteral || n > c.answerLeft {
		return "", fmt.Errorf("%w: a literal of %d bytes (at most %d taken)", ErrTooLarge, n, min(maxLiteral, c.answerLeft))
	}
	if rest, err := c.readUntil('\n'); err != nil {
		return "", err
	} else if strings.TrimRight(rest, "\r") != "" {
		return "", fmt.Errorf("literal {%s} followed by %q", spec, rest)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(c.r, buf); err != nil {
		return "", err
	}
	c.answerLeft -= n
	return string(buf), nil
}

// readUntil reads up to delim, which it consumes and leaves out.
func (c *Client) readUntil(delim byte) (string, error) {
	var sb strings.Builder
	for {
		b, err := c.readByte()
		if err != nil {
			return "", err
		}
		if b == delim {
			return sb.String(), nil
		}
		sb.WriteByte(b)
	}
}

// readCode reads a response code up to its closing parenthesis; quoted
// strings inside it (SASL "...", TAG "...") are kept as written.
func (c *Client) readCode() (string, error) {
	var sb strings.Builder
	inQuote := false
	for {
		b, err := c.readByte()
		if err != nil {
			return "", err
		}
		switch {
		case b == '\r' || b == '\n':
			return "", errors.New("line break in response code")
		case inQuote && b == '\\':
			sb.WriteByte(b)
			if b, err = c.readByte(); err != nil {
				return "", err
			}
		case b == '"':
			inQuote = !inQuote
		case b == ')' && !inQuote:
			return sb.String(), nil
		}
		sb.WriteByte(b)
	}
}

func (c *Client) readAtom() (string, error) {
	var sb strings.Builder
	for {
		b, err := c.readByte()
		if err != nil {
			return "", err
		}
		if b == ' ' || b == '\r' || b == '\n' || b == '(' || b == '"' || b == '{' {
			c.unreadByte()
			return sb.String(), nil
		}
		sb.WriteByte(b)
	}
}

// quote writes s as a quoted string; names and short values only (a
// quoted string cannot hold line breaks).
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`)
	return `"` + r.Replace(s) + `"`
}

// literal writes s as a non-synchronizing literal, which holds anything.
func literal(s string) string {
	return "{" + strconv.Itoa(len(s)) + "+}\r\n" + s
}
