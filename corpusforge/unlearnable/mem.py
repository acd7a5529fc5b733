"""Multi-step Error Minimization (MEM; Liu et al., ACM MM 2024, arXiv 2407.16307) and its min-min loop.

For image-caption pairs, find per image a noise delta (L_inf <= eps) and a short text trigger t placed before
the caption, minimizing the CLIP contrastive loss of (x + delta, t + caption), so a model trained on them
learns the noise <-> trigger shortcut instead of the content. The loop alternates, for `rounds` rounds:

1. `surrogate_steps` training steps of the surrogate CLIP on the current protected pairs;
2. a noise pass over the whole set: PGD with sign steps (`pgd_steps`, step `alpha`), projected to the
   eps-ball and to valid pixels. At every PGD step (as the official MEM code does) captions are drawn and
   shuffled anew within the batch while each trigger stays with its own image, so the noise binds to the
   trigger and cannot settle on any one caption;
3. in the first `trigger_rounds` rounds, a trigger pass: HotFlip (Ebrahimi et al. 2018; as in Wallace et al.'s
   universal triggers) -- the gradient of the loss w.r.t. the trigger token embeddings, dotted with the
   embedding matrix, gives `hotflip_topk` candidate tokens per position; positions are searched left to
   right with a beam of `beam_width`, each candidate scored by the batch loss;
4. a checkpoint of the round (noise buffer, triggers, surrogate and optimizer state, curves).

Differences from the official code, on purpose: one noise and one trigger per image (not per caption row);
trigger tokens are restricted to whole-word, non-special tokens that survive decode -> encode
(`surrogate.allowed_trigger_ids`) and, with `exclude_caption_vocab`, that occur in none of the set's captions
(a trigger such as "blue" or "left" would otherwise contradict or repeat real content words); noise lives in int8 memmaps (`storage.Int8DeltaStore`); every random draw
comes from a generator seeded by (seed, round, phase), so a resumed run equals an uninterrupted one.

Surrogate ensemble (`ensemble`, our addition): several surrogates are trained side by side on the same batches;
the noise pass minimizes their mean loss and HotFlip ranks candidate tokens by the sum of their first-order
scores, so the noise and triggers are not fitted to one architecture (measured: noise made against one
architecture alone does not carry to another, BENCHMARKS.md "Which noise carries").

EM term (`own_caption_weight` w, our addition, off by default): MEM's noise binds to the trigger, so a scraper
that drops the trigger words keeps images whose noise pairs with nothing. With w > 0 the noise objective is
(1 - w) * MEM's loss + w * the loss of the same images with their own captions and no trigger (error-minimizing
noise as in EM), and a share w of the surrogate's training rows carry no trigger, so the min-min game is played
on both views of the data.

Class-wise noise (`noise_groups` k, off by default): one noise per k-means cluster of the captions (TF-IDF of
their tokens), as Huang et al.'s class-wise error-minimizing noise with caption clusters for classes; with MEM
each cluster also shares one trigger. The noise pass holds the k shared deltas in memory and updates them batch
after batch (as it does `uap`'s single delta).

Baselines share the loop (`method`): `em` -- error-minimizing image noise only (Huang et al. 2021, adapted to
CLIP as in MEM's comparison: own captions, no trigger); `tap` -- targeted error-maximizing noise: the surrogate
is trained on clean pairs and each image is pushed toward another image's caption (a fixed derangement), as
targeted adversarial poisoning (Fowl et al. 2021); `uap` -- one universal perturbation for the whole set that
maximizes the loss of a clean-trained surrogate (Moosavi-Dezfooli et al. 2017).
"""
from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from corpusforge.unlearnable.baselines import tap_targets, uses_trigger
from corpusforge.unlearnable.robustness import eot_transform
from corpusforge.progress_api import Silent
from corpusforge.unlearnable.run_state import ImageCache, Int8DeltaStore, load_torch, save_torch_atomic
from corpusforge.unlearnable.clip import MAX_LOGIT_SCALE, clip_loss
from corpusforge.unlearnable.surrogate import Surrogate, allowed_trigger_ids

log = logging.getLogger("corpusforge.protect")

MIN_MIN = ("mem", "em")
ERROR_MAX = ("uap", "tap")
CHECKPOINT = "state.pt"


