"""run.json fields of the wrong JSON type are refused by the one reader, not taken for their truthiness."""

from __future__ import annotations

import json

import pytest

from rses.errors import RsesError
from rses.run_record import RunRecord, read_run_record, write_run_record


def _record_with(tmp_path, **fields):
    path = tmp_path / "run.json"
    write_run_record(path, RunRecord(method="identity", split="test", n_expected=44, n_ok=44, complete=True))
    data = json.loads(path.read_text())
    data.update(fields)
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    "field, value",
    [
        ("complete", "false"),  # a non-empty string is truthy: the run would be ranked as complete
        ("smoke", "false"),  # ... and this one left out as smoke
        ("n_ok", "44"),  # str + int: a traceback in ranking_issues
        ("limit", "4"),
        ("shard", "0/1"),
        ("n_failed", 1.5),
        ("n_expected", True),  # a bool is no count
        ("metrics", "psnr_bg"),
        ("models", {"role": "editor"}),
        ("schema_version", True),  # True == 1 must not pass for schema 1
    ],
)
def test_a_field_of_the_wrong_type_is_a_one_line_error_naming_it(tmp_path, field, value):
    path = _record_with(tmp_path, **{field: value})
    with pytest.raises(RsesError, match=field):
        read_run_record(path)


def test_fields_of_the_right_type_read_including_nulls(tmp_path):
    path = _record_with(tmp_path, limit=None, git_hash=None, finished=None, shard=[1, 2], limit_extra=3)
    record = read_run_record(path)
    assert record.limit is None and record.shard == [1, 2] and record.complete is True
