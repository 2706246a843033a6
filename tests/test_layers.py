"""The package's stages import only from their own stage or below (DESIGN.md, Layers):
core -> md -> data -> model -> learn -> evaluate -> apps. Function-local imports count too."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

LAYERS = [  # (layer, module prefixes), lowest first
    ("core", ["ogn", "ogn.units", "ogn.config", "ogn.progress", "ogn.periodic", "ogn.systems", "ogn.io"]),
    ("md", ["ogn.md"]),
    ("data", ["ogn.data"]),
    ("model", ["ogn.model"]),
    ("learn", ["ogn.train", "ogn.rollout", "ogn.ase", "ogn.thermostats"]),
    ("evaluate", ["ogn.evaluate"]),
    ("apps", ["ogn.cli", "ogn.bench", "ogn.reproduce"]),
]


def layer_of(module: str) -> int:
    """Index of the layer of the longest matching prefix."""
    best, found = -1, None
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > best:
                best, found = len(p), i
    if found is None:
        raise AssertionError(f"{module} belongs to no layer: add it to LAYERS")
    return found


def imports_of(path: Path, module: str):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the package
                base = module.rsplit(".", node.level)[0]
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            if target.startswith("ogn"):
                # `from ogn import x` may import a submodule x
                names = [f"{target}.{a.name}" for a in node.names] if target == "ogn" else [target]
                yield from ((node.lineno, n) for n in names)
        elif isinstance(node, ast.Import):
            yield from ((node.lineno, a.name) for a in node.names if a.name.startswith("ogn"))


def modules():
    for path in sorted((SRC / "ogn").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield path, name


def test_no_import_goes_against_the_direction_of_the_pipeline():
    wrong = []
    for path, name in modules():
        own = layer_of(name)
        for line, target in imports_of(path, name):
            if target == "ogn.__version__":
                continue
            if layer_of(target) > own:
                wrong.append(f"{path.relative_to(SRC)}:{line} ({LAYERS[own][0]}) imports {target}"
                             f" ({LAYERS[layer_of(target)][0]})")
    assert not wrong, "imports against the pipeline:\n" + "\n".join(wrong)


def test_the_check_sees_an_import_against_the_direction(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from ogn.train import load_config\n")
    assert [t for _, t in imports_of(bad, "ogn.systems.bad")] == ["ogn.train"]
    assert layer_of("ogn.train") > layer_of("ogn.systems.bad")
