"""Autoencoders on sentence vectors, and a saved-and-reusable DEC pipeline for texts.

Taught in lesson 04 (autoencoder + DEC).

- :class:`Autoencoder`  fully connected, ReLU hidden layers, a linear (or, to measure it,
  sigmoid) bottleneck, mirrored decoder with a linear output; optional input dropout
  (denoising) during pretraining only
- :func:`pretrain_autoencoder`  mini-batch Adam on the MSE, full-batch evaluation per epoch,
  seeded: the same seed on the CPU gives the same weights
- :func:`kmeans_centers`  centroids in code space from :func:`stc_utils.cluster.kmeans` (K-means++ or CDP)
- :class:`DECModel`  embedding model identity + pooling + max_length, autoencoder, centroids,
  alpha; ``fit`` / ``save`` / ``load`` / ``predict(texts)``

The DEC loop itself lives in :func:`stc_utils.dec.fit_dec`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from .cluster import check_n_clusters, kmeans
from .dec import ClusteringLayer, DECResult, fit_dec

PRESETS = {"dec": (500, 500, 2000, 10), "small": (256, 32), "stc": (500, 500, 2000, 20)}  # hidden sizes after the input
FORMAT = 1
# The lesson-04 settings, the same for every dataset. Chosen for CPU time (the "small" autoencoder:
# an epoch >10x cheaper than d-500-500-2000-10, measured in lesson 04) and from the papers (Adam
# 1e-3; SGD 0.01, momentum 0.9; tol 0.1 %; IDEC's weights 1 : 0.1 -> gamma = 10); not changed
# after any accuracy was seen.
SETTINGS = {
    "dims": "small", "ae_epochs": 50, "ae_lr": 1e-3, "batch_size": 256, "dec_lr": 0.01,
    "update_interval": 140, "tol": 0.001, "max_steps": 8000, "gamma": 10.0, "n_init": 10,
}
FAST_SETTINGS = {**SETTINGS, "ae_epochs": 15, "max_steps": 1500}
# Self-Train (Hadifar et al. 2019). Its code (github hadifar/stc_clustering, data_loader.py; torchSTC,
# ../shared/references/torchstc-self-train.md) weights the STC^2 word vectors by SIF with a = 0.1 and
# divides the weighted sum by the number of words that have a vector: SELF_TRAIN_SIF, for
# embed.sif_embed (lesson 02's defaults, a = 1e-3 and a weighted mean, cost most of StackOverflow's gap
# to the paper; benchmarks/self_train_ablation.py). The rest is lesson 04's SETTINGS: the reference's other
# choices (min-max inputs, d-500-500-2000-20 LeakyReLU for 15 epochs, Adam during self-training,
# 1,500 steps) are measured there as options of fit_self_train, not adopted (see its table).
# Our word vectors are not STC^2's: the shipped w2v_*_d48 files are word2vec trained on each benchmark's
# own texts (vocabulary = the tokens seen at least 5 times, plus an untrained </s>), where the authors'
# StackOverflow vectors hold 19,639 words (98 % token coverage against our 88.8 %, lesson 04b): the part of the gap to
# the paper that the settings above do not explain (benchmarks/self_train_ablation.py, issue 18).
SELF_TRAIN_SIF = {"a": 0.1, "average": "count"}
# Labels: DEC's argmax q, as Hadifar et al.'s Keras code returns them (STC.py, fit); torchSTC's README
# instead scores K-means on the learned codes ("final": "kmeans"): 0.539 against 0.554 for argmax q on
# StackOverflow, 0.398 against 0.403 on Biomedical (5 seeds, benchmarks/self_train_ablation.py, old+sif).
SELF_TRAIN_SETTINGS = {**SETTINGS, "activation": "relu", "scaling": "dec", "dec_optimizer": "sgd", "final": "q",
                       "final_n_init": SETTINGS["n_init"]}


class ModelMismatchError(ValueError):
    """A saved DEC model was trained on embeddings of another model than the one available."""


def check_inputs(x, name: str = "x") -> np.ndarray:
    """A finite float32 (n, d) array, or a ValueError naming the problem."""
    x = np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (n, d); got shape {x.shape}")
    if not np.isfinite(x).all():
        bad = np.flatnonzero(~np.isfinite(x).all(1))
        raise ValueError(f"{name} contains NaN or infinite values in {len(bad)} row(s), first row {bad[0]}")
    return x


def resolve_dims(dims, input_dim: int) -> list[int]:
    """``"dec"`` -> [d, 500, 500, 2000, 10]; ``"small"`` -> [d, 256, 32]; a list is checked."""
    if isinstance(dims, str):
        if dims not in PRESETS:
            raise ValueError(f"unknown dims preset {dims!r}; use one of {sorted(PRESETS)} or a list")
        return [input_dim, *PRESETS[dims]]
    dims = [int(v) for v in dims]
    if len(dims) < 2 or min(dims) < 1:
        raise ValueError(f"dims must list at least two positive layer sizes, got {dims}")
    if dims[0] != input_dim:
        raise ValueError(f"dims[0]={dims[0]} does not match the input dimension {input_dim}")
    return dims


ACTIVATIONS = {"relu": nn.ReLU, "leaky_relu": nn.LeakyReLU}  # LeakyReLU(0.01), PyTorch's default slope; Self-Train's Keras code uses 0.2 (no difference measured)


def _mlp(sizes: Sequence[int], activation: str = "relu") -> list[nn.Module]:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(ACTIVATIONS[activation]())
    return layers


class Autoencoder(nn.Module):
    """``encoder``: d -> ... -> bottleneck; ``decoder``: the mirror image back to d."""

    def __init__(self, dims: Sequence[int], bottleneck: str = "linear", dropout: float = 0.0,
                 activation: str = "relu"):
        super().__init__()
        if bottleneck not in ("linear", "sigmoid"):
            raise ValueError(f"bottleneck must be 'linear' or 'sigmoid', got {bottleneck!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.dims, self.bottleneck, self.dropout, self.activation = list(dims), bottleneck, dropout, activation
        encoder = _mlp(self.dims, activation) + ([nn.Sigmoid()] if bottleneck == "sigmoid" else [])
        self.encoder = nn.Sequential(*encoder)
        self.decoder = nn.Sequential(*_mlp(self.dims[::-1], activation))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.dropout > 0:  # denoising: corrupt the input, reconstruct the clean x
            x = nn.functional.dropout(x, self.dropout)
        return self.decoder(self.encoder(x))

    @torch.no_grad()
    def encode(self, x, batch_size: int = 2048) -> np.ndarray:
        x = torch.as_tensor(check_inputs(x))
        if x.shape[1] != self.dims[0]:
            raise ValueError(f"inputs have {x.shape[1]} columns; this autoencoder expects {self.dims[0]}")
        was = self.training
        z = torch.cat([self.encoder.eval()(x[i : i + batch_size]) for i in range(0, len(x), batch_size)])
        self.train(was)
        return z.numpy()


def pretrain_autoencoder(x, dims="dec", epochs: int = 20, batch_size: int = 256, lr: float = 1e-3,
                         seed: int = 0, device=None, progress: bool = True, bottleneck: str = "linear",
                         dropout: float = 0.0, activation: str = "relu") -> tuple[Autoencoder, list[float]]:
    """Train an :class:`Autoencoder` on ``x`` by mini-batch Adam on the MSE.

    Returns the model (in eval mode, on the CPU) and the reconstruction MSE over all of
    ``x`` before training and after each epoch (``epochs + 1`` values, no dropout).
    """
    from tqdm.auto import tqdm

    x = torch.as_tensor(check_inputs(x))
    dims = resolve_dims(dims, x.shape[1])
    if epochs < 0 or batch_size < 1:
        raise ValueError("epochs must be >= 0 and batch_size >= 1")
    device = torch.device(device or "cpu")
    torch.manual_seed(seed)
    model = Autoencoder(dims, bottleneck, dropout, activation).to(device)
    x = x.to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)

    @torch.no_grad()
    def full_loss() -> float:
        model.eval()
        total = sum(float(((model(x[i : i + 4096]) - x[i : i + 4096]) ** 2).sum()) for i in range(0, len(x), 4096))
        return total / x.numel()

    history = [full_loss()]
    bar = tqdm(range(epochs), desc=f"autoencoder {'-'.join(map(str, dims))}", disable=not progress)
    for _ in bar:
        model.train()
        for idx in torch.randperm(len(x), generator=generator).split(batch_size):
            loss = nn.functional.mse_loss(model(x[idx.to(device)]), x[idx.to(device)])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        history.append(full_loss())
        bar.set_postfix(mse=f"{history[-1]:.4f}")
    return model.eval().cpu(), history


def kmeans_centers(z, n_clusters: int, seed: int = 0, init: str = "k-means++", n_init: int = 10):
    """Initial centroids in code space: ``(centers (k, d), labels)``.

    :func:`stc_utils.cluster.kmeans` (``init``: ``"k-means++"``, or ``"cdp"`` from lesson 03;
    ``n_init`` restarts), then the mean of each cluster.
    """
    z = check_inputs(z, "z")
    labels = kmeans(z, n_clusters, seed=seed, n_init=n_init, init=init)
    centers = np.stack([z[labels == j].mean(0) for j in range(n_clusters)])
    return centers.astype(np.float32), labels


def input_scale(x) -> float:
    """DEC's data scaling (Xie et al. 2016, sec. 4.1): the factor s with mean (1/d)||s x||^2 = 1."""
    x = check_inputs(x)
    return float(np.sqrt(x.shape[1] / np.mean((x.astype(np.float64) ** 2).sum(1))))


