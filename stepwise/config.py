"""Values that the cloud pipeline (template, state machine) and local mode share.

statemachine/build.py bakes these into the definition; bench/ and the local runtime read them here.
"""

from __future__ import annotations

# The tutorial's recipe, for comparison (bench/model_quality.py)
TUTORIAL_HYPERPARAMETERS: dict[str, str] = {
    "objective": "binary:logistic",
    "num_round": "5",
    "max_depth": "5",
    "eta": "0.5",
    "eval_metric": "auc",
}

# Stepwise's defaults for the built-in XGBoost algorithm (strings, as CreateTrainingJob takes them).
# Chosen by cross-validation on train+validation only; see bench/model_quality.py and the README.
DEFAULT_HYPERPARAMETERS: dict[str, str] = dict(TUTORIAL_HYPERPARAMETERS)

# Split of the joined dataset (the tutorial's 81/9/10)
VALIDATION_RATIO = 0.09
TEST_RATIO = 0.10
SPLIT_SEED = 42

# Quality gate
GATE_METRIC = "auc"
GATE_THRESHOLD = 0.7
GATE_TOLERANCE = 0.01

# SageMaker images: algorithm / framework versions (the URIs are per region, see statemachine/build.py)
XGBOOST_VERSION = "1.7-1"
SKLEARN_VERSION = "1.2-1"
