#!/usr/bin/env bash
# The bash completion (packaging/completion/ovlmount.bash), sourced into bash and called as bash
# calls it (COMP_LINE, COMP_POINT, COMP_WORDS, COMP_CWORD set; COMPREPLY read back):
#   - the options it offers for each command are exactly those `ovlmount --help` gives that
#     command (its Usage lines, with the long names of short options) plus the global ones
#     (the Options section's options that no Usage line names) and --help;
#   - references come from `ovlmount images/containers --json`, with the store options already
#     on the line; targets for umount from `ovlmount list --json`; directories for TARGET.
# The references, containers and targets come from a stand-in `ovlmount` first on PATH that
# prints fixed JSON (in the formats of docs/usage.md) and logs its arguments.
# Usage: completion_test.sh OVLMOUNT COMPLETION
set -uo pipefail

bin=$1
completion=$2
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
help=$("$bin" --help) || { echo "FAIL: $bin --help exited $?" >&2; exit 1; }

# ---- what --help says --------------------------------------------------------------------
usage=$(awk '/^Usage:/ { on = 1; next } /^$/ { on = 0 } on' <<<"$help")
# "<command> <option>" for each option of each Usage line (continuation lines included).
usage_options=$(awk '
  /^  ovlmount \[OPTIONS\] [a-z]+/ { command = $3; if (command ~ /^[A-Z]/) command = "" }
  command != "" { line = $0; gsub(/[][|()]/, " ", line); n = split(line, field, " ")
    for (i = 1; i <= n; i++) if (field[i] ~ /^--?[a-z][a-z-]*$/) print command, field[i] }' <<<"$usage" |
  sort -u)
options_section=$(awk '/^Options:/ { on = 1; next } /^[A-Z]/ { on = 0 } on' <<<"$help")
# "-o --output": the long name of each short option.
aliases=$(grep -oE '^  -[a-z], --[a-z-]+' <<<"$options_section" | sed 's/^  //; s/,//')
long_of() { awk -v short="$1" '$1 == short { print $2 }' <<<"$aliases"; }
all_section_options=$(grep -oE '^  --?[a-z][a-z-]*(, --[a-z-]+)?' <<<"$options_section" | sed 's/^  //; s/,//' | tr ' ' '\n')
named_in_usage=$(cut -d' ' -f2 <<<"$usage_options" | sort -u)
globals=()
for option in $all_section_options; do
  case $option in -h | --help | --version) continue ;; esac
  grep -qxF -- "$option" <<<"$named_in_usage" && continue
  [[ -n $(awk -v long="$option" '$2 == long' <<<"$aliases") ]] && continue
  globals+=("$option")
done
[ ${#globals[@]} -ge 8 ] || fail "found only these global options in --help: ${globals[*]}"
commands=$(cut -d' ' -f1 <<<"$usage_options" | sort -u; sed -n 's/^  ovlmount \[OPTIONS\] \([a-z]\+\)$/\1/p' <<<"$usage")
commands=$(sort -u <<<"$commands")

# ---- the stand-in ovlmount ---------------------------------------------------------------
mkdir -p "$tmp/bin" "$tmp/dirs/alpha" "$tmp/dirs/beta" "$tmp/dirs/afile"
rmdir "$tmp/dirs/afile" && touch "$tmp/dirs/afile"
cat >"$tmp/bin/ovlmount" <<EOF
#!/bin/bash
echo "\$*" >>"$tmp/calls"
case " \$* " in
  *" images "*) echo '[{"id":"sha256:$(printf 'a%.0s' {1..64})","store":"docker","references":["nginx:latest","nginx:1.25","nginx@sha256:$(printf 'b%.0s' {1..64})"],"layers":3,"size":1,"created":"x","problem":null},{"id":"sha256:$(printf 'c%.0s' {1..64})","store":"docker","references":["registry.local:5000/team/app:v1"],"layers":1,"size":1,"created":"x","problem":null},{"id":"sha256:$(printf 'd%.0s' {1..64})","store":"docker","references":[],"layers":1,"size":1,"created":"x","problem":null}]' ;;
  *" containers "*) echo '[{"id":"$(printf 'e%.0s' {1..64})","store":"docker","name":"web","image_id":"sha256:x","image":"nginx","state":"exited","created":"x","mount_id":"m","problem":null},{"id":"$(printf 'f%.0s' {1..64})","store":"docker","name":"hb-web","image_id":"sha256:x","image":"nginx","state":"running","created":"x","mount_id":"m","problem":null}]' ;;
  *" list "*) echo '[{"target":"/mnt/root","state":"mounted","source":"image"},{"target":"/mnt/with \\"quote\\" and \\\\ back","state":"gone","source":"image"}]' ;;
esac
EOF
chmod +x "$tmp/bin/ovlmount"