def minmax_scale(x) -> np.ndarray:
    """Each column mapped to [0, 1] (scikit-learn's ``MinMaxScaler``; a constant column -> 0)."""
    x = check_inputs(x)
    low, span = x.min(0), x.max(0) - x.min(0)
    return ((x - low) / np.where(span > 0, span, 1.0)).astype(np.float32)


def fit_self_train(x, n_clusters: int, seed: int = 0, settings: dict | None = None, progress: bool = False):
    """Self-Train (Hadifar et al. 2019) on sentence vectors ``x``: ``(labels, DECResult, info)``.

    Scale ``x`` (``scaling``: ``"minmax"`` per column, or ``"dec"``: :func:`input_scale`), pretrain
    an autoencoder, K-means on its codes, then :func:`stc_utils.dec.fit_dec` on encoder + centroids
    (the decoder takes no part: frozen); ``final="kmeans"``: the labels are K-means on the learned
    codes (``final_n_init`` starts), ``"q"``: DEC's own argmax q. ``settings`` override
    :data:`SELF_TRAIN_SETTINGS`; ``info`` has the start labels (K-means on the pretrained codes),
    the last reconstruction MSE and the seconds.
    """
    import time

    s = {**SELF_TRAIN_SETTINGS, **(settings or {})}
    if s["scaling"] not in ("minmax", "dec") or s["final"] not in ("kmeans", "q"):
        raise ValueError(f"scaling must be 'minmax' or 'dec' and final 'kmeans' or 'q'; got {s['scaling']!r}, "
                         f"{s['final']!r}")
    start = time.perf_counter()
    x = check_inputs(x)
    x = minmax_scale(x) if s["scaling"] == "minmax" else x * input_scale(x)
    ae, hist = pretrain_autoencoder(x, s["dims"], s["ae_epochs"], s["batch_size"], s["ae_lr"], seed=seed,
                                    progress=progress, activation=s.get("activation", "relu"))
    centers, start_labels = kmeans_centers(ae.encode(x), n_clusters, seed, n_init=s["n_init"])
    decoder = copy.deepcopy(ae.decoder.state_dict())
    model = DECModel(ae, centers)  # scale 1: x is scaled already
    result = model.refine(x, seed=seed, lr=s["dec_lr"], steps=s["max_steps"], update_interval=s["update_interval"],
                          tol=s["tol"], batch_size=s["batch_size"], optimizer=s.get("dec_optimizer", "sgd"))
    labels = (kmeans(ae.encode(x), n_clusters, seed=seed, n_init=s["final_n_init"]) if s["final"] == "kmeans"
              else result.labels)
    return labels, result, {"start_labels": start_labels, "ae_mse": hist[-1], "model": model, "decoder": decoder,
                            "seconds": time.perf_counter() - start}


