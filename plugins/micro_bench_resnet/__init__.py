"""micro-bench bundled plugin: ImageNet ResNets (timm) with a 4-channel stem and fastai layer groups."""
