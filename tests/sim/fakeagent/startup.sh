#!/bin/bash
# Fake SMS-Agent startup.sh (smsguard tests): asks y/n, AK, SK and the SMS domain name on
# stdin like the real one, stores them in agent/config/credentials.cfg (mode 0600), starts
# agent/bin/linuxmain detached and prints "sms agent starts up successfully" once it reached
# the simulator. Exit 0 on success, 1 on an empty or refused answer, a running agent, or a
# failed start (e.g. wrong AK/SK: SMS.0202).
. "$(dirname "$0")/agent/bin/common.sh"
ask_answers start
start_main