@dataclass
class DECModel:
    """Everything needed to cluster new texts the way a trained DEC model does."""

    autoencoder: Autoencoder
    centers: np.ndarray
    alpha: float = 1.0
    scale: float = 1.0  # the embeddings are multiplied by this before the encoder
    assignment: str = "student"
    embedding: dict = field(default_factory=dict)  # model, identity, pooling, max_length, normalize

    @classmethod
    def fit(cls, x, n_clusters: int, dims=SETTINGS["dims"], ae_epochs: int = SETTINGS["ae_epochs"], seed: int = 0,
            init: str = "k-means++",
            embedding: dict | None = None, progress: bool = False, ae_kwargs: dict | None = None,
            **dec_kwargs) -> tuple["DECModel", DECResult]:
        """Scale ``x``, pretrain an autoencoder, initialise centroids, run :func:`fit_dec`.

        ``dec_kwargs`` go to :func:`fit_dec` (``gamma > 0`` trains the decoder too: IDEC).
        """
        x = check_inputs(x)
        check_n_clusters(n_clusters, len(x))
        scale = input_scale(x)
        ae, _ = pretrain_autoencoder(x * scale, dims, ae_epochs, seed=seed, progress=progress, **(ae_kwargs or {}))
        centers, _ = kmeans_centers(ae.encode(x * scale), n_clusters, seed=seed, init=init)
        model = cls(ae, centers, scale=scale, embedding=dict(embedding or {}))
        return model, model.refine(x, seed=seed, **dec_kwargs)

    def refine(self, x, seed: int = 0, gamma: float = 0.0, **dec_kwargs) -> DECResult:
        """DEC (or IDEC with ``gamma > 0``) on the embeddings ``x``; updates the model in place."""
        ae = self.autoencoder
        result = fit_dec(check_inputs(x) * self.scale, self.centers, encoder=ae.encoder, seed=seed,
                         decoder=ae.decoder if gamma > 0 else None, gamma=gamma, alpha=self.alpha,
                         assignment=self.assignment, **dec_kwargs)
        ae.eval()
        self.centers = result.centers
        return result

    def copy(self) -> "DECModel":
        return copy.deepcopy(self)

    def transform(self, x) -> np.ndarray:
        """Codes z of embeddings ``x``."""
        return self.autoencoder.encode(check_inputs(x) * self.scale)

    @torch.no_grad()
    def predict_proba(self, x) -> np.ndarray:
        return ClusteringLayer(self.centers, self.alpha, self.assignment)(torch.as_tensor(self.transform(x))).numpy()

    def predict_embeddings(self, x) -> np.ndarray:
        return self.predict_proba(x).argmax(1)

    def check_encoder(self):
        """The embedding model, after checking it is the one this model was trained on."""
        from .embed import load_encoder

        encoder = load_encoder(self.embedding.get("model"))
        saved = self.embedding.get("identity")
        if saved != encoder.identity:
            raise ModelMismatchError(
                f"this DEC model was trained on embeddings of "
                f"{self.embedding.get('name', self.embedding.get('model'))!r} "
                f"(identity {saved}), but the model available now is {encoder.name!r} (identity "
                f"{encoder.identity}); install the same model or retrain")
        return encoder

    def predict(self, texts: Sequence[str], **embed_kwargs) -> np.ndarray:
        """Cluster ids of new texts, embedded with the same model, pooling and max_length."""
        from .embed import embed_texts

        self.check_encoder()
        keys = ("model", "pooling", "max_length", "normalize")
        x = embed_texts(texts, **{k: self.embedding[k] for k in keys if k in self.embedding}, **embed_kwargs)
        return self.predict_embeddings(x)

    def save(self, path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        ae = self.autoencoder
        torch.save({
            "format": FORMAT, "dims": ae.dims, "bottleneck": ae.bottleneck, "activation": ae.activation,
            "state_dict": ae.state_dict(),
            "centers": torch.as_tensor(self.centers), "alpha": self.alpha, "scale": self.scale,
            "assignment": self.assignment, "embedding": self.embedding,
        }, path)
        return path

    @classmethod
    def load(cls, path) -> "DECModel":
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
        if state.get("format") != FORMAT:
            raise ValueError(f"{path} is not a DEC model saved by this version (format {state.get('format')})")
        ae = Autoencoder(state["dims"], state["bottleneck"], activation=state.get("activation", "relu"))
        ae.load_state_dict(state["state_dict"])
        return cls(ae.eval(), state["centers"].numpy(), state["alpha"], state["scale"],
                   state["assignment"], state["embedding"])


def embedding_info(model: str | None = None, pooling: str = "mean", max_length: int = 128,
                   normalize: bool = True) -> dict:
    """The embedding settings a :class:`DECModel` stores, with the model's identity."""
    from .embed import load_encoder

    encoder = load_encoder(model)
    return {"model": model, "name": encoder.name, "identity": encoder.identity, "pooling": pooling,
            "max_length": max_length, "normalize": normalize}
