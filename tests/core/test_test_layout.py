"""The test folder's layout (README "Run the tests"): tests grouped as ``core/``, ``plugins/NAME/``
(NAME a bundled plugin ``micro_bench_NAME``), ``stories/`` and ``faults/``, every folder a package so
that two folders may hold test files of the same name, and no test file loose at the top."""

from __future__ import annotations

from pathlib import Path

from micro_bench.host import BUILTIN_PLUGINS

TESTS = Path(__file__).resolve().parents[1]
GROUPS = {"core", "plugins", "stories", "faults"}


def _test_folders() -> set[Path]:
    return {path.parent for path in TESTS.rglob("test_*.py")}


def test_every_test_file_is_in_a_group():
    assert not sorted(p.name for p in TESTS.glob("test_*.py")), "move it into core/, plugins/NAME/, stories/ or faults/"
    groups = {folder.relative_to(TESTS).parts[0] for folder in _test_folders()}
    assert groups <= GROUPS, groups - GROUPS


def test_plugin_folders_name_bundled_plugins_and_hold_only_folders():
    bundled = {module.split(".")[0].removeprefix("micro_bench_") for module in BUILTIN_PLUGINS}
    folders = {p.name for p in (TESTS / "plugins").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders <= bundled, folders - bundled
    assert not list((TESTS / "plugins").glob("test_*.py"))


def test_every_test_folder_is_a_package_up_to_tests():
    missing = []
    for folder in _test_folders():
        for package in (folder, *folder.relative_to(TESTS).parents):
            path = package if package.is_absolute() else TESTS / package
            if not (path / "__init__.py").is_file():
                missing.append(str(path.relative_to(TESTS.parent)))
    assert not missing, f"add __init__.py to {sorted(set(missing))}"
