"""Task generation in ToolBench's groups and splits.

* G1: one tool; G2: two tools of one category; G3: tools of two or three categories.
* A task asks one to three sub-questions ("… Also, …"). A sub-question about an entity the API knows by id
  chains a lookup first (search by name → id → details), so the gold graph has dependencies. In G2 and G3
  some sub-questions bridge two tools: one tool's answer names the entity the other is asked about ("the
  weather in the capital of Japan": REST Countries → capital → a weather tool).
* Candidate APIs: the gold functions plus distractors (other APIs of the same tools, then of the same
  categories), at least five, shuffled deterministically.
* Splits: ``test_category`` uses only `HELD_OUT_CATEGORIES`; ``test_tool`` only the held-out tools of the other
  categories (the last one or two of each); ``train`` and ``test_instruction`` the remaining tools, with
  ``test_instruction`` gold graphs never seen in ``train``.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from steptool_envs.toolbench.gold import Gold, GoldNode, norm_answer
from steptool_envs.toolbench.keys import call_key
from steptool_envs.toolbench.registry import Registry
from steptool_envs.toolbench.world import Collection, Record, norm_text
from steptool_gym.suite import Task

__all__ = ["BRIDGES", "GROUPS", "HELD_OUT_CATEGORIES", "SIZES", "SPLITS", "dig", "fact_text", "generate", "signatures",
           "split_tools"]

GROUPS = ("G1", "G2", "G3")
SPLITS = ("train", "test_instruction", "test_tool", "test_category")
HELD_OUT_CATEGORIES = ("Food", "Education")
SIZES = {"train": {"G1": 1200, "G2": 900, "G3": 900}, "test_instruction": dict.fromkeys(GROUPS, 150),
         "test_tool": dict.fromkeys(GROUPS, 150), "test_category": dict.fromkeys(GROUPS, 150)}
MAX_STEPS = 12  # the env's default: every task's oracle (retries and Finish included) fits in it
BRIDGE_SHARE = 0.3  # of G2/G3 tasks built around a bridge
# (source function, response path naming an entity, collection of that entity, how the query refers to it)
BRIDGES = (
    ("name_for_rest_countries", "capital", "cities", "the capital of {e}"),
    ("club_profile_for_transfermarkt", "city", "cities", "the home city of {e}"),
    ("airport_by_iata_for_airport_info", "city", "cities", "the city served by airport {e}"),
    ("get_overview_for_imdb", "director", "people", "the director of {e}"),
    ("movie_credits_for_movie_database_tmdb", "cast.0", "people", "the lead actor of {e}"),
    ("book_rating_for_goodreads", "author", "authors", "the author of {e}"),
    ("track_details_for_shazam", "subtitle", "artists", "the artist who sings {e}"),
    ("album_info_for_billboard_api", "artist", "artists", "the artist behind the album {e}"),
    ("artist_for_deezer", "country", "countries", "the home country of {e}"),
    ("lookup_player_for_thesportsdb", "strNationality", "countries", "the home country of {e}"),
    ("author_info_for_goodreads", "nationality", "countries", "the home country of {e}"),
    ("player_by_name_for_player_profiles", "team", "teams", "the team of {e}"),
)
_PREFIXES = ("", "", "Hi! ", "Hello. ", "I need some help. ", "Quick question: ", "I'm preparing a report. ",
             "Could you help me out? ")
_JOINS = (" Also, ", " And also, ", " In addition, ", " Besides that, ", " On top of that, ")


@dataclass(frozen=True)
class _Intent:
    """One sub-question: its sentence, gold calls (name, arguments, local dependencies) and facts."""

    sentence: str
    mention: str
    calls: tuple[tuple[str, dict[str, Any], tuple[int, ...]], ...]
    facts: tuple[tuple[str, str], ...]  # (label, value)
    paths: tuple[str, ...]  # each fact's path in the answering call's response


def split_tools(registry: Registry) -> dict[str, tuple[str, ...]]:
    """Tool names each split may use (gold and distractors alike)."""
    train, held = [], []
    for category, tools in registry.tools_of_category.items():
        if category in HELD_OUT_CATEGORIES:
            continue
        cut = len(tools) - (2 if len(tools) >= 5 else 1)
        train += tools[:cut]
        held += tools[cut:]
    category = [t for c in HELD_OUT_CATEGORIES for t in registry.tools_of_category[c]]
    return {"train": tuple(train), "test_instruction": tuple(train), "test_tool": tuple(held),
            "test_category": tuple(category)}


def fact_text(value: Any) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def dig(value: Any, path: str) -> Any:
    """The value at a dotted path (list indexes as numbers), or None where the response is shorter."""
    for part in path.split("."):
        if isinstance(value, list):
            index = int(part)
            value = value[index] if index < len(value) else None
        elif isinstance(value, dict):
            value = value.get(part)
    return value


class _Generator:
    """Builds sub-questions and tasks from the registry's specs (lookups and bridges precomputed)."""

    def __init__(self, registry: Registry) -> None:
        self.reg = registry
        self.resolver: dict[str, str | None] = {name: self._find_resolver(name) for name in registry.specs}
        self.askable = {tool: self._askable(tool) for tool in registry.functions_of_tool}
        # (source tool, target tool) -> [(bridge, target function)]
        self.bridges: dict[tuple[str, str], list[tuple[tuple[str, str, Collection, str], str]]] = {}
        for source, path, collection, phrase in BRIDGES:
            coll = getattr(registry.world, collection)
            source_tool = registry.catalog[source].tool_name
            for tool, names in self.askable.items():
                for name in names:
                    if tool != source_tool and registry.specs[name].handler.coll is coll and not self._plain(name):
                        self.bridges.setdefault((source_tool, tool), []).append(((source, path, coll, phrase), name))

    def _find_resolver(self, name: str) -> str | None:
        """The same tool's API that turns the entity's name into the id `name` needs (None if not needed)."""
        handler = self.reg.specs[name].handler
        tool = self.reg.catalog[name].tool_name
        best = None
        for other in self.reg.functions_of_tool[tool]:
            h = self.reg.specs[other].handler
            out = getattr(h, "out", {})
            if other == name or not h.by_name or h.coll is not handler.coll or handler.key_field not in out.values():
                continue
            if out.get(handler.param) == handler.key_field:  # same field name: an agent can copy it across
                return other
            best = best or other
        return best

    def _askable(self, tool: str) -> list[str]:
        """Functions of `tool` that can answer a sub-question on their own or after their lookup."""
        out = []
        for name in self.reg.functions_of_tool[tool]:
            spec = self.reg.specs[name]
            if spec.asks and (spec.handler.by_name or self.resolver[name] or self._plain(name)):
                out.append(name)
        return out

    def _plain(self, name: str) -> bool:
        handler = self.reg.specs[name].handler
        return handler.key_field not in (handler.coll.id_field, handler.coll.name_field)

    def intent(self, name: str, rng: random.Random, record: Record | None = None,
               mention: str = "") -> _Intent | None:
        """A sub-question answered by `name` about a random entity, or about `record` called `mention`."""
        spec = self.reg.specs[name]
        endpoint = self.reg.endpoints[name]
        if record is None:
            args, mention, record = spec.handler.sample(rng)
        else:
            args = {spec.handler.param: record[spec.handler.key_field]}
        calls: list[tuple[str, dict[str, Any], tuple[int, ...]]] = []
        if record is not None and not spec.handler.by_name:
            resolver = self.resolver[name]
            if resolver is None:
                return None
            rh = self.reg.specs[resolver].handler
            calls.append((resolver, {rh.param: record[rh.key_field]}, ()))
        calls.append((name, args, (len(calls) - 1,) if calls else ()))
        response = spec.handler.respond({**endpoint.defaults, **args})
        sentence = rng.choice(spec.asks).format(e=mention)
        query = norm_answer(sentence)
        facts, paths = [], []
        for path in spec.facts:
            value = dig(response, path)
            text = fact_text(value)
            if value is None or isinstance(value, bool) or not text.strip() or norm_answer(text) in query:
                continue  # a fact the query already states (or a yes/no) proves nothing
            facts.append((path.rsplit(".", 1)[-1].replace("_", " "), text))
            paths.append(path)
        return _Intent(sentence, mention, tuple(calls), tuple(facts), tuple(paths)) if facts else None

    def bridge(self, source_tool: str, target_tool: str, rng: random.Random) -> _Intent | None:
        """A sub-question about the entity that a question to `source_tool` names (see `BRIDGES`)."""
        (source_name, path, coll, phrase), target_name = rng.choice(self.bridges[source_tool, target_tool])
        source = self.intent(source_name, rng)
        if source is None:
            return None
        endpoint = self.reg.endpoints[source_name]
        value = dig(endpoint.handler.respond({**endpoint.defaults, **source.calls[-1][1]}), path)
        ids = coll.by_name.get(norm_text(str(value))) if value is not None else None
        if not ids:
            return None
        target = self.intent(target_name, rng, coll.records[ids[0]], phrase.format(e=source.mention))
        if target is None:
            return None
        # The target's first call takes its argument from the source's last response.
        offset = len(source.calls)
        calls = source.calls + tuple((name, args, tuple(d + offset for d in deps) or (offset - 1,))
                                     for name, args, deps in target.calls)
        return _Intent(target.sentence, target.mention, calls, target.facts, target.paths)

    def task(self, tools: Sequence[str], n_intents: int, pool: Sequence[str], rng: random.Random,
             task_id: str, group: str, split: str, bridged: bool = False) -> Task | None:
        intents: list[_Intent] = []
        if bridged:
            intent = self.bridge(tools[0], tools[1], rng)
            if intent is None:
                return None
            intents.append(intent)
        for i in range(2 if bridged else 0, n_intents):
            tool = tools[i % len(tools)]
            choices = self.askable[tool]
            intent = self.intent(rng.choice(choices), rng)
            if intent is None or any(intent.mention == other.mention and intent.calls[-1][0] == other.calls[-1][0]
                                     for other in intents):
                return None
            intents.append(intent)
        nodes: list[GoldNode] = []
        keys: dict[Any, int] = {}
        for intent in intents:
            local: list[int] = []
            for name, args, deps in intent.calls:
                key = call_key(name, args, self.reg.endpoints[name].norm_defaults)
                if key not in keys:  # two sub-questions may share a lookup
                    keys[key] = len(nodes)
                    nodes.append(GoldNode(name, args, tuple(local[d] for d in deps), key))
                local.append(keys[key])
        retries = sum(self.reg.endpoints[n.name].fails_first(n.arguments) for n in nodes)
        if len(nodes) + retries + 1 > MAX_STEPS:
            return None
        sentences = [intents[0].sentence] + [_lower_first(i.sentence) for i in intents[1:]]
        joins = rng.sample(_JOINS, len(sentences) - 1)
        query = rng.choice(_PREFIXES) + sentences[0] + "".join(j + s for j, s in zip(joins, sentences[1:]))
        answer = " ".join(f"For {i.mention}: " + "; ".join(f"{label} is {value}" for label, value in i.facts) + "."
                          for i in intents)
        facts = tuple(dict.fromkeys(v for i in intents for _, v in i.facts))
        gold = Gold(tuple(nodes), facts, answer, tuple(i.mention for i in intents))
        # Arguments of calls that need no earlier output are all stated in the query.
        query_values = tuple(dict.fromkeys(v for n in nodes if not n.depends_on for v in n.arguments.values()))
        # What each sub-question asks (the answering function, the entity as the query names it, the fields'
        # labels and response paths; never their values): the admissible Finish reads these from the responses.
        asks = tuple((i.calls[-1][0], i.mention, tuple(zip((label for label, _ in i.facts), i.paths, strict=True)))
                     for i in intents)
        return Task(task_id, query, self._candidates(gold, tools, pool, rng), group, split, gold,
                    {"tools": tuple(dict.fromkeys(tools)), "query_values": query_values, "asks": asks})

    def _candidates(self, gold: Gold, tools: Sequence[str], pool: Sequence[str], rng: random.Random) -> tuple[str, ...]:
        names = list(dict.fromkeys(n.name for n in gold.nodes))
        want = min(10, max(5, len(names) + 2))
        near = [f for t in dict.fromkeys(tools) for f in self.reg.functions_of_tool[t] if f not in names]
        categories = {self.reg.tools[t].category for t in tools}
        far = [f for t in pool if t not in tools and self.reg.tools[t].category in categories
               for f in self.reg.functions_of_tool[t]]
        rest = [f for t in pool if self.reg.tools[t].category not in categories for f in self.reg.functions_of_tool[t]]
        for distractors in (near, far, rest):  # nearest first; other categories only when a category is small
            rng.shuffle(distractors)
            names += distractors[:max(0, want - len(names))]
        rng.shuffle(names)
        return tuple(names)


