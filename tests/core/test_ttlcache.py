from __future__ import annotations

from typing import Any

from touchflow.core.ttlcache import TTLCache
from touchflow.integrations.actions import authenticate, create_token, revoke_token


def test_entries_are_reused_until_cleared(settings: Any) -> None:
    settings.TOUCHFLOW_CACHE_SECONDS = 60
    cache: TTLCache[str, int] = TTLCache()
    loads = []

    def load() -> int:
        loads.append(1)
        return len(loads)

    assert [cache.get("k", load), cache.get("k", load)] == [1, 1]
    cache.clear()
    assert cache.get("k", load) == 2


def test_zero_seconds_means_no_caching(settings: Any) -> None:
    settings.TOUCHFLOW_CACHE_SECONDS = 0
    cache: TTLCache[str, int] = TTLCache()
    assert [cache.get("k", lambda: 1), cache.get("k", lambda: 2)] == [1, 2]


def test_a_token_is_read_once_and_revocation_in_this_process_is_immediate(
    db: None, settings: Any, django_assert_num_queries: Any
) -> None:
    settings.TOUCHFLOW_CACHE_SECONDS = 60
    _token, secret = create_token("pos")
    with django_assert_num_queries(1):
        assert authenticate(secret) is not None
        assert authenticate(secret) is not None
    revoke_token("pos")
    assert authenticate(secret) is None


def test_the_named_salesperson_is_read_once_per_store(
    settings: Any, salesperson: Any, store: Any, django_assert_num_queries: Any
) -> None:
    from touchflow.api.scope import staff_named

    settings.TOUCHFLOW_CACHE_SECONDS = 60
    with django_assert_num_queries(1):
        assert staff_named("sam", store) == salesperson
        assert staff_named("sam", store) == salesperson
    # The cached answer still carries the membership the query proved.
    with django_assert_num_queries(0):
        assert staff_named("sam", store).works_in(store)
