#!/bin/bash
# Fake SMS-Agent shutdown.sh: stops linuxmain named by agent/linuxmain.pid (TERM, then KILL
# after 5 s; only a process whose comm is linuxmain). No prompts.
. "$(dirname "$0")/agent/bin/common.sh"
stop_main
echo "sms agent stopped"
exit 0
