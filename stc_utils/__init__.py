"""stc_utils: the thin shared package of the short-text clustering course.

One module per concept; each module's docstring names the lesson that teaches it.

- :mod:`stc_utils.config`  seeds, device choice, the fast-run switch (every lesson's Setup cell)
- :mod:`stc_utils.data`    the checksummed dataset registry and a generic loader (lesson 00)
- :mod:`stc_utils.embed`   BERT, Word2Vec (average / SIF) and TF-IDF sentence vectors (lesson 02)
- :mod:`stc_utils.metrics` Hungarian-matched accuracy, NMI, AMI, ARI, F1, purity (lesson 06)
- :mod:`stc_utils.dec`     Student-t soft assignment, target distribution, KL loss (lesson 01)
- :mod:`stc_utils.autoencoder` autoencoder pretraining, DEC/IDEC pipeline, save/load/predict (lesson 04)
- :mod:`stc_utils.contrastive` synonym views, InfoNCE, purity, pseudo-labels + GMM loop, SCCL (lesson 05)
- :mod:`stc_utils.cluster` K-means over several seeds, the baseline job (lesson 00); choosing K without labels (lesson 07)
- :mod:`stc_utils.scan`    SCAN heads on frozen vectors: neighbours agree, the entropy keeps K clusters (lesson 08)
- :mod:`stc_utils.cdp`     CDP density-and-partition and MDM initialisation of K-means (lesson 03)
- :mod:`stc_utils.bench`   speed measurements: embedding throughput (lesson 02), CDP vs K-means (lesson 03)
"""

from .config import get_device, is_fast_run, seed_everything, setup_summary

__all__ = ["get_device", "is_fast_run", "seed_everything", "setup_summary"]
__version__ = "0.1.0"
