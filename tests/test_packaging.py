"""Tests of the installed stack and the project layout (not of one module)."""

from __future__ import annotations

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


def test_every_module_has_a_test_file_and_back() -> None:
    """tests/ mirrors dlp_proxy/ one to one, as mitmproxy's own tree does."""
    modules = {
        p.stem.lstrip("_") for p in (ROOT / "dlp_proxy").glob("*.py") if p.name != "__init__.py"
    }
    tests = {p.stem.removeprefix("test_") for p in (ROOT / "tests").glob("test_*.py")}
    assert modules - tests == set(), "modules without a test file"
    assert tests - modules - {"packaging"} == set(), "test files without a module"


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
