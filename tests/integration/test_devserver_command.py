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


def test_devserver_command_answers_in_the_listing_shape_asked_for() -> None:
    command = [sys.executable, "-m", "syncd", "devserver", "--port", "0", "--synthetic", "5"]
    shape = ["--projects", "1", "--page-size", "2", "--cursor-in", "top"]
    with subprocess.Popen(
        [*command, *shape, "--recent-shape", "bare-array"], stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            line = process.stdout.readline()
            match = re.search(r"on (http://127\.0\.0\.1:\d+)\s+\(api key: (\S+)\)", line)
            assert match, line
            url, key = match.groups()
            with httpx.Client(
                base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {key}"}, timeout=10
            ) as http:
                (project,) = http.get("/projects").json()["data"]["projects"]
                first = http.get(f"/projects/{project['id']}/sessions").json()
                assert len(first["data"]["sessions"]) == 2
                assert first["data"]["total"] == 5
                assert first["nextCursor"]
                assert isinstance(http.get("/sessions/recent").json(), list)
        finally:
            process.terminate()
        assert process.wait(timeout=10) == 0


def test_devserver_command_refuses_a_shape_it_cannot_serve() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "syncd", "devserver", "--port", "0", "--recent-shape", "naked"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "recent must be one of" in done.stderr
