package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
)

// ErrNotEmpty is returned by Copy when the target already holds devices
// or folder maps: merging two installations is not a copy.
var ErrNotEmpty = errors.New("store: target database is not empty")

// tables lists every table of the schema, parents before the tables that
// refer to them.
var tables = []string{
	"devices",
	"folder_ids",
	"folder_id_counters",
	"device_states",
	"collection_states",
	"sent_client_ids",
}

// TableCount is the number of rows of one table.
type TableCount struct {
	Table string
	Rows  int64
}

// Copy copies everything src holds into dst, which must be empty: devices
// with their policy and wipe state, folder maps and counters, sync states
// and sent ClientIds. Phones carry on where they were, without a resync.
// src is read in one snapshot and dst written in one transaction, so a
// failed copy leaves dst empty. It returns the rows copied per table.
func Copy(ctx context.Context, dst, src *Store) ([]TableCount, error) {
	var opts *sql.TxOptions
	if src.d.postgres {
		opts = &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
	}
	rtx, err := src.r.BeginTx(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("store: copy: read source: %w", markUnavailable(err))
	}
	defer rtx.Rollback()
	var counts []TableCount
	err = dst.write(ctx, func(wtx *sql.Tx) error {
		for _, table := range tables {
			var n int64
			if err := wtx.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return fmt.Errorf("%d rows in %s: %w", n, table, ErrNotEmpty)
			}
		}
		for _, table := range tables {
			n, err := copyTable(ctx, dst.d, wtx, rtx, table)
			if err != nil {
				return fmt.Errorf("table %s: %w", table, err)
			}
			counts = append(counts, TableCount{table, n})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: copy: %w", markUnavailable(err))
	}
	return counts, nil
}

// copyTable copies the rows of one table, column by name: both databases
// have the same schema, so every value converts as it is.
func copyTable(ctx context.Context, d dialect, wtx, rtx *sql.Tx, table string) (int64, error) {
	rows, err := rtx.QueryContext(ctx, "SELECT * FROM "+table)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ")
	ins, err := wtx.PrepareContext(ctx, d.rebind(
		"INSERT INTO "+table+" ("+strings.Join(cols, ", ")+") VALUES ("+marks+")"))
	if err != nil {
		return 0, err
	}
	defer ins.Close()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		if _, err := ins.ExecContext(ctx, vals...); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}
