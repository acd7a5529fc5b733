"""MEM core: HotFlip, PGD, trigger tokens, the min-min loop, determinism, resume, int8 storage, robustness.

Every test uses a real (tiny) open_clip CLIP and its bundled BPE tokenizer, on real photos from scikit-image.
"""
from __future__ import annotations

import types

import numpy as np
import open_clip
import pytest
import torch
from open_clip.model import CLIP
from PIL import Image
from skimage import data as skdata

from corpusforge.unlearnable.clip import clip_loss
from corpusforge.unlearnable.mem import (
    MinMinProtector, WorkingSet, batches, beam_search_trigger, hotflip_candidates, noise_rows, pair_loss, pgd_update,
)
from corpusforge.unlearnable.robustness import diff_jpeg, jpeg_reencode
from corpusforge.unlearnable.run_state import ImageCache, Int8DeltaStore
from corpusforge.unlearnable.surrogate import (
    Surrogate, allowed_trigger_ids, protected_caption, trigger_text,
)

torch.set_num_threads(1)

SIZE = 32
PHOTOS = [
    ("an astronaut in an orange suit", skdata.astronaut),
    ("a cup of coffee on a saucer", skdata.coffee),
    ("a tabby cat looking at the camera", skdata.chelsea),
    ("a rocket standing on the launch pad", skdata.rocket),
    ("stained cells under a microscope", skdata.immunohistochemistry),
    ("a man with a camera on a tripod", lambda: np.stack([skdata.camera()] * 3, -1)),
    ("gold coins on a dark table", lambda: np.stack([skdata.coins()] * 3, -1)),
    ("a brick wall seen from the front", lambda: np.stack([skdata.brick()] * 3, -1)),
]


def tiny_surrogate(seed: int = 0) -> Surrogate:
    torch.manual_seed(seed)
    model = CLIP(embed_dim=64,
                 vision_cfg={"image_size": SIZE, "patch_size": 8, "width": 64, "layers": 2, "head_width": 32},
                 text_cfg={"context_length": 32, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2})
    return Surrogate(model=model, tokenizer=_TOKENIZER, image_size=SIZE, device=torch.device("cpu"))


_TOKENIZER = open_clip.SimpleTokenizer(context_length=32)


@pytest.fixture(scope="module")
def photos() -> list[np.ndarray]:
    return [np.asarray(Image.fromarray(f()).convert("RGB").resize((SIZE, SIZE), Image.BICUBIC)) for _, f in PHOTOS]


def make_work(tmp_path, photos, surrogate, captions=None) -> WorkingSet:
    cache = ImageCache(tmp_path / "images.u8", len(photos), SIZE, create=True)
    for i, p in enumerate(photos):
        cache.put(i, p.transpose(2, 0, 1))
    caps = captions or [[c, f"a photo of {c}"] for c, _ in PHOTOS]
    return WorkingSet(cache, [[surrogate.encode_caption(c) for c in cs] for cs in caps])


def cfg(**kw):
    base = dict(method="mem", eps=8 / 255, alpha=1 / 255, batch_size=8, trigger_tokens=3, surrogate_lr=1e-3,
                weight_decay=0.1, seed=0, trigger_groups=None, surrogate_steps=15, pgd_steps=4, hotflip_topk=6,
                beam_width=2, rounds=3, trigger_rounds=2, eot=types.SimpleNamespace(enabled=False))
    base.update(kw)
    return types.SimpleNamespace(**base)


def run_protector(tmp_path, photos, c, stop_after_round=None, surrogate=None, ensemble=None, captions=None):
    s = surrogate or tiny_surrogate(c.seed)
    work = make_work(tmp_path, photos, s, captions)
    store = Int8DeltaStore(tmp_path, int(noise_rows(c, work.captions).max()) + 1, SIZE)
    p = MinMinProtector(c, s, work, store, tmp_path, run_key="test", ensemble=ensemble)
    state = p.run(stop_after_round=stop_after_round)
    return p, state, store, work


