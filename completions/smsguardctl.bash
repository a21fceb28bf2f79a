# bash completion for smsguardctl(1); needs nothing beyond bash and smsguardctl.
#
# The commands and their options are not listed here: smsguardctl prints its
# command table (`smsguardctl __commands`, one line per command: its name,
# its options as "--json" or "-n=N" for one that takes a value, and its
# arguments as "DURATION"; last, "help COMMAND"), so a new command completes
# as soon as it exists.

# Suggestions for a value or an argument, by the name its usage gives it.
_smsguardctl_values()
{
	case $1 in
	*'|'*) echo "${1//|/ }" ;;
	N) echo "10 20 50 200" ;;
	D) echo "10m 1h 6h 1d" ;;
	DURATION) echo "15m 30m 1h 2h 1d" ;;
	esac
}

_smsguardctl()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
	local table fields names="" cmds="" spec=() word offer="" i cmd=""

	# Without a smsguardctl to ask there is nothing to offer.
	table=$("$1" __commands 2>/dev/null) || return 0

	# The command is the first word that is neither an option nor its value.
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-s | --socket | -t | --timeout)
			((i++))
			;;
		-*) ;;
		*)
			cmd=${words[i]}
			break
			;;
		esac
	done

	while read -r -a fields; do
		names+=" ${fields[0]}"
		# What `help COMMAND` takes: every command but help itself.
		[[ ${fields[1]-} == COMMAND ]] || cmds+=" ${fields[0]}"
		[[ ${fields[0]} == "$cmd" ]] && spec=("${fields[@]:1}")
	done <<<"$table"

	if [[ -z $cmd ]]; then
		case $prev in
		-s | --socket)
			COMPREPLY=($(compgen -f -- "$cur"))
			return
			;;
		-t | --timeout)
			COMPREPLY=($(compgen -W "1s 5s 10s 30s 1m" -- "$cur"))
			return
			;;
		esac
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-s --socket -t --timeout -h --help -V --version" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$names" -- "$cur"))
		fi
		return
	fi

	for word in "${spec[@]}"; do
		case $word in
		-*=*)
			# After an option that takes a value, only its values.
			if [[ $prev == "${word%%=*}" ]]; then
				COMPREPLY=($(compgen -W "$(_smsguardctl_values "${word#*=}")" -- "$cur"))
				return
			fi
			offer+=" ${word%%=*}"
			;;
		-*) offer+=" $word" ;;
		COMMAND) offer+=" $cmds" ;;
		*) offer+=" $(_smsguardctl_values "$word")" ;;
		esac
	done
	COMPREPLY=($(compgen -W "$offer" -- "$cur"))
} &&
	complete -F _smsguardctl smsguardctl
