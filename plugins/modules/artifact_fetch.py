# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: artifact_fetch
short_description: Fetch the cluster's binaries and tarballs once into a controller-side cache, verified by sha256
description:
  - From a catalog of artifacts and the inventory hosts (architecture and groups), works out which artifact each
    host needs, resolves the expected sha256 of each (an override from O(checksum_overrides), else the upstream's
    published C(<url>.sha256), else the pinned table O(checksums)) and fails at once, before fetching anything,
    naming every artifact without a known sum.
  - For each artifact and architecture, keeps the cached file when its sha256 matches; else downloads it (http,
    https or file URLs) to a temporary file, verifies it and moves it into place. A file with the wrong sum never
    stays in the cache. Tarballs are extracted once, flat, into C(<cached file>.d/) (only the listed members).
  - The cache, and a mirror, use the layout C(<root>/<upstream host>/<upstream path>).
  - Runs on the controller, in its own process (an action plugin), whichever host the task runs for; the role
    C(corral.cluster.artifacts) runs it once (C(run_once)), then copies each host's files.
  - The sums of the cached files are kept in C(<cache_dir>/.corral-sums.json) with each file's size, mtime, ctime
    and inode, and a file is read again only when one of those changed.
version_added: "0.1.0"
options:
  catalog:
    description:
      - The artifacts, by name. Each entry has C(version), C(url) (the upstream URL with C({version}), C({arch}),
        C({uname_arch}) and C({base_version}) (the version without a C(-suffix)) placeholders), C(sha256)
        (V(published) or V(pinned)), C(kind) (V(binary) or V(tarball)), C(members) and C(optional_members) (file
        name patterns of a tarball; each of C(members) must match), and C(groups) (the inventory groups whose hosts
        need it).
    type: dict
    required: true
  hosts:
    description: Inventory host -> C(arch) (V(amd64), V(arm64)) and C(groups) (its group_names).
    type: dict
    required: true
  checksums:
    description: The pinned sums, name -> arch -> version -> C(sha256:<hex>).
    type: dict
    default: {}
  checksums_file:
    description:
      - A YAML file on the controller holding the pinned sums as O(checksums) does (the role's
        C(files/checksums.yml)); O(checksums) is laid over it.
    type: path
  checksum_overrides:
    description:
      - Sums that take precedence, name -> version -> C(sha256:<hex>) (every architecture), or name -> version ->
        arch -> C(sha256:<hex>).
    type: dict
    default: {}
  mirror_url:
    description:
      - Fetch from C(<mirror_url>/<upstream host>/<upstream path>) instead of upstream. Empty fetches upstream.
    type: str
    default: ""
  cache_dir:
    description: The cache on the controller, created when missing.
    type: path
    required: true
  offline:
    description:
      - Never reach upstream. Only O(mirror_url), or without one the cache, is used; a missing file is an error
        naming the cache path to put it at.
    type: bool
    default: false
  plan_only:
    description:
      - Only check what a fetch needs before it starts - the mirror URL, and a known sum for every artifact some host
        needs - and report each host's needs; fetch nothing. The preflight runs this before any host changes.
    type: bool
    default: false
extends_documentation_fragment:
  - action_common_attributes
  - corral.cluster.attributes
attributes:
  check_mode:
    details: Verifies what is cached and checks that the rest can be opened (published sums are read); downloads
      and extracts nothing, and reports those artifacts as pending.
author:
  - corral.cluster maintainers (@corral)
"""

EXAMPLES = r"""
- name: Fetch the artifacts into the controller's cache
  corral.cluster.artifact_fetch:
    catalog:
      kubelet:
        version: 1.35.8
        url: https://dl.k8s.io/release/v{version}/bin/linux/{arch}/kubelet
        sha256: pinned
        kind: binary
        groups: [k8s_cluster]
    hosts:
      node1: {arch: amd64, groups: [kube_node, k8s_cluster]}
    checksums: {kubelet: {amd64: {1.35.8: "sha256:6971b9f95e54dbed67a2271abe6e78f8cc2894494649f3cf39e4b25a82dca923"}}}
    mirror_url: file:///srv/mirror
    cache_dir: ~/.cache/corral/artifacts
  delegate_to: localhost
  run_once: true
  become: false
"""

RETURN = r"""
artifacts:
  description: Every artifact fetched or found, per architecture.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Catalog name., type: str, sample: kubelet}
    version: {description: Version., type: str, sample: 1.35.8}
    arch: {description: Architecture., type: str, sample: amd64}
    url: {description: Upstream URL., type: str}
    source: {description: "The URL it is fetched from (the mirror's, or upstream).", type: str}
    path: {description: The cached file on the controller., type: str}
    sha256: {description: "Its verified (in check mode, expected) sum.", type: str}
    downloaded: {description: Downloaded by this run., type: bool}
    extracted: {description: Tarball extracted by this run., type: bool}
    pending: {description: Check mode only - would be downloaded or extracted., type: bool}
    files:
      description:
        - What goes to the hosts - C(name) (installed file name) and C(src) (controller path). Empty while pending.
      type: list
      elements: dict
hosts:
  description: Per inventory host, the files it needs, each with C(artifact), C(name), C(src) and C(sha256).
  returned: always
  type: dict
needs:
  description: Per inventory host, the names of the artifacts its groups need (pending ones included).
  returned: always
  type: dict
pending:
  description: Check mode only - the artifacts a real run would download or extract, as C(name version (arch)).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.corral.cluster.plugins.module_utils import artifacts as lib

ARGUMENT_SPEC = {
    "catalog": {"type": "dict", "required": True},
    "hosts": {"type": "dict", "required": True},
    "checksums": {"type": "dict", "default": {}},
    "checksums_file": {"type": "path"},
    "checksum_overrides": {"type": "dict", "default": {}},
    "mirror_url": {"type": "str", "default": ""},
    "cache_dir": {"type": "path", "required": True},
    "offline": {"type": "bool", "default": False},
    "plan_only": {"type": "bool", "default": False},
}


def run(params: dict, check_mode: bool) -> dict:
    """Plan, then fetch; raises lib.ArtifactError with the message for the user."""
    lib.check_mirror_url(params["mirror_url"])
    wanted, needs = lib.plan(params["catalog"], params["hosts"], params["checksums"], params["checksum_overrides"])
    if params.get("plan_only"):
        return {"changed": False, "artifacts": [], "hosts": {}, "needs": needs, "pending": []}
    memo = lib.SumMemo(params["cache_dir"])
    fetched = [
        lib.fetch(artifact, params["cache_dir"], params["mirror_url"], params["offline"], write=not check_mode,
                  memo=memo)
        for artifact in wanted
    ]
    if not check_mode:
        memo.save()
    by_key = {(item.artifact.name, item.artifact.arch): item for item in fetched}
    hosts = {
        host: [
            {"artifact": name, **file}
            for name in names
            for file in by_key[(name, params["hosts"][host]["arch"])].files
        ]
        for host, names in needs.items()
    }
    return {
        "changed": any(item.downloaded or item.extracted or item.pending for item in fetched),
        "artifacts": [item.as_dict() for item in fetched],
        "hosts": hosts,
        "needs": needs,
        "pending": [item.artifact.label for item in fetched if item.pending],
    }


def main() -> None:
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    if module.params["checksums_file"]:
        module.fail_json(msg="artifact_fetch: checksums_file is read by the collection's action plugin, which runs "
                             "this module's work; call corral.cluster.artifact_fetch, not the module file")
    try:
        result = run(module.params, module.check_mode)
    except lib.ArtifactError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
