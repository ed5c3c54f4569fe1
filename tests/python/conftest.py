"""Shared set-up of the Python package's tests: where the package and the shmyolo binary are."""
import os
import subprocess
import sys
import uuid

import pytest

import shmyolo  # from PYTHONPATH: the build tree's python/ folder (tests/python/CMakeLists.txt)


@pytest.fixture
def ring_name():
    """A ring name no other test or run uses."""
    return f"shmyolo.pytest-{os.getpid()}.{uuid.uuid4().hex[:8]}"


def run_python(code: str, *args: str) -> subprocess.Popen:
    """Starts a Python child with the same package path, running CODE; its stdout is piped."""
    return subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ))


def no_segments_of(prefix: str) -> bool:
    return not [s for s in shmyolo.ls() if s["name"].startswith(prefix)]
