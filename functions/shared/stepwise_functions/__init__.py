"""Plain logic shared by the Stepwise Lambda functions, deployed as one Lambda layer.

Each module is usable without Lambda: `aws` (lazy boto3 clients), `s3` (URIs, JSON and CSV objects),
`registry` (SageMaker Model Registry helpers), `events` (event validation with clear errors) and
`observability` (powertools Logger, Tracer and Metrics set up the same way for every function).
"""
