# Shared by startup.sh, restart.sh and shutdown.sh of the fake SMS-Agent (sourced, not run).
# The agent home is the directory holding startup.sh; linuxmain runs from it.

# smsguard runs the restart command with a clean environment: do not rely on PATH.
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin${PATH:+:$PATH}
export PATH

AGENT_HOME=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LINUXMAIN=$AGENT_HOME/agent/bin/linuxmain
PIDFILE=$AGENT_HOME/agent/linuxmain.pid
STATEFILE=$AGENT_HOME/agent/linuxmain.state
CREDFILE=$AGENT_HOME/agent/config/credentials.cfg
LOGDIR=$AGENT_HOME/agent/Logs

# Print the pid of the running linuxmain named by the pid file, or fail.
agent_pid() {
	local pid
	[ -r "$PIDFILE" ] || return 1
	pid=$(head -c 32 "$PIDFILE" | tr -dc 0-9)
	[ -n "$pid" ] || return 1
	[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = linuxmain ] || return 1
	echo "$pid"
}

# $1: the verb for the confirmation ("start" or "restart"). Reads y/n, AK, SK, domain.
ask_answers() {
	local yn ak sk domain
	printf 'Are you sure you want to %s SMS-Agent? (y/n): ' "$1"
	read -r yn || yn=
	case "$yn" in
	y | Y | yes | YES) ;;
	*)
		echo
		echo "SMS-Agent $1 cancelled."
		exit 1
		;;
	esac
	printf 'Please input your AK: '
	read -r ak || ak=
	if [ -z "$ak" ]; then
		echo
		echo "AK cannot be empty."
		exit 1
	fi
	printf 'Please input your SK: '
	read -r -s sk || sk=
	echo
	if [ -z "$sk" ]; then
		echo "SK cannot be empty."
		exit 1
	fi
	printf 'Please input the SMS domain name: '
	read -r domain || domain=
	if [ -z "$domain" ]; then
		echo
		echo "SMS domain name cannot be empty."
		exit 1
	fi
	echo
	mkdir -p "$AGENT_HOME/agent/config" "$LOGDIR"
	(
		umask 077
		printf 'ak=%s\nsk=%s\ndomain=%s\n' "$ak" "$sk" "$domain" >"$CREDFILE.tmp"
	)
	mv -f "$CREDFILE.tmp" "$CREDFILE"
}

# Start linuxmain detached (own session, no terminal, stdio to startup.log) and wait until it
# has reached SMS (success), failed authentication or died (failure).
start_main() {
	local pid i state
	if pid=$(agent_pid); then
		echo "SMS-Agent is already running (pid $pid)."
		exit 1
	fi
	mkdir -p "$LOGDIR"
	rm -f "$STATEFILE"
	cd "$AGENT_HOME" || exit 1
	setsid "$LINUXMAIN" </dev/null >>"$LOGDIR/startup.log" 2>&1 &
	pid=$!
	for i in $(seq 1 100); do
		state=$(cat "$STATEFILE" 2>/dev/null)
		case "$state" in
		connected)
			echo "sms agent starts up successfully"
			exit 0
			;;
		auth_failed)
			echo "sms agent starts up failed: SMS.0202 AK/SK authentication failed"
			exit 1
			;;
		esac
		if ! kill -0 "$pid" 2>/dev/null; then
			echo "sms agent starts up failed, see $LOGDIR/startup.log"
			exit 1
		fi
		sleep 0.1
	done
	echo "sms agent starts up successfully (SMS not reachable yet, still trying)"
	exit 0
}

# Stop linuxmain: TERM, then KILL after 5 s.
stop_main() {
	local pid i
	if ! pid=$(agent_pid); then
		rm -f "$PIDFILE"
		return 0
	fi
	kill -TERM "$pid" 2>/dev/null
	for i in $(seq 1 50); do
		[ "$(cat "/proc/$pid/comm" 2>/dev/null)" = linuxmain ] || break
		sleep 0.1
	done
	if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = linuxmain ]; then
		kill -KILL "$pid" 2>/dev/null
	fi
	rm -f "$PIDFILE"
}
