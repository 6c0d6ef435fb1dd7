"""The pod network and cluster DNS of every lab artifact set: flanneld, the flannel CNI plugin and
the CoreDNS image, built from their Go modules (tools/lab_gobuild.py) and published in the mirror
at the paths of the upstream release files (the artifacts role's catalog).

- flanneld: `github.com/flannel-io/flannel`, as upstream's Makefile builds its release binary
  (cgo for the UDP backend, static), published as the release's `flanneld-amd64`, without one
  backend: tencentvpc needs `github.com/tencentcloud/tencentcloud-sdk-go/tencentcloud/vpc`, of
  which the proxy serves no version (its v1.3.188 zip answers 403 "This module version is not
  available"), so the recipe drops that backend's import from main.go. vxlan, host-gw and the
  other backends are upstream's code.
- The flannel CNI plugin: the Go module proxy serves no version of `github.com/flannel-io/cni-plugin`
  (`go mod download github.com/flannel-io/cni-plugin@v1.9.1-flannel1`, `@v1.8.0-flannel1`,
  `@v1.2.0`, `@v1.0.0`, `@main`, `@<commit>` and `go list -m -versions` all answer 403 "This
  module version is not available"). The same plugin lived in `github.com/containernetworking/plugins`
  (plugins/meta/flannel) until v0.9.1, the last release the proxy serves with it (v1.0.1 has no
  plugins/meta/flannel): that is built, and published as version 0.9.1 in the layout of the
  flannel-io/cni-plugin release tarball (`flannel-amd64` inside).
- CoreDNS: `github.com/coredns/coredns` at the release the coredns role picks for the set's
  Kubernetes (roles/coredns/vars/main.yml), as its Makefile builds it (no cgo), in a one-layer
  image `corral.test/coredns/coredns:vX.Y.Z` whose entry point is /coredns, as upstream's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from lab_common import LAB_REGISTRY, MIRROR, ROOT, image_archive, reproducible_tar, sha256
from lab_gobuild import GoBuild
from lab_gobuild import build as go_build

ARCH = "amd64"
# Entries of every set's artifacts.json that this module publishes.
NETWORK_PUBLISHED = ("flanneld", "flannel_cni_plugin", "coredns_image")

FLANNEL = GoBuild(
    name="flanneld", module="github.com/flannel-io/flannel", version="v0.28.10", binaries={"flanneld": "."},
    ldflags=("-s", "-w", "-X=github.com/flannel-io/flannel/pkg/version.Version={tag}"), cgo=True, static=True,
    apt={"gcc": "/usr/bin/gcc", "libc6-dev": "/usr/lib/x86_64-linux-gnu/libc.a"},
    edits=(("main.go", '\t_ "github.com/flannel-io/flannel/pkg/backend/tencentvpc"\n', ""),))
FLANNEL_CNI_PLUGIN = GoBuild(
    name="flannel-cni-plugin", module="github.com/containernetworking/plugins", version="v0.9.1",
    binaries={f"flannel-{ARCH}": "plugins/meta/flannel"},
    ldflags=("-s", "-w", "-X=github.com/containernetworking/plugins/pkg/utils/buildversion.BuildVersion={tag}"))


def coredns_version(kubernetes_version: str) -> str:
    """The CoreDNS release the coredns role deploys with this Kubernetes release."""
    table = yaml.safe_load((ROOT / "roles" / "coredns" / "vars" / "main.yml").read_text())["__coredns_versions"]
    return table[".".join(kubernetes_version.split(".")[:2])]


def coredns_recipe(kubernetes_version: str) -> GoBuild:
    return GoBuild(name="coredns", module="github.com/coredns/coredns", version=f"v{coredns_version(kubernetes_version)}",
                   binaries={"coredns": "."},
                   ldflags=("-s", "-w", "-X=github.com/coredns/coredns/coremain.GitCommit={tag}"))


def network_recipes(kubernetes_version: str) -> dict[str, GoBuild]:
    return {"flanneld": FLANNEL, "flannel-cni-plugin": FLANNEL_CNI_PLUGIN,
            "coredns": coredns_recipe(kubernetes_version)}


def _entry(version: str, dest: Path, **extra: str) -> dict:
    return {"version": version, "path": str(dest.relative_to(MIRROR)), "sha256": sha256(dest), **extra}


def _copy(source: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, dest)
    dest.chmod(0o755)
    return dest


def publish_network(kubernetes_version: str, workdir: Path) -> dict[str, dict]:
    recipes = network_recipes(kubernetes_version)
    built = {name: go_build(recipe) / "bin" for name, recipe in recipes.items()}
    github = MIRROR / "github.com"
    flannel = recipes["flanneld"].bare_version
    dest = _copy(built["flanneld"] / "flanneld",
                 github / "flannel-io" / "flannel" / "releases" / "download" / f"v{flannel}" / f"flanneld-{ARCH}")
    entries = {"flanneld": _entry(flannel, dest)}

    plugin = recipes["flannel-cni-plugin"].bare_version
    name = f"cni-plugin-flannel-linux-{ARCH}-v{plugin}.tgz"
    dest = github / "flannel-io" / "cni-plugin" / "releases" / "download" / f"v{plugin}" / name
    reproducible_tar(built["flannel-cni-plugin"], f"flannel-{ARCH}", dest)
    # Upstream publishes `sha256sum` output beside each tarball.
    dest.with_name(name + ".sha256").write_text(f"{sha256(dest)}  {name}\n")
    entries["flannel_cni_plugin"] = _entry(plugin, dest)

    coredns = recipes["coredns"].bare_version
    image = f"{LAB_REGISTRY}/coredns/coredns:v{coredns}"
    dest = MIRROR / "images" / f"coredns-{coredns}.tar"
    if not dest.exists():
        rootfs = workdir / f"coredns-{coredns}"
        _copy(built["coredns"] / "coredns", rootfs / "coredns")
        image_archive(rootfs, image, ['ENTRYPOINT ["/coredns"]', "EXPOSE 53 53/udp"], dest)
    entries["coredns_image"] = _entry(coredns, dest, image=image)
    return entries