# ------------------------------------------------------------------------------------------ helpers
def seeded_generator(seed: int, *parts) -> torch.Generator:
    """A generator whose stream depends only on (seed, parts): no hidden state crosses a round boundary."""
    h = hashlib.sha256(repr((int(seed),) + tuple(parts)).encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(h[:8], "little") & ((1 << 63) - 1))


def batches(order: torch.Tensor, size: int) -> list[torch.Tensor]:
    """Chunks of `order`; a last chunk of one row is merged into the previous one (a single pair has no
    contrastive signal: its loss is constant)."""
    chunks = list(torch.split(order, size))
    if len(chunks) > 1 and len(chunks[-1]) < 2:
        chunks[-2] = torch.cat([chunks[-2], chunks[-1]])
        chunks.pop()
    return chunks


def pgd_update(delta: torch.Tensor, grad: torch.Tensor, x: torch.Tensor, alpha: float, eps: float,
               minimize: bool = True) -> torch.Tensor:
    """One signed-gradient step, projected to the L_inf eps-ball and to valid pixels (x + delta in [0,1])."""
    step = -alpha * grad.sign() if minimize else alpha * grad.sign()
    delta = (delta.detach() + step).clamp(-eps, eps)
    return (x + delta).clamp(0.0, 1.0) - x


def hotflip_candidates(grad: torch.Tensor, embedding: torch.Tensor, allowed: torch.Tensor, topk: int) -> torch.Tensor:
    """(k, D) loss gradient at the trigger positions -> (k, topk) token ids whose swap most lowers the loss
    to first order: loss(e_v) - loss(e_cur) ~ (e_v - e_cur) . g, so the best v minimize e_v . g."""
    scores = grad @ embedding[allowed].T  # (k, A)
    top = torch.topk(-scores, k=min(topk, allowed.numel()), dim=1).indices
    return allowed[top]


def beam_search_trigger(current: list[int], candidates: torch.Tensor, score_fn: Callable[[list[list[int]]], torch.Tensor],
                        beam_width: int) -> tuple[list[int], float, float]:
    """Left-to-right beam search over trigger positions. `score_fn` maps triggers to batch losses.

    The unchanged beams stay in the pool, so the result never scores worse than `current`.
    Returns (best trigger, its loss, the loss of `current`)."""
    base = float(score_fn([list(current)])[0])
    beams: list[tuple[float, list[int]]] = [(base, list(current))]
    for pos in range(len(current)):
        pool = {tuple(ids): s for s, ids in beams}
        fresh = []
        for _, ids in beams:
            for c in candidates[pos].tolist():
                cand = list(ids)
                cand[pos] = int(c)
                if tuple(cand) not in pool and cand not in fresh:
                    fresh.append(cand)
        if fresh:
            losses = score_fn(fresh)
            for ids, s in zip(fresh, losses.tolist()):
                pool[tuple(ids)] = float(s)
        # Ties broken by token ids so the search is deterministic.
        ranked = sorted(pool.items(), key=lambda kv: (kv[1], kv[0]))[:beam_width]
        beams = [(s, list(ids)) for ids, s in ranked]
    best_s, best = beams[0]
    return best, best_s, base


def renumber_by_first_appearance(groups: torch.Tensor) -> torch.Tensor:
    """Group ids 0, 1, ... in order of first appearance, so ids do not depend on k-means' internal order."""
    _, first = np.unique(groups.numpy(), return_index=True)
    order = {int(groups[i]): r for r, i in enumerate(sorted(first))}
    return torch.tensor([order[int(gid)] for gid in groups], dtype=torch.long)


def caption_features(captions: list[list[list[int]]], dims: int = 1024) -> torch.Tensor:
    """One TF-IDF row per image over the BPE tokens of all its captions (the `dims` tokens found in the most
    images; idf = log(n / df)), for clustering images by what their captions say."""
    n = len(captions)
    bags = [[t for cap in caps for t in cap] for caps in captions]
    df: dict[int, int] = {}
    for bag in bags:
        for t in set(bag):
            df[t] = df.get(t, 0) + 1
    vocab = sorted(df, key=lambda t: (-df[t], t))[:dims]
    col = {t: j for j, t in enumerate(vocab)}
    x = torch.zeros(n, max(len(vocab), 1))
    for i, bag in enumerate(bags):
        for t in bag:
            if t in col:
                x[i, col[t]] += 1.0
    idf = torch.tensor([math.log(n / df[t]) for t in vocab] or [0.0])
    return x * idf


