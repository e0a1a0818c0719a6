# Option parsing shared by the wrappers in scripts/: one-line errors with exit status 2. Sourced, not run.

die() { echo "error: $*" >&2; exit 2; }

# need_value OPTION ARGS...: the option has a non-empty value.
need_value() { [[ $# -ge 2 && -n "$2" ]] || die "$1 needs a value (see --help)"; }

# parse_options SPEC... -- ARG...: reads the options of ARG into variables; `usage` answers -h/--help.
#   SPEC "--name=var" is an option with a value, stored in $var; "--name=var:value" is a switch
#   that stores value in $var. Options come first; the arguments after them go to the array
#   `arguments`, and those after a lone "--" to the array `passed_through`. An unknown option
#   is a one-line error.
parse_options() {
  local -A values=() switches=()
  local spec
  while [[ "$1" != "--" ]]; do
    spec="$1"
    shift
    if [[ "$spec" == *:* ]]; then switches["${spec%%=*}"]="${spec#*=}"; else values["${spec%%=*}"]="${spec#*=}"; fi
  done
  shift
  arguments=() passed_through=()
  while [[ $# -gt 0 ]]; do
    case "$1" in
      -h|--help) usage; exit 0 ;;
      --) shift; passed_through=("$@"); return ;;
      -?*)
        if [[ -n "${values[$1]:-}" ]]; then
          need_value "$@"; printf -v "${values[$1]}" '%s' "$2"; shift 2
        elif [[ -n "${switches[$1]:-}" ]]; then
          printf -v "${switches[$1]%%:*}" '%s' "${switches[$1]#*:}"; shift
        else
          die "unknown option $1 (see --help)"
        fi ;;
      *) break ;;
    esac
  done
  while [[ $# -gt 0 && "$1" != "--" ]]; do arguments+=("$1"); shift; done
  [[ "${1:-}" == "--" ]] && shift
  passed_through=("$@")
}

# at_most N WHAT: the script was given at most N arguments, and nothing after "--" unless WHAT is "passes".
at_most() {
  (( ${#arguments[@]} <= $1 )) || die "expected at most $1 arguments, got ${#arguments[@]} (see --help)"
  [[ "$2" == passes || ${#passed_through[@]} -eq 0 ]] || die "no flags pass through \"--\" here (see --help)"
}
