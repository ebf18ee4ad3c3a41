# bash completion for ovlmount(8); installed as
# share/bash-completion/completions/ovlmount. Needs nothing of the bash-completion package.
#
# Completes command words, the options each command takes (as `ovlmount --help` lists them;
# tests/packaging checks that the two agree), option values, and the arguments: image and
# container references from `ovlmount images --json` / `containers --json` when the stores are
# readable (asked with the store options already on the line, so `--data-root D` counts),
# recorded targets from `ovlmount list --json` for umount, directories for TARGET and DIR.
#
# The line is split again from COMP_LINE rather than taken from COMP_WORDS, whose split at
# COMP_WORDBREAKS would cut `nginx:1.25` and `--data-root=DIR` in pieces; the candidates are
# then trimmed to the part bash replaces (after the last `:` or `=` that is a word break).

# Options that take a value.
_ovlmount_takes_value='--host-root --data-root --storage-root --containerd-root --namespace --platform --store --state-dir --upper --work --bind --env --user --workdir --net -o --output --format --hash'
# Options every command takes.
_ovlmount_global='--host-root --data-root --storage-root --containerd-root --namespace --platform --store --state-dir --help'
_ovlmount_commands='mount container resolve images containers inspect verify diff which owner run export files list umount cleanup'

# The options of command $1 (without the global ones).
_ovlmount_command_options() {
  case $1 in
    mount) echo '--upper --work --writable --dry-run' ;;
    container) echo '--volumes --host-binds --upper --work --writable --dry-run --all' ;;
    resolve | images | containers | inspect | which | owner | list) echo '--json' ;;
    verify) echo '--json --quick' ;;
    diff) echo '--json --bodyfile' ;;
    run) echo '--read-only --upper --work --keep --bind --env --user --workdir --net --dev' ;;
    export) echo '-o --output --format --reproducible' ;;
    files) echo '--json --csv --hash --layer' ;;
    umount | unmount) echo '--force --lazy --all' ;;
    cleanup) ;;
  esac
}

