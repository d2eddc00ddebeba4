"""The suite's units for xdist: machine-wide resources on one worker, every other module whole."""

from __future__ import annotations

import pytest

from tests.conftest import check_machine_wide, unit_of


def test_the_docker_and_ha_folders_are_one_unit_each_and_other_modules_stay_whole() -> None:
    assert unit_of("tests/containers/test_a.py::x") == unit_of("tests/containers/test_b.py::y[1]")
    assert unit_of("tests/failover/test_failover.py::x") == unit_of("tests/failover/test_restore_drill.py::y")
    assert unit_of("tests/containers/test_a.py::x") != unit_of("tests/failover/test_failover.py::x")
    module = unit_of("tests/history_api/test_stream.py::a")
    assert module == unit_of("tests/history_api/test_stream.py::b[x]") == "tests/history_api/test_stream.py"
    assert module != unit_of("tests/history_api/test_marks.py::a")


def test_a_machine_wide_fixture_outside_its_folder_stops_the_collection() -> None:
    check_machine_wide("tests/containers/test_new.py::t", ["engine", "tmp_path"])
    check_machine_wide("tests/history_api/test_x.py::t", ["db", "tmp_path"])
    with pytest.raises(pytest.UsageError, match=r"tests/e2e/test_x.py::t uses the machine-wide `ha` fixture"):
        check_machine_wide("tests/e2e/test_x.py::t", ["ha"])
    with pytest.raises(pytest.UsageError, match="outside tests/containers/"):
        check_machine_wide("tests/deploy/test_x.py::t", ["engine"])
