"""Queries over the many-jobs dataset (issue #16): DuckDB views, cross-job analyses, Dask and plain readers.

The dataset is written in the documented layout by ``tests/_dataset.py``
from jobs the real client fetched from the simulator over loopback HTTP
(four jobs: two rewarding ``acc``, one ``loss`` with mode ``min``, one still
running with two trials stopped early; differing parameters, including an
int/float and an int/text disagreement). Every expected answer is computed
here independently, in pandas, from the fetched tables.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

import hpo_analytics
from hpo_analytics.cli import main
from hpo_analytics.errors import ConfigurationError
from hpo_analytics.query import job_costs, leaderboard, level_effects, open_dataset, param_effects, run_sql
from hpo_analytics.simulator import Simulator

sys.path.insert(0, str(Path(__file__).parent))
from _dataset import Job, fetch_jobs, simulated_fleet, write_dataset  # noqa: E402


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Job]]:
    root = tmp_path_factory.mktemp("fleet") / "ds"
    jobs = simulated_fleet()
    return write_dataset(root, jobs), jobs


def _metric(job: Job) -> tuple[str, str]:
    first = job.details["algorithm"]["policies"]["auto_search"]["reward_attrs"][0]
    return first["name"], first.get("mode") or "max"


def _scores(job: Job) -> pd.DataFrame:
    """Each trial's value of the job's metric (NaN dropped) and its higher-is-better score, in pandas."""
    metric, mode = _metric(job)
    frame = job.trials.select(["trial_id", "status", metric]).to_pandas().rename(columns={metric: "value"})
    frame = frame[frame["value"].notna()].copy()
    frame["score"] = -frame["value"] if mode == "min" else frame["value"]
    return frame


# ---------------------------------------------------------------------- the views


def test_views_read_every_job_with_its_id_from_the_path(fleet: tuple[Path, list[Job]]) -> None:
    root, jobs = fleet
    with open_dataset(root) as con:
        counts = dict(con.execute("SELECT job_id, count(*) FROM trials GROUP BY job_id").fetchall())
        curve_counts = dict(con.execute("SELECT job_id, count(*) FROM curves GROUP BY job_id").fetchall())
        types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE trials)").fetchall())
        n_jobs = con.execute("SELECT count(*) FROM jobs").fetchone()[0]
    assert counts == {j.job_id: j.trials.num_rows for j in jobs}
    assert curve_counts == {j.job_id: j.curves.num_rows for j in jobs if j.curves is not None}
    assert n_jobs == len(jobs)
    assert types["job_id"] == "VARCHAR"
    # the unified schema: int and float -> float, int and text -> text, a parameter of one job only
    assert types["param/batch_size"] == "DOUBLE"
    assert types["param/seed_offset"] == "VARCHAR"
    assert types["param/momentum"] == "DOUBLE"


def test_a_numeric_looking_job_id_stays_text(tmp_path: Path, fleet: tuple[Path, list[Job]]) -> None:
    _, jobs = fleet
    details = json.loads(json.dumps(jobs[1].details))
    details["metadata"]["id"] = "00123"
    root = write_dataset(tmp_path / "ds", [Job(details, jobs[1].trials, None)])
    with open_dataset(root) as con:
        ids = con.execute("SELECT DISTINCT job_id FROM trials").fetchall()
        joined = con.execute("SELECT count(*) FROM trials JOIN jobs USING (job_id)").fetchone()[0]
    assert ids == [("00123",)]
    assert joined == jobs[1].trials.num_rows


def test_trial_values_take_each_jobs_own_metric_and_mode(fleet: tuple[Path, list[Job]]) -> None:
    root, jobs = fleet
    with open_dataset(root) as con:
        got = con.execute("SELECT job_id, trial_id, metric, mode, value, score FROM trial_values "
                          "WHERE value IS NOT NULL").df()
    assert set(got["metric"]) == {"acc", "loss"}
    for job in jobs:
        metric, mode = _metric(job)
        mine = got[got["job_id"] == job.job_id].set_index("trial_id").sort_index()
        want = _scores(job).set_index("trial_id").sort_index()
        assert set(mine["metric"]) == {metric} and set(mine["mode"]) == {mode}
        assert mine.index.tolist() == want.index.tolist()  # NaN values (diverged trials) became NULL
        assert mine["value"].tolist() == pytest.approx(want["value"].tolist())
        assert mine["score"].tolist() == pytest.approx(want["score"].tolist())


def test_a_new_job_shows_up_in_the_next_query_on_an_open_connection(tmp_path: Path,
                                                                   fleet: tuple[Path, list[Job]]) -> None:
    _, jobs = fleet
    root = write_dataset(tmp_path / "ds", jobs[:2])
    with open_dataset(root) as con:
        before = con.execute("SELECT count(DISTINCT job_id) FROM trials").fetchone()[0]
        write_dataset(root, jobs[:3])
        after = con.execute("SELECT count(DISTINCT job_id) FROM trials").fetchone()[0]
    assert (before, after) == (2, 3)


def test_a_directory_name_duckdb_would_read_as_a_pattern(tmp_path: Path, fleet: tuple[Path, list[Job]]) -> None:
    _, jobs = fleet
    root = write_dataset(tmp_path / "fleet [2026]*", jobs[:2])
    with open_dataset(root) as con:
        assert con.execute("SELECT count(*) FROM trials").fetchone()[0] == sum(j.trials.num_rows for j in jobs[:2])
    assert len(leaderboard(root)) == 2


def test_a_metric_stored_as_text_is_still_read_as_a_number(tmp_path: Path, fleet: tuple[Path, list[Job]]) -> None:
    _, jobs = fleet
    as_text = jobs[1].trials.set_column(jobs[1].trials.column_names.index("acc"), "acc",
                                        jobs[1].trials["acc"].cast(pa.string()))
    root = write_dataset(tmp_path / "ds", [jobs[0], Job(jobs[1].details, as_text, None)])
    with open_dataset(root) as con:
        assert dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE trials)").fetchall())["acc"] == "VARCHAR"
    board = leaderboard(root).set_index("job_id")
    for job in jobs[:2]:
        assert board.loc[job.job_id, "best_value"] == pytest.approx(_scores(job)["value"].max())


def test_an_empty_dataset_gives_empty_answers(tmp_path: Path) -> None:
    root = write_dataset(tmp_path / "ds", [])
    assert leaderboard(root).empty
    assert job_costs(root).empty
    assert param_effects(root).empty
    assert level_effects(root).empty and level_effects(root, per_job=True).empty
    with open_dataset(root) as con:
        assert con.execute("SELECT count(*) FROM trial_values").fetchone()[0] == 0


# ---------------------------------------------------------------------- analyses


def test_leaderboard_is_each_jobs_best_by_its_own_metric_ranked_within_the_metric(
        fleet: tuple[Path, list[Job]]) -> None:
    root, jobs = fleet
    board = leaderboard(root).set_index("job_id")
    assert sorted(board.index) == sorted(j.job_id for j in jobs)
    with open_dataset(root) as con:
        recorded = dict(con.execute("SELECT job_id, best_value FROM jobs").fetchall())
    for job in jobs:
        scores = _scores(job)
        best = scores.sort_values(["score", "trial_id"], ascending=[False, True]).iloc[0]
        row = board.loc[job.job_id]
        assert (row["metric"], row["mode"]) == _metric(job)
        assert row["trial_id"] == best["trial_id"]
        assert row["best_value"] == pytest.approx(best["value"])
        assert row["best_value"] == pytest.approx(recorded[job.job_id])
        assert row["n_valued"] == len(scores)
    acc = board[board["metric"] == "acc"].sort_values("rank")
    assert acc["rank"].tolist() == [1, 2, 3] and set(acc["n_jobs"]) == {3}
    assert acc["best_value"].is_monotonic_decreasing
    assert board.loc[board["metric"] == "loss", "rank"].tolist() == [1]


def test_job_costs_count_trials_stopped_early_and_the_iterations_saved(fleet: tuple[Path, list[Job]]) -> None:
    root, jobs = fleet
    costs = job_costs(root).set_index("job_id")
    for job in jobs:
        t = job.trials.to_pandas()
        it = t["training_iteration"].fillna(0)
        finished = t["status"] == "TERMINATED"
        longest = it[finished].max()
        early = finished & (it < longest)
        row = costs.loc[job.job_id]
        assert row["n_trials"] == len(t)
        assert row["run_time_s"] == pytest.approx(t["time_total_s"].sum())
        assert row["iterations"] == it.sum()
        assert row["max_iterations"] == longest
        assert row["n_stopped_early"] == early.sum()
        assert row["iterations_saved"] == (longest - it[early]).sum()
    running = [j for j in jobs if j.details["status"]["phase"] == "Running"][0]
    assert costs.loc[running.job_id, "n_stopped_early"] >= 2  # the two trials the fixture stopped
    assert costs["run_time_s"].is_monotonic_decreasing


def _spearman(x: pd.Series, y: pd.Series) -> float:
    return float(x.rank(method="average").corr(y.rank(method="average")))


def test_param_effects_per_job_are_rank_correlations_with_the_standardised_metric(
        fleet: tuple[Path, list[Job]]) -> None:
    root, jobs = fleet
    per = param_effects(root, per_job=True, min_trials=8)
    assert set(per.columns) == {"param", "job_id", "n", "effect"}
    seen = 0
    with open_dataset(root) as con:
        wide = con.execute("SELECT * FROM trials").df()
    for job in jobs:
        scores = _scores(job)
        scores = scores[scores["status"] == "TERMINATED"]
        rows = wide[wide["job_id"] == job.job_id].merge(scores[["trial_id", "score"]], on="trial_id")
        for param in ("param/learning_rate", "param/dropout", "param/batch_size"):
            x = rows[param].astype(float)
            keep = x.notna()
            got = per[(per["param"] == param) & (per["job_id"] == job.job_id)]
            if keep.sum() < 8:
                assert got.empty
                continue
            assert got["n"].item() == keep.sum()
            assert got["effect"].item() == pytest.approx(_spearman(x[keep], rows["score"][keep]), abs=1e-9)
            seen += 1
    assert seen >= 6
    # the simulator's learning rates are mostly below the optimum: larger did better in every job with enough trials
    lr = per[per["param"] == "param/learning_rate"]
    assert (lr["effect"] > 0).all()
    assert "param/seed_offset" not in set(per["param"])  # text in one job: not a numeric parameter


def test_pooled_effects_use_fishers_z_and_note_jobs_that_disagree(tmp_path: Path,
                                                                   fleet: tuple[Path, list[Job]]) -> None:
    _, jobs = fleet
    base = jobs[0]

    def job(job_id: str, xs: list[float], accs: list[float]) -> Job:
        details = json.loads(json.dumps(base.details))
        details["metadata"]["id"] = job_id
        n = len(xs)
        trials = pa.table({"trial_id": [f"{job_id}-{i}" for i in range(n)], "status": ["TERMINATED"] * n,
                           "training_iteration": [5] * n, "time_total_s": [1.0] * n,
                           "acc": accs, "param/x": xs})
        return Job(details, trials, None)

    up = job("job-up", [float(i) for i in range(10)], [0.1 * i for i in range(10)])
    down = job("job-down", [float(i) for i in range(12)], [1.0 - 0.05 * i for i in range(12)])
    noisy = job("job-noisy", [float(i) for i in range(9)], [0.3, 0.1, 0.5, 0.2, 0.6, 0.4, 0.9, 0.7, 0.8])
    root = write_dataset(tmp_path / "ds", [up, down, noisy])
    per = param_effects(root, per_job=True).set_index("job_id")["effect"]
    assert per["job-up"] == pytest.approx(1.0) and per["job-down"] == pytest.approx(-1.0)
    pooled = param_effects(root)
    row = pooled.set_index("param").loc["param/x"]
    assert row["n_jobs"] == 3 and row["n_trials"] == 31
    z = {k: math.atanh(min(max(v, -0.999999), 0.999999)) for k, v in per.items()}
    w = {"job-up": 7, "job-down": 9, "job-noisy": 6}
    expected = math.tanh(sum(w[k] * z[k] for k in w) / sum(w.values()))
    assert row["effect"] == pytest.approx(expected)
    assert row["low"] < row["effect"] < row["high"]
    assert (row["n_positive"], row["n_negative"]) == (2, 1)
    assert "disagree" in row["note"] and "job-down" in row["note"]
    # a parameter every job agrees on has no note
    agree = write_dataset(tmp_path / "agree", [up, noisy])
    assert param_effects(agree).loc[0, "note"] == ""


def test_level_effects_are_mean_standardised_metrics_per_level(fleet: tuple[Path, list[Job]]) -> None:
    root, jobs = fleet
    per = level_effects(root, per_job=True)
    assert set(per["param"]) == {"param/optimizer"}  # seed_offset, text in one job, has a level per trial or so
    with open_dataset(root) as con:
        wide = con.execute("SELECT job_id, trial_id, \"param/optimizer\" AS opt FROM trials").df()
    checked = 0
    for job in jobs:
        scores = _scores(job)
        scores = scores[scores["status"] == "TERMINATED"].copy()
        scores["z"] = (scores["score"] - scores["score"].mean()) / scores["score"].std(ddof=1)
        rows = wide[wide["job_id"] == job.job_id].merge(scores, on="trial_id")
        got = per[per["job_id"] == job.job_id].set_index("level")
        if len(rows) < 8:
            assert got.empty
            continue
        want = rows.groupby("opt")["z"].agg(["mean", "size"])
        assert got["n"].to_dict() == want["size"].to_dict()
        assert got["effect"].to_numpy() == pytest.approx(want.loc[got.index, "mean"].to_numpy())
        checked += 1
    assert checked >= 2
    pooled = level_effects(root)
    for level, row in pooled.set_index("level").iterrows():
        mine = per[per["level"] == level]
        assert row["n_trials"] == mine["n"].sum() and row["n_jobs"] == len(mine)
        assert row["effect"] == pytest.approx((mine["n"] * mine["effect"]).sum() / mine["n"].sum())
    assert pooled["effect"].is_monotonic_decreasing


def test_level_effects_note_jobs_that_prefer_different_levels(tmp_path: Path,
                                                              fleet: tuple[Path, list[Job]]) -> None:
    base = fleet[1][0]

    def job(job_id: str, good: str) -> Job:
        details = json.loads(json.dumps(base.details))
        details["metadata"]["id"] = job_id
        levels = ["adam", "sgd"] * 6
        trials = pa.table({"trial_id": [f"{job_id}-{i}" for i in range(12)], "status": ["TERMINATED"] * 12,
                           "acc": [0.9 - 0.01 * i if lv == good else 0.5 - 0.01 * i for i, lv in enumerate(levels)],
                           "param/optimizer": levels})
        return Job(details, trials, None)

    root = write_dataset(tmp_path / "ds", [job("a", "adam"), job("b", "adam"), job("c", "sgd")])
    pooled = level_effects(root)
    assert pooled["level"].tolist() == ["adam", "sgd"]
    assert set(pooled["note"]) == {"jobs disagree on the best level: adam in 2 (a, b); sgd in 1 (c)"}
    assert level_effects(write_dataset(tmp_path / "agree", [job("a", "adam"), job("b", "adam")]))["note"].eq("").all()
    assert level_effects(root, max_levels=2).shape[0] == 2
    with pytest.raises(ConfigurationError, match="max_levels"):
        level_effects(root, max_levels=1)


def test_param_effects_refuse_too_few_trials_per_job(fleet: tuple[Path, list[Job]]) -> None:
    with pytest.raises(ConfigurationError, match="min_trials"):
        param_effects(fleet[0], min_trials=2)


def test_analyses_take_an_open_connection_and_leave_it_open(fleet: tuple[Path, list[Job]]) -> None:
    with open_dataset(fleet[0]) as con:
        a = leaderboard(con)
        b = job_costs(con)
        c = param_effects(con)
        assert con.execute("SELECT 1").fetchone() == (1,)
    pd.testing.assert_frame_equal(a, leaderboard(fleet[0]))
    pd.testing.assert_frame_equal(b, job_costs(fleet[0]))
    pd.testing.assert_frame_equal(c, param_effects(fleet[0]))


# ---------------------------------------------------------------------- other engines, no library


def _best_per_job_pandas(frame: pd.DataFrame, metrics: dict[str, tuple[str, str]]) -> dict[str, float]:
    out = {}
    for job_id, group in frame.groupby("job_id", observed=True):
        metric, mode = metrics[str(job_id)]
        values = pd.to_numeric(group[metric], errors="coerce").dropna()
        out[str(job_id)] = float(values.min() if mode == "min" else values.max())
    return out


# dask's own Parquet reader calls reset_index(inplace=True), which pandas 3.1 deprecates
@pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.reset_index")
def test_dask_finds_the_same_best_per_job_as_duckdb(fleet: tuple[Path, list[Job]]) -> None:
    import dask.dataframe as dd

    root, jobs = fleet
    metrics = {j.job_id: _metric(j) for j in jobs}
    trials = dd.read_parquet(str(root / "trials"))  # partition discovery: job_id from the directory names
    assert "job_id" in trials.columns
    acc = trials[["job_id", "acc"]].dropna()
    loss = trials[["job_id", "loss"]].dropna()
    best_acc = acc.groupby("job_id", observed=True)["acc"].max().compute()
    best_loss = loss.groupby("job_id", observed=True)["loss"].min().compute()
    dask_best = {str(k): float(best_loss[k] if metrics[str(k)] == ("loss", "min") else best_acc[k])
                 for k in set(best_acc.index) | set(best_loss.index)}
    board = leaderboard(root)
    assert dask_best == pytest.approx(dict(zip(board["job_id"], board["best_value"])))


def test_plain_pyarrow_and_plain_duckdb_read_the_layout_without_this_library(fleet: tuple[Path, list[Job]]) -> None:
    import duckdb
    import pyarrow.dataset as ds

    root, jobs = fleet
    metrics = {j.job_id: _metric(j) for j in jobs}
    table = ds.dataset(root / "trials", format="parquet", partitioning="hive").to_table()
    assert table.num_rows == sum(j.trials.num_rows for j in jobs)
    frame = table.to_pandas()
    frame["job_id"] = frame["job_id"].astype(str)
    expected = _best_per_job_pandas(frame, metrics)
    sql = f"""
        SELECT t.job_id,
               CASE WHEN j.reward_mode = 'min' THEN min(t.loss) FILTER (WHERE NOT isnan(t.loss))
                    ELSE max(t.acc) FILTER (WHERE NOT isnan(t.acc)) END AS best
        FROM read_parquet('{root.as_posix()}/trials/*/*.parquet', hive_partitioning = true,
                          hive_types = {{'job_id': 'VARCHAR'}}) AS t
        JOIN read_parquet('{root.as_posix()}/jobs/jobs.parquet') AS j ON t.job_id = j.job_id
        GROUP BY t.job_id, j.reward_mode
    """
    with duckdb.connect() as con:
        plain = dict(con.execute(sql).fetchall())
    assert plain == pytest.approx(expected)
    board = leaderboard(root)
    assert dict(zip(board["job_id"], board["best_value"])) == pytest.approx(expected)


# ---------------------------------------------------------------------- refusals


def test_open_dataset_refuses_what_is_not_a_dataset(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="not a directory"):
        open_dataset(tmp_path / "missing")
    with pytest.raises(ConfigurationError, match="jobs/jobs.parquet"):
        open_dataset(tmp_path)
    with pytest.raises(ConfigurationError, match="dataset directory or a connection"):
        leaderboard(42)  # type: ignore[arg-type]


def test_without_duckdb_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch,
                                                  fleet: tuple[Path, list[Job]]) -> None:
    monkeypatch.setitem(sys.modules, "duckdb", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'hpo-analytics\[query\]'"):
        open_dataset(fleet[0])


def test_run_sql_turns_duckdb_errors_into_configuration_errors(fleet: tuple[Path, list[Job]]) -> None:
    with open_dataset(fleet[0]) as con:
        with pytest.raises(ConfigurationError, match="DuckDB could not run"):
            run_sql(con, "SELECT no_such_column FROM trials")
        with pytest.raises(ConfigurationError, match="empty"):
            run_sql(con, "  ")
        run_sql(con, "SET threads = 1")  # a statement that answers no table of its own
        run_sql(con, "CREATE TEMP TABLE x AS SELECT 1 AS a")
        assert run_sql(con, "SELECT a FROM x")["a"].tolist() == [1]


def test_open_dataset_is_a_public_name() -> None:
    assert hpo_analytics.open_dataset is open_dataset


# ---------------------------------------------------------------------- CLI


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_query_prints_a_table_json_or_csv(capsys: pytest.CaptureFixture[str],
                                              fleet: tuple[Path, list[Job]]) -> None:
    root, jobs = fleet
    sql = "SELECT job_id, count(*) AS n FROM trials GROUP BY job_id ORDER BY job_id"
    expected = sorted((j.job_id, j.trials.num_rows) for j in jobs)
    code, out, _ = _cli(capsys, "query", str(root), sql)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["job_id", "n"]
    assert [tuple(line.split()) for line in lines[1:]] == [(i, str(n)) for i, n in expected]
    code, out, _ = _cli(capsys, "query", str(root), sql, "--json")
    assert json.loads(out) == [{"job_id": i, "n": n} for i, n in expected]
    code, out, _ = _cli(capsys, "query", str(root), sql, "--csv")
    assert out.splitlines() == ["job_id,n", *(f"{i},{n}" for i, n in expected)]


def test_cli_query_errors_are_one_line(capsys: pytest.CaptureFixture[str], fleet: tuple[Path, list[Job]]) -> None:
    code, out, err = _cli(capsys, "query", str(fleet[0]), "SELEC 1")
    assert code == 1 and out == ""
    assert err.startswith("hpo-analytics query: error: DuckDB could not run the statement") and err.count("\n") == 1
    with pytest.raises(SystemExit) as exit_info:
        main(["query", str(fleet[0]), "SELECT 1", "--json", "--csv"])
    assert exit_info.value.code == 2


def test_cli_leaderboard_effects_and_cost_match_the_functions(capsys: pytest.CaptureFixture[str],
                                                              fleet: tuple[Path, list[Job]]) -> None:
    root, _ = fleet
    code, out, _ = _cli(capsys, "leaderboard", str(root), "--json")
    assert code == 0
    rows = json.loads(out)
    board = leaderboard(root)
    assert [r["job_id"] for r in rows] == board["job_id"].tolist()
    code, out, _ = _cli(capsys, "leaderboard", str(root), "--metric", "acc", "--top", "1", "--json")
    assert [(r["metric"], r["rank"]) for r in json.loads(out)] == [("acc", 1)]
    code, out, _ = _cli(capsys, "effects", str(root), "--json")
    assert [r["param"] for r in json.loads(out)] == param_effects(root)["param"].tolist()
    code, out, _ = _cli(capsys, "effects", str(root), "--per-job", "--min-trials", "10", "--json")
    assert len(json.loads(out)) == len(param_effects(root, per_job=True, min_trials=10))
    code, out, _ = _cli(capsys, "effects", str(root), "--levels", "--json")
    assert [(r["param"], r["level"]) for r in json.loads(out)] == \
        list(zip(level_effects(root)["param"], level_effects(root)["level"]))
    code, out, _ = _cli(capsys, "cost", str(root))
    assert code == 0 and out.splitlines()[0].split()[:4] == ["job_id", "name", "phase", "n_trials"]
    code, out, err = _cli(capsys, "effects", str(root), "--min-trials", "2")
    assert code == 1 and "--min-trials must be an integer >= 4" in err


# ---------------------------------------------------------------------- reports of a dataset


@pytest.fixture
def no_plots(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reports without their plots (what is tested here is which pages get written): fast."""
    from hpo_analytics.report import _registry

    monkeypatch.setattr(_registry, "PLOTS", ())


