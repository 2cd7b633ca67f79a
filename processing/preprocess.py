"""Preprocess job: validate the raw claims and customers tables, join, encode, split.

Runs inside SageMaker's scikit-learn processing container (Python 3.8+, pandas 1.x, numpy 1.x) and
locally (pandas 3, numpy 2); standard library + pandas + numpy only. See README "Processing job
contract". The raw schema and the category vocabulary below are the only definition of the data in
this project: the generator (stepwise/data.py) imports them.

    python processing/preprocess.py [--input-dir /opt/ml/processing/input/raw]
        [--output-dir /opt/ml/processing/output] [--validation-ratio 0.09] [--test-ratio 0.10]
        [--seed 42] [--message-file /opt/ml/output/message]

Reads claims.csv and customers.csv, joins them on policy_id, encodes (numeric as is, ordinal columns
to 0..k-1 in vocabulary order, nominal columns one-hot in vocabulary order), splits stratified on the
label and writes train/train.csv and validation/validation.csv (built-in XGBoost CSV: label first, no
header), test/test.csv (header, label first) and schema/schema.json.

Validation policy: the input is checked completely before anything is written, and the first problem
found stops the job (exit code 1; 2 for bad arguments). The reason goes to the message file
(SageMaker keeps its first 1 KB as the job's FailureReason, so the message starts with the file, the
line (1-based, the header is line 1), the policy_id and the column) and to stderr. Rejected:
- a missing, empty (0 bytes or header only) or non-UTF-8 file (the byte offset is given), a row whose
  number of fields differs from the header's;
- missing, duplicated or unexpected columns: the column set is fixed (any order); an extra column is
  an error, not ignored, since it usually is a renamed one and the model's features are fixed;
- an empty number, or one not in the one accepted notation or outside its range (see WHOLE_NUMBER and
  WHOLE_RANGE below): whole numbers (the int columns, policy_id) are ASCII digits with an optional
  sign, from -2**24 to 2**24 (exact in XGBoost's float32), policy_id from 0 to 2**63 - 1 and compared
  exactly; amounts (the float columns) may also have a decimal point and an exponent, and must be 0
  or between 1e-37 and 1e38 in size. Spaces, "_", non-ASCII digits, "1.0" or "1e3" in a whole-number
  column, "nan" and "inf" are rejected, and the message says how to write the value;
- a label other than 0 or 1, or a single class;
- a category outside VOCABULARY (values are case- and space-sensitive; "N/A" and "None" are
  categories, never missing values). To accept a new category, add it to VOCABULARY: the features
  change with it;
- a duplicated policy_id in either file, or a policy_id in one file and not in the other;
- data too small for every split to hold both classes.
Accepted: columns in any order, blank lines (skipped), CRLF line ends, a UTF-8 byte-order mark.
Not checked: whether total_claim_amount equals injury_claim + vehicle_claim, or whether a number is
plausible (a negative age, month 13): the ranges above are what the model can represent, and numbers
pass through as given ("-0" is written 0 or 0.0).
"""

from __future__ import annotations

import argparse
import codecs
import csv
import decimal
import difflib
import io
import json
import os
import re
import sys
from collections import OrderedDict
from typing import List, Optional, Sequence, Tuple

import numpy as np
import pandas as pd

LABEL = "fraud"
KEY = "policy_id"

# Raw tables: columns in file order. "category" columns take values from VOCABULARY only.
CLAIMS_COLUMNS: OrderedDict[str, str] = OrderedDict(
    [
        ("policy_id", "int"),
        ("driver_relationship", "category"),
        ("incident_type", "category"),
        ("collision_type", "category"),
        ("incident_severity", "category"),
        ("authorities_contacted", "category"),
        ("num_vehicles_involved", "int"),
        ("num_injuries", "int"),
        ("num_witnesses", "int"),
        ("police_report_available", "category"),
        ("injury_claim", "float"),
        ("vehicle_claim", "float"),
        ("total_claim_amount", "float"),
        ("incident_month", "int"),
        ("incident_day", "int"),
        ("incident_dow", "int"),
        ("incident_hour", "int"),
        ("fraud", "label"),
    ]
)

CUSTOMERS_COLUMNS: OrderedDict[str, str] = OrderedDict(
    [
        ("policy_id", "int"),
        ("customer_age", "int"),
        ("months_as_customer", "int"),
        ("num_claims_past_year", "int"),
        ("num_insurers_past_5_years", "int"),
        ("policy_state", "category"),
        ("policy_deductable", "int"),  # sic: the tutorial's spelling
        ("policy_annual_premium", "int"),
        ("policy_liability", "category"),
        ("customer_zip", "int"),
        ("customer_gender", "category"),
        ("customer_education", "category"),
        ("auto_year", "int"),
    ]
)