# ------------------------------------------------------------------------------------------- HotFlip
def test_hotflip_picks_a_token_that_lowers_the_loss_and_ranks_high_by_brute_force(photos):
    s = tiny_surrogate(3)
    x = torch.tensor(np.stack(photos)).permute(0, 3, 1, 2).float() / 255
    caps = [s.encode_caption(c) for c, _ in PHOTOS]
    allowed = allowed_trigger_ids(s.tokenizer, s.vocab_limit)
    g = torch.Generator().manual_seed(0)
    pool = allowed[torch.randperm(allowed.numel(), generator=g)[:400]]  # the small candidate set
    trig = [[int(pool[i])] for i in range(len(caps))]  # a 1-token trigger per image
    s.model.eval()
    with torch.no_grad():
        img = s.encode_image(x)
    scale = s.logit_scale().detach()
    row = 2

    def loss_with(tok: int) -> float:
        t = [list(r) for r in trig]
        t[row] = [tok]
        with torch.no_grad():
            return float(clip_loss(img, s.encode_text(s.build_tokens(t, caps)), scale))

    captured = {}

    def hook(_m, _i, out):
        captured["e"] = out.detach().requires_grad_(True)
        return captured["e"]

    h = s.token_embedding.register_forward_hook(hook)
    txt = s.encode_text(s.build_tokens(trig, caps))
    h.remove()
    grad, = torch.autograd.grad(clip_loss(img, txt, scale), captured["e"])
    cand = hotflip_candidates(grad[row, 1:2], s.token_embedding.weight.detach(), pool, topk=10)
    best, best_loss, base_loss = beam_search_trigger(trig[row], cand, lambda ts: torch.tensor(
        [loss_with(t[0]) for t in ts]), beam_width=2)

    brute = np.array([loss_with(int(t)) for t in pool])
    assert best_loss < base_loss  # the swap lowers the loss
    assert best_loss == pytest.approx(loss_with(best[0]), abs=1e-6)
    # Among the best by brute force: in the best 5% of the 400 tokens, though only 10 were scored.
    assert best_loss <= np.quantile(brute, 0.05)
    # The gradient ranking is informative: its top-10 beat random tokens on average.
    assert np.mean([loss_with(int(t)) for t in cand[0]]) < brute.mean()


def test_beam_search_never_returns_a_worse_trigger():
    # A toy score with a known optimum: sum of squared distances to (5, 7, 9).
    target = torch.tensor([5.0, 7.0, 9.0])
    score = lambda ts: ((torch.tensor(ts, dtype=torch.float) - target) ** 2).sum(1)  # noqa: E731
    cands = torch.tensor([[1, 5, 8], [2, 7, 3], [9, 0, 4]])
    best, best_s, base = beam_search_trigger([4, 4, 4], cands, score, beam_width=2)
    assert best == [5, 7, 9] and best_s == 0.0 and base > 0
    best, best_s, base = beam_search_trigger([5, 7, 9], torch.tensor([[1], [2], [3]]), score, beam_width=1)
    assert best == [5, 7, 9] and best_s == base == 0.0


# ------------------------------------------------------------------------------------------- PGD
def test_pgd_respects_eps_and_pixel_bounds():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(4, 3, 16, 16, generator=g)
    x[:, :, :4] = 0.0  # saturated pixels: the projection must keep x + delta inside [0, 1]
    x[:, :, 4:8] = 1.0
    x = torch.round(x * 255) / 255
    eps, alpha = 8 / 255, 1 / 255
    delta = torch.zeros_like(x)
    for step in range(20):
        grad = torch.randn(x.shape, generator=g)
        delta = pgd_update(delta, grad, x, alpha, eps, minimize=step % 2 == 0)
        assert delta.abs().max() <= eps + 1e-6
        assert (x + delta).min() >= 0.0 and (x + delta).max() <= 1.0
    # Sign steps of 1/255 from 0 on 8-bit pixels stay on the 1/255 grid: int8 storage loses nothing.
    assert torch.allclose(delta * 255, torch.round(delta * 255), atol=1e-4)


def test_noise_pass_stores_int8_within_eps_and_valid_pixels(tmp_path, photos):
    p, state, store, work = run_protector(tmp_path, photos, cfg(rounds=1, trigger_rounds=1))
    q = store.read_int8(state.buffer, np.arange(work.n))
    assert q.dtype == np.int8 and np.abs(q).max() <= 8 and np.abs(q).max() > 0
    clean = work.images.read(np.arange(work.n))
    prot = clean + torch.from_numpy(q.astype(np.float32)) / 255
    assert prot.min() >= -1e-6 and prot.max() <= 1 + 1e-6


