"""The Token Price Index (TPI): a daily price of one Standard Inference Token (SIT).

The paper proposes the TPI as the settlement reference of token futures and
defines it (per secondary summaries, DOMAIN.md §1) as the volume-weighted mean
of providers' SIT-equivalent prices, a provider's price being quality-adjusted
``P_SIT,i = P_i · S_ref / S_i`` and its weight capped (one source: 30 %).

This module turns dated list-price changes (``datasets/llm_prices``) into that
index. A :class:`TPIRecipe` states every choice — the basket, the input/output
blend, quality scores, provider weights and cap, how a provider's models
combine, how the index is linked across changes of the basket — so that two
indices differ only in data, never in code. Everything the paper does not
state is marked **[assumption]**.

The index is chain-linked by default (:func:`build_tpi`, :func:`chain_link`):
a change of the basket's composition — a provider (or, when a provider's price
is the mean of its models, a model) entering or leaving, or the weights
changing because of it — never moves the level; only price changes of
constituents priced on two consecutive days do. ``linking = "none"`` gives the
plain weighted mean of each day instead.

Unit: USD per 1M SIT tokens, the list price of a token mix.
"""

from __future__ import annotations

import csv
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal, NamedTuple, NoReturn, overload

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
    provider price (``within_provider``); the providers present that day get
    weights ``provider_weights`` capped at ``provider_cap`` (see
    :func:`cap_weights`). ``linking`` says how those make the index: a
    chain-linked index whose day-over-day change comes only from
    constituents priced on both days (``"chain"``, see :func:`build_tpi`) or
    the weighted mean of each day (``"none"``).
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
    linking: Literal["chain", "none"] = Field(
        "chain",
        description="How days join: 'chain' = chain-linked, each day's change is the "
        "price change of the constituents priced on both days at the previous day's weights, "
        "so an entry or exit (or a cap binding anew) never moves the level; 'none' = the "
        "weighted mean of each day, which jumps when the basket changes. Constituents are "
        "providers under within_provider='min', models under 'mean' (see build_tpi).",
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

COMPONENT_FIELDS: tuple[str, ...] = ("price", "weight", "link_share", "relative")
"""The fields (first column level) of :func:`tpi_components`, in column order."""


def tpi_components(
    points: pd.DataFrame,
    recipe: TPIRecipe,
    start: DateLike | None = None,
    end: DateLike | None = None,
) -> pd.DataFrame:
    """Each provider's SIT price, weight and part in the day's link on each day of ``[start, end]``.

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
    days before the first basket price have no providers and NaN prices. The
    columns do not depend on ``start``: a day's row is the same in every
    window that contains it (``link_share`` and ``relative`` of the window's
    first day still compare it with the day before).

    ``points`` needs columns date, provider, model, input_usd_per_m and
    output_usd_per_m (as :func:`load_price_points` returns). Basket models,
    quality keys and provider-weight keys that name nothing in ``points`` are
    errors (likely typos).

    Returns a frame indexed by day (``DatetimeIndex`` named ``ts``, midnight,
    no tz) with two-level columns ``(field, provider)``, fields
    :data:`COMPONENT_FIELDS`:

    * ``price`` — ``P_p(d)``, USD per 1M SIT tokens; NaN while absent.
    * ``weight`` — ``w_p(d)``, the provider's weight in day ``d``'s basket
      (each row sums to 1 where any provider is present, 0 for absent ones).
      Under ``linking = "none"`` the index is ``Σ_p weight · price``; under
      ``"chain"`` these are the weights of the link from ``d`` to ``d + 1``.
    * ``link_share`` — ``s_p(d)``, the provider's share of the chain link
      from ``d − 1`` to ``d``: the value at ``d − 1`` prices and weights of
      its constituents priced on both days, over that of all such
      constituents (:func:`link_terms`, summed over the provider's models
      under ``within_provider = "mean"``); 0 for a provider with none, so
      each row sums to 1 on every day after the first basket date and is 0
      on it.
    * ``relative`` — the provider's price relative in that link: ``P_p(d) /
      P_p(d − 1)`` under ``"min"``; under ``"mean"`` the ratio of the means
      of its models priced on both days (a model entering does not count);
      NaN when the provider takes no part in the link.

    The chain-linked index (:func:`build_tpi`) moves by the factor
    ``Σ_p link_share · relative`` from ``d − 1`` to ``d``, whatever the
    recipe's ``linking``.
    """
    rows = _basket_rows(points, recipe)
    days = _day_range(rows, points, start, end)
    return _components(rows, recipe, days).reindex(days)


def build_tpi(
    points: pd.DataFrame,
    recipe: TPIRecipe,
    start: DateLike | None = None,
    end: DateLike | None = None,
) -> pd.Series:
    """The daily Token Price Index of ``recipe``, USD per 1M SIT tokens.

    With ``P_p(d)`` and ``w_p(d)`` the provider prices and weights of
    :func:`tpi_components`:

    * ``recipe.linking == "chain"`` (default): :func:`chain_link` of the
      recipe's constituents ``k`` with prices ``P_k`` and weights ``v_k``::

          TPI(d0) = Σ_k v_k(d0)·P_k(d0)
          TPI(d)  = TPI(d−1) · Σ_{k∈C(d)} v_k(d−1)·P_k(d) / Σ_{k∈C(d)} v_k(d−1)·P_k(d−1)

      where ``d0`` is the first basket date (so ``TPI(d0)`` is that day's
      weighted mean, as under ``"none"``) and ``C(d)`` the constituents
      priced on both ``d − 1`` and ``d``. The weights are the previous day's
      (see :func:`chain_link` for why). Under ``within_provider = "min"`` the
      constituents are the providers (``P_k = P_p``, ``v_k = w_p``): a
      provider's price is its cheapest qualifying offer, so a new model
      cheaper than its others is a price cut and moves the index, while a
      provider entering is a change of composition. Under ``"mean"`` they are
      the models (``v_k = w_p / n_p``, ``n_p`` the provider's models on sale):
      a model joining its provider's mean is a change of composition.
      A change of composition (an entry, an exit, weights or caps changing
      with it) leaves the level unchanged on its day; a price change of a
      constituent priced on both days moves it exactly as the weighted mean
      does on a day the basket is unchanged.
    * ``recipe.linking == "none"``: ``TPI(d) = Σ_p w_p(d)·P_p(d)`` over the
      providers present, which jumps when the basket changes.

    The chain always begins on the first basket date, so a day's value does
    not depend on ``start`` (``build_tpi(..., start=s)`` equals
    ``build_tpi(...)[s:]``). See :func:`tpi_components` for the defaults of
    ``start`` and ``end``. Returns a ``float64`` Series named ``tpi``, indexed
    by a daily ``DatetimeIndex`` named ``ts`` (midnight, no tz); NaN on days
    before the first basket price.
    """
    rows = _basket_rows(points, recipe)
    days = _day_range(rows, points, start, end)
    basket = _basket(rows, recipe, days)
    tpi = _weighted_mean(basket.price, basket.weight)
    if recipe.linking == "chain":
        first = tpi.dropna()
        base = float(first.iloc[0]) if first.size else None
        tpi = chain_link(basket.items, basket.item_weight, base)
    return tpi.reindex(days).rename("tpi")


def chain_link(price: pd.DataFrame, weight: pd.DataFrame, base: float | None = None) -> pd.Series:
    """A chain-linked index of constituents with daily prices and basket weights.

    ``price`` and ``weight`` are days x constituents frames with the same
    index and columns: ``price`` positive where the constituent is in the
    basket and NaN where it is not; ``weight`` each day's basket weights,
    finite, ``≥ 0``, 0 for absent constituents and summing to 1 over the
    present ones.

    With ``C(d)`` the constituents priced on both ``d − 1`` and ``d``::

        I(d0) = Σ_p w_p(d0)·P_p(d0)
        I(d)  = I(d−1) · Σ_{p∈C(d)} w_p(d−1)·P_p(d) / Σ_{p∈C(d)} w_p(d−1)·P_p(d−1)

    ``d0`` is the first day with any constituent, so the first level is that
    day's weighted mean (``base``, when given, replaces it: :func:`build_tpi`
    passes the providers' weighted mean, which a sum over models can miss by
    a rounding error). The link weights are those of the previous day's
    basket (a Laspeyres chain): the link is the change in cost of the basket
    held from ``d − 1`` to ``d``; an entrant has no price and no weight on
    ``d − 1``, so it cannot move the level on its first day, and weights
    that change on ``d`` (an entry, a cap binding anew) first act on the
    link to ``d + 1``. A constituent that leaves on ``d`` drops out of both
    sums, which rescales the remaining weights without moving the level by
    itself.
    On a day whose basket and weights are unchanged (in a TPI the weights
    depend only on the basket) the link is the ratio of the two days'
    weighted means. On a day where only the
    composition changes the two sums are equal term by term, so the link is
    exactly 1.0. Equivalently the link is ``Σ_p s_p(d)·P_p(d)/P_p(d−1)`` with
    the shares ``s_p`` of :func:`link_terms`.

    Returns a ``float64`` Series on ``price``'s index, NaN before ``d0``.
    Raises ``ValueError`` on malformed frames and when the chain breaks: a
    day after ``d0`` with no constituent, or with no constituent (of
    positive weight) priced on both it and the day before.
    """
    p, w = _matrices(price, weight)
    level = np.full(p.shape[0], np.nan)
    alive = ~np.isnan(p).all(axis=1)
    if alive.any():
        d0 = int(np.argmax(alive))
        level[d0:] = _chain(p[d0:], w[d0:], price.index[d0:], base)
    return pd.Series(level, index=price.index, name="tpi", dtype=np.float64)


def link_terms(price: pd.DataFrame, weight: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each constituent's share ``s_p(d)`` and price relative ``r_p(d)`` in day ``d``'s link.

    For ``p`` in ``C(d)``, the constituents priced on both ``d − 1`` and ``d``::

        s_p(d) = w_p(d−1)·P_p(d−1) / Σ_{q∈C(d)} w_q(d−1)·P_q(d−1)
        r_p(d) = P_p(d) / P_p(d−1)

    so that :func:`chain_link` moves by ``Σ_p s_p(d)·r_p(d)``. Elsewhere the
    share is 0 and the relative NaN (the first row has no link: shares 0).
    ``price`` and ``weight`` are as for :func:`chain_link`. Returns
    ``(share, relative)``, frames shaped like ``price``.
    """
    p, w = _matrices(price, weight)
    both = _both_days(p)
    relative = np.full_like(p, np.nan)
    relative[1:][both] = p[1:][both] / p[:-1][both]
    value = np.where(both, w[:-1] * p[:-1], 0.0)
    total = value.sum(axis=1, keepdims=True)
    share = np.zeros_like(p)
    np.divide(value, total, out=share[1:], where=total > 0)
    return (
        pd.DataFrame(share, index=price.index, columns=price.columns),
        pd.DataFrame(relative, index=price.index, columns=price.columns),
    )


class _Basket(NamedTuple):
    """Provider prices and weights, and the constituents the chain links (see build_tpi)."""

    price: pd.DataFrame
    weight: pd.DataFrame
    items: pd.DataFrame
    item_weight: pd.DataFrame


def _basket(rows: pd.DataFrame, recipe: TPIRecipe, days: pd.DatetimeIndex) -> _Basket:
    """The basket from the first basket date (the chain's start) to ``days[-1]``."""
    history = _history(rows, days)
    models = _price_matrix(rows, history)
    by_provider = models.T.groupby(level="provider", sort=True)
    price = by_provider.min().T if recipe.within_provider == "min" else by_provider.mean().T
    price = price.reindex(history).astype(np.float64)
    weight = _weights(price, recipe)
    if recipe.within_provider == "min":
        return _Basket(price, weight, price, weight)
    count = models.notna().T.groupby(level="provider", sort=True).sum().T
    per_model = (weight / count.where(count > 0)).fillna(0.0)
    item_weight = per_model.reindex(columns=models.columns, level="provider")
    return _Basket(price, weight, models, item_weight.where(models.notna(), 0.0))


def _components(rows: pd.DataFrame, recipe: TPIRecipe, days: pd.DatetimeIndex) -> pd.DataFrame:
    """:func:`tpi_components` from the first basket date to ``days[-1]``."""
    basket = _basket(rows, recipe, days)
    share, relative = _provider_terms(*link_terms(basket.items, basket.item_weight))
    parts = {"price": basket.price, "weight": basket.weight}
    parts |= {"link_share": share.reindex(columns=basket.price.columns, fill_value=0.0)}
    parts |= {"relative": relative.reindex(columns=basket.price.columns)}
    out = pd.concat(parts, axis=1, names=["field", "provider"])
    out.index.name = "ts"
    return out


def _provider_terms(
    share: pd.DataFrame, relative: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Model link terms summed to providers: the share adds up, the relative is share-weighted."""
    if not isinstance(share.columns, pd.MultiIndex):
        return share, relative
    total = share.T.groupby(level="provider", sort=True).sum().T
    moved = (share * relative).T.groupby(level="provider", sort=True).sum(min_count=1).T
    return total, moved / total.where(total > 0)


def _weighted_mean(price: pd.DataFrame, weight: pd.DataFrame) -> pd.Series:
    """``Σ_p w_p(d)·P_p(d)`` over the constituents present each day; NaN where none is."""
    p, w = _matrices(price, weight)
    present = ~np.isnan(p)
    value = np.where(present, p * w, 0.0).sum(axis=1)
    value[~present.any(axis=1)] = np.nan
    return pd.Series(value, index=price.index, name="tpi", dtype=np.float64)


def _chain(
    p: npt.NDArray[np.float64], w: npt.NDArray[np.float64], days: pd.Index, base: float | None
) -> npt.NDArray[np.float64]:
    """Levels from the first row (which has a constituent) on; see :func:`chain_link`."""
    empty = np.isnan(p).all(axis=1)
    if empty.any():
        day = days[int(np.argmax(empty))]
        raise ValueError(
            f"no constituent is priced on {_day(day)}, after the index began on "
            f"{_day(days[0])}: the chain breaks"
        )
    both = _both_days(p)
    num = np.where(both, w[:-1] * p[1:], 0.0).sum(axis=1)
    den = np.where(both, w[:-1] * p[:-1], 0.0).sum(axis=1)
    gap = ~(den > 0)
    if gap.any():
        i = int(np.argmax(gap))
        raise ValueError(
            f"no constituent of positive weight is priced on both {_day(days[i])} and "
            f"{_day(days[i + 1])}: the level cannot be carried across a complete change of basket"
        )
    if base is None:
        base = float(np.where(~np.isnan(p[0]), w[0] * p[0], 0.0).sum())
    return np.cumprod(np.concatenate(([base], num / den)), dtype=np.float64)


def _both_days(p: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
    """Row ``d − 1`` says which constituents are priced on both day ``d − 1`` and day ``d``."""
    present = ~np.isnan(p)
    return present[1:] & present[:-1]


def _matrices(
    price: pd.DataFrame, weight: pd.DataFrame
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``price`` and ``weight`` as float arrays, checked against :func:`chain_link`'s rules."""
    if not (price.index.equals(weight.index) and price.columns.equals(weight.columns)):
        raise ValueError("price and weight must have the same index and columns")
    p = price.to_numpy(np.float64)
    w = weight.to_numpy(np.float64)
    present = ~np.isnan(p)
    if not (np.all(np.isfinite(p[present])) and np.all(p[present] > 0)):
        raise ValueError("prices must be positive and finite where present (NaN = absent)")
    if not (np.all(np.isfinite(w)) and np.all(w >= 0)):
        raise ValueError("weights must be finite and >= 0")
    if np.any(w[~present] != 0):
        raise ValueError("an absent constituent (price NaN) must have weight 0")
    total = w.sum(axis=1)
    alive = present.any(axis=1)
    if not np.allclose(total[alive], 1.0, rtol=0.0, atol=1e-9):
        raise ValueError("the weights of each day with a constituent must sum to 1")
    return p, w


def _day(ts: pd.Timestamp) -> str:
    return f"{ts:%Y-%m-%d}"


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


def _history(rows: pd.DataFrame, days: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """``days`` extended back to the first basket date, where the chain begins."""
    first = min(days[0], rows["date"].min())
    return pd.date_range(first, days[-1], freq="D", name="ts", unit="ns")


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
