"""The Preprocess processing job (processing/preprocess.py): outputs on the real data, and every kind of
bad input rejected with a message that names the file, column and line.

A few tests run the script as the SageMaker container does (a subprocess with the container's
arguments); the rest call main() or the plain functions. Small datasets are built here from the
vocabulary, so the failure tests run without ../shared.
"""

from __future__ import annotations

import csv
import hashlib
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from processing import preprocess as pp
from stepwise import config

SCRIPT = Path(pp.__file__).resolve()
FEATURES = pp.feature_names()
ONE_HOT = FEATURES[len(pp.NUMERIC_FEATURES) + len(pp.ORDINAL) :]  # feature_names(): numeric, ordinal, one-hot


# ---------------------------------------------------------------------------------------------------
# Helpers: a small valid dataset, running the job


def make_rows(columns: dict[str, str], count: int = 60, fraud_every: int = 4) -> list[dict[str, str]]:
    """`count` valid rows of one raw table: every category cycles through its vocabulary."""
    rows = []
    for i in range(count):
        row = {}
        for column, kind in columns.items():
            if column == pp.KEY:
                row[column] = str(i + 1)
            elif kind == "category":
                categories = pp.VOCABULARY[column]
                row[column] = categories[i % len(categories)]
            elif kind == "label":
                row[column] = "1" if i % fraud_every == 0 else "0"
            elif kind == "int":
                row[column] = str(i % 7)
            else:
                row[column] = repr(1000 + i * 12.25)
        rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] | None = None) -> None:
    header = list(rows[0]) if header is None else header
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(column, "x") for column in header])


def line_of(index: int) -> int:
    """File line of the row at `index` (the header is line 1)."""
    return index + 2


@pytest.fixture
def claims() -> list[dict[str, str]]:
    return make_rows(pp.CLAIMS_COLUMNS)


@pytest.fixture
def customers() -> list[dict[str, str]]:
    return make_rows(pp.CUSTOMERS_COLUMNS)


@pytest.fixture
def small_input(tmp_path: Path, claims, customers) -> Path:
    folder = tmp_path / "raw"
    folder.mkdir()
    write_csv(folder / "claims.csv", claims)
    write_csv(folder / "customers.csv", customers)
    return folder


def run_main(input_dir: Path, work: Path, *extra: str) -> tuple[int, Path, str]:
    """main() with the container's arguments: (exit code, output dir, message file text or "")."""
    output, message = work / "out", work / "message"
    code = pp.main(
        ["--input-dir", str(input_dir), "--output-dir", str(output), "--message-file", str(message), *extra]
    )
    return code, output, message.read_text(encoding="utf-8") if message.exists() else ""


def run_script(input_dir: Path, work: Path, *extra: str) -> tuple[subprocess.CompletedProcess, Path, Path]:
    """The script as the processing container runs it: `python preprocess.py --input-dir ...`."""
    output, message = work / "out", work / "output" / "message"
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--input-dir", str(input_dir), "--output-dir", str(output)]
        + ["--message-file", str(message), *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result, output, message


def rejected(
    tmp_path: Path,
    claims: list[dict[str, str]],
    customers: list[dict[str, str]],
    claims_header: list[str] | None = None,
    customers_header: list[str] | None = None,
) -> str:
    """Write the tables, run main(); assert it fails as bad data, writing nothing; return the message."""
    folder = tmp_path / "raw"
    folder.mkdir()
    write_csv(folder / "claims.csv", claims, claims_header)
    write_csv(folder / "customers.csv", customers, customers_header)
    code, output, message = run_main(folder, tmp_path)
    assert code == pp.EXIT_BAD_DATA, message
    assert not output.exists(), "a rejected input must not leave partial outputs"
    assert message.strip(), "the reason must be in the message file"
    return message


def read_split(output: Path, name: str) -> pd.DataFrame:
    path = output / name / f"{name}.csv"
    exact = {"float_precision": "round_trip"}  # pandas 1.x's default float parser is off by 1 ulp at times
    if name == "test":
        return pd.read_csv(path, **exact)
    return pd.read_csv(path, header=None, names=[pp.LABEL] + FEATURES, **exact)


def file_hashes(folder: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.iterdir())}


# ---------------------------------------------------------------------------------------------------
# The real data (5,000 rows)


@pytest.fixture(scope="module")
def real_run(tutorial_data: Path, tmp_path_factory: pytest.TempPathFactory):
    """The job run once on the real data, as the container runs it (defaults: 0.09 / 0.10 / seed 42)."""
    before = file_hashes(tutorial_data)
    work = tmp_path_factory.mktemp("real")
    result, output, message = run_script(tutorial_data, work)
    return result, output, message, before