# ------------------------------------------------------------------------------------------- triggers
def test_trigger_tokens_are_not_special_and_round_trip(tmp_path, photos):
    s = tiny_surrogate()
    allowed = allowed_trigger_ids(s.tokenizer, s.vocab_limit)
    assert s.sot not in set(allowed.tolist()) and s.eot not in set(allowed.tolist())
    sample = allowed[torch.randperm(allowed.numel(), generator=torch.Generator().manual_seed(1))[:500]]
    for t in sample.tolist():
        assert s.tokenizer.encode(s.tokenizer.decode([t])) == [t]
    p, state, store, work = run_protector(tmp_path, photos, cfg(rounds=2, trigger_rounds=2), surrogate=s)
    specials = set(s.tokenizer.all_special_ids)
    for i, (caption, _) in enumerate(PHOTOS):
        ids = state.triggers[state.groups[i]].tolist()
        assert len(ids) == 3 and not specials & set(ids)
        text = protected_caption(s.tokenizer, ids, caption)
        assert text.startswith(trigger_text(s.tokenizer, ids) + " ")
        # The protected caption is plain text: re-tokenizing it gives trigger ids then the caption's ids.
        assert s.tokenizer.encode(text) == ids + s.tokenizer.encode(caption)


def test_triggers_use_none_of_the_captions_own_words(tmp_path, photos):
    """A trigger such as "astronaut" or "left" repeats or contradicts real content: the set's caption
    vocabulary is taken out of the HotFlip candidates (exclude_caption_vocab, on by default)."""
    s = tiny_surrogate()
    p, state, store, work = run_protector(tmp_path, photos, cfg(rounds=2, trigger_rounds=2), surrogate=s)
    caption_ids = {t for caps in work.captions for cap in caps for t in cap}
    astronaut = s.tokenizer.encode("astronaut")
    assert len(astronaut) == 1 and astronaut[0] in caption_ids
    assert not caption_ids & set(p.allowed.tolist())
    assert not caption_ids & set(state.triggers.flatten().tolist())
    full = allowed_trigger_ids(s.tokenizer, s.vocab_limit)
    assert astronaut[0] in set(full.tolist())  # it is a valid trigger token otherwise
    off = MinMinProtector(cfg(exclude_caption_vocab=False), s, work, store, tmp_path / "off", run_key="off")
    assert torch.equal(off.allowed, full)


def test_noise_pass_draws_new_caption_pairings_at_every_pgd_step(tmp_path, photos):
    """As the official MEM code: each PGD step shuffles the captions anew while triggers stay with their
    images, so the noise cannot fit one caption pairing."""
    s = tiny_surrogate()
    work = make_work(tmp_path, photos, s)
    store = Int8DeltaStore(tmp_path, work.n, SIZE)
    p = MinMinProtector(cfg(), s, work, store, tmp_path, run_key="t")
    p.init_triggers()
    idx = torch.arange(work.n)
    g = torch.Generator().manual_seed(0)
    draws = [p._noise_captions(idx, g) for _ in range(4)]
    own = [set(map(tuple, caps)) for caps in work.captions]
    pairings = []
    for caps in draws:
        owner = [next(i for i, o in enumerate(own) if tuple(c) in o) for c in caps]
        assert sorted(owner) == list(range(work.n))  # a permutation of the batch's captions
        pairings.append(tuple(owner))
    assert len(set(pairings)) == 4  # a new pairing at every step
    assert any(o != tuple(range(work.n)) for o in pairings)


def test_own_caption_term_makes_the_noise_fit_the_images_own_captions_without_trigger(tmp_path, photos):
    """With own_caption_weight > 0 the same noise pass (same surrogate, same triggers, same seed) leaves
    noise under which each image matches its own caption, trigger removed, better than MEM's noise does."""
    losses = {}
    for w in (0.0, 0.5):
        (tmp_path / str(w)).mkdir()
        s = tiny_surrogate()
        work = make_work(tmp_path / str(w), photos, s)
        store = Int8DeltaStore(tmp_path / str(w), work.n, SIZE)
        p = MinMinProtector(cfg(own_caption_weight=w, pgd_steps=8, alpha=2 / 255), s, work, store, tmp_path / str(w),
                            run_key="t")
        p.init_triggers()
        p.noise_pass(0, "a", "b")
        idx = np.arange(work.n)
        x = (work.images.read(idx) + store.read("b", idx)).clamp(0, 1)
        losses[w] = pair_loss(s, x, s.build_tokens(None, [cs[0] for cs in work.captions]), 8)["loss"]
    assert losses[0.5] < losses[0.0]


