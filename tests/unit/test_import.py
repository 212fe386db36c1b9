"""Importing payment_lib does no I/O: no click, no stripe network layer, no files, no env."""

import json
import subprocess
import sys


def test_import_pulls_in_neither_click_nor_stripe_and_opens_no_file(tmp_path):
    probe = (
        "import sys, builtins, os, json\n"
        "opened = []\n"
        "real_open = builtins.open\n"
        "def spy(file, *a, **k):\n"
        "    opened.append(str(file)); return real_open(file, *a, **k)\n"
        "builtins.open = spy\n"
        "import payment_lib\n"
        "print(json.dumps({'modules': sorted(m for m in sys.modules if m.split('.')[0] in "
        "('click', 'stripe', 'psycopg', 'requests', 'httpx')), 'opened': opened}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    report = json.loads(out.stdout)
    assert report == {"modules": [], "opened": []}
    assert list(tmp_path.iterdir()) == []