@pytest.fixture(scope="module")
def real_encoded(tutorial_data: Path) -> tuple[pd.DataFrame, pd.Series]:
    """The real data through the job's functions: (encoded table, policy_id of each row)."""
    claims, customers = pp.load_raw(str(tutorial_data))
    claims = pp.validate("claims.csv", claims, pp.CLAIMS_COLUMNS)
    customers = pp.validate("customers.csv", customers, pp.CUSTOMERS_COLUMNS)
    joined = pp.join(claims, customers)
    return pp.encode(joined), joined[pp.KEY]


def test_container_run_on_real_data_writes_the_contract_files(real_run, tutorial_data: Path) -> None:
    result, output, message, before = real_run
    assert result.returncode == 0, result.stderr
    assert not message.exists(), "the message file is for failures only"
    assert "train 4050, validation 450, test 500 (48 features)" in result.stdout

    sizes = {name: len(read_split(output, name)) for name in pp.SPLITS}
    assert sizes == {"train": 4050, "validation": 450, "test": 500}
    assert len(FEATURES) == 48

    # train/validation: the built-in XGBoost CSV format, label first, no header
    for name in ("train", "validation"):
        first = (output / name / f"{name}.csv").read_text().splitlines()[0].split(",")
        assert len(first) == 1 + 48 and first[0] in ("0", "1")
    # test: header, label first
    header = (output / "test" / "test.csv").read_text().splitlines()[0].split(",")
    assert header == ["fraud"] + FEATURES

    assert file_hashes(tutorial_data) == before, "the job must not modify its input"


def test_splits_are_stratified_on_the_label(real_run, tutorial_data: Path) -> None:
    _, output, _, _ = real_run
    with open(tutorial_data / "claims.csv", newline="") as handle:
        raw_labels = [row["fraud"] for row in csv.DictReader(handle)]
    overall = raw_labels.count("1") / len(raw_labels)
    frauds = 0
    for name in pp.SPLITS:
        labels = read_split(output, name)[pp.LABEL]
        assert set(labels) == {0, 1}
        assert abs(labels.mean() - overall) < 0.002, (name, labels.mean(), overall)
        frauds += int(labels.sum())
    assert frauds == raw_labels.count("1")


def test_every_row_lands_in_exactly_one_split(real_run, real_encoded) -> None:
    encoded, policy_ids = real_encoded
    assignment = pp.split(encoded[pp.LABEL].to_numpy(), 0.09, 0.10, 42)
    ids = {name: set(policy_ids[assignment == name]) for name in pp.SPLITS}
    assert sum(len(found) for found in ids.values()) == len(policy_ids) == 5000
    assert ids["train"] | ids["validation"] | ids["test"] == set(policy_ids)

    # and the files hold exactly the encoded rows, none twice, none lost
    _, output, _, _ = real_run
    written = pd.concat([read_split(output, name) for name in pp.SPLITS])
    as_rows = Counter(map(tuple, written.to_numpy().tolist()))
    assert as_rows == Counter(map(tuple, encoded.to_numpy().tolist()))


def test_same_seed_same_files_other_seed_other_split(real_run, real_encoded, tutorial_data, tmp_path) -> None:
    _, output, _, _ = real_run
    code, again, _ = run_main(tutorial_data, tmp_path)  # in-process this time, same defaults
    assert code == 0
    for name in pp.SPLITS:
        assert (again / name / f"{name}.csv").read_bytes() == (output / name / f"{name}.csv").read_bytes()

    labels = real_encoded[0][pp.LABEL].to_numpy()
    seed_42 = pp.split(labels, 0.09, 0.10, 42)
    seed_7 = pp.split(labels, 0.09, 0.10, 7)
    assert (seed_42 != seed_7).any()
    assert Counter(seed_42) == Counter(seed_7)  # other rows, same sizes


