"""Stand-in for the get-pip.py that ansible-test downloads from Ansible's CI file server.

That server cannot be reached from this project's machines. ansible-test looks for its script in
~/.ansible/test/cache/get_pip_<version>.py first (tools/lib/sanity.sh puts a copy there for each
pip version it wants) and runs it with the interpreter of a fresh venv, with pip's arguments
(e.g. --disable-pip-version-check pip==24.2). This bootstraps pip with the interpreter's own
ensurepip, then installs what was asked for from the package index, as get-pip.py would.
Written for every Python ansible-test supports (2.7 included).
"""

import os
import subprocess
import sys


def main():
    # ensurepip sets PIP_CONFIG_FILE=/dev/null in os.environ, which would hide the machine's pip
    # settings (its CA bundle, its index) from the second pip: give that one the environment of before.
    environment = dict(os.environ)
    import ensurepip

    ensurepip.bootstrap(upgrade=True)
    arguments = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
    sys.exit(subprocess.call([sys.executable, "-m", "pip", "install"] + arguments, env=environment))


if __name__ == "__main__":
    main()
