"""A local ModelArts-compatible HTTP server for autosearch jobs.

``Simulator`` serves, on a loopback port, the endpoints ``hpo_analytics``
uses, over simulated jobs from :mod:`hpo_analytics.simulator.synthetic`::

    with Simulator(seed=0, n_trials=200, auth="any") as sim:
        httpx.get(f"{sim.url}/v2/{sim.project_id}/training-jobs/{sim.job_ids[0]}"
                  "/autosearch-trials", headers={"X-Auth-Token": sim.token})
        sim.advance(600)                 # ten simulated minutes pass
        sim.faults = Faults(rate_limit_next=2)

Endpoints (``{p}`` = ``sim.project_id``, ``{j}`` = a job id)
    * ``GET  /v2/{p}/training-jobs/{j}/autosearch-trials?limit=&offset=``
    * ``GET  /v2/{p}/training-jobs/{j}/autosearch-trials/{trial_id}``
    * ``POST /v2/{p}/training-jobs/{j}/autosearch-trial-earlystop/{trial_id}``
    * ``GET  /v2/{p}/search-algorithms`` (the documented 3-algorithm catalogue)
    * ``GET  /v2/{p}/training-jobs/{j}`` (job details, ``kind: autosearch_job``)
    * ``POST /v2/{p}/training-job-searches`` (``JobSearches`` body)
    * ``GET  /v2/{p}/training-jobs/{j}/autosearch-parameter-analysis``

Behavioural choices (where the documentation is silent, this is a guess,
chosen to be plausible and to exercise the client):

* **Paging of autosearch-trials.** ``offset_mode="records"``: ``offset`` is a
  record offset; ``"pages"``: it is a page index (rows ``offset*limit`` onward).
  Either way the response echoes ``offset`` and ``limit`` as sent, ``count``
  is the number of rows on the page, ``total`` the number of trials now, and a
  page past the end is empty. ``limit`` defaults to 50 and must be 1..
  ``max_page_size`` (1000); ``offset`` defaults to 0 and must be >= 0; other
  values answer 400 ``ModelArts.2764``. With ``page_size_cap`` set, a larger
  ``limit`` is silently cut to the cap (also for the page-index arithmetic);
  the response echoes the requested ``limit`` unless ``echo_capped_limit``.
  Trials are listed in creation order;
  the leading ``""`` column is the row's position in the whole listing.
* **Trial progress.** Simulated time only moves with :meth:`Simulator.advance`
  (or ``time_per_request``); it never follows the wall clock. Trials start in
  creation order, at most ``max_concurrent`` at once, report one iteration
  every ~20 simulated seconds, and end ``TERMINATED`` (``done "True"``) or,
  for about ``error_rate`` of them, ``ERROR`` (``done "False"``). Pending
  trials are listed with empty metric cells. ``elapsed=None`` (the default)
  starts the server with every trial finished.
* **Per-trial history.** One row per reported iteration; ``done`` is
  ``"True"`` only on the last row of a ``TERMINATED`` trial. A trial with no
  report yet answers 200 with ``"data": []``.
* **Early stop.** 200 ``{"earlystop_trial": id}`` for a ``RUNNING`` trial (it
  keeps its reported iterations, stops at once and ends ``TERMINATED``) and
  for a ``PENDING`` one (it never starts and ends ``TERMINATED`` with no
  reports). A trial that has already finished - ``TERMINATED``, ``ERROR``, or
  stopped before - answers **409 ``ModelArts.2796``** (NotAllowedToTerminate,
  the closest documented code); early stop is therefore *not* idempotent.
  An unknown trial answers **404 ``ModelArts.2762``** (a code chosen here, the
  documents name none); an unknown job answers **400 ``ModelArts.2775``**
  (TrainingJobNotFound) on every job endpoint.
* **Job search.** ``offset`` is a page number, ``limit`` 1..50 (default 10),
  else 400 ``ModelArts.2788``. Filter keys ``name`` (``like``: substring,
  ``in``, ``not``), ``phase`` and ``kind`` (``in``/``not``, case-insensitive),
  ``create_time`` (``between`` two epoch-ms strings, an empty bound is open),
  ``algorithm_name`` (the job's ``algo_configs`` algorithm) and ``user_id`` (every job matches an empty
  value). A filter whose values are all empty strings is ignored (the
  documented example sends such filters). Another key answers 400
  ``ModelArts.2807``, another operator 400 ``ModelArts.2808``. Sorted by
  ``create_time`` (or ``name``), ``desc`` unless ``order`` is ``asc``.
* **Parameter analysis.** ``{"header": ["parameters", "the mean/std of
  importance"], "data": [[name, "mean/std"], ...]}``, computed from the
  ground truth over finished trials (see
  :meth:`hpo_analytics.simulator.synthetic.SimulatedJob.parameter_analysis`).
* **Auth.** ``auth="token"``: ``X-Auth-Token`` must equal ``sim.token``;
  ``"aksk"``: an ``SDK-HMAC-SHA256`` ``Authorization`` header signed with
  ``sim.ak``/``sim.sk`` over the headers it names (``x-sdk-date`` must be one);
  ``"any"``: either. Failures answer 401 ``APIG.0301``. The ``X-Sdk-Date``
  clock skew is only checked when ``max_clock_skew`` is set (then 401
  ``APIG.0303``), and keys are never locked out.
  A ``project_id`` in the path other than ``sim.project_id`` answers 404
  ``ModelArts.2786``. Unknown paths or methods answer 404 ``APIG.0101``.
* **Every response** carries ``X-Request-Id`` (error bodies repeat it as
  ``request_id``), ``Content-Type: application/json`` (``text/html`` for the
  non-JSON fault) and ``Content-Length`` (HTTP/1.1 keep-alive).
* **Job phase** is ``Running`` while any trial is pending or running, then
  ``Completed``; ``duration`` is the simulated time in milliseconds.
* **Request bodies** of the bodiless endpoints (early stop) are ignored; a
  ``Retry-After`` given as a fraction (``Faults(retry_after=0.2)``) is sent as
  ``"0.2"`` (not valid HTTP, but it keeps tests fast; use whole seconds to be
  strict).
* **Faults** (:class:`Faults`, replaceable at run time via ``sim.faults``) are
  applied before routing and auth, in this order: latency (a real sleep in the
  handler thread; ``Simulator(sleep=...)`` replaces it), dropped connection, 429, 5xx, other error, non-JSON body;
  then the request is served and an emptied page, a truncated body or
  inserted trials apply. ``*_next`` counters count
  down per affected request. ``path_contains`` limits all faults to matching
  paths. Each request is logged in ``sim.requests`` with the status sent
  (``None`` when the connection was dropped) and the fault applied.

Modules: ``_server`` (:class:`Simulator`: lifecycle, jobs, request log),
``_http`` (server, handler, routes), ``_auth`` (token and AK/SK checks),
``_search`` (training-job search), ``_faults`` (:class:`Faults` and the error
answers they cause), ``_catalogue`` (:data:`SEARCH_ALGORITHMS`), ``_wire``
(the response value and the private error that becomes an HTTP error answer)
and :mod:`hpo_analytics.simulator.synthetic`, the seeded job generator.
"""

from __future__ import annotations

from ._catalogue import SEARCH_ALGORITHMS
from ._faults import Faults
from ._http import TRIAL_NOT_FOUND  # noqa: F401 - the 404 code of an unknown trial, importable here as before
from ._server import RequestRecord, Simulator

__all__ = ["SEARCH_ALGORITHMS", "Faults", "RequestRecord", "Simulator"]