def _report(capsys: pytest.CaptureFixture[str], root: Path, out: Path) -> dict[str, Any]:
    code, stdout, err = _cli(capsys, "report", str(root), "-o", str(out), "--json")
    assert code == 0, err
    return json.loads(stdout)


def test_report_of_a_dataset_redraws_only_the_jobs_whose_data_changed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], fleet: tuple[Path, list[Job]], no_plots: None) -> None:
    _, jobs = fleet
    root, out = tmp_path / "ds", tmp_path / "reports"
    write_dataset(root, jobs)
    first = _report(capsys, root, out)
    ids = sorted(j.job_id for j in jobs)
    assert first["rebuilt"] == ids and first["unchanged"] == 0 and first["jobs"] == len(jobs)
    assert sorted(p.name for p in out.glob("*.html")) == sorted(["index.html", *(f"{i}.html" for i in ids)])
    page = (out / f"{jobs[2].job_id}.html").read_text(encoding="utf-8")
    assert "loss" in page and '<a href="index.html">All jobs</a>' in page
    index = (out / "index.html").read_text(encoding="utf-8")
    assert all(f'href="{i}.html"' in index for i in ids)
    assert all(j.details["metadata"]["name"] in index for j in jobs)

    # a sync that changed nothing (files rewritten, say after the schema widened): nothing is redrawn
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("*.html")}
    write_dataset(root, jobs)
    second = _report(capsys, root, out)
    assert second["rebuilt"] == [] and second["unchanged"] == len(jobs)
    assert all(p.stat().st_mtime_ns == mtimes[p.name] for p in out.glob("*.html") if p.name != "index.html")

    # the running job's trials changed (its manifest entry with them); a job left the dataset
    running = next(j for j in jobs if j.details["status"]["phase"] == "Running")
    changed = Job(running.details, running.trials.slice(0, 5), running.curves)
    kept = [j for j in jobs if j is not running and j is not jobs[1]]
    write_dataset(root, [*kept, changed])
    third = _report(capsys, root, out)
    assert third["rebuilt"] == [running.job_id] and third["unchanged"] == len(kept)
    assert not (out / f"{jobs[1].job_id}.html").exists()
    assert f'href="{jobs[1].job_id}.html"' not in (out / "index.html").read_text(encoding="utf-8")

    # other options draw everything again
    code, stdout, err = _cli(capsys, "report", str(root), "-o", str(out), "--metric", "loss", "--mode", "min",
                             "--json")
    assert code == 0, err
    assert json.loads(stdout)["rebuilt"] == sorted(j.job_id for j in [*kept, changed])


