"""The four layers import one way only: bot -> handlers -> storage -> flows."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RANK = {"flows": 0, "storage": 1, "handlers": 2, "bot": 3}


def imported_packages(source: str) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


def violations(root: Path) -> list[str]:
    bad = []
    for package, rank in RANK.items():
        for path in sorted((root / package).rglob("*.py")):
            for imported in imported_packages(path.read_text(encoding="utf-8")):
                if imported in RANK and RANK[imported] > rank:
                    bad.append(f"{path.relative_to(root)} imports {imported}")
    return bad


def test_imports_follow_the_layers():
    assert violations(ROOT) == []


def test_every_layer_exists_and_has_code():
    for package in RANK:
        assert (ROOT / package / "__init__.py").exists(), package
    assert len(list((ROOT / "flows").glob("*.py"))) > 3


def test_the_checker_catches_an_upward_import(tmp_path):
    for package in RANK:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    (tmp_path / "flows" / "bad.py").write_text("from storage.models import Case\n")
    (tmp_path / "storage" / "worse.py").write_text("import bot.cli\n")
    (tmp_path / "handlers" / "fine.py").write_text("from storage import db\nimport flows\n")
    assert violations(tmp_path) == ["flows/bad.py imports storage", "storage/worse.py imports bot"]