# Completes LINE (the cursor at its end) in a fresh bash that sourced the completion; prints
# COMPREPLY one per line, sorted. COMP_WORDS is split as bash splits it (at blanks, and at
# the `:` and `=` of COMP_WORDBREAKS).
cat >"$tmp/complete.sh" <<'EOF'
source "$1" || exit 1
COMP_LINE=$2
COMP_POINT=${#2}
COMP_WORDBREAKS=$' \t\n"\'><=;|&(:'
words=()
rest=$2
while [[ $rest =~ ^[[:space:]]*([=:]|[^[:space:]=:]+)(.*)$ ]]; do
  words+=("${BASH_REMATCH[1]}")
  rest=${BASH_REMATCH[2]}
done
[[ $2 == *[[:space:]] ]] && words+=("")
COMP_WORDS=("${words[@]}")
COMP_CWORD=$((${#words[@]} - 1))
_ovlmount ovlmount "${words[-1]}" "${words[-2]-}"
printf '%s\n' "${COMPREPLY[@]}" | sort
EOF
complete_line() { PATH="$tmp/bin:$PATH" bash "$tmp/complete.sh" "$completion" "$1"; }
# expect LINE EXPECTED...: the completions are exactly EXPECTED.
expect() {
  local line=$1
  shift
  local got want
  got=$(complete_line "$line" | grep -v '^$')
  want=$(printf '%s\n' "$@" | grep -v '^$' | sort)
  [ "$got" = "$want" ] || fail "completing '$line': got [$(tr '\n' ' ' <<<"$got")], want [$(tr '\n' ' ' <<<"$want")]"
}

# ---- options per command -----------------------------------------------------------------
expect 'ovlmount -' "${globals[@]}" --help --version
for command in $commands; do
  want=("${globals[@]}" --help)
  for option in $(awk -v c="$command" '$1 == c { print $2 }' <<<"$usage_options"); do
    want+=("$option")
    long=$(long_of "$option")
    [ -n "$long" ] && want+=("$long")
  done
  mapfile -t want < <(printf '%s\n' "${want[@]}" | sort -u)
  expect "ovlmount $command -" "${want[@]}"
done
expect 'ovlmount umount --l' --lazy
expect 'ovlmount --data-root /d files --c' --containerd-root --csv

# ---- arguments ---------------------------------------------------------------------------
images=(nginx:latest nginx:1.25 registry.local:5000/team/app:v1)
expect 'ovlmount ' $commands "${images[@]}"
expect 'ovlmount ng' nginx:latest nginx:1.25
expect 'ovlmount mount ' "${images[@]}"
expect 'ovlmount mount nginx:1' 1.25
expect 'ovlmount resolve registry.local:5000/t' 5000/team/app:v1
expect 'ovlmount container ' web hb-web
expect 'ovlmount diff h' hb-web
expect 'ovlmount verify ' web hb-web "${images[@]}"
expect 'ovlmount run --read-only we' web
expect 'ovlmount run nginx -- ' ''
expect 'ovlmount umount ' /mnt/root '/mnt/with "quote" and \ back'
expect 'ovlmount umount --all ' ''
expect "ovlmount mount nginx $tmp/dirs/" "$tmp/dirs/alpha" "$tmp/dirs/beta"
expect "ovlmount nginx $tmp/dirs/a" "$tmp/dirs/alpha"
expect "ovlmount container --all $tmp/dirs/b" "$tmp/dirs/beta"
expect "ovlmount container web $tmp/dirs/" "$tmp/dirs/alpha" "$tmp/dirs/beta"
expect 'ovlmount list ' ''

# ---- option values -----------------------------------------------------------------------
expect 'ovlmount --store ' docker containers-storage containerd
expect 'ovlmount --store=containerd' containerd
expect 'ovlmount export --format tar.' tar.gz tar.zst
expect 'ovlmount files --hash ' sha256 none
expect 'ovlmount run --net ' none host
expect "ovlmount --data-root $tmp/dirs/a" "$tmp/dirs/alpha"
expect 'ovlmount run --env ' ''

# ---- the store options reach ovlmount ----------------------------------------------------
rm -f "$tmp/calls"
complete_line 'ovlmount --data-root /srv/d --namespace k8s.io mount ' >/dev/null
complete_line 'ovlmount --host-root=/mnt/seized diff ' >/dev/null
complete_line 'ovlmount --state-dir /tmp/st umount ' >/dev/null
asked="--data-root /srv/d --namespace k8s.io images --json
--host-root /mnt/seized containers --json
--state-dir /tmp/st list --json"
[ "$(cat "$tmp/calls" 2>/dev/null)" = "$asked" ] || fail "ovlmount was asked: [$(cat "$tmp/calls" 2>/dev/null)], want [$asked]"

# ---- the real binary: unreadable stores give no completions and no noise -----------------
got=$(PATH="$(dirname "$bin"):$PATH" bash -c '
  source "$1"; COMP_LINE="ovlmount --data-root /nonexistent mount "; COMP_POINT=${#COMP_LINE}
  COMP_WORDS=(ovlmount --data-root /nonexistent mount ""); COMP_CWORD=4
  _ovlmount; echo "${#COMPREPLY[@]}"' bash "$completion" 2>&1)
[ "$got" = 0 ] || fail "with the real binary and no store: got '$got'"

if [ "$failures" -ne 0 ]; then
  echo "completion_test: $failures failure(s)" >&2
  exit 1
fi
echo "completion_test: $(wc -w <<<"$commands") commands, ${#globals[@]} global options: ok"
