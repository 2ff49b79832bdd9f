package bridge

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// originTag tags the one command sendOrigin sends; imapclient's tags
// start anew after it.
const originTag = "O1"

// maxOriginReply bounds what sendOrigin reads before the server's answer
// to ID; Dovecot's is a few hundred bytes.
const maxOriginReply = 64 << 10

// errOriginReply: the server's answer to ID was not IMAP as expected.
var errOriginReply = errors.New("unexpected answer to IMAP ID")

// sendOrigin tells the server the address of the phone a login is for,
// with the IMAP ID (RFC 2971) fields x-originating-ip and
// x-originating-port, before imapclient takes the connection over:
// imapclient's ID sends only the standard fields. Dovecot believes them
// from hosts in login_trusted_networks; its log, its penalty for failed
// logins and its per-address limits then see the phone, not easgate.
//
// ID goes out only when the greeting lists it (Dovecot's does): go-imap's
// own server, for one, hangs up on a command it does not know. The
// greeting, read here first, is put back for imapclient. The answer to ID
// does not matter; a NO or BAD leaves the login as it was.
func sendOrigin(ctx context.Context, raw net.Conn, origin string) (net.Conn, error) {
	fields := originFields(origin)
	if fields == "" {
		return raw, nil
	}
	if dl, ok := ctx.Deadline(); ok {
		raw.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { raw.SetDeadline(time.Unix(1, 0)) })
	br := bufio.NewReader(raw)
	greeting, err := idExchange(br, raw, fields)
	if !stop() {
		return nil, fmt.Errorf("IMAP ID: %w", ctx.Err())
	}
	if err != nil {
		return nil, fmt.Errorf("IMAP ID: %w", err)
	}
	raw.SetDeadline(time.Time{})
	// The greeting and what the server sent after its answer to ID (as a
	// rule nothing) are put back; the rest is read from raw itself, so
	// that the reader's 4 KiB buffer is not kept for the connection's life
	// (imapclient buffers its reads anyway).
	ahead, _ := br.Peek(br.Buffered())
	return &replayConn{Conn: raw, r: io.MultiReader(strings.NewReader(greeting+string(ahead)), raw)}, nil
}

// idExchange reads the greeting and, when it offers ID, sends ID and reads
// up to the tagged answer. It returns the greeting.
func idExchange(br *bufio.Reader, w io.Writer, fields string) (string, error) {
	greeting, err := readResponse(br, maxOriginReply)
	if err != nil || !offersID(greeting) {
		return greeting, err
	}
	if _, err := io.WriteString(w, originTag+" ID ("+fields+")\r\n"); err != nil {
		return "", err
	}
	for read := 0; read < maxOriginReply; {
		line, err := readResponse(br, maxOriginReply-read)
		if err != nil {
			return "", err
		}
		if strings.HasPrefix(line, originTag+" ") {
			return greeting, nil
		}
		read += len(line)
	}
	return "", errOriginReply
}

// offersID reports whether a greeting is an OK whose capabilities list ID.
func offersID(greeting string) bool {
	caps, ok := strings.CutPrefix(greeting, "* OK [CAPABILITY ")
	if !ok {
		return false
	}
	caps, _, ok = strings.Cut(caps, "]")
	return ok && slices.ContainsFunc(strings.Fields(caps), func(c string) bool { return strings.EqualFold(c, "ID") })
}

// originFields renders the ID fields for origin ("IP" or "IP:port"); ""
// when origin is no address.
func originFields(origin string) string {
	var ip netip.Addr
	port := uint16(0)
	if ap, err := netip.ParseAddrPort(origin); err == nil {
		ip, port = ap.Addr(), ap.Port()
	} else if ip, err = netip.ParseAddr(origin); err != nil {
		return ""
	}
	f := `"x-originating-ip" "` + ip.Unmap().WithZone("").String() + `"`
	if port != 0 {
		f += ` "x-originating-port" "` + strconv.Itoa(int(port)) + `"`
	}
	return f
}

// readResponse reads one response line, with the literals it carries, of
// at most limit bytes.
func readResponse(br *bufio.Reader, limit int) (string, error) {
	var b strings.Builder
	for b.Len() < limit {
		line, err := br.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			return "", err
		}
		n, ok := literalSize(line)
		if !ok {
			return b.String(), nil
		}
		if n > int64(limit-b.Len()) {
			break
		}
		if _, err := io.CopyN(&b, br, n); err != nil {
			return "", err
		}
	}
	return "", errOriginReply
}

// literalSize reads the "{n}" that ends a line announcing a literal.
func literalSize(line string) (int64, bool) {
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if !strings.HasSuffix(line, "}") {
		return 0, false
	}
	i := strings.LastIndexByte(line, '{')
	if i < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(line[i+1:len(line)-1], "+"), 10, 64)
	return n, err == nil && n >= 0
}

// replayConn reads what sendOrigin read ahead before the connection.
type replayConn struct {
	net.Conn
	r io.Reader
}

func (c *replayConn) Read(p []byte) (int, error) { return c.r.Read(p) }