def test_report_of_a_dataset_redraws_a_job_whose_page_was_deleted(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], fleet: tuple[Path, list[Job]], no_plots: None) -> None:
    _, jobs = fleet
    root, out = write_dataset(tmp_path / "ds", jobs[:2]), tmp_path / "reports"
    _report(capsys, root, out)
    (out / f"{jobs[0].job_id}.html").unlink()
    assert _report(capsys, root, out)["rebuilt"] == [jobs[0].job_id]
    code, _, err = _cli(capsys, "report", str(root), "-o", str(out), "--title", "x")
    assert code == 1 and "--title applies to a single job INPUT" in err


def test_report_of_a_dataset_skips_jobs_without_trials(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], fleet: tuple[Path, list[Job]], no_plots: None) -> None:
    _, jobs = fleet
    empty = Job(jobs[1].details, jobs[1].trials.slice(0, 0), None)
    root, out = write_dataset(tmp_path / "ds", [jobs[0], empty]), tmp_path / "reports"
    result = _report(capsys, root, out)
    assert result["rebuilt"] == [jobs[0].job_id] and result["skipped"] == [jobs[1].job_id]
    code, _, err = _cli(capsys, "report", str(write_dataset(tmp_path / "none", [empty])), "-o", str(out))
    assert code == 1 and "has no job with trials" in err


