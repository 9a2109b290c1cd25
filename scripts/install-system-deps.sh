#!/usr/bin/env bash
# Installs the system packages the test suite talks to: Dovecot (IMAP), PostgreSQL, Chromium,
# and the libraries WeasyPrint renders the PDF briefing with (Pango, HarfBuzz, DejaVu fonts).
# Runs apt-get only as root and only for what is missing; otherwise the tests that need a
# missing server skip with the reason.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

need=()
command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || need+=(dovecot-imapd)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# WeasyPrint (the PDF briefing) loads Pango and HarfBuzz's subsetter; DejaVu is its font.
has_lib() { ldconfig -p 2>/dev/null | grep -q "$1"; }
has_lib 'libpango-1.0.so.0' || need+=(libpango-1.0-0)
has_lib 'libpangoft2-1.0.so.0' || need+=(libpangoft2-1.0-0)
has_lib 'libharfbuzz-subset.so.0' || need+=(libharfbuzz-subset0)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
command -v mbsync >/dev/null 2>&1 || need+=(isync)  # bench/bench_worker.py only

if [ ${#need[@]} -eq 0 ]; then
  echo "system packages present"
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "not root or no apt-get: not installing ${need[*]}; the tests that need them will skip" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || echo "warning: apt-get update failed; trying the cached lists" >&2
# Don't let package scripts start system-wide services: the tests start private instances.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
for package in "${need[@]}"; do
  # One at a time: a package that cannot be had must not stop the others; the tests
  # that need it skip and say why (CI requires Dovecot, PostgreSQL and Chromium: see .ci/run).
  if apt-get install -y -qq --no-install-recommends "$package" >/dev/null; then
    echo "installed: $package"
  else
    echo "warning: could not install $package" >&2
  fi
done
