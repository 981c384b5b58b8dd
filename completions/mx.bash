# bash completion for mx(1) - subcommands, their options, and the finding
# ids `mx check --ignore` takes.  The ids are read from the installed
# mx-checks(7) (the one list of them), so the completion never goes stale;
# `mx check --list-ids` is asked first should a later mx have it.
# Installed by meson as share/bash-completion/completions/mx.

_mx_check_ids()
{
	local ids page
	ids=$(mx check --list-ids 2>/dev/null)
	if [[ -z $ids ]]; then
		page=$(man -w mx-checks 2>/dev/null)
		[[ -n $page ]] || return
		ids=$(zcat -f -- "$page" 2>/dev/null |
			sed -n 's/^\.It Cm \([a-z0-9-]*\) Pq.*/\1/p')
	fi
	printf '%s\n' "$ids"
}

_mx()
{
	local cur prev words cword
	_init_completion || return

	local delivery="--resolver --tls --ca-file --helo --attempt-delay
		--connect-timeout --smtp-timeout --deadline --trust-anchor --timeout
		--spool --retry-first --retry-max --lifetime --config --origin --aliases"
	local cmd="" sub="" i
	for ((i = 1; i < cword; i++)); do
		if [[ ${words[i]} != -* ]]; then
			if [[ -z $cmd ]]; then
				cmd=${words[i]}
			elif [[ $cmd == queue && -z $sub ]]; then
				sub=${words[i]}
			fi
		fi
	done

	case $prev in
	--ignore)
		COMPREPLY=($(compgen -W "$(_mx_check_ids)" -- "$cur"))
		return ;;
	--tls)
		COMPREPLY=($(compgen -W "may encrypt dane verify" -- "$cur"))
		return ;;
	--prefer)
		COMPREPLY=($(compgen -W "ipv4 ipv6" -- "$cur"))
		return ;;
	--transport)
		COMPREPLY=($(compgen -W "unbound stub" -- "$cur"))
		return ;;
	--log)
		COMPREPLY=($(compgen -W "syslog stderr" -- "$cur"))
		return ;;
	--trust-anchor|--ca-file|--config|--aliases|--resolv-conf|--zone|--helper)
		_filedir
		return ;;
	--spool)
		_filedir -d
		return ;;
	--resolver|--helo|--origin|--seed|--timeout|--deadline|--interval|\
	--concurrency|--retry-first|--retry-max|--lifetime|--attempt-delay|\
	--connect-timeout|--smtp-timeout|--local-name|-f|-F)
		return ;;
	esac

	case $cmd in
	"")
		COMPREPLY=($(compgen -W "route send sendmail queue check setup
			--version --help" -- "$cur")) ;;
	route)
		COMPREPLY=($(compgen -W "--json --resolver --seed --prefer
			--local-name --timeout --trust-anchor --resolv-conf --bulk
			--concurrency --transport --help" -- "$cur")) ;;
	send)
		COMPREPLY=($(compgen -W "-f -t -i -v --json --no-queue --queue-only
			$delivery --help" -- "$cur")) ;;
	check)
		COMPREPLY=($(compgen -W "--json --resolver --no-smtp --ignore
			--timeout --zone --origin --trust-anchor --resolv-conf --ca-file
			--helo --help" -- "$cur")) ;;
	setup)
		COMPREPLY=($(compgen -W "--spool --helper --help" -- "$cur")) ;;
	queue)
		case $sub in
		"")
			COMPREPLY=($(compgen -W "list show delete run flush" -- "$cur")) ;;
		list|show|delete)
			COMPREPLY=($(compgen -W "--json --spool --help" -- "$cur")) ;;
		run|flush)
			COMPREPLY=($(compgen -W "--watch --interval --json -v --log
				--concurrency $delivery --help" -- "$cur")) ;;
		esac ;;
	esac
}
complete -F _mx mx
