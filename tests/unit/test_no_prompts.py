"""AWX runs jobs unattended: no play may prompt (vars_prompt) or wait for a key (pause without a
time). A confirmation is a variable, e.g. reset_confirm: true."""

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted([*ROOT.glob("playbooks/*.yml"), *ROOT.glob("roles/*/tasks/**/*.yml"), *ROOT.glob("roles/*/handlers/*.yml")])
PAUSE = {"pause", "ansible.builtin.pause", "ansible.legacy.pause"}


def tasks(node):
    """Every play and task mapping in a YAML document, nested blocks included."""
    if isinstance(node, list):
        for item in node:
            yield from tasks(item)
    elif isinstance(node, dict):
        yield node
        for key in ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always"):
            yield from tasks(node.get(key))


def prompts(path):
    found = []
    for item in tasks(yaml.safe_load(path.read_text())):
        if "vars_prompt" in item:
            found.append(f"{item.get('name')}: vars_prompt")
        for module in PAUSE & item.keys():
            args = item[module] if isinstance(item[module], dict) else {}
            if not {"seconds", "minutes"} & args.keys():
                found.append(f"{item.get('name')}: {module} waits for input")
    return found


def test_the_scan_sees_playbooks_and_tasks():
    assert len(FILES) > 50


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_prompts(path):
    assert prompts(path) == []


def test_a_prompt_would_be_found(tmp_path):
    play = tmp_path / "play.yml"
    play.write_text("- hosts: all\n  vars_prompt: [{name: x}]\n  tasks:\n"
                    "    - name: Wait\n      ansible.builtin.pause: {prompt: go}\n"
                    "    - name: Sleep\n      ansible.builtin.pause: {seconds: 1}\n")
    assert prompts(play) == ["None: vars_prompt", "Wait: ansible.builtin.pause waits for input"]
