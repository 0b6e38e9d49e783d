"""The image installs credit_scoring/serving/requirements.txt (and what those packages need),
nothing else: every package the service imports when it starts must be among them. An import
the image lacks passes every in-process test and fails only in the container (pydantic-settings
did: the pod never started)."""

from __future__ import annotations

import ast
import importlib.util
import sys
from importlib.metadata import packages_distributions, requires
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "credit_scoring"
SERVING = "credit_scoring.serving."
SERVING = "credit_scoring.serving."
# What `bentoml serve` imports at start: the service, and the profiles found by name.
ROOTS = ("credit_scoring.serving.service", "credit_scoring.profiles.home_credit")


def module_file(name: str) -> Path | None:
    path = ROOT / Path(*name.split("."))
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imports(path: Path, nested: bool = False) -> set[str]:
    """Modules imported at import time (module-level statements, not under ``if
    TYPE_CHECKING``), and with ``nested`` also those imported inside functions."""
    found = set()
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree) if nested else tree.body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def imported_at_start() -> set[str]:
    """Third-party top-level modules in the import closure of ROOTS."""
    seen, third_party, todo = set(), set(), list(ROOTS)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(2, len(parts))]  # parent packages
        path = module_file(name)
        if path is None:
            continue
        # The service's own modules import some packages when it starts, inside functions
        # (serving.bentoml_fixes: httptools); elsewhere those are lazy, for other tasks.
        for imported in imports(path, nested=name.startswith(SERVING)):
            top = imported.split(".")[0]
            if top == PACKAGE:
                todo.append(imported)
            elif top not in sys.stdlib_module_names and top != "__future__":
                third_party.add(top)
                if name.startswith(SERVING):
                    third_party |= submodule_imports(imported)
    return third_party


def submodule_imports(name: str) -> set[str]:
    """Third-party top-level modules a package's submodule imports unconditionally: the
    service picks some by name (uvicorn's httptools protocol needs httptools)."""
    if "." not in name:
        return set()
    try:
        spec = importlib.util.find_spec(name)
    except (ModuleNotFoundError, ValueError):  # a name imported from a module, not a module
        return set()
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return set()
    tops = {m.split(".")[0] for m in imports(Path(spec.origin))}
    return {m for m in tops if m not in sys.stdlib_module_names and m != "__future__"}


def installed_closure(names: set[str]) -> set[str]:
    """Distributions pip installs for ``names``: their requirements, transitively (no extras)."""
    closure, todo = set(), list(names)
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in closure:
            continue
        closure.add(name)
        for line in requires(name) or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                todo.append(requirement.name)
    return closure


def test_every_package_the_service_imports_at_start_is_installed_in_the_image():
    lines = (ROOT / PACKAGE / "serving" / "requirements.txt").read_text().splitlines()
    pinned = {line.split("==")[0] for line in lines if line and not line.startswith("#")}
    installed = installed_closure(pinned)
    distributions = packages_distributions()
    missing = {
        module: distributions.get(module)
        for module in imported_at_start()
        if not {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        & installed
    }
    assert not missing, f"imported by the service, not in serving/requirements.txt: {missing}"
