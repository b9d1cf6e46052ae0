"""Bundled plugin: multi-label-aware training samplers (oversampling rare classes)."""
