# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the docker role: the version logic lives in module_utils/docker_daemon.py."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

from ansible_collections.corral.cluster.plugins.module_utils import docker_daemon as lib

DOCUMENTATION = r"""
name: docker_daemon_config
short_description: The daemon.json of the docker role for a Docker version
version_added: 0.1.0
description:
  - Builds daemon.json from the docker role's settings for the given Docker version - C(graph)
    before 17.05 and C(data-root) after, never both; keys the version does not accept are left
    out and listed in C(dropped) with the reason.
  - The same file holds the filters C(docker_problems) (the role's preflight checks),
    C(docker_dockerd_flags) (dockerd flags without a daemon.json conflict), C(docker_packages),
    C(docker_conflicting_packages), C(docker_version) and C(docker_supports_validate).
options:
  _input:
    description: The settings (registry_mirrors, insecure_registries, cgroup_driver, log_driver, log_opts,
      storage_driver, storage_opts, live_restore, bip, default_address_pools, data_root, daemon_options).
    type: dict
    required: true
  version:
    description: Docker version, e.g. C(1.12.6), C(Docker version 20.10.24+dfsg1, build 297e128), or C("") for the newest.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Show the daemon.json for Docker 1.12.6
  ansible.builtin.debug:
    msg: "{{ {'data_root': '/appdata/lib/docker', 'daemon_options': {'features': {'buildkit': true}}}
             | corral.cluster.docker_daemon_config('1.12.6') }}"
  # {"config": {"graph": "/appdata/lib/docker"}, "dropped": [{"key": "features", ...}], ...}
"""

RETURN = r"""
_value:
  description: C(config) (the daemon.json dict), C(dropped) (list of C(key) and C(reason)), C(data_root) and
    C(data_root_key).
  type: dict
"""


def _wrap(func):
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except (ValueError, TypeError, KeyError) as err:
            raise AnsibleFilterError(f"{func.__name__}: {err}") from err

    wrapper.__name__ = func.__name__
    return wrapper


def docker_daemon_config(settings: dict, version: Any) -> dict:
    """lib.daemon_config, with an Ansible warning for each key left out."""
    result = lib.daemon_config(settings, version)
    for dropped in result["dropped"]:
        Display().warning(
            f"daemon.json for Docker {lib.version_string(version if isinstance(version, tuple) else lib.parse_version(version))}: "
            f"left out {dropped['key']!r} ({dropped['reason']})."
        )
    return result


def docker_version(text: Any) -> str:
    return lib.version_string(lib.parse_version(text))


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {
            "docker_daemon_config": _wrap(docker_daemon_config),
            "docker_problems": _wrap(lib.problems),
            "docker_dockerd_flags": _wrap(lib.dockerd_flags),
            "docker_builtin_flags": _wrap(lib.builtin_flags),
            "docker_packages": _wrap(lib.packages),
            "docker_conflicting_packages": _wrap(lib.conflicting_packages),
            "docker_version": _wrap(docker_version),
            "docker_supports_validate": _wrap(lib.supports_validate),
            "docker_data_root_key": _wrap(lib.data_root_key),
        }
