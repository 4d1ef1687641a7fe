"""`bench plugins`: list the plugins and the components they register."""
from __future__ import annotations

import argparse
import json
from typing import Any

from ..arguments import add_plugin_args, load_plugins
from .common import EXIT_OK, short


def add_parser(sub: Any) -> None:
    plug = sub.add_parser("plugins", help="list plugins and the components they register")
    add_plugin_args(plug)
    plug.add_argument("--json", action="store_true", help="machine-readable output")


def run(args: argparse.Namespace) -> int:
    plugins = load_plugins(args)
    rows = []
    for kind, registry in plugins.registries.items():
        for name in registry.names():
            entry = registry.entries[name]
            rows.append({"kind": kind, "name": name, "version": entry.version,
                         "plugin": entry.origin, "package": entry.package,
                         "description": getattr(entry.obj, "description", "")})
        for name, entries in registry.conflicts.items():
            for entry in entries[1:]:
                rows.append({"kind": kind, "name": name, "version": entry.version,
                             "plugin": entry.origin, "package": entry.package,
                             "description": "UNUSABLE: this name is registered twice"})
            rows[[r["name"] for r in rows].index(name)]["description"] = "UNUSABLE: this name is registered twice"
    if args.json:
        print(json.dumps({
            "plugins": [vars(i) for i in plugins.info.values()],
            "components": rows,
            "warnings": plugins.warnings,
        }, indent=2))
        return EXIT_OK
    from tabulate import tabulate

    print(tabulate([[r["kind"], r["name"], r["version"], r["plugin"], r["package"], short(r["description"])] for r in rows],
                   headers=["kind", "name", "version", "plugin", "package", "description"]))
    return EXIT_OK
