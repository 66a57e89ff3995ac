"""The layer arrows of docs/architecture.md §1, checked over every import of the tree.

* ``protocol`` imports nothing of ours above it (its purity — no I/O, clocks or
  randomness — is tests/unit/protocol/test_purity.py).
* The harness core never imports the simulator; only the transport registry
  (``ttlock_hil.harness.lab``) may, and only lazily (inside a function, or for types).
* The simulator uses the protocol and its own modules, never harness internals, the
  plugin or pytest.
* pytest is imported only by the plugin (``ttlock_hil.fixtures``) and by tests.
* The plugin reaches the simulator only through the simulator package's public API
  (``ttlock_hil.harness.sim``), lazily, in the fixture that controls faults.

An import inside ``if TYPE_CHECKING:`` is for annotations and never runs; it still
counts as lazy, not as absent.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {  # import name -> folder (pyproject.toml's package-dir)
    "ttlock_hil.protocol": ROOT / "protocol",
    "ttlock_hil.harness": ROOT / "harness",
    "ttlock_hil.fixtures": ROOT / "fixtures",
}
SIM = "ttlock_hil.harness.sim"
REGISTRY = frozenset({"ttlock_hil.harness.lab", "ttlock_hil.harness.tiers"})
"""The transport registry: where sim: monikers become transports and tiers are started."""
PLUGIN_SIM_GATE = "ttlock_hil.fixtures.plugin"


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the absolute name imported (a module, or module.name for from-imports)
    line: int
    lazy: bool  # inside a function or under ``if TYPE_CHECKING:``
    file: str


def module_name(package: str, folder: Path, path: Path) -> str:
    parts = list(path.relative_to(folder).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([package, *parts])


def imports_of(source: str, module: str, *, is_package: bool, file: str) -> list[Import]:
    """Every import statement of ``source`` with its absolute target."""
    tree = ast.parse(source, filename=file)
    found: list[Import] = []
    own_package = module if is_package else module.rpartition(".")[0]

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            child_lazy = lazy
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                child_lazy = True
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for inner in child.body:
                    visit_one(inner, True)
                for inner in child.orelse:
                    visit_one(inner, lazy)
                continue
            visit_one(child, child_lazy)

    def visit_one(node: ast.AST, lazy: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(module, alias.name, node.lineno, lazy, file))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = own_package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            for alias in node.names:
                found.append(Import(module, f"{prefix}.{alias.name}", node.lineno, lazy, file))
        visit(node, lazy or isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef))

    visit(tree, False)
    return found


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def violations(imports: list[Import]) -> list[str]:
    """Each broken arrow as ``file:line: module imports target — rule``."""
    bad: list[str] = []

    def flag(imp: Import, rule: str) -> None:
        bad.append(f"{imp.file}:{imp.line}: {imp.module} imports {imp.target} — {rule}")

    for imp in imports:
        src, dst = imp.module, imp.target
        in_protocol = _within(src, "ttlock_hil.protocol")
        in_sim = _within(src, SIM)
        in_plugin = _within(src, "ttlock_hil.fixtures")
        in_harness_core = _within(src, "ttlock_hil.harness") and not in_sim
        if in_protocol and _within(dst, "ttlock_hil") and not _within(dst, "ttlock_hil.protocol"):
            flag(imp, "protocol imports nothing above it")
        pytest_like = any(_within(dst, p) for p in ("pytest", "_pytest", "pytest_asyncio"))
        if pytest_like and not in_plugin:
            flag(imp, "pytest only in the plugin")
        if in_harness_core and _within(dst, SIM):
            if src not in REGISTRY:
                flag(imp, "the harness core never imports the simulator")
            elif not imp.lazy:
                flag(imp, "the transport registry imports the simulator lazily")
        if (
            in_sim
            and _within(dst, "ttlock_hil")
            and not (_within(dst, "ttlock_hil.protocol") or _within(dst, SIM))
        ):
            flag(imp, "the simulator uses the protocol and its own modules only")
        if in_plugin and _within(dst, SIM):
            public = dst.rpartition(".")[0] == SIM  # a name of the package itself
            if src != PLUGIN_SIM_GATE or not imp.lazy or not public:
                flag(
                    imp,
                    "the plugin reaches the simulator only through its public API, lazily, "
                    "in the fault-control fixture",
                )
        if _within(dst, "ttlock_hil.fixtures") and not in_plugin:
            flag(imp, "only tests and the plugin itself import the plugin")
    return bad


def tree_imports() -> list[Import]:
    found: list[Import] = []
    for package, folder in PACKAGES.items():
        for path in sorted(folder.rglob("*.py")):
            found += imports_of(
                path.read_text("utf-8"),
                module_name(package, folder, path),
                is_package=path.name == "__init__.py",
                file=str(path.relative_to(ROOT)),
            )
    return found


def test_the_walk_sees_every_package_and_many_imports() -> None:
    modules = {imp.module for imp in tree_imports()}
    for package in PACKAGES:
        assert any(_within(m, package) for m in modules), package
    assert any(_within(m, SIM) for m in modules)
    assert len(tree_imports()) > 300


def test_every_arrow_points_down() -> None:
    bad = violations(tree_imports())
    assert not bad, "broken layer arrows:\n" + "\n".join(bad)


@pytest.mark.parametrize(
    ("module", "source", "rule"),
    [
        ("ttlock_hil.protocol.frame", "from ttlock_hil.harness import lab", "protocol imports"),
        ("ttlock_hil.protocol.frame", "from ..harness.lab import Lab", "protocol imports"),
        ("ttlock_hil.harness.session", "from .sim.device import X", "harness core never"),
        ("ttlock_hil.harness.lab", "from .sim.air import Air", "registry imports the simulator"),
        ("ttlock_hil.harness.sim.lock", "from ttlock_hil.harness import credentials", "simulator"),
        ("ttlock_hil.harness.sim.lock", "import pytest", "pytest only"),
        ("ttlock_hil.harness.link", "import pytest", "pytest only"),
        ("ttlock_hil.fixtures.options", "from ttlock_hil.harness.sim import Fault", "plugin"),
        (
            "ttlock_hil.fixtures.plugin",
            "def f():\n    from ttlock_hil.harness.sim.faults import Fault",
            "plugin",
        ),
        ("ttlock_hil.harness.cli", "from ttlock_hil.fixtures import plugin", "only tests"),
    ],
)
def test_the_checker_flags_a_forbidden_import(module: str, source: str, rule: str) -> None:
    imports = imports_of(source, module, is_package=False, file="sample.py")
    bad = violations(imports)
    assert len(bad) == 1, bad
    assert rule in bad[0]
    assert bad[0].startswith("sample.py:")


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("ttlock_hil.harness.lab", "def f():\n    from .sim.air import Air"),
        ("ttlock_hil.harness.lab", "if TYPE_CHECKING:\n    from .sim.device import VirtualDevice"),
        ("ttlock_hil.fixtures.plugin", "def f():\n    from ttlock_hil.harness.sim import bench"),
        ("ttlock_hil.harness.sim.lock", "from ttlock_hil.protocol.frame import LockHeader"),
        ("ttlock_hil.harness.sim.lock", "from .device import ManualClock"),
    ],
)
def test_the_checker_lets_allowed_imports_through(module: str, source: str) -> None:
    assert violations(imports_of(source, module, is_package=False, file="sample.py")) == []


def test_importing_the_radio_path_loads_no_simulator_module() -> None:
    """A radio-only lab: session, link and the Lock/Gateway API without the simulator."""
    code = textwrap.dedent(
        """
        import sys
        import ttlock_hil.harness.session, ttlock_hil.harness.link
        import ttlock_hil.harness.lock, ttlock_hil.harness.gateway
        import ttlock_hil.harness.lab, ttlock_hil.harness.config
        print(sorted(m for m in sys.modules if m.startswith("ttlock_hil.harness.sim")))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
