"""Response builders for the synthetic APIs: small picklable objects over `World` collections.

Each handler's ``respond(arguments)`` gets the call's arguments with optional defaults filled in and returns a
JSON-serialisable response, or raises `ToolError` (unknown ids). Handlers are pure: flakiness is added by
`Endpoint` (see `endpoints.py`), so task generation can compute gold answers by calling ``respond`` directly.
`Handler.sample` draws the arguments, the query's mention and the record of one sub-question; `by_name` says
whether the main argument is the entity's name (else an id that a search must supply first).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from typing import Any

from steptool_envs.toolbench.world import Collection, Record, World, norm_text
from steptool_gym.backends import ToolError
from steptool_gym.status import Status

__all__ = [
    "ByField",
    "Convert",
    "Detail",
    "Embedded",
    "Flights",
    "Handler",
    "Related",
    "Search",
    "project",
]

Out = Mapping[str, Any]  # response key -> record field, or a nested Out


def project(record: Record, out: Out) -> dict[str, Any]:
    """The response object for `record`: each key of `out` filled from the named field (nested allowed)."""
    return {k: (record[f] if isinstance(f, str) else project(record, f)) for k, f in out.items()}


def _page(items: list[Any], page: Any, size: int) -> dict[str, Any]:
    try:
        number = max(1, int(page))
    except (TypeError, ValueError):
        raise ToolError(f"Invalid page {page!r}: expected a positive integer", Status.INPUT_ERROR) from None
    start = (number - 1) * size
    return {"page": number, "total": len(items), "has_more": start + size < len(items),
            "results": items[start:start + size]}


class Handler:
    """Base class: `coll` is the collection the main argument identifies, `param` that argument's name."""

    coll: Collection
    param: str
    key_field: str  # the record field the main argument carries (an id, or the name itself)

    def respond(self, arguments: Mapping[str, Any]) -> Any:
        raise NotImplementedError

    def sample(self, rng: random.Random) -> tuple[dict[str, Any], str, Record | None]:
        """Arguments of one intent, the entity text the query mentions, and the record (for the lookup)."""
        record = rng.choice(list(self.coll.records.values()))
        return {self.param: record[self.key_field]}, record[self.coll.name_field], record

    @property
    def by_name(self) -> bool:
        return self.key_field == self.coll.name_field

    def _record(self, arguments: Mapping[str, Any]) -> Record:
        value = arguments[self.param]
        if self.by_name:
            ids = self.coll.by_name.get(norm_text(str(value)))
            record = self.coll.records[ids[0]] if ids else None
        else:
            record = self.coll.get(value)
        if record is None:
            raise ToolError(f"No {self.key_field} matches '{str(value)[:64]}'", Status.MESSAGE_ERROR)
        return record


class Search(Handler):
    """Name search: exact (normalised) matches, else substring matches unless the boolean `exact_param` is
    set; an empty list for unknown names."""

    def __init__(self, coll: Collection, param: str, out: Out, wrap: str | None = "results",
                 exact_param: str | None = None) -> None:
        self.coll, self.param, self.out, self.wrap, self.exact_param = coll, param, out, wrap, exact_param
        self.key_field = coll.name_field

    def respond(self, arguments: Mapping[str, Any]) -> Any:
        exact = self.exact_param is not None and arguments.get(self.exact_param) in (True, "true", "True")
        items = [project(r, self.out) for r in self.coll.find(str(arguments[self.param]), exact)]
        return items if self.wrap is None else {self.wrap: items, "count": len(items)}


class Detail(Handler):
    """One record by id (or by exact name with ``by="name"``); unknown keys are an API error."""

    def __init__(self, coll: Collection, param: str, out: Out, by: str = "id") -> None:
        self.coll, self.param, self.out = coll, param, out
        self.key_field = coll.name_field if by == "name" else coll.id_field

    def respond(self, arguments: Mapping[str, Any]) -> Any:
        return project(self._record(arguments), self.out)


class Related(Handler):
    """A paginated list of records linked from one record (``record[link]`` holds ids of `target`)."""

    def __init__(self, coll: Collection, param: str, link: str, target: Collection, out: Out,
                 page_size: int = 5) -> None:
        self.coll, self.param, self.link, self.target, self.out = coll, param, link, target, out
        self.key_field, self.page_size = coll.id_field, page_size

    def respond(self, arguments: Mapping[str, Any]) -> Any:
        records = self.target.records
        items = [project(records[i], self.out) for i in self._record(arguments)[self.link]]
        return _page(items, arguments.get("page", 1), self.page_size)


class Embedded(Handler):
    """A list stored inside one record (forecast days, price history), optionally cut by a count argument."""

    def __init__(self, coll: Collection, param: str, field: str, count_param: str | None = None,
                 header: Out | None = None, by: str = "id") -> None:
        self.coll, self.param, self.field, self.count_param = coll, param, field, count_param
        self.key_field = coll.name_field if by == "name" else coll.id_field
        self.header = header or {}

    def respond(self, arguments: Mapping[str, Any]) -> Any:
        record = self._record(arguments)
        items = record[self.field]
        if self.count_param is not None:
            try:
                items = items[:max(1, int(arguments.get(self.count_param, len(items))))]
            except (TypeError, ValueError):
                raise ToolError(f"'{self.count_param}' must be a positive integer", Status.INPUT_ERROR) from None
        return {**project(record, self.header), self.field: [dict(i) for i in items]}


