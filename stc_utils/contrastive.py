"""Contrastive clustering from zero to few labels: augmentation, InfoNCE, purity, the self-training loop.

Taught in lesson 05 (semi-supervised contrastive clustering).

- :func:`synonym_augment`  WordNet synonym replacement of ~``rate`` of the words (EDA, Wei & Zou
  2019), deterministic per ``(seed, text)``
- :func:`info_nce`  NT-Xent (SimCLR, Chen et al. 2020): the positive is the text's own view, the
  negatives the other texts of the batch and their views, the positive is in the denominator
- :func:`purity_count` (monitored, no gradient) and :func:`purity_loss`, its differentiable
  surrogate: the conditional entropy H(label | cluster) of the labelled texts under soft q
- :func:`holdout_split`  the stratified validation set V1 and the labelled training set L
- :func:`fit_semisupervised`  fine-tune the top of a BERT encoder on the labelled texts, move
  confident predictions from the unlabelled pool into the labelled set, cluster with a Gaussian
  mixture, train with InfoNCE + KL(P||Q) (DEC's, from :mod:`stc_utils.dec`) + purity, repeat.
  With no label at all it is the SCCL recipe (Zhang et al. 2021): InfoNCE + KL only.
"""

from __future__ import annotations

import copy
import random
import re
import time
from dataclasses import dataclass, field
from functools import lru_cache
from types import SimpleNamespace

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.mixture import GaussianMixture
from torch import nn

from . import dec
from .cluster import check_n_clusters
from .config import get_device
from .embed import PRECISIONS, check_texts, default_precision, load_encoder, pool

_STOP = frozenset(
    "a an the and or but if of to in on at by for with from as is are was were be been being it its this "
    "that these those i you he she we they me my your our their what which who whom how when where why not "
    "no do does did have has had can could will would should may might must so than then there here all any "
    "some each more most other such only own same too very just also into over under about up down out off "
    "again get use using way".split())


@lru_cache(maxsize=1)
def _wordnet():
    from nltk.corpus import wordnet

    try:
        wordnet.ensure_loaded()
    except LookupError as err:
        raise LookupError("WordNet is not available: set NLTK_DATA to a folder holding corpora/wordnet.zip "
                          "(python -m nltk.downloader wordnet, with internet)") from err
    return wordnet


@lru_cache(maxsize=100_000)
def _synonyms(word: str) -> tuple[str, ...]:
    """Lower-case WordNet lemmas sharing a synset with ``word``: no proper nouns, none containing it."""
    names = {lemma.name().replace("_", " ") for s in _wordnet().synsets(word) for lemma in s.lemmas()}
    return tuple(sorted(n for n in names if n.islower() and word not in n.split() and n != word))


