"""Start-up (issue 24, item 4): a command imports only what it uses, and the compiled
engine is cached by the content of its sources, not their path. Speed itself is measured
in benchmarks/bench_startup.py, never here."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import sim.engine as engine
from sim.engine import fast

ROOT = Path(engine.__file__).resolve().parent.parent.parent


def _imported_after(code: str) -> set[str]:
    """The top-level modules a fresh interpreter has imported after running ``code``."""
    probe = code + "\nimport sys\nprint(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          env=env, check=True, cwd=ROOT)
    return set(done.stdout.split())


HEAVY = {"mesa", "numba", "pandas", "scipy", "matplotlib", "SALib", "pyabc", "dask",
         "distributed", "solara", "pyarrow"}


def test_import_sim_imports_nothing_heavy() -> None:
    assert _imported_after("import sim") & (HEAVY | {"numpy"}) == set()


def test_the_command_line_parser_imports_nothing_heavy() -> None:
    """`icsim --help` builds every command's parser without numpy, Mesa or the engine."""
    code = "from sim.ui.cli import build_parser\nbuild_parser().format_help()"
    assert _imported_after(code) & (HEAVY | {"numpy"}) == set()


def test_the_fast_engine_does_not_import_mesa() -> None:
    code = ("from sim.run import run_projects\nfrom sim.core.registry import resolve\n"
            "run_projects([resolve({})], [1], 12)")
    assert _imported_after(code) & {"mesa", "SALib", "pyabc", "dask", "solara",
                                    "matplotlib"} == set()


@pytest.mark.slow
def test_icsim_compare_on_the_fast_engine_does_not_import_mesa(tmp_path: Path) -> None:
    code = (f"from sim.ui.cli import main\nassert main(['compare', 'baseline', 'toolkit', "
            f"'--replicates', '6', '--workers', '1', '--quiet', '--out', "
            f"{str(tmp_path / 'c')!r}]) == 0")
    imported = _imported_after(code)
    assert "matplotlib" in imported  # it drew its figures
    assert imported & {"mesa", "SALib", "pyabc", "dask", "distributed", "solara"} == set()


def _copy_sources(to: Path) -> Path:
    package = to / "sim"
    for path in engine.engine_sources():
        target = package / path.relative_to(ROOT / "sim")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return package


def test_the_cache_key_is_the_sources_content_not_their_path(tmp_path: Path) -> None:
    here = engine.source_digest()
    elsewhere = _copy_sources(tmp_path / "a" / "clone")
    assert engine.source_digest(elsewhere) == here
    os.utime(elsewhere / "engine" / "kernels.py", (1, 1))  # a checkout's new times
    assert engine.source_digest(elsewhere) == here
    with (elsewhere / "engine" / "kernels.py").open("a") as f:
        f.write("\n# an edit\n")
    assert engine.source_digest(elsewhere) != here
    assert engine.CACHE_DIR.name == here


def test_the_compiled_engine_is_cached_under_the_content_key() -> None:
    fast.warm()
    assert fast.run_batch.stats.cache_path == str(engine.CACHE_DIR / "engine")


def test_a_compile_is_announced_once_and_marked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(engine, "_announced", False)
    folder = tmp_path / "0123456789abcdef"
    with engine.compiling("fast", folder):
        pass
    with engine.compiling("mesa", folder):  # a second compile in the same process: silent
        pass
    assert capsys.readouterr().err == engine.COMPILE_MESSAGE + "\n"
    assert (folder / "fast.compiled").exists() and (folder / "mesa.compiled").exists()
    monkeypatch.setattr(engine, "_announced", False)
    with engine.compiling("fast", folder):  # compiled before: nothing said
        pass
    assert capsys.readouterr().err == ""


def test_stale_cache_folders_are_pruned(tmp_path: Path) -> None:
    keep = tmp_path / "aaaaaaaaaaaaaaaa"
    fresh, stale, other = (tmp_path / "bbbbbbbbbbbbbbbb", tmp_path / "cccccccccccccccc",
                           tmp_path / "not-a-cache-key")
    for folder in (keep, fresh, stale, other):
        folder.mkdir()
    now = time.time()
    old = now - (engine.KEEP_DAYS + 1) * 86400
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    os.utime(keep, (old, old))
    assert engine.prune(keep, now) == [stale]
    assert keep.exists() and fresh.exists() and other.exists() and not stale.exists()


def test_the_native_128_bit_multiply_equals_the_portable_one() -> None:
    """The PCG64 step's high product, one native multiply, against four 32-bit products
    (numba), on random and edge operands."""
    import numba
    import numpy as np

    from sim.engine import rng

    @numba.njit
    def both(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        native = np.empty_like(a)
        portable = np.empty_like(a)
        for i in range(a.size):
            native[i] = rng._mulhi(a[i], b[i])
            portable[i] = rng._mulhi_portable(a[i], b[i])
        return native, portable

    draws = np.random.default_rng(5).integers(0, 2**64, size=(2, 20_000), dtype=np.uint64)
    edges = np.array([0, 1, 2**32 - 1, 2**32, 2**63, 2**64 - 1], dtype=np.uint64)
    a = np.concatenate([draws[0], np.repeat(edges, edges.size)])
    b = np.concatenate([draws[1], np.tile(edges, edges.size)])
    native, portable = both(a, b)
    assert (native == portable).all()
    expected = [(int(x) * int(y)) >> 64 for x, y in zip(a[:200], b[:200], strict=True)]
    assert native[:200].tolist() == expected
