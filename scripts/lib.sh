# Shared by the setup scripts (source it; it defines functions only).

# apt_install_missing TAG PACKAGE...: installs those of the Debian packages that are not
# installed yet (idempotent: nothing runs when all are there). Needs root or sudo.
apt_install_missing() {
  local tag=$1; shift
  local missing=() p
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  echo "$tag: installing ${missing[*]}"
  local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# start_echo_service ZSS SID: starts `zss broker` on two free loopback ports and a `zss echo`
# worker for SID, waits until the broker lists it, and stops both on exit (the worker first: its
# DOWN needs the broker). Sets `frontend` and `backend`; installs an EXIT trap.
start_echo_service() {
  local zss=$1 sid=$2
  _free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
  frontend=tcp://127.0.0.1:$(_free_port) backend=tcp://127.0.0.1:$(_free_port)
  _service_pids=()
  _stop_echo_service() {
    local i
    for ((i = ${#_service_pids[@]} - 1; i >= 0; i--)); do
      kill "${_service_pids[i]}" 2>/dev/null || true; wait "${_service_pids[i]}" 2>/dev/null || true
    done
  }
  trap _stop_echo_service EXIT
  "$zss" --log-level warn broker --frontend "$frontend" --backend "$backend" & _service_pids+=($!)
  "$zss" --log-level warn echo "$sid" --broker "$backend" --concurrency 4 & _service_pids+=($!)
  local _
  for _ in $(seq 100); do
    "$zss" --log-level error services --broker "$frontend" --json 2>/dev/null | grep -q "\"$sid\"" && return 0
    sleep 0.1
  done
}
