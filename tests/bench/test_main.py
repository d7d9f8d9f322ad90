"""`python -m bench <command>`: every command names a module with a main(); mistakes exit 2."""

import importlib

import pytest

from bench.__main__ import COMMANDS, main


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_has_a_main(command: str) -> None:
    module = importlib.import_module(COMMANDS[command][0])
    assert callable(module.main)


def test_no_command_lists_them_all(capsys: pytest.CaptureFixture) -> None:
    assert main([]) == 0
    listed = capsys.readouterr().out
    assert all(command in listed for command in COMMANDS)


def test_unknown_command_exits_2(capsys: pytest.CaptureFixture) -> None:
    assert main(["nope"]) == 2
    assert "unknown command 'nope'" in capsys.readouterr().err


def test_a_command_reads_its_own_options(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["load", "--help"])
    assert exited.value.code == 0
    assert "--baseline" in capsys.readouterr().out
