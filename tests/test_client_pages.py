"""fetch_trials's bytes path: pages read for the pager without a full parse, the default page size.

:class:`~hpo_analytics.client._trialpages.TrialsPageReader` must give the
pager exactly what the generic parse + ``_responses.trials_page`` gives
(total, ids, echoed offset/limit, the page kept whole or in part, the same
error), whatever the body; ``fetch_trials`` must give the same table as
normalizing the dict pages of ``iter_trial_pages``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpo_analytics import _jsonutil, trials_to_arrow
from hpo_analytics.client import ModelArtsClient
from hpo_analytics.client._responses import listed_trial_ids, trials_page
from hpo_analytics.client._trialpages import (
    AVAILABLE,
    RawTrialsPage,
    TrialsPageReader,
    fetched_trial_ids,
    fetched_trials_page,
)
from hpo_analytics.errors import BadRequestError, ResponseFormatError
from hpo_analytics.simulator import Simulator

HEADER = ["", "done", "config", "trial_id", "acc"]


def page(rows: list[list[Any]], *, header: list[str] = HEADER, total: Any = 100, **extra: Any) -> dict[str, Any]:
    return {"total": total, "count": len(rows), "limit": 50, "offset": 0, "items": {"header": header, "data": rows},
            **extra}


def row(i: int, trial_id: Any = None) -> list[Any]:
    return [str(i), "True", {"lr": 0.1 * i, "opt": "sgd"}, f"t{i}" if trial_id is None else trial_id, "0.5"]


def outcome(read: Any, content: bytes, positions: list[int] | None = None) -> Any:
    """What the pager sees of one body: the page's fields and what it keeps, or the error raised."""
    try:
        body = read(content)
        fetched = fetched_trials_page(body, offset=3, job_id="j")
    except ResponseFormatError as exc:
        return ("error", str(exc))
    except _jsonutil.JSONDecodeError:
        return ("not json",)
    kept_all = fetched.keep(list(range(len(fetched.ids))))
    if isinstance(kept_all, bytes):
        kept_all = json.loads(kept_all)
    kept = fetched.keep([p for p in positions or [] if p < len(fetched.ids)])
    if isinstance(kept, bytes):
        kept = json.loads(kept)
    return (fetched.offset, fetched.total, list(fetched.ids), len(fetched.rows), fetched.echoed_offset,
            fetched.echoed_limit, kept_all, kept)


def same_as_generic(content: bytes, positions: list[int] | None = None) -> Any:
    fast = outcome(TrialsPageReader(), content, positions)
    assert fast == outcome(_jsonutil.loads, content, positions)
    return fast


BODIES = [
    page([row(i) for i in range(5)]),
    page([]),
    page([], header=["", "acc"]),  # no trial_id column, no rows: fine
    page([row(0), row(1, "")]),  # an empty id: keyed by the row
    page([row(0), row(1, None)]),
    page([row(0), row(1, 7)]),
    page([row(0), row(1, "t0")]),  # an id twice in one page
    page([row(0)], total=-1),
    page([row(0)], total=True),
    page([row(0)], total=2.0),
    page([row(0)], total=None),
    page([row(0)], total="3"),
    page([row(0), row(1)[:-1]]),  # a short row
    page([row(0), [*row(1), "extra"]]),
    page([row(0), "not a row"]),
    page([["0", "True", {}, "t0", "0.5"]], header=["", "done", "config", "acc", "acc2"]),  # no trial_id column
    page([row(0)], offset=True, limit="50"),
    page([row(0)], offset=None, limit=None),
    {"total": 1, "items": None},
    {"total": 1},
    {"total": 1, "items": {"header": None, "data": None}},
    {"total": 1, "items": {"header": [1, 2], "data": []}},
    {"total": 1, "items": []},
    [1, 2, 3],
    "text",
]


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_reader_gives_what_the_generic_parse_gives(body: Any) -> None:
    same_as_generic(json.dumps(body).encode(), positions=[0])


@pytest.mark.parametrize("content", [b"", b"{", b'{"total": 1, "items": {"header": [], "data": []}', b"\xff\xfe",
                                     b"NaN", b'{"total": 1} trailing'])
def test_malformed_bodies_raise_as_before(content: bytes) -> None:
    assert same_as_generic(content) == ("not json",)


@pytest.mark.skipif(not AVAILABLE, reason="msgspec is not installed")
def test_a_plain_page_is_kept_as_its_bytes() -> None:
    content = json.dumps(page([row(i) for i in range(5)])).encode()
    body = TrialsPageReader()(content)
    assert isinstance(body, RawTrialsPage) and body.ids == [f"t{i}" for i in range(5)]
    fetched = fetched_trials_page(body, offset=0, job_id="j")
    assert fetched.keep([0, 1, 2, 3, 4]) is content  # kept whole: the bytes themselves
    part = fetched.keep([1, 3])  # kept in part: a dict restricted as before
    assert part["count"] == 2 and [r[3] for r in part["items"]["data"]] == ["t1", "t3"]


