"""The built-in losses: each against a plain loop over the paper's formula and PyTorch's op where one exists."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import hinge_loss as sklearn_binary_hinge
from torch import nn

from cnnbench.errors import InvalidHyperparameterError

INPUT_KINDS = {
    "softmax": "logits",
    "hinge": "logits",
    "kl_div": "logits",
    "contrastive": "pairs",
    "triplet": "embeddings",
    "triplet_facenet": "embeddings",
}


def build(registry, name: str, **hp):
    return registry.create("loss", {"name": name, **hp})


def logits_and_target(shape: tuple[int, ...], dtype: torch.dtype = torch.float64):
    logits = (2 * torch.randn(shape, dtype=dtype)).requires_grad_()
    target = torch.randint(shape[1], (shape[0], *shape[2:]))
    return logits, target


def labelled_batch(dtype: torch.dtype = torch.float64):
    """Eight embeddings in four classes of two, plus one class of one (an anchor with no positive)."""
    labels = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3, 4])
    return torch.randn(len(labels), 5, dtype=dtype, requires_grad=True), labels


def test_builtin_names_defaults_and_input_kinds(registry):
    for name, kind in INPUT_KINDS.items():
        assert type(build(registry, name)).input_kind == kind
    defaults = {name: dict(registry.get("loss", name).defaults) for name in INPUT_KINDS}
    assert defaults["hinge"] == {"p": 2, "margin": 1.0}
    assert defaults["contrastive"] == {"margin": 1.0}
    assert defaults["triplet"] == {"margin": 1.0, "p": 2, "mining": "batch_hard"}
    assert defaults["triplet_facenet"] == {"alpha": 0.2, "mining": "batch_hard"}
    assert defaults["kl_div"] == {"smoothing": 0.1}


# --- softmax ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(7, 5), (3, 4, 2, 3)])
def test_softmax_is_mean_negative_log_probability(registry, shape):
    logits, target = logits_and_target(shape)
    loss = build(registry, "softmax")(logits, target)
    torch.testing.assert_close(loss, F.cross_entropy(logits, target))
    flat_logits = logits.detach().movedim(1, -1).reshape(-1, shape[1])
    by_loop = [-math.log(row.exp()[y] / row.exp().sum()) for row, y in zip(flat_logits, target.flatten())]
    assert loss.item() == pytest.approx(sum(by_loop) / len(by_loop))


# --- hinge -----------------------------------------------------------------------------------------


def survey_hinge(logits: torch.Tensor, target: torch.Tensor, p: int, margin: float) -> float:
    """Gu et al.'s L-p hinge, written as the paper does: δ(y, j) = 1 if y = j else −1, summed over all j."""
    total = 0.0
    for scores, y in zip(logits.tolist(), target.tolist()):
        for j, score in enumerate(scores):
            delta = 1 if j == y else -1
            total += max(0.0, margin - delta * score) ** p
    return total / len(logits)


@pytest.mark.parametrize("margin", [1.0, 0.5])
@pytest.mark.parametrize("p", [1, 2])
def test_hinge_matches_the_survey_formula(registry, p, margin):
    logits, target = logits_and_target((9, 6))
    loss = build(registry, "hinge", p=p, margin=margin)(logits, target)
    assert loss.item() == pytest.approx(survey_hinge(logits.detach(), target, p, margin))


@pytest.mark.parametrize("p", [1, 2])
def test_hinge_gradient_is_the_survey_formulas(registry, p):
    """The loss forms its own gradient (one op per step at classifier shapes): it must be autograd's of the formula."""
    logits, target = logits_and_target((9, 6), dtype=torch.float64)
    (grad,) = torch.autograd.grad(build(registry, "hinge", p=p, margin=0.5)(logits, target), logits)
    delta = F.one_hot(target, 6).to(logits.dtype) * 2 - 1
    (expected,) = torch.autograd.grad(F.relu(0.5 - delta * logits).pow(p).sum() / 9, logits)
    torch.testing.assert_close(grad, expected)

