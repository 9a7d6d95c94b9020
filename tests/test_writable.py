"""Output paths are checked before anything is written (issue 11 §3: nothing partial)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gt_gen.errors import ConfigError
from gt_gen.writable import check_out_dir, check_writable


def test_new_and_existing_files_in_new_and_existing_folders_pass(tmp_path: Path) -> None:
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "results.json").write_text("{}")
    check_out_dir(tmp_path / "o", ["results.json", "frames/a.png", "deep/er/x.md"])
    check_out_dir(tmp_path / "new" / "folder", ["results.json"])
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["o", "results.json"]  # nothing created


@pytest.mark.parametrize(("make", "names", "needle"), [
    (lambda o: (o / "results.json").mkdir(parents=True), ["results.json"], "is a directory"),
    (lambda o: o.write_text("x"), ["results.json"], "is a file, not a folder"),
    (lambda o: (o.mkdir(), (o / "frames").write_text("x")), ["frames/a.png"], "is a file, not a folder"),
    (lambda o: (o.mkdir(), os.mkfifo(o / "summary.md")), ["summary.md"], "not a regular file"),
])
def test_a_path_that_cannot_take_a_file_is_refused_by_name(tmp_path: Path, make, names: list[str],
                                                           needle: str) -> None:
    out = tmp_path / "o"
    make(out)
    with pytest.raises(ConfigError, match=needle) as info:
        check_out_dir(out, names)
    assert str(out) in info.value.one_line()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_folder_is_refused(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(ConfigError, match="not writable"):
            check_writable([ro / "new" / "x.json"])
    finally:
        ro.chmod(0o700)


def test_compare_with_results_json_a_directory_leaves_no_frames(tmp_path: Path, capsys) -> None:
    """The issue's example: `--out O` with O/results.json a directory left frames/*.png behind."""
    from gt_gen import cli
    from tests import corpus

    base = corpus.Base(tmp_path / "base")
    out = tmp_path / "out"
    (out / "results.json").mkdir(parents=True)
    assert cli.main(list(base.compare(out))) == 2
    assert "results.json is a directory" in capsys.readouterr().err
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["results.json"]
