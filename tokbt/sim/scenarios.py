"""Named scenarios, and loading scenarios from TOML with overrides.

Every preset is a full ``Scenario``; none of its numbers comes from the paper,
whose abstract states the model family (mean-reverting jump-diffusion) and the
scenario name (application-layer demand explosion) but no parameters. They are
**[assumption]**s chosen inside the ranges of DOMAIN.md §4 and written down
here so a reader can disagree with each one:

* level: $2.34 per 1M SIT tokens, the recorded GPT-4-class TPI's average price at its last
  date (the chain-linked index, which the basket's changes of composition do not move,
  stands at $2.39 there);
* OU half-life 14 days (κ = 18/yr), σ = 45 %/yr (DOMAIN §4: 1–4 weeks, 30–60 %);
* demand-shock jumps 4/yr of about +20 % (DOMAIN §4: 2–6/yr, +10–40 %);
* permanent list-price cuts 1.5/yr of 25–60 % and a continuous drift of
  −20 %/yr: together about −70 % a year in log terms, close to the recorded
  index's fall (15.7x in 2.7 years) and inside a16z's "≈10x/yr at fixed
  capability" and Epoch's ranges;
* consumption 1bn tokens a day growing 50 %/yr (an application company's
  usage), daily noise 5 % (AR(1), φ 0.8);
* futures basis: AR(1) log noise with 1 % daily shocks, φ 0.9 (≈2.3 % standard
  deviation) so that hedges are not perfect by construction.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w
from pydantic import ValidationError

from tokbt.market import ContractSpec, load_spec
from tokbt.market.config_errors import describe
from tokbt.sim.params import (
    ConsumptionParams,
    CurveParams,
    CutSizes,
    Regime,
    Scenario,
    SpotParams,
)

_BASIS = CurveParams(basis_sigma=0.01, basis_phi=0.9)

SCENARIOS: dict[str, Scenario] = {
    "baseline": Scenario(
        name="baseline",
        description="Declining trend, mean-reverting noise, occasional demand spikes and "
        "permanent price cuts: tokens keep commoditising.",
        curve=_BASIS,
    ),
    "demand_explosion": Scenario(
        name="demand_explosion",
        description="The paper's scenario: from month 6 to month 24 application demand "
        "surges, the price trend turns upward, up-jumps become frequent and larger, cuts rare, "
        "and consumption grows fast and moves with price.",
        curve=_BASIS,
        regimes=(
            Regime(
                name="demand explosion",
                start_day=182,
                end_day=730,
                trend=0.60,
                jump_rate=12.0,
                jump_mean=0.25,
                jump_std=0.10,
                cut_rate=0.5,
                demand_growth=1.5,
                price_link=0.8,
            ),
        ),
    ),
    "supply_shock": Scenario(
        name="supply_shock",
        description="A capacity outage in months 9-12: large up-jumps (about +80 %) that "
        "revert with the OU half-life.",
        curve=_BASIS,
        regimes=(
            Regime(
                name="capacity outage",
                start_day=273,
                end_day=365,
                jump_rate=6.0,
                jump_mean=0.60,
                jump_std=0.20,
            ),
        ),
    ),
    "price_war": Scenario(
        name="price_war",
        description="Providers undercut each other: frequent permanent cuts of 15-45 % "
        "(5 a year) and a steeper drift.",
        curve=_BASIS,
        spot=SpotParams(trend=-0.30, cut_rate=5.0, cut_sizes=CutSizes(low=0.15, high=0.45)),
        consumption=ConsumptionParams(growth=0.8),
    ),
}


def scenario_names() -> list[str]:
    """Names of the preset scenarios."""
    return list(SCENARIOS)


def load_scenario(name_or_path: str, overrides: Mapping[str, Any] | None = None) -> Scenario:
    """A preset by name, or a scenario from a TOML file, with dotted-key overrides.

    ``overrides`` maps paths such as ``"spot.kappa"`` or ``"regimes.0.trend"``
    to values. A TOML file may be a full scenario or ``base = "NAME"`` plus
    the fields it changes. Errors name the file and the field.
    """
    if name_or_path in SCENARIOS:
        data = SCENARIOS[name_or_path].model_dump(mode="json")
        where = f"scenario {name_or_path!r}"
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise ValueError(
                f"{name_or_path!r} is neither a scenario ({', '.join(SCENARIOS)}) nor a TOML file"
            )
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: cannot read the scenario: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"{path}: not valid TOML: {exc}") from None
        base = raw.pop("base", None)
        if base is not None and (not isinstance(base, str) or base not in SCENARIOS):
            raise ValueError(f"{path}: base {base!r} is not a scenario ({', '.join(SCENARIOS)})")
        data = SCENARIOS[base].model_dump(mode="json") if base is not None else {}
        _merge(data, raw)
        where = str(path)
    for key, value in (overrides or {}).items():
        _set_dotted(data, key, value, where)
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"{where}: invalid scenario: {describe(exc, Scenario)}") from None


def scenario_spec(scenario: Scenario, overrides: Mapping[str, Any] | None = None) -> ContractSpec:
    """The contract spec ``scenario`` trades (``scenario.contract``), with dotted-key
    ``overrides`` such as ``{"listing.months": 36}``; errors name the field."""
    spec = load_spec(scenario.contract)
    if not overrides:
        return spec
    data = spec.model_dump(mode="json")
    where = f"contract {scenario.contract!r}"
    for key, value in overrides.items():
        _set_dotted(data, key, value, where)
    try:
        return ContractSpec.model_validate(data)
    except ValidationError as exc:
        raise ValueError(f"{where}: invalid contract spec: {describe(exc, ContractSpec)}") from None


def to_toml(sc: Scenario) -> str:
    """The scenario as TOML that ``load_scenario`` reads back to an equal scenario."""
    return tomli_w.dumps(sc.model_dump(mode="json", exclude_none=True))


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """``["spot.kappa=12", "name=x"]`` → ``{"spot.kappa": 12, "name": "x"}`` (TOML values)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"override {item!r} is not KEY=VALUE (e.g. spot.kappa=12)")
        try:
            out[key.strip()] = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            out[key.strip()] = text.strip()
    return out


def _merge(into: dict[str, Any], new: Mapping[str, Any]) -> None:
    for key, value in new.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def _set_dotted(data: dict[str, Any], key: str, value: Any, where: str) -> None:
    node: Any = data
    parts = key.split(".")
    for part in parts[:-1]:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict):
            node = node.setdefault(part, {})
        else:
            raise ValueError(f"{where}: override {key!r}: {part!r} is not a field")
    last = parts[-1]
    if isinstance(node, list) and last.isdigit() and int(last) < len(node):
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ValueError(f"{where}: override {key!r}: {last!r} is not a field")
