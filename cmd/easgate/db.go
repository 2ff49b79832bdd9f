package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/easgate/easgate/store"
)

const dbUsage = `usage: easgate db copy --from DB --to DB

Copies an installation's state (devices, policy and wipe state, folder ids,
sync states) to another database, creating the schema there; phones carry
on without resyncing. DB is an SQLite file or a postgres:// URL. Stop the
gateways using --from first: what they write during the copy is not copied.
The target must be empty.

flags:
`

// runDB is `easgate db`.
func runDB(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "copy" {
		fmt.Fprint(stderr, dbUsage)
		return 2
	}
	fs := flag.NewFlagSet("db copy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, dbUsage)
		fs.PrintDefaults()
	}
	from := fs.String("from", "", "database to copy from: SQLite file or postgres:// URL")
	to := fs.String("to", "", "empty database to copy to: SQLite file or postgres:// URL")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if *from == "" || *to == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if *from == *to {
		fmt.Fprintln(stderr, "easgate db copy: --from and --to are the same database")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := copyDB(ctx, *from, *to, stdout); err != nil {
		fmt.Fprintf(stderr, "easgate db copy: %v\n", err)
		return 1
	}
	return 0
}

func copyDB(ctx context.Context, from, to string, stdout io.Writer) error {
	if !store.IsPostgres(from) {
		// Open would create an empty database and copy nothing.
		if _, err := os.Stat(from); err != nil {
			return fmt.Errorf("source: %w", err)
		}
	}
	src, err := store.Open(ctx, from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := store.Open(ctx, to)
	if err != nil {
		return err
	}
	counts, err := store.Copy(ctx, dst, src)
	if err != nil {
		return errors.Join(err, dst.Close())
	}
	if err := dst.Close(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "copied %s to %s:\n", store.Redact(from), store.Redact(to))
	for _, c := range counts {
		fmt.Fprintf(stdout, "  %-20s %d rows\n", c.Table, c.Rows)
	}
	return nil
}
