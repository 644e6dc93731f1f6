"""A hypernetwork that predicts a SIREN from a few of a signal's points: one forward pass per new signal.

Sitzmann et al., "Implicit Neural Representations with Periodic Activation Functions" (NeurIPS 2020), Sec. 4.4
"Learning a space of implicit functions"; official code ``vsitzmann/siren`` (``meta_modules.py``, ``modules.py``,
``loss_functions.py``, ``experiment_scripts/train_img_neural_process.py``):

- an encoder maps the context (the signal's values at n of its points) to a latent: a set encoder (an MLP with sine
  activations on each (coordinates, values) pair, SIREN's hidden-layer initialisation, then the mean over the
  context: permutation invariant), or for images a CNN on the image with every pixel outside the context zeroed;
- the hypernetwork maps the latent to every parameter of the SIREN: one MLP per parameter tensor (ReLU, 2 hidden
  layers of 256 by default), Kaiming-initialised, its last layer's weights divided by 100 and its bias drawn as the
  SIREN layer's own initialisation (U(-1/fan_in, 1/fan_in));
- the loss is the predicted SIREN's MSE on all of the signal's points plus ``latent_weight`` (0.1) x mean(z^2) plus
  ``weight_weight`` (100) x the mean square of the predicted parameters; Adam (lr 5e-5), gradients clipped to norm 1;
  each training signal's context size is drawn uniformly in ``context_range`` ([10, 200]).

Validation reports each context size in ``eval_contexts`` (10, 100, 1000; sizes not below the crop's point count are
left out) and the whole crop (``context_all``). ``inr meta export CKPT --context FILE --context-size N`` writes the
predicted SIREN of one signal as an ordinary checkpoint (``inr render``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn

from inr.core.errors import InputError
from inr.meta.functional import call_per_signal, mean_squared_errors
from inr.meta.learner import MetaLearner
from inr.nn.networks import SineLayer

# train_img_neural_process.py: kl_weight 1e-1 (latent), fw_weight 1e2 (predicted weights), context sizes [10, 200].
SIREN_LATENT_WEIGHT = 0.1
SIREN_WEIGHT_WEIGHT = 100.0
SIREN_CONTEXT_RANGE = (10, 200)
# test_neural_process.py: sparsities 10, 100, 1000 and full.
EVAL_CONTEXTS = (10, 100, 1000)
# meta_modules.py hyper_weight_init / hyper_bias_init: the last layer's Kaiming weights / 1e2.
LAST_LAYER_SCALE = 1e-2


class SetEncoder(nn.Module):
    """A permutation-invariant encoder of (coordinates, values) points: sine MLP per point, mean over the context.

    Args:
        in_dim: coordinates + value channels of a point.
        latent_dim: size of the latent.
        hidden: width of the MLP.
        layers: hidden-to-hidden layers (official: 2).
    """

    def __init__(self, in_dim: int, latent_dim: int = 256, hidden: int = 256, layers: int = 2) -> None:
        super().__init__()
        # official SetEncoder: every layer sine with sine_init, U(-sqrt(6/n)/30, sqrt(6/n)/30)
        blocks = [SineLayer(in_dim, hidden, is_first=False)]
        blocks += [SineLayer(hidden, hidden, is_first=False) for _ in range(layers)]
        blocks.append(SineLayer(hidden, latent_dim, is_first=False))
        self.net = nn.Sequential(*blocks)

    def forward(self, points: Tensor, mask: Tensor) -> Tensor:
        """Points [B, P, in_dim], mask [B, P] (True: in the context) -> latents [B, latent_dim]."""
        embeddings = self.net(points) * mask[..., None]
        return embeddings.sum(dim=1) / mask.sum(dim=1, keepdim=True).clamp(min=1)


class ResidualBlock(nn.Module):
    """Two 5 x 5 convolutions with ReLU and a skip connection (official ``Conv2dResBlock``)."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(width, width, 5, padding=2), nn.ReLU(),
                                  nn.Conv2d(width, width, 5, padding=2), nn.ReLU())

    def forward(self, features: Tensor) -> Tensor:
        """[B, width, H, W] -> [B, width, H, W]."""
        return features + self.body(features)


