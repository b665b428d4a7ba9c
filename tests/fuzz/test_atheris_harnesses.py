"""Each atheris harness in fuzz/ runs briefly and finds nothing: seeded with the captured
frames of ../shared/conformance/frames.json and a few thousand mutations of them, every
decoder keeps its contract (only its own rejection error, no poisoned stream).

`make fuzz` runs the same harnesses for longer, with a corpus that grows across runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FRAMES = REPO.parent / "shared" / "conformance" / "frames.json"
HARNESSES = sorted((REPO / "fuzz").glob("fuzz_*.py"))
RUNS = 2000


def _required(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} missing")
    pytest.skip(f"{what} missing")


def _conformance_seeds(harness: str) -> list[bytes]:
    """The inputs a harness must have been seeded with, from the shared frames."""
    shared = json.loads(FRAMES.read_text())
    frames = [bytes.fromhex(frame["hex"]) for frame in shared["teltonika_tcp"]["frames"]]
    return {
        "fuzz_teltonika_stream": frames,
        "fuzz_teltonika_data": [frame[8:-4] for frame in frames],
        "fuzz_teltonika_login": [bytes.fromhex(shared["teltonika_tcp"]["login"]["hex"])],
        "fuzz_osmand": [case["request"].encode() for case in shared["osmand_http"]],
    }.get(harness, [])


def test_every_device_decoder_has_a_harness() -> None:
    names = {harness.stem for harness in HARNESSES}
    assert names >= {
        "fuzz_teltonika_stream",
        "fuzz_teltonika_data",
        "fuzz_teltonika_login",
        "fuzz_osmand",
        "fuzz_mqtt",
    }


@pytest.mark.slow
@pytest.mark.parametrize("harness", HARNESSES, ids=lambda path: path.stem)
def test_a_harness_finds_nothing_in_the_conformance_frames_and_their_mutations(
    harness: Path, tmp_path: Path
) -> None:
    if not FRAMES.exists():
        _required(f"conformance frames ({FRAMES})")
    try:
        import atheris  # noqa: F401
    except ImportError:
        _required("atheris (pip install -e '.[dev]')")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    paths = [str(REPO / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "TAGWATCH_CONFORMANCE": str(FRAMES)}
    command = [sys.executable, str(harness), str(corpus), f"-runs={RUNS}", "-seed=1"]
    command += [f"-artifact_prefix={tmp_path}/", "-print_final_stats=1"]
    done = subprocess.run(
        command, check=False, env=env, capture_output=True, text=True, timeout=300
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, _what_broke(output)
    assert f"stat::number_of_executed_units: {RUNS}" in output, _what_broke(output)
    seeded = {path.read_bytes() for path in corpus.iterdir()}
    for seed in _conformance_seeds(harness.stem):
        assert seed in seeded, hashlib.sha1(seed, usedforsecurity=False).hexdigest()


def _what_broke(output: str) -> str:
    """libFuzzer's report without its progress lines: the exception and the input."""
    start = output.rfind("=== Uncaught Python exception")
    lines = [line for line in output[max(start, 0) :].splitlines() if not line.startswith("#")]
    return "\n".join(lines)[-6000:]
