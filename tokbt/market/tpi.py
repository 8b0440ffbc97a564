"""The Token Price Index (TPI): a daily price of one Standard Inference Token (SIT).

The paper proposes the TPI as the settlement reference of token futures and
defines it (per secondary summaries, DOMAIN.md §1) as the volume-weighted mean
of providers' SIT-equivalent prices, a provider's price being quality-adjusted
``P_SIT,i = P_i · S_ref / S_i`` and its weight capped (one source: 30 %).

This module turns dated list-price changes (``datasets/llm_prices``) into that
index. A :class:`TPIRecipe` states every choice — the basket, the input/output
blend, quality scores, provider weights and cap, how a provider's models
combine — so that two indices differ only in data, never in code. Everything
the paper does not state is marked **[assumption]**.

Unit: USD per 1M SIT tokens, the list price of a token mix.
"""

from __future__ import annotations

import csv
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal, NoReturn, overload

import numpy as np
import numpy.typing as npt
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from tokbt.market.calendar import DateLike, as_date
from tokbt.market.config_errors import describe

PRICE_COLUMNS: tuple[str, ...] = (
    "date",
    "provider",
    "model",
    "input_usd_per_m",
    "output_usd_per_m",
    "confidence",
    "source",
)
"""Columns of a price-points CSV, in file order."""

CONFIDENCE_LEVELS: frozenset[str] = frozenset({"sourced", "recalled"})
"""``sourced``: the row cites a checkable source; ``recalled``: from memory of a public
announcement, to be verified."""

_PRICE_FIELDS = ("input_usd_per_m", "output_usd_per_m")
_KEY = ["date", "provider", "model"]

PositiveFinite = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class PricePointError(ValueError):
    """A price-points CSV breaks a format rule; the message names file, row and rule."""


class RecipeError(ValueError):
    """A TPI recipe file cannot be read or is invalid; the message names file and field."""


# -- recipe -------------------------------------------------------------------------------