# The fixed vocabulary. Literal "N/A" and "None" are categories, not missing values; "Unkown" is the
# dataset's own spelling. Ordinal columns list their categories in order (encoded 0, 1, 2, ...);
# nominal columns are one-hot encoded in the order listed.
ORDINAL: OrderedDict[str, list] = OrderedDict(
    [
        ("incident_severity", ["Minor", "Major", "Totaled"]),
        ("police_report_available", ["No", "Yes"]),
        ("policy_liability", ["15/30", "25/50", "30/60", "100/200"]),
        (
            "customer_education",
            ["Below High School", "High School", "Associate", "Bachelor", "Advanced Degree"],
        ),
    ]
)
NOMINAL: OrderedDict[str, list] = OrderedDict(
    [
        ("driver_relationship", ["Self", "Spouse", "Child", "Other", "N/A"]),
        ("incident_type", ["Collision", "Break-in", "Theft"]),
        ("collision_type", ["Front", "Rear", "Side", "N/A"]),
        ("authorities_contacted", ["Police", "Ambulance", "Fire", "None"]),
        ("customer_gender", ["Male", "Female", "Other", "Unkown"]),
        ("policy_state", ["CA", "WA", "AZ", "OR", "NV", "ID"]),
    ]
)
VOCABULARY: OrderedDict[str, list] = OrderedDict(list(ORDINAL.items()) + list(NOMINAL.items()))

# Numeric raw columns that pass through as features, in file order (claims first, then customers)
NUMERIC_FEATURES = [
    name
    for table in (CLAIMS_COLUMNS, CUSTOMERS_COLUMNS)
    for name, kind in table.items()
    if kind in ("int", "float") and name != KEY
]


# Numbers are read exactly as written, in one notation each (README "Preprocess: validation policy"):
# - whole numbers (int columns, policy_id): ASCII digits with an optional sign ("+5", "-0", "007");
# - amounts (float columns): the same, or with a decimal point and/or an exponent ("1e3", ".5", "7.").
# Nothing else: no spaces, "_" separators, non-ASCII digits, "nan", "inf" or hex, all of which
# Python's int() or float() would take.
WHOLE_NUMBER = re.compile(r"[+-]?[0-9]+")
PLAIN_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# Accepted ranges. XGBoost reads every value as a 32-bit float, which holds every whole number up to
# 2**24 exactly (2**24 + 1 becomes 2**24) and normal numbers from about 1.2e-38 to 3.4e38. Amounts keep
# a margin inside that: the container's CSV reader (dmlc strtof) silently clips exponents beyond 38,
# and XGBoost's histogram puts its last bound at max + |max|.
WHOLE_RANGE = (-(2**24), 2**24)  # integer features
KEY_RANGE = (0, 2**63 - 1)  # policy_id: compared exactly (int64), never a feature
AMOUNT_RANGE = (1e-37, 1e38)  # size of a non-zero amount (float features), either sign


def one_hot_name(column: str, category: str) -> str:
    """Feature name of one category: lower case, letters and digits only ("N/A" -> "na", "Break-in" ->
    "breakin")."""
    return column + "_" + "".join(ch for ch in category.lower() if ch.isalnum())


def feature_names() -> list:
    """The model's input columns, in order: numeric, then ordinal-encoded, then one-hot."""
    names = list(NUMERIC_FEATURES) + list(ORDINAL)
    for column, categories in NOMINAL.items():
        names.extend(one_hot_name(column, category) for category in categories)
    return names


# ---------------------------------------------------------------------------------------------------
# The job

SCHEMA_VERSION = 1
CLAIMS_FILE = "claims.csv"
CUSTOMERS_FILE = "customers.csv"
SPLITS = ("train", "validation", "test")

# The container's paths. The split defaults equal stepwise/config.py's (this script cannot import the
# stepwise package inside the container; a unit test keeps the two in step).
DEFAULT_INPUT_DIR = "/opt/ml/processing/input/raw"
DEFAULT_OUTPUT_DIR = "/opt/ml/processing/output"
DEFAULT_MESSAGE_FILE = "/opt/ml/output/message"
DEFAULT_VALIDATION_RATIO = 0.09
DEFAULT_TEST_RATIO = 0.10
DEFAULT_SEED = 42

EXIT_BAD_DATA = 1
EXIT_USAGE = 2
MAX_EXAMPLES = 5  # rows or values quoted in one message


