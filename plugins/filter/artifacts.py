"""Filters of the artifacts role."""

from __future__ import annotations

from typing import Any, Iterable, Mapping

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


def artifact_files(items: Iterable[Mapping[str, Any]], catalog: Mapping[str, Any]) -> list[dict[str, Any]]:
    """distribute_files entries of fetched artifact files: their verified sum travels with them, 0755 root."""
    return [{"src": item["src"], "dest": artifact_destination(item, catalog)["path"], "sha256": item["sha256"],
             "mode": "0755"} for item in items]


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"artifact_destination": artifact_destination, "artifact_files": artifact_files}
