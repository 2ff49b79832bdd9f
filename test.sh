#!/usr/bin/env bash
# Installs what the tests need (on Debian) and runs every check CI runs:
# gofmt, go vet and all tests, including the integration tests against a
# real Dovecot (with Sieve and LMTP), nginx, Radicale and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")"

need=()
have_bin() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || compgen -G "/usr/lib/postgresql/*/bin/$1" >/dev/null; }
have_bin dovecot || need+=(dovecot-imapd)
[ -e /usr/lib/dovecot/modules/lib90_sieve_plugin.so ] || need+=(dovecot-sieve)
[ -x /usr/lib/dovecot/managesieve ] || need+=(dovecot-managesieved)
[ -x /usr/lib/dovecot/lmtp ] || need+=(dovecot-lmtpd)
have_bin nginx || need+=(nginx-light)
have_bin xml2wbxml || need+=(libwbxml2-utils)
[ -x /usr/bin/radicale ] || need+=(radicale)
have_bin initdb || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${need[@]}"
fi
export PATH="$PATH:/usr/sbin:/sbin"

# Every Dovecot IMAP session in IDLE holds an inotify instance; the tests
# and benchmarks open hundreds. The kernel's default of 128 per user is
# soon used up, and IDLE then stops noticing changes.
if [ "$(id -u)" -eq 0 ] && [ "$(cat /proc/sys/fs/inotify/max_user_instances 2>/dev/null || echo 1024)" -lt 1024 ]; then
	sysctl -q -w fs.inotify.max_user_instances=1024 || true
fi

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt: these files need formatting:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...
go test -count=1 -timeout 12m ./...