def test_build_reports_checks_stems_and_kept_jobs(tmp_path: Path, fleet: tuple[Path, list[Job]],
                                                 no_plots: None) -> None:
    from hpo_analytics.report import build_reports

    trials = fleet[1][0].trials
    with pytest.raises(ConfigurationError, match="unique file stem"):
        build_reports({"a": {"trials": trials}, "b": {"trials": trials}}, out_dir=tmp_path, stems={"a": "x", "b": "X"})
    with pytest.raises(ConfigurationError, match="unique file stem"):
        build_reports({"a": {"trials": trials}}, out_dir=tmp_path, stems={"a": "../up"})
    with pytest.raises(ConfigurationError, match="not in jobs"):
        build_reports({"a": {"trials": trials}}, out_dir=tmp_path, keep=["b"])
    with pytest.raises(ConfigurationError, match="is missing"):
        build_reports({"a": {"trials": trials}}, out_dir=tmp_path, stems={"a": "job-a"}, keep=["a"])
    build_reports({"a": {"trials": trials}}, out_dir=tmp_path, stems={"a": "job-a"})
    (tmp_path / "job-a.html").write_text("kept", encoding="utf-8")
    build_reports({"a": {"trials": trials}}, out_dir=tmp_path, stems={"a": "job-a"}, keep=["a"])
    assert (tmp_path / "job-a.html").read_text(encoding="utf-8") == "kept"
    assert 'href="job-a.html"' in (tmp_path / "index.html").read_text(encoding="utf-8")


