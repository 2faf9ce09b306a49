#!/usr/bin/env bash
# System packages the tests need beyond PyPI, installed where this machine allows (root):
# - a CJK font, so charts and rendered workpapers show Chinese customer names, and the
#   statement and letter PDFs embed it (without it they use reportlab's built-in STSong-Light,
#   which viewers supply, but poppler renders as boxes where no CJK font is installed);
# - PostgreSQL (Debian's `postgresql`): tests/pgcluster.py starts a throwaway cluster of it
#   in a temporary folder on a free port for the database-input tests and stops it after.
# Without root nothing is installed; the tests that need it then skip with the reason
# (under CI=true a skip fails).
set -u
wanted=()
if ! fc-list :lang=zh 2>/dev/null | grep -q .; then
    wanted+=(fonts-wqy-microhei)
fi
if ! ls /usr/lib/postgresql/*/bin/pg_ctl > /dev/null 2>&1; then
    wanted+=(postgresql)
fi
if [ ${#wanted[@]} = 0 ]; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get > /dev/null; then
    echo "note: not installed (not root): apt-get install ${wanted[*]}" >&2
    exit 0
fi
log=/tmp/arlib-system-packages.log
if ! (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${wanted[@]}") > "$log" 2>&1; then
    echo "could not install ${wanted[*]} (see $log)" >&2
fi
exit 0
