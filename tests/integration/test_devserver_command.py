"""`syncd devserver` as a user starts it: a real process that prints its URL and key."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx


def test_devserver_command_prints_a_working_url_and_key() -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "syncd", "devserver", "--port", "0", "--synthetic", "3"],
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            match = re.search(r"on (http://127\.0\.0\.1:\d+)\s+\(api key: (\S+)\)", line)
            assert match, line
            url, key = match.groups()
            answer = httpx.get(
                f"{url}/api/v1/projects", headers={"Authorization": f"Bearer {key}"}, timeout=10
            )
            assert answer.status_code == 200
            assert answer.json()["success"] is True
            assert answer.json()["data"]["total"] >= 1
        finally:
            process.terminate()
        assert process.wait(timeout=10) == 0
