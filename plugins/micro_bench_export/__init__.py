"""The ``export`` plugin: a finished run's model as ONNX, TorchScript or a BioImage.IO package."""
