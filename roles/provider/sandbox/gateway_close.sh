#!/bin/sh
# The agent-task driver's close of its model gateway (skills/agent-task/run, once the agent's
# processes are killed), bound read-only into the sandbox beside the forwarder
# (roles/provider/sandbox/sandbox_gateway.ts): posts /turnpike/agent-over to the gateway's socket,
# then again until the socket refuses a connection; exit 0 once it does (or never listened), 1 when
# it still accepts after 1000 tries 10 ms apart. With curl, one short process as a rule; without
# it, the forwarder's own close (the rest of the arguments: `deno run ... forwarder.js close
# <socket>`), one Deno start (docs/SKILLS.md "agent-task").
#
# Usage: gateway_close.sh <socket> <fallback command...>
set -u
socket=$1
shift
command -v curl >/dev/null 2>&1 || exec "$@"
tries=0
while [ "$tries" -lt 1000 ]; do
  # -q first: no .curlrc of the job's making is read. The close, then again on a new connection:
  # curl's exit is the second's, 7 when nothing listens there any more (the usual case, the
  # gateway stops listening right after its answer; else the loop goes round).
  curl -q -s -o /dev/null --max-time 10 --unix-socket "$socket" -X POST \
    -H 'Content-Length: 0' http://127.0.0.1/turnpike/agent-over \
    --next -s -o /dev/null --max-time 10 --unix-socket "$socket" -X POST \
    -H 'Content-Length: 0' http://127.0.0.1/turnpike/agent-over
  case $? in
    7) exit 0 ;;
    2) exec "$@" ;; # a curl that cannot do this (no --unix-socket): the forwarder's close
  esac
  tries=$((tries + 1))
  sleep 0.01
done
exit 1