def _lower_first(sentence: str) -> str:
    if sentence.startswith(("I ", "I'")):
        return sentence
    return sentence[:1].lower() + sentence[1:]


def _signature(task: Task) -> tuple[Any, ...]:
    return tuple(sorted(repr(n.key) for n in task.gold.nodes))


def _group_tools(gen: _Generator, group: str, pool: Sequence[str], rng: random.Random) -> tuple[list[str], bool]:
    """The tools of one task and whether the first two are bridged."""
    by_category: dict[str, list[str]] = {}
    for tool in pool:
        if gen.askable[tool]:
            by_category.setdefault(gen.reg.tools[tool].category, []).append(tool)
    category_of = {t: c for c, ts in by_category.items() for t in ts}
    if group == "G1":
        return [rng.choice([t for ts in by_category.values() for t in ts])], False
    if rng.random() < BRIDGE_SHARE:
        pairs = [(a, b) for a, b in gen.bridges if a in category_of and b in category_of
                 and (category_of[a] == category_of[b]) == (group == "G2")]
        if pairs:
            tools = list(rng.choice(pairs))
            others = sorted(set(by_category) - {category_of[t] for t in tools})
            if group == "G3" and others and rng.random() < 0.5:
                tools.append(rng.choice(by_category[rng.choice(others)]))
            return tools, True
    if group == "G2":
        category = rng.choice([c for c, ts in by_category.items() if len(ts) >= 2])
        return rng.sample(by_category[category], 2), False
    categories = rng.sample(sorted(by_category), min(len(by_category), rng.choice((2, 2, 3))))
    return [rng.choice(by_category[c]) for c in categories], False


