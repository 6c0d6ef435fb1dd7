# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Version numbers, read one way for every component: the one home of the parsing that the
Kubernetes, Rancher and Docker logic each wrap with their own meaning of a missing or odd version.

Forms met: "1.35.8", "v1.20.2", "v2.5.16-rc1", "2.5", and (searched for) "Docker version
20.10.24+dfsg1, build 297e128", "5:24.0.7-1~debian.12~bookworm".
"""

import re
from typing import Any, Optional, Tuple

# At the start of the text, after an optional "v".
_LEADING = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")
# Anywhere, after the start, a space, an epoch's ":" or a "v".
_ANYWHERE = re.compile(r"(?:^|[\s:v])(\d+)\.(\d+)(?:\.(\d+))?")


def version_tuple(value: Any, anywhere: bool = False) -> Optional[Tuple[int, int, int]]:
    """(major, minor, patch) of the version value starts with (a leading "v" allowed), or with
    anywhere=True of the first version in the text; patch 0 when it is missing; None when
    there is no version."""
    text = str(value).strip()
    match = _ANYWHERE.search(" " + text) if anywhere else _LEADING.match(text)
    if not match:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)