class ByField(Handler):
    """Records of `coll` whose `field` equals the argument, paginated; `ref` names the collection the value
    identifies (e.g. hotels by ``city_id`` of a city), or None for plain values (a cuisine, a sector)."""

    def __init__(self, coll: Collection, field: str, param: str, out: Out, ref: Collection | None = None,
                 page_size: int = 5) -> None:
        self.records, self.field, self.param, self.out, self.page_size = coll, field, param, out, page_size
        self.index: dict[Any, list[Record]] = {}
        for r in coll.records.values():
            value = r[field]
            self.index.setdefault(norm_text(value) if isinstance(value, str) else value, []).append(r)
        self.coll = ref if ref is not None else coll
        self.key_field = field if ref is None else ref.id_field

    def respond(self, arguments: Mapping[str, Any]) -> Any:
        value = arguments[self.param]
        if isinstance(value, str):
            value = norm_text(value)
            if value.lstrip("-").isdigit() and value not in self.index:
                value = int(value)
        items = [project(r, self.out) for r in self.index.get(value, ())]
        return _page(items, arguments.get("page", 1), self.page_size)

    @property
    def by_name(self) -> bool:
        return self.coll is self.records

    def sample(self, rng: random.Random) -> tuple[dict[str, Any], str, Record | None]:
        if self.coll is self.records:  # a plain value: the query names it directly
            record = rng.choice(list(self.records.records.values()))
            return {self.param: record[self.field]}, str(record[self.field]), None
        keys = [k for k in self.coll.records if (norm_text(k) if isinstance(k, str) else k) in self.index]
        record = self.coll.records[rng.choice(keys)]
        return {self.param: record[self.key_field]}, record[self.coll.name_field], record


class Convert(Handler):
    """Currency conversion through USD rates; `amount_param` None gives the bare exchange rate."""

    def __init__(self, world: World, src: str, dst: str, amount_param: str | None, out_keys: tuple[str, ...]) -> None:
        self.coll, self.src, self.dst, self.amount_param = world.currencies, src, dst, amount_param
        self.out_keys = out_keys
        self.param, self.key_field = src, world.currencies.id_field

    def _rate(self, arguments: Mapping[str, Any]) -> tuple[str, str, float]:
        codes = []
        for p in (self.src, self.dst):
            code = str(arguments[p]).strip().upper()
            if code not in self.coll.records:
                raise ToolError(f"Unsupported currency code '{code[:16]}'", Status.MESSAGE_ERROR)
            codes.append(code)
        rates = self.coll.records
        return codes[0], codes[1], rates[codes[1]]["per_usd"] / rates[codes[0]]["per_usd"]

    def respond(self, arguments: Mapping[str, Any]) -> Any:
        src, dst, rate = self._rate(arguments)
        values: list[Any] = [src, dst, round(rate, 4)]
        if self.amount_param is not None:
            try:
                amount = float(arguments[self.amount_param])
            except (TypeError, ValueError):
                raise ToolError(f"'{self.amount_param}' must be a number", Status.INPUT_ERROR) from None
            values += [amount, round(amount * rate, 2)]
        return dict(zip(self.out_keys, values))

    def sample(self, rng: random.Random) -> tuple[dict[str, Any], str, Record | None]:
        src, dst = rng.sample(sorted(self.coll.records), 2)
        args: dict[str, Any] = {self.src: src, self.dst: dst}
        mention = f"{src} to {dst}"
        if self.amount_param is not None:
            args[self.amount_param] = rng.choice((50, 100, 120, 250, 500, 750, 1000, 1500, 2000))
            mention = f"{args[self.amount_param]} {src} to {dst}"
        return args, mention, None


class Flights(Handler):
    """Flights between two airports on a date, derived from a hash of the route so every query is stable."""

    def __init__(self, world: World, origin: str, dest: str, date: str, out: Out) -> None:
        self.coll, self.origin, self.dest, self.date, self.out = world.airports, origin, dest, date, out
        self.param, self.key_field = origin, world.airports.id_field

    def respond(self, arguments: Mapping[str, Any]) -> Any:
        origin, dest = (str(arguments[p]).strip().upper() for p in (self.origin, self.dest))
        for code in (origin, dest):
            if code not in self.coll.records:
                raise ToolError(f"Unknown airport code '{code[:8]}'", Status.MESSAGE_ERROR)
        date = str(arguments[self.date]).strip()
        seed = hashlib.blake2b(f"{origin}|{dest}|{date}".encode(), digest_size=8).digest()
        rng = random.Random(seed)
        flights = []
        for _ in range(rng.randint(2, 4)):
            airline = rng.choice(("SkyLark", "AeroNova", "Bluejet", "Polaris Air", "Meridian Airways"))
            flights.append({"flight_number": f"{airline[:2].upper()}{rng.randint(100, 9999)}", "airline": airline,
                            "departure": f"{date}T{rng.randint(5, 22):02d}:{rng.choice((0, 15, 30, 45)):02d}",
                            "duration_min": rng.randint(55, 900), "stops": rng.randint(0, 2),
                            "price_usd": round(rng.uniform(60, 1800), 2)})
        flights.sort(key=lambda f: f["price_usd"])
        return {"origin": origin, "destination": dest, "date": date,
                "flights": [project(f, self.out) for f in flights]}

    def sample(self, rng: random.Random) -> tuple[dict[str, Any], str, Record | None]:
        a, b = rng.sample(sorted(self.coll.records), 2)
        date = f"2024-08-{rng.randint(1, 28):02d}"
        return {self.origin: a, self.dest: b, self.date: date}, f"{a} to {b} on {date}", None
