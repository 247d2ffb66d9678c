"""The suite's guard against tests that change tracked files (``tests/helpers/tracked_files.py``),
run as a plugin of a small pytest session in a throwaway git repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-C", str(root), *args],
                   check=True, capture_output=True)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    root.mkdir()
    git(root, "init", "-q")
    (root / "data.txt").write_text("tracked\n")
    (root / "edited.txt").write_text("tracked\n")
    (root / "shots").mkdir()
    (root / "shots" / "a.png").write_text("old\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    (root / "edited.txt").write_text("a developer's edit, before the run\n")
    os.utime(root / "shots" / "a.png", ns=(10**18, 10**18))  # written long ago (2001)
    return root


def session(root: Path, test_body: str, **env: str) -> subprocess.CompletedProcess[str]:
    (root / "test_it.py").write_text(f"from pathlib import Path\n\n\ndef test_it(tmp_path):\n    {test_body}\n")
    environ = {k: v for k, v in os.environ.items()
               if k not in ("INTERLOCK_SCREENSHOTS", "ALLOW_TRACKED_CHANGES")}
    environ.update(PYTHONPATH=str(REPO), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1", **env)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
                           "tests.helpers.tracked_files", "test_it.py"], cwd=root, env=environ,
                          capture_output=True, text=True, timeout=120)


def test_a_test_writing_into_a_tracked_file_fails_the_run_and_names_it(checkout: Path) -> None:
    done = session(checkout, "(Path(__file__).parent / 'data.txt').write_text('changed')")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "tests wrote files git tracks" in done.stdout and "data.txt" in done.stdout
    assert "edited.txt" not in done.stdout  # changed before the run: not the tests' doing


def test_rewriting_a_tracked_file_with_the_same_bytes_is_caught(checkout: Path) -> None:
    """As the browser tests did with the README's screenshots: same picture, file written anyway."""
    done = session(checkout, "(Path(__file__).parent / 'shots' / 'a.png').write_text('old\\n')")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "shots/a.png" in done.stdout


def test_changing_an_already_edited_file_or_deleting_one_is_caught(checkout: Path) -> None:
    done = session(checkout, "(Path(__file__).parent / 'edited.txt').write_text('again'); "
                             "(Path(__file__).parent / 'shots' / 'a.png').unlink()")
    assert done.returncode == 1
    assert "edited.txt" in done.stdout and "shots/a.png" in done.stdout


def test_tests_writing_into_tmp_paths_pass(checkout: Path) -> None:
    done = session(checkout, "(tmp_path / 'data.txt').write_text('fine')")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tests wrote files" not in done.stdout


def test_the_screenshot_directory_chosen_on_purpose_and_the_opt_out_are_left_alone(checkout: Path) -> None:
    body = "(Path(__file__).parent / 'shots' / 'a.png').write_text('new')"
    assert session(checkout, body, INTERLOCK_SCREENSHOTS=str(checkout / "shots")).returncode == 0
    assert session(checkout, "(Path(__file__).parent / 'data.txt').write_text('x')",
                   ALLOW_TRACKED_CHANGES="1").returncode == 0


def test_outside_a_git_checkout_nothing_is_checked(tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("not tracked\n")
    done = session(tmp_path, "(Path(__file__).parent / 'data.txt').write_text('changed')",
                   GIT_CEILING_DIRECTORIES=str(tmp_path.parent))
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("made_by", ["tour/interlock.yaml", "tour/pipelines/silver.yaml", "demo-project/interlock.db",
                                     "demo-project/interlock.yaml"])
def test_what_the_readme_tour_and_the_demo_script_create_is_ignored(made_by: str) -> None:
    """The README's tour runs ``interlock init tour`` in the checkout; ``scripts/demo.sh`` makes
    ``demo-project/``: neither shows up as something to commit."""
    if subprocess.run(["git", "-C", str(REPO), "rev-parse"], capture_output=True).returncode != 0:
        pytest.skip("not a git checkout")
    assert "interlock init tour" in (REPO / "README.md").read_text()
    assert "demo-project" in (REPO / "scripts" / "demo.sh").read_text()
    ignored = subprocess.run(["git", "-C", str(REPO), "check-ignore", "-q", "--no-index", made_by])
    assert ignored.returncode == 0, f"{made_by} is not ignored by .gitignore"