class InputError(Exception):
    """The input data cannot be used. The message names the file, line/column and what to fix."""


class UsageError(Exception):
    """The command line is wrong (exit code 2)."""


def _quote(values: Sequence, limit: int = MAX_EXAMPLES, quoted: bool = True) -> str:
    """'a', 'b', 'c' and 4 more: values quoted so that stray spaces show."""
    shown = ", ".join(repr(str(value)) if quoted else str(value) for value in list(values)[:limit])
    if len(values) > limit:
        shown += f" and {len(values) - limit} more"
    return shown


def _did_you_mean(value: str, choices: Sequence[str]) -> str:
    matches = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    if not matches:
        # case or spacing slips ("minor", " Minor") score low on difflib's ratio: compare normalised
        matches = [choice for choice in choices if choice.lower() == value.strip().lower()][:1]
    return f" (did you mean {matches[0]!r}?)" if matches else ""


# ---------------------------------------------------------------------------------------------------
# Reading


def read_table(path: str, columns: OrderedDict[str, str]) -> pd.DataFrame:
    """Read one raw CSV file as strings, indexed by its file line number (the header is line 1).

    Checks that the file exists, is UTF-8, has a header with exactly the schema's columns and at least
    one data row, and that every row has as many fields as the header. Blank lines are skipped.
    Rows are read with the csv module, not pd.read_csv: pandas silently shifts a row with one field too
    many into the index (or drops the extra field), and it would turn "None" and "N/A" into NaN unless
    told otherwise on every version. Here every value stays the string the file holds.
    """
    name = os.path.basename(path)
    if not os.path.isfile(path):
        folder = os.path.dirname(path) or "."
        present = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
        hint = _did_you_mean(name, present)
        where = (
            "it holds: " + (_quote(present) if present else "nothing")
            if present or os.path.isdir(folder)
            else "that folder does not exist"
        )
        raise InputError(
            f"{name} is missing: no file at {path}{hint}; {where}. "
            f"The input must hold both {CLAIMS_FILE} and {CUSTOMERS_FILE}."
        )
    with open(path, "rb") as handle:
        data = handle.read()
    if not data.strip():
        raise InputError(
            f"{name} is empty ({len(data)} bytes): it needs a header line and at least one data row."
        )
    text = _decode_utf8(name, data)

    reader = csv.reader(io.StringIO(text, newline=""))
    header = None
    rows = []  # type: List[List[str]]
    lines = []  # type: List[int]
    last_line = 0
    try:
        for record in reader:
            first_line, last_line = last_line + 1, reader.line_num
            if header is None:
                header = record
                _check_header(name, header, columns)
                continue
            if not record:  # a blank line
                continue
            if len(record) != len(header):
                raise InputError(
                    f"{name} line {first_line}: the row has {len(record)} fields "
                    f"but the header has {len(header)}. "
                    "Fix the row (a stray comma or an unquoted value holding a comma?) or remove it."
                )
            rows.append(record)
            lines.append(first_line)
    except csv.Error as err:
        raise InputError(
            f"{name} line {reader.line_num + 1}: not a valid CSV row ({err}). Fix or remove the row."
        ) from None
    if not rows:
        raise InputError(f"{name} has a header but no data rows: it needs at least one row.")
    table = pd.DataFrame(rows, columns=header, index=pd.Index(lines, name="line"), dtype=str)
    return table[list(columns)]  # schema order


def _decode_utf8(name: str, data: bytes) -> str:
    start = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0  # Excel's "CSV UTF-8"
    try:
        return data[start:].decode("utf-8")
    except UnicodeDecodeError as err:
        offset = start + err.start
        raise InputError(
            "{} is not UTF-8: byte 0x{:02x} at byte offset {} (counting from 0; line {}) is not valid UTF-8. "
            "Save the file as UTF-8 (e.g. Excel's 'CSV UTF-8') and upload it again.".format(
                name, data[offset], offset, data.count(b"\n", 0, offset) + 1
            )
        ) from None


def _check_header(name: str, header: List[str], columns: OrderedDict[str, str]) -> None:
    duplicated = sorted({column for column in header if header.count(column) > 1})
    missing = [column for column in columns if column not in header]
    unexpected = [column for column in header if column not in columns]
    if not (duplicated or missing or unexpected):
        return
    problems = []
    if missing:
        problems.append("missing column(s) " + _quote(missing, limit=len(missing)))
    if unexpected:
        described = [repr(column) + _did_you_mean(column, missing or list(columns)) for column in unexpected]
        problems.append("unexpected column(s) " + ", ".join(described))
    if duplicated:
        problems.append("duplicated column(s) " + _quote(duplicated, limit=len(duplicated)))
    raise InputError(
        "{} line 1 (header): {}. Rename or remove columns so that the header holds exactly these {} "
        "columns, in any order (extra columns are not allowed): {}.".format(
            name, "; ".join(problems), len(columns), ", ".join(columns)
        )
    )


