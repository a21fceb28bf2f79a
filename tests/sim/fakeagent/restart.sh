#!/bin/bash
# Fake SMS-Agent restart.sh: the same prompts as startup.sh, then stops a running linuxmain
# (TERM, KILL after 5 s) and starts it again.
. "$(dirname "$0")/agent/bin/common.sh"
ask_answers restart
stop_main
start_main