@pytest.mark.parametrize("p", [1, 2])
def test_hinge_gradient_passes_gradcheck_and_scales_with_the_upstream_gradient(registry, p):
    hinge = build(registry, "hinge", p=p, margin=0.5)
    logits, target = logits_and_target((7, 4))
    assert torch.autograd.gradcheck(lambda z: hinge(z, target), (logits,))
    (unit,) = torch.autograd.grad(hinge(logits, target), logits)
    (scaled,) = torch.autograd.grad(hinge(logits, target), logits, torch.tensor(-2.5, dtype=logits.dtype))
    torch.testing.assert_close(scaled, -2.5 * unit)


@pytest.mark.parametrize("p", [1, 2])
def test_hinge_scores_bfloat16_in_float32(registry, p):
    """The sums run in float32: the loss is the formula of the bfloat16 values, the gradient bfloat16 like them."""
    logits, target = logits_and_target((33, 10), dtype=torch.bfloat16)
    loss = build(registry, "hinge", p=p, margin=1.0)(logits, target)
    assert loss.dtype == torch.float32
    assert loss.item() == pytest.approx(survey_hinge(logits.detach().double(), target, p, 1.0), rel=1e-6)
    assert torch.autograd.grad(loss, logits)[0].dtype == torch.bfloat16


@pytest.mark.parametrize("p", [1, 2])
def test_hinge_of_an_empty_batch_is_zero(registry, p):
    empty = torch.empty(0, 3, requires_grad=True)
    loss = build(registry, "hinge", p=p)(empty, torch.empty(0, dtype=torch.long))
    assert loss.item() == 0.0
    assert torch.autograd.grad(loss, empty)[0].shape == (0, 3)


def test_l1_hinge_is_a_sum_of_binary_svm_hinges_per_class(registry):
    """One-vs-all: the survey's L1-hinge is, class by class, scikit-learn's binary hinge loss."""
    logits, target = logits_and_target((12, 4))
    loss = build(registry, "hinge", p=1, margin=1.0)(logits, target)
    scores = logits.detach().numpy()
    per_class = [sklearn_binary_hinge(torch.where(target == j, 1, -1).numpy(), scores[:, j]) for j in range(4)]
    assert loss.item() == pytest.approx(sum(per_class))


@pytest.mark.parametrize("p", [1, 2])
def test_hinge_relation_to_multi_margin_loss(registry, p):
    """Binary scores (−s, s): one-vs-all hinge(margin m) == 2^(2−p) · multi_margin_loss(margin 2m).

    In general they differ: multi_margin_loss sees only score differences (shifting every score leaves it
    unchanged) while the survey's hinge also pins each score to ±margin.
    """
    hinge = build(registry, "hinge", p=p, margin=0.75)
    s = torch.randn(16, 1, dtype=torch.float64)
    binary, target = torch.cat([-s, s], 1), torch.randint(2, (16,))
    torch.testing.assert_close(hinge(binary, target), 2 ** (2 - p) * F.multi_margin_loss(binary, target, p=p, margin=1.5))

    logits, target = logits_and_target((8, 5))
    shifted = logits + 3.0
    torch.testing.assert_close(F.multi_margin_loss(shifted, target, p=p), F.multi_margin_loss(logits, target, p=p))
    assert hinge(shifted, target) > hinge(logits, target) + 1.0


@pytest.mark.parametrize("p", [1, 2])
def test_hinge_treats_pixels_as_samples(registry, p):
    hinge = build(registry, "hinge", p=p, margin=1.0)
    logits, target = logits_and_target((2, 4, 3, 5))
    flat = logits.movedim(1, -1).reshape(-1, 4)
    torch.testing.assert_close(hinge(logits, target), hinge(flat, target.flatten()))
    assert hinge(logits, target).item() == pytest.approx(survey_hinge(flat.detach(), target.flatten(), p, 1.0))


# --- contrastive -----------------------------------------------------------------------------------


