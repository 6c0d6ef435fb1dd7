"""Write the artifacts role's table of upstream sums from a checksum file in kubespray's format.

    .venv/bin/python tools/import_checksums.py [PATH]     (default: ../shared/data/upstream-checksums.yml)

The source holds <artifact>_checksums -> arch -> version -> "sha256:<hex>" for upstream
releases (merged from the kubespray project's tables); tools/data/ adds tables of the same format
for artifacts it has no sums of (flanneld). This writes, for the catalog's names,
every version the collection can deploy (Kubernetes binaries: the supported minors only) into
roles/artifacts/files/checksums.yml, sorted newest first, so that every supported release
downloads without the user pasting sums. Re-run it when the source grows; the unit tests check
the table's shape and that every default version has its sums.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
DEST = ROOT / "roles" / "artifacts" / "files" / "checksums.yml"
DEFAULT_SOURCE = ROOT.parent / "shared" / "data" / "upstream-checksums.yml"
# Catalog name -> key of the source. kubeadm's sums are not carried: the collection does not
# use kubeadm. kube-apiserver, kube-controller-manager, kube-scheduler and kube-proxy have no
# table: each release publishes <binary>.sha256 beside the binary.
SOURCE_KEYS = {
    "kubelet": "kubelet_checksums",
    "kubectl": "kubectl_checksums",
    "etcd": "etcd_binary_checksums",
    "cni_plugins": "cni_binary_checksums",
    "containerd": "containerd_archive_checksums",
    "runc": "runc_checksums",
    "crictl": "crictl_checksums",
    "cri_dockerd": "cri_dockerd_archive_checksums",
    "calicoctl": "calicoctl_binary_checksums",
    "helm": "helm_archive_checksums",
    "nerdctl": "nerdctl_archive_checksums",
    "flanneld": "flanneld_binary_checksums",
}
# Tables of the same format kept in this repository, for artifacts the source has no sums of.
EXTRA_SOURCES = (ROOT / "tools" / "data" / "flanneld-checksums.yml",)
KUBERNETES_BINARIES = ("kubelet", "kubectl")
# The Kubernetes minors the collection supports (plugins/module_utils/preflight.py).
SUPPORTED_MINORS = range(20, 37)


def version_key(version: str) -> tuple:
    return tuple(int(part) if part.isdigit() else part for part in version.replace("-", ".").split("."))


def table(source: dict) -> dict:
    out = {}
    for name, key in SOURCE_KEYS.items():
        by_arch = {}
        for arch, versions in sorted(source[key].items()):
            kept = {str(version): str(digest) for version, digest in versions.items()
                    if digest and (name not in KUBERNETES_BINARIES
                                   or int(str(version).split(".")[1]) in SUPPORTED_MINORS)}
            by_arch[arch] = dict(sorted(kept.items(), key=lambda item: version_key(item[0]), reverse=True))
        out[name] = by_arch
    return out


def render(data: dict) -> str:
    lines = [
        "---",
        "# Upstream sums, name -> arch -> version -> sha256, for every release the collection can",
        "# deploy. Written by tools/import_checksums.py from a table in kubespray's format (merged from",
        "# the kubespray project's checksum tables across its releases); do not edit by hand.",
        "# artifacts_checksums adds versions and takes precedence. A file, not role variables: the",
        "# role reads it only where the fetch needs it (vars/main/catalog.yml), for a table in the",
        "# play's variables is deep-copied by every lookup('template') of every task of the run.",
    ]
    for name, by_arch in data.items():
        lines.append(f"{name}:  # {SOURCE_KEYS[name]}")
        for arch, versions in by_arch.items():
            lines.append(f"  {arch}:")
            lines += [f'    "{version}": {digest}' for version, digest in versions.items()]
    return "\n".join(lines) + "\n"


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_SOURCE
    merged = yaml.safe_load(source.read_text())
    for extra in EXTRA_SOURCES:
        merged.update(yaml.safe_load(extra.read_text()))
    data = table(merged)
    DEST.parent.mkdir(parents=True, exist_ok=True)
    DEST.write_text(render(data))
    counts = ", ".join(f"{name} {len(by_arch.get('amd64', {}))}" for name, by_arch in data.items())
    print(f"{DEST.relative_to(ROOT)}: {counts} (amd64 versions)")


if __name__ == "__main__":
    main()
