"""The package is typed: py.typed and the native stubs are installed, and mypy --strict
accepts both the package and typical user code against it."""

from __future__ import annotations

import importlib.resources
import pathlib
import subprocess
import sys

import zss

HERE = pathlib.Path(__file__).parent


def test_typing_files_are_installed() -> None:
    files = importlib.resources.files("zss")
    assert files.joinpath("py.typed").is_file()
    assert files.joinpath("_native.pyi").is_file()


def mypy(*args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", *args],
        capture_output=True,
        text=True,
        cwd=HERE,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_accepts_the_installed_package() -> None:
    mypy("-p", "zss")


def test_mypy_strict_accepts_typed_user_code() -> None:
    mypy(str(HERE / "typed_usage.py"))


def test_every_public_name_has_a_docstring() -> None:
    for name in zss.__all__:
        obj = getattr(zss, name)
        if name in ("__version__", "Handler", "KeySpec", "Brokers"):  # type aliases
            continue
        assert obj.__doc__, f"zss.{name} has no docstring"
        for attr, member in vars(obj).items() if isinstance(obj, type) else []:
            if attr.startswith("_") or not callable(member) and not isinstance(member, property):
                continue
            assert getattr(member, "__doc__", None), f"zss.{name}.{attr} has no docstring"
