#!/usr/bin/env bash
# Our own ZooKeeper on loopback, for the registry and its tests (never the system service).
#
#   scripts/zookeeper.sh start|stop|status|restart
#
# Port: ZSS_ZK_PORT (default 21810). Config, data, log and pid file: ZSS_ZK_DIR (default
# target/zookeeper/PORT). `start` returns once the server answers `srvr` (serving requests), and
# is a no-op when a ZooKeeper already answers on the port (ours or one another checkout
# started); `stop` stops the one our pid file names (TERM, then KILL) and is a no-op when it is
# not running. `start` and `status` print the address, `127.0.0.1:PORT`, on stdout (only that:
# callers capture it); everything else goes to stderr. Needs zookeeperd
# (scripts/setup-zookeeper.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

port=${ZSS_ZK_PORT:-21810}
dir=${ZSS_ZK_DIR:-target/zookeeper/$port}
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
pidfile=$dir/zookeeper.pid
cfg=$dir/zoo.cfg
log=$dir/zookeeper.log
address=127.0.0.1:$port

say() { echo "zookeeper: $*" >&2; }

# The server's answer to the `srvr` four-letter word (empty when nothing answers).
srvr() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port && echo srvr >&3 && cat <&3" 2>/dev/null || true
}
serving() { srvr | grep -q '^Mode: '; }

# The pid in our pid file if that process is still our server.
our_pid() {
  [ -f "$pidfile" ] || return 1
  local pid; pid=$(cat "$pidfile")
  if [ -n "$pid" ] && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "QuorumPeerMain $cfg"; then
    echo "$pid"
  else
    rm -f "$pidfile"
    return 1
  fi
}

start() {
  if serving; then
    our_pid >/dev/null || say "$address is already served by a ZooKeeper this script did not start here; using it"
    echo "$address"
    return 0
  fi
  if our_pid >/dev/null; then
    say "our server (pid $(cat "$pidfile")) is starting; waiting for it"
  else
    [ -r /usr/share/java/zookeeper.jar ] || { say "zookeeperd is not installed (run scripts/setup-zookeeper.sh)"; return 1; }
    mkdir -p "$dir/data"
    cat > "$cfg" <<CFG
tickTime=500
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr
autopurge.snapRetainCount=3
autopurge.purgeInterval=1
CFG
    # setsid, and none of our descriptors (our stdout, the lock on fd 9): the server outlives
    # this script, a caller reading our output (a test) does not wait for the JVM, and the
    # JVM never holds the lock.
    setsid java -Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
      -Dzookeeper.log.dir="$dir" -Dzookeeper.root.logger=INFO,CONSOLE \
      -cp "/etc/zookeeper/conf:/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar" \
      org.apache.zookeeper.server.quorum.QuorumPeerMain "$cfg" \
      </dev/null >"$log" 2>&1 9>&- &
    echo $! > "$pidfile"
  fi
  local i
  for i in $(seq 300); do
    if serving; then echo "$address"; return 0; fi
    if ! our_pid >/dev/null; then
      say "the server exited while starting; the end of $log:"
      tail -n 20 "$log" >&2 || true
      return 1
    fi
    sleep 0.1
  done
  say "no answer on $address after 30 s; the end of $log:"
  tail -n 20 "$log" >&2 || true
  stop
  return 1
}

stop() {
  local pid i
  pid=$(our_pid) || { say "not running (no server of ours on $address)"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "pid $pid ignored TERM for 10 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
    while kill -0 "$pid" 2>/dev/null; do sleep 0.05; done
  fi
  rm -f "$pidfile"
  say "stopped (pid $pid)"
}

status() {
  if serving; then
    echo "$address"
    say "serving$(our_pid >/dev/null && echo " (pid $(cat "$pidfile"))" || echo " (not started by this script here)")"
  else
    say "not serving on $address"
    return 3
  fi
}

# One start or stop at a time per server (test binaries start it concurrently).
exec 9>"$dir/lock"
flock 9

case ${1:-} in
  start) start ;;
  stop) stop ;;
  status) status ;;
  restart) stop; start ;;
  *) echo "usage: $0 start|stop|status|restart" >&2; exit 2 ;;
esac