def load_raw(input_dir: str) -> Tuple[pd.DataFrame, pd.DataFrame]:
    """The claims and customers tables as strings, each indexed by file line number."""
    claims = read_table(os.path.join(input_dir, CLAIMS_FILE), CLAIMS_COLUMNS)
    customers = read_table(os.path.join(input_dir, CUSTOMERS_FILE), CUSTOMERS_COLUMNS)
    return claims, customers


# ---------------------------------------------------------------------------------------------------
# Validation


def _row_error(
    name: str, table: pd.DataFrame, column: str, bad: pd.Series, problem: str, fix: str
) -> InputError:
    """An error about the rows where `bad` holds: the first one in detail, the others by line."""
    lines = list(table.index[bad.to_numpy()])
    first = lines[0]
    where = f"{name} line {first}"
    if column != KEY:
        where += f" (policy_id {table.at[first, KEY]})"
    message = f"{where}, column {column}: {problem.format(value=table.at[first, column])}. {fix}"
    if len(lines) > 1:
        others = ", ".join(str(line) for line in lines[1 : 1 + MAX_EXAMPLES])
        more = f" and {len(lines) - 1 - MAX_EXAMPLES} more" if len(lines) - 1 > MAX_EXAMPLES else ""
        message += f" The same problem is on line(s) {others}{more}."
    return InputError(message)


def _numbers(name: str, table: pd.DataFrame, column: str, kind: str) -> pd.Series:
    """The column as int64 (kind "int") or float64 ("float"); raises InputError at the first value that
    _number_problem rejects. The common case (every value fine) is checked without a Python call per
    value: one regex over the whole column, then numpy."""
    values = table[column].tolist()
    if kind == "int":
        low, high = _whole_range(column)
        # 18 characters at most: well within int64, so numpy holds every value exactly
        if max(map(len, values)) <= 18 and _all_match(WHOLE_NUMBER, values):
            numbers = np.fromiter(map(int, values), dtype=np.int64, count=len(values))
            if ((numbers >= low) & (numbers <= high)).all():
                return pd.Series(numbers, index=table.index)
    elif _all_match(PLAIN_NUMBER, values):
        numbers = np.fromiter(map(float, values), dtype=np.float64, count=len(values))
        size = np.abs(numbers)
        zeros = np.flatnonzero(size == 0)
        in_range = (size >= AMOUNT_RANGE[0]) & (size <= AMOUNT_RANGE[1])
        if (in_range | (size == 0)).all() and not any(_has_nonzero_digit(values[i]) for i in zeros):
            return pd.Series(numbers + 0.0, index=table.index)  # + 0.0: -0.0 becomes 0.0
    # a problem, or long whole numbers (zero-padded or 19-digit ids): one value at a time
    problems = [_number_problem(value, kind, column) for value in values]
    bad = [i for i, problem in enumerate(problems) if problem is not None]
    if not bad:
        if kind == "int":
            return pd.Series([_whole(value) for value in values], index=table.index, dtype="int64")
        return pd.Series([float(value) + 0.0 for value in values], index=table.index, dtype="float64")
    what, problem, fix = problems[bad[0]]
    same = pd.Series([found is not None and found[0] == what for found in problems], index=table.index)
    raise _row_error(name, table, column, same, problem, fix)


