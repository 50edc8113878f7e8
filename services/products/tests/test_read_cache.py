"""The public reads' cache: entries expire after their TTL, a write drops its entry (also under a read in flight), the
size stays bounded."""

from __future__ import annotations

from products.read_cache import ReadCache


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_and_drops_take_effect_at_once() -> None:
    clock, loads = Clock(), []
    store = {"a": "v1"}

    def load(key: str) -> str | None:
        loads.append(key)
        return store.get(key)

    cache: ReadCache[str] = ReadCache(2.0, max_entries=10, clock=clock)
    assert cache.get("a", load) == "v1" and cache.get("a", load) == "v1" and loads == ["a"]
    store["a"] = "v2"
    clock.now = 1.9
    assert cache.get("a", load) == "v1"  # within the staleness bound
    clock.now = 2.1
    assert cache.get("a", load) == "v2" and loads == ["a", "a"]
    store["a"] = "v3"
    cache.drop("a")  # the writing replica's own change
    assert cache.get("a", load) == "v3"


def test_a_read_racing_a_write_does_not_cache_the_old_value() -> None:
    """The load read the product before the write committed; the write's drop came before the load returned."""
    cache: ReadCache[str] = ReadCache(60.0, max_entries=10, clock=Clock())
    store = {"a": "v1"}

    def load_then_write(key: str) -> str | None:
        old = store[key]
        store[key] = "v2"
        cache.drop(key)  # the writer's drop, while this read is still in flight
        return old

    assert cache.get("a", load_then_write) == "v1"  # answered (it was current when read) ...
    assert cache.get("a", store.get) == "v2"  # ... but not kept


def test_missing_values_are_not_cached_and_size_is_bounded() -> None:
    store: dict[str, str] = {}
    cache: ReadCache[str] = ReadCache(60.0, max_entries=2, clock=Clock())
    assert cache.get("new", store.get) is None
    store.update(new="x", b="y", c="z")
    assert cache.get("new", store.get) == "x"  # a 404 was not remembered
    cache.get("b", store.get)
    cache.get("c", store.get)
    store["new"] = "changed"
    assert cache.get("new", store.get) == "changed"  # the oldest entry was evicted