def hadsell_contrastive(a: torch.Tensor, b: torch.Tensor, same: torch.Tensor, margin: float) -> float:
    """Hadsell et al. 2006, Eq. 4 with the survey's 1/(2N): ½·d² for similar pairs, ½·max(0, m − d)² otherwise."""
    total = 0.0
    for x, y, is_same in zip(a.tolist(), b.tolist(), same.tolist()):
        d = math.dist(x, y)
        total += 0.5 * (d**2 if is_same else max(0.0, margin - d) ** 2)
    return total / len(a)


@pytest.mark.parametrize("margin", [1.0, 3.0])
def test_contrastive_matches_hadsell_formula(registry, margin):
    a, b = torch.randn(10, 4, dtype=torch.float64), torch.randn(10, 4, dtype=torch.float64)
    same = torch.arange(10) % 3 == 0
    loss = build(registry, "contrastive", margin=margin)(a, b, same)
    assert loss.item() == pytest.approx(hadsell_contrastive(a, b, same, margin), rel=1e-5)


def test_contrastive_ignores_dissimilar_pairs_beyond_the_margin(registry):
    contrastive = build(registry, "contrastive", margin=1.0)
    a = torch.zeros(2, 2)
    b = torch.tensor([[3.0, 4.0], [0.0, 0.5]])  # distances 5 and 0.5
    different = torch.tensor([False, False])
    torch.testing.assert_close(contrastive(a, b, different), torch.tensor(0.5 * 0.5**2 / 2))
    torch.testing.assert_close(contrastive(a, b, ~different), torch.tensor(0.5 * (25 + 0.25) / 2), rtol=1e-5, atol=1e-5)


# --- triplet ---------------------------------------------------------------------------------------


def triplet_terms(distance, emb: torch.Tensor, labels: torch.Tensor, margin: float) -> dict[tuple[int, int, int], float]:
    """Every valid (anchor, positive, negative) triplet and its hinge, by loops."""
    terms = {}
    for a, p, n in itertools.product(range(len(labels)), repeat=3):
        if a != p and labels[a] == labels[p] and labels[n] != labels[a]:
            terms[a, p, n] = max(0.0, distance(emb[a], emb[p]) - distance(emb[a], emb[n]) + margin)
    return terms


def batch_all_by_loop(terms: dict) -> float:
    positive = [t for t in terms.values() if t > 0]
    return sum(positive) / max(len(positive), 1)


def batch_hard_by_loop(distance, emb, labels, margin: float) -> float:
    losses = []
    for a in range(len(labels)):
        positives = [distance(emb[a], emb[p]) for p in range(len(labels)) if p != a and labels[p] == labels[a]]
        negatives = [distance(emb[a], emb[n]) for n in range(len(labels)) if labels[n] != labels[a]]
        if positives and negatives:
            losses.append(max(0.0, max(positives) - min(negatives) + margin))
    return sum(losses) / len(losses)


def p_norm(p: float):
    return lambda x, y: float((x - y).abs().pow(p).sum() ** (1 / p))


def facenet_distance(x, y):
    return float((F.normalize(x, dim=0) - F.normalize(y, dim=0)).square().sum())


@pytest.mark.parametrize("p", [1, 2, 3])
def test_triplet_mining_matches_loops(registry, p):
    emb, labels = labelled_batch()
    plain = emb.detach()
    for mining, by_loop in [
        ("batch_all", batch_all_by_loop(triplet_terms(p_norm(p), plain, labels, 2.0))),
        ("batch_hard", batch_hard_by_loop(p_norm(p), plain, labels, 2.0)),
    ]:
        loss = build(registry, "triplet", margin=2.0, p=p, mining=mining)(emb, labels)
        assert loss.item() == pytest.approx(by_loop, rel=1e-6)