class TPIRecipe(BaseModel):
    """How to build one Token Price Index from price points.

    On day ``d`` every basket model that has a list price on or before ``d``
    is priced at its latest list price, blended over input and output tokens
    and quality-adjusted to SIT; each provider's models combine into one
    provider price (``within_provider``); the index is the weighted mean of
    the providers present that day with weights ``provider_weights`` capped
    at ``provider_cap`` (see :func:`cap_weights`).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(..., min_length=1, description="Short identifier, e.g. 'gpt4_class'.")
    description: str = Field(..., description="What the index measures, in one paragraph.")
    input_weight: PositiveFinite = Field(
        3.0,
        description="Input tokens per blended token mix; the blend is "
        "(w_in·input + w_out·output)/(w_in + w_out) [assumption: 3:1, the usual "
        "industry blend; the paper states none].",
    )
    output_weight: PositiveFinite = Field(
        1.0, description="Output tokens per blended token mix [assumption: see input_weight]."
    )
    models: tuple[str, ...] | None = Field(
        None,
        description="The basket: model names as in the price points; None = every model. "
        "Membership is a recipe choice [assumption].",
    )
    quality: dict[str, PositiveFinite] = Field(
        default_factory=dict,
        description="Quality score S_i per model; a model not listed scores S_ref "
        "(no adjustment) [assumption].",
    )
    reference_quality: PositiveFinite = Field(
        1.0, description="S_ref, the score of one SIT; P_SIT,i = P_i · S_ref / S_i."
    )
    provider_weights: dict[str, PositiveFinite] = Field(
        default_factory=dict,
        description="Volume weight per provider before capping; a provider not listed "
        "weighs 1.0 [assumption: equal weights; no public volume shares].",
    )
    provider_cap: float | None = Field(
        0.30,
        gt=0,
        le=1,
        description="Largest weight of one provider; None (or 1.0) = no cap "
        "(one secondary source: 30%).",
    )
    within_provider: Literal["min", "mean"] = Field(
        "min",
        description="How a provider's qualifying models make its price: 'min' = the "
        "cheapest quality-adjusted price (SIT is fungible; a buyer takes the cheapest "
        "qualifying offer) or 'mean' [assumption: min].",
    )

    @field_validator("models")
    @classmethod
    def _basket_is_a_set(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("the basket is empty; use None for every model")
        dupes = sorted({m for m in v if v.count(m) > 1})
        if dupes:
            raise ValueError(f"models listed twice: {', '.join(dupes)}")
        return v

    def __hash__(self) -> int:
        # The dict fields make pydantic's frozen hash fail; hash the canonical dump instead.
        return hash(self.model_dump_json())

    def quality_of(self, model: str) -> float:
        """S_i of ``model``: its listed score, else ``reference_quality``."""
        return self.quality.get(model, self.reference_quality)

    def weight_of(self, provider: str) -> float:
        """Volume weight of ``provider`` before capping: its listed weight, else 1.0."""
        return self.provider_weights.get(provider, 1.0)


def load_recipe(path: str | Path) -> TPIRecipe:
    """Read a :class:`TPIRecipe` from a TOML file whose top-level keys are its fields.

    TOML has no null: write ``provider_cap = 1.0`` for no cap and omit
    ``models`` for every model. Raises :class:`RecipeError` naming the file
    and each bad field.
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(f"{p}: cannot read recipe: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"{p}: not valid TOML: {exc}") from None
    try:
        return TPIRecipe.model_validate(data)
    except ValidationError as exc:
        raise RecipeError(f"{p}: invalid TPI recipe: {describe(exc)}") from None


# -- price points -------------------------------------------------------------------------


def load_price_points(path: str | Path) -> pd.DataFrame:
    """Read a price-points CSV (columns :data:`PRICE_COLUMNS`, one list-price change a row).

    Rules, each reported as :class:`PricePointError` naming the file, the
    1-based data row and its CSV line (row + 1 when there are no blank
    lines): every column of :data:`PRICE_COLUMNS` present in the header
    (extra columns are dropped); as many fields as header columns; ``date``
    an ISO date ``YYYY-MM-DD``; ``provider`` and ``model`` non-empty; both
    prices finite numbers > 0 (USD per 1M tokens); ``confidence`` in
    :data:`CONFIDENCE_LEVELS`; no two rows with the same (date, provider,
    model). Rules are checked in that order and the first row breaking the
    first failing rule is reported. Blank lines are skipped (they do not count
    as data rows); fields are stripped of surrounding spaces.

    Returns the columns of :data:`PRICE_COLUMNS` — ``date`` as midnight
    ``datetime64[ns]``, prices ``float64``, the rest strings — sorted by date,
    provider and model, with a fresh ``RangeIndex``.
    """
    p = Path(path)
    header, rows, lines = _read_csv(p)
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise PricePointError(f"{p}: header (CSV line 1): repeated column(s) {', '.join(repeated)}")
    missing = [c for c in PRICE_COLUMNS if c not in header]
    if missing:
        raise PricePointError(f"{p}: header (CSV line 1): missing column(s) {', '.join(missing)}")
    for i, row in enumerate(rows):
        if len(row) != len(header):
            _fail(p, i, lines, f"has {len(row)} fields, the header has {len(header)}")
    raw = pd.DataFrame(rows, columns=header, dtype=object)[list(PRICE_COLUMNS)]

    dates = pd.to_datetime(raw["date"], format="%Y-%m-%d", errors="coerce")
    _check(p, lines, dates.isna(), raw["date"], "not an ISO date YYYY-MM-DD")
    for col in ("provider", "model"):
        _check(p, lines, raw[col] == "", raw[col], "must not be empty")
    prices: dict[str, npt.NDArray[np.float64]] = {}
    for col in _PRICE_FIELDS:
        values = pd.to_numeric(raw[col], errors="coerce").astype(np.float64)
        _check(p, lines, ~np.isfinite(values), raw[col], "not a number")
        _check(p, lines, values <= 0, raw[col], "must be > 0 (USD per 1M tokens)")
        prices[col] = np.asarray(values, dtype=np.float64)
    levels = sorted(CONFIDENCE_LEVELS)
    _check(p, lines, ~raw["confidence"].isin(levels), raw["confidence"], f"not one of {levels}")

    out = pd.DataFrame(
        {
            "date": dates.dt.normalize().astype("datetime64[ns]"),
            "provider": raw["provider"].astype(str),
            "model": raw["model"].astype(str),
            **prices,
            "confidence": raw["confidence"].astype(str),
            "source": raw["source"].astype(str),
        }
    )
    dup = out.duplicated(_KEY, keep="first").to_numpy()
    if dup.any():
        second = int(np.flatnonzero(dup)[0])
        first = _first_with_key(out, second)
        _fail(
            p,
            second,
            lines,
            f"repeats (date, provider, model) of data row {first + 1} (CSV line {lines[first]})",
        )
    return out.sort_values(_KEY, kind="stable").reset_index(drop=True)


def _read_csv(path: Path) -> tuple[list[str], list[list[str]], list[int]]:
    """Header, non-blank data rows (stripped) and each row's CSV line number."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            header = [h.strip() for h in next(reader, [])]
            rows: list[list[str]] = []
            lines: list[int] = []
            for record in reader:
                if not record or all(not f.strip() for f in record):
                    continue
                rows.append([f.strip() for f in record])
                lines.append(reader.line_num)
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise PricePointError(f"{path}: cannot read price points: {exc}") from None
    return header, rows, lines


def _fail(path: Path, i: int, lines: list[int], rule: str) -> NoReturn:
    raise PricePointError(f"{path}: data row {i + 1} (CSV line {lines[i]}): {rule}")


def _check(path: Path, lines: list[int], bad: npt.ArrayLike, text: pd.Series, rule: str) -> None:
    """Fail at the first row where ``bad`` holds, quoting that row's ``text``."""
    hits = np.flatnonzero(np.asarray(bad, dtype=bool))
    if hits.size:
        i = int(hits[0])
        _fail(path, i, lines, f"{text.name} {text.iloc[i]!r}: {rule}")


def _first_with_key(frame: pd.DataFrame, i: int) -> int:
    """Position of the first row with the same (date, provider, model) as row ``i``."""
    same = (frame[_KEY] == frame.loc[i, _KEY]).all(axis=1).to_numpy()
    return int(np.flatnonzero(same)[0])


# -- index arithmetic ---------------------------------------------------------------------


@overload
def blended_price(
    input_price: float, output_price: float, input_weight: float = ..., output_weight: float = ...
) -> float: ...
@overload
def blended_price(
    input_price: npt.ArrayLike,
    output_price: npt.ArrayLike,
    input_weight: float = ...,
    output_weight: float = ...,
) -> npt.NDArray[np.float64]: ...
def blended_price(
    input_price: npt.ArrayLike,
    output_price: npt.ArrayLike,
    input_weight: float = 3.0,
    output_weight: float = 1.0,
) -> float | npt.NDArray[np.float64]:
    """Price of a token mix: ``(w_in·input + w_out·output) / (w_in + w_out)``.

    Vectorised (broadcasts like numpy); a float for scalar inputs. Default
    3 input : 1 output tokens **[assumption]**.
    """
    if not (input_weight > 0 and output_weight > 0):
        raise ValueError(f"blend weights must be positive, got {input_weight}, {output_weight}")
    i = np.asarray(input_price, dtype=np.float64)
    o = np.asarray(output_price, dtype=np.float64)
    out = (input_weight * i + output_weight * o) / (input_weight + output_weight)
    return float(out) if np.ndim(out) == 0 else out


def cap_weights(weights: npt.ArrayLike, cap: float | None) -> npt.NDArray[np.float64]:
    """Normalise positive ``weights`` to sum 1 and cap each at ``cap`` by water-filling.

    Any weight above ``cap`` is set to ``cap`` and the excess goes to the
    uncapped weights in proportion to their original weights, repeated until
    none exceeds ``cap`` (at most ``n`` rounds). Order is preserved: a larger
    input weight never gets a smaller output weight. ``cap=None`` only
    normalises.

    If ``n·cap < 1`` no weights summing to 1 can respect the cap; equal weights
    ``1/n`` are returned — the feasible point closest to the cap (they
    minimise the largest weight) **[assumption]**. A TPI on one provider is
    therefore that provider's price.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or w.size == 0:
        raise ValueError(f"weights must be a non-empty 1-d array, got shape {w.shape}")
    if not np.all(np.isfinite(w)) or np.any(w <= 0):
        raise ValueError(f"weights must be finite and positive, got {w.tolist()}")
    if cap is not None and not 0 < cap <= 1:
        raise ValueError(f"cap must be in (0, 1], got {cap}")
    base: npt.NDArray[np.float64] = w / w.sum()
    n = base.size
    if cap is None:
        return base
    if n * cap < 1:
        return np.full(n, 1.0 / n, dtype=np.float64)
    out = base.copy()
    capped = np.zeros(n, dtype=bool)
    for _ in range(n):
        over = out > cap * (1 + 1e-12)
        if not over.any():
            break
        capped |= over
        free = ~capped
        out[capped] = cap
        room = 1.0 - cap * capped.sum()
        out[free] = base[free] * (room / base[free].sum()) if free.any() else 0.0
    return out


# -- the index ----------------------------------------------------------------------------


def tpi_components(
    points: pd.DataFrame,
    recipe: TPIRecipe,
    start: DateLike | None = None,
    end: DateLike | None = None,
) -> pd.DataFrame:
    """Each provider's SIT price and index weight on each calendar day of ``[start, end]``.

    List prices are step functions: a row is a list-price change effective on
    its date and holds until that model's next row; a model is never
    delisted **[assumption: the data has no withdrawal dates]**. On day ``d`` a
    provider's price combines (``recipe.within_provider``) its basket models
    whose first row is on or before ``d``, each at its latest blended,
    quality-adjusted price; a provider with no such model is absent (price
    NaN, weight 0). Weights are :func:`cap_weights` of the present providers'
    ``recipe.provider_weights``.

    ``start`` defaults to the first date with a basket price, ``end`` to the
    last date in ``points`` (prices after it are carried flat) **[assumption]**;
    days before the first basket price have no providers and NaN prices.

    ``points`` needs columns date, provider, model, input_usd_per_m and
    output_usd_per_m (as :func:`load_price_points` returns). Basket models,
    quality keys and provider-weight keys that name nothing in ``points`` are
    errors (likely typos).

    Returns a frame indexed by day (``DatetimeIndex`` named ``ts``, midnight,
    no tz) with two-level columns ``(field, provider)``: ``price`` (USD per 1M
    SIT tokens) and ``weight`` (each row sums to 1 where any provider is
    present).
    """
    rows = _basket_rows(points, recipe)
    days = _day_range(rows, points, start, end)
    matrix = _price_matrix(rows, days)
    by_provider = matrix.T.groupby(level="provider", sort=True)
    price = by_provider.min().T if recipe.within_provider == "min" else by_provider.mean().T
    price = price.reindex(days).astype(np.float64)
    weight = _weights(price, recipe)
    out = pd.concat({"price": price, "weight": weight}, axis=1, names=["field", "provider"])
    out.index.name = "ts"
    return out


def build_tpi(
    points: pd.DataFrame,
    recipe: TPIRecipe,
    start: DateLike | None = None,
    end: DateLike | None = None,
) -> pd.Series:
    """The daily Token Price Index ``TPI(d) = Σ_p w_p(d) · P_p(d)`` over present providers.

    See :func:`tpi_components` for ``P_p``, ``w_p`` and the defaults of
    ``start`` and ``end``. Returns a ``float64`` Series named ``tpi``, indexed
    by a daily ``DatetimeIndex`` named ``ts`` (midnight, no tz), in USD per
    1M SIT tokens; NaN on days with no provider.
    """
    comp = tpi_components(points, recipe, start, end)
    price = comp.xs("price", axis=1, level="field").to_numpy(np.float64)
    weight = comp.xs("weight", axis=1, level="field").to_numpy(np.float64)
    present = ~np.isnan(price)
    value = np.where(present, price * weight, 0.0).sum(axis=1)
    value[~present.any(axis=1)] = np.nan
    return pd.Series(value, index=comp.index, name="tpi", dtype=np.float64)


def _basket_rows(points: pd.DataFrame, recipe: TPIRecipe) -> pd.DataFrame:
    """Basket rows with ``date`` normalised and the SIT price in column ``sit``."""
    need = ["date", "provider", "model", *_PRICE_FIELDS]
    missing = [c for c in need if c not in points.columns]
    if missing:
        raise ValueError(f"price points lack column(s) {', '.join(missing)}")
    pts = points[need].copy()
    pts["date"] = pd.to_datetime(pts["date"]).dt.normalize()
    if pts.duplicated(_KEY).any():
        raise ValueError("price points repeat a (date, provider, model); see load_price_points")
    _known(recipe.models or (), pts["model"], "basket models")
    _known(recipe.quality, pts["model"], "quality scores")
    _known(recipe.provider_weights, pts["provider"], "provider weights")
    if recipe.models is not None:
        pts = pts[pts["model"].isin(list(recipe.models))]
    if pts.empty:
        raise ValueError(f"recipe {recipe.name!r}: no price points in the basket")
    blend = blended_price(
        pts["input_usd_per_m"].to_numpy(np.float64),
        pts["output_usd_per_m"].to_numpy(np.float64),
        recipe.input_weight,
        recipe.output_weight,
    )
    score = pts["model"].map(recipe.quality_of).to_numpy(np.float64)
    pts["sit"] = blend * recipe.reference_quality / score
    return pts


def _known(names: Mapping[str, float] | tuple[str, ...], present: pd.Series, what: str) -> None:
    unknown = sorted(set(names) - set(present))
    if unknown:
        raise ValueError(f"{what} not in the price points: {', '.join(unknown)}")


def _day_range(
    rows: pd.DataFrame, points: pd.DataFrame, start: DateLike | None, end: DateLike | None
) -> pd.DatetimeIndex:
    first = pd.Timestamp(as_date(start)) if start is not None else rows["date"].min()
    last_in_data = pd.to_datetime(points["date"]).max().normalize()
    last = pd.Timestamp(as_date(end)) if end is not None else last_in_data
    if last < first:
        raise ValueError(f"end {last.date()} is before start {first.date()}")
    return pd.date_range(first, last, freq="D", name="ts", unit="ns")


def _price_matrix(rows: pd.DataFrame, days: pd.DatetimeIndex) -> pd.DataFrame:
    """Days x (provider, model) SIT prices, each held flat from its row to the next."""
    wide = rows.pivot(index="date", columns=["provider", "model"], values="sit")
    grid = wide.index.union(days)
    return wide.reindex(grid).ffill().reindex(days)


def _weights(price: pd.DataFrame, recipe: TPIRecipe) -> pd.DataFrame:
    """Capped weights of the providers present each day (0 for absent ones)."""
    present = price.notna().to_numpy()
    raw = np.array([recipe.weight_of(str(p)) for p in price.columns], dtype=np.float64)
    out = np.zeros(present.shape, dtype=np.float64)
    patterns, which = np.unique(present, axis=0, return_inverse=True)
    for k, mask in enumerate(patterns):
        if mask.any():
            rows = which.reshape(-1) == k
            out[np.ix_(rows, mask)] = cap_weights(raw[mask], recipe.provider_cap)
    return pd.DataFrame(out, index=price.index, columns=price.columns)