def _number_problem(text: str, kind: str, column: str) -> Optional[Tuple[str, str, str]]:
    """None when `text` is an accepted value of a numeric column (kind "int" or "float"), else
    (what, problem, fix): `what` groups rows with the same problem, `problem` quotes the value as
    {value!r}. This is the definition of an accepted number; _numbers checks the same in bulk."""
    if kind == "int":
        low, high = _whole_range(column)
        outside = (
            f"{{value!r}} is outside the accepted range {low} to {high}",
            _WHOLE_RANGE_FIX[column == KEY],
        )
        if WHOLE_NUMBER.fullmatch(text):
            value = _whole(text)
            return None if value is not None and low <= value <= high else ("range",) + outside
    elif PLAIN_NUMBER.fullmatch(text):
        return None if _amount_in_range(float(text), text) else ("range",) + _AMOUNT_OUTSIDE
    if not text.strip():
        return "empty", "the value is empty", "Every row needs a number here."
    # Not in the accepted notation. Read it as Python's Decimal would (it also takes spaces, "_"
    # separators and any Unicode digits), only to say what is wrong and how to write it.
    try:
        number = decimal.Decimal(text)  # type: Optional[decimal.Decimal]
    except (decimal.InvalidOperation, ValueError):
        number = None
    if kind == "float":
        if number is None or not number.is_finite():
            return "not a number", "{value!r} is not a number", _NOT_A_NUMBER_FIX
        if not _amount_in_range(float(number), str(number)):
            return ("range",) + _AMOUNT_OUTSIDE
        return (
            "notation",
            "{value!r} is not written as a plain number",
            f"Write it as {number}: ASCII digits with an optional sign, decimal point and exponent "
            "(no spaces, digit separators or other characters).",
        )
    if number is None or not number.is_finite() or number != number.to_integral_value():
        return (
            "not whole",
            "{value!r} is not a whole number",
            f"Replace it with a whole number from {low} to {high}, written with ASCII digits only.",
        )
    if number.adjusted() >= 19 or not low <= int(number) <= high:
        return ("range",) + outside
    return (
        "notation",
        "{value!r} is not written as a whole number",
        f"Write it as {int(number)}: ASCII digits only, with an optional sign (no spaces, decimal point, "
        "exponent, digit separators or other characters).",
    )


_WHOLE_RANGE_FIX = {
    False: "XGBoost reads every value as a 32-bit float, which holds whole numbers exactly only up to "
    "2**24: fix the value (a wrong unit, or a corrupted export?).",
    True: "A policy_id is compared exactly, as a 64-bit whole number: fix the value (the same id in both "
    "files).",
}
_AMOUNT_OUTSIDE = (
    "{value!r} is out of range: a number here must be 0 or between 1e-37 and 1e38 in size (either sign)",
    "XGBoost reads every value as a 32-bit float (largest about 3.4e38, smallest normal about 1.2e-38): "
    "beyond that, training fails or the value silently changes. Fix the value (a wrong unit, or a "
    "corrupted export?).",
)
_NOT_A_NUMBER_FIX = (
    "Replace it with a number: ASCII digits with an optional sign, decimal point and exponent, such as "
    "1234.56 or 1.5e3 (not nan or inf)."
)


def _whole_range(column: str) -> Tuple[int, int]:
    return KEY_RANGE if column == KEY else WHOLE_RANGE


def _whole(text: str) -> Optional[int]:
    """The value of a WHOLE_NUMBER text, or None when it has more than 19 significant digits (beyond
    every accepted range; int() refuses over 4,300 digits on Python 3.11+)."""
    digits = text.lstrip("+-").lstrip("0") or "0"
    if len(digits) > 19:
        return None
    return -int(digits) if text.startswith("-") else int(digits)


def _amount_in_range(value: float, text: str) -> bool:
    """Whether a PLAIN_NUMBER text, read as `value` by float(), is 0 or within AMOUNT_RANGE in size.
    float() rounds "1e-400" to 0.0: such a text is too small, not zero."""
    size = abs(value)
    if size == 0:
        return not _has_nonzero_digit(text)
    return AMOUNT_RANGE[0] <= size <= AMOUNT_RANGE[1]


def _has_nonzero_digit(text: str) -> bool:
    """Whether the digits before the exponent of a PLAIN_NUMBER text are not all 0."""
    return re.search("[1-9]", re.split("[eE]", text)[0]) is not None


def _all_match(pattern: re.Pattern, values: List[str]) -> bool:
    """Whether every value matches `pattern` in full. One regex pass over the values joined by line
    breaks: a match per value costs a Python call each, several times slower on a million rows. A value
    that holds a line break itself (quoted in the CSV) would add a line, which the count catches."""
    joined = "\n".join(values)
    if joined.count("\n") != len(values) - 1:
        return False
    every = re.compile(f"(?:{pattern.pattern})(?:\n(?:{pattern.pattern}))*")  # re caches the compiled form
    return every.fullmatch(joined) is not None


def _labels(name: str, table: pd.DataFrame, column: str) -> pd.Series:
    raw = table[column]
    bad = ~raw.isin(["0", "1"])
    if bad.any():
        raise _row_error(
            name, table, column, bad, "the label is {value!r}", "It must be 0 (legitimate) or 1 (fraud)."
        )
    labels = raw.astype("int64")
    if labels.nunique() < 2:
        raise InputError(
            f"{name}, column {column}: every row has {column}={labels.iloc[0]}; training needs both "
            "classes (0 = legitimate, 1 = fraud). Add rows of the other class."
        )
    return labels