def test_without_the_fast_read_every_page_is_parsed() -> None:
    content = json.dumps(page([row(i) for i in range(3)])).encode()
    assert TrialsPageReader(enabled=False)(content) == json.loads(content)
    assert outcome(TrialsPageReader(enabled=False), content, [1]) == outcome(TrialsPageReader(), content, [1])


@pytest.mark.skipif(not AVAILABLE, reason="msgspec is not installed")
def test_reader_follows_a_header_that_changes() -> None:
    reader = TrialsPageReader()
    first = json.dumps(page([row(0)])).encode()
    moved = json.dumps(page([["t9", "1", "0.5"]], header=["trial_id", "", "acc"])).encode()
    same_length = json.dumps(page([["1", "True", {}, "0.5", "t8"]], header=["", "done", "config", "acc", "trial_id"]))
    assert reader(first).ids == ["t0"]
    assert reader(moved).ids == ["t9"]
    assert reader(same_length.encode()).ids == ["t8"]
    assert reader(first).ids == ["t0"]


cells = st.one_of(st.none(), st.text(max_size=3), st.integers(-2, 2), st.booleans())
ids = st.one_of(st.sampled_from(["a", "b", "c", "d"]), cells)


@settings(max_examples=300, deadline=None)
@given(
    header=st.permutations(["", "trial_id", "config", "acc"]),
    rows=st.lists(st.tuples(ids, cells, st.dictionaries(st.text(max_size=2), cells, max_size=2), cells), max_size=6),
    total=st.one_of(st.integers(-1, 10), st.none(), st.booleans(), st.floats(0, 3)),
    echoed=st.one_of(st.none(), st.integers(0, 9), st.booleans(), st.text(max_size=1)),
    cut=st.booleans(),
    positions=st.lists(st.integers(0, 5), unique=True, max_size=3),
)
def test_reader_property(header: list[str], rows: list[tuple[Any, ...]], total: Any, echoed: Any, cut: bool,
                         positions: list[int]) -> None:
    by_name = [dict(zip(["trial_id", "acc", "config", ""], r)) for r in rows]
    data = [[r[h] for h in header] for r in by_name]
    if cut and data:
        data[-1] = data[-1][:-1]
    body = page(data, header=list(header), total=total, offset=echoed, limit=echoed)
    same_as_generic(json.dumps(body).encode(), [p for p in positions if p < len(data)])


# ----------------------------------------------------------------------------- against the simulator


def client_for(sim: Simulator, **kw: Any) -> ModelArtsClient:
    return ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token, **kw)


def trial_limits(sim: Simulator) -> list[str]:
    return [r.query.get("limit") for r in sim.requests if r.path.endswith("/autosearch-trials")]


@pytest.mark.parametrize(
    "simulator",
    [{"offset_mode": "records", "n_trials": 2345}, {"offset_mode": "pages", "n_trials": 2345}],
    indirect=True,
)
@pytest.mark.parametrize("max_concurrency", [1, 8])
def test_fetch_trials_asks_for_large_pages_and_gives_the_dict_path_table(simulator: Simulator,
                                                                         max_concurrency: int) -> None:
    job = simulator.job_ids[0]
    with client_for(simulator, max_concurrency=max_concurrency) as client:
        assert client.trials_page_size is None
        table = client.fetch_trials(job)
        assert client.trials_page_size == 1000
        limits = set(trial_limits(simulator))
        expected = trials_to_arrow(list(client.iter_trial_pages(job, page_size=1000)))
    assert limits == {"1000"}
    assert table.num_rows == 2345
    assert table.schema.remove_metadata() == expected.schema.remove_metadata()
    assert table.to_pandas().equals(expected.to_pandas())  # NaN metrics compare equal here


