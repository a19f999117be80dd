"""Train a model from an mmengine config -- the same arguments as MMDetection's tools/train.py.

    python tools/train.py configs/mnist/st-cnn-affine_rts.py [--work-dir DIR] [--resume [PATH]]
        [--amp] [--auto-scale-lr] [--cfg-options k=v ...] [--launcher {none,pytorch,slurm,mpi}]

Generic: it builds mmengine's Runner (or ``cfg.runner_type`` from the registry) and
calls ``train()``; any config that imports ``stn_plugin`` (or none) works, detection
configs included. Distributed runs go through mmengine's launcher
(``tools/dist_train.sh`` starts torchrun with ``--launcher pytorch``); on a CPU-only
machine the process group uses gloo (see ``stn_plugin.cli.runner_setup``).
The work dir defaults to ``./work_dirs/<config name>``; mmengine writes its logs
into a new timestamped folder there. A work dir that already holds checkpoints
(``*.pth``, ``last_checkpoint``) of an earlier run is refused unless the run resumes it
(``--resume``) or ``--overwrite`` says to train anew over them, since the new run's
``iter_N.pth`` / ``last_checkpoint`` would replace the old ones. Before training, the
checkpoint ``--resume`` resumes must fit the config's model exactly, and ``load_from``
must fit it at least in part (:mod:`stn_plugin.cli.checkpoint_match`).
"""
from __future__ import annotations

import argparse
import os.path as osp
from typing import Optional, Sequence

from mmengine.config import Config
from mmengine.runner import Runner

from .arguments import CfgOptionsAction, add_local_rank_argument, export_local_rank


# the dataloaders a training run reads (validation included: it runs at the end, or between)
TRAINING_DATALOADERS = ("train_dataloader", "val_dataloader")


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Train a model (mmdet-compatible arguments)")
    parser.add_argument("config", help="train config file path")
    parser.add_argument("--work-dir", help="the dir to save logs and models (default ./work_dirs/<config name>)")
    parser.add_argument("--amp", action="store_true", default=False,
                        help="enable automatic-mixed-precision training (needs a CUDA GPU)")
    parser.add_argument("--auto-scale-lr", action="store_true",
                        help="scale the learning rate by total batch size / auto_scale_lr.base_batch_size")
    parser.add_argument("--resume", nargs="?", type=str, const="auto",
                        help="resume from this checkpoint; without a path, from the latest checkpoint "
                             "in the work dir")
    parser.add_argument("--overwrite", action="store_true",
                        help="train anew in a work dir that holds checkpoints of an earlier run; the new "
                             "run's checkpoints and last_checkpoint replace them as it saves")
    parser.add_argument("--cfg-options", nargs="+", action=CfgOptionsAction,
                        help="override config settings, key=value pairs (e.g. train_cfg.max_iters=100 "
                             "model.stn.family.type=tps); lists as key='[a,b]'")
    parser.add_argument("--launcher", choices=["none", "pytorch", "slurm", "mpi"], default="none",
                        help="job launcher")
    add_local_rank_argument(parser)
    args = parser.parse_args(argv)
    export_local_rank(args)
    return args


def build_config(args: argparse.Namespace) -> Config:
    """The config with the command line applied (as mmdet's tools/train.py does)."""
    from .runner_setup import check_amp_available, load_tool_config

    cfg = load_tool_config(args.config, args.launcher, args.cfg_options, args.work_dir)
    if args.amp:
        check_amp_available()
        if "optim_wrapper" not in cfg:
            raise KeyError("--amp: the config has no optim_wrapper to switch to AmpOptimWrapper")
        cfg.optim_wrapper.type = "AmpOptimWrapper"
        cfg.optim_wrapper.loss_scale = "dynamic"
    if args.auto_scale_lr:
        scale = cfg.get("auto_scale_lr", None)
        if not scale or "enable" not in scale or "base_batch_size" not in scale:
            raise KeyError("--auto-scale-lr needs auto_scale_lr = dict(enable=False, base_batch_size=N) "
                           "in the config")
        cfg.auto_scale_lr.enable = True
    if args.resume == "auto":
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise FileNotFoundError(f"--resume: checkpoint not found: {args.resume}")
        cfg.resume = True
        cfg.load_from = args.resume
    from .checkpoint_hook import use_atomic_checkpoints
    from .dataset_files import check_dataset_files
    from .runner_setup import check_work_dir, earlier_checkpoints
    from .work_dir_lock import lock_work_dir

    check_dataset_files(cfg, TRAINING_DATALOADERS)
    check_work_dir(cfg.work_dir)
    # before looking for an earlier run's checkpoints: a run still writing them is
    # refused as such, not as an earlier run
    lock_work_dir(cfg.work_dir, cfg.launcher)
    use_atomic_checkpoints(cfg)
    found = [] if cfg.get("resume", False) or getattr(args, "overwrite", False) else earlier_checkpoints(cfg.work_dir)
    if found:
        shown = ", ".join(found[:4]) + (", ..." if len(found) > 4 else "")
        raise FileExistsError(f"work dir {cfg.work_dir} holds checkpoints of an earlier run ({shown}), which "
                              "this run would overwrite; pass --resume to continue that run, --overwrite to "
                              "train anew over them, or another --work-dir")
    return cfg


def check_checkpoints(runner: Runner, cfg: Config) -> None:
    """Before training: the checkpoint a resume loads must fit the model exactly,
    ``load_from`` at least in part (see :mod:`stn_plugin.cli.checkpoint_match`)."""
    from mmengine.runner import find_latest_checkpoint

    from .checkpoint_match import check_load_from, check_resume_checkpoint

    if cfg.get("resume", False):
        check_resume_checkpoint(runner.model, cfg.get("load_from") or find_latest_checkpoint(cfg.work_dir))
    elif cfg.get("load_from"):
        check_load_from(runner.model, cfg.load_from)


def build_runner(cfg: Config, cfg_options: Optional[dict] = None) -> Runner:
    """mmengine's Runner, or ``cfg.runner_type`` built from the registry
    (:func:`stn_plugin.cli.runner_setup.build_tool_runner`)."""
    from .runner_setup import build_tool_runner

    return build_tool_runner(cfg, cfg_options)


def main(argv: Optional[Sequence[str]] = None) -> Runner:
    """Train; returns the runner (its ``message_hub`` holds the final validation metrics)."""
    args = parse_args(argv)
    from .runner_setup import close_process_group, tool_setup
    from .work_dir_lock import unlock_work_dirs

    try:
        with tool_setup():
            cfg = build_config(args)
            runner = build_runner(cfg, args.cfg_options)
            check_checkpoints(runner, cfg)
        runner.train()
        close_process_group()
    finally:
        unlock_work_dirs()
    return runner


if __name__ == "__main__":
    main()
