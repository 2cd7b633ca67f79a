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
# Output of `python bench/model_quality.py --tune`: a stage-wise search (tree shape, sampling,
# regularisation, learning rate) by 2x5-fold stratified cross-validation on the train+validation rows
# of split SPLIT_SEED, test rows never read; num_round is where the mean CV AUC peaks. Every candidate
# scores 0.80-0.825 in CV: the data, not the search, is the limit. scale_pos_weight is fixed at the
# negative/positive ratio (~29) so that 0.5 is a useful decision threshold for precision/recall/F1 and
# for Clarify's post-training bias metrics. tree_method is explicit so that XGBoost 1.7 (SageMaker's
# image) and 3.x (local) grow the same trees. Test ROC AUC over 20 splits: see README "Model quality".
DEFAULT_HYPERPARAMETERS: dict[str, str] = {
    "objective": "binary:logistic",
    "eval_metric": "auc",
    "tree_method": "hist",
    "eta": "0.02",
    "max_depth": "2",
    "min_child_weight": "10",
    "subsample": "1",
    "colsample_bytree": "0.8",
    "lambda": "10",
    "scale_pos_weight": "29",
    "num_round": "102",
}

# Split of the joined dataset (the tutorial's 81/9/10)
VALIDATION_RATIO = 0.09
TEST_RATIO = 0.10
SPLIT_SEED = 42

# Bias check (processing/bias_explainability.py): the tutorial's question, "is the model less
# favourable to female customers?". The favourable outcome is "not fraud" (label 0); the sensitive
# group is customer_gender_female == 1; a prediction is fraud when its probability exceeds 0.5.
LABEL = "fraud"
BIAS_FACET = "customer_gender_female"
BIAS_FACET_VALUE = 1
FAVOURABLE_LABEL = 0
PROBABILITY_THRESHOLD = 0.5

# Decision threshold (processing/evaluate.py --operating-point): chosen on the validation split and
# recorded in the model package (decisionThreshold). "best-f1", "recall=<x>" or "threshold=<t>".
OPERATING_POINT = "best-f1"

# Quality gate
GATE_METRIC = "auc"
GATE_THRESHOLD = 0.7
GATE_TOLERANCE = 0.01

# SageMaker images: algorithm / framework versions (the URIs are per region, see statemachine/build.py)
XGBOOST_VERSION = "1.7-1"
SKLEARN_VERSION = "1.2-1"
