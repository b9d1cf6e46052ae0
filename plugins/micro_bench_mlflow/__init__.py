"""micro-bench bundled plugin: MLflow logging (``run --log mlflow``; extra ``[mlflow]``)."""