def test_known_rows_are_encoded_as_the_vocabulary_says(real_encoded) -> None:
    encoded, policy_ids = real_encoded
    # policy 1: Spouse, Collision, Front, Minor, None, police report No; WA, 25/50, Unkown, Associate
    row = encoded[policy_ids == 1].iloc[0]
    assert row["vehicle_claim"] == 8913.668763178823 and row["customer_zip"] == 99207
    assert row["injury_claim"] == 71600 and row["incident_month"] == 3 and row["auto_year"] == 2006
    assert (row["incident_severity"], row["police_report_available"]) == (0, 0)
    assert (row["policy_liability"], row["customer_education"]) == (1, 2)
    assert {name for name in ONE_HOT if row[name] == 1} == {
        "driver_relationship_spouse",
        "incident_type_collision",
        "collision_type_front",
        "authorities_contacted_none",
        "customer_gender_unkown",
        "policy_state_wa",
    }
    # policy 2: Self, Rear, Totaled, Police, report Yes; CA, 15/30, Male, Bachelor
    row = encoded[policy_ids == 2].iloc[0]
    assert (row["incident_severity"], row["police_report_available"]) == (2, 1)
    assert (row["policy_liability"], row["customer_education"]) == (0, 3)
    assert row["driver_relationship_self"] == row["collision_type_rear"] == row["policy_state_ca"] == 1
    assert row["authorities_contacted_none"] == 0 and row["authorities_contacted_police"] == 1


def test_none_and_na_stay_categories(real_encoded, tutorial_data: Path) -> None:
    encoded, _ = real_encoded
    with open(tutorial_data / "claims.csv", newline="") as handle:
        raw = list(csv.DictReader(handle))
    nones = sum(row["authorities_contacted"] == "None" for row in raw)
    not_applicable = sum(row["collision_type"] == "N/A" for row in raw)
    assert nones > 0 and not_applicable > 0
    assert encoded["authorities_contacted_none"].sum() == nones
    assert encoded["collision_type_na"].sum() == not_applicable
    # each nominal column is exactly one-hot on every row
    for column, categories in pp.NOMINAL.items():
        hot = encoded[[pp.one_hot_name(column, category) for category in categories]].sum(axis=1)
        assert (hot == 1).all(), column


def test_schema_describes_the_files(real_run) -> None:
    _, output, _, _ = real_run
    schema = json.loads((output / "schema" / "schema.json").read_text())
    assert schema["version"] == pp.SCHEMA_VERSION
    assert schema["label"] == "fraud" and schema["features"] == FEATURES
    assert schema["encodings"]["ordinal"]["incident_severity"] == {"Minor": 0, "Major": 1, "Totaled": 2}
    assert schema["encodings"]["one_hot"]["authorities_contacted"]["None"] == "authorities_contacted_none"
    assert schema["raw_columns"]["claims.csv"] == dict(pp.CLAIMS_COLUMNS)
    assert list(schema["raw_columns"]["customers.csv"]) == list(pp.CUSTOMERS_COLUMNS)
    assert (schema["seed"], schema["validation_ratio"], schema["test_ratio"]) == (42, 0.09, 0.10)
    for name in pp.SPLITS:
        labels = read_split(output, name)[pp.LABEL]
        assert schema["rows"][name] == len(labels)
        assert schema["fraud_rate"][name] == pytest.approx(labels.mean())
    assert schema["rows"]["total"] == 5000


def test_defaults_match_stepwise_config() -> None:
    args = pp.parse_args([])
    assert args.validation_ratio == config.VALIDATION_RATIO
    assert args.test_ratio == config.TEST_RATIO
    assert args.seed == config.SPLIT_SEED
    assert (args.input_dir, args.output_dir) == ("/opt/ml/processing/input/raw", "/opt/ml/processing/output")
    assert args.message_file == "/opt/ml/output/message"


# ---------------------------------------------------------------------------------------------------
# Small generated data: splits and options


def test_container_run_on_small_data(small_input: Path, tmp_path: Path) -> None:
    before = file_hashes(small_input)
    result, output, message = run_script(small_input, tmp_path, "--seed", "3")
    assert result.returncode == 0, result.stderr
    sizes = {name: len(read_split(output, name)) for name in pp.SPLITS}
    assert sizes == {"train": 49, "validation": 5, "test": 6}  # 60 rows: round(5.4), round(6.0)
    for name in pp.SPLITS:
        assert set(read_split(output, name)[pp.LABEL]) == {0, 1}
    assert json.loads((output / "schema" / "schema.json").read_text())["seed"] == 3
    assert file_hashes(small_input) == before


def test_ratios_are_honoured(small_input: Path, tmp_path: Path) -> None:
    code, output, message = run_main(
        small_input, tmp_path, "--validation-ratio", "0.2", "--test-ratio", "0.25"
    )
    assert code == 0, message
    sizes = {name: len(read_split(output, name)) for name in pp.SPLITS}
    assert sizes == {"train": 33, "validation": 12, "test": 15}


