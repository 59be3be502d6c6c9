"""Duplicates within one uploaded file: the same answer as comparing every pair, in less work."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from caldb_server.catalogue.duplicates import same_slot
from caldb_server.ingest import within
from caldb_server.ingest.headers import HduDataset
from caldb_server.ingest.within import duplicates_within
from tests.helpers import calfile_bytes
from tests.server.uploads import gain, refused

ROW = HduDataset(
    hdu=1,
    telescop="SVOM",
    instrume="MXT",
    detnam="NONE",
    filter="NONE",
    cal_clas="BCF",
    cal_dtyp="DATA",
    cal_cnam="GAIN",
    cal_cbd=("NONE",) * 9,
    cal_vsd="2024-06-22",
    cal_vst="00:00:00",
    ref_time=60483.0,
    cal_desc="gain",
)


def rows(*boundaries: tuple[str, ...], **changes: Any) -> list[HduDataset]:
    return [
        dataclasses.replace(ROW, hdu=n, cal_cbd=(*b, *("NONE",) * (9 - len(b))), **changes)
        for n, b in enumerate(boundaries, start=1)
    ]


def brute_force(datasets: list[HduDataset]) -> set[int]:
    """HDUs that duplicate an earlier HDU, comparing every pair (the definition)."""
    return {
        later.hdu
        for position, later in enumerate(datasets)
        if any(same_slot(earlier, later) for earlier in datasets[:position])
    }


@pytest.fixture
def comparisons(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []

    def counted(first: Any, second: Any) -> bool:
        calls.append(1)
        return same_slot(first, second)

    monkeypatch.setattr(within, "same_slot", counted)
    return calls


def test_overlapping_ranges_are_duplicates():
    found = duplicates_within(rows(("CHAN(0-5)",), ("CHAN(3-8)",), ("CHAN(9-9)",)))
    assert [(c.hdu, c.reason) for c in found] == [
        (2, "duplicates the dataset of HDU 1 of the same file")
    ]


def test_a_row_without_boundaries_duplicates_every_row():
    found = duplicates_within(rows(("CHAN(0-5)",), ("NONE",), ("CHAN(9-9)",)))
    assert {c.hdu for c in found} == {2, 3}


def test_text_values_pair_only_when_shared():
    found = duplicates_within(
        rows(('DATAMODE("PHOTON")',), ('DATAMODE("WINDOWED")',), ('DATAMODE("photon")',))
    )
    assert {c.hdu for c in found} == {3}


def test_other_parameters_still_separate_candidates():
    found = duplicates_within(
        rows(("CHAN(0-5)", "GRADE(0)"), ("CHAN(0-5)", "GRADE(1)"), ("CHAN(0-5)", "GRADE(0)"))
    )
    assert {c.hdu for c in found} == {3}


@pytest.mark.parametrize("count", [100, 400])
def test_distinct_epochs_need_no_comparison(comparisons, count):
    datasets = [dataclasses.replace(ROW, hdu=n, ref_time=60000.0 + n) for n in range(count)]
    assert duplicates_within(datasets) == []
    assert comparisons == []


@pytest.mark.parametrize("count", [100, 400])
def test_disjoint_boundaries_of_one_epoch_need_no_comparison(comparisons, count):
    assert duplicates_within(rows(*((f"CHAN({n}-{n})",) for n in range(count)))) == []
    assert comparisons == []


@pytest.mark.parametrize("count", [100, 400])
def test_identical_rows_cost_one_comparison_each(comparisons, count):
    found = duplicates_within(rows(*(("NONE",) for _ in range(count))))
    assert len(found) == count - 1  # one check per duplicate row, not one per pair
    assert len(comparisons) == count - 1


_BOUNDARIES = st.one_of(
    st.just("NONE"),
    st.tuples(st.integers(0, 9), st.integers(0, 3)).map(lambda t: f"CHAN({t[0]}-{t[0] + t[1]})"),
    st.integers(0, 9).map(lambda n: f"CHAN({n})"),
    st.sampled_from(['DATAMODE("PHOTON")', 'DATAMODE("WINDOWED")', "DATAMODE(PHOTON,WINDOWED)"]),
    st.integers(0, 2).map(lambda n: f"GRADE({n})"),
)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(_BOUNDARIES, min_size=1, max_size=3), st.sampled_from(["A", "B"])),
        min_size=1,
        max_size=12,
    )
)
def test_same_answer_as_comparing_every_pair(layout):
    datasets = [
        dataclasses.replace(
            ROW, hdu=n, detnam=detnam, cal_cbd=(*cbds, *("NONE",) * (9 - len(cbds)))
        )
        for n, (cbds, detnam) in enumerate(layout, start=1)
    ]
    assert {c.hdu for c in duplicates_within(datasets)} == brute_force(datasets)


def test_upload_with_duplicates_within_is_refused_once_per_row(client, uploader, root):
    content = calfile_bytes(*(gain(CBD10001=f"CHAN({n}-{n + 1})") for n in range(4)))
    errors = refused(client, uploader, root, content)
    assert [(e["hdu"], e.get("keyword")) for e in errors] == [(2, None), (3, None), (4, None)]