def _categories(name: str, table: pd.DataFrame, column: str) -> pd.Series:
    raw, allowed = table[column], VOCABULARY[column]
    bad = ~raw.isin(allowed)
    if bad.any():
        raise _row_error(
            name,
            table,
            column,
            bad,
            "{value!r} is not an allowed category" + _did_you_mean(raw[bad].iloc[0], allowed),
            f"Allowed (case- and space-sensitive): {', '.join(allowed)}. Fix the value, or add the new "
            "category to VOCABULARY in processing/preprocess.py (the model's features change with it).",
        )
    return raw


def _policy_ids(name: str, table: pd.DataFrame, kind: str) -> pd.Series:
    ids = _numbers(name, table, KEY, kind)
    duplicated = ids[ids.duplicated(keep=False)]
    if len(duplicated):
        first = duplicated.iloc[0]
        lines = _quote(list(duplicated.index[duplicated == first]), quoted=False)
        raise InputError(
            f"{name}, column {KEY}: policy_id {first} appears {(duplicated == first).sum()} times "
            f"(lines {lines}); each policy must appear once. Remove or fix the duplicates. "
            f"Duplicated ids: {_quote(list(duplicated.drop_duplicates()), quoted=False)}."
        )
    return ids


def validate(name: str, table: pd.DataFrame, columns: OrderedDict[str, str]) -> pd.DataFrame:
    """Check every value of one raw table (as load_raw returns it); return it with numbers converted.

    Numeric columns become int64/float64, the label int64, categories stay strings.
    Raises InputError naming the file, line, policy_id and column of the first problem.
    """
    typed = OrderedDict()  # type: OrderedDict[str, pd.Series]
    typed[KEY] = _policy_ids(name, table, columns[KEY])  # first: the other messages quote it
    for column, kind in columns.items():
        if column == KEY:
            continue
        if kind in ("int", "float"):
            typed[column] = _numbers(name, table, column, kind)
        elif kind == "label":
            typed[column] = _labels(name, table, column)
        else:
            typed[column] = _categories(name, table, column)
    return pd.DataFrame(typed, index=table.index)


def _unmatched(lines: pd.Series, name: str) -> str:
    """'3 in claims.csv only: 17 (line 18), ...' for policy ids (index) and their file lines (values)."""
    if not len(lines):
        return f"0 in {name} only"
    shown = ", ".join(f"{policy} (line {line})" for policy, line in list(lines.items())[:MAX_EXAMPLES])
    more = ", ..." if len(lines) > MAX_EXAMPLES else ""
    return f"{len(lines)} in {name} only: {shown}{more}"


