# shellcheck shell=bash
# Sourced by tools/test: ansible-test sanity on the collection, with two controllers.
#
# - ansible-core of requirements.txt (2.19): every default sanity test, compile and import on
#   each Python it supports that this machine has (3.8 and later).
# - ansible-core 2.16 (tests/requirements-ansible-2.16.txt, in .cache/venv-ansible-2.16), the
#   controller for CentOS 7 / EL 8 hosts: compile and import on Python 3.6 and 3.7, which the
#   newer ansible-test no longer knows, and validate-modules (the modules' documentation and
#   argument specs as that release reads them).
#
# ansible-test wants the collection at .../ansible_collections/corral/cluster, outside any git
# work tree: the git-tracked (and new, not ignored) files are copied to
# ~/.cache/corral-sanity/<checkout>/ansible_collections/corral/cluster, without
# playbooks/collections (the symlink that makes the checkout its own collection).
# Its venvs bootstrap pip with a script from Ansible's CI file server, which cannot be reached
# here: tools/lib/get_pip.py stands in for it (see its docstring).

CORRAL_ANSIBLE216_VENV=${CORRAL_ANSIBLE216_VENV:-$CORRAL_ROOT/.cache/venv-ansible-2.16}

# The ansible-core 2.16 venv (a link into the user's cache, shared by every checkout).
corral_ansible216_venv() {
  corral_cached_venv "$CORRAL_ANSIBLE216_VENV" python3 "$CORRAL_ROOT/tests/requirements-ansible-2.16.txt"
}

# The get-pip stand-in under every name the installed ansible-tests look for (kept if present).
corral_get_pip_standin() {
  local cache=$HOME/.ansible/test/cache version
  mkdir -p "$cache" || return 1
  for version in $(grep -ho "pip='[0-9.]*'" "$CORRAL_VENV"/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py \
                     "$CORRAL_ANSIBLE216_VENV"/lib/python3*/site-packages/ansible_test/_internal/python_requirements.py |
                   tr -dc '0-9.\n' | sort -u); do
    [[ -e $cache/get_pip_${version//./_}.py ]] || cp "$CORRAL_ROOT/tools/lib/get_pip.py" "$cache/get_pip_${version//./_}.py" || return 1
  done
}

# The copy ansible-test runs in; prints its path.
corral_sanity_tree() {
  local base dest
  base=${XDG_CACHE_HOME:-$HOME/.cache}/corral-sanity/$(printf '%s' "$CORRAL_ROOT" | sha256sum | cut -c1-12)
  dest=$base/ansible_collections/corral/cluster
  rm -rf "$base" && mkdir -p "$dest" || return 1
  (cd "$CORRAL_ROOT" && git ls-files -co --exclude-standard | grep -v '^playbooks/collections/' |
     rsync -a --files-from=- ./ "$dest/") || return 1
  echo "$dest"
}

# Every Python of this machine on PATH as pythonX.Y, where ansible-test looks for them.
corral_sanity_path() {
  local path=$PATH dir
  for dir in /root/.pyenv/versions/*/bin; do
    [[ -d $dir ]] && path=$path:$dir
  done
  echo "$path"
}

# ansible-test's output without the progress of the pip installs into its venvs.
corral_sanity_quiet() {
  sed -u -E '/^[[:space:]]*(Collecting|Downloading|Installing collected|Successfully (built|installed|uninstalled)|Processing|Looking in|Using cached|Requirement already|Found existing|Uninstalling|Attempting uninstall|Building wheel|Created wheel|Stored in|━)/d'
}

corral_sanity() {
  local tree path python rc=0
  corral_ansible216_venv && corral_get_pip_standin && tree=$(corral_sanity_tree) || return 1
  path=$(corral_sanity_path)
  (set -o pipefail; cd "$tree" && PATH=$path ansible-test sanity --venv --color no --truncate 0 2>&1 | corral_sanity_quiet) || rc=1
  for python in 3.6 3.7; do
    if ! PATH=$path command -v "python$python" >/dev/null; then
      corral_log "No Python $python on this machine: ansible-test 2.16 does not check it"
      continue
    fi
    (set -o pipefail; cd "$tree" && PATH=$path "$CORRAL_ANSIBLE216_VENV/bin/ansible-test" sanity --venv --color no --truncate 0 \
       --test compile --test import --python "$python" 2>&1 | corral_sanity_quiet) || rc=1
  done
  (set -o pipefail; cd "$tree" && PATH=$path "$CORRAL_ANSIBLE216_VENV/bin/ansible-test" sanity --venv --color no --truncate 0 \
     --test validate-modules --test ansible-doc 2>&1 | corral_sanity_quiet) || rc=1
  return $rc
}
