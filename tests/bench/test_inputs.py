"""The inputs each kind is timed on, made from one (N, C, H, W) shape."""

from __future__ import annotations

import pytest
import torch

from cnnbench.bench.inputs import BenchInputError, make_case, parse_shape, shape_text
from cnnbench.registry import Component

CPU = torch.device("cpu")
SHAPE = (4, 6, 8, 8)


@pytest.mark.parametrize("text", ["128,64,32", "a,b,c,d", "0,1,8,8", "-1,3,8,8", "1.5,3,8,8", ""])
def test_a_bad_shape_is_refused_in_one_line(text: str) -> None:
    with pytest.raises(BenchInputError, match=r"--shape") as error:
        parse_shape(text)
    assert "\n" not in str(error.value)


def test_a_map_too_small_for_the_kind_is_refused_but_fine_for_losses(registry) -> None:
    with pytest.raises(BenchInputError, match="pooling 'max' needs H and W >= 2, got 8,4,1,1"):
        make_case(registry.get("pooling", "max"), (8, 4, 1, 1), torch.float32, CPU)
    embeddings, _ = make_case(registry.get("loss", "triplet"), (8, 4, 1, 1), torch.float32, CPU).inputs
    assert embeddings.shape == (8, 4)


def test_shape_round_trip() -> None:
    assert parse_shape(" 128, 64,32,32") == (128, 64, 32, 32)
    assert shape_text((128, 6, 28, 28)) == "128,6,28,28"


def test_pooling_sees_a_non_negative_map_and_a_two_by_two_window(registry) -> None:
    case = make_case(registry.get("pooling", "max"), SHAPE, torch.float32, CPU)
    (x,) = case.inputs
    assert x.shape == SHAPE and (x >= 0).all() and (x == 0).any()
    assert case.context == {"channels": 6, "kernel_size": 2, "stride": 2}


def test_maxout_is_built_so_that_its_input_has_the_shape_channels(registry) -> None:
    maxout = registry.get("activation", "maxout")
    case = make_case(maxout, SHAPE, torch.float32, CPU)
    module = maxout.build(**case.context)
    assert case.inputs[0].shape == SHAPE and module(*case.inputs).shape == (4, 3, 8, 8)


def test_maxout_refuses_channels_it_cannot_split(registry) -> None:
    with pytest.raises(BenchInputError, match="divisible by 2"):
        make_case(registry.get("activation", "maxout"), (4, 5, 8, 8), torch.float32, CPU)


def test_logits_losses_score_every_position_as_a_sample(registry) -> None:
    logits, labels = make_case(registry.get("loss", "hinge"), SHAPE, torch.bfloat16, CPU).inputs
    assert logits.shape == (4 * 8 * 8, 6) and logits.dtype == torch.bfloat16
    assert labels.dtype == torch.int64 and 0 <= labels.min() and labels.max() < 6


def test_embedding_losses_get_p_by_k_batches(registry) -> None:
    case = make_case(registry.get("loss", "triplet"), (8, 16, 4, 4), torch.float32, CPU)
    embeddings, labels = case.inputs
    assert embeddings.shape == (8, 16)
    assert labels.tolist() == [0, 0, 0, 0, 1, 1, 1, 1]
    pairs = make_case(registry.get("loss", "contrastive"), (8, 16, 4, 4), torch.float32, CPU)
    assert pairs.grad_inputs == (0, 1) and pairs.inputs[2].dtype == torch.bool and pairs.inputs[2].any() and not pairs.inputs[2].all()


def test_every_built_in_layer_runs_on_its_case(registry) -> None:
    for component in registry.components("layer"):
        case = make_case(component, SHAPE, torch.float32, CPU)
        output = component.build(**case.context)(*case.inputs)
        assert output.isfinite().all(), component.name


def test_roi_boxes_lie_inside_their_maps(registry) -> None:
    _, rois = make_case(registry.get("layer", "roi_pool"), (16, 2, 10, 12), torch.float32, CPU).inputs
    assert rois.shape == (16, 5) and rois[:, 0].tolist() == list(range(16))
    assert (rois[:, 1:3] >= 0).all() and (rois[:, 3] <= 11).all() and (rois[:, 4] <= 9).all()
    assert (rois[:, 3:] - rois[:, 1:3] >= 1).all()


def test_an_unknown_layer_is_timed_on_its_own_example() -> None:
    class Doubler(torch.nn.Module):
        def forward(self, x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
            return 2 * x[index]

        @classmethod
        def example(cls):
            return {}, (torch.randn(5, 3), torch.tensor([0, 2]))

    case = make_case(Component("layer", "doubler", Doubler, {}), SHAPE, torch.float64, CPU)
    assert case.inputs[0].dtype == torch.float64 and case.inputs[1].dtype == torch.int64
    assert case.grad_inputs == (0,) and case.shape == (5, 3, 1, 1)


def test_models_and_tasks_are_not_timed(registry) -> None:
    with pytest.raises(BenchInputError, match="cannot time a model"):
        make_case(registry.get("model", "lenet5"), SHAPE, torch.float32, CPU)


def test_inputs_are_reproducible_from_the_seed(registry) -> None:
    relu = registry.get("activation", "relu")
    first, again = (make_case(relu, SHAPE, torch.float32, CPU, seed=3).inputs[0] for _ in range(2))
    torch.testing.assert_close(first, again)


def test_training_shapes_are_the_networks_maps_and_the_tasks_logits_and_embeddings(registry) -> None:
    from cnnbench.bench.inputs import training_shapes

    assert (16, 6, 28, 28) in training_shapes(registry.get("pooling", "stochastic"))  # LeNet-5's conv1 output
    assert (16, 128, 15, 15) in training_shapes(registry.get("activation", "relu"))  # AlexNet-style conv2 output
    assert training_shapes(registry.get("loss", "hinge")) == ((16, 10, 1, 1), (64, 10, 1, 1), (128, 10, 1, 1))
    assert {shape[1] for shape in training_shapes(registry.get("loss", "triplet"))} == {64, 128}
    for component in (registry.get("loss", "hinge"), registry.get("loss", "contrastive"), registry.get("pooling", "mixed")):
        for shape in training_shapes(component):
            make_case(component, shape, torch.float32, CPU)  # every one of them is a valid case
