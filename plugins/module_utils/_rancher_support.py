# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each Rancher line supports: the Kubernetes minors it imports (the one place that says so), its
first-login password, and the refusal of a release that cannot import the cluster. Imported through
module_utils/rancher.py."""

from typing import Any, Dict, List, Optional, Tuple

from ansible_collections.corral.cluster.plugins.module_utils._rancher_client import Refused
from ansible_collections.corral.cluster.plugins.module_utils.version import version_tuple

# --- What Rancher supports ------------------------------------------------------------------

# Rancher line (major, minor) -> the Kubernetes minors (1.x) it supports for imported
# (registered) clusters, at the line's latest patch release, from the SUSE Rancher support
# matrices (https://www.suse.com/suse-rancher/support-matrix/all-supported-versions/). Early
# patch releases of a line may support fewer of the newest minors. Rancher 1.6 does not import
# Kubernetes clusters at all: it registers Docker hosts (see the legacy flow).
RANCHER_KUBERNETES_SUPPORT: Dict[Tuple[int, int], Tuple[int, int]] = {
    (2, 4): (15, 18),
    (2, 5): (17, 20),
    (2, 6): (18, 24),
    (2, 7): (23, 27),
    (2, 8): (25, 28),
    (2, 9): (27, 30),
    (2, 10): (28, 31),
    (2, 11): (30, 32),
    (2, 12): (31, 33),
    (2, 13): (32, 34),
    (2, 14): (33, 35),
}

# The first Rancher 2.x line that reads CATTLE_BOOTSTRAP_PASSWORD; older 2.x lines start with
# the admin password "admin".
BOOTSTRAP_PASSWORD_SINCE = (2, 6)
LEGACY_DEFAULT_PASSWORD = "admin"


# --- Versions and compatibility ---------------------------------------------------------------


def parse_version(value: Any) -> Optional[Tuple[int, int, int]]:
    """(major, minor, patch) of "v2.5.16", "2.5", "v1.6.30-rc1"; None when there is none."""
    return version_tuple(value)


def rancher_line(version: Any) -> Tuple[int, int]:
    parsed = parse_version(version)
    if parsed is None:
        raise Refused(
            f"Cannot tell the Rancher version from {version!r}: pin the image tag to a release such as v2.5.16 "
            "(not latest or stable), or set rancher_server_version to the release the image runs."
        )
    return parsed[0], parsed[1]


def is_legacy(version: Any) -> bool:
    """Rancher 1.x (rancher/server, the Cattle API on port 8080)."""
    return rancher_line(version)[0] == 1


def lines_supporting(kubernetes_minor: int) -> List[Tuple[int, int]]:
    return sorted(line for line, (low, high) in RANCHER_KUBERNETES_SUPPORT.items() if low <= kubernetes_minor <= high)


def _line_text(line: Tuple[int, int]) -> str:
    low, high = RANCHER_KUBERNETES_SUPPORT[line]
    return f"Rancher {line[0]}.{line[1]} (Kubernetes 1.{low}-1.{high})"


def check_compatibility(rancher_version: Any, kubernetes_version: Any) -> Dict[str, Any]:
    """Refuse a Rancher 2.x release that cannot import the Kubernetes release; return what was checked."""
    line = rancher_line(rancher_version)
    if line[0] == 1:
        return {
            "rancher_line": f"{line[0]}.{line[1]}",
            "legacy": True,
            "supported_kubernetes": [],
            "message": "Rancher 1.x registers Docker hosts and imports no Kubernetes cluster: nothing to check.",
        }
    kube = parse_version(kubernetes_version)
    if kube is None or kube[0] != 1:
        raise Refused(f"Cannot tell the Kubernetes version from {kubernetes_version!r}: set cluster_kubernetes_version "
                      "to a release such as 1.20.2.")
    minor = kube[1]
    if line not in RANCHER_KUBERNETES_SUPPORT:
        known = ", ".join(f"{a}.{b}" for a, b in sorted(RANCHER_KUBERNETES_SUPPORT))
        raise Refused(f"Rancher {line[0]}.{line[1]} is not a line corral.cluster knows (known: {known}); "
                      f"{_suggestion(minor)}")
    low, high = RANCHER_KUBERNETES_SUPPORT[line]
    if not low <= minor <= high:
        raise Refused(f"Rancher {rancher_version} cannot import this cluster: the {line[0]}.{line[1]} line supports "
                      f"Kubernetes 1.{low}-1.{high}, and cluster_kubernetes_version is {kubernetes_version}. "
                      f"{_suggestion(minor)}")
    return {
        "rancher_line": f"{line[0]}.{line[1]}",
        "legacy": False,
        "supported_kubernetes": [f"1.{m}" for m in range(low, high + 1)],
        "message": f"{_line_text(line)} imports Kubernetes {kubernetes_version}.",
    }


def _suggestion(minor: int) -> str:
    lines = lines_supporting(minor)
    if not lines:
        return f"No Rancher line corral.cluster knows imports Kubernetes 1.{minor}."
    return ("Use " + " or ".join(_line_text(line) for line in reversed(lines)) +
            f" for Kubernetes 1.{minor}, or change the Kubernetes version.")


def first_login_password(rancher_version: Any, bootstrap_password: str) -> str:
    """The admin password of a fresh server: CATTLE_BOOTSTRAP_PASSWORD since 2.6, "admin" before."""
    return bootstrap_password if rancher_line(rancher_version) >= BOOTSTRAP_PASSWORD_SINCE else LEGACY_DEFAULT_PASSWORD
