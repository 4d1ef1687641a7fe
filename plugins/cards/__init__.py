"""Reproduction cards, one YAML file per published row (see cards/ and docs/reproducing.md)."""
from pathlib import Path

from benchmark import hookimpl
from benchmark.cards import load_card_yaml

CARDS = Path(__file__).parent / "cards"


@hookimpl
def bench_register_cards():
    return [load_card_yaml(p) for p in sorted(CARDS.glob("*.yaml"))]