def test_split_shares_each_size_between_the_classes() -> None:
    labels = np.array([1] * 300 + [0] * 700)
    for seed in range(5):
        assignment = pp.split(labels, 0.15, 0.2, seed=seed)
        for name, size in (("train", 650), ("validation", 150), ("test", 200)):
            chosen = labels[assignment == name]
            assert len(chosen) == size
            assert abs(chosen.sum() - size * 0.3) <= 1, (seed, name)  # proportional, up to rounding


def test_excel_utf8_with_bom_is_accepted(small_input: Path, tmp_path: Path) -> None:
    path = small_input / "claims.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    code, _, message = run_main(small_input, tmp_path)
    assert code == 0, message


def test_blank_lines_are_skipped_and_crlf_is_read(small_input: Path, tmp_path: Path) -> None:
    path = small_input / "customers.csv"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n") + b"\r\n\r\n")
    code, output, message = run_main(small_input, tmp_path)
    assert code == 0, message
    assert sum(len(read_split(output, name)) for name in pp.SPLITS) == 60


# ---------------------------------------------------------------------------------------------------
# Bad input: files


def test_missing_file_fails_in_the_container_run(small_input: Path, tmp_path: Path) -> None:
    (small_input / "customers.csv").rename(small_input / "Customers.csv")
    result, output, message = run_script(small_input, tmp_path)
    assert result.returncode == 1
    text = message.read_text()
    assert text.startswith("customers.csv is missing")
    assert "did you mean 'Customers.csv'?" in text
    assert text.strip() in result.stderr
    assert not output.exists()


def test_empty_file(small_input: Path, tmp_path: Path) -> None:
    (small_input / "claims.csv").write_bytes(b"")
    code, _, message = run_main(small_input, tmp_path)
    assert code == 1
    assert message.startswith("claims.csv is empty (0 bytes)")


def test_header_only_file(small_input: Path, tmp_path: Path, customers) -> None:
    write_csv(small_input / "customers.csv", customers[:0], list(pp.CUSTOMERS_COLUMNS))
    code, _, message = run_main(small_input, tmp_path)
    assert code == 1
    assert message.startswith("customers.csv has a header but no data rows")


def test_non_utf8_file_names_the_byte_offset(small_input: Path, tmp_path: Path) -> None:
    path = small_input / "customers.csv"
    data = path.read_bytes()
    lines = data.split(b"\n")
    lines[3] = lines[3].replace(b"Associate", "Associé".encode("latin-1"))  # a Windows-1252 save
    corrupted = b"\n".join(lines)
    path.write_bytes(corrupted)
    offset = corrupted.index(b"\xe9")
    code, _, message = run_main(small_input, tmp_path)
    assert code == 1
    assert message.startswith(f"customers.csv is not UTF-8: byte 0xe9 at byte offset {offset}")
    assert "line 4" in message and "Save the file as UTF-8" in message


def test_row_with_an_extra_field(small_input: Path, tmp_path: Path) -> None:
    path = small_input / "claims.csv"
    lines = path.read_text().split("\n")
    lines[6] += ",oops"
    path.write_text("\n".join(lines))
    code, _, message = run_main(small_input, tmp_path)
    assert code == 1
    assert message.startswith("claims.csv line 7: the row has 19 fields but the header has 18")


# ---------------------------------------------------------------------------------------------------
# Bad input: columns


def test_renamed_column_is_reported_as_missing_with_a_suggestion(tmp_path: Path, claims, customers) -> None:
    header = [("incident_sev" if c == "incident_severity" else c) for c in pp.CLAIMS_COLUMNS]
    message = rejected(tmp_path, claims, customers, claims_header=header)
    assert message.startswith("claims.csv line 1 (header): missing column(s) 'incident_severity'")
    assert "unexpected column(s) 'incident_sev' (did you mean 'incident_severity'?)" in message


def test_missing_column(tmp_path: Path, claims, customers) -> None:
    header = [c for c in pp.CUSTOMERS_COLUMNS if c != "auto_year"]
    message = rejected(tmp_path, claims, customers, customers_header=header)
    assert message.startswith("customers.csv line 1 (header): missing column(s) 'auto_year'.")


def test_extra_column_is_an_error(tmp_path: Path, claims, customers) -> None:
    message = rejected(tmp_path, claims, customers, claims_header=list(pp.CLAIMS_COLUMNS) + ["notes"])
    assert message.startswith("claims.csv line 1 (header): unexpected column(s) 'notes'")
    assert "extra columns are not allowed" in message


def test_duplicated_column(tmp_path: Path, claims, customers) -> None:
    message = rejected(
        tmp_path, claims, customers, customers_header=list(pp.CUSTOMERS_COLUMNS) + ["auto_year"]
    )
    assert "customers.csv line 1 (header): " in message and "duplicated column(s) 'auto_year'" in message


