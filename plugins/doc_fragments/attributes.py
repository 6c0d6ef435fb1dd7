# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The attributes most of the collection's modules share: no diff output, POSIX hosts. A module that
differs says so in its own attributes (they take precedence); check mode is each module's own."""


class ModuleDocFragment:
    DOCUMENTATION = r"""
attributes:
  diff_mode:
    support: none
  platform:
    platforms: posix
"""
