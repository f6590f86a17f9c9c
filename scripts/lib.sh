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
