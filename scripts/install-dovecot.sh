#!/usr/bin/env bash
# Install the Dovecot IMAP server (and openssl) used by the integration tests.
#
# Installs Debian's dovecot-imapd with apt-get when the `dovecot` binary is missing
# and we run as root. Exits 0 in every other case (already installed, not root,
# no apt-get) so that CI can call it unconditionally; the pytest fixture then
# skips the Dovecot tests with a clear reason when the server is still missing.
set -euo pipefail

if command -v dovecot >/dev/null 2>&1 && command -v doveadm >/dev/null 2>&1 \
        && command -v openssl >/dev/null 2>&1; then
    echo "install-dovecot: dovecot already installed ($(dovecot --version))"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "install-dovecot: not root, not installing dovecot (integration tests will skip)" >&2
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "install-dovecot: apt-get not found, not installing dovecot" >&2
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends dovecot-imapd openssl >/dev/null

# The Debian package starts a system-wide dovecot where an init system exists; the
# tests run their own private instance and need nothing of the system one.
echo "install-dovecot: installed $(dovecot --version)"
