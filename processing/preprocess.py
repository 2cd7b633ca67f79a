"""Preprocess job: validate the raw claims and customers tables, join, encode, split.

Runs inside SageMaker's scikit-learn processing container (Python 3.8+, pandas 1.x) and locally.
See README "Processing job contract". The raw schema and the category vocabulary below are the only
definition of the data in this project: the generator (stepwise/data.py) imports them.
"""

from __future__ import annotations

from collections import OrderedDict

LABEL = "fraud"
KEY = "policy_id"

# Raw tables: columns in file order. "category" columns take values from VOCABULARY only.
CLAIMS_COLUMNS: "OrderedDict[str, str]" = OrderedDict(
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

CUSTOMERS_COLUMNS: "OrderedDict[str, str]" = OrderedDict(
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
ORDINAL: "OrderedDict[str, list]" = OrderedDict(
    [
        ("incident_severity", ["Minor", "Major", "Totaled"]),
        ("police_report_available", ["No", "Yes"]),
        ("policy_liability", ["15/30", "25/50", "30/60", "100/200"]),
        ("customer_education", ["Below High School", "High School", "Associate", "Bachelor", "Advanced Degree"]),
    ]
)
NOMINAL: "OrderedDict[str, list]" = OrderedDict(
    [
        ("driver_relationship", ["Self", "Spouse", "Child", "Other", "N/A"]),
        ("incident_type", ["Collision", "Break-in", "Theft"]),
        ("collision_type", ["Front", "Rear", "Side", "N/A"]),
        ("authorities_contacted", ["Police", "Ambulance", "Fire", "None"]),
        ("customer_gender", ["Male", "Female", "Other", "Unkown"]),
        ("policy_state", ["CA", "WA", "AZ", "OR", "NV", "ID"]),
    ]
)
VOCABULARY: "OrderedDict[str, list]" = OrderedDict(list(ORDINAL.items()) + list(NOMINAL.items()))

# Numeric raw columns that pass through as features, in file order (claims first, then customers)
NUMERIC_FEATURES = [
    name
    for table in (CLAIMS_COLUMNS, CUSTOMERS_COLUMNS)
    for name, kind in table.items()
    if kind in ("int", "float") and name != KEY
]


def one_hot_name(column: str, category: str) -> str:
    """Feature name of one category: lower case, letters and digits only ("N/A" -> "na", "Break-in" -> "breakin")."""
    return column + "_" + "".join(ch for ch in category.lower() if ch.isalnum())


def feature_names() -> list:
    """The model's input columns, in order: numeric, then ordinal-encoded, then one-hot."""
    names = list(NUMERIC_FEATURES) + list(ORDINAL)
    for column, categories in NOMINAL.items():
        names.extend(one_hot_name(column, category) for category in categories)
    return names