# Prints the strings of JSON member "$1" (a string, or an array of strings) found in stdin,
# one per line, with the escapes \" \\ \/ undone (references, names and paths need no others).
_ovlmount_json_strings() {
  local key=$1 line rest item
  local string='^"((\\.|[^"\\])*)"'
  while IFS= read -r line; do
    rest=$line
    while [[ $rest == *"\"$key\":"* ]]; do
      rest=${rest#*\"$key\":}
      if [[ $rest == '['* ]]; then
        rest=${rest#\[}
        while [[ $rest =~ $string ]]; do
          item=${BASH_REMATCH[1]}
          rest=${rest:${#BASH_REMATCH[0]}}
          rest=${rest#,}
          _ovlmount_unescape "$item"
        done
      elif [[ $rest =~ $string ]]; then
        item=${BASH_REMATCH[1]}
        rest=${rest:${#BASH_REMATCH[0]}}
        _ovlmount_unescape "$item"
      fi
    done
  done
}

_ovlmount_unescape() {
  local item=$1
  item=${item//\\\//\/}
  item=${item//\\\"/\"}
  item=${item//\\\\/\\}
  printf '%s\n' "$item"
}

# Asks ovlmount (the program on the line) with the store options of the line, quietly.
_ovlmount_ask() {
  local program=${_ovlmount_words[0]}
  # shellcheck disable=SC2088 # a literal ~/ typed on the line
  [[ $program == '~/'* ]] && program=$HOME/${program#'~/'}
  type -P -- "$program" >/dev/null 2>&1 || [[ -x $program ]] || return 0
  "$program" "${_ovlmount_store_args[@]}" "$@" 2>/dev/null
}

_ovlmount_images() {
  _ovlmount_ask images --json | _ovlmount_json_strings references | grep -v '@sha256:'
}

_ovlmount_containers() {
  _ovlmount_ask containers --json | _ovlmount_json_strings name
}

_ovlmount_targets() {
  _ovlmount_ask list --json | _ovlmount_json_strings target
}

# Sets COMPREPLY to the lines of stdin that start with $cur.
_ovlmount_reply_lines() {
  local line
  while IFS= read -r line; do
    [[ -n $line && $line == "$cur"* ]] && COMPREPLY+=("$line")
  done
}

_ovlmount_reply_words() {
  local word
  for word in $1; do
    [[ $word == "$cur"* ]] && COMPREPLY+=("$word")
  done
}

_ovlmount_reply_dirs() {
  compopt -o filenames 2>/dev/null
  local dir
  while IFS= read -r dir; do COMPREPLY+=("$dir"); done < <(compgen -d -- "$cur")
}

_ovlmount_reply_files() {
  compopt -o filenames 2>/dev/null
  local file
  while IFS= read -r file; do COMPREPLY+=("$file"); done < <(compgen -f -- "$cur")
}

# The values of option $1.
_ovlmount_reply_value() {
  case $1 in
    --host-root | --data-root | --storage-root | --containerd-root | --state-dir | --upper | --work)
      _ovlmount_reply_dirs ;;
    --store) _ovlmount_reply_words 'docker containers-storage containerd' ;;
    --platform) _ovlmount_reply_words 'linux/amd64 linux/arm64 linux/arm/v7 linux/arm/v6 linux/386 linux/ppc64le linux/s390x linux/riscv64' ;;
    --net) _ovlmount_reply_words 'none host' ;;
    --format) _ovlmount_reply_words 'tar tar.gz tar.zst' ;;
    --hash) _ovlmount_reply_words 'sha256 none' ;;
    -o | --output | --bind) _ovlmount_reply_files ;;
  esac
}

_ovlmount() {
  COMPREPLY=()
  local line=${COMP_LINE-} point=${COMP_POINT-}
  if [[ -z $line ]]; then
    line="${COMP_WORDS[*]:0:COMP_CWORD+1}"
    point=${#line}
  fi
  line=${line:0:point}
  local -a _ovlmount_words
  read -r -a _ovlmount_words <<<"$line"
  local cur=''
  if [[ $line == *[![:space:]] ]] && ((${#_ovlmount_words[@]} > 1)); then
    cur=${_ovlmount_words[-1]}
    unset '_ovlmount_words[-1]'
  elif [[ $line == *[![:space:]] ]]; then
    return 0
  fi

  # Walk the words before the current one: the command, the positional arguments, the store
  # options, and whether the last word is an option waiting for its value.
  local command='' pending='' after_dashes=0 all=0 word i
  local -a positional=() _ovlmount_store_args=()
  for ((i = 1; i < ${#_ovlmount_words[@]}; i++)); do
    word=${_ovlmount_words[i]}
    if [[ -n $pending ]]; then
      case $pending in
        --host-root | --data-root | --storage-root | --containerd-root | --namespace | --platform | --store | --state-dir)
          _ovlmount_store_args+=("$pending" "${word/#\~\//$HOME/}") ;;
      esac
      pending=''
      continue
    fi
    if ((after_dashes)) || [[ $word != -* || $word == - ]]; then
      if [[ -z $command && ${#positional[@]} -eq 0 && " $_ovlmount_commands unmount " == *" $word "* ]]; then
        command=$word
      else
        positional+=("$word")
      fi
      continue
    fi
    case $word in
      --) after_dashes=1 ;;
      --all) all=1 ;;
      --*=*)
        case ${word%%=*} in
          --host-root | --data-root | --storage-root | --containerd-root | --namespace | --platform | --store | --state-dir)
            _ovlmount_store_args+=("${word%%=*}" "$(v=${word#*=}; printf '%s' "${v/#\~\//$HOME/}")") ;;
        esac ;;
      *) [[ " $_ovlmount_takes_value " == *" $word "* ]] && pending=$word ;;
    esac
  done
  # The implicit mount: `ovlmount IMAGE TARGET`.
  [[ -z $command && ${#positional[@]} -gt 0 ]] && command=mount

  # A run command line after `--`, or after the reference: the command's, not ovlmount's.
  if ((after_dashes)); then
    return 0
  fi

  # An option's value, given as the next word or after `=`.
  if [[ -n $pending ]]; then
    _ovlmount_reply_value "$pending"
  elif [[ $cur == --*=* ]]; then
    local option=${cur%%=*}
    cur=${cur#*=}
    _ovlmount_reply_value "$option"
    if [[ $COMP_WORDBREAKS != *=* ]]; then
      COMPREPLY=("${COMPREPLY[@]/#/$option=}")
    fi
    cur=$option=$cur
  elif [[ $cur == -* ]]; then
    local options=$_ovlmount_global
    if [[ -z $command ]]; then
      options+=' --version'
    else
      options+=" $(_ovlmount_command_options "$command")"
    fi
    _ovlmount_reply_words "$options"
  elif [[ -z $command ]]; then
    # The command word, or the IMAGE of an implicit mount.
    _ovlmount_reply_words "$_ovlmount_commands"
    _ovlmount_reply_lines < <(_ovlmount_images)
  else
    local n=${#positional[@]}
    case $command in
      mount)
        if ((n == 0)); then _ovlmount_reply_lines < <(_ovlmount_images)
        elif ((n == 1)); then _ovlmount_reply_dirs
        fi ;;
      container)
        if ((all)); then
          ((n == 0)) && _ovlmount_reply_dirs
        elif ((n == 0)); then _ovlmount_reply_lines < <(_ovlmount_containers)
        elif ((n == 1)); then _ovlmount_reply_dirs
        fi ;;
      resolve)
        ((n == 0)) && _ovlmount_reply_lines < <(_ovlmount_images) ;;
      diff)
        ((n == 0)) && _ovlmount_reply_lines < <(_ovlmount_containers) ;;
      inspect | verify | which | run | export | files)
        if ((n == 0)); then
          _ovlmount_reply_lines < <(_ovlmount_containers; _ovlmount_images)
        fi ;;
      umount | unmount)
        if ((!all && n == 0)); then
          _ovlmount_reply_lines < <(_ovlmount_targets)
          ((${#COMPREPLY[@]})) || _ovlmount_reply_dirs
        fi ;;
    esac
  fi

  # bash replaces only the part of the word after its last word break (`:` of nginx:1.25).
  if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
    local prefix=${cur%"${cur##*:}"}
    COMPREPLY=("${COMPREPLY[@]#"$prefix"}")
  fi
  return 0
}

complete -F _ovlmount ovlmount
