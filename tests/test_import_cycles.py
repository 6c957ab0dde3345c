"""memory/ and service/ have no file-level import cycle, lazy imports included (scripts/import_cycles.py).

A cycle hidden in a function body still makes two files one unit to read; the script counts
every import statement, so this test keeps both packages the way issue 12 left them.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_cycles", ROOT / "scripts" / "import_cycles.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("import_cycles", module)
    spec.loader.exec_module(module)
    return module


def test_memory_and_service_have_no_file_level_import_cycle() -> None:
    found = _script().cycles(["moot.memory", "moot.service"])
    assert found == [], "\n".join(" -> ".join(path) for _, path in found)


def test_the_script_sees_a_lazy_import_cycle(tmp_path: Path) -> None:
    """The check itself: a cycle closed by an import inside a function, and one under TYPE_CHECKING."""
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from pkg.base import Base\n")
    (package / "base.py").write_text("def make():\n    from pkg.redis import Redis\n    return Redis()\n\nclass Base: ...\n")
    (package / "redis.py").write_text("from pkg.base import Base\n\nclass Redis(Base): ...\n")
    (package / "typed.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.user import User\n")
    (package / "user.py").write_text("from . import typed\n")
    (package / "face.py").write_text("import pkg\n")  # the package face: not a cycle by itself
    found = _script().cycles(["pkg"], src=tmp_path)
    assert [component for component, _ in found] == [["pkg.base", "pkg.redis"], ["pkg.typed", "pkg.user"]]
    assert found[0][1] == ["pkg.base", "pkg.redis", "pkg.base"]
