"""The 28 HPA Kaggle 2018 class names and the four stain channels."""

from __future__ import annotations

__all__ = ["HPA_CHANNELS", "HPA_CLASSES", "N_CLASSES"]

#: Class names in label-index order 0..27 (Kaggle "Human Protein Atlas Image Classification").
HPA_CLASSES: tuple[str, ...] = (
    "Nucleoplasm",
    "Nuclear membrane",
    "Nucleoli",
    "Nucleoli fibrillar center",
    "Nuclear speckles",
    "Nuclear bodies",
    "Endoplasmic reticulum",
    "Golgi apparatus",
    "Peroxisomes",
    "Endosomes",
    "Lysosomes",
    "Intermediate filaments",
    "Actin filaments",
    "Focal adhesion sites",
    "Microtubules",
    "Microtubule ends",
    "Cytokinetic bridge",
    "Mitotic spindle",
    "Microtubule organizing center",
    "Centrosome",
    "Lipid droplets",
    "Plasma membrane",
    "Cell junctions",
    "Mitochondria",
    "Aggresome",
    "Cytosol",
    "Cytoplasmic bodies",
    "Rods & rings",
)

#: Channel order of every stored image: microtubules, protein of interest, nucleus, ER.
HPA_CHANNELS: tuple[str, ...] = ("red", "green", "blue", "yellow")

N_CLASSES = len(HPA_CLASSES)
