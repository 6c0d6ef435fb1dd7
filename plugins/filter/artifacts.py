"""Filters of the artifacts role."""

from __future__ import annotations

from typing import Any, Mapping

DOCUMENTATION = r"""
name: artifact_destination
short_description: Where an artifact file goes on a host, with its sha256
version_added: 0.1.0
description:
  - Turns one file of the C(artifact_fetch) module's per-host list (C({artifact, name, src, sha256}))
    into C({path, sha256}), the path being the catalog entry's C(dest) joined with the file name,
    as the C(file_digests) module takes it.
options:
  _input:
    description: One file of C(artifact_fetch)'s C(hosts[HOST]) list.
    type: dict
    required: true
  catalog:
    description: The artifacts catalog (name -> entry with C(dest)).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Show where the files go
  ansible.builtin.debug:
    msg: "{{ files | map('corral.cluster.artifact_destination', catalog) | list }}"
"""

RETURN = r"""
_value:
  description: C({path, sha256}).
  type: dict
"""


def artifact_destination(item: Mapping[str, Any], catalog: Mapping[str, Any]) -> dict[str, str]:
    return {"path": f"{catalog[item['artifact']]['dest']}/{item['name']}", "sha256": item["sha256"]}


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"artifact_destination": artifact_destination}