def test_columns_in_another_order_are_accepted(small_input: Path, tmp_path: Path, customers) -> None:
    write_csv(small_input / "customers.csv", customers, list(reversed(pp.CUSTOMERS_COLUMNS)))
    code, _, message = run_main(small_input, tmp_path)
    assert code == 0, message


# ---------------------------------------------------------------------------------------------------
# Bad input: values


def test_label_not_0_or_1(tmp_path: Path, claims, customers) -> None:
    claims[3]["fraud"] = "yes"
    claims[9]["fraud"] = "2"
    message = rejected(tmp_path, claims, customers)
    assert message.startswith(f"claims.csv line {line_of(3)} (policy_id 4), column fraud: the label is 'yes'")
    assert f"same problem is on line(s) {line_of(9)}." in message


def test_single_class(tmp_path: Path, claims, customers) -> None:
    for row in claims:
        row["fraud"] = "0"
    message = rejected(tmp_path, claims, customers)
    assert message.startswith("claims.csv, column fraud: every row has fraud=0; training needs both classes")


def test_too_small_to_stratify(tmp_path: Path) -> None:
    claims = make_rows(pp.CLAIMS_COLUMNS, count=60, fraud_every=30)  # 2 frauds: not enough for 3 splits
    message = rejected(tmp_path, claims, make_rows(pp.CUSTOMERS_COLUMNS, count=60))
    assert message.startswith("The data is too small to stratify: 60 rows, 2 of them with fraud=1")


def test_non_numeric_value(tmp_path: Path, claims, customers) -> None:
    claims[4]["num_injuries"] = "two"
    message = rejected(tmp_path, claims, customers)
    assert message.startswith(
        f"claims.csv line {line_of(4)} (policy_id 5), column num_injuries: 'two' is not a whole number"
    )


def test_empty_numeric_value(tmp_path: Path, claims, customers) -> None:
    customers[10]["customer_age"] = ""
    message = rejected(tmp_path, claims, customers)
    assert message.startswith(
        f"customers.csv line {line_of(10)} (policy_id 11), column customer_age: the value is empty"
    )


def test_fraction_in_an_integer_column(tmp_path: Path, claims, customers) -> None:
    customers[0]["auto_year"] = "2010.5"
    message = rejected(tmp_path, claims, customers)
    assert message.startswith("customers.csv line 2 (policy_id 1), column auto_year: '2010.5' is not a whole")


def test_not_a_number_in_a_float_column(tmp_path: Path, claims, customers) -> None:
    claims[7]["vehicle_claim"] = "inf"
    message = rejected(tmp_path, claims, customers)
    assert message.startswith(
        f"claims.csv line {line_of(7)} (policy_id 8), column vehicle_claim: 'inf' is not a number"
    )


def test_category_outside_the_vocabulary(tmp_path: Path, claims, customers) -> None:
    claims[5]["incident_severity"] = "Minr"
    message = rejected(tmp_path, claims, customers)
    assert message.startswith(
        f"claims.csv line {line_of(5)} (policy_id 6), column incident_severity: "
        "'Minr' is not an allowed category (did you mean 'Minor'?)"
    )
    assert "Allowed (case- and space-sensitive): Minor, Major, Totaled." in message


def test_category_with_other_case_or_spaces(tmp_path: Path, claims, customers) -> None:
    customers[2]["policy_state"] = "ca "
    message = rejected(tmp_path, claims, customers)
    assert message.startswith(
        f"customers.csv line {line_of(2)} (policy_id 3), column policy_state: "
        "'ca ' is not an allowed category (did you mean 'CA'?)"
    )


def test_duplicated_policy_id(tmp_path: Path, claims, customers) -> None:
    customers[8]["policy_id"] = "3"
    message = rejected(tmp_path, claims, customers)
    assert message.startswith(
        f"customers.csv, column policy_id: policy_id 3 appears 2 times (lines {line_of(2)}, {line_of(8)})"
    )


def test_policy_ids_that_do_not_join(tmp_path: Path, claims, customers) -> None:
    del customers[6]  # policy 7 has no customer
    customers.append(dict(customers[0], policy_id="999"))  # and customer 999 has no claim
    message = rejected(tmp_path, claims, customers)
    assert message.startswith(
        "policy_id values do not match between claims.csv and customers.csv: "
        f"1 in claims.csv only: 7 (line {line_of(6)}); 1 in customers.csv only: 999 (line {line_of(59)})."
    )