def synonym_augment(text: str, rate: float = 0.1, seed: int = 0) -> str:
    """Replace ``max(1, round(rate * words))`` words by a WordNet synonym (fewer if fewer have one).

    Candidates are alphabetic words of 3+ letters outside a short stop list; the choice of words
    and synonyms depends only on ``(seed, text)``, so a view is the same in every process.
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must lie in [0, 1], got {rate}")
    tokens = re.split(r"(\s+)", text)
    words = sum(1 for t in tokens if t.strip())
    candidates = [i for i, t in enumerate(tokens) if t.isalpha() and len(t) > 2 and t.lower() not in _STOP]
    budget = max(1, round(rate * words)) if rate > 0 and words else 0
    rng = random.Random(f"{seed}\x00{text}")  # str seeds are hashed with sha512: stable across runs
    rng.shuffle(candidates)
    for i in candidates:
        if budget == 0:
            break
        options = _synonyms(tokens[i].lower())
        if options:
            new = rng.choice(options)
            tokens[i] = new.capitalize() if tokens[i][0].isupper() else new
            budget -= 1
    return "".join(tokens)


def info_nce(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.5) -> torch.Tensor:
    """NT-Xent over 2n rows: -log e^{s(i,i')/t} / sum_{k != i} e^{s(i,k)/t}, s = cosine, mean over rows."""
    if z1.ndim != 2 or z1.shape != z2.shape or len(z1) < 2:
        raise ValueError(f"z1 and z2 must be (n, d) with the same shape and n >= 2; got {tuple(z1.shape)}, {tuple(z2.shape)}")
    if temperature <= 0:
        raise ValueError("temperature must be positive")
    n = len(z1)
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
    sim = (z @ z.T / temperature).masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    positive = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)  # row i's view
    return F.cross_entropy(sim, positive)


def purity_count(labels, clusters) -> int:
    """sum over clusters of (distinct labels in it - 1), clusters with 0 or 1 label count 0. No gradient."""
    labels, clusters = np.asarray(labels), np.asarray(clusters)
    return int(sum(max(0, len(np.unique(labels[clusters == c])) - 1) for c in np.unique(clusters)))


def purity_loss(q: torch.Tensor, labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """H(label | cluster) of labelled rows under soft assignment q: sum_j m_j H(pi_j) / sum_j m_j.

    m_j = sum_i q_ij is the labelled mass of cluster j and pi_jc its share of class c. 0 when every
    cluster holds one label; log r for r labels mixed evenly. A cluster's term of the count is
    exp(Renyi-0 entropy) - 1, piecewise constant in the shares; Shannon's (order 1) is smooth, and
    its mass-weighted mean is H(label | cluster).
    """
    counts = F.one_hot(labels, n_classes).to(q.dtype).T @ q  # (classes, clusters) soft counts
    mass = counts.sum(0)
    share = counts / mass.clamp_min(1e-12)
    entropy = -(share * share.clamp_min(1e-12).log()).sum(0)
    return (mass * entropy).sum() / mass.sum().clamp_min(1e-12)


class TopTrainedEncoder(nn.Module):
    """MiniLM (or any BERT) whose top ``train_layers`` layers learn; the ones below stay frozen.

    The frozen part runs once per text (:meth:`frozen`); training and embedding run only the top
    layers. Output: mean pooling, L2-normalised, times sqrt(d) (DEC's scaling, lesson 04).
    ``cache``: a dict the caller owns, text -> frozen states (keyed with the model and settings), to
    reuse the frozen pass across fits; by default each encoder keeps its own.
    """

    def __init__(self, model=None, device=None, train_layers: int = 1, max_length: int = 64, precision=None,
                 cache: dict | None = None):
        super().__init__()
        base = load_encoder(model, None if device is None else str(device))
        self.identity, self.tokenizer, self.device, self.max_length = base.identity, base.tokenizer, base.device, max_length
        self.bert = copy.deepcopy(base.model).float().requires_grad_(False)
        n_layers = self.bert.config.num_hidden_layers
        if not 1 <= train_layers <= n_layers:
            raise ValueError(f"train_layers must lie in 1..{n_layers}, got {train_layers}")
        self.cut = n_layers - train_layers
        self.bert.encoder.layer[self.cut:].requires_grad_(True)
        precision = precision or default_precision(self.device)
        if precision not in PRECISIONS:
            raise ValueError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}, "
                             "or None for the device's default (fp16 trains in bf16 on CUDA, else fp32)")
        cuda_bf16 = self.device.type == "cuda" and torch.cuda.is_bf16_supported()
        self.amp = torch.bfloat16 if precision == "bf16" or (precision == "fp16" and cuda_bf16) else None  # fp16 training
        # would need loss scaling: CUDA trains in bf16 where the GPU has it, else in fp32
        self.scale = self.bert.config.hidden_size ** 0.5
        self.cache = {} if cache is None else cache

    def _layers(self, h, mask, layers):
        # Runs BERT layers one by one, as BertModel does inside (its mask helper, ``layer(h, mask)``):
        # transformers internals, so tests/test_contrastive.py checks the output against embed_texts.
        try:
            from transformers.masking_utils import create_bidirectional_mask
            m = create_bidirectional_mask(config=self.bert.config, inputs_embeds=h, attention_mask=mask)
        except ImportError:  # transformers < 4.56
            m = self.bert.get_extended_attention_mask(mask, mask.shape)
        for layer in layers:
            h = layer(h, m)
            h = h[0] if isinstance(h, tuple) else h
        return h

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=self.amp or torch.float32, enabled=self.amp is not None)

    @torch.no_grad()
    def frozen(self, texts, batch_size: int = 128) -> list[torch.Tensor]:
        """Each text's hidden states at the input of the first trained layer, ``(tokens, d)``; kept in ``cache``."""
        config = (self.identity, self.cut, self.max_length, str(self.amp), str(self.device))
        missing = [t for t in dict.fromkeys(texts) if (config, t) not in self.cache]
        ids = self.tokenizer(missing, truncation=True, max_length=self.max_length)["input_ids"] if missing else []
        order = np.argsort([len(x) for x in ids], kind="stable")
        self.bert.eval()
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            batch = self.tokenizer.pad({"input_ids": [ids[i] for i in idx]}, return_tensors="pt").to(self.device)
            with self._autocast():
                h = self.bert.embeddings(input_ids=batch["input_ids"])
                h = self._layers(h, batch["attention_mask"], self.bert.encoder.layer[:self.cut])
            for row, i in enumerate(idx):
                self.cache[(config, missing[i])] = h[row, :len(ids[i])].to(self.amp or torch.float32).clone()
        return [self.cache[(config, t)] for t in texts]

    def forward(self, states: list[torch.Tensor]) -> torch.Tensor:
        h = nn.utils.rnn.pad_sequence(states, batch_first=True)
        lengths = torch.tensor([len(s) for s in states], device=h.device)
        mask = (torch.arange(h.shape[1], device=h.device)[None] < lengths[:, None]).long()
        with self._autocast():
            h = self._layers(h, mask, self.bert.encoder.layer[self.cut:])
        return F.normalize(pool(SimpleNamespace(last_hidden_state=h), mask, "mean"), dim=-1) * self.scale

    @torch.no_grad()
    def encode(self, states, batch_size: int = 256) -> torch.Tensor:
        self.eval()
        return torch.cat([self(states[i:i + batch_size]) for i in range(0, len(states), batch_size)])

    def embed(self, texts) -> np.ndarray:
        """Vectors of new texts (length sqrt(d)), as training saw them."""
        return self.encode(self.frozen(check_texts(texts))).cpu().numpy()


