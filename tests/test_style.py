"""Code that reads in an afternoon: no function in the package longer than a screen."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "ogn"
MAX_LINES = 60


def long_functions(path: Path, limit: int = MAX_LINES) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.end_lineno - node.lineno + 1 > limit:
            out.append(f"{path.relative_to(SRC.parent)}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1}"
                       " lines)")
    return out


def test_no_function_is_longer_than_a_screen():
    found = [f for path in sorted(SRC.rglob("*.py")) for f in long_functions(path)]
    assert not found, found


def test_the_length_check_sees_a_long_function(tmp_path, monkeypatch):
    long = tmp_path / "ogn" / "long.py"
    long.parent.mkdir()
    long.write_text("def f():\n" + "    x = 1\n" * 70)
    monkeypatch.setattr("test_style.SRC", tmp_path / "ogn")
    assert long_functions(long) == ["ogn/long.py:1 f (71 lines)"]
