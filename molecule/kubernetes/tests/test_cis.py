"""The CIS Kubernetes Benchmark on the lab cluster, measured with kube-bench.

kube-bench (built by the lab from its Go module, with its cfg/ checks: `tools/lab kube-bench`)
is copied to every node and run there as root: the master, controlplane, etcd, node and policies
sections on control planes, the node section on workers. No check may FAIL except those listed
in cis.yml with their reasons, and each listed exception must still fail where it is listed (a
stale one is reported). The summary (PASS/FAIL/WARN/INFO per section and node) is written to
kube-bench/ in molecule's ephemeral directory, with each node's full JSON report.

Runs in the kubernetes scenario (the current release); the kubernetes_ha scenario deploys 1.20,
older than any release the benchmark of cis.yml covers."""

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import NamedTuple

import pytest
import yaml

from test_cluster import CONTROL_PLANES, NODES, PROJECT, VERSION, node

SETTINGS = yaml.safe_load((Path(__file__).parent / "cis.yml").read_text())
# The releases the benchmark of cis.yml was written for (kube-bench's cfg/config.yaml maps 1.29 to
# 1.32 to cis-1.11); newer releases are measured with it too.
FIRST_MINOR = 29
REMOTE = "/opt/corral-kube-bench"
OUT = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "kube-bench"

pytestmark = pytest.mark.skipif(
    tuple(int(part) for part in VERSION.split(".")[:2]) < (1, FIRST_MINOR),
    reason=f"Kubernetes {VERSION} is older than the releases {SETTINGS['benchmark']} covers")


def merged(base, override):
    """base with override's mappings merged in, recursively (lists and scalars replaced)."""
    out = dict(base)
    for key, value in override.items():
        out[key] = merged(base.get(key) or {}, value) if isinstance(value, dict) else value
    return out


@pytest.fixture(scope="module")
def kube_bench_tarball(tmp_path_factory):
    """kube-bench and its cfg/, config.yaml pointed at this collection's files, as a tarball."""
    built = subprocess.run([sys.executable, str(PROJECT / "tools" / "lab.py"), "kube-bench"], capture_output=True,
                           text=True, check=False, timeout=3600)
    assert built.returncode == 0, built.stderr[-3000:]
    source = Path(built.stdout.strip().splitlines()[-1])
    work = tmp_path_factory.mktemp("kube-bench")
    tarball = work / "kube-bench.tar.gz"
    config = merged(yaml.safe_load((source / "cfg" / "config.yaml").read_text()), SETTINGS["config"])
    (work / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    with tarfile.open(tarball, "w:gz") as tar:
        tar.add(source / "bin" / "kube-bench", "kube-bench")
        tar.add(source / "cfg", "cfg", filter=lambda info: None if info.name == "cfg/config.yaml" else info)
        tar.add(work / "config.yaml", "cfg/config.yaml")
    return tarball


def role(name):
    return "control_plane" if name in CONTROL_PLANES else "worker"


@pytest.fixture(scope="module")
def reports(kube_bench_tarball):
    """kube-bench's JSON report of each node."""
    OUT.mkdir(parents=True, exist_ok=True)
    out = {}
    for name in NODES:
        host = node(name)
        host.run_expect([0], f"rm -rf {REMOTE} && mkdir -m 0700 {REMOTE}")
        copied = host.ansible("unarchive", f"src={kube_bench_tarball} dest={REMOTE}", become=True, check=False)
        assert not copied.get("failed"), copied
        targets = ",".join(SETTINGS["targets"][role(name)])
        result = host.run(f"{REMOTE}/kube-bench run --config-dir {REMOTE}/cfg --benchmark {SETTINGS['benchmark']} "
                          f"--targets {targets} --json")
        assert result.rc == 0, result.stderr[-3000:]
        (OUT / f"{name}.json").write_text(result.stdout)
        out[name] = json.loads(result.stdout)
        host.run(f"rm -rf {REMOTE}")
    write_summary(out)
    return out


class Result(NamedTuple):
    section: str  # kube-bench's node_type: master, etcd, node, ...
    number: str
    status: str  # PASS, FAIL, WARN or INFO
    text: str


def results(report):
    """Every check of a report."""
    for control in report["Controls"]:
        for group in control["tests"]:
            for check in group["results"]:
                yield Result(control["node_type"], check["test_number"], check["status"], check["test_desc"])


def write_summary(reports_by_node):
    lines = [f"kube-bench {SETTINGS['benchmark']} on Kubernetes {VERSION}", ""]
    lines.append(f"{'node':<8} {'section':<13} {'PASS':>5} {'FAIL':>5} {'WARN':>5} {'INFO':>5}")
    for name, report in sorted(reports_by_node.items()):
        counts = {}
        for result in results(report):
            counts.setdefault(result.section, {}).setdefault(result.status, 0)
            counts[result.section][result.status] += 1
        for section, by_status in counts.items():
            figures = " ".join(f"{by_status.get(status, 0):>5}" for status in ("PASS", "FAIL", "WARN", "INFO"))
            lines.append(f"{name:<8} {section:<13} {figures}")
    lines += ["", "FAIL and WARN:"]
    for name, report in sorted(reports_by_node.items()):
        lines += [f"{name} {result.status} {result.number} {result.text}" for result in results(report)
                  if result.status in ("FAIL", "WARN")]
    (OUT / "summary.txt").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def accepted(number, name):
    exception = (SETTINGS.get("exceptions") or {}).get(number)
    return exception is not None and exception["nodes"] in ("all", role(name))


def test_every_section_ran_on_every_node(reports):
    for name, report in reports.items():
        sections = {control["node_type"] for control in report["Controls"]}
        assert sections == set(SETTINGS["targets"][role(name)]), name
        assert list(results(report)), name


def test_no_check_fails_but_the_listed_exceptions(reports):
    failed = [f"{name}: {result.number} {result.text}" for name, report in sorted(reports.items())
              for result in results(report) if result.status == "FAIL" and not accepted(result.number, name)]
    assert not failed, "kube-bench FAIL:\n" + "\n".join(failed)


def test_every_exception_is_still_needed(reports):
    stale = []
    for number, exception in (SETTINGS.get("exceptions") or {}).items():
        assert exception.get("reason"), f"exception {number} has no reason"
        for name, report in reports.items():
            if accepted(number, name) and not any(result.number == number and result.status == "FAIL"
                                                  for result in results(report)):
                stale.append(f"{name}: {number} passes now ({exception['reason']})")
    assert not stale, "exceptions of cis.yml no longer needed:\n" + "\n".join(stale)
