"""The one version parser, in the forms each component writes its versions."""

import pytest

from ansible_collections.corral.cluster.plugins.module_utils.version import version_tuple


@pytest.mark.parametrize(("text", "expected"), [
    ("1.35.8", (1, 35, 8)),
    ("v1.20.2", (1, 20, 2)),
    ("v2.5.16-rc1", (2, 5, 16)),
    ("2.5", (2, 5, 0)),
    (" v1.6.30 ", (1, 6, 30)),
    ("latest", None),
    ("", None),
    ("Docker version 20.10.24+dfsg1, build 297e128", None),  # not at the start
])
def test_the_version_at_the_start(text, expected):
    assert version_tuple(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Docker version 20.10.24+dfsg1, build 297e128", (20, 10, 24)),
    ("Docker version 17.03.2-ce, build f5ec1e2", (17, 3, 2)),
    ("5:24.0.7-1~debian.12~bookworm", (24, 0, 7)),
    ("1.13.1", (1, 13, 1)),
    ("no version here", None),
])
def test_the_first_version_anywhere(text, expected):
    assert version_tuple(text, anywhere=True) == expected
