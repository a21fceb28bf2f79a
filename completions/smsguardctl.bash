# bash completion for smsguardctl(8); needs nothing beyond bash itself.

_smsguardctl()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local words=("${COMP_WORDS[@]}") cword=$COMP_CWORD

	local commands="status events metrics wait check pause resume reload"
	local i cmd=""

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
			COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		fi
		return
	fi

	case $cmd in
	status)
		COMPREPLY=($(compgen -W "--json" -- "$cur"))
		;;
	events)
		case $prev in
		-n)
			COMPREPLY=($(compgen -W "10 20 50 200" -- "$cur"))
			return
			;;
		esac
		COMPREPLY=($(compgen -W "-n --json" -- "$cur"))
		;;
	wait)
		case $prev in
		--until)
			COMPREPLY=($(compgen -W "finished running failed" -- "$cur"))
			return
			;;
		--timeout)
			COMPREPLY=($(compgen -W "10m 1h 6h 1d" -- "$cur"))
			return
			;;
		esac
		COMPREPLY=($(compgen -W "--until --timeout" -- "$cur"))
		;;
	pause)
		COMPREPLY=($(compgen -W "15m 30m 1h 2h 1d" -- "$cur"))
		;;
	esac
} &&
	complete -F _smsguardctl smsguardctl
