"""Hydra finds this SearchPathPlugin in the ``hydra_plugins`` namespace package and adds the plugin's presets.

Every ``cnnbench run`` / ``cnnbench sweep`` then sees ``cnnbench_swish_conf/<group>/<name>.yaml`` as the
option ``<group>=<name>``, beside cnnbench's own presets and the registered components.
"""

from __future__ import annotations

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin


class SwishPresets(SearchPathPlugin):
    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        search_path.append(provider="cnnbench-swish", path="pkg://cnnbench_swish_conf")
