"""Test (and evaluate) a checkpoint -- the same arguments as MMDetection's tools/test.py.

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out results.pkl] [--show]
        [--show-dir DIR] [--wait-time S] [--cfg-options k=v ...] [--launcher ...] [--tta]

Generic: builds mmengine's Runner (or ``cfg.runner_type``) with ``load_from=CHECKPOINT``
and calls ``test()``. ``--out`` appends mmdet's ``DumpDetResults`` (a pickle of the
predicted data samples, whatever the task); ``--show`` / ``--show-dir`` switch on
``default_hooks.visualization`` (mmdet's ``DetVisualizationHook`` for detectors,
``DigitVisualizationHook`` for the MNIST classifiers, ``TextRecogVisualizationHook``
for text recognizers); ``--tta`` wraps the model in
``cfg.tta_model`` and uses ``cfg.tta_pipeline`` -- for a detection config without
them, mmdet's default flip TTA, as mmdet does. The checkpoint is checked strictly
before testing: every weight of the config's model must be in it with its shape, else
the tool ends with an error naming what does not match (mmengine alone would skip the
mismatching weights and evaluate an untrained model); an empty or truncated checkpoint
ends it with an error saying so. Missing test data is named, with the command that
generates it (:mod:`stn_plugin.cli.dataset_files`), before anything is built.
"""
from __future__ import annotations

import argparse
import os.path as osp
import warnings
from copy import deepcopy
from typing import Dict, Optional, Sequence

from mmengine.config import Config, ConfigDict

from .arguments import CfgOptionsAction, add_local_rank_argument, export_local_rank


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Test (and evaluate) a model (mmdet-compatible arguments)")
    parser.add_argument("config", help="test config file path")
    parser.add_argument("checkpoint", help="checkpoint file")
    parser.add_argument("--work-dir", help="the directory to save the file containing evaluation metrics")
    parser.add_argument("--out", type=str, help="dump predictions to a pickle file for offline evaluation")
    parser.add_argument("--show", action="store_true", help="show prediction results")
    parser.add_argument("--show-dir", help="directory where painted images will be saved, inside "
                                           "work_dir/timestamp/")
    parser.add_argument("--wait-time", type=float, default=2, help="the interval of show (s)")
    parser.add_argument("--cfg-options", nargs="+", action=CfgOptionsAction,
                        help="override config settings, key=value pairs; lists as key='[a,b]'")
    parser.add_argument("--launcher", choices=["none", "pytorch", "slurm", "mpi"], default="none",
                        help="job launcher")
    parser.add_argument("--tta", action="store_true", help="test-time augmentation (cfg.tta_model / tta_pipeline)")
    add_local_rank_argument(parser)
    args = parser.parse_args(argv)
    export_local_rank(args)
    return args


def _trigger_visualization_hook(cfg: Config, args: argparse.Namespace) -> Config:
    hooks = cfg.get("default_hooks", None) or {}
    if "visualization" not in hooks:
        raise KeyError("--show / --show-dir need a visualization hook in the config: "
                       "default_hooks.visualization=dict(type='DetVisualizationHook') for detectors or "
                       "dict(type='DigitVisualizationHook') for the MNIST classifiers or "
                       "dict(type='TextRecogVisualizationHook') for text recognizers")
    hook = hooks["visualization"]
    hook["draw"] = True
    if args.show:
        hook["show"] = True
        hook["wait_time"] = args.wait_time
    if args.show_dir:
        hook["test_out_dir"] = args.show_dir
    return cfg


def _apply_tta(cfg: Config) -> None:
    test_data_cfg = cfg.test_dataloader.dataset
    while "dataset" in test_data_cfg:
        test_data_cfg = test_data_cfg["dataset"]
    if "tta_pipeline" not in cfg and "pipeline" not in test_data_cfg:
        raise KeyError("--tta needs tta_model and tta_pipeline in the config; this config has neither, and its "
                       "test dataset has no pipeline to derive mmdet's default flip TTA from")
    if "tta_model" not in cfg:
        warnings.warn("Cannot find ``tta_model`` in config, using mmdet's default DetTTAModel.")
        cfg.tta_model = dict(type="DetTTAModel",
                             tta_cfg=dict(nms=dict(type="nms", iou_threshold=0.5), max_per_img=100))
    if "tta_pipeline" not in cfg:
        warnings.warn("Cannot find ``tta_pipeline`` in config, using mmdet's default flip TTA.")
        cfg.tta_pipeline = deepcopy(test_data_cfg.pipeline)
        cfg.tta_pipeline[-1] = dict(
            type="TestTimeAug",
            transforms=[[dict(type="RandomFlip", prob=1.0), dict(type="RandomFlip", prob=0.0)],
                        [dict(type="PackDetInputs",
                              meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor", "flip",
                                         "flip_direction"))]])
    cfg.model = ConfigDict(**cfg.tta_model, module=cfg.model)
    test_data_cfg.pipeline = cfg.tta_pipeline


def build_config(args: argparse.Namespace) -> Config:
    """The config with the command line applied (as mmdet's tools/test.py does)."""
    from .dataset_files import check_dataset_files
    from .runner_setup import load_tool_config

    if not osp.isfile(args.config):
        raise FileNotFoundError(f"config file not found: {args.config}")
    if not osp.isfile(args.checkpoint) and "://" not in args.checkpoint:
        raise FileNotFoundError(f"checkpoint not found: {args.checkpoint}")
    if args.out is not None and not args.out.endswith((".pkl", ".pickle")):
        raise ValueError(f"--out must name a .pkl / .pickle file, got {args.out!r}")
    cfg = load_tool_config(args.config, args.launcher, args.cfg_options, args.work_dir)
    check_dataset_files(cfg, ("test_dataloader",))
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        _trigger_visualization_hook(cfg, args)
    if args.tta:
        _apply_tta(cfg)
    return cfg


def main(argv: Optional[Sequence[str]] = None) -> Dict[str, float]:
    """Test; returns the metrics dict (e.g. ``{'mnist/error': ...}``)."""
    args = parse_args(argv)
    from .checkpoint_match import check_test_checkpoint
    from .runner_setup import build_tool_runner, close_process_group, tool_setup

    with tool_setup():
        cfg = build_config(args)
        runner = build_tool_runner(cfg, args.cfg_options)
        check_test_checkpoint(runner.model, args.checkpoint, args.config)
    if args.out is not None:
        from mmdet.evaluation import DumpDetResults

        runner.test_evaluator.metrics.append(DumpDetResults(out_file_path=args.out))
    metrics = runner.test()
    close_process_group()
    return metrics


if __name__ == "__main__":
    main()