# ---------------------------------------------------------------------- the real writer


def test_a_dataset_written_by_sync_gives_the_reference_layouts_answers(tmp_path: Path) -> None:
    """The query tests' reference writer and ``hpo_analytics.sync`` give the same answers on the same jobs."""
    with Simulator(seed=5, n_trials=30, n_jobs=2, n_iterations=8, auth="any") as sim:
        sim.add_job(n_trials=16, reward_attrs=[{"name": "loss", "mode": "min"}, {"name": "acc", "mode": "max"}])
        sim.add_job(n_trials=16, elapsed=300.0)
        with hpo_analytics.ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token) as client:
            summary = hpo_analytics.sync(client, tmp_path / "synced", all_jobs=True, progress=False)
        reference = write_dataset(tmp_path / "reference", fetch_jobs(sim))
    assert len(summary.fetched) == 4 and not summary.failed
    synced = tmp_path / "synced"
    for name, answer in (("leaderboard", leaderboard), ("job_costs", job_costs), ("param_effects", param_effects)):
        key = ["param"] if name == "param_effects" else ["job_id"]
        got = answer(synced).sort_values(key).reset_index(drop=True)
        want = answer(reference).sort_values(key).reset_index(drop=True)
        assert len(got) > 0, name
        pd.testing.assert_frame_equal(got, want, check_dtype=False, obj=name)
    with open_dataset(synced) as a, open_dataset(reference) as b:
        query = "SELECT job_id, trial_id, value FROM trial_values ORDER BY job_id, trial_id"
        pd.testing.assert_frame_equal(a.execute(query).df(), b.execute(query).df())
