"""bench/bench.py's reading of ansible-playbook output and its A/B summary (medians, ratio)."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))
import bench  # noqa: E402

OUTPUT = """\
PLAY RECAP *********************************************************************
node1                      : ok=120  changed=0    unreachable=0    failed=0    skipped=40   rescued=0    ignored=0
node2                      : ok=90   changed=2    unreachable=0    failed=0    skipped=30   rescued=0    ignored=0

Wednesday 02 December 2026  21:40:00 +0000 (0:00:00.100)       0:01:40.000 *****
===============================================================================
corral.cluster.node : Wait until the node is Ready ----------------------- 12.34s
corral.cluster.artifacts : Install the binaries --------------------------- 3.10s
"""


def test_tasks_per_host_and_slowest_tasks_are_read_from_the_recap_and_profile():
    parsed = bench.parse_run(OUTPUT)
    assert parsed["hosts"]["node1"] == {"tasks": 160, "ok": 120, "changed": 0, "skipped": 40}
    assert parsed["hosts"]["node2"]["changed"] == 2
    assert parsed["slowest_tasks"] == [
        {"task": "corral.cluster.node : Wait until the node is Ready", "seconds": 12.34},
        {"task": "corral.cluster.artifacts : Install the binaries", "seconds": 3.10}]


def run(deploy, no_op):
    return {"site": {"seconds": deploy}, "no_op_rerun": {"seconds": no_op}}


def test_compare_reports_medians_per_side_and_the_ratio_of_the_second_to_the_first():
    summary = bench.summarize({
        "main": [run(300, 160), run(320, 150), run(310, 200)],
        "fast": [run(150, 40), run(160, 30), run(600, 35)],  # one outlier: the median ignores it
    })
    assert summary["medians"]["main"] == {"deploy": 310, "no_op": 160, "rounds": 3}
    assert summary["medians"]["fast"] == {"deploy": 160, "no_op": 35, "rounds": 3}
    assert summary["ratio"] == {"deploy": pytest.approx(0.516, abs=1e-3), "no_op": pytest.approx(0.219, abs=1e-3)}


def test_an_unknown_revision_is_refused_by_name():
    with pytest.raises(SystemExit, match="'no-such-rev' is not a commit"):
        bench.rev_parse("no-such-rev")
