"""The public surface: a sorted __all__ whose names all exist and are documented."""

from __future__ import annotations

import hpo_analytics


def test_all_is_sorted_and_exported() -> None:
    names = hpo_analytics.__all__
    assert names == sorted(names)
    for name in names:
        assert hasattr(hpo_analytics, name), name


def test_public_callables_have_docstrings() -> None:
    for name in hpo_analytics.__all__:
        obj = getattr(hpo_analytics, name)
        if callable(obj):
            assert obj.__doc__, name