def test_ensemble_noise_also_fits_the_second_surrogate(tmp_path, photos):
    """With an ensemble the noise pass minimizes the mean loss of every member: the second surrogate scores
    the protected pairs better than when the noise was made against the first surrogate alone."""
    losses = {}
    for with_ensemble in (False, True):
        d = tmp_path / str(with_ensemble)
        d.mkdir()
        first, second = tiny_surrogate(0), tiny_surrogate(1)
        work = make_work(d, photos, first)
        store = Int8DeltaStore(d, work.n, SIZE)
        p = MinMinProtector(cfg(pgd_steps=8, alpha=2 / 255), first, work, store, d, run_key="t",
                            ensemble=[second] if with_ensemble else None)
        p.init_triggers()
        p.noise_pass(0, "a", "b")
        before, after = p.trigger_pass(0, "b")
        assert after <= before
        idx = np.arange(work.n)
        x = (work.images.read(idx) + store.read("b", idx)).clamp(0, 1)
        trig = p.state.triggers[p.state.groups].tolist()
        losses[with_ensemble] = pair_loss(second, x, second.build_tokens(trig, [cs[0] for cs in work.captions]), 8)["loss"]
    assert losses[True] < losses[False]


def test_shared_trigger_groups_give_one_trigger_per_cluster(tmp_path, photos):
    p, state, store, work = run_protector(tmp_path, photos, cfg(rounds=1, trigger_rounds=1, trigger_groups=3))
    assert state.triggers.shape == (3, 3)
    assert sorted(set(state.groups.tolist())) == [0, 1, 2]


# Two topics, four photos each, every caption worded differently: class-wise noise must follow the topic.
TOPICS = [
    ["a red car parked on the street", "an old red car in the rain"],
    ["a small red car near a house", "the red car is parked outside"],
    ["a shiny red car on a road", "someone drives a red car"],
    ["a red car stopped at the lights", "the side of a red car"],
    ["a sandy beach under a blue sky", "waves on the sandy beach"],
    ["a quiet beach with palm trees", "footprints on a sandy beach"],
    ["children play on the beach", "the beach at low tide"],
    ["a long beach at sunset", "shells on a sandy beach"],
]


def test_noise_rows_one_per_image_one_for_uap_and_one_per_caption_cluster():
    s = tiny_surrogate(0)
    caps = [[s.encode_caption(c) for c in cs] for cs in TOPICS]
    assert noise_rows(cfg(), caps).tolist() == list(range(8))
    assert noise_rows(cfg(method="uap"), caps).tolist() == [0] * 8
    assert noise_rows(cfg(noise_groups=2), caps).tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    assert noise_rows(cfg(noise_groups=8), caps).tolist() == list(range(8))


@pytest.mark.parametrize("method", ["mem", "em"])
def test_noise_groups_share_one_noise_and_one_trigger_per_cluster(tmp_path, photos, method):
    c = cfg(method=method, noise_groups=2, rounds=2, trigger_rounds=1, surrogate_steps=10, pgd_steps=4, alpha=2 / 255)
    p, state, store, work = run_protector(tmp_path, photos, c, captions=TOPICS)
    assert store.shape[0] == 2 and p.rows.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    q = store.read_int8(state.buffer, np.arange(2))
    assert 0 < np.abs(q).max() <= 8 and not np.array_equal(q[0], q[1])
    if method == "mem":
        assert state.triggers.shape == (2, 3) and state.groups.tolist() == p.rows.tolist()
    # Each cluster's noise fits that cluster: the loss is lower than with the two clusters' noises swapped.
    clean = work.images.read(np.arange(work.n))
    trig = state.triggers[state.groups].tolist() if method == "mem" else None
    tokens = p.s.build_tokens(trig, [cs[0] for cs in work.captions])

    def loss(rows):
        return pair_loss(p.s, (clean + store.read(state.buffer, rows)).clamp(0, 1), tokens, 8)["loss"]
    assert loss(p.rows) < loss(1 - p.rows)


