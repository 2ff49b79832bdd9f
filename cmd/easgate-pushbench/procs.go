package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// procUsage is what a set of processes holds: how many, and their
// proportional set size (shared pages divided among their sharers, so
// that the sum is what they cost together).
type procUsage struct {
	n   int
	pss uint64 // bytes
}

// children adds up the children of parent whose command is name, from
// /proc (Linux only; elsewhere it reports an error).
func children(parent int, name string) (procUsage, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return procUsage{}, err
	}
	var u procUsage
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		comm, ppid, ok := stat(pid)
		if !ok || ppid != parent || comm != name {
			continue
		}
		u.n++
		u.pss += pss(pid)
	}
	return u, nil
}

// stat reads a process's command and parent from /proc/PID/stat, whose
// command is in parentheses and may itself hold spaces or parentheses.
func stat(pid int) (comm string, ppid int, ok bool) {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return "", 0, false
	}
	open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if open < 0 || end < open {
		return "", 0, false
	}
	fields := strings.Fields(string(b[end+1:]))
	if len(fields) < 2 {
		return "", 0, false
	}
	ppid, err = strconv.Atoi(fields[1])
	return string(b[open+1 : end]), ppid, err == nil
}

// pss is the Pss line of /proc/PID/smaps_rollup in bytes; 0 when the
// process is gone or the kernel has no rollup.
func pss(pid int) uint64 {
	f, err := os.Open(filepath.Join("/proc", strconv.Itoa(pid), "smaps_rollup"))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "Pss:"); ok {
			var kb uint64
			if _, err := fmt.Sscan(rest, &kb); err == nil {
				return kb << 10
			}
		}
	}
	return 0
}
