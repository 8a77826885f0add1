"""Every ```python block of README.md and docs/python.md runs (from the repository root)."""

import re

import pytest

from conftest import ROOT


def blocks(rel):
    text = (ROOT / rel).read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


CASES = [(rel, i, code) for rel in ["README.md", "docs/python.md"] for i, code in enumerate(blocks(rel))]


def test_there_are_snippets():
    assert {rel for rel, _, _ in CASES} == {"README.md", "docs/python.md"}


@pytest.mark.parametrize("rel,i,code", CASES, ids=lambda c: str(c) if not isinstance(c, str) or len(c) < 20 else "")
def test_snippet_runs(rel, i, code, monkeypatch):
    if "import prody" in code:
        # ProDy's PyPI package depends on a reserved package: never installed in CI.
        pytest.importorskip("prody")
    if "boltz2_conf.ckpt" in code:
        pytest.skip("converts a Boltz-2 checkpoint (several GB, not in the repository)")
    monkeypatch.chdir(ROOT)
    exec(compile(code, f"{rel}[python block {i}]", "exec"), {"__name__": "__snippet__"})
