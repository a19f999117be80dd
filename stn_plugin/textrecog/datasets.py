"""Text recognition datasets, registered in mmdet's ``DATASETS``.

* :class:`TextRecogJSONDataset`: mmocr 1.x's textrecog annotation file
  ``{"metainfo": {...}, "data_list": [{"img_path": ..., "instances": [{"text": ...}]}]}``
  (what mmocr's dataset preparer writes for IIIT5K, SVT, IC13, IC15, SVTP, CUTE80).
* :class:`TextRecogLMDBDataset`: the LMDB layout of clovaai's
  deep-text-recognition-benchmark (``num-samples``, ``image-%09d``, ``label-%09d``,
  1-based), in which the benchmark evaluation sets are distributed.
"""
from __future__ import annotations

import os
import os.path as osp
from typing import List, Optional

from mmengine.dataset import BaseDataset
from mmdet.registry import DATASETS

METAINFO = dict(dataset_type="TextRecogDataset", task_name="textrecog")

# One read-only environment per (process, path): LMDB refuses to open a path twice in
# one process, and an environment must not cross a fork.
_LMDB_ENVS: dict = {}


@DATASETS.register_module()
class TextRecogJSONDataset(BaseDataset):
    """mmocr textrecog JSON annotations.

    Args (beyond :class:`mmengine.dataset.BaseDataset`'s):
        ann_file: the JSON file (relative to ``data_root`` if not absolute).
        data_prefix: ``dict(img_path='...')``: folder the ``img_path`` entries are
            relative to.

    Each data info becomes ``dict(img_path=..., text=...)``, plus, for files written by
    the synthetic generator, ``warp`` (where each of the metainfo's ``warp_points`` of
    the rectified frame lies in the crop, normalised) and ``warp_points``.
    """

    METAINFO = METAINFO

    def __init__(self, ann_file: str = "", data_prefix: Optional[dict] = None, **kwargs) -> None:
        super().__init__(ann_file=ann_file, data_prefix=data_prefix or dict(img_path=""), **kwargs)

    def parse_data_info(self, raw_data_info: dict) -> dict:
        if "img_path" not in raw_data_info:
            raise KeyError(f"{self.ann_file}: a data_list entry has no 'img_path': {raw_data_info!r}")
        instances = raw_data_info.get("instances") or []
        if not instances or "text" not in instances[0]:
            raise KeyError(f"{self.ann_file}: entry {raw_data_info['img_path']!r} has no instances[0]['text']")
        text = instances[0]["text"]
        if not isinstance(text, str):
            # str(None) would train the word "none"
            raise ValueError(f"{self.ann_file}: entry {raw_data_info['img_path']!r} has text {text!r}; a text "
                             "must be a string (leave out entries without a readable word)")
        info = {k: v for k, v in raw_data_info.items() if k != "instances"}
        info["img_path"] = osp.join(self.data_prefix.get("img_path", "") or "", raw_data_info["img_path"])
        info["text"] = text
        if "warp" in info:  # written by the synthetic generator: see WARP_POINTS there
            if "warp_points" not in self.metainfo:
                raise KeyError(f"{self.ann_file}: entries carry 'warp' but the file's metainfo has no "
                               "'warp_points' (the output-frame points the warp targets belong to)")
            info["warp_points"] = self.metainfo["warp_points"]
        return info


@DATASETS.register_module()
class TextRecogLMDBDataset(BaseDataset):
    """deep-text-recognition-benchmark LMDB (keys ``num-samples``, ``image-%09d``,
    ``label-%09d``, indices from 1).

    Args (beyond :class:`mmengine.dataset.BaseDataset`'s):
        ann_file: the LMDB directory (relative to ``data_root`` if not absolute).

    Images stay in the LMDB; they are read per item (the environment is opened lazily
    in each worker). Each data info is ``dict(img_path='<lmdb>/image-%09d', img_key=...,
    text=...)``; the pipeline's ``LoadTextCrop`` decodes ``img_bytes``.
    """

    METAINFO = METAINFO

    def __init__(self, ann_file: str = "", **kwargs) -> None:
        self._env = None
        super().__init__(ann_file=ann_file, **kwargs)

    def _open(self):
        if self._env is None:
            try:
                import lmdb
            except ImportError as err:  # pragma: no cover - lmdb is a dependency
                raise ImportError("TextRecogLMDBDataset needs the 'lmdb' package: pip install lmdb") from err
            if not osp.isdir(self.ann_file):
                raise FileNotFoundError(f"LMDB dataset ann_file={self.ann_file!r} is not a directory")
            key = (os.getpid(), osp.realpath(self.ann_file))
            if key not in _LMDB_ENVS:
                _LMDB_ENVS[key] = lmdb.open(self.ann_file, readonly=True, lock=False, readahead=False,
                                            meminit=False, max_readers=32)
            self._env = _LMDB_ENVS[key]
        return self._env

    def load_data_list(self) -> List[dict]:
        with self._open().begin(write=False) as txn:
            raw = txn.get(b"num-samples")
            if raw is None:
                raise KeyError(f"LMDB {self.ann_file!r} has no 'num-samples' key (not a "
                               "deep-text-recognition-benchmark LMDB?)")
            n = int(raw.decode())
            data_list = []
            for i in range(1, n + 1):
                label = txn.get(b"label-%09d" % i)
                if label is None:
                    raise KeyError(f"LMDB {self.ann_file!r} lacks 'label-{i:09d}' (num-samples={n})")
                key = "image-%09d" % i
                data_list.append(dict(img_path=osp.join(self.ann_file, key), img_key=key,
                                      text=label.decode("utf-8")))
        return data_list

    def prepare_data(self, idx: int):
        info = self.get_data_info(idx)
        with self._open().begin(write=False) as txn:
            data = txn.get(info["img_key"].encode())
        if data is None:
            raise KeyError(f"LMDB {self.ann_file!r} lacks '{info['img_key']}'")
        info["img_bytes"] = bytes(data)
        return self.pipeline(info)

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_env"] = None  # an LMDB environment cannot cross a process boundary
        return state

