"""Make the collection importable as ansible_collections.corral.cluster in unit tests."""

import sys
from pathlib import Path

# playbooks/collections/ansible_collections/corral/cluster is a symlink to the repository root.
COLLECTIONS = Path(__file__).resolve().parents[2] / "playbooks" / "collections"
if str(COLLECTIONS) not in sys.path:
    sys.path.insert(0, str(COLLECTIONS))