# ---------------------------------------------------------------------------------------------------
# Numbers: the accepted notation and ranges (README "Preprocess: validation policy")


def validated(tmp_path: Path, claims, customers) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Write the tables and return them as validate() types them: (claims, customers)."""
    folder = tmp_path / "raw"
    folder.mkdir()
    write_csv(folder / "claims.csv", claims)
    write_csv(folder / "customers.csv", customers)
    raw_claims, raw_customers = pp.load_raw(str(folder))
    return (
        pp.validate("claims.csv", raw_claims, pp.CLAIMS_COLUMNS),
        pp.validate("customers.csv", raw_customers, pp.CUSTOMERS_COLUMNS),
    )


WHOLE_RANGE = "-16777216 to 16777216"  # ±2**24: every integer in it is exact in float32


def reject_value(tmp_path: Path, claims, customers, column: str, index: int, text: str) -> tuple[str, str]:
    """Put `text` in `column` of row `index` (of the file that has the column), run the job, which must
    reject it: (message, the start it must have: "file line N (policy_id P), column C: ")."""
    name, rows = ("claims.csv", claims) if column in pp.CLAIMS_COLUMNS else ("customers.csv", customers)
    rows[index][column] = text
    policy = "" if column == pp.KEY else f" (policy_id {rows[index][pp.KEY]})"
    return rejected(tmp_path, claims, customers), f"{name} line {line_of(index)}{policy}, column {column}: "


@pytest.mark.parametrize(
    "text, value", [("+5", 5), ("-0", 0), ("007", 7), ("16777216", 2**24), ("-16777216", -(2**24))]
)
def test_integer_notations_that_are_accepted(tmp_path: Path, claims, customers, text, value) -> None:
    customers[3]["customer_age"] = text
    _, typed = validated(tmp_path, claims, customers)
    assert typed["customer_age"].dtype == np.int64
    assert typed["customer_age"].iloc[3] == value


@pytest.mark.parametrize(
    "text, digits",
    [
        ("1e3", "1000"),
        ("1.0", "1"),
        (" 7 ", "7"),
        ("１２", "12"),
        ("1_000", "1000"),
        ("7.", "7"),
        ("+.5e1", "5"),
    ],
)
def test_a_whole_number_in_another_notation_is_rejected(
    tmp_path: Path, claims, customers, text, digits
) -> None:
    message, where = reject_value(tmp_path, claims, customers, "customer_age", 3, text)
    assert message.startswith(
        f"{where}{text!r} is not written as a whole number. Write it as {digits}: ASCII digits only, with an "
        "optional sign"
    )


@pytest.mark.parametrize("text", ["0x10", "nan", "inf", "-Infinity", "2.5", "1/2", "12a", "--1"])
def test_not_a_whole_number(tmp_path: Path, claims, customers, text) -> None:
    message, where = reject_value(tmp_path, claims, customers, "num_witnesses", 4, text)
    assert message.startswith(
        f"{where}{text!r} is not a whole number. Replace it with a whole number from {WHOLE_RANGE}"
    )


@pytest.mark.parametrize(
    "text", ["1e19", "16777217", "-16777217", "9223372036854775808", "1" + "0" * 30, "1" + "0" * 5000]
)
def test_a_whole_number_beyond_float32s_exact_range_is_rejected(
    tmp_path: Path, claims, customers, text
) -> None:
    # customer_age = 1e19 used to become -9223372036854775808 in the training data
    message, where = reject_value(tmp_path, claims, customers, "customer_age", 3, text)
    assert message.startswith(
        f"{where}{text!r} is outside the accepted range {WHOLE_RANGE}. XGBoost reads every value as a "
        "32-bit float"
    )


@pytest.mark.parametrize(
    "text, value",
    [
        ("1e3", 1000.0),
        ("1E3", 1000.0),
        ("+5", 5.0),
        (".5", 0.5),
        ("7.", 7.0),
        ("-0", 0.0),
        ("-0.0", 0.0),
        ("0e-999", 0.0),
        ("1e38", 1e38),
        ("-1e38", -1e38),
        ("1e-37", 1e-37),
        ("-2.5e-37", -2.5e-37),
        ("8913.668763178823", 8913.668763178823),
    ],
)
def test_amount_notations_that_are_accepted(tmp_path: Path, claims, customers, text, value) -> None:
    claims[2]["total_claim_amount"] = text
    typed, _ = validated(tmp_path, claims, customers)
    amount = typed["total_claim_amount"].iloc[2]
    assert amount == value
    assert np.signbit(amount) == (value < 0), "-0 is zero: written as 0.0, not -0.0"


@pytest.mark.parametrize(
    "text", ["1e308", "1e39", "-3.5e38", "1.0000001e38", "1e400", "1e-38", "-1e-40", "1e-400", "5e-324"]
)
def test_an_amount_that_xgboost_cannot_read_is_rejected(tmp_path: Path, claims, customers, text) -> None:
    # total_claim_amount = 1e308 used to fail in Train with a C++ stack trace
    message, where = reject_value(tmp_path, claims, customers, "total_claim_amount", 2, text)
    assert message.startswith(
        f"{where}{text!r} is out of range: a number here must be 0 or between 1e-37 and 1e38 in size (either "
        "sign). XGBoost reads every value as a 32-bit float"
    )


@pytest.mark.parametrize(
    "text, plain", [(" 7 ", "7"), ("１２", "12"), ("1_000.5", "1000.5"), ("\t12.5", "12.5"), ("١٢", "12")]
)
def test_an_amount_in_another_notation_is_rejected(tmp_path: Path, claims, customers, text, plain) -> None:
    message, where = reject_value(tmp_path, claims, customers, "injury_claim", 6, text)
    assert message.startswith(
        f"{where}{text!r} is not written as a plain number. Write it as {plain}: ASCII digits"
    )


@pytest.mark.parametrize("text", ["nan", "NaN", "inf", "-Infinity", "0x10", "twelve", "1e", "e5", "1.2.3"])
def test_not_a_number_in_an_amount(tmp_path: Path, claims, customers, text) -> None:
    message, where = reject_value(tmp_path, claims, customers, "vehicle_claim", 6, text)
    assert message.startswith(f"{where}{text!r} is not a number. Replace it with a number")


def test_the_first_bad_line_is_reported_with_the_lines_that_have_the_same_problem(
    tmp_path: Path, claims, customers
) -> None:
    customers[2]["auto_year"] = "2010.0"  # notation
    customers[5]["auto_year"] = "1e19"  # range: another problem
    customers[7]["auto_year"] = "2011.0"  # notation
    message = rejected(tmp_path, claims, customers)
    assert message.startswith(
        f"customers.csv line {line_of(2)} (policy_id 3), column auto_year: '2010.0' is not written as a "
        "whole number. Write it as 2010"
    )
    assert message.endswith(f"The same problem is on line(s) {line_of(7)}.\n")


def test_a_line_break_inside_a_quoted_number_is_not_a_number(tmp_path: Path, claims, customers) -> None:
    # quoted by the csv writer: one field over two lines
    message, where = reject_value(tmp_path, claims, customers, "num_injuries", 4, "1\n2")
    assert message.startswith(f"{where}'1\\n2' is not a whole number")


def test_accepted_numbers_reach_the_training_files_unchanged(tmp_path: Path, claims, customers) -> None:
    claims[0]["total_claim_amount"] = "-0"
    claims[1]["total_claim_amount"] = "1e38"
    claims[2]["vehicle_claim"] = "0.1"
    customers[0]["customer_zip"] = "16777216"
    customers[1]["customer_zip"] = "+00042"
    folder = tmp_path / "raw"
    folder.mkdir()
    write_csv(folder / "claims.csv", claims)
    write_csv(folder / "customers.csv", customers)
    code, output, message = run_main(folder, tmp_path)
    assert code == 0, message
    written = pd.concat([read_split(output, name) for name in pp.SPLITS])
    assert 16777216 in set(written["customer_zip"]) and 42 in set(written["customer_zip"])
    assert 1e38 in set(written["total_claim_amount"]) and 0.1 in set(written["vehicle_claim"])
    text = "".join((output / name / f"{name}.csv").read_text() for name in pp.SPLITS)
    assert ",1e+38," in text and ",-0.0," not in text and ",0.0," in text


# ---------------------------------------------------------------------------------------------------
# policy_id: exact whole numbers


def test_policy_ids_are_compared_exactly(tmp_path: Path, claims, customers) -> None:
    # 2**53 and 2**53 + 1 are the same float64: they used to be joined as one policy
    claims[0]["policy_id"] = str(2**53)
    customers[0]["policy_id"] = str(2**53 + 1)
    message = rejected(tmp_path, claims, customers)
    assert message.startswith(
        "policy_id values do not match between claims.csv and customers.csv: "
        f"1 in claims.csv only: 9007199254740992 (line {line_of(0)}); "
        f"1 in customers.csv only: 9007199254740993 (line {line_of(0)})."
    )


def test_ids_beyond_float_precision_are_distinct_policies(tmp_path: Path, claims, customers) -> None:
    for rows in (claims, customers):
        rows[0]["policy_id"], rows[1]["policy_id"] = str(2**53), str(2**53 + 1)
    customers[0]["customer_age"], customers[1]["customer_age"] = "30", "31"
    customers[0], customers[1] = customers[1], customers[0]  # other order: the join pairs them by id
    typed_claims, typed_customers = validated(tmp_path, claims, customers)
    assert typed_claims[pp.KEY].dtype == np.int64
    joined = pp.join(typed_claims, typed_customers)
    ages = dict(zip(joined[pp.KEY], joined["customer_age"], strict=True))
    assert ages[2**53] == 30 and ages[2**53 + 1] == 31


def test_policy_id_leading_zeros_and_the_largest_id(tmp_path: Path, claims, customers) -> None:
    claims[0]["policy_id"], customers[0]["policy_id"] = "0" * 30 + "61", "61"
    claims[1]["policy_id"] = customers[1]["policy_id"] = str(2**63 - 1)
    typed_claims, typed_customers = validated(tmp_path, claims, customers)
    joined = pp.join(typed_claims, typed_customers)
    assert list(joined[pp.KEY][:2]) == [61, 2**63 - 1]


@pytest.mark.parametrize(
    "text, problem",
    [
        ("-1", "'-1' is outside the accepted range 0 to 9223372036854775807"),
        (
            "9223372036854775808",
            "'9223372036854775808' is outside the accepted range 0 to 9223372036854775807",
        ),
        ("1e3", "'1e3' is not written as a whole number. Write it as 1000"),
        ("7.0", "'7.0' is not written as a whole number. Write it as 7"),
        ("A-17", "'A-17' is not a whole number"),
        (" ", "the value is empty"),
    ],
)
def test_policy_id_notation_and_range(tmp_path: Path, claims, customers, text, problem) -> None:
    message, where = reject_value(
        tmp_path, claims, customers, pp.KEY, 3, text
    )  # claims.csv: its first column
    assert message.startswith(f"{where}{problem}")


def test_the_reason_comes_first_within_sagemakers_1_kb(tmp_path: Path, claims, customers) -> None:
    header = [("policy_sate" if c == "policy_state" else c) for c in pp.CUSTOMERS_COLUMNS]
    message = rejected(tmp_path, claims, customers, customers_header=header)
    assert len(message) > 0
    head = message.encode()[:1024].decode()
    assert "customers.csv line 1 (header)" in head and "'policy_state'" in head and "'policy_sate'" in head


def test_unexpected_failure_still_leaves_a_reason(small_input: Path, tmp_path: Path) -> None:
    (tmp_path / "out").write_text("a file where the output folder should be")
    with pytest.raises(OSError):
        run_main(small_input, tmp_path)
    assert (tmp_path / "message").read_text().startswith("internal error: ")


# ---------------------------------------------------------------------------------------------------
# Usage errors


@pytest.mark.parametrize(
    "arguments, named",
    [
        (["--test-ratio", "1.5"], "--test-ratio"),
        (["--validation-ratio", "0.5", "--test-ratio", "0.5"], "leave no rows for training"),
        (["--seed", "-1"], "--seed"),
        (["--bogus"], "--bogus"),
    ],
)
def test_usage_errors_exit_2_with_a_message(small_input: Path, tmp_path: Path, arguments, named) -> None:
    code, output, message = run_main(small_input, tmp_path, *arguments)
    assert code == pp.EXIT_USAGE
    assert message.startswith("usage: ") and named in message
    assert not output.exists()


def test_usage_error_in_the_container_run(small_input: Path, tmp_path: Path) -> None:
    result, _, message = run_script(small_input, tmp_path, "--test-ratio", "ten")
    assert result.returncode == 2
    assert "--test-ratio" in message.read_text() and "'ten' is not a number" in result.stderr


# ---------------------------------------------------------------------------------------------------
# The project's data generator (stepwise/data.py) feeds this job in `stepwise run`


def test_generated_data_is_accepted(tmp_path: Path) -> None:
    from stepwise.data import generate_dataset

    raw = tmp_path / "raw"
    generate_dataset(2000, 5, raw)
    code, output, message = run_main(raw, tmp_path)
    assert code == 0, message
    schema = json.loads((output / "schema" / "schema.json").read_text())
    assert schema["rows"] == {"total": 2000, "train": 1620, "validation": 180, "test": 200}
    assert all(0 < schema["fraud_rate"][name] < 1 for name in pp.SPLITS)
