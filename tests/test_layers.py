"""The package's layers (DESIGN.md, Layers): core -> md -> data -> model -> learn -> evaluate -> apps. A
module imports only from its own layer or below, function-local imports included; no two modules import
each other, even through others, even within a layer; and no library module switches JAX's 64-bit mode."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"

LAYERS = [  # (layer, module prefixes), lowest first
    ("core", ["ogn", "ogn.units", "ogn.config", "ogn.progress", "ogn.periodic", "ogn.precision", "ogn.quantity",
              "ogn.systems", "ogn.io"]),
    ("md", ["ogn.md"]),
    ("data", ["ogn.data"]),
    ("model", ["ogn.model"]),
    ("learn", ["ogn.train", "ogn.simulator"]),
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
                # `from ogn import x` / `from ogn.cli import bench` may import a submodule
                names = [f"{target}.{a.name}" for a in node.names]
                yield from ((node.lineno, n if n in MODULES else target) for n in names)
        elif isinstance(node, ast.Import):
            yield from ((node.lineno, a.name) for a in node.names if a.name.startswith("ogn"))


def modules():
    for path in sorted((SRC / "ogn").rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield path, name


MODULES = {name for _, name in modules()}


def import_graph() -> dict[str, set[str]]:
    """module -> the ogn modules it imports (a package's __init__ stands for the package)."""
    graph = {}
    for path, name in modules():
        targets = set()
        for _, target in imports_of(path, name):
            while target not in MODULES and "." in target:  # `from ogn.x import name` where name is not a module
                target = target.rsplit(".", 1)[0]
            if target != name and target in MODULES:
                targets.add(target)
        graph[name] = targets
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph`, as the modules along it, or None. A package importing its own
    submodules (an __init__ that re-exports) is not a cycle unless a submodule imports the package back."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                return stack[stack.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


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


def test_no_module_imports_itself_through_others():
    graph = {name: targets - {parent for parent in targets if name.startswith(parent + ".")}
             for name, targets in import_graph().items()}  # a submodule may import its package's siblings
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_cycle_check_sees_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def switches_64_bit_mode(path: Path) -> list[int]:
    """Lines of `path` that call jax.config.update("jax_enable_x64", ...) or jax.enable_x64(...)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            first = node.args[0].value if node.args and isinstance(node.args[0], ast.Constant) else None
            if name == "enable_x64" or (name == "update" and first == "jax_enable_x64"):
                lines.append(node.lineno)
    return lines


def test_no_library_module_switches_64_bit_mode():
    """Precision is a parameter (`ogn.precision`); only the command line (ogn.cli) turns JAX's 64-bit mode on."""
    offenders = [f"{path.relative_to(SRC)}:{line}" for path, name in modules() if not name.startswith("ogn.cli")
                 for line in switches_64_bit_mode(path)]
    assert not offenders, offenders


def test_the_64_bit_check_sees_a_switch(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('import jax\n\ndef f():\n    jax.config.update("jax_enable_x64", True)\n')
    assert switches_64_bit_mode(bad) == [4]
