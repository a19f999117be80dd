"""Writers of the standard text-recognition file formats (plain Python, no mm* import).

* mmocr 1.x textrecog JSON: ``{"metainfo": {"dataset_type": "TextRecogDataset",
  "task_name": "textrecog"}, "data_list": [{"img_path": ..., "instances": [{"text": ...}]}]}``
* deep-text-recognition-benchmark LMDB: ``num-samples`` and 1-based ``image-%09d``
  (encoded image bytes) / ``label-%09d`` (utf-8 text).

The readers are the registered datasets in :mod:`stn_plugin.textrecog`.
"""
from __future__ import annotations

import json
import os
import os.path as osp
from typing import Iterable, List, Sequence, Tuple


def write_textrecog_json(path: str, items: Sequence[dict], dataset_type: str = "TextRecogDataset",
                         **metainfo) -> None:
    """Write ``items = [dict(img_path=..., text=..., **extra)]`` as an mmocr textrecog
    JSON file (extra keys stay in the ``data_list`` entry, beside ``instances``;
    ``metainfo`` keys join the file's ``metainfo``)."""
    for i, it in enumerate(items):
        if "img_path" not in it or "text" not in it:
            raise KeyError(f"items[{i}] needs 'img_path' and 'text', got keys {sorted(it)}")
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    doc = dict(metainfo=dict(dataset_type=dataset_type, task_name="textrecog", **metainfo),
               data_list=[dict(img_path=it["img_path"], instances=[dict(text=it["text"])],
                              **{k: v for k, v in it.items() if k not in ("img_path", "text")})
                         for it in items])
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)


def read_textrecog_json(path: str) -> List[Tuple[str, str]]:
    """``[(img_path as written, text)]`` of an mmocr textrecog JSON file."""
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    if "data_list" not in doc:
        raise KeyError(f"{path!r} has no 'data_list' (not an mmocr textrecog annotation file)")
    return [(d["img_path"], d["instances"][0]["text"]) for d in doc["data_list"]]


def write_lmdb_dataset(path: str, samples: Iterable[Tuple[bytes, str]], map_size: int = 1 << 30) -> int:
    """Write ``(encoded image bytes, label)`` pairs as a deep-text-recognition-benchmark LMDB.

    Returns the number of samples written.
    """
    try:
        import lmdb
    except ImportError as err:  # pragma: no cover - lmdb is a dependency
        raise ImportError("writing an LMDB dataset needs the 'lmdb' package: pip install lmdb") from err
    os.makedirs(path, exist_ok=True)
    env = lmdb.open(path, map_size=map_size)
    n = 0
    with env.begin(write=True) as txn:
        for n, (img, label) in enumerate(samples, start=1):
            txn.put(b"image-%09d" % n, bytes(img))
            txn.put(b"label-%09d" % n, label.encode("utf-8"))
        txn.put(b"num-samples", str(n).encode())
    env.close()
    return n