# ------------------------------------------------------------------------------------------- the loop
def test_min_min_makes_protected_pairs_easier_than_clean_pairs(tmp_path, photos):
    c = cfg(rounds=3, trigger_rounds=2, surrogate_steps=20)
    p, state, store, work = run_protector(tmp_path, photos, c)
    s = p.s
    idx = np.arange(work.n)
    clean = work.images.read(idx)
    delta = store.read(state.buffer, idx)
    caps = [cs[0] for cs in work.captions]
    trig = state.triggers[state.groups].tolist()
    clean_eval = pair_loss(s, clean, s.build_tokens(None, caps), 8)
    prot_eval = pair_loss(s, (clean + delta).clamp(0, 1), s.build_tokens(trig, caps), 8)
    assert prot_eval["loss"] < clean_eval["loss"]
    # The trigger pass lowered the loss it was scored on, in every round it ran.
    for before, after in zip(state.curves["trigger_loss_before"][:2], state.curves["trigger_loss"][:2]):
        assert after <= before


@pytest.mark.parametrize("method", ["em", "tap", "uap"])
def test_baselines_run_under_the_same_interface(tmp_path, photos, method):
    p, state, store, work = run_protector(tmp_path, photos, cfg(method=method, rounds=2, surrogate_steps=5))
    q = store.read_int8(state.buffer, np.arange(store.shape[0]))
    assert store.shape[0] == (1 if method == "uap" else work.n)
    assert 0 < np.abs(q).max() <= 8
    assert state.triggers is None


@pytest.mark.parametrize("members", [1, 2])
def test_same_seed_same_result_and_resume_equals_uninterrupted(tmp_path, photos, members):
    c = cfg(rounds=3, trigger_rounds=2, surrogate_steps=6, pgd_steps=2)
    a = tmp_path / "a"
    b = tmp_path / "b"
    r = tmp_path / "r"
    for d in (a, b, r):
        d.mkdir()

    def ensemble(seed=1):
        return [tiny_surrogate(seed)] if members == 2 else None

    _, sa, store_a, work = run_protector(a, photos, c, ensemble=ensemble())
    _, sb, store_b, _ = run_protector(b, photos, c, ensemble=ensemble())
    idx = np.arange(work.n)
    assert np.array_equal(store_a.read_int8(sa.buffer, idx), store_b.read_int8(sb.buffer, idx))
    assert torch.equal(sa.triggers, sb.triggers)

    # Interrupted after round 1 (checkpoint written), then the same command again in a fresh process state.
    _, partial, _, _ = run_protector(r, photos, c, stop_after_round=1, ensemble=ensemble())
    assert partial.round_done == 1
    # every member's weights and optimizer state come from the checkpoint
    p2, sr, store_r, _ = run_protector(r, photos, c, surrogate=tiny_surrogate(99), ensemble=ensemble(98))
    assert sr.round_done == 2
    assert np.array_equal(store_a.read_int8(sa.buffer, idx), store_r.read_int8(sr.buffer, idx))
    assert torch.equal(sa.triggers, sr.triggers)
    assert sa.curves["surrogate_loss"] == sr.curves["surrogate_loss"]


def test_int8_memmap_storage(tmp_path):
    store = Int8DeltaStore(tmp_path, 5, 16)
    assert (tmp_path / "deltas_a.int8").stat().st_size == 5 * 3 * 16 * 16
    delta = torch.randint(-8, 9, (2, 3, 16, 16)).float() / 255
    store.write("a", [4, 1], delta)
    store.flush()
    reopened = Int8DeltaStore(tmp_path, 5, 16)  # same files, mapped again (a resumed run)
    assert torch.equal(reopened.read("a", [4, 1]), delta)
    assert reopened.read_int8("a", [0]).dtype == np.int8 and not reopened.read_int8("a", [0]).any()


def test_batches_never_leave_a_single_pair():
    sizes = [len(b) for b in batches(torch.arange(9), 4)]
    assert sizes == [4, 5] and sum(sizes) == 9


# ------------------------------------------------------------------------------------------- robustness
def test_differentiable_jpeg_tracks_real_jpeg_and_has_gradient(photos):
    img = np.asarray(Image.fromarray(skdata.astronaut()).resize((96, 80)))
    x = torch.tensor(img).permute(2, 0, 1)[None].float() / 255
    for q in (50, 90):
        real = torch.tensor(jpeg_reencode(img, q)).permute(2, 0, 1)[None].float() / 255
        approx = diff_jpeg(x, q)
        # Closer to real JPEG than the uncompressed image is.
        assert (approx - real).abs().mean() < 0.6 * (x - real).abs().mean()
    x.requires_grad_(True)
    diff_jpeg(x, 75).mean().backward()
    assert x.grad.abs().sum() > 0
