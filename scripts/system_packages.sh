#!/usr/bin/env bash
# System packages the tests need beyond PyPI, installed where this machine allows (root):
# a CJK font, so charts and rendered workpapers show Chinese customer names.
# Without root nothing is installed; the tests that need it then skip with the reason
# (under CI=true a skip fails).
set -u
if fc-list :lang=zh 2>/dev/null | grep -q .; then
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get > /dev/null; then
    echo "note: no CJK font installed and not root: apt-get install fonts-wqy-microhei" >&2
    exit 0
fi
log=/tmp/arlib-system-packages.log
if ! (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q fonts-wqy-microhei) > "$log" 2>&1; then
    echo "could not install fonts-wqy-microhei (see $log)" >&2
fi
exit 0