def noise_rows(cfg, captions: list[list[list[int]]]) -> np.ndarray:
    """The noise row of each image in the delta store: one per image; one for all (`uap`); or, with
    `noise_groups` k, one per k-means cluster of the captions (class-wise noise: images whose captions say the
    same things share one pattern, which any architecture learns as a shortcut for those words)."""
    n = len(captions)
    if cfg.method == "uap":
        return np.zeros(n, dtype=np.int64)
    k = getattr(cfg, "noise_groups", None)
    if k is None or k >= n:
        return np.arange(n, dtype=np.int64)
    groups = kmeans_groups(caption_features(captions), int(k), cfg.seed)
    return renumber_by_first_appearance(groups).numpy().astype(np.int64)


def kmeans_groups(features: torch.Tensor, k: int, seed: int, iters: int = 25) -> torch.Tensor:
    """Spherical k-means (k-means++ init from a seeded generator) -> group id per row."""
    n = features.shape[0]
    g = seeded_generator(seed, "kmeans")
    x = torch.nn.functional.normalize(features.float(), dim=-1)
    centers = [x[int(torch.randint(0, n, (), generator=g))]]
    for _ in range(1, k):
        d = (1 - x @ torch.stack(centers).T).clamp(min=0).min(dim=1).values
        p = d / d.sum() if d.sum() > 0 else torch.full((n,), 1.0 / n)
        centers.append(x[int(torch.multinomial(p, 1, generator=g))])
    c = torch.stack(centers)
    assign = torch.zeros(n, dtype=torch.long)
    for _ in range(iters):
        assign = (x @ c.T).argmax(dim=1)
        for j in range(k):
            members = x[assign == j]
            if len(members):
                c[j] = torch.nn.functional.normalize(members.mean(0), dim=-1)
    return assign


# ------------------------------------------------------------------------------------------ the loop
@dataclass
class WorkingSet:
    """What the loop sees: clean images at working resolution (uint8 memmap) and tokenized captions."""

    images: ImageCache
    captions: list[list[list[int]]]  # per image, per caption, BPE ids without sot/eot

    @property
    def n(self) -> int:
        return len(self.captions)


@dataclass
class LoopState:
    round_done: int = -1
    buffer: str = "a"
    triggers: torch.Tensor | None = None  # (G, k) long; None for methods without a trigger
    groups: torch.Tensor | None = None  # (n,) long
    curves: dict = field(default_factory=lambda: {"surrogate_loss": [], "noise_loss": [], "trigger_loss": [],
                                                  "trigger_loss_before": [], "round_seconds": []})