def join(claims: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """One row per policy (claims' order): the claims columns, then the customers columns.

    Both tables are validated (unique policy_id); every policy_id must be in both files.
    """
    claim_ids = pd.Series(claims.index, index=claims[KEY].to_numpy())
    customer_ids = pd.Series(customers.index, index=customers[KEY].to_numpy())
    only_claims = claim_ids[~claim_ids.index.isin(customer_ids.index)]
    only_customers = customer_ids[~customer_ids.index.isin(claim_ids.index)]
    if len(only_claims) or len(only_customers):
        raise InputError(
            f"policy_id values do not match between {CLAIMS_FILE} and {CUSTOMERS_FILE}: "
            f"{_unmatched(only_claims, CLAIMS_FILE)}; {_unmatched(only_customers, CUSTOMERS_FILE)}. "
            "Every claim needs its customer row and every customer its claim: "
            "add the missing rows or remove the unmatched ones."
        )
    return claims.reset_index(drop=True).merge(
        customers.reset_index(drop=True), on=KEY, how="left", validate="one_to_one", sort=False
    )


# ---------------------------------------------------------------------------------------------------
# Encoding and splitting


def encode(joined: pd.DataFrame) -> pd.DataFrame:
    """The label, then feature_names(): numeric as is, ordinal 0..k-1, nominal one-hot (0/1).

    `joined` is validated data (join's result): every category is in VOCABULARY.
    """
    columns = OrderedDict()  # type: OrderedDict[str, pd.Series]
    columns[LABEL] = joined[LABEL].astype("int64")
    for column in NUMERIC_FEATURES:
        columns[column] = joined[column]
    for column, categories in ORDINAL.items():
        columns[column] = joined[column].map(_ordinal_codes(categories)).astype("int64")
    for column, categories in NOMINAL.items():
        for category in categories:
            columns[one_hot_name(column, category)] = (joined[column] == category).astype("int64")
    encoded = pd.DataFrame(columns, index=joined.index)
    assert list(encoded.columns) == [LABEL] + feature_names()
    return encoded


def _ordinal_codes(categories: Sequence[str]) -> OrderedDict[str, int]:
    return OrderedDict((category, code) for code, category in enumerate(categories))


def _apportion(counts: Sequence[int], total: int) -> List[int]:
    """Split `total` over classes in proportion to `counts` (largest remainder; ties to the first class)."""
    quotas = [total * count / float(sum(counts)) for count in counts]
    shares = [int(np.floor(quota)) for quota in quotas]
    by_remainder = sorted(range(len(counts)), key=lambda i: (-(quotas[i] - shares[i]), i))
    for i in by_remainder[: total - sum(shares)]:
        shares[i] += 1
    return shares


def split(labels: Sequence[int], validation_ratio: float, test_ratio: float, seed: int) -> np.ndarray:
    """The split of each row ("train", "validation" or "test"), stratified on the label.

    The test and validation splits get round(n * ratio) rows each, shared between the classes in
    proportion to their sizes; train gets the rest. The rows of each class are shuffled with numpy's
    legacy RandomState, whose stream numpy keeps identical across versions: the same seed gives the
    same split in the container (numpy 1.x) and locally (numpy 2).
    Raises InputError when a split would miss a class.
    """
    labels = np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    sizes = OrderedDict(
        [
            ("test", int(round(len(labels) * test_ratio))),
            ("validation", int(round(len(labels) * validation_ratio))),
        ]
    )
    shares = OrderedDict((name, _apportion(counts, size)) for name, size in sizes.items())
    for i, label in enumerate(classes):
        train_rows = counts[i] - shares["test"][i] - shares["validation"][i]
        per_split = OrderedDict(
            [("train", train_rows), ("validation", shares["validation"][i]), ("test", shares["test"][i])]
        )
        if len(classes) < 2 or min(per_split.values()) < 1:
            shown = "/".join(str(max(rows, 0)) for rows in per_split.values())
            raise InputError(
                f"The data is too small to stratify: {len(labels)} rows, {counts[i]} of them with "
                f"{LABEL}={label}; the ratios (validation {validation_ratio}, test {test_ratio}) would put "
                f"{shown} of those in train/validation/test, and every split needs both classes. "
                "Provide more rows of each class or change the ratios."
            )
    random = np.random.RandomState(seed)
    assignment = np.full(len(labels), "train", dtype=object)
    for i, label in enumerate(classes):
        rows = random.permutation(np.flatnonzero(labels == label))
        n_test, n_validation = shares["test"][i], shares["validation"][i]
        assignment[rows[:n_test]] = "test"
        assignment[rows[n_test : n_test + n_validation]] = "validation"
    return assignment


# ---------------------------------------------------------------------------------------------------
# Output


def build_schema(
    encoded: pd.DataFrame, assignment: np.ndarray, validation_ratio: float, test_ratio: float, seed: int
) -> OrderedDict[str, object]:
    """schema.json's content: what the files hold and how they were made."""
    rows = OrderedDict([("total", len(encoded))])
    rates = OrderedDict([("total", float(encoded[LABEL].mean()))])
    for name in SPLITS:
        labels = encoded[LABEL][assignment == name]
        rows[name] = int(len(labels))
        rates[name] = float(labels.mean())
    return OrderedDict(
        [
            ("version", SCHEMA_VERSION),
            ("label", LABEL),
            ("features", feature_names()),
            (
                "files",
                OrderedDict(
                    [
                        ("train", "train/train.csv: label then features, no header"),
                        ("validation", "validation/validation.csv: label then features, no header"),
                        ("test", "test/test.csv: header; label then features"),
                    ]
                ),
            ),
            (
                "encodings",
                OrderedDict(
                    [
                        ("numeric", list(NUMERIC_FEATURES)),
                        ("ordinal", OrderedDict((c, _ordinal_codes(v)) for c, v in ORDINAL.items())),
                        (
                            "one_hot",
                            OrderedDict(
                                (c, OrderedDict((v, one_hot_name(c, v)) for v in values))
                                for c, values in NOMINAL.items()
                            ),
                        ),
                    ]
                ),
            ),
            ("key", KEY),
            (
                "raw_columns",
                OrderedDict([(CLAIMS_FILE, CLAIMS_COLUMNS), (CUSTOMERS_FILE, CUSTOMERS_COLUMNS)]),
            ),
            ("rows", rows),
            ("fraud_rate", rates),
            ("seed", seed),
            ("validation_ratio", validation_ratio),
            ("test_ratio", test_ratio),
        ]
    )


def write_outputs(output_dir: str, encoded: pd.DataFrame, assignment: np.ndarray, schema: dict) -> None:
    """train/train.csv, validation/validation.csv, test/test.csv and schema/schema.json under output_dir."""
    for name in SPLITS:
        folder = os.path.join(output_dir, name)
        os.makedirs(folder, exist_ok=True)
        part = encoded[assignment == name]
        part.to_csv(os.path.join(folder, name + ".csv"), header=(name == "test"), index=False)
    folder = os.path.join(output_dir, "schema")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "schema.json"), "w", encoding="utf-8") as handle:
        json.dump(schema, handle, indent=2)
        handle.write("\n")


