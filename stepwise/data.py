"""Synthetic raw datasets with the tutorial's schema: `claims.csv` and `customers.csv`, any number of rows.

The columns, their order and the category vocabulary come from processing/preprocess.py, the project's
single definition of the raw data. This module only decides how values are distributed. Every weight
and coefficient below was measured on the tutorial's real 5,000 rows (../shared/data/tutorial):
category frequencies, the dependencies between columns (break-ins and thefts have no collision type
and no driver relationship, more severe collisions involve more vehicles and injuries, a car's claim
scales with its model year, a customer cannot have had more prior insurers than the years outside
their tenure allow) and the fraud label's relation to the features, so a model trained on generated
data learns the same kind of signal as on the real data.

Determinism: the random numbers of row i depend only on the seed and i. Each row draws a fixed number
of uniform numbers from a counter-based generator (Philox) positioned at that row, and turns them
into values by inverse CDFs only. Files are therefore byte-identical for the same seed and row
count, whatever the chunk size, and the first N rows of a larger dataset equal an N-row dataset.

Simplifications: ZIP codes are uniform over the state's range (not only ZIP codes in use); premiums,
deductibles, liability limits and education are independent of the other columns; injury_claim does
not depend on the number of injuries (nor does it in the real data).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from processing.preprocess import (
    CLAIMS_COLUMNS,
    CLAIMS_FILE,
    CUSTOMERS_COLUMNS,
    CUSTOMERS_FILE,
    KEY,
    LABEL,
    VOCABULARY,
)

DEFAULT_CHUNK_ROWS = 100_000


def _category_weights(column: str, counts: Mapping[str, int]) -> np.ndarray:
    """Counts per category, aligned with VOCABULARY[column]; categories not listed get weight 0."""
    vocabulary = VOCABULARY[column]
    unknown = sorted(set(counts) - set(vocabulary))
    if unknown:
        raise ValueError(
            f"stepwise.data: {column} weights name {unknown}, which processing/preprocess.py VOCABULARY"
            f" does not list ({vocabulary}); update the weights in stepwise/data.py"
        )
    return np.array([counts.get(category, 0) for category in vocabulary], dtype=np.int64)


def _weights_by_incident_type(column: str, table: Mapping[str, Mapping[str, int]]) -> np.ndarray:
    """One row of category weights per incident type, rows in VOCABULARY["incident_type"] order."""
    return np.stack([_category_weights(column, table[kind]) for kind in VOCABULARY["incident_type"]])


# ---- Claims: counts measured in the tutorial's data ---------------------------------------------
INCIDENT_TYPE = _category_weights("incident_type", {"Collision": 4272, "Break-in": 484, "Theft": 244})

# Break-ins and thefts have the literal "N/A" as driver relationship and collision type; collisions never do.
NOT_A_COLLISION = {"N/A": 1}
DRIVER_RELATIONSHIP = _weights_by_incident_type(
    "driver_relationship",
    {
        "Collision": {"Self": 3418, "Spouse": 428, "Child": 226, "Other": 200},
        "Break-in": NOT_A_COLLISION,
        "Theft": NOT_A_COLLISION,
    },
)
COLLISION_TYPE = _weights_by_incident_type(
    "collision_type",
    {
        "Collision": {"Front": 2109, "Rear": 1105, "Side": 1058},
        "Break-in": NOT_A_COLLISION,
        "Theft": NOT_A_COLLISION,
    },
)
INCIDENT_SEVERITY = _weights_by_incident_type(
    "incident_severity",
    {
        "Collision": {"Minor": 1664, "Major": 1406, "Totaled": 1202},
        "Break-in": {"Minor": 436, "Major": 48},
        "Theft": {"Major": 1},
    },
)
# "None" is a literal category (nobody was contacted), not a missing value.
AUTHORITIES_CONTACTED = _weights_by_incident_type(
    "authorities_contacted",
    {
        "Collision": {"Police": 2826, "None": 1165, "Ambulance": 146, "Fire": 135},
        "Break-in": {"Police": 439, "None": 45},
        "Theft": {"Police": 1},
    },
)
# A police report exists only when the police were contacted, and then for 60 % of claims.
POLICE_REPORT_GIVEN_POLICE = 2108 / 3509

# num_vehicles_involved (1, 2, ...) of collisions, one row per incident_severity (Minor, Major, Totaled);
# break-ins and thefts involve exactly one vehicle.
COLLISION_VEHICLES_BY_SEVERITY = np.array(
    [[361, 1021, 244, 36, 2, 0], [76, 918, 325, 79, 7, 1], [51, 369, 643, 126, 13, 0]]
)
# num_injuries (0, 1, ...) of collisions by severity; break-ins and thefts (pooled) have 0 or 1.
COLLISION_INJURIES_BY_SEVERITY = np.array(
    [[1565, 95, 4, 0, 0], [854, 320, 120, 81, 31], [272, 535, 129, 126, 140]]
)
OTHER_INJURIES = np.array([680, 48])
# num_witnesses (0, 1, ...), one row per num_vehicles_involved (1, 2, ... 6)
WITNESSES_BY_VEHICLES = np.array(
    [
        [1171, 45, 0, 0, 0, 0],
        [1171, 649, 364, 105, 17, 2],
        [254, 369, 364, 172, 43, 10],
        [10, 48, 81, 46, 39, 17],
        [0, 1, 3, 5, 8, 5],
        [0, 1, 3, 5, 8, 5],  # 6 vehicles: one real row; reuse the 5-vehicle row
    ]
)

# injury_claim: log-normal (median 14,600, sigma 1.0 match the real 1 %, 50 % and 99 % quantiles),
# whole hundreds, independent of the number of injuries as in the real data.
INJURY_CLAIM_MEDIAN = 14_600.0
INJURY_CLAIM_SIGMA = 1.0
INJURY_CLAIM_STEP = 100
# vehicle_claim: the car's value (linear in model year) times a damage share per severity, plus
# normal noise, floored at 1,000 (about 1 % of the real claims sit exactly on that floor).
NEWEST_MODEL_YEAR = 2020
CAR_VALUE_NEWEST = 40_000.0
CAR_VALUE_LOSS_PER_YEAR = 1_950.0
DAMAGE_SHARE_BY_SEVERITY = np.array([0.33, 0.50, 1.0])  # Minor, Major, Totaled
VEHICLE_CLAIM_NOISE = 3_500.0
VEHICLE_CLAIM_FLOOR = 1_000.0

# All incidents happened in 2019 (the real incident_dow is the 2019 weekday, Monday = 0).
INCIDENT_YEAR = 2019
INCIDENT_MONTH = np.array([511, 368, 410, 344, 360, 331, 366, 411, 350, 523, 548, 478])  # Jan..Dec
INCIDENT_HOUR = np.array(
    [67, 67, 94, 86, 153, 232, 229, 247, 297, 288, 294, 306]  # 0..11 h
    + [291, 311, 330, 334, 336, 277, 223, 192, 147, 84, 61, 54]  # 12..23 h
)

# ---- Customers --------------------------------------------------------------------------------
# customer_age 18..70: counts per age band, spread evenly over the band's years
AGE_BANDS = [(18, 19, 99), (20, 24, 336), (25, 29, 425), (30, 34, 530), (35, 39, 539), (40, 44, 620)]
AGE_BANDS += [(45, 49, 609), (50, 54, 602), (55, 59, 491), (60, 64, 375), (65, 70, 374)]
AGES = np.arange(18, 71)
AGE_WEIGHTS = np.concatenate(
    [np.full(last - first + 1, count / (last - first + 1)) for first, last, count in AGE_BANDS]
)
# months_as_customer = share x months since age 17, the share Beta(2, 4)-distributed (mean 1/3)
ADULT_AGE = 17
# Prior insurers fit in the five years before the policy: customers of 5+ years have exactly one;
# otherwise 1..(1 + remaining years), about evenly.
INSURER_LOOKBACK_MONTHS = 60
MAX_INSURERS = 5
NUM_CLAIMS_PAST_YEAR = np.array([4665, 268, 43, 17, 3, 2, 2])  # 0..6 claims

POLICY_STATE = _category_weights(
    "policy_state", {"CA": 3134, "WA": 607, "AZ": 539, "OR": 363, "NV": 222, "ID": 135}
)
# The state's five-digit ZIP code range (customer_zip is drawn uniformly within it)
ZIP_RANGE = {
    "CA": (90001, 96162),
    "WA": (98001, 99403),
    "AZ": (85001, 86556),
    "OR": (97001, 97920),
    "NV": (88901, 89883),
    "ID": (83201, 83877),
}
DEDUCTABLE = {750: 4950, 800: 28, 850: 9, 900: 3, 950: 5, 1000: 1, 1050: 2, 1100: 2}
# policy_annual_premium 2200, 2250, ... 3000
ANNUAL_PREMIUM = dict(
    zip(
        range(2200, 3001, 50),
        [1, 2, 2, 10, 22, 33, 65, 73, 125, 148, 154, 162, 180, 136, 141, 166, 3580],
        strict=True,
    )
)
POLICY_LIABILITY = _category_weights(
    "policy_liability", {"15/30": 1631, "25/50": 1697, "30/60": 1137, "100/200": 535}
)
# "Unkown" is the dataset's own spelling.
CUSTOMER_GENDER = _category_weights(
    "customer_gender", {"Male": 2281, "Female": 2208, "Other": 91, "Unkown": 420}
)
CUSTOMER_EDUCATION = _category_weights(
    "customer_education",
    {
        "Below High School": 98,
        "High School": 1264,
        "Associate": 475,
        "Bachelor": 2211,
        "Advanced Degree": 952,
    },
)
# model years 2001..2020
AUTO_YEAR = dict(
    zip(
        range(2001, 2021),
        [3, 14, 18, 16, 31, 23, 53, 60, 67, 101, 142, 224, 276, 425, 531, 602, 682, 673, 581, 478],
        strict=True,
    )
)

# ---- Fraud ------------------------------------------------------------------------------------
# Log-odds of fraud: a logistic regression fitted on the real data (5-fold CV AUC 0.81; XGBoost on all
# raw columns reaches 0.79), coefficients rounded. Prior insurers, prior claims and gender matter most;
# crashes with several vehicles, injuries or witnesses are rarely fraudulent, so single-vehicle
# break-ins and thefts are more often fraudulent. The intercept puts the fraud rate at the real 3.3 %.
FRAUD_INTERCEPT = -3.44
FRAUD_BY_INSURERS = np.array([0.0, 1.1, 1.7, 1.9, 2.2])  # 1..5 insurers in the past 5 years
FRAUD_PER_CLAIM_PAST_YEAR = 0.67  # up to 3 claims
FRAUD_BY_GENDER = {"Male": 1.27, "Female": 0.0, "Other": -1.16, "Unkown": -0.46}
FRAUD_PER_DECADE_OF_AGE = -0.08
FRAUD_BY_INCIDENT_TYPE = {"Collision": 0.0, "Break-in": -0.29, "Theft": -0.08}
FRAUD_BY_SEVERITY = {"Minor": 0.0, "Major": 0.31, "Totaled": 0.47}
FRAUD_PER_EXTRA_VEHICLE = -0.60
FRAUD_PER_INJURY = -0.94
FRAUD_PER_WITNESS = -0.34
FRAUD_NO_AUTHORITIES = 0.34
FRAUD_POLICE_REPORT = -0.30
FRAUD_PER_10K_VEHICLE_CLAIM = -0.15


class _RowUniforms:
    """Uniform [0, 1) numbers for rows start .. start + rows - 1, identical however rows are chunked.

    Row i owns the Philox outputs number i * WIDTH .. (i + 1) * WIDTH - 1 of the seed's stream. Philox
    is counter-based (4 outputs per counter step), so a chunk starts at its first row's counter
    directly. `take()` hands out one column (one number per row) at a time, in a fixed order.
    """

    # Numbers per row: a multiple of 4, more than one row uses (33) so that a new draw can be appended
    # without changing the values of existing columns.
    WIDTH = 40

    def __init__(self, seed: int, start: int, rows: int) -> None:
        key = np.random.SeedSequence(seed).generate_state(2, np.uint64)
        generator = np.random.Generator(np.random.Philox(key=key, counter=start * self.WIDTH // 4))
        self._table = generator.random((rows, self.WIDTH))
        self._used = 0

    def take(self) -> np.ndarray:
        if self._used == self.WIDTH:
            raise RuntimeError("stepwise.data: a row draws more than _RowUniforms.WIDTH numbers; raise WIDTH")
        self._used += 1
        return self._table[:, self._used - 1]

    def normal(self) -> np.ndarray:
        """Standard normal numbers (Box-Muller from two columns)."""
        radius = np.sqrt(-2.0 * np.log1p(-self.take()))  # 1 - u is in (0, 1]
        return radius * np.cos(2.0 * np.pi * self.take())


def _choose(uniform: np.ndarray, weights: np.ndarray, given: np.ndarray | None = None) -> np.ndarray:
    """Index of the category each uniform number falls in (the inverse CDF of the weights).

    `weights` is one row of weights, or a table with one row per condition; then `given` holds each
    row's condition (a row index into the table). Zero-weight categories are never chosen.
    """
    cumulative = np.cumsum(weights, axis=-1)
    cdf = cumulative / cumulative[..., -1:]  # ends at exactly 1.0: a uniform in [0, 1) never passes it
    if given is None:
        return np.searchsorted(cdf, uniform, side="right")
    return (uniform[:, None] >= cdf[given]).sum(axis=1)


def _index(column: str, category: str) -> int:
    return VOCABULARY[column].index(category)


def _per_category(column: str, values: Mapping[str, float]) -> np.ndarray:
    """A number per category of `column`, in VOCABULARY order (for lookups by category index)."""
    return np.array([values[category] for category in VOCABULARY[column]], dtype=float)


def _pick_numbers(uniform: np.ndarray, weights: Mapping[int, int]) -> np.ndarray:
    """Draw from {value: weight}."""
    values = np.array(list(weights))
    return values[_choose(uniform, np.array(list(weights.values())))]


def _labels(column: str, index: np.ndarray) -> np.ndarray:
    return np.asarray(VOCABULARY[column], dtype=object)[index]


def _customers(u: _RowUniforms) -> dict[str, np.ndarray]:
    """Customer columns (category columns as VOCABULARY indices), in the order of the draws."""
    age = AGES[_choose(u.take(), AGE_WEIGHTS)]
    months_since_adult = (age - ADULT_AGE) * 12
    # Beta(2, 4) is the second smallest of five uniform numbers
    share = np.sort(np.stack([u.take() for _ in range(5)], axis=1), axis=1)[:, 1]
    months = np.maximum(1, np.ceil(share * months_since_adult)).astype(np.int64)
    years_before_policy = np.ceil(np.maximum(0, INSURER_LOOKBACK_MONTHS - months) / 12).astype(np.int64)
    most_insurers = np.minimum(MAX_INSURERS, 1 + years_before_policy)
    insurers = 1 + np.floor(u.take() * most_insurers).astype(np.int64)
    state = _choose(u.take(), POLICY_STATE)
    zip_low = np.array([ZIP_RANGE[name][0] for name in VOCABULARY["policy_state"]])
    zip_high = np.array([ZIP_RANGE[name][1] for name in VOCABULARY["policy_state"]])
    zip_code = zip_low[state] + np.floor(u.take() * (zip_high[state] - zip_low[state] + 1)).astype(np.int64)
    return {
        "customer_age": age,
        "months_as_customer": months,
        "num_claims_past_year": _choose(u.take(), NUM_CLAIMS_PAST_YEAR),
        "num_insurers_past_5_years": insurers,
        "policy_state": state,
        "policy_deductable": _pick_numbers(u.take(), DEDUCTABLE),
        "policy_annual_premium": _pick_numbers(u.take(), ANNUAL_PREMIUM),
        "policy_liability": _choose(u.take(), POLICY_LIABILITY),
        "customer_zip": zip_code,
        "customer_gender": _choose(u.take(), CUSTOMER_GENDER),
        "customer_education": _choose(u.take(), CUSTOMER_EDUCATION),
        "auto_year": _pick_numbers(u.take(), AUTO_YEAR),
    }


def _claims(u: _RowUniforms, auto_year: np.ndarray) -> dict[str, np.ndarray]:
    """Claim columns except the label (category columns as VOCABULARY indices)."""
    incident = _choose(u.take(), INCIDENT_TYPE)
    severity = _choose(u.take(), INCIDENT_SEVERITY, given=incident)
    authorities = _choose(u.take(), AUTHORITIES_CONTACTED, given=incident)
    collision = incident == _index("incident_type", "Collision")

    vehicles = np.where(collision, 1 + _choose(u.take(), COLLISION_VEHICLES_BY_SEVERITY, given=severity), 1)
    injuries_uniform = u.take()
    injuries = np.where(
        collision,
        _choose(injuries_uniform, COLLISION_INJURIES_BY_SEVERITY, given=severity),
        _choose(injuries_uniform, OTHER_INJURIES),
    )
    witnesses = _choose(u.take(), WITNESSES_BY_VEHICLES, given=vehicles - 1)
    police = authorities == _index("authorities_contacted", "Police")
    has_report = police & (u.take() < POLICE_REPORT_GIVEN_POLICE)
    police_report = np.where(
        has_report, _index("police_report_available", "Yes"), _index("police_report_available", "No")
    )

    injury_claim = np.exp(np.log(INJURY_CLAIM_MEDIAN) + INJURY_CLAIM_SIGMA * u.normal())
    injury_claim = (
        np.maximum(1, np.round(injury_claim / INJURY_CLAIM_STEP)).astype(np.int64) * INJURY_CLAIM_STEP
    )
    car_value = CAR_VALUE_NEWEST - CAR_VALUE_LOSS_PER_YEAR * (NEWEST_MODEL_YEAR - auto_year)
    vehicle_claim = DAMAGE_SHARE_BY_SEVERITY[severity] * car_value + VEHICLE_CLAIM_NOISE * u.normal()
    vehicle_claim = np.maximum(VEHICLE_CLAIM_FLOOR, vehicle_claim)

    month = 1 + _choose(u.take(), INCIDENT_MONTH)
    first_of_month = np.array([f"{INCIDENT_YEAR}-{m:02d}" for m in range(1, 13)], dtype="datetime64[M]")
    days_in_month = (
        (first_of_month + 1).astype("datetime64[D]") - first_of_month.astype("datetime64[D]")
    ).astype(int)
    day = 1 + np.floor(u.take() * days_in_month[month - 1]).astype(np.int64)
    date = first_of_month[month - 1].astype("datetime64[D]") + (day - 1)
    monday_0 = (date.astype(np.int64) + 3) % 7  # 1970-01-01 was a Thursday (3)

    return {
        "driver_relationship": _choose(u.take(), DRIVER_RELATIONSHIP, given=incident),
        "incident_type": incident,
        "collision_type": _choose(u.take(), COLLISION_TYPE, given=incident),
        "incident_severity": severity,
        "authorities_contacted": authorities,
        "num_vehicles_involved": vehicles,
        "num_injuries": injuries,
        "num_witnesses": witnesses,
        "police_report_available": police_report,
        "injury_claim": injury_claim,
        "vehicle_claim": vehicle_claim,
        "total_claim_amount": injury_claim + vehicle_claim,
        "incident_month": month,
        "incident_day": day,
        "incident_dow": monday_0,
        "incident_hour": _choose(u.take(), INCIDENT_HOUR),
    }


def _fraud_log_odds(claims: Mapping[str, np.ndarray], customers: Mapping[str, np.ndarray]) -> np.ndarray:
    """Log-odds of fraud per row from the encoded columns (see the FRAUD_* coefficients)."""
    return (
        FRAUD_INTERCEPT
        + FRAUD_BY_INSURERS[customers["num_insurers_past_5_years"] - 1]
        + FRAUD_PER_CLAIM_PAST_YEAR * np.minimum(customers["num_claims_past_year"], 3)
        + _per_category("customer_gender", FRAUD_BY_GENDER)[customers["customer_gender"]]
        + FRAUD_PER_DECADE_OF_AGE * customers["customer_age"] / 10
        + _per_category("incident_type", FRAUD_BY_INCIDENT_TYPE)[claims["incident_type"]]
        + _per_category("incident_severity", FRAUD_BY_SEVERITY)[claims["incident_severity"]]
        + FRAUD_PER_EXTRA_VEHICLE * (claims["num_vehicles_involved"] - 1)
        + FRAUD_PER_INJURY * claims["num_injuries"]
        + FRAUD_PER_WITNESS * claims["num_witnesses"]
        + FRAUD_NO_AUTHORITIES * (claims["authorities_contacted"] == _index("authorities_contacted", "None"))
        + FRAUD_POLICE_REPORT
        * (claims["police_report_available"] == _index("police_report_available", "Yes"))
        + FRAUD_PER_10K_VEHICLE_CLAIM * claims["vehicle_claim"] / 10_000
    )


def _table(columns: Mapping[str, np.ndarray], schema: Mapping[str, str]) -> pd.DataFrame:
    """A DataFrame in the schema's column order, category indices turned into their labels."""
    missing, extra = sorted(set(schema) - set(columns)), sorted(set(columns) - set(schema))
    if missing or extra:
        raise RuntimeError(
            f"stepwise.data is out of step with processing/preprocess.py: it does not generate {missing}"
            f" and generates {extra} that the schema lacks; update stepwise/data.py"
        )
    return pd.DataFrame(
        {
            name: _labels(name, columns[name]) if kind == "category" else columns[name]
            for name, kind in schema.items()
        }
    )


