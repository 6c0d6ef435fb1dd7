# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The attributes most of the collection's modules share: full check mode, no diff output, POSIX hosts.
A module that differs says so in its own attributes (they take precedence); each module says what
its check mode does (check_mode.details)."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
"""
