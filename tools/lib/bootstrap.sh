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
  command -v shellcheck >/dev/null || missing+=(shellcheck)  # ansible-test sanity's shellcheck test
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
  local deadline=$((SECONDS + 60))
  while ((SECONDS < deadline)); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  echo "dockerd did not answer within 60 s; see $CORRAL_DOCKERD_LOG" >&2
  tail -n 20 "$CORRAL_DOCKERD_LOG" >&2
  return 1
}

# A venv of PYTHON with REQUIREMENTS (and the PRE-installed pins, e.g. an older pip) at LINK,
# a symlink into the user's cache where the venv is keyed by all three: every checkout (a fresh CI
# clone too) shares one venv per set of pins, built once and rebuilt only when they change.
#   corral_cached_venv LINK PYTHON REQUIREMENTS [PRE...]
corral_cached_venv() {
  local link=$1 python=$2 requirements=$3 key dir name
  shift 3
  name=$(basename "$link")
  key=$({ "$python" -VV; cat "$requirements"; printf '%s\n' "$@"; } | sha256sum | cut -c1-16) || return 1
  dir=${XDG_CACHE_HOME:-$HOME/.cache}/corral/venvs/${name#.}-$key
  mkdir -p "$(dirname "$dir")" || return 1
  (
    flock 9 || exit 1
    [[ -e $dir/.complete ]] && exit 0
    corral_log "Installing $(basename "$requirements") into $dir"
    rm -rf "$dir" && "$python" -m venv "$dir" || exit 1
    if (($#)); then "$dir/bin/pip" install -q --disable-pip-version-check "$@" || exit 1; fi
    "$dir/bin/pip" install -q --disable-pip-version-check -r "$requirements" || exit 1
    touch "$dir/.complete"
  ) 9>"$dir.lock" || return 1
  if [[ $(readlink "$link") != "$dir" ]]; then
    rm -rf "$link" && mkdir -p "$(dirname "$link")" && ln -s "$dir" "$link" || return 1
  fi
}

# The pinned controller tools (requirements.txt).
corral_python_venv() {
  corral_cached_venv "$CORRAL_VENV" python3 "$CORRAL_ROOT/requirements.txt" || return 1
  export PATH="$CORRAL_VENV/bin:$PATH"
  export ANSIBLE_CONFIG="$CORRAL_ROOT/ansible.cfg"
}

# The newest Python 3.6 of this machine (pyenv's or on PATH), the Python of CentOS 7 and EL 8
# hosts; nothing when there is none.
corral_find_python36() {
  local found
  found=$(compgen -G '/root/.pyenv/versions/3.6*/bin/python3.6' | sort -V | tail -n 1)
  [[ -n $found ]] || found=$(command -v python3.6)
  [[ -n $found ]] && echo "$found"
}

# A Python 3.6 venv with the libraries the module_utils use (tests/unit/requirements-py36.txt)
# in .cache/venv-py36; exports CORRAL_PYTHON36, which tests/unit/plugins/test_python36.py runs the
# module_utils with. Without a Python 3.6 those tests are skipped (and say so).
corral_python36_venv() {
  local python venv=$CORRAL_ROOT/.cache/venv-py36
  python=$(corral_find_python36) || { corral_log "No Python 3.6 on this machine: the Python 3.6 tests are skipped"; return 0; }
  corral_cached_venv "$venv" "$python" "$CORRAL_ROOT/tests/unit/requirements-py36.txt" 'pip==21.3.1' || return 1
  export CORRAL_PYTHON36=$venv/bin/python
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
