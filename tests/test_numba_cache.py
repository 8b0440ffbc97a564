"""numba's cache of a module is dropped when a file it depends on changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tokbt import numba_cache as cache


def test_a_changed_dependency_drops_the_modules_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.setattr(cache, "_PACKAGE", tmp_path)
    (tmp_path / "rules.py").write_text("RULE = 1\n")
    module = tmp_path / "driver.py"
    module.write_text("")
    folder = tmp_path / "__pycache__"
    folder.mkdir()
    compiled = [folder / "driver.loop-10.py311.nbi", folder / "driver.loop-10.py311.1.nbc"]
    other = folder / "other.loop-3.py311.nbi"
    for f in (*compiled, other):
        f.write_text("x")

    cache.refresh(str(module), "rules.py")  # no record yet: whatever is cached may be stale
    assert not any(f.exists() for f in compiled)
    assert other.exists()

    for f in compiled:
        f.write_text("x")
    cache.refresh(str(module), "rules.py")  # same sources: the cache stays
    assert all(f.exists() for f in compiled)

    (tmp_path / "rules.py").write_text("RULE = 2\n")
    cache.refresh(str(module), "rules.py")  # a rule changed: the cache goes
    assert not any(f.exists() for f in compiled)
    assert other.exists()