@dataclass
class ContrastiveResult:
    labels: np.ndarray  # a class per text (classifier), or a cluster per text with no label at all
    clusters: np.ndarray  # argmax of the Student-t q per text
    history: list[dict]  # round 0: the initial fine-tuning; then one record per round
    encoder: TopTrainedEncoder
    heads: nn.ModuleDict  # "centers", "projection", and "classifier" when labels were given
    classes: np.ndarray | None = None  # the class id of each classifier output
    v1: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))  # held-out indices
    pseudo: list[dict] = field(default_factory=list)  # per round: index, label, confidence of moved texts
    stop_reason: str = "max_rounds"
    dof: float = 1.0  # degrees of freedom of the Student-t q
    mean_max_q: float = float("nan")  # over all texts, at the end

    @torch.no_grad()
    def predict(self, texts) -> np.ndarray:
        z = torch.as_tensor(self.encoder.embed(texts), device=self.encoder.device)
        if self.classes is None:  # the nearest centroid: argmax q for any degrees of freedom
            return dec.soft_assignment(z, self.heads["centers"].weight, self.dof).argmax(1).cpu().numpy()
        return self.classes[self.heads["classifier"](z).argmax(1).cpu().numpy()]


def _check_labels(labels, n: int) -> np.ndarray:
    labels = [None] * n if labels is None else list(labels)
    if len(labels) != n:
        raise ValueError(f"labels must be one per text: {len(labels)} labels for {n} texts")
    try:
        y = np.array([-1 if v is None else int(v) for v in labels], dtype=np.int64)
    except (TypeError, ValueError) as err:
        raise ValueError(f"labels must be integer class ids, or None / -1 for unlabelled texts ({err})") from None
    if any(v is not None and int(v) != v for v in labels) or (y < -1).any():
        raise ValueError("labels must be integer class ids >= 0, or None / -1 for unlabelled texts")
    return y


