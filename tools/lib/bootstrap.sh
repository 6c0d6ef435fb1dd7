# shellcheck shell=bash
# Sourced by tools/lab and tools/test: makes a fresh Debian machine (root) ready to run the
# lab and the tests. Every step is skipped when already done, so it is cheap to repeat.

CORRAL_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CORRAL_VENV=${CORRAL_VENV:-$CORRAL_ROOT/.venv}
CORRAL_DOCKERD_LOG=${CORRAL_DOCKERD_LOG:-/var/log/corral-dockerd.log}

corral_log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Debian packages the controller needs: the Docker engine and debootstrap for the lab nodes,
# an SSH client to reach them.
corral_install_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v ssh >/dev/null || missing+=(openssh-client)
  command -v rsync >/dev/null || missing+=(rsync)
  ((${#missing[@]})) || return 0
  corral_log "Installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The machine has no systemd as PID 1: start dockerd ourselves when nothing answers.
corral_start_docker() {
  docker info >/dev/null 2>&1 && return 0
  corral_log "Starting the Docker engine (log: $CORRAL_DOCKERD_LOG)"
  setsid nohup dockerd >"$CORRAL_DOCKERD_LOG" 2>&1 </dev/null &
  local i
  for i in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  echo "dockerd did not answer within 60 s; see $CORRAL_DOCKERD_LOG" >&2
  tail -n 20 "$CORRAL_DOCKERD_LOG" >&2
  return 1
}

# The pinned controller tools, reinstalled only when requirements.txt changes.
corral_python_venv() {
  local stamp="$CORRAL_VENV/.requirements.sha256"
  local want
  want=$(sha256sum "$CORRAL_ROOT/requirements.txt" | cut -d' ' -f1)
  if [[ ! -x $CORRAL_VENV/bin/python || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    corral_log "Installing the pinned Python tools into $CORRAL_VENV"
    python3 -m venv "$CORRAL_VENV"
    "$CORRAL_VENV/bin/pip" install -q --disable-pip-version-check -r "$CORRAL_ROOT/requirements.txt"
    echo "$want" >"$stamp"
  fi
  export PATH="$CORRAL_VENV/bin:$PATH"
  export ANSIBLE_CONFIG="$CORRAL_ROOT/ansible.cfg"
}

corral_bootstrap() {
  if [[ $(id -u) -ne 0 ]]; then
    echo "Run this as root: the lab needs the Docker engine and debootstrap." >&2
    return 1
  fi
  corral_install_packages
  corral_start_docker
  corral_python_venv
}
