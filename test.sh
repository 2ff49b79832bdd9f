#!/usr/bin/env bash
# Installs what the tests need (on Debian) and runs every check CI runs:
# gofmt, go vet and all tests, including the integration tests against a
# real Dovecot and nginx.
set -euo pipefail
cd "$(dirname "$0")"

need=()
command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || need+=(dovecot-imapd)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
command -v xml2wbxml >/dev/null 2>&1 || need+=(libwbxml2-utils)
if [ ${#need[@]} -gt 0 ]; then
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${need[@]}"
fi
export PATH="$PATH:/usr/sbin:/sbin"

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "gofmt: these files need formatting:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...
go test -count=1 -timeout 12m ./...
