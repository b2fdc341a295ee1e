"""README truth: the flags table of the Command line section is what `qa <command> --help` accepts, and a
flag that does not apply is refused rather than ignored."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from qa.cli.main import build_parser, main

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_flags() -> dict[str, set[str]]:
    """Subcommand -> the flags its README rows name (rows `| `qa index build\\|update` | `--docs DIR` … |`)."""
    text = README.read_text("utf-8")
    table = text[text.index("| command | flags |"):].split("\n\n", 1)[0]
    out: dict[str, set[str]] = {}
    for row in table.splitlines()[2:]:
        command, flags = row.strip("|").split(" | ", 1)
        name = command.strip("` ").split()[1]
        out.setdefault(name, set()).update(re.findall(r"`(--[a-z][a-z0-9-]*)", flags))
    return out


def parser_flags() -> dict[str, set[str]]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {name: {o for a in p._actions for o in a.option_strings if o.startswith("--") and o != "--help"}
            for name, p in sub.choices.items()}


def test_the_readme_table_lists_exactly_each_commands_flags() -> None:
    assert readme_flags() == parser_flags()


def test_the_readme_no_longer_claims_every_command_takes_every_flag() -> None:
    assert "Every command takes" not in README.read_text("utf-8")


@pytest.mark.parametrize(("argv", "expected"), [
    (["index", "info", "--ray"], "error: --ray: only for `qa index build|update`"),
    (["index", "info", "--device", "cpu", "--quiet"], "error: --device --quiet: only for `qa index build|update`"),
    (["model", "info", "--force"], "error: --force: only for `qa model prepare`"),
])
def test_a_flag_that_does_not_apply_is_refused(argv: list[str], expected: str, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*argv, "--index", str(tmp_path)] if argv[0] == "index" else argv) == 2
    assert capsys.readouterr().err.startswith(expected)


def test_reader_refuses_model(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["reader", "eval", "--model", "X"])
    assert e.value.code == 2 and "unrecognized arguments: --model X" in capsys.readouterr().err


@pytest.mark.parametrize(("argv", "expected"), [
    (["reader", "eval", "--data-all", "x.json", "--out", "o", "--epochs", "2"],
     "error: --out --epochs: not read by `qa reader eval` (--out is for `qa reader train`"),
    (["reader", "calibrate", "--data-all", "x.json", "--weights", "w", "--split", "test"],
     "error: --split: not read by `qa reader calibrate` (--split is for `qa reader eval`)"),
    (["reader", "train", "--data-all", "x.json", "--weights", "w"],
     "error: --weights: not read by `qa reader train` (--weights is for `qa reader calibrate|eval`)"),
])
def test_reader_refuses_a_flag_its_action_does_not_read(argv: list[str], expected: str,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2  # refused before any file is opened or the model loads
    assert capsys.readouterr().err.startswith(expected)