def generate(registry: Registry, split: str, group: str, world_seed: int,
             exclude: Mapping[tuple[Any, ...], None] | None = None) -> list[Task]:
    """The tasks of one split and group, in a fixed order (ids ``<group>-<split>-<00042>``)."""
    gen = _Generator(registry)
    pool = split_tools(registry)[split]
    rng = random.Random(f"steptool-toolbench-tasks-{world_seed}-{split}-{group}")
    seen: dict[tuple[Any, ...], None] = dict(exclude or {})
    tasks: list[Task] = []
    size = SIZES[split][group]
    attempts = 0
    while len(tasks) < size:
        attempts += 1
        if attempts > size * 50:
            raise RuntimeError(f"Could not generate {size} distinct {group}/{split} tasks")
        tools, bridged = _group_tools(gen, group, pool, rng)
        n_intents = len(tools) if group == "G3" else rng.choice((1, 1, 2)) if group == "G1" else rng.choice((2, 2, 3))
        task = gen.task(tools, n_intents, pool, rng, f"{group}-{split}-{len(tasks):05d}", group, split, bridged)
        if task is None or _signature(task) in seen:
            continue
        seen[_signature(task)] = None
        tasks.append(task)
    return tasks


def signatures(tasks: Sequence[Task]) -> dict[tuple[Any, ...], None]:
    """The gold-graph signatures of `tasks` (what `generate` excludes for ``test_instruction``)."""
    return {_signature(t): None for t in tasks}