@pytest.mark.parametrize(
    "simulator",
    [{"offset_mode": "records", "n_trials": 130, "page_size_cap": 40},
     {"offset_mode": "pages", "n_trials": 130, "page_size_cap": 40, "echo_capped_limit": True}],
    indirect=True,
)
def test_a_silent_cap_is_followed_and_recorded(simulator: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    with client_for(simulator) as client, caplog.at_level(logging.INFO, logger="hpo_analytics.client"):
        table = client.fetch_trials(simulator.job_ids[0])
        assert client.trials_page_size == 40
    assert sorted(table.column("trial_id").to_pylist()) == sorted(simulator.job().trials.trial_ids)
    assert "asked for pages of 1000, the service served at most 40" in caplog.text


@pytest.mark.parametrize("simulator", [{"n_trials": 130, "max_page_size": 100}], indirect=True)
def test_a_refused_default_page_size_falls_back_to_50(simulator: Simulator,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    with client_for(simulator) as client:
        table = client.fetch_trials(simulator.job_ids[0])
        assert client.trials_page_size == 50
        assert table.num_rows == 130
        assert trial_limits(simulator)[:2] == ["1000", "50"]
        assert "refused pages of 1000" in caplog.text
        with pytest.raises(BadRequestError):  # asked for explicitly: refused as before
            client.fetch_trials(simulator.job_ids[0], page_size=1000)
        assert client.fetch_trials(simulator.job_ids[0], page_size=30).num_rows == 130
        assert client.trials_page_size == 30


# ----------------------------------------------------------------------------- fetch_curves' listing


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_the_ids_listing_reads_what_listed_trial_ids_reads(body: Any) -> None:
    """fetch_curves(trial_ids=None) lists ids from the fast read; the same ids as the dict pages gave."""
    content = json.dumps(body).encode()
    outcomes = []
    for read in (TrialsPageReader(), _jsonutil.loads):
        try:
            fetched = fetched_trial_ids(read(content), offset=3, job_id="j")
        except ResponseFormatError as exc:
            outcomes.append(("error", str(exc)))
            continue
        everything = list(range(len(fetched.ids)))
        outcomes.append((fetched.total, list(fetched.ids), fetched.echoed_offset, fetched.echoed_limit,
                         fetched.keep(everything), fetched.keep(everything[:1])))
        if read is _jsonutil.loads:
            parsed = read(content)
            assert fetched.keep(everything) == listed_trial_ids(parsed)
    assert outcomes[0] == outcomes[1]


@pytest.mark.parametrize(
    "simulator",
    [{"offset_mode": "records", "n_trials": 1234}, {"offset_mode": "pages", "n_trials": 1234},
     {"offset_mode": "records", "n_trials": 130, "page_size_cap": 40}],
    indirect=True,
)
def test_fetch_curves_lists_every_trial_in_large_pages(simulator: Simulator) -> None:
    job = simulator.job_ids[0]
    with client_for(simulator) as client:
        curves = client.fetch_curves(job)
        assert client.trials_page_size is None  # fetch_trials's record, not fetch_curves's
        assert set(trial_limits(simulator)) == {"1000"}
        listed = [i for page in client.iter_trial_pages(job) for i in listed_trial_ids(page)]
        trials = client.fetch_trials(job)
        # every trial that reported is there; a sample, asked for by id, gives exactly its rows
        sample = listed[::25]
        expected = client.fetch_curves(job, sample)
    reported = {t for t, k in zip(trials.column("trial_id").to_pylist(),
                                  trials.column("training_iteration").to_pylist()) if k is not None}
    assert set(curves.column("trial_id").to_pylist()) == reported
    mine = curves.filter(pc.is_in(curves.column("trial_id"), pa.array(sample)))
    assert mine.schema.equals(expected.schema, check_metadata=True)
    assert mine.to_pandas().equals(expected.to_pandas())  # NaN metrics compare equal here
    assert sorted(set(listed)) == sorted(simulator.job().trials.trial_ids)


@pytest.mark.parametrize("simulator", [{"n_trials": 130, "max_page_size": 100}], indirect=True)
def test_fetch_curves_listing_falls_back_to_50_when_refused(simulator: Simulator) -> None:
    with client_for(simulator) as client:
        curves = client.fetch_curves(simulator.job_ids[0])
    assert trial_limits(simulator)[:2] == ["1000", "50"]
    assert set(curves.column("trial_id").to_pylist()) == set(simulator.job().trials.trial_ids)


@pytest.mark.parametrize("simulator", [{"n_trials": 1234}], indirect=True)
def test_the_fetch_command_follows_the_client_default_page_size(simulator: Simulator,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    from hpo_analytics.cli import main

    for key, value in {"HPO_ANALYTICS_ENDPOINT": simulator.url, "HUAWEICLOUD_SDK_PROJECT_ID": simulator.project_id,
                       "HPO_ANALYTICS_TOKEN": simulator.token}.items():
        monkeypatch.setenv(key, value)
    assert main(["fetch", simulator.job_ids[0]]) == 0
    assert set(trial_limits(simulator)) == {"1000"}
    assert "Fetched 1234 trials" in capsys.readouterr().out


# ----------------------------------------------------------------------------- the pager's shortcut


def test_pages_with_repeated_ids_take_the_careful_path() -> None:
    """The pager's whole-page shortcut (every id new, none twice) gives what the per-id loop gives."""
    from hpo_analytics.client._paging import FetchedPage, Pager

    def page(ids: list[str]) -> FetchedPage:
        return FetchedPage(0, 9, ids, ids, None, None, lambda positions: (ids, positions))

    pager = Pager(lambda offset: page([]), page_size=3, executor=None)
    kept = [list(pager._consume(page(ids))) for ids in (["a", "b", "a"], ["c", "d", "e"], ["e", "f", "f"],
                                                         ["a", "b"], ["g", "h"])]
    assert [k[0][1] if k else None for k in kept] == [[0, 1], [0, 1, 2], [1], None, [0, 1]]