class ConvEncoder(nn.Module):
    """A CNN encoder of an image whose pixels outside the context are zero (official ``ConvImgEncoder``).

    Args:
        channels: image channels.
        size: (height, width) of the images.
        latent_dim: size of the latent.
        width: channels of the residual blocks (official: 256; the first convolution has half).
        blocks: residual blocks (official: 4).
    """

    def __init__(self, channels: int, size: Sequence[int], latent_dim: int = 256, width: int = 256,
                 blocks: int = 4) -> None:
        super().__init__()
        half = max(1, width // 2)
        self.net = nn.Sequential(nn.Conv2d(channels, half, 3, padding=1), nn.ReLU(),
                                 nn.Conv2d(half, width, 3, padding=1), nn.ReLU(),
                                 *[ResidualBlock(width) for _ in range(blocks)],
                                 nn.Conv2d(width, latent_dim, 1), nn.ReLU())
        self.size = tuple(size)
        self.pool = nn.Linear(self.size[0] * self.size[1], 1)  # a learned weighting of the positions

    def forward(self, values: Tensor, mask: Tensor) -> Tensor:
        """Values [B, H * W, c] (row-major pixels), mask [B, H * W] -> latents [B, latent_dim]."""
        height, width = self.size
        image = (values * mask[..., None]).transpose(1, 2).reshape(values.shape[0], -1, height, width)
        features = self.net(image)
        return self.pool(features.flatten(2))[..., 0]


class HyperNetwork(nn.Module):
    """Latent -> every parameter of a network: one MLP per parameter tensor (official ``HyperNetwork``).

    Args:
        template: the network whose parameters are predicted (its structure; its own values are not used).
        latent_dim: size of the latent.
        hidden: width of each MLP.
        layers: hidden-to-hidden layers of each MLP (official: 1, i.e. 2 hidden layers).
    """

    def __init__(self, template: nn.Module, latent_dim: int = 256, hidden: int = 256, layers: int = 1) -> None:
        super().__init__()
        self.shapes = {name: tuple(parameter.shape) for name, parameter in template.named_parameters()}
        self.heads = nn.ModuleDict()
        for name, shape in self.shapes.items():
            blocks: list[nn.Module] = [nn.Linear(latent_dim, hidden), nn.ReLU()]
            for _ in range(layers):
                blocks += [nn.Linear(hidden, hidden), nn.ReLU()]
            last = nn.Linear(hidden, math.prod(shape))
            blocks.append(last)
            for block in blocks:
                if isinstance(block, nn.Linear):
                    nn.init.kaiming_normal_(block.weight, nonlinearity="relu", mode="fan_in")
            with torch.no_grad():
                last.weight.mul_(LAST_LAYER_SCALE)
                fan_in = shape[-1] if name.endswith("weight") and len(shape) > 1 else hidden
                last.bias.uniform_(-1 / fan_in, 1 / fan_in)
            self.heads[name.replace(".", "__")] = nn.Sequential(*blocks)

    def forward(self, latents: Tensor) -> dict[str, Tensor]:
        """Latents [B, latent_dim] -> ``{parameter name: [B, *shape]}``."""
        return {name: self.heads[name.replace(".", "__")](latents).reshape(latents.shape[0], *shape)
                for name, shape in self.shapes.items()}


class Hypernetwork(MetaLearner):
    """A context encoder + hypernetwork trained end to end to predict a signal's SIREN from n of its points.

    Args:
        encoder: builds the predicted network's coordinate encoder from the coordinate dimension (not predicted).
        network: builds the predicted network (its structure) from (encoder out_dim, signal channels).
        signal: one signal's description (linked from --data by ``inr meta fit``).
        context: ``set`` (any signal) or ``conv`` (images).
        latent_dim: size of the latent.
        set_hidden: width of the set encoder.
        set_layers: hidden-to-hidden layers of the set encoder.
        conv_width: channels of the CNN encoder's residual blocks.
        conv_blocks: residual blocks of the CNN encoder.
        hyper_hidden: width of each parameter's MLP.
        hyper_layers: hidden-to-hidden layers of each parameter's MLP.
        context_range: (fewest, most) context points of a training signal, drawn uniformly.
        eval_contexts: context sizes validated (besides the whole signal).
        latent_weight: weight of mean(z^2).
        weight_weight: weight of the predicted parameters' mean square.
        clip_norm: clip the gradient norm of the trained parameters to this (None: no clipping).
        optimizer: the optimizer (official: Adam, lr 5e-5).
        lr_scheduler: optional scheduler.
    """

    has_baseline = False

    def __init__(
        self,
        *,
        context: Literal["set", "conv"] = "set",
        latent_dim: int = 256,
        set_hidden: int = 256,
        set_layers: int = 2,
        conv_width: int = 256,
        conv_blocks: int = 4,
        hyper_hidden: int = 256,
        hyper_layers: int = 1,
        context_range: tuple[int, int] = SIREN_CONTEXT_RANGE,
        eval_contexts: Sequence[int] = EVAL_CONTEXTS,
        latent_weight: float = SIREN_LATENT_WEIGHT,
        weight_weight: float = SIREN_WEIGHT_WEIGHT,
        clip_norm: float | None = 1.0,
        **options: Any,
    ) -> None:
        # encoder, network, signal, optimizer, lr_scheduler: MetaLearner's (jsonargparse follows **options there)
        super().__init__(**options)
        self.network.requires_grad_(False)  # the structure the hypernetwork fills; its own values are unused
        points = self.signal.points or 0
        low, high = (int(value) for value in context_range)
        if not 1 <= low <= high:
            raise InputError(f"model context_range must be (fewest, most) with 1 <= fewest <= most, got "
                             f"{list(context_range)}")
        if low > points:
            raise InputError(f"model context_range starts at {low} points, but a signal has {points}")
        self.context_range = (low, min(high, points))
        if any(size < 1 for size in eval_contexts):
            raise InputError(f"model eval_contexts must be sizes >= 1, got {list(eval_contexts)}")
        self.eval_contexts = sorted({int(size) for size in eval_contexts if size < points})
        if context == "conv":
            if len(self.signal.shape) != 2:
                raise InputError(f"model context conv encodes images; the signal has shape {list(self.signal.shape)}"
                                 " (use context set)")
            self.context_encoder: nn.Module = ConvEncoder(self.signal.out_dim, self.signal.shape, latent_dim,
                                                          conv_width, conv_blocks)
        elif context == "set":
            self.context_encoder = SetEncoder(self.signal.in_dim + self.signal.out_dim, latent_dim, set_hidden,
                                              set_layers)
        else:
            raise InputError(f"model context must be 'set' or 'conv', got {context!r}")
        self.context = context
        self.hypernetwork = HyperNetwork(self.network, latent_dim, hyper_hidden, hyper_layers)
        self.latent_weight, self.weight_weight, self.clip_norm = latent_weight, weight_weight, clip_norm

    def forward(self, coords: Tensor) -> Tensor:
        """The predicted network's structure on coords (with whatever parameters ``functional_call`` gives it)."""
        return self.network(self.encoder(coords))

    @staticmethod
    def context_mask(order: Tensor, sizes: Tensor) -> Tensor:
        """[B, P] True at the first ``sizes[b]`` points of ``order[b]`` (a permutation of the P points)."""
        rank = order.argsort(dim=1)
        return rank < sizes[:, None]

    def predict(self, coords: Tensor, values: Tensor, mask: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        """Each signal's predicted network parameters ``{name: [B, ...]}`` and latent [B, L] from its context."""
        if self.context == "set":
            latents = self.context_encoder(torch.cat([coords, values], dim=-1), mask)
        else:
            latents = self.context_encoder(values, mask)
        return self.hypernetwork(latents), latents

    def reconstruct(self, parameters: dict[str, Tensor], coords: Tensor) -> Tensor:
        """The predicted networks at coords [B, P, d] -> [B, P, c]."""
        return call_per_signal(self, {f"network.{name}": value for name, value in parameters.items()}, coords)

    def meta_objective(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor]:
        """MSE on all points + latent and predicted-weight penalties, each signal from a random-size context."""
        coords, values = batch["coords"], batch["values"]
        low, high = self.context_range
        sizes = (low + (batch["draw"] * (high - low + 1)).floor().long()).clamp(max=high)
        parameters, latents = self.predict(coords, values, self.context_mask(batch["order"], sizes))
        error = mean_squared_errors(self.reconstruct(parameters, coords), values).mean()
        flat = torch.cat([value.flatten(1) for value in parameters.values()], dim=1)
        objective = (error + self.latent_weight * latents.square().mean()
                     + self.weight_weight * flat.square().mean())
        return objective, error

    def clip_gradients_before_step(self) -> None:
        """Clip the trained parameters' gradient norm to ``clip_norm`` (the official training loop's 1.0)."""
        if self.clip_norm is not None:
            torch.nn.utils.clip_grad_norm_([parameter for parameter in self.parameters() if parameter.requires_grad],
                                           self.clip_norm)

    def validation_predictions(self, batch: dict[str, Tensor],
                               parameters: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
        """``{context<n>: ..., context_all: ...}``: the held-out signals from each context size."""
        coords, values, order = batch["coords"], batch["values"], batch["order"]
        predictions = {}
        with torch.no_grad():
            for label, size in [*((f"context{size}", size) for size in self.eval_contexts),
                                ("context_all", coords.shape[1])]:
                sizes = torch.full((coords.shape[0],), size, device=coords.device)
                predicted, _ = self.predict(coords, values, self.context_mask(order, sizes))
                predictions[label] = self.reconstruct(predicted, coords)
        return predictions

    def media_columns(self, batch: dict[str, Tensor], predictions: dict[str, Tensor]) -> dict[str, Tensor]:
        """Truth, then for each context size its context and the reconstruction from it.

        A context column shows the context's points; the others are at the middle of the value range.
        """
        low, high = self.signal.value_range
        columns = {"truth": batch["values"]}
        for label, prediction in predictions.items():
            if label != "context_all":
                size = int(label[len("context"):])
                sizes = torch.full((batch["values"].shape[0],), size, device=batch["values"].device)
                mask = self.context_mask(batch["order"], sizes)[..., None]
                columns[f"{size} points"] = torch.where(mask, batch["values"], (low + high) / 2)
            columns[label] = prediction
        return columns

    @property
    def primary_label(self) -> str:
        """``context_all``: the signal from all of its points."""
        return "context_all"