class MinMinProtector:
    """Runs MEM (or a baseline) over a `WorkingSet`, writing noise into `store`, checkpointing into `ckpt_dir`."""

    def __init__(self, cfg, surrogate: Surrogate, work: WorkingSet, store: Int8DeltaStore, ckpt_dir: str | Path,
                 run_key: str = "", ensemble: list[Surrogate] | None = None):
        if work.n < 2:
            raise ValueError("protection needs at least 2 image-caption pairs (the contrastive loss compares pairs)")
        self.cfg = cfg
        self.s = surrogate
        # Every surrogate the loop trains and attacks: `surrogate` first (it scores the report), then the
        # ensemble. Noise and triggers minimize the mean of their losses.
        self.members = [surrogate] + list(ensemble or [])
        self.work = work
        self.store = store
        self.ckpt = Path(ckpt_dir)
        self.run_key = run_key
        self.method = cfg.method
        self.eps = float(cfg.eps)
        self.alpha = float(cfg.alpha)
        self.bs = min(int(cfg.batch_size), work.n)
        self.use_trigger = uses_trigger(self.method)
        self.k = int(cfg.trigger_tokens) if self.use_trigger else 0
        # The store row of each image's noise; `shared`: rows are shared (uap, noise_groups), so the noise pass
        # keeps every row in memory and updates it batch after batch.
        self.rows = noise_rows(cfg, work.captions)
        self.shared = int(self.rows.max()) + 1 < work.n
        if store.shape[0] < int(self.rows.max()) + 1:
            raise ValueError(f"delta store has {store.shape[0]} rows; the noise needs {int(self.rows.max()) + 1}")
        # MEM's EM term (see module docstring): 0 for every other method, where it would mean nothing.
        self.own_w = float(getattr(cfg, "own_caption_weight", 0.0)) if self.method == "mem" else 0.0
        self.opts = [torch.optim.AdamW([p for p in m.model.parameters() if p.requires_grad], lr=float(cfg.surrogate_lr),
                                       weight_decay=float(cfg.weight_decay)) for m in self.members]
        self.allowed = self._trigger_vocabulary() if self.use_trigger else None
        self.state = LoopState()
        self.targets = None
        if self.method == "tap":
            # A fixed derangement: image i is pushed toward the caption of image targets[i] != i.
            self.targets = tap_targets(work.n, seeded_generator(cfg.seed, "tap_targets"))

    # -------------------------------------------------------------------------------- plumbing
    def _trigger_vocabulary(self) -> torch.Tensor:
        allowed = allowed_trigger_ids(self.s.tokenizer, self.s.vocab_limit)
        if getattr(self.cfg, "exclude_caption_vocab", True):
            used = {t for caps in self.work.captions for cap in caps for t in cap}
            keep = torch.tensor([int(t) not in used for t in allowed.tolist()], dtype=torch.bool)
            allowed = allowed[keep]
        if allowed.numel() < self.k:
            raise ValueError(f"only {allowed.numel()} tokens left for triggers of {self.k} tokens")
        return allowed

    def _clean(self, idx: torch.Tensor) -> torch.Tensor:
        return self.work.images.read(idx.numpy()).to(self.s.device)

    def _delta(self, buf: str, idx: torch.Tensor) -> torch.Tensor:
        return self.store.read(buf, self.rows[idx.numpy()]).to(self.s.device)

    def _pick_captions(self, idx: torch.Tensor, g: torch.Generator, source: torch.Tensor | None = None) -> list[list[int]]:
        src = idx if source is None else source
        out = []
        for i in src.tolist():
            caps = self.work.captions[i]
            out.append(caps[int(torch.randint(0, len(caps), (), generator=g))])
        return out

    def _trigger_rows(self, idx: torch.Tensor):
        if not self.use_trigger:
            return None
        return self.state.triggers[self.state.groups[idx]].tolist()

    def _image_loss_input(self, x: torch.Tensor, g: torch.Generator) -> list[torch.Tensor]:
        eot = self.cfg.eot
        if not eot.enabled:
            return [x]
        return [eot_transform(x, g, eot) for _ in range(int(eot.samples))]

    # -------------------------------------------------------------------------------- phases
    def init_triggers(self) -> None:
        n = self.work.n
        groups_cfg = self.cfg.trigger_groups
        if self.shared:
            # Class-wise noise: each noise group gets one trigger, so noise and trigger form one key per group.
            groups = torch.from_numpy(self.rows)
        elif groups_cfg is None or groups_cfg >= n:
            groups = torch.arange(n)
        else:
            feats = []
            self.s.model.eval()
            with torch.no_grad():
                for idx in batches(torch.arange(n), self.bs):
                    feats.append(self.s.encode_image(self._clean(idx)).cpu())
            groups = renumber_by_first_appearance(kmeans_groups(torch.cat(feats), int(groups_cfg), self.cfg.seed))
        n_groups = int(groups.max()) + 1
        allowed = self.allowed
        g = seeded_generator(self.cfg.seed, "trigger_init")
        trig = allowed[torch.randint(0, allowed.numel(), (n_groups, self.k), generator=g)]
        self.state.groups = groups.long()
        self.state.triggers = trig.long()

    def train_surrogate(self, r: int, buf: str, clean: bool) -> list[float]:
        """`surrogate_steps` steps of every member on the same batches; the curve is their mean loss."""
        for m in self.members:
            m.model.train()
        g = seeded_generator(self.cfg.seed, "train", r)
        losses = []
        for _ in range(int(self.cfg.surrogate_steps)):
            idx = torch.randperm(self.work.n, generator=g)[: self.bs]
            x = self._clean(idx)
            if not clean:
                x = (x + self._delta(buf, idx)).clamp(0, 1)
            triggers = self._trigger_rows(idx) if not clean else None
            if triggers is not None and self.own_w > 0:
                # the share of rows a scraper sees without the trigger: noise + own caption only
                bare = (torch.rand(len(idx), generator=g) < self.own_w).tolist()
                triggers = [[] if b else t for t, b in zip(triggers, bare)]
            captions = self._pick_captions(idx, g)
            step_losses = []
            for m, opt in zip(self.members, self.opts):
                tokens = m.build_tokens(triggers, captions)
                loss = clip_loss(m.encode_image(x), m.encode_text(tokens), m.model.logit_scale.exp())
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                with torch.no_grad():  # open_clip's training loop clamps the temperature at 100
                    m.model.logit_scale.clamp_(0, math.log(MAX_LOGIT_SCALE))
                step_losses.append(float(loss.detach()))
            losses.append(sum(step_losses) / len(step_losses))
        for m in self.members:
            m.model.eval()
        return losses

    def _noise_captions(self, idx: torch.Tensor, g: torch.Generator) -> list[list[int]]:
        """The captions one PGD step pairs with the batch's images (and, for MEM, their own triggers)."""
        if self.method == "mem":
            caps = self._pick_captions(idx, g)
            shuffle = torch.randperm(len(idx), generator=g)
            return [caps[j] for j in shuffle.tolist()]  # trigger stays with its image, caption moves
        if self.method == "tap":
            return self._pick_captions(idx, g, source=self.targets[idx])
        return self._pick_captions(idx, g)

    def _loss(self, views: list[torch.Tensor], texts: list[list[torch.Tensor]]) -> torch.Tensor:
        """Mean contrastive loss over the members and the image views. `texts[j]` holds one text feature
        matrix per member, each paired with the images with weight (1 - w, w) for MEM's two caption sets."""
        weights = [1.0] if len(texts) == 1 else [1 - self.own_w, self.own_w]
        total = 0.0
        for mi, m in enumerate(self.members):
            scale = m.logit_scale()
            for v in views:
                f = m.encode_image(v)
                total = total + sum(w * clip_loss(f, t[mi], scale) for w, t in zip(weights, texts))
        return total / (len(self.members) * len(views))

    def noise_pass(self, r: int, src: str, dst: str) -> float:
        params = [p for m in self.members for p in m.model.parameters()]
        for m in self.members:
            m.model.eval()
        req = [p.requires_grad for p in params]
        for p in params:
            p.requires_grad_(False)
        g = seeded_generator(self.cfg.seed, "noise", r)
        minimize = self.method != "uap"
        final = []
        n_rows = int(self.rows.max()) + 1
        # Shared rows (uap, noise groups) are few: all held here and updated by every batch that uses them.
        held = self.store.read(src, np.arange(n_rows)).to(self.s.device) if self.shared else None
        try:
            for idx in batches(torch.randperm(self.work.n, generator=g), self.bs):
                x = self._clean(idx)
                if self.shared:
                    used, inv = np.unique(self.rows[idx.numpy()], return_inverse=True)
                    used, inv = torch.from_numpy(used), torch.from_numpy(inv.reshape(-1))
                    delta = held[used].clone()
                else:
                    delta = self._delta(src, idx)
                for _ in range(int(self.cfg.pgd_steps)):
                    with torch.no_grad():  # new captions at every step: the noise must not fit one caption
                        trig, caps = self._trigger_rows(idx), self._noise_captions(idx, g)
                        texts = [[m.encode_text(m.build_tokens(trig, caps)) for m in self.members]]
                        if self.own_w > 0:  # the EM term: the same images with their own captions, no trigger
                            own = self._pick_captions(idx, g)
                            texts.append([m.encode_text(m.build_tokens(None, own)) for m in self.members])
                    delta.requires_grad_(True)
                    xin = (x + (delta[inv] if self.shared else delta)).clamp(0, 1)
                    loss = self._loss(self._image_loss_input(xin, g), texts)
                    grad, = torch.autograd.grad(loss, delta)
                    if self.shared:
                        # One delta for many images: the eps-ball only (each image is clamped to [0,1] on use).
                        step = self.alpha * grad.sign()
                        delta = (delta.detach() + (-step if minimize else step)).clamp(-self.eps, self.eps)
                    else:
                        delta = pgd_update(delta, grad, x, self.alpha, self.eps, minimize=minimize)
                    final_loss = float(loss.detach())
                final.append(final_loss)
                if self.shared:
                    held[used] = delta.detach()
                else:
                    self.store.write(dst, idx.numpy(), delta)
            if self.shared:
                self.store.write(dst, np.arange(n_rows), held)
        finally:
            for p, rq in zip(params, req):
                p.requires_grad_(rq)
        self.store.flush()
        return float(np.mean(final))

    def _text_with_grad(self, m: Surrogate, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Text features of `tokens` and the token-embedding output they were computed from (a leaf, so the
        loss gradient w.r.t. each position's embedding can be read off)."""
        captured = {}

        def hook(_m, _inp, out):
            leaf = out.detach().requires_grad_(True)
            captured["emb"] = leaf
            return leaf

        handle = m.token_embedding.register_forward_hook(hook)
        try:
            txt = m.encode_text(tokens)
        finally:
            handle.remove()
        return txt, captured["emb"]

    def trigger_pass(self, r: int, buf: str) -> tuple[float, float]:
        """HotFlip over every member: each candidate token's first-order score is summed over the members (the
        members share the BPE vocabulary; their embedding matrices are concatenated along the feature axis),
        and the beam search scores candidates by the members' mean loss."""
        for m in self.members:
            m.model.eval()
        g = seeded_generator(self.cfg.seed, "trigger", r)
        allowed = self.allowed.to(self.s.device)
        scales = [m.logit_scale().detach() for m in self.members]
        embedding = torch.cat([m.token_embedding.weight.detach() for m in self.members], dim=1)
        n_members = len(self.members)

        def mean_loss(imgs, txts) -> torch.Tensor:
            return sum(clip_loss(i, t, sc) for i, t, sc in zip(imgs, txts, scales)) / n_members

        before, after = [], []
        for idx in batches(torch.randperm(self.work.n, generator=g), self.bs):
            x = (self._clean(idx) + self._delta(buf, idx)).clamp(0, 1)
            caps = self._pick_captions(idx, g)
            groups_b = self.state.groups[idx]
            trig_rows = self.state.triggers[groups_b].tolist()
            imgs, txts, grads = [], [], []
            for m, sc in zip(self.members, scales):
                with torch.no_grad():
                    img = m.encode_image(x)
                txt, emb = self._text_with_grad(m, m.build_tokens(trig_rows, caps))
                grad, = torch.autograd.grad(clip_loss(img, txt, sc) / n_members, emb)
                imgs.append(img)
                txts.append(txt.detach())
                grads.append(grad[:, 1:1 + self.k, :].detach())  # positions after <start_of_text>
            grad = torch.cat(grads, dim=2)
            with torch.no_grad():
                batch_before = float(mean_loss(imgs, txts))
                for gid in torch.unique(groups_b).tolist():  # sorted: deterministic order
                    rows = (groups_b == gid).nonzero().flatten()
                    cand = hotflip_candidates(grad[rows].sum(0), embedding, allowed, int(self.cfg.hotflip_topk))
                    row_caps = [caps[i] for i in rows.tolist()]

                    def score(trigs: list[list[int]], rows=rows, row_caps=row_caps) -> torch.Tensor:
                        feats = [m.encode_text(m.build_tokens([t for t in trigs for _ in row_caps],
                                                              row_caps * len(trigs))).view(len(trigs), len(row_caps), -1)
                                 for m in self.members]
                        out = []
                        for c in range(len(trigs)):
                            swapped = []
                            for txt, f in zip(txts, feats):
                                t = txt.clone()
                                t[rows] = f[c]
                                swapped.append(t)
                            out.append(mean_loss(imgs, swapped))
                        return torch.stack(out).cpu()

                    best, _, _ = beam_search_trigger(self.state.triggers[gid].tolist(), cand.cpu(), score,
                                                     int(self.cfg.beam_width))
                    self.state.triggers[gid] = torch.tensor(best, dtype=torch.long)
                    for m, txt in zip(self.members, txts):
                        txt[rows] = m.encode_text(m.build_tokens([best] * len(rows), row_caps))
                before.append(batch_before)
                after.append(float(mean_loss(imgs, txts)))
        return float(np.mean(before)), float(np.mean(after))

    # -------------------------------------------------------------------------------- checkpoints
    def save_checkpoint(self) -> None:
        st = self.state
        save_torch_atomic({
            "run_key": self.run_key,
            "round_done": st.round_done,
            "buffer": st.buffer,
            "triggers": st.triggers,
            "groups": st.groups,
            "curves": st.curves,
            "model": self.s.model.state_dict(),
            "optimizer": self.opts[0].state_dict(),
            "ensemble": [(m.model.state_dict(), o.state_dict()) for m, o in zip(self.members[1:], self.opts[1:])],
            "torch_rng": torch.get_rng_state(),
        }, self.ckpt / CHECKPOINT)

    def load_checkpoint(self) -> bool:
        path = self.ckpt / CHECKPOINT
        if not path.exists():
            return False
        ck = load_torch(path)
        if ck.get("run_key") != self.run_key:
            raise ValueError(f"checkpoint {path} belongs to a different run (config or inputs changed)")
        self.s.model.load_state_dict(ck["model"])
        self.opts[0].load_state_dict(ck["optimizer"])
        for m, o, (model_state, opt_state) in zip(self.members[1:], self.opts[1:], ck.get("ensemble", [])):
            m.model.load_state_dict(model_state)
            o.load_state_dict(opt_state)
        torch.set_rng_state(ck["torch_rng"])
        self.state = LoopState(round_done=int(ck["round_done"]), buffer=ck["buffer"], triggers=ck["triggers"],
                               groups=ck["groups"], curves=ck["curves"])
        return True

    # -------------------------------------------------------------------------------- driver
    def noise_rounds(self) -> set[int]:
        rounds = int(self.cfg.rounds)
        # Error-maximizing noise attacks the final (clean-trained) surrogate once.
        return set(range(rounds)) if self.method in MIN_MIN else {rounds - 1}

    def run(self, stop_after_round: int | None = None, progress=Silent) -> LoopState:
        """Run the remaining rounds (resuming from the checkpoint). `stop_after_round` simulates an
        interruption after that round's checkpoint (used by tests and benchmarks). `progress`: rounds done /
        total with rate and ETA (corpusforge.progress_api)."""
        resumed = self.load_checkpoint()
        if not resumed:
            if self.use_trigger:
                self.init_triggers()
            self.state.buffer = "a"
        else:
            log.info("resuming after round %d", self.state.round_done)
        noise_rounds = self.noise_rounds()
        remaining = range(self.state.round_done + 1, int(self.cfg.rounds))
        with progress(f"protect ({self.method}, {self.work.n} images)", total=len(remaining), unit="rounds") as step:
            self._run_rounds(remaining, noise_rounds, stop_after_round, step)
        return self.state

    def _run_rounds(self, remaining, noise_rounds, stop_after_round, step) -> None:
        for r in remaining:
            t0 = time.perf_counter()
            src = self.state.buffer
            dst = Int8DeltaStore.other(src)
            st = self.state
            st.curves["surrogate_loss"].append(self.train_surrogate(r, src, clean=self.method in ERROR_MAX))
            if r in noise_rounds:
                st.curves["noise_loss"].append(self.noise_pass(r, src, dst))
                buf = dst
            else:
                st.curves["noise_loss"].append(None)
                buf = src
            if self.use_trigger and r < int(self.cfg.trigger_rounds):
                b, a = self.trigger_pass(r, buf)
                st.curves["trigger_loss_before"].append(b)
                st.curves["trigger_loss"].append(a)
            else:
                st.curves["trigger_loss_before"].append(None)
                st.curves["trigger_loss"].append(None)
            st.round_done = r
            st.buffer = buf
            st.curves["round_seconds"].append(round(time.perf_counter() - t0, 3))
            self.save_checkpoint()
            log.info("round %d/%d: surrogate %.4f  noise %s  trigger %s  (%.1fs)", r + 1, self.cfg.rounds,
                     st.curves["surrogate_loss"][-1][-1] if st.curves["surrogate_loss"][-1] else float("nan"),
                     st.curves["noise_loss"][-1], st.curves["trigger_loss"][-1], st.curves["round_seconds"][-1])
            step.add(1)
            if stop_after_round is not None and r >= stop_after_round:
                break


# ------------------------------------------------------------------------------------------ evaluation
@torch.no_grad()
def pair_loss(surrogate: Surrogate, images: torch.Tensor, tokens: torch.Tensor, batch_size: int) -> dict:
    """Mean contrastive loss and image->text top-1 accuracy of pairs, in fixed batches (same for every
    variant compared, so the numbers are comparable)."""
    surrogate.model.eval()
    losses, hits, n = [], 0, 0
    for idx in batches(torch.arange(images.shape[0]), min(batch_size, images.shape[0])):
        img = surrogate.encode_image(images[idx])
        txt = surrogate.encode_text(tokens[idx])
        losses.append(float(clip_loss(img, txt, surrogate.logit_scale())) * len(idx))
        hits += int(((img @ txt.T).argmax(1) == torch.arange(len(idx), device=img.device)).sum())
        n += len(idx)
    return {"loss": sum(losses) / n, "i2t_top1": hits / n}
