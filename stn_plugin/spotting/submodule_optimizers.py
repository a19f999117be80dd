"""One optimizer per part of a model: e.g. SGD for a detector, Adam for its recognizer.

A text spotter joins two models whose usual recipes differ: a Faster R-CNN trains with
SGD (lr 0.02), a CRNN's CTC loss with Adam (lr 2e-3; with SGD it stays on its plateau).
:class:`SubmoduleOptimWrapperConstructor` builds mmengine's ``OptimWrapperDict`` with one
``OptimWrapper`` per named group of submodules (and one for every parameter left over),
and :func:`multi_optimizer_train_step` runs one backward pass and steps every wrapper,
each with its own clipping, learning rate and schedule. mmengine's runner already
handles the rest of an ``OptimWrapperDict``: a ``param_scheduler`` list is applied to
every optimizer and a dict ``{name: [...]}`` schedules each one on its own; learning
rates are logged per optimizer; checkpoints keep every optimizer's state.

Config (the group ``default`` takes the parameters no other group names)::

    optim_wrapper = dict(
        constructor='SubmoduleOptimWrapperConstructor',
        default=dict(type='OptimWrapper', optimizer=dict(type='SGD', lr=0.02, momentum=0.9)),
        recognition=dict(type='OptimWrapper', optimizer=dict(type='Adam', lr=2e-3),
                         submodules=['roi_head.recognizer', 'roi_head.recog_roi_extractor']))
    param_scheduler = dict(default=[...], recognition=[...])

A model uses it by calling :func:`multi_optimizer_train_step` from its ``train_step``
when handed an ``OptimWrapperDict`` (:class:`~stn_plugin.spotting.TextSpotter` does).
"""
from __future__ import annotations

import copy
from contextlib import ExitStack
from typing import Dict, List, Optional

import torch.nn as nn
from mmdet.registry import OPTIM_WRAPPER_CONSTRUCTORS
from mmengine.optim import AmpOptimWrapper, OptimWrapper, OptimWrapperDict, build_optim_wrapper

DEFAULT_GROUP = "default"

__all__ = ["SubmoduleOptimWrapperConstructor", "multi_optimizer_train_step", "DEFAULT_GROUP"]


class _ParameterGroup(nn.Module):
    """The parameters of some submodules, as one module an optimizer constructor can take."""

    def __init__(self, params: Dict[str, nn.Parameter]) -> None:
        super().__init__()
        self.params = nn.ParameterList(list(params.values()))


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class SubmoduleOptimWrapperConstructor:
    """Build an ``OptimWrapperDict``: one ``OptimWrapper`` per group of submodules.

    Args:
        optim_wrapper_cfg: ``{group name: OptimWrapper config}``; each config except
            ``'default'`` lists its ``submodules`` (dotted names in the model, e.g.
            ``'roi_head.recognizer'``); ``'default'`` (required) takes every trainable
            parameter no group names.
        paramwise_cfg: not supported here (give each group's ``paramwise_cfg`` inside its
            own config); must be None.
    """

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: Optional[dict] = None) -> None:
        if paramwise_cfg is not None:
            raise ValueError("SubmoduleOptimWrapperConstructor: put paramwise_cfg inside a group's config, "
                             "not beside the groups")
        if not isinstance(optim_wrapper_cfg, dict) or DEFAULT_GROUP not in optim_wrapper_cfg:
            raise KeyError(f"SubmoduleOptimWrapperConstructor needs a {DEFAULT_GROUP!r} group (the parameters no "
                           f"other group names), got groups {sorted(optim_wrapper_cfg or {})}")
        self.groups: Dict[str, dict] = {}
        for name, cfg in optim_wrapper_cfg.items():
            if not isinstance(cfg, dict) or "optimizer" not in cfg:
                raise ValueError(f"SubmoduleOptimWrapperConstructor group {name!r} must be an OptimWrapper config "
                                 f"with an 'optimizer', got {cfg!r}")
            cfg = copy.deepcopy(dict(cfg))
            submodules = cfg.pop("submodules", None)
            if name == DEFAULT_GROUP and submodules is not None:
                raise ValueError(f"group {DEFAULT_GROUP!r} takes the parameters left over; it has no 'submodules'")
            if name != DEFAULT_GROUP and (not submodules or isinstance(submodules, str)):
                raise ValueError(f"group {name!r} needs 'submodules': a list of submodule names, got {submodules!r}")
            self.groups[name] = dict(cfg=cfg, submodules=list(submodules or []))

    def __call__(self, model: nn.Module) -> OptimWrapperDict:
        model = getattr(model, "module", model)  # DDP / FSDP wrappers
        modules = dict(model.named_modules())
        claimed: Dict[int, str] = {}
        members: Dict[str, Dict[str, nn.Parameter]] = {name: {} for name in self.groups}
        for group, spec in self.groups.items():
            for sub in spec["submodules"]:
                if sub not in modules:
                    raise KeyError(f"optimizer group {group!r}: the model has no submodule {sub!r}")
                for pname, p in modules[sub].named_parameters(prefix=sub):
                    if id(p) in claimed and claimed[id(p)] != group:
                        raise ValueError(f"parameter {pname} is in optimizer groups {claimed[id(p)]!r} and {group!r}")
                    claimed[id(p)] = group
                    if p.requires_grad:
                        members[group][pname] = p
        for pname, p in model.named_parameters():
            if id(p) not in claimed and p.requires_grad:
                members[DEFAULT_GROUP][pname] = p
        wrappers = {}
        for group, spec in self.groups.items():
            if not members[group]:
                raise ValueError(f"optimizer group {group!r} has no trainable parameter")
            wrappers[group] = build_optim_wrapper(_ParameterGroup(members[group]), spec["cfg"])
        return OptimWrapperDict(**wrappers)


def multi_optimizer_train_step(model, data, optim_wrapper: OptimWrapperDict) -> Dict:
    """``BaseModel.train_step`` for an ``OptimWrapperDict``: one forward, one backward,
    then every wrapper clips its own gradients and steps. Gradient accumulation and AMP
    are not supported (each wrapper would scale and count on its own)."""
    wrappers: List[OptimWrapper] = list(optim_wrapper.values())
    for name, w in optim_wrapper.items():
        if isinstance(w, AmpOptimWrapper) or w._accumulative_counts != 1:
            raise ValueError(f"optimizer group {name!r}: several optimizers in one model support neither AMP nor "
                             "accumulative_counts > 1")
    with ExitStack() as stack:
        for w in wrappers:
            stack.enter_context(w.optim_context(model))
        data = model.data_preprocessor(data, True)
        losses = model._run_forward(data, mode="loss")
    parsed, log_vars = model.parse_losses(losses)
    parsed.backward()
    for w in wrappers:
        w.step()
        w.zero_grad()
    return log_vars
