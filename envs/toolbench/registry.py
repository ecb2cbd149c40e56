"""The catalog, its functions and specs for one world seed, built once per process."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from steptool_envs.toolbench import tools_market, tools_media, tools_places, tools_sports
from steptool_envs.toolbench.endpoints import Endpoint, Spec, ToolSpec, build_api
from steptool_envs.toolbench.world import World, build_world
from steptool_gym.catalog import Catalog

__all__ = ["Registry", "build_registry"]


@dataclass(frozen=True, eq=False)
class Registry:
    """Everything static about the synthetic ToolBench: world, catalog, endpoints and specs by function name."""

    world: World
    catalog: Catalog
    endpoints: Mapping[str, Endpoint]
    specs: Mapping[str, Spec]
    tools: Mapping[str, ToolSpec]
    functions_of_tool: Mapping[str, tuple[str, ...]]
    tools_of_category: Mapping[str, tuple[str, ...]]

    @property
    def functions(self) -> dict[str, Callable[..., Any]]:
        return {name: endpoint.call for name, endpoint in self.endpoints.items()}


@functools.lru_cache(maxsize=4)
def build_registry(world_seed: int = 0) -> Registry:
    world = build_world(world_seed)
    tool_specs = [spec for module in (tools_places, tools_media, tools_market, tools_sports)
                  for spec in module.tools(world)]
    apis, endpoints, specs, by_tool, by_category = [], {}, {}, {}, {}
    for tool in tool_specs:
        for spec in tool.apis:
            if spec.handler.param != spec.required[0].key:
                raise ValueError(f"{tool.name}/{spec.api_name}: handler reads {spec.handler.param!r}, "
                                 f"first parameter is {spec.required[0].key!r}")
            api, endpoint = build_api(tool, spec)
            apis.append(api)
            endpoints[api.name] = endpoint
            specs[api.name] = spec
            by_tool.setdefault(tool.name, []).append(api.name)
        by_category.setdefault(tool.category, []).append(tool.name)
    catalog = Catalog(apis, tool_descriptions={t.name: t.description for t in tool_specs})
    return Registry(world, catalog, endpoints, specs, {t.name: t for t in tool_specs},
                    {k: tuple(v) for k, v in by_tool.items()}, {k: tuple(v) for k, v in by_category.items()})