def holdout_split(labels, holdout: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices of V1 (round(holdout * n_c), at least 1, of each class) and L (the other labelled texts).

    The split :func:`fit_semisupervised` makes with the same ``seed``: baselines can use the same V1.
    """
    y, rng = _check_labels(labels, len(labels)), np.random.default_rng(seed)
    v1, train, short = [], [], []
    for c in np.unique(y[y >= 0]):
        idx = rng.permutation(np.flatnonzero(y == c))
        k = max(1, int(holdout * len(idx) + 0.5)) if holdout > 0 else 0
        short += [f"{c} ({len(idx)})"] if len(idx) - k < 1 else []
        v1 += list(idx[:k])
        train += list(idx[k:])
    if short:
        raise ValueError(f"class(es) {', '.join(short)} have too few labelled texts for the stratified "
                         f"{holdout:.0%} hold-out: each class needs at least {2 if holdout > 0 else 1} "
                         "(one for the validation set V1, one to train on)")
    return np.sort(np.array(v1, dtype=int)), np.sort(np.array(train, dtype=int))


C_GRID = tuple(10.0 ** np.arange(-2, 5))  # LR's inverse regularisation, chosen by cross-validation on L


def start_classifier(x, y, seed: int = 0) -> LogisticRegression:
    """Logistic regression on L with C chosen by stratified cross-validation on L alone (lesson 05).

    The baseline and the method's starting point. Scored by log loss, not accuracy: the
    probabilities decide which texts pass the pseudo-label threshold, so they should be calibrated
    (and a handful of texts per fold ties accuracy often). Uses only L's labels; with a single
    labelled text in some class there is nothing to cross-validate and C stays 1 (scikit-learn's
    default).
    """
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    folds = min(5, int(np.unique(y, return_counts=True)[1].min()))  # the smallest class bounds the folds
    if folds < 2:
        return LogisticRegression(max_iter=2000).fit(x, y)
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    search = GridSearchCV(LogisticRegression(max_iter=2000), {"C": list(C_GRID)}, scoring="neg_log_loss", cv=cv)
    return search.fit(x, y).best_estimator_


def _batches(order: np.ndarray, size: int) -> list[np.ndarray]:
    """Consecutive batches; a last batch of one text joins the one before (InfoNCE needs two)."""
    out = [order[i:i + size] for i in range(0, len(order), size)]
    if len(out) > 1 and len(out[-1]) == 1:
        out[-2:] = [np.concatenate(out[-2:])]
    return out


def fit_semisupervised(
    texts, labels, n_clusters: int | None = None, *, threshold: float = 0.5, alpha: float = 1.0,
    beta: float = 0.1, gamma: float = 1.0, temperature: float = 0.5, aug_rate: float = 0.1,
    holdout: float = 0.2, max_rounds: int = 5, init_epochs: int = 5, batch_size: int = 64,
    lr: float = 5e-5, head_lr: float = 1e-3, train_layers: int = 1, tol: float = 0.01,
    dof: float | str = "auto", target: str = "batch", centers: str = "learned", max_length: int = 64, model=None, precision=None,
    seed: int = 0, device=None, cache: dict | None = None,
) -> ContrastiveResult:
    """Few labels (``labels``: class id per text, None or -1 when unlabelled) -> a class per text.

    1. Hold out a stratified ``holdout`` share of each class as V1 (never trained on); the rest
       is L, the unlabelled texts are the pool N.
    2. A linear classifier head starts as :func:`start_classifier` (LR, C by cross-validation on
       L) on L's frozen vectors; it and the encoder's top ``train_layers`` are fine-tuned on L
       with cross-entropy for ``init_epochs``.
    3. Each round: move the texts of N whose predicted probability exceeds ``threshold`` into L
       with the predicted class; then one epoch over L + N of
       ``alpha * InfoNCE(text, view) + beta * KL(P||Q) + CE on L + gamma * purity_loss on L``.
       The centroids of the Student-t q start (round 1) at the means of a spherical Gaussian
       mixture on L + N and are then learned (SCCL; ``centers="refit"``: the mixture is refitted
       each round, warm-started, and its means replace the centroids, as the reference's step 4
       clusters every round); q's degrees of freedom are
       :func:`stc_utils.dec.fit_dof` on the round-1 vectors when ``dof="auto"``; the target P is
       DEC's sharpening of each batch's own q (``target="batch"``, SCCL) or of q over L + N at
       the start of the round (``"round"``, DEC).
    4. Stop when N is empty, after ``max_rounds``, or when a round before the last lowers the loss
       by less than ``tol`` (relative): all label-free.

    With every label None (``n_clusters`` required) there is no V1, classifier, pool or purity:
    InfoNCE + KL with the same rounds (SCCL), and ``labels`` are clusters. ``cache``: see
    :class:`TopTrainedEncoder`.
    """
    texts = check_texts(texts)
    y = _check_labels(labels, len(texts))
    device = get_device(device)
    if not 0 < threshold <= 1 or not 0 <= holdout < 1 or max_rounds < 1 or min(alpha, beta, gamma) < 0:
        raise ValueError("need 0 < threshold <= 1, 0 <= holdout < 1, max_rounds >= 1, alpha, beta, gamma >= 0")
    if target not in ("batch", "round") or centers not in ("learned", "refit") or not (
            dof == "auto" or (isinstance(dof, (int, float)) and dof > 0)):
        raise ValueError(f"need target 'batch' or 'round' (got {target!r}), centers 'learned' or 'refit' (got {centers!r}), "
                         f"dof 'auto' or a positive number (got {dof!r})")
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    supervised = bool((y >= 0).any())
    classes, v1, train = None, np.zeros(0, dtype=int), np.arange(len(texts))
    if supervised:
        classes = np.unique(y[y >= 0])
        v1, labelled = holdout_split(y, holdout, seed)
        if not (y < 0).any():
            raise ValueError("no unlabelled texts: this method needs a pool of unlabelled texts (label some as None)")
        train = np.sort(np.concatenate([labelled, np.flatnonzero(y < 0)]))
        if n_clusters is not None and n_clusters < len(classes):
            raise ValueError(f"n_clusters={n_clusters} is smaller than the number of labelled classes ({len(classes)})")
    elif n_clusters is None:
        raise ValueError("no text is labelled: give n_clusters (the unsupervised SCCL mode cannot infer K)")
    k = check_n_clusters(n_clusters or len(classes), len(train))
    ylab = np.searchsorted(classes, y[train]) if supervised else np.full(len(train), -1)
    ylab[y[train] < 0] = -1  # class index per training text, -1: still in the pool
    encoder = TopTrainedEncoder(model, device, train_layers, max_length, precision, cache)
    states = encoder.frozen(texts)
    s_train = [states[i] for i in train]
    views = encoder.frozen([synonym_augment(texts[i], aug_rate, seed) for i in train]) if alpha > 0 else None
    d = encoder.bert.config.hidden_size
    heads = nn.ModuleDict({"centers": nn.Embedding(k, d), "projection": nn.Sequential(
        nn.Linear(d, d), nn.ReLU(), nn.Linear(d, 128))}).to(device)
    if supervised:  # start from the baseline: LR on the frozen vectors of L (unit length), C by CV on L
        lab = np.flatnonzero(ylab >= 0)
        lr_fit = start_classifier(encoder.encode([s_train[i] for i in lab]).cpu().numpy() / encoder.scale, ylab[lab], seed)
        coef, bias = lr_fit.coef_ / encoder.scale, lr_fit.intercept_
        if len(classes) == 2:  # scikit-learn keeps one row for two classes
            coef, bias = np.vstack([-coef, coef]) / 2, np.concatenate([-bias, bias]) / 2
        heads["classifier"] = nn.Linear(d, len(classes)).to(device)
        heads["classifier"].weight.data.copy_(torch.as_tensor(coef, dtype=torch.float32))
        heads["classifier"].bias.data.copy_(torch.as_tensor(bias, dtype=torch.float32))
    opt = torch.optim.Adam([{"params": [p for p in encoder.parameters() if p.requires_grad], "lr": lr},
                            {"params": heads.parameters(), "lr": head_lr}])
    y_t = torch.as_tensor(ylab, device=device)

    def run_epoch(positions, p_all=None):
        encoder.train()
        sums = {}
        for b in _batches(positions[torch.randperm(len(positions), generator=gen).numpy()], batch_size):
            z = encoder([s_train[i] for i in b])
            terms, lab = {}, y_t[b] >= 0
            if supervised and lab.any():
                terms["ce"] = F.cross_entropy(heads["classifier"](z[lab]), y_t[b][lab])
            if p_all is not None:  # a round, not the initial fine-tuning
                q = dec.soft_assignment(z.float(), heads["centers"].weight, dof)
                p = dec.target_distribution(q.detach()) if target == "batch" else p_all[b]
                terms["kl"] = dec.kl_loss(p, q)
                if views is not None:
                    z2 = encoder([views[i] for i in b])
                    terms["info_nce"] = info_nce(heads["projection"](z), heads["projection"](z2), temperature)
                if supervised and lab.any():
                    terms["purity"] = purity_loss(q[lab], y_t[b][lab], len(classes))
            weights = {"ce": 1.0, "kl": beta, "info_nce": alpha, "purity": gamma}
            loss = sum(weights[n] * t for n, t in terms.items())
            opt.zero_grad()
            loss.backward()
            opt.step()
            for name, value in [("loss", loss), *terms.items()]:
                sums.setdefault(name, []).append(value.item())
        return {name: float(np.mean(v)) for name, v in sums.items()}

    history, pseudo, clusters, previous, stop = [], [], None, None, "max_rounds"
    if supervised:
        start = time.perf_counter()
        for _ in range(init_epochs):
            record = run_epoch(np.flatnonzero(ylab >= 0))
        history.append({"round": 0, "labelled": int((ylab >= 0).sum()), "pool": int((ylab < 0).sum()),
                        **(record if init_epochs else {}), "seconds": time.perf_counter() - start})
    for r in range(1, max_rounds + 1):
        start = time.perf_counter()
        z_all = encoder.encode(s_train).float()
        added, conf = np.zeros(0, dtype=int), np.zeros(0)
        if supervised:
            with torch.no_grad():
                prob = torch.softmax(heads["classifier"](z_all[torch.as_tensor(ylab < 0, device=device)]), 1).cpu().numpy()
            pool_idx = np.flatnonzero(ylab < 0)
            keep = prob.max(1) > threshold
            added, conf = pool_idx[keep], prob.max(1)[keep]
            ylab[added] = prob.argmax(1)[keep]
            y_t = torch.as_tensor(ylab, device=device)
            pseudo.append({"round": r, "index": train[added], "label": classes[ylab[added]], "confidence": conf})
        if r == 1 or centers == "refit":  # the centroids start at a spherical mixture's means, then learn (SCCL)
            means = None if r == 1 else heads["centers"].weight.detach().cpu().numpy()
            gmm = GaussianMixture(k, covariance_type="spherical", n_init=10 if r == 1 else 1, means_init=means,
                                  random_state=seed).fit(z_all.cpu().numpy())
            heads["centers"].weight.data.copy_(torch.as_tensor(gmm.means_, dtype=torch.float32))
            opt.state.pop(heads["centers"].weight, None)
            dof = dec.fit_dof(z_all, heads["centers"].weight.detach()) if dof == "auto" else float(dof)
        with torch.no_grad():
            q_all = dec.soft_assignment(z_all, heads["centers"].weight, dof)
        previous, clusters = clusters, q_all.argmax(1).cpu().numpy()
        record = run_epoch(np.arange(len(train)), dec.target_distribution(q_all))
        lab = ylab >= 0
        history.append({"round": r, "labelled": int(lab.sum()), "pool": int((~lab).sum()), "added": len(added),
                        "added_confidence": float(conf.mean()) if len(conf) else float("nan"), **record,
                        "purity_count": purity_count(ylab[lab], clusters[lab]) if supervised else None,
                        "dof": dof, "mean_max_q": dec.mean_max_q(q_all), "size_entropy": dec.cluster_size_entropy(clusters, k),
                        "cluster_change": float("nan") if previous is None else dec.label_change_rate(previous, clusters),
                        "seconds": time.perf_counter() - start})
        if supervised and lab.all():
            stop = "pool_empty"
        elif 1 < r < max_rounds and history[-2]["loss"] - record["loss"] < tol * abs(history[-2]["loss"]):
            stop = "loss_plateau"
        if stop != "max_rounds":
            break
    z = encoder.encode(states).float()
    with torch.no_grad():
        q = dec.soft_assignment(z, heads["centers"].weight, dof)
        out = classes[heads["classifier"](z).argmax(1).cpu().numpy()] if supervised else q.argmax(1).cpu().numpy()
    return ContrastiveResult(out, q.argmax(1).cpu().numpy(), history, encoder, heads, classes, v1, pseudo, stop, dof,
                             dec.mean_max_q(q))