def test_facenet_mining_matches_loops(registry):
    emb, labels = labelled_batch()
    plain = emb.detach()
    for mining, by_loop in [
        ("batch_all", batch_all_by_loop(triplet_terms(facenet_distance, plain, labels, 0.5))),
        ("batch_hard", batch_hard_by_loop(facenet_distance, plain, labels, 0.5)),
    ]:
        loss = build(registry, "triplet_facenet", alpha=0.5, mining=mining)(emb, labels)
        assert loss.item() == pytest.approx(by_loop, rel=1e-6)
        torch.testing.assert_close(build(registry, "triplet_facenet", alpha=0.5, mining=mining)(7 * emb, labels), loss)


# Points on a line, classes 0 (at 0, 1, 3) and 1 (at 4, 6, 9): the hardest pairs can be read off.
LINE = torch.tensor([[0.0], [1.0], [3.0], [4.0], [6.0], [9.0]])
LINE_LABELS = torch.tensor([0, 0, 0, 1, 1, 1])
HARDEST_POSITIVE = [2, 2, 0, 5, 5, 3]  # farthest same-class point
HARDEST_NEGATIVE = [3, 3, 3, 2, 2, 2]  # nearest other-class point


@pytest.mark.parametrize("margin", [1.0, 4.0])
def test_batch_hard_picks_the_known_hardest_pairs(registry, margin):
    emb, explicit = LINE.clone().requires_grad_(), LINE.clone().requires_grad_()
    loss = build(registry, "triplet", margin=margin, mining="batch_hard")(emb, LINE_LABELS)
    reference = nn.TripletMarginLoss(margin=margin, p=2)(explicit, explicit[HARDEST_POSITIVE], explicit[HARDEST_NEGATIVE])
    torch.testing.assert_close(loss, reference)
    loss.backward()
    reference.backward()
    torch.testing.assert_close(emb.grad, explicit.grad)  # the gradient reaches exactly the mined points


def test_batch_all_averages_only_violated_triplets(registry):
    margin = 2.5  # distances on LINE are integers: no triplet sits exactly at the hinge
    triplets = torch.tensor(list(triplet_terms(p_norm(2), LINE, LINE_LABELS, margin)))
    anchor, positive, negative = (LINE[triplets[:, i]] for i in range(3))
    each = nn.TripletMarginLoss(margin=margin, p=2, reduction="none")(anchor, positive, negative)
    assert 0 < (each > 0).sum() < len(each)  # some triplets are already satisfied: they must not dilute the mean
    loss = build(registry, "triplet", margin=margin, mining="batch_all")(LINE, LINE_LABELS)
    torch.testing.assert_close(loss, each.sum() / (each > 0).sum())


@pytest.mark.parametrize("name", ["triplet", "triplet_facenet"])
@pytest.mark.parametrize("mining", ["batch_all", "batch_hard"])
def test_triplet_without_valid_triplets_is_a_differentiable_zero(registry, name, mining):
    emb = torch.randn(4, 3, requires_grad=True)
    loss = build(registry, name, mining=mining)(emb, torch.arange(4))  # no anchor has a positive
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(emb.grad, torch.zeros_like(emb))


# --- kl_div ----------------------------------------------------------------------------------------


def smoothed(target: torch.Tensor, classes: int, smoothing: float) -> torch.Tensor:
    return (1 - smoothing) * F.one_hot(target, classes).double() + smoothing / classes


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5])
def test_kl_div_matches_torch_and_the_definition(registry, smoothing):
    logits, target = logits_and_target((8, 5))
    loss = build(registry, "kl_div", smoothing=smoothing)(logits, target)
    q = smoothed(target, 5, smoothing)
    log_p = F.log_softmax(logits, dim=1)
    torch.testing.assert_close(loss, F.kl_div(log_p, q, reduction="batchmean"))
    by_loop = sum(qk * math.log(qk / pk) for qs, ps in zip(q.tolist(), log_p.exp().tolist()) for qk, pk in zip(qs, ps) if qk > 0)
    assert loss.item() == pytest.approx(by_loop / 8)


def test_kl_div_without_smoothing_is_cross_entropy(registry):
    logits, target = logits_and_target((2, 5, 3, 3))
    torch.testing.assert_close(build(registry, "kl_div", smoothing=0.0)(logits, target), F.cross_entropy(logits, target))


