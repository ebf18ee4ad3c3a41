#!/usr/bin/env bash
# The man page against `ovlmount --help` and the man page tools:
#   - every command word --help lists (its Usage lines and its Commands section) has an entry
#     in COMMANDS and a line in SYNOPSIS;
#   - every option --help prints (long and short) has an entry of its own (a tagged list item
#     that starts with it), not just a mention;
#   - every exit code --help lists is in EXIT STATUS, and so are run's 125, 126, 127, 128+N;
#   - `mandoc -Tlint` prints nothing (but notices that a page named in SEE ALSO is not
#     installed here, which depend on the machine and not on the page);
#   - `man -l` renders it with groff's warnings on, and groff says nothing.
# Usage: man_page_test.sh OVLMOUNT MANPAGE
set -uo pipefail

bin=$1
page=$2
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

help=$("$bin" --help) || { echo "FAIL: $bin --help exited $?" >&2; exit 1; }
command -v mandoc >/dev/null || { echo "FAIL: mandoc is not installed (apt-get install mandoc)" >&2; exit 1; }

# The page as text, without overstrike, and each section of it.
text=$(mandoc -Tascii -Owidth=100 "$page" | sed 's/.\x08//g')
section() { awk -v name="$1" '/^[A-Z]/ { on = ($0 == name); next } on' <<<"$text"; }
synopsis=$(section SYNOPSIS)
commands=$(section COMMANDS)
exit_status=$(section "EXIT STATUS")

# ---- commands ----------------------------------------------------------------------------
words=$( { sed -n 's/^  ovlmount \[OPTIONS\] \([a-z]\+\).*/\1/p' <<<"$help"
           awk '/^Commands:/ { on = 1; next } /^[A-Z]/ { on = 0 } on && /^  [a-z]/ { print $1 }' <<<"$help"; } |
         sort -u)
[ "$(wc -l <<<"$words")" -ge 10 ] || fail "found only these commands in --help: $words"
for word in $words; do
  grep -Eq "^     $word( |,|$)" <<<"$commands" || fail "command '$word' has no entry in COMMANDS"
  grep -Eq "^     ovlmount \[options\] $word( |$)" <<<"$synopsis" || fail "command '$word' is not in SYNOPSIS"
done

# ---- options -----------------------------------------------------------------------------
options=$(grep -oE -- '(^|[][ (|,])--?[a-z][a-z-]*' <<<"$help" | sed 's/^[^-]*//' | grep -v -- '^--$' | sort -u)
[ "$(wc -l <<<"$options")" -ge 20 ] || fail "found only these options in --help: $options"
for option in $options; do
  # An entry: a line (of a tagged list) that starts with the option, or with "-x, " before it.
  grep -Eq -- "^ +(-[a-z-]+[^,]*, )?$option( |,|$)" <<<"$text" || fail "option '$option' has no entry of its own"
done

# ---- exit codes --------------------------------------------------------------------------
codes=$(awk '/^Exit codes:/ { on = 1; next } /^[A-Z]/ { on = 0 } on && /^  [0-9]+ / { print $1 }' <<<"$help")
[ -n "$codes" ] || fail "found no exit codes in --help"
for code in $codes 125 126 127 '128+N'; do
  grep -Eq -- "^ +$(sed 's/+/\\+/' <<<"$code")( |$)" <<<"$exit_status" || fail "exit code $code is not in EXIT STATUS"
done

# ---- sections the page promises ----------------------------------------------------------
for name in NAME SYNOPSIS DESCRIPTION COMMANDS OPTIONS "MOUNT HELPER" ENVIRONMENT FILES "EXIT STATUS" \
  EXAMPLES "SEE ALSO" "SECURITY CONSIDERATIONS"; do
  grep -qx "$name" <<<"$text" || fail "no section $name"
done
for see in 'mount(8)' 'umount(8)' 'bwrap(1)' 'docker(1)' 'podman(1)' 'ctr(8)' overlayfs; do
  grep -qF "$see" <<<"$(section "SEE ALSO")" || fail "SEE ALSO does not name $see"
done

# ---- the tools ---------------------------------------------------------------------------
lint=$(mandoc -Tlint "$page" 2>&1 | grep -Ev 'mandoc\.db lacks .* entry|referenced manual not found')
[ -z "$lint" ] || fail "mandoc -Tlint: $lint"
if command -v man >/dev/null; then
  rendered=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
  [ -z "$rendered" ] || fail "man --warnings -l: $rendered"
  MANWIDTH=80 man -l "$page" 2>/dev/null | grep -q 'SECURITY CONSIDERATIONS' || fail "man -l renders no SECURITY CONSIDERATIONS"
else
  fail "man is not installed (apt-get install man-db)"
fi

if [ "$failures" -ne 0 ]; then
  echo "man_page_test: $failures failure(s)" >&2
  exit 1
fi
echo "man_page_test: $(wc -w <<<"$words") commands, $(wc -w <<<"$options") options, $(wc -w <<<"$codes") exit codes: ok"
