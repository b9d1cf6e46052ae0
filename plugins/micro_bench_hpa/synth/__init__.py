"""``hpa_synth``: the embedded synthetic HPA-like dataset (real HPA label sets, rendered cells).

Modules: :mod:`.labels` (the packaged HPA label file, stratified draw), :mod:`.scene`,
:mod:`.fields`, :mod:`.shapes`, :mod:`.painter`, :mod:`.patterns` (one green pattern per
class), :mod:`.render` (one sample), :mod:`.generate` (stores and the Kaggle PNG layout),
:mod:`.dataset` (the cached ``hpa_synth`` factory), :mod:`.preview` (the example figure),
:mod:`.cli` (``micro-bench data synth``). Nothing is imported here, so importing the package
stays cheap.
"""