def test_kl_div_treats_pixels_as_samples(registry):
    logits, target = logits_and_target((2, 5, 3, 4))
    loss = build(registry, "kl_div", smoothing=0.2)(logits, target)
    flat_log_p = F.log_softmax(logits, dim=1).movedim(1, -1).reshape(-1, 5)
    torch.testing.assert_close(loss, F.kl_div(flat_log_p, smoothed(target.flatten(), 5, 0.2), reduction="batchmean"))


# --- errors and the contract -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "hp", "message"),
    [
        ("hinge", {"p": 3}, "p must be 1 (L1-hinge) or 2 (L2-hinge)"),
        ("hinge", {"margin": -1.0}, "margin must be > 0"),
        ("contrastive", {"margin": 0.0}, "margin must be > 0"),
        ("triplet", {"margin": -0.5}, "margin must be > 0"),
        ("triplet", {"p": 0.5}, "p must be >= 1"),
        ("triplet", {"mining": "semi_hard"}, "mining must be one of batch_all, batch_hard, got 'semi_hard'"),
        ("triplet_facenet", {"alpha": 0.0}, "alpha must be > 0"),
        ("triplet_facenet", {"mining": "all"}, "mining must be one of batch_all, batch_hard"),
        ("kl_div", {"smoothing": 1.0}, "smoothing must be in [0, 1)"),
        ("kl_div", {"smoothing": -0.1}, "smoothing must be in [0, 1)"),
    ],
)
def test_out_of_range_hyperparameters_raise_one_line(registry, name, hp, message):
    with pytest.raises(InvalidHyperparameterError) as error:
        build(registry, name, **hp)
    text = str(error.value)
    assert message in text and f"loss {name!r}" in text and "\n" not in text


def inputs(kind: str, dtype: torch.dtype) -> tuple[torch.Tensor, ...]:
    """Inputs of each kind, with ties and zero distances to stress the gradients."""
    if kind == "logits":
        logits, target = logits_and_target((4, 3, 2, 2), dtype)
        return logits, target
    emb = torch.randn(6, 4, dtype=dtype)
    emb[1] = emb[0]  # a zero distance: a same-class triplet pair, and a dissimilar pair after the roll
    emb.requires_grad_()
    if kind == "pairs":
        return emb, emb.roll(1, 0), torch.tensor([True, False, True, False, True, False])
    return emb, torch.tensor([0, 0, 1, 1, 2, 2])


@pytest.mark.parametrize("name", list(INPUT_KINDS))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_contract_scalar_finite_gradients_and_dtypes(registry, name, dtype):
    loss_fn = build(registry, name)
    args = inputs(loss_fn.input_kind, dtype)
    loss = loss_fn(*args)
    assert loss.shape == () and torch.isfinite(loss)
    assert loss.dtype in (dtype, torch.promote_types(dtype, torch.float32))  # triplet distances: float32 at least
    loss.backward()
    assert args[0].grad.dtype == dtype and torch.isfinite(args[0].grad).all()


def test_triplet_distances_of_a_large_batch_match_the_direct_kernel_with_finite_gradients(registry):
    """From 26 rows up the Euclidean distances take cdist's matmul form; they must stay the direct kernel's."""
    emb = torch.randn(64, 32)
    emb[1] = emb[0]  # a duplicate: zero distance off the diagonal
    emb.requires_grad_()
    loss = build(registry, "triplet", mining="batch_hard")
    direct = torch.cdist(emb, emb, compute_mode="donot_use_mm_for_euclid_dist")
    off_diagonal = ~torch.eye(64, dtype=torch.bool)
    torch.testing.assert_close(loss.distances(emb)[off_diagonal], direct[off_diagonal], atol=1e-3, rtol=1e-5)
    labels = torch.arange(64) // 4
    (grad,) = torch.autograd.grad(loss(emb, labels), emb)
    assert torch.isfinite(grad).all()