def generate_frames(rows: int, seed: int, *, start: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows start .. start + rows - 1 of the seed's dataset, as (claims, customers) DataFrames.

    Columns follow CLAIMS_COLUMNS and CUSTOMERS_COLUMNS; policy_id counts from start + 1 and joins
    the two tables 1:1. The same (seed, row) always yields the same values.
    """
    _check_count("rows", rows, minimum=1)
    _check_count("seed", seed, minimum=0)
    _check_count("start", start, minimum=0)
    u = _RowUniforms(seed, start, rows)
    policy_id = np.arange(start + 1, start + rows + 1, dtype=np.int64)
    customers = {KEY: policy_id, **_customers(u)}
    claims = {KEY: policy_id, **_claims(u, customers["auto_year"])}
    fraud_probability = 1.0 / (1.0 + np.exp(-_fraud_log_odds(claims, customers)))
    claims[LABEL] = (u.take() < fraud_probability).astype(np.int64)
    return _table(claims, CLAIMS_COLUMNS), _table(customers, CUSTOMERS_COLUMNS)


def generate_dataset(
    rows: int, seed: int, out_dir: Path, *, chunk_rows: int = DEFAULT_CHUNK_ROWS
) -> list[Path]:
    """Write `claims.csv` and `customers.csv` with `rows` rows each into out_dir; return their paths.

    Generates and writes `chunk_rows` rows at a time, so memory stays bounded for any row count; the
    files do not depend on chunk_rows. Each file is written under a temporary name and renamed when
    complete, so a reader never sees half a file. Existing files of the same name are replaced.
    """
    _check_count("rows", rows, minimum=1)
    _check_count("seed", seed, minimum=0)
    _check_count("chunk_rows", chunk_rows, minimum=1)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise NotADirectoryError(
            f"{out_dir} is a file, not a folder: give a folder to write"
            f" {CLAIMS_FILE} and {CUSTOMERS_FILE} into"
        )
    out_dir.mkdir(parents=True, exist_ok=True)

    paths = [out_dir / CLAIMS_FILE, out_dir / CUSTOMERS_FILE]
    partials = [path.with_name(path.name + ".partial") for path in paths]
    try:
        with (
            open(partials[0], "w", newline="", encoding="utf-8") as claims_file,
            open(partials[1], "w", newline="", encoding="utf-8") as customers_file,
        ):
            for start in range(0, rows, chunk_rows):
                frames = generate_frames(min(chunk_rows, rows - start), seed, start=start)
                for frame, file in zip(frames, (claims_file, customers_file), strict=True):
                    frame.to_csv(file, index=False, header=start == 0, lineterminator="\n")
                del frames, frame  # free this chunk before the next one is generated
        for partial, path in zip(partials, paths, strict=True):
            os.replace(partial, path)
    finally:
        for partial in partials:
            partial.unlink(missing_ok=True)
    return paths


def _check_count(name: str, value: object, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise TypeError(f"{name} must be a whole number, got {value!r} ({type(value).__name__})")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