def run(input_dir: str, output_dir: str, validation_ratio: float, test_ratio: float, seed: int) -> dict:
    """The whole job; returns the schema written. Nothing is written unless all the input is valid."""
    claims, customers = load_raw(input_dir)
    claims = validate(CLAIMS_FILE, claims, CLAIMS_COLUMNS)
    customers = validate(CUSTOMERS_FILE, customers, CUSTOMERS_COLUMNS)
    encoded = encode(join(claims, customers))
    assignment = split(encoded[LABEL].to_numpy(), validation_ratio, test_ratio, seed)
    schema = build_schema(encoded, assignment, validation_ratio, test_ratio, seed)
    write_outputs(output_dir, encoded, assignment, schema)
    return schema


# ---------------------------------------------------------------------------------------------------
# Command line


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def _ratio(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1 (exclusive)")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 2**32 - 1")
    return value


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = _Parser(prog="preprocess.py", description=__doc__.split("\n")[0], allow_abbrev=False)
    parser.add_argument("--input-dir", default=DEFAULT_INPUT_DIR, help="holds claims.csv and customers.csv")
    parser.add_argument("--output-dir", default=DEFAULT_OUTPUT_DIR)
    parser.add_argument("--validation-ratio", type=_ratio, default=DEFAULT_VALIDATION_RATIO)
    parser.add_argument("--test-ratio", type=_ratio, default=DEFAULT_TEST_RATIO)
    parser.add_argument("--seed", type=_seed, default=DEFAULT_SEED)
    parser.add_argument(
        "--message-file", default=DEFAULT_MESSAGE_FILE, help="where the failure reason goes (SageMaker's)"
    )
    args = parser.parse_args(argv)
    if args.validation_ratio + args.test_ratio >= 1:
        parser.error(
            f"--validation-ratio {args.validation_ratio} + --test-ratio {args.test_ratio} "
            "leave no rows for training: their sum must be below 1"
        )
    return args


def _message_file_in(argv: Sequence[str]) -> str:
    """--message-file's value when the command line cannot be parsed as a whole."""
    for i, arg in enumerate(argv):
        if arg == "--message-file" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--message-file="):
            return arg.split("=", 1)[1]
    return DEFAULT_MESSAGE_FILE


def report_failure(message: str, message_file: str) -> None:
    """Print the reason to stderr and write it where SageMaker reads a job's FailureReason."""
    print("preprocess failed: " + message, file=sys.stderr)
    try:
        folder = os.path.dirname(message_file)
        if folder:
            os.makedirs(folder, exist_ok=True)
        with open(message_file, "w", encoding="utf-8") as handle:
            handle.write(message + "\n")
    except OSError as err:
        print(f"(could not write the message file {message_file}: {err})", file=sys.stderr)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the job; 0 on success, 1 for unusable input data, 2 for a wrong command line."""
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parse_args(argv)
    except UsageError as err:
        report_failure(f"usage: {err}. Run with --help for the options.", _message_file_in(argv))
        return EXIT_USAGE
    try:
        schema = run(args.input_dir, args.output_dir, args.validation_ratio, args.test_ratio, args.seed)
    except InputError as err:
        report_failure(str(err), args.message_file)
        return EXIT_BAD_DATA
    except Exception as err:  # a bug or an I/O failure: still leave SageMaker a reason, then the traceback
        report_failure(f"internal error: {type(err).__name__}: {err}", args.message_file)
        raise
    rows = schema["rows"]
    print(
        "preprocess: {} rows -> train {}, validation {}, test {} ({} features) in {}".format(
            rows["total"],
            rows["train"],
            rows["validation"],
            rows["test"],
            len(schema["features"]),
            args.output_dir,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
