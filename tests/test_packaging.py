"""Tests of the installed stack and the project layout (not of one module)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
import tomllib
import zipfile
from importlib.metadata import version
from pathlib import Path

import dlp_proxy

ROOT = Path(__file__).resolve().parent.parent


def test_installed_mitmproxy_is_12() -> None:
    """The lock installs mitmproxy 12.x, never the 2015 0.x an open range can resolve to."""
    assert version("mitmproxy").split(".")[0] == "12"


def test_installed_presidio_and_cryptography_are_the_pinned_ones() -> None:
    """Presidio is 2.2.366 (keyed hashing era) and cryptography 50.x."""
    assert version("presidio-analyzer") == "2.2.366"
    assert version("presidio-anonymizer") == "2.2.366"
    assert version("cryptography").split(".")[0] == "50"


# Test trees of their own, not mirrors of a module: the real proxy end to end, and bench/.
OWN_TREES = ("e2e", "bench")


def mirror_name(path: Path, root: Path, prefix: str = "") -> str:
    """`core/codecs/values` for dlp_proxy/core/codecs/values.py or tests/core/codecs/test_values.py.

    A private module's leading underscore is dropped: `_values.py` is tested by `test_values.py`.
    """
    relative = path.relative_to(root)
    stem = relative.stem.removeprefix(prefix).lstrip("_")
    return "/".join((*relative.parent.parts, stem))


def test_every_module_has_a_test_file_and_back() -> None:
    """tests/ mirrors dlp_proxy/ one to one, as mitmproxy's own tree does.

    dlp_proxy/core/inspect.py is tested by tests/core/test_inspect.py; a package's __init__.py
    and dlp_proxy/__main__.py (tested with the command line) are not modules of their own here.
    """
    package, tests = ROOT / "dlp_proxy", ROOT / "tests"
    modules = {
        mirror_name(p, package)
        for p in package.rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    }
    test_files = {
        mirror_name(p, tests, "test_")
        for p in tests.rglob("test_*.py")
        if p.relative_to(tests).parts[0] not in OWN_TREES
    }
    assert modules - test_files == set(), "modules without a test file"
    assert test_files - modules - {"packaging"} == set(), "test files without a module"


def test_public_api() -> None:
    """The package exports exactly its documented names."""
    assert sorted(dlp_proxy.__all__) == [
        "Action",
        "Decision",
        "Direction",
        "DlpError",
        "InspectionError",
        "Message",
        "Mode",
        "Policy",
        "PolicyError",
        "__version__",
        "inspect",
        "load_policy",
        "parse_policy",
    ]
    assert all(hasattr(dlp_proxy, name) for name in dlp_proxy.__all__)


def test_the_wheel_holds_every_module_and_the_console_files(tmp_path: Path) -> None:
    """A wheel built from the tree ships each module, the console's static files and the command.

    Built from a copy, so the build leaves nothing in the checkout.
    """
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "dlp_proxy", source / "dlp_proxy", ignore=shutil.ignore_patterns("__pycache__")
    )
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"]
    subprocess.run(
        [*build, "--no-index", "--quiet", "--wheel-dir", str(tmp_path / "dist"), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("dlp_proxy-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
        (entry_points,) = (n for n in shipped if n.endswith(".dist-info/entry_points.txt"))
        scripts = archive.read(entry_points).decode()
    package = ROOT / "dlp_proxy"
    expected = {
        p.relative_to(ROOT).as_posix()
        for p in package.rglob("*")
        if p.is_file() and (p.suffix == ".py" or "static" in p.relative_to(package).parts)
    }
    assert {n for n in shipped if n.startswith("dlp_proxy/")} == expected
    assert "dlp-proxy = dlp_proxy.cli.main:main" in scripts.splitlines()
    assert {
        "dlp_proxy/cli/console/static/index.html",
        "dlp_proxy/cli/console/static/console.js",
        "dlp_proxy/cli/console/static/console.css",
    } <= shipped


def lint_imports(cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`lint-imports` over the contracts in `cwd`'s configuration, with no cache left behind."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "lint-imports"), "--no-cache", "--no-logo"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_import_contracts_hold() -> None:
    """Every contract in pyproject.toml is kept: no cycle, layered wings, mitmproxy only in the
    gateway (docs/architecture.md)."""
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    kept = re.search(r"Contracts: (\d+) kept, 0 broken\.", result.stdout)
    assert kept is not None, result.stdout
    assert int(kept.group(1)) == len(contracts["contracts"]) >= 4


def test_a_cycle_through_a_function_level_import_breaks_the_contract(tmp_path: Path) -> None:
    """The cycle contract sees imports inside functions too: the kind detection once had."""
    package = tmp_path / "wings"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "seam.py").write_text("import wings.presidio\n")
    (package / "presidio.py").write_text("def later() -> None:\n    import wings.seam\n")
    (tmp_path / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [tool.importlinter]
            root_package = "wings"

            [[tool.importlinter.contracts]]
            name = "no cycle"
            type = "acyclic_siblings"
            ancestors = ["wings"]
            """
        )
    )
    result = lint_imports(tmp_path, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no cycle BROKEN" in result.stdout
